"""Append-only JSONL result store with resume.

One experiment run lives in one folder::

    out_dir/NAME/meta.json       root seed, argv, config, package versions, git revision
    out_dir/NAME/records.jsonl   one line per finished task: {"cell", "rep", "records"}

Every task's line is flushed and ``fsync``-ed as soon as the task finishes, so a killed run
loses at most the task in flight.  Re-opening the same folder resumes: tasks already on disk
are skipped.  A truncated or corrupt *last* line (the signature of a crash mid-write) is
detected, cut off and its task redone; corruption anywhere else is an error.  A folder whose
``meta.json`` describes a different experiment, seed or config is never resumed.

Only :mod:`json` is used to read and write.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import pathlib
import platform
import subprocess
import sys

import numpy as np

__all__ = ["ResumeConflictError", "CorruptStoreError", "TaskStore", "to_jsonable",
           "environment_info", "git_revision"]

RECORDS_FILE = "records.jsonl"
META_FILE = "meta.json"


class ResumeConflictError(ValueError):
    """The folder holds results of a different run (experiment, seed or config)."""


class CorruptStoreError(ValueError):
    """A line other than the last one of ``records.jsonl`` cannot be parsed."""


def to_jsonable(obj):
    """Return ``obj`` converted to plain JSON types (numpy scalars/arrays, tuples, paths).

    Non-finite floats are kept (``json`` writes ``NaN``/``Infinity``, which it also reads).

    Raises
    ------
    TypeError
        If ``obj`` contains something with no JSON representation.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, pathlib.PurePath):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_dict"):
            return to_jsonable(obj.to_dict())
        return to_jsonable(dataclasses.asdict(obj))
    raise TypeError(f"object of type {type(obj).__name__} is not JSON-serializable: {obj!r}")


def git_revision(path=None):
    """Return the git commit of the source tree (with ``+dirty`` if modified), or ``None``."""
    cwd = pathlib.Path(path) if path is not None else pathlib.Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "") if rev else None


def environment_info():
    """Return Python, platform and key package versions as a JSON-ready dict."""
    from importlib import metadata

    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("coverage-principle", "numpy", "scipy", "sympy", "matplotlib", "tqdm",
                 "hypothesis", "dask", "distributed"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _canonical(obj):
    """JSON text used to compare configs (key order and number formatting normalised)."""
    return json.dumps(to_jsonable(obj), sort_keys=True, allow_nan=True)


def _same_floats(a, b):
    """Compare two JSON values, treating NaN as equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_floats(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_floats(x, y) for x, y in zip(a, b))
    return a == b


class TaskStore:
    """Append-only per-task store in one folder.

    Parameters
    ----------
    folder : path-like
        Directory of one experiment run (created if missing).
    experiment : str
        Experiment name, stored in ``meta.json`` and checked on resume.
    seed : int
        Root seed, stored and checked on resume.
    config : dict
        JSON-serialisable config (e.g. ``dataclasses.asdict(config)``), checked on resume.
    argv : list of str, optional
        Command line recorded in ``meta.json`` (default ``sys.argv``).

    Raises
    ------
    ResumeConflictError
        If the folder already holds finished tasks of a run with a different experiment,
        seed or config.  Use a fresh folder (or delete this one) to start over.
    CorruptStoreError
        If a line before the last one cannot be parsed.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> store = TaskStore(d, experiment="demo", seed=0, config={"n": 3})
    >>> store.append(0, 0, [{"x": 1.0}])
    >>> sorted(store.finished_tasks())
    [(0, 0)]
    """

    def __init__(self, folder, *, experiment, seed, config, argv=None):
        self.folder = pathlib.Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.records_path = self.folder / RECORDS_FILE
        self.meta_path = self.folder / META_FILE
        self.experiment = str(experiment)
        self.seed = int(seed)
        self.config = to_jsonable(config)
        self._results = {}
        self._load()
        self._check_or_write_meta(argv)

    # -- reading -------------------------------------------------------------------------
    def _load(self):
        """Read finished tasks; cut a truncated/corrupt last line off the file."""
        if not self.records_path.exists():
            return
        raw = self.records_path.read_bytes()
        lines = raw.split(b"\n")
        # ``raw`` ending in "\n" gives a final empty chunk; anything else is an unterminated
        # last line, i.e. a write that never completed.
        good_end = 0
        offset = 0
        for i, line in enumerate(lines):
            is_last = i == len(lines) - 1
            end = offset + len(line) + (0 if is_last else 1)
            if line.strip():
                entry = None
                if not is_last:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        entry = None
                valid = isinstance(entry, dict) and {"cell", "rep", "records"} <= entry.keys()
                if not valid:
                    rest = b"".join(lines[i + 1:]).strip()
                    if rest:
                        raise CorruptStoreError(
                            f"{self.records_path}: line {i + 1} is corrupt and is not the last "
                            "line; refusing to resume (delete the folder to start over).")
                    break  # truncated/corrupt last line: ignore, task will be redone
                key = (int(entry["cell"]), int(entry["rep"]))
                self._results.setdefault(key, entry["records"])  # first copy wins
            good_end = end
            offset = end
        if good_end < len(raw):
            with open(self.records_path, "r+b") as fh:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())

    def _check_or_write_meta(self, argv):
        identity = {"experiment": self.experiment, "seed": self.seed, "config": self.config}
        if self.meta_path.exists():
            try:
                meta = json.loads(self.meta_path.read_text())
            except ValueError:
                meta = None
            if meta is not None:
                old = {k: meta.get(k) for k in identity}
                if not _same_floats(json.loads(_canonical(old)), json.loads(_canonical(identity))):
                    if self._results:
                        diff = sorted(k for k in identity
                                      if _canonical(old[k]) != _canonical(identity[k]))
                        raise ResumeConflictError(
                            f"{self.folder} holds {len(self._results)} finished task(s) of a "
                            f"different run (differs in: {', '.join(diff)}); refusing to "
                            "resume. Use a fresh --out folder or delete this one.")
            elif self._results:
                raise ResumeConflictError(
                    f"{self.meta_path} is unreadable but the folder holds finished tasks; "
                    "refusing to resume. Use a fresh --out folder or delete this one.")
        meta = dict(identity)
        meta.update({
            "argv": list(sys.argv if argv is None else argv),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": environment_info(),
            "git_revision": git_revision(),
        })
        tmp = self.meta_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.meta_path)

    def finished_tasks(self):
        """Return the set of ``(cell, rep)`` pairs already stored."""
        return set(self._results)

    def records_of(self, cell, rep):
        """Return the stored records of task ``(cell, rep)``."""
        return self._results[(int(cell), int(rep))]

    # -- writing -------------------------------------------------------------------------
    def append(self, cell, rep, records):
        """Append one finished task and make it durable (flush + fsync).

        A task already stored is not written twice.
        """
        key = (int(cell), int(rep))
        if key in self._results:
            return
        records = to_jsonable(records)
        line = json.dumps({"cell": key[0], "rep": key[1], "records": records},
                          allow_nan=True, separators=(",", ":"))
        with open(self.records_path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._results[key] = records


def read_records(folder):
    """Return all records of a run folder as a flat list (with ``cell`` and ``rep`` keys)."""
    path = pathlib.Path(folder) / RECORDS_FILE
    out = []
    seen = set()
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        key = (entry["cell"], entry["rep"])
        if key in seen:
            continue
        seen.add(key)
        for rec in entry["records"]:
            out.append({**rec, "cell": key[0], "rep": key[1]})
    return out
