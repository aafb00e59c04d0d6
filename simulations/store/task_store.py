""":class:`TaskStore`: the resumable, verified store of one experiment run.

Part of :mod:`simulations.store` (see there for the folder layout and the guarantees).
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import pathlib
import sys
import warnings


from simulations.store.base import (RECORDS_FILE, META_FILE, FAILURES_FILE, TIMINGS_FILE,
                                    LOCK_FILE, SUPERSEDED_PREFIX, STORE_FORMAT, FRESH_HINT,
                                    ResumeConflictError, CorruptStoreError, StaleResultsError,
                                    StoreWarning, StaleResultsWarning, utc_now)
from simulations.store.files import append_line, append_log, fsync_dir, write_atomic, read_timings
from simulations.store.lock import FolderLock
from simulations.store.provenance import git_revision, code_fingerprint, environment_info
from simulations.store.records import (to_jsonable, canonical_json, same_floats, encode_task,
                                       normalize_schema, check_records, kind_of, Scan,
                                       scan_records)


# -- the store --------------------------------------------------------------------------------

class TaskStore:
    """Verified per-task store in one folder, held by one writer (see the module docstring).

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
    fresh : bool, default False
        Move any previous content of the folder into ``superseded-<UTC time>/`` (never
        deleted) and start afresh.
    schema : dict, optional
        Declared record schema (:func:`normalize_schema`), checked for every stored task.
    task_keys : set of (int, int), optional
        The experiment's tasks; a stored task outside this set is an error.

    Raises
    ------
    FolderLockedError
        If another run holds the folder.
    ResumeConflictError
        If the folder holds finished tasks and ``meta.json`` is missing, unreadable, of an
        older format, or names a different experiment, seed or config.
    StaleResultsError
        If the finished tasks were computed by different code and ``allow_stale`` is false.
    CorruptStoreError
        If a stored task fails verification.
    OSError
        If the folder cannot be created, read or written.

    Warns
    -----
    StaleResultsWarning
        When resuming records written under another git revision or package version.
    StaleLockWarning
        When a stale lock is taken over.
    StoreWarning
        When ``fresh`` moved previous content aside.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with TaskStore(d, experiment="demo", seed=0, config={"n": 3}) as store:
    ...     store.append(0, 0, [{"x": 1.0}])
    ...     sorted(store.finished_tasks())
    [(0, 0)]
    """

    def __init__(self, folder, *, experiment, seed, config, argv=None, fingerprint=None,
                 allow_stale=False, fresh=False, schema=None, task_keys=None):
        self.folder = pathlib.Path(folder)
        self.records_path = self.folder / RECORDS_FILE
        self.meta_path = self.folder / META_FILE
        self.failures_path = self.folder / FAILURES_FILE
        self.timings_path = self.folder / TIMINGS_FILE
        self.experiment = str(experiment)
        self.seed = int(seed)
        self.config = to_jsonable(config)
        self.fingerprint = code_fingerprint() if fingerprint is None else str(fingerprint)
        self.allow_stale = bool(allow_stale)
        self.schema = normalize_schema(schema)
        self.task_keys = None if task_keys is None else set(task_keys)
        self.moved_to = None
        self._scan = Scan()
        self._timings = None
        self._lock = FolderLock(self.folder).acquire()
        try:
            if fresh:
                self.moved_to = self._move_aside()
            self._load()
            self._check_or_write_meta(argv)
        except BaseException:
            self._lock.release()
            raise

    # -- context ------------------------------------------------------------------------
    def close(self):
        """Release the folder's lock (idempotent)."""
        self._lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- opening ------------------------------------------------------------------------
    def _move_aside(self):
        entries = [p for p in self.folder.iterdir()
                   if p.name != LOCK_FILE and not p.name.startswith(SUPERSEDED_PREFIX)]
        if not entries:
            return None
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        dest = self.folder / f"{SUPERSEDED_PREFIX}{stamp}"
        k = 1
        while dest.exists():
            k += 1
            dest = self.folder / f"{SUPERSEDED_PREFIX}{stamp}-{k}"
        dest.mkdir()
        for p in entries:
            os.replace(p, dest / p.name)
        fsync_dir(self.folder)
        warnings.warn(f"--fresh: moved the previous content of {self.folder} ({len(entries)} "
                      f"item(s)) to {dest}", StoreWarning, stacklevel=4)
        return dest

    def _load(self):
        """Verify every stored task; cut a torn last line off the file."""
        if self.records_path.exists() and not self.records_path.is_file():
            raise IsADirectoryError(errno.EISDIR, "not a regular file", str(self.records_path))
        self._scan = scan_records(self.records_path, schema=self.schema, task_keys=self.task_keys)
        if self._scan.good_end < self._scan.size:
            with open(self.records_path, "r+b") as fh:
                fh.truncate(self._scan.good_end)
                fh.flush()
                os.fsync(fh.fileno())
            self._scan.size = self._scan.good_end

    def _read_meta(self):
        """Return ``(meta, problem)``: the old ``meta.json`` or why it cannot be used."""
        try:
            text = self.meta_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, "is missing"
        except UnicodeDecodeError:
            return None, "is not text"
        try:
            meta = json.loads(text)
        except ValueError:
            return None, "is not valid JSON"
        if not isinstance(meta, dict):
            return None, f"is a JSON {kind_of(meta)}, not an object"
        missing = [k for k in ("experiment", "seed", "config") if k not in meta]
        if missing:
            return None, f"lacks {', '.join(missing)}"
        if meta.get("store_format") != STORE_FORMAT:
            return None, (f"has store format {meta.get('store_format', 1)} (written by an older "
                          f"version of the toolkit; this one writes {STORE_FORMAT})")
        return meta, None

    def _check_or_write_meta(self, argv):
        identity = {"experiment": self.experiment, "seed": self.seed, "config": self.config}
        n = len(self._scan.records)
        old = None
        if n:
            old, problem = self._read_meta()
            if problem is not None:
                raise ResumeConflictError(
                    f"{self.folder} holds {n} finished task(s) but its {META_FILE} {problem}: "
                    "nothing says which experiment, seed, config and code computed them; "
                    f"refusing to resume: {FRESH_HINT}")
            prev = {k: old.get(k) for k in identity}
            if not same_floats(json.loads(canonical_json(prev)), json.loads(canonical_json(identity))):
                diff = [f"{k}: {_short(prev[k])} -> {_short(identity[k])}" for k in identity
                        if canonical_json(prev[k]) != canonical_json(identity[k])]
                raise ResumeConflictError(
                    f"{self.folder} holds {n} finished task(s) of a different run (differs in "
                    f"{'; '.join(diff)}); refusing to resume: {FRESH_HINT}")
        session = {
            "argv": list(sys.argv if argv is None else argv),
            "created": utc_now(),
            "versions": environment_info(),
            "git_revision": git_revision(),
            "code_fingerprint": self.fingerprint,
        }
        sessions = [session]
        if old is not None:
            self._check_stale(old, session)
            sessions = list(old.get("sessions") or [
                {k: old.get(k) for k in ("argv", "created", "versions", "git_revision",
                                         "code_fingerprint")}]) + [session]
        meta = dict(identity)
        meta.update(session)
        meta["store_format"] = STORE_FORMAT
        meta["sessions"] = sessions
        write_atomic(self.meta_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")

    def _check_stale(self, old, new):
        """Refuse or warn when the finished tasks were written by other code (module docstring)."""
        diffs = []
        if old.get("git_revision") != new["git_revision"]:
            diffs.append(f"git revision {old.get('git_revision')} -> {new['git_revision']}")
        old_v = (old.get("versions") or {}).get("coverage-principle") \
            if isinstance(old.get("versions"), dict) else None
        new_v = new["versions"].get("coverage-principle")
        if old_v != new_v:
            diffs.append(f"coverage-principle {old_v} -> {new_v}")
        old_fp = old.get("code_fingerprint")
        if old_fp is not None and old_fp != new["code_fingerprint"]:
            diffs.insert(0, f"code fingerprint {old_fp} -> {new['code_fingerprint']}")
        code_changed = old_fp != new["code_fingerprint"] if old_fp is not None else bool(diffs)
        if not diffs and not code_changed:
            return
        n = len(self._scan.records)
        what = "; ".join(diffs) or "no code fingerprint recorded"
        if code_changed and not self.allow_stale:
            raise StaleResultsError(
                f"{self.folder} holds {n} finished task(s) computed by different code ({what}); "
                "refusing to resume because the old records may come from older code: "
                f"{FRESH_HINT}, or pass --allow-stale to mix them")
        if code_changed:
            msg = (f"resuming {n} task(s) in {self.folder} computed by different code ({what}) "
                   "because allow_stale is set; meta.json lists the sessions")
        else:
            msg = (f"resuming {n} task(s) in {self.folder} written under another revision "
                   f"({what}); the code that runs tasks is unchanged (same fingerprint)")
        warnings.warn(msg, StaleResultsWarning, stacklevel=5)

    # -- reading ------------------------------------------------------------------------
    def finished_tasks(self):
        """Return the set of ``(cell, rep)`` pairs already stored."""
        return set(self._scan.records)

    def records_of(self, cell, rep):
        """Return the stored records of task ``(cell, rep)``."""
        return self._scan.records[(int(cell), int(rep))]

    def elapsed_of(self, cell, rep):
        """Return the wall-clock seconds of task ``(cell, rep)`` from ``timings.jsonl`` (or ``None``)."""
        if self._timings is None:
            self._timings = {(t["cell"], t["rep"]): t for t in read_timings(self.folder)}
        entry = self._timings.get((int(cell), int(rep)))
        return None if entry is None else entry.get("elapsed")

    # -- writing ------------------------------------------------------------------------
    def append(self, cell, rep, records, *, elapsed=None, cpu_seconds=None, worker=None):
        """Store one finished task durably (flush + ``fsync``) and its timing beside it.

        A task already stored is not written twice.  ``elapsed`` and ``cpu_seconds``
        (seconds the task took on its worker) and ``worker`` go to ``timings.jsonl``.

        Raises
        ------
        ValueError
            If ``records`` break the declared schema.
        OSError
            If the line cannot be written (then the file is left ending at a whole line
            at the next append or open).
        """
        key = (int(cell), int(rep))
        if key in self._scan.records:
            return
        records = to_jsonable(records)
        problem = check_records(records, self.schema, cell=key[0], rep=key[1])
        if problem is not None:
            raise ValueError(f"task (cell {key[0]}, rep {key[1]}): {problem}")
        line = encode_task(key[0], key[1], records)
        self._repair_tail()
        append_line(self.records_path, line)
        scan = self._scan
        scan.records[key] = records
        scan.lines[key] = line.encode("ascii")
        scan.order.append(key)
        scan.lineno[key] = len(scan.order)
        scan.good_end += len(line) + 1
        scan.size = scan.good_end
        if elapsed is not None or cpu_seconds is not None:
            timing = {"cell": key[0], "rep": key[1],
                      "elapsed": None if elapsed is None else round(float(elapsed), 6),
                      "cpu_seconds": None if cpu_seconds is None else round(float(cpu_seconds), 6),
                      "worker": worker}
            append_log(self.timings_path, json.dumps(timing, separators=(",", ":")))
            if self._timings is not None:
                self._timings[key] = timing

    def _repair_tail(self):
        """Cut a partial line left by an append that failed or was interrupted."""
        try:
            size = self.records_path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size > self._scan.good_end:
            with open(self.records_path, "r+b") as fh:
                fh.seek(self._scan.good_end)
                if b"\n" in fh.read():
                    raise CorruptStoreError(f"{self.records_path} gained whole lines that this "
                                            "run did not write; refusing to write on")
                fh.truncate(self._scan.good_end)
                fh.flush()
                os.fsync(fh.fileno())
        elif size < self._scan.good_end:
            raise CorruptStoreError(f"{self.records_path} shrank from {self._scan.good_end} to "
                                    f"{size} bytes while this run was writing it")

    def finalize(self):
        """Rewrite ``records.jsonl`` atomically in ``(cell, rep)`` order (if it is not already).

        Called once every task is stored, so a complete file is byte-identical whatever
        the executor and the history of interruptions.
        """
        scan = self._scan
        order = sorted(scan.order)
        if order == scan.order:
            return
        self._repair_tail()
        data = b"".join(scan.lines[k] + b"\n" for k in order)
        write_atomic(self.records_path, data)
        scan.order = order
        scan.lineno = {k: i + 1 for i, k in enumerate(order)}
        scan.good_end = scan.size = len(data)

    def record_failure(self, cell, rep, *, error, traceback=None, elapsed=None):
        """Append a failed attempt of task ``(cell, rep)`` to ``failures.jsonl``.

        The task stays unfinished, so the next run of the same folder retries it.
        """
        entry = {"cell": int(cell), "rep": int(rep), "error": str(error),
                 "traceback": None if traceback is None else str(traceback),
                 "elapsed": None if elapsed is None else round(float(elapsed), 6),
                 "time": utc_now(), "code_fingerprint": self.fingerprint}
        append_log(self.failures_path, json.dumps(entry, allow_nan=True, separators=(",", ":")),
                    durable=True)


def _short(value, limit=60):
    text = canonical_json(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
