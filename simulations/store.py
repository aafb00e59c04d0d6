"""Append-only JSONL result store with resume.

One experiment run lives in one folder::

    out_dir/NAME/meta.json       root seed, argv, config, package versions, git revision,
                                 code fingerprint, and the sessions that wrote records
    out_dir/NAME/records.jsonl   one line per finished task: {"cell", "rep", "elapsed", "records"}
    out_dir/NAME/failures.jsonl  one line per failed attempt: {"cell", "rep", "error", "traceback", ...}

Every task's line is flushed and ``fsync``-ed as soon as the task finishes, so a killed run
loses at most the tasks in flight.  Re-opening the same folder resumes: tasks already on disk
are skipped; failed tasks are not "finished" and are run again.  A truncated or corrupt
*last* line (the signature of a crash mid-write) is detected, cut off and its task redone;
corruption anywhere else is an error.  A folder whose ``meta.json`` describes a different
experiment, seed or config is never resumed (:class:`ResumeConflictError`).

Stale results
-------------
``meta.json`` records the git revision, the toolkit's package version and a
:func:`code_fingerprint` (SHA-256 of the source files that run inside tasks: ``theory/``,
``simulations/`` minus the command-line/report/benchmark modules and minus *other*
experiments, plus the experiment's own module).  When a folder with finished tasks is
reopened:

* **fingerprint differs** (the code that computed the old records changed), or the old
  folder has no fingerprint and its revision/version differ: **refuse**
  (:class:`StaleResultsError`, exit status 2 on the command line), because silently mixing
  records from old and new code is a trap.  Start a fresh ``--out`` folder, or pass
  ``allow_stale=True`` (``--allow-stale``) to resume anyway; the mix is then recorded in
  ``meta.json["sessions"]``.
* **only the git revision or package version differ** (e.g. a commit that touched docs or
  tests) while the fingerprint is identical: **warn** (:class:`StaleResultsWarning`) and
  resume, since the code that produces records is byte-for-byte the same.

Only :mod:`json` is used to read and write; nothing in a results folder is executed or
unpickled.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import inspect
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import warnings

import numpy as np

__all__ = ["ResumeConflictError", "CorruptStoreError", "StaleResultsError", "StaleResultsWarning",
           "TaskStore", "to_jsonable", "environment_info", "git_revision", "code_fingerprint",
           "read_records", "read_failures"]

RECORDS_FILE = "records.jsonl"
META_FILE = "meta.json"
FAILURES_FILE = "failures.jsonl"

#: Modules of :mod:`simulations` that never run inside a task (UI, reports, benchmarks);
#: they are left out of :func:`code_fingerprint`.
_NOT_IN_TASKS = ("cli.py", "report.py", "progress.py", "registry.py", "__main__.py", "bench.py")


class ResumeConflictError(ValueError):
    """The folder holds results of a different run (experiment, seed or config)."""


class CorruptStoreError(ValueError):
    """A line other than the last one of ``records.jsonl`` cannot be parsed."""


class StaleResultsError(ResumeConflictError):
    """The folder's finished tasks were computed by different code (see the module docstring)."""


class StaleResultsWarning(UserWarning):
    """Resuming records written under another git revision or package version."""


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


def code_fingerprint(module=None):
    """SHA-256 (hex, 16 chars) of the source code that runs inside tasks.

    Covers every ``.py`` file of :mod:`theory` and :mod:`simulations` except the
    command-line, report, progress and benchmark modules and the experiment modules, plus
    the source file of ``module`` (the experiment being run) when it has one.  Paths enter
    the hash relative to their package, so the fingerprint does not depend on where the
    toolkit is installed.

    Examples
    --------
    >>> len(code_fingerprint())
    16
    >>> code_fingerprint() == code_fingerprint()
    True
    """
    import theory

    sim_root = pathlib.Path(__file__).resolve().parent
    theory_root = pathlib.Path(theory.__file__).resolve().parent
    files = [("theory", theory_root, f) for f in theory_root.rglob("*.py")]
    for f in sim_root.rglob("*.py"):
        rel = f.relative_to(sim_root)
        if rel.parts[0] in ("experiments", "bench") or (len(rel.parts) == 1 and (
                rel.name in _NOT_IN_TASKS or rel.name.startswith(("bench_", "benchmarks_")))):
            continue
        files.append(("simulations", sim_root, f))
    digest = hashlib.sha256()
    for pkg, root, f in sorted(files, key=lambda t: (t[0], t[2].relative_to(t[1]).as_posix())):
        digest.update(f"{pkg}/{f.relative_to(root).as_posix()}\0".encode())
        digest.update(f.read_bytes() + b"\0")
    if module is not None:
        try:
            src = inspect.getsourcefile(module)
        except TypeError:  # built in sys.modules only (tests): no file
            src = None
        if src is not None and os.path.exists(src):
            digest.update(f"module/{getattr(module, '__name__', '')}\0".encode())
            digest.update(pathlib.Path(src).read_bytes())
    return digest.hexdigest()[:16]


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
    fingerprint : str, optional
        :func:`code_fingerprint` of the code producing the records (default: computed
        without an experiment module).
    allow_stale : bool, default False
        Resume even when the finished tasks were computed by different code (a warning is
        still issued and the sessions are recorded in ``meta.json``).

    Raises
    ------
    ResumeConflictError
        If the folder already holds finished tasks of a run with a different experiment,
        seed or config.  Use a fresh folder (or delete this one) to start over.
    StaleResultsError
        If the finished tasks were computed by different code and ``allow_stale`` is false
        (see the module docstring for the exact rule).
    CorruptStoreError
        If a line before the last one cannot be parsed.

    Warns
    -----
    StaleResultsWarning
        When resuming records written under another git revision or package version.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> store = TaskStore(d, experiment="demo", seed=0, config={"n": 3})
    >>> store.append(0, 0, [{"x": 1.0}])
    >>> sorted(store.finished_tasks())
    [(0, 0)]
    """

    def __init__(self, folder, *, experiment, seed, config, argv=None, fingerprint=None,
                 allow_stale=False):
        self.folder = pathlib.Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.records_path = self.folder / RECORDS_FILE
        self.meta_path = self.folder / META_FILE
        self.failures_path = self.folder / FAILURES_FILE
        self.experiment = str(experiment)
        self.seed = int(seed)
        self.config = to_jsonable(config)
        self.fingerprint = code_fingerprint() if fingerprint is None else str(fingerprint)
        self.allow_stale = bool(allow_stale)
        self._results = {}
        self._elapsed = {}
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
                if key not in self._results:  # first copy wins
                    self._results[key] = entry["records"]
                    self._elapsed[key] = entry.get("elapsed")
            good_end = end
            offset = end
        if good_end < len(raw):
            with open(self.records_path, "r+b") as fh:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())

    def _check_or_write_meta(self, argv):
        identity = {"experiment": self.experiment, "seed": self.seed, "config": self.config}
        old = None
        if self.meta_path.exists():
            try:
                old = json.loads(self.meta_path.read_text())
            except ValueError:
                old = None
            if old is not None:
                prev = {k: old.get(k) for k in identity}
                if not _same_floats(json.loads(_canonical(prev)), json.loads(_canonical(identity))):
                    if self._results:
                        diff = sorted(k for k in identity
                                      if _canonical(prev[k]) != _canonical(identity[k]))
                        raise ResumeConflictError(
                            f"{self.folder} holds {len(self._results)} finished task(s) of a "
                            f"different run (differs in: {', '.join(diff)}); refusing to "
                            "resume. Use a fresh --out folder or delete this one.")
            elif self._results:
                raise ResumeConflictError(
                    f"{self.meta_path} is unreadable but the folder holds finished tasks; "
                    "refusing to resume. Use a fresh --out folder or delete this one.")
        session = {
            "argv": list(sys.argv if argv is None else argv),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": environment_info(),
            "git_revision": git_revision(),
            "code_fingerprint": self.fingerprint,
        }
        sessions = [session]
        if old is not None and self._results:
            self._check_stale(old, session)
            sessions = list(old.get("sessions") or [
                {k: old.get(k) for k in ("argv", "created", "versions", "git_revision",
                                         "code_fingerprint")}]) + [session]
        meta = dict(identity)
        meta.update(session)
        meta["sessions"] = sessions
        tmp = self.meta_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.meta_path)

    def _check_stale(self, old, new):
        """Refuse or warn when the finished tasks were written by other code (module docstring)."""
        diffs = []
        if old.get("git_revision") != new["git_revision"]:
            diffs.append(f"git revision {old.get('git_revision')} -> {new['git_revision']}")
        old_v = (old.get("versions") or {}).get("coverage-principle")
        new_v = new["versions"].get("coverage-principle")
        if old_v != new_v:
            diffs.append(f"coverage-principle {old_v} -> {new_v}")
        old_fp = old.get("code_fingerprint")
        if old_fp is not None and old_fp != new["code_fingerprint"]:
            diffs.insert(0, f"code fingerprint {old_fp} -> {new['code_fingerprint']}")
        code_changed = old_fp != new["code_fingerprint"] if old_fp is not None else bool(diffs)
        if not diffs and not code_changed:
            return
        n = len(self._results)
        what = "; ".join(diffs) or "no code fingerprint recorded"
        if code_changed and not self.allow_stale:
            raise StaleResultsError(
                f"{self.folder} holds {n} finished task(s) computed by different code ({what}); "
                "refusing to resume because the old records may come from older code. Use a "
                "fresh --out folder, delete this one, or pass --allow-stale to mix them.")
        if code_changed:
            msg = (f"resuming {n} task(s) in {self.folder} computed by different code ({what}) "
                   "because allow_stale is set; meta.json lists the sessions")
        else:
            msg = (f"resuming {n} task(s) in {self.folder} written under another revision "
                   f"({what}); the code that runs tasks is unchanged (same fingerprint)")
        warnings.warn(msg, StaleResultsWarning, stacklevel=4)

    def finished_tasks(self):
        """Return the set of ``(cell, rep)`` pairs already stored."""
        return set(self._results)

    def records_of(self, cell, rep):
        """Return the stored records of task ``(cell, rep)``."""
        return self._results[(int(cell), int(rep))]

    def elapsed_of(self, cell, rep):
        """Return the stored wall-clock seconds of task ``(cell, rep)`` (``None`` if unknown)."""
        return self._elapsed.get((int(cell), int(rep)))

    # -- writing -------------------------------------------------------------------------
    def append(self, cell, rep, records, *, elapsed=None):
        """Append one finished task and make it durable (flush + fsync).

        A task already stored is not written twice.  ``elapsed`` (seconds the task took on
        its worker) is stored next to the records, outside them.
        """
        key = (int(cell), int(rep))
        if key in self._results:
            return
        records = to_jsonable(records)
        entry = {"cell": key[0], "rep": key[1]}
        if elapsed is not None:
            entry["elapsed"] = round(float(elapsed), 6)
        entry["records"] = records
        _append_line(self.records_path, json.dumps(entry, allow_nan=True, separators=(",", ":")))
        self._results[key] = records
        self._elapsed[key] = entry.get("elapsed")

    def record_failure(self, cell, rep, *, error, traceback=None, elapsed=None):
        """Append a failed attempt of task ``(cell, rep)`` to ``failures.jsonl``.

        The task stays unfinished, so the next run of the same folder retries it.
        """
        entry = {"cell": int(cell), "rep": int(rep), "error": str(error),
                 "traceback": None if traceback is None else str(traceback),
                 "elapsed": None if elapsed is None else round(float(elapsed), 6),
                 "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                 "code_fingerprint": self.fingerprint}
        _append_line(self.failures_path, json.dumps(entry, allow_nan=True, separators=(",", ":")))


def _append_line(path, line):
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


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


def read_failures(folder):
    """Return the failed attempts recorded in ``folder/failures.jsonl`` (unparsable lines skipped)."""
    path = pathlib.Path(folder) / FAILURES_FILE
    out = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out
