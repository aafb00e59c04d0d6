"""Results store: one writer per folder, every task verified, resume only what can be vouched for.

One experiment run lives in one folder::

    out_dir/NAME/.lock           who writes here now: {"pid", "host", "started", "argv"}
    out_dir/NAME/meta.json       experiment, root seed, config, argv, package versions, git
                                 revision, code fingerprint, store format, sessions
    out_dir/NAME/records.jsonl   one line per finished task:
                                 {"cell", "rep", "n", "sha256", "records"}
    out_dir/NAME/timings.jsonl   one line per finished task:
                                 {"cell", "rep", "elapsed", "cpu_seconds", "worker"}
    out_dir/NAME/failures.jsonl  one line per failed attempt: {"cell", "rep", "error", ...}

One writer
----------
A :class:`TaskStore` holds an exclusive lock on its folder (``flock`` on ``.lock``, which
names the holder) from the moment it opens until it is closed; the kernel releases it when
the process ends in any way.  A second writer is refused at once
(:class:`FolderLockedError`, naming the holder's pid, host, start time and command).  A
``.lock`` naming a process that no longer holds it (killed) is a stale lock: it is taken
over with a :class:`StaleLockWarning`.  A lock written on another host cannot be checked
from here and is refused; the message says which file to delete once that run is known to
be gone.  (Where ``flock`` is unsupported, the pid and host in ``.lock`` decide alone.)

Resume only what can be vouched for
-----------------------------------
``meta.json`` is written atomically (temporary file, ``fsync``, rename) before the first
task runs, and a folder holding finished tasks is resumed only if its ``meta.json`` names
the same experiment, seed and config, and the same code (see *Stale results*).  A folder
with records but a missing, unreadable or different ``meta.json`` is refused
(:class:`ResumeConflictError`) unless ``fresh=True`` (``--fresh``), which moves the old
content into ``superseded-<UTC time>/`` inside the folder (nothing is ever deleted) and
starts afresh.

Integrity
---------
Every task's line carries the SHA-256 of its canonical content (:func:`task_checksum`) and
its number of records.  Opening a store (resume) and :func:`read_records` verify every
line: JSON syntax, fields, record count, checksum, the experiment's declared record schema
(:func:`check_records`), and that no task appears twice.  Any mismatch is a
:class:`CorruptStoreError` naming the file and line.  The one exception is the *last* line
when it does not parse: that is the signature of a crash in the middle of a write, so it is
cut off (on resume) or ignored (on reading) and its task is redone.  Lines are appended in
completion order, flushed and ``fsync``-ed as each task finishes (a killed run loses at most
the tasks in flight); once every task is stored, :meth:`TaskStore.finalize` rewrites the
file atomically in ``(cell, rep)`` order, so a complete ``records.jsonl`` is byte-identical
whatever the executor and however often the run was interrupted.

Records are pure results: wall-clock and CPU seconds of each task go to ``timings.jsonl``
(informational, not verified; unparsable lines are skipped).

Stale results
-------------
``meta.json`` records the git revision, the toolkit's package version and a
:func:`code_fingerprint` (SHA-256 of the source files that run inside tasks: ``theory/``,
``simulations/`` minus the command-line/report/benchmark modules and minus *other*
experiments, plus the experiment's own module).  When a folder with finished tasks is
reopened:

* **fingerprint differs** (the code that computed the old records changed), or the old
  folder has no fingerprint and its revision/version differ: **refuse**
  (:class:`StaleResultsError`, exit status 2 on the command line).  Use ``fresh=True``
  (``--fresh``) or another folder, or ``allow_stale=True`` (``--allow-stale``) to resume
  anyway; the mix is then recorded in ``meta.json["sessions"]``.
* **only the git revision or package version differ** while the fingerprint is identical:
  **warn** (:class:`StaleResultsWarning`) and resume.

Only :mod:`json` is used to read and write; nothing in a results folder is executed or
unpickled.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import errno
import hashlib
import inspect
import json
import math
import os
import pathlib
import platform
import socket
import subprocess
import sys
import threading
import warnings

import numpy as np

try:  # POSIX; elsewhere the pid/host check of ``.lock`` decides alone
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

__all__ = ["StoreError", "ResumeConflictError", "CorruptStoreError", "StaleResultsError",
           "FolderLockedError", "StoreWarning", "StaleResultsWarning", "StaleLockWarning",
           "FolderLock", "TaskStore", "to_jsonable", "environment_info", "git_revision",
           "code_fingerprint", "task_checksum", "check_records", "normalize_schema",
           "read_records", "read_failures", "read_timings", "count_stored_tasks"]

RECORDS_FILE = "records.jsonl"
META_FILE = "meta.json"
FAILURES_FILE = "failures.jsonl"
TIMINGS_FILE = "timings.jsonl"
LOCK_FILE = ".lock"
SUPERSEDED_PREFIX = "superseded-"

#: Version of the folder layout written by this module (2: checksums, timings outside).
STORE_FORMAT = 2

#: Modules of :mod:`simulations` that never run inside a task (UI, reports, benchmarks,
#: the process pool's plumbing); they are left out of :func:`code_fingerprint`.
_NOT_IN_TASKS = ("cli.py", "report.py", "progress.py", "registry.py", "__main__.py", "bench.py",
                 "pool.py", "results.py", "record_schemas.py")

_FRESH_HINT = ("rerun with --fresh (fresh=True) to move the old content aside and start "
               "afresh, or use another --out folder")


class StoreError(ValueError):
    """A results folder cannot be used as asked (base of the store's errors)."""


class ResumeConflictError(StoreError):
    """The folder holds results that cannot be vouched for as this run's (see module docstring)."""


class CorruptStoreError(StoreError):
    """A stored task fails verification (syntax, count, checksum, schema, duplicate)."""


class StaleResultsError(ResumeConflictError):
    """The folder's finished tasks were computed by different code (see the module docstring)."""


class FolderLockedError(StoreError):
    """Another run holds the folder's lock."""


class StoreWarning(UserWarning):
    """Something about a results folder the user should know (shown as one line by the CLI)."""


class StaleResultsWarning(StoreWarning):
    """Resuming records written under another git revision or package version."""


class StaleLockWarning(StoreWarning):
    """A lock left behind by a process that no longer holds it was taken over."""


# -- JSON ---------------------------------------------------------------------------------

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


def _canonical(obj):
    """JSON text used to compare and checksum (key order and number formatting normalised)."""
    return json.dumps(to_jsonable(obj), sort_keys=True, allow_nan=True, separators=(",", ":"))


def _same_floats(a, b):
    """Compare two JSON values, treating NaN as equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_floats(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_floats(x, y) for x, y in zip(a, b))
    return a == b


def task_checksum(cell, rep, records):
    """SHA-256 (hex) of the canonical JSON of one task: ``{"cell", "rep", "records"}``.

    Keys are sorted and separators fixed, so the checksum depends on the values only; a
    line read back with :func:`json.loads` gives the same checksum (floats round-trip
    exactly through their shortest ``repr``).

    Examples
    --------
    >>> task_checksum(0, 1, [{"x": 1.5}]) == task_checksum(0, 1, [{"x": 1.5}])
    True
    >>> task_checksum(0, 1, [{"x": 1.5}]) == task_checksum(0, 1, [{"x": 1.6}])
    False
    """
    text = _canonical({"cell": int(cell), "rep": int(rep), "records": records})
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _encode_task(cell, rep, records):
    """The line (without newline) storing one task; ``records`` must be JSON types already."""
    entry = {"cell": cell, "rep": rep, "n": len(records),
             "sha256": task_checksum(cell, rep, records), "records": records}
    return json.dumps(entry, allow_nan=True, separators=(",", ":"))


# -- record schemas -----------------------------------------------------------------------

_KINDS = {
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
    "any": lambda v: True,
}


def _kind_of(value):
    for kind in ("boolean", "integer", "number", "string", "array", "object", "null"):
        if _KINDS[kind](value):
            return kind
    return type(value).__name__


def normalize_schema(schema):
    """Validate a declared record schema and return it in normal form (or ``None``).

    Parameters
    ----------
    schema : dict or None
        ``{"records_per_task": int or None, "fields": {name: kind or [kinds]}}`` with
        kinds among ``number`` (int or float), ``integer``, ``string``, ``boolean``,
        ``array``, ``object``, ``null`` and ``any``.  Both keys are optional.

    Returns
    -------
    dict or None
        ``{"records_per_task": int or None, "fields": {name: tuple of kinds}}``.

    Raises
    ------
    TypeError, ValueError
        If the schema is malformed (unknown key or kind, non-positive count).
    """
    if schema is None:
        return None
    if not isinstance(schema, dict):
        raise TypeError(f"a record schema must be a dict, got {type(schema).__name__}.")
    unknown = set(schema) - {"records_per_task", "fields"}
    if unknown:
        raise ValueError(f"unknown record schema key(s) {sorted(unknown)}; "
                         "expected records_per_task and fields.")
    per_task = schema.get("records_per_task")
    if per_task is not None and (isinstance(per_task, bool) or not isinstance(per_task, int)
                                 or per_task < 0):
        raise ValueError(f"`records_per_task` must be a non-negative int or None, got {per_task!r}.")
    fields = {}
    for name, kinds in (schema.get("fields") or {}).items():
        kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        bad = [k for k in kinds if k not in _KINDS]
        if not kinds or bad:
            raise ValueError(f"record schema field `{name}`: unknown kind(s) {bad or kinds}; "
                             f"expected some of {', '.join(_KINDS)}.")
        fields[str(name)] = kinds
    return {"records_per_task": per_task, "fields": fields}


def check_records(records, schema=None, *, cell=None, rep=None):
    """Return what is wrong with one task's records (a sentence), or ``None`` if nothing.

    Always checked (the schema every experiment has): ``records`` is a list of JSON
    objects, and a record carrying ``cell``/``rep`` carries the task's own.  With a declared
    ``schema`` (see :func:`normalize_schema`): the number of records per task and, for each
    declared field, that every record has it with one of the declared kinds.

    Parameters
    ----------
    records : list
        The task's records (JSON types).
    schema : dict, optional
        Normalised schema.
    cell, rep : int, optional
        The task; when given, records carrying ``cell``/``rep`` must match.

    Returns
    -------
    str or None
    """
    if not isinstance(records, list):
        return f"its records are a JSON {_kind_of(records)}, not a list"
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            return f"record {i} is a JSON {_kind_of(rec)}, not an object"
        for name, value in (("cell", cell), ("rep", rep)):
            if value is not None and name in rec and rec[name] != value:
                return f"record {i} has {name} {rec[name]!r} but belongs to {name} {value}"
    if schema is None:
        return None
    per_task = schema["records_per_task"]
    if per_task is not None and len(records) != per_task:
        return (f"it has {len(records)} record(s); the experiment declares {per_task} "
                f"records per task")
    for i, rec in enumerate(records):
        for name, kinds in schema["fields"].items():
            if name not in rec:
                return f"record {i} lacks field `{name}` (declared {' or '.join(kinds)})"
            if not any(_KINDS[k](rec[name]) for k in kinds):
                return (f"record {i} field `{name}` is a JSON {_kind_of(rec[name])}; the "
                        f"experiment declares {' or '.join(kinds)}")
    return None


# -- reading and verifying records.jsonl --------------------------------------------------

class _Scan:
    """The verified content of a ``records.jsonl``: tasks in file order and the good length."""

    def __init__(self):
        self.records = {}    # (cell, rep) -> records
        self.lines = {}      # (cell, rep) -> line bytes (no newline)
        self.lineno = {}     # (cell, rep) -> 1-based line number
        self.order = []      # keys in file order
        self.good_end = 0    # bytes up to the end of the last good line
        self.size = 0


def _corrupt(path, lineno, problem, hint=_FRESH_HINT):
    return CorruptStoreError(f"{path}, line {lineno}: {problem}; the folder's results cannot be "
                             f"vouched for: {hint}")


def _scan(path, *, schema=None, task_keys=None):
    """Read and verify ``path`` (see the module docstring); return a :class:`_Scan`."""
    scan = _Scan()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return scan
    scan.size = len(raw)
    chunks = raw.split(b"\n")
    offset = 0
    for i, line in enumerate(chunks):
        lineno = i + 1
        is_last = i == len(chunks) - 1
        if is_last and not line:
            break  # the file ends with a newline
        end = offset + len(line) + (0 if is_last else 1)
        try:
            entry = json.loads(line)
        except ValueError:
            if b"".join(chunks[i + 1:]).strip():
                raise _corrupt(path, lineno, "not valid JSON (and not the last line)") from None
            break  # a torn last line: a crash in the middle of a write
        if is_last:
            break  # complete JSON but no newline: the write did not finish either
        key = _verify_entry(entry, path, lineno, schema, task_keys)
        if key in scan.records:
            raise _corrupt(path, lineno, f"task (cell {key[0]}, rep {key[1]}) repeats line "
                           f"{scan.lineno[key]} (two runs wrote into this folder at once?)")
        scan.records[key] = entry["records"]
        scan.lines[key] = line
        scan.lineno[key] = lineno
        scan.order.append(key)
        scan.good_end = end
        offset = end
    return scan


def _verify_entry(entry, path, lineno, schema, task_keys):
    if not isinstance(entry, dict):
        raise _corrupt(path, lineno, f"a JSON {_kind_of(entry)}, not a task object")
    if "sha256" not in entry and {"cell", "rep", "records"} <= entry.keys():
        raise _corrupt(path, lineno, "no checksum: written by an older version of the toolkit")
    missing = {"cell", "rep", "n", "sha256", "records"} - entry.keys()
    if missing:
        raise _corrupt(path, lineno, f"missing field(s) {', '.join(sorted(missing))}")
    cell, rep, n = entry["cell"], entry["rep"], entry["n"]
    for name, value in (("cell", cell), ("rep", rep), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _corrupt(path, lineno, f"`{name}` is {value!r}, not a non-negative integer")
    records = entry["records"]
    if not isinstance(records, list):
        raise _corrupt(path, lineno, f"`records` is a JSON {_kind_of(records)}, not a list")
    if len(records) != n:
        raise _corrupt(path, lineno, f"task (cell {cell}, rep {rep}) holds {len(records)} "
                       f"record(s) but its line says {n}")
    if entry["sha256"] != task_checksum(cell, rep, records):
        raise _corrupt(path, lineno, f"task (cell {cell}, rep {rep}) fails its checksum (its "
                       "content changed after it was written)")
    problem = check_records(records, schema, cell=cell, rep=rep)
    if problem is not None:
        raise _corrupt(path, lineno, f"task (cell {cell}, rep {rep}): {problem}")
    if task_keys is not None and (cell, rep) not in task_keys:
        raise _corrupt(path, lineno, f"task (cell {cell}, rep {rep}) is not a task of this "
                       "experiment's config")
    return cell, rep


# -- environment ----------------------------------------------------------------------------

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
    command-line, report, progress, process-pool, benchmark and tidy-results modules
    (:data:`_NOT_IN_TASKS`) and the experiment modules, plus the source file of ``module`` (the experiment being run) when it has one.
    Paths enter the hash relative to their package, so the fingerprint does not depend on
    where the toolkit is installed.

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


def _now():
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# -- durable writes -------------------------------------------------------------------------

def _append_line(path, line):
    """Append one ``records.jsonl`` line and make it durable (flush + ``fsync``)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _append_log(path, line, *, durable=False):
    """Append one line to a log file (timings, failures)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        if durable:
            fh.flush()
            os.fsync(fh.fileno())


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomic(path, data):
    """Replace ``path`` by ``data`` (str or bytes) atomically: temporary file, fsync, rename."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


# -- the lock -------------------------------------------------------------------------------

_HELD = {}
_HELD_GUARD = threading.Lock()


def _proc_start(pid):
    """Start time of process ``pid`` in clock ticks since boot (Linux), or ``None``."""
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
        return int(text[text.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _pid_alive(pid, proc_start=None):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    if proc_start is not None:
        now = _proc_start(pid)
        if now is not None and now != proc_start:
            return False  # the pid was reused by another process
    return True


def _describe_holder(info):
    argv = " ".join(str(a) for a in info.get("argv") or [])
    if len(argv) > 100:
        argv = argv[:97] + "..."
    started = info.get("started") or "?"
    return (f"pid {info.get('pid', '?')} on host {info.get('host', '?')}, started {started}"
            + (f": {argv}" if argv else ""))


class FolderLock:
    """Exclusive lock of a results folder, naming its holder (see the module docstring).

    Re-entrant within one thread (the command line locks every folder of ``reproduce`` up
    front; the store then re-enters the same lock); another thread, process or host is
    refused with :class:`FolderLockedError`.

    Parameters
    ----------
    folder : path-like
        The folder (created if missing).

    Examples
    --------
    >>> import tempfile
    >>> with FolderLock(tempfile.mkdtemp()) as lock:
    ...     lock.held
    True
    """

    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.path = self.folder / LOCK_FILE
        self.held = False
        self._fd = None
        self._key = None

    def acquire(self):
        """Take the lock or raise :class:`FolderLockedError`; return ``self``."""
        if self.held:
            return self
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "a file is where the results folder "
                                     "should be", str(self.folder))
        self.folder.mkdir(parents=True, exist_ok=True)
        key = os.path.realpath(self.folder)
        me = threading.get_ident()
        with _HELD_GUARD:
            entry = _HELD.get(key)
            if entry is not None:
                if entry["thread"] != me:
                    raise FolderLockedError(f"{self.folder} is in use by another thread of this "
                                            f"process (pid {os.getpid()})")
                entry["count"] += 1
                self.held, self._key = True, key
                return self
            fd = self._lock_file()
            _HELD[key] = {"thread": me, "count": 1, "fd": fd}
        self.held, self._key = True, key
        return self

    def _lock_file(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            flocked = False
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    flocked = True
                except BlockingIOError:
                    holder = self._holder(fd)
                    raise FolderLockedError(
                        f"{self.folder} is in use by another run ("
                        f"{_describe_holder(holder) if holder else 'holder unknown'}); wait for "
                        "it to finish or stop it, or use another --out folder") from None
                except OSError as exc:
                    if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS,
                                         errno.EINVAL):
                        raise
            previous = self._holder(fd)
            if previous:
                self._check_previous(previous, flocked)
            info = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now(),
                    "argv": list(sys.argv), "proc_start": _proc_start(os.getpid())}
            data = (json.dumps(info) + "\n").encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _holder(self, fd):
        """The holder recorded in ``.lock``: ``None`` if empty, ``{"garbled": True}`` if unreadable."""
        try:
            raw = os.pread(fd, 65536, 0)
        except OSError:
            raw = b"?"
        if not raw.strip():
            return None
        try:
            info = json.loads(raw)
        except ValueError:
            info = None
        return info if isinstance(info, dict) else {"pid": "?", "host": "?", "garbled": True}

    def _check_previous(self, previous, flocked):
        host = socket.gethostname()
        if previous.get("garbled"):
            if not flocked:
                raise FolderLockedError(f"{self.folder} has an unreadable lock file {self.path} and "
                                        "locking is unavailable here; if no run is active, delete it")
            warnings.warn(f"took over the lock of {self.folder} (its lock file was unreadable and "
                          "nobody held it)", StaleLockWarning, stacklevel=5)
            return
        if previous.get("host") != host:
            raise FolderLockedError(
                f"{self.folder} is locked by {_describe_holder(previous)}, which cannot be "
                f"checked from host {host}; if no run is active there, delete {self.path}")
        alive = _pid_alive(previous.get("pid"), previous.get("proc_start")) \
            if isinstance(previous.get("pid"), int) else False
        if alive and not flocked:
            raise FolderLockedError(
                f"{self.folder} is in use by another run ({_describe_holder(previous)}); wait "
                "for it to finish or stop it, or use another --out folder")
        state = "not running" if not alive else "alive but no longer holding it"
        warnings.warn(f"took over the stale lock of {self.folder} left by "
                      f"{_describe_holder(previous)} ({state})", StaleLockWarning, stacklevel=5)

    def release(self):
        """Release the lock (the holder record in ``.lock`` is cleared)."""
        if not self.held:
            return
        self.held = False
        with _HELD_GUARD:
            entry = _HELD.get(self._key)
            if entry is None:
                return
            entry["count"] -= 1
            if entry["count"] > 0:
                return
            del _HELD[self._key]
            fd = entry["fd"]
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


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
        self._scan = _Scan()
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
        _fsync_dir(self.folder)
        warnings.warn(f"--fresh: moved the previous content of {self.folder} ({len(entries)} "
                      f"item(s)) to {dest}", StoreWarning, stacklevel=4)
        return dest

    def _load(self):
        """Verify every stored task; cut a torn last line off the file."""
        if self.records_path.exists() and not self.records_path.is_file():
            raise IsADirectoryError(errno.EISDIR, "not a regular file", str(self.records_path))
        self._scan = _scan(self.records_path, schema=self.schema, task_keys=self.task_keys)
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
            return None, f"is a JSON {_kind_of(meta)}, not an object"
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
                    f"refusing to resume: {_FRESH_HINT}")
            prev = {k: old.get(k) for k in identity}
            if not _same_floats(json.loads(_canonical(prev)), json.loads(_canonical(identity))):
                diff = [f"{k}: {_short(prev[k])} -> {_short(identity[k])}" for k in identity
                        if _canonical(prev[k]) != _canonical(identity[k])]
                raise ResumeConflictError(
                    f"{self.folder} holds {n} finished task(s) of a different run (differs in "
                    f"{'; '.join(diff)}); refusing to resume: {_FRESH_HINT}")
        session = {
            "argv": list(sys.argv if argv is None else argv),
            "created": _now(),
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
        _write_atomic(self.meta_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")

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
                f"{_FRESH_HINT}, or pass --allow-stale to mix them")
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
        line = _encode_task(key[0], key[1], records)
        self._repair_tail()
        _append_line(self.records_path, line)
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
            _append_log(self.timings_path, json.dumps(timing, separators=(",", ":")))
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
        _write_atomic(self.records_path, data)
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
                 "time": _now(), "code_fingerprint": self.fingerprint}
        _append_log(self.failures_path, json.dumps(entry, allow_nan=True, separators=(",", ":")),
                    durable=True)


def _short(value, limit=60):
    text = _canonical(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# -- reading folders ------------------------------------------------------------------------

def read_records(folder, *, schema=None):
    """Return all records of a run folder as a flat list (with ``cell`` and ``rep`` keys).

    Every task is verified as on resume (see the module docstring); a torn last line (a
    run killed mid-write) is ignored.

    Parameters
    ----------
    folder : path-like
        ``OUT/NAME``.
    schema : dict, optional
        Declared record schema to check as well (:func:`normalize_schema`).

    Returns
    -------
    list of dict

    Raises
    ------
    CorruptStoreError
        Naming the file and line of the first task that fails verification.
    """
    path = pathlib.Path(folder) / RECORDS_FILE
    scan = _scan(path, schema=normalize_schema(schema))
    return [{**rec, "cell": key[0], "rep": key[1]} for key in scan.order
            for rec in scan.records[key]]


def count_stored_tasks(folder):
    """Number of complete lines in ``folder/records.jsonl`` (fast, not verified; 0 if none)."""
    try:
        with open(pathlib.Path(folder) / RECORDS_FILE, "rb") as fh:
            return sum(1 for line in fh if line.endswith(b"\n") and line.strip())
    except OSError:
        return 0


def _read_log(path):
    out = []
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return out
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


def read_failures(folder):
    """Return the failed attempts recorded in ``folder/failures.jsonl`` (unparsable lines skipped)."""
    return _read_log(pathlib.Path(folder) / FAILURES_FILE)


def read_timings(folder):
    """Return the per-task timings in ``folder/timings.jsonl`` (unparsable lines skipped)."""
    return [t for t in _read_log(pathlib.Path(folder) / TIMINGS_FILE)
            if isinstance(t.get("cell"), int) and isinstance(t.get("rep"), int)]
