"""Durable writes (append + ``fsync``, atomic replace) and the readers of a finished results
folder (:func:`read_records`, :func:`read_failures`, :func:`read_timings`).

Part of :mod:`simulations.store` (see there for the folder layout and the guarantees).
"""

from __future__ import annotations

import json
import os
import pathlib


from simulations.store.base import RECORDS_FILE, FAILURES_FILE, TIMINGS_FILE
from simulations.store.records import normalize_schema, scan_records


# -- durable writes -------------------------------------------------------------------------

def append_line(path, line):
    """Append one ``records.jsonl`` line and make it durable (flush + ``fsync``)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def append_log(path, line, *, durable=False):
    """Append one line to a log file (timings, failures)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        if durable:
            fh.flush()
            os.fsync(fh.fileno())


def fsync_dir(folder):
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


def write_atomic(path, data):
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
    fsync_dir(path.parent)



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
    scan = scan_records(path, schema=normalize_schema(schema))
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
