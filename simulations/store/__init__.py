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

Layout of the package: :mod:`~simulations.store.base` (file names, exceptions),
:mod:`~simulations.store.records` (JSON, checksums, schemas, the verifying reader),
:mod:`~simulations.store.provenance` (git revision, code fingerprint, versions),
:mod:`~simulations.store.files` (durable writes, readers of a folder),
:mod:`~simulations.store.lock` (:class:`FolderLock`) and
:mod:`~simulations.store.task_store` (:class:`TaskStore`); every name is importable from
:mod:`simulations.store`.
"""

from simulations.store.base import (RECORDS_FILE, META_FILE, FAILURES_FILE, TIMINGS_FILE,
                                    LOCK_FILE, SUPERSEDED_PREFIX, STORE_FORMAT, StoreError,
                                    ResumeConflictError, CorruptStoreError, StaleResultsError,
                                    FolderLockedError, StoreWarning, StaleResultsWarning,
                                    StaleLockWarning)
from simulations.store.files import (count_stored_tasks, read_failures, read_records, read_timings,
                                     write_atomic)
from simulations.store.lock import FolderLock
from simulations.store.provenance import code_fingerprint, environment_info, git_revision
from simulations.store.records import check_records, normalize_schema, task_checksum, to_jsonable
from simulations.store.task_store import TaskStore

__all__ = ["StoreError", "ResumeConflictError", "CorruptStoreError", "StaleResultsError",
           "FolderLockedError", "StoreWarning", "StaleResultsWarning", "StaleLockWarning",
           "FolderLock", "TaskStore", "to_jsonable", "environment_info", "git_revision",
           "code_fingerprint", "task_checksum", "check_records", "normalize_schema",
           "read_records", "read_failures", "read_timings", "count_stored_tasks", "write_atomic",
           "RECORDS_FILE", "META_FILE", "FAILURES_FILE", "TIMINGS_FILE", "LOCK_FILE",
           "SUPERSEDED_PREFIX", "STORE_FORMAT"]
