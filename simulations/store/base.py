"""Names every part of the results store shares: the file names of a results folder, the
format version, the exceptions and warnings, the UTC timestamp.

Part of :mod:`simulations.store` (see there for the folder layout and the guarantees).
"""

from __future__ import annotations

import datetime as _dt




RECORDS_FILE = "records.jsonl"
META_FILE = "meta.json"
FAILURES_FILE = "failures.jsonl"
TIMINGS_FILE = "timings.jsonl"
LOCK_FILE = ".lock"
SUPERSEDED_PREFIX = "superseded-"

#: Version of the folder layout written by this module (2: checksums, timings outside).
STORE_FORMAT = 2

FRESH_HINT = ("rerun with --fresh (fresh=True) to move the old content aside and start "
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





def utc_now():
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
