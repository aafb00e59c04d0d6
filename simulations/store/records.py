"""Records as JSON: conversion (:func:`to_jsonable`), task checksums, declared record schemas
(:func:`normalize_schema`, :func:`check_records`) and the verifying reader of ``records.jsonl``
(:func:`scan_records`).

Part of :mod:`simulations.store` (see there for the folder layout and the guarantees).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import pathlib

import numpy as np

from simulations.store.base import FRESH_HINT, CorruptStoreError


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


def canonical_json(obj):
    """JSON text used to compare and checksum (key order and number formatting normalised)."""
    return json.dumps(to_jsonable(obj), sort_keys=True, allow_nan=True, separators=(",", ":"))


def same_floats(a, b):
    """Compare two JSON values, treating NaN as equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_floats(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_floats(x, y) for x, y in zip(a, b))
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
    text = canonical_json({"cell": int(cell), "rep": int(rep), "records": records})
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def encode_task(cell, rep, records):
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


def kind_of(value):
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
        return f"its records are a JSON {kind_of(records)}, not a list"
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            return f"record {i} is a JSON {kind_of(rec)}, not an object"
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
                return (f"record {i} field `{name}` is a JSON {kind_of(rec[name])}; the "
                        f"experiment declares {' or '.join(kinds)}")
    return None



# -- reading and verifying records.jsonl --------------------------------------------------

class Scan:
    """The verified content of a ``records.jsonl``: tasks in file order and the good length."""

    def __init__(self):
        self.records = {}    # (cell, rep) -> records
        self.lines = {}      # (cell, rep) -> line bytes (no newline)
        self.lineno = {}     # (cell, rep) -> 1-based line number
        self.order = []      # keys in file order
        self.good_end = 0    # bytes up to the end of the last good line
        self.size = 0


def _corrupt(path, lineno, problem, hint=FRESH_HINT):
    return CorruptStoreError(f"{path}, line {lineno}: {problem}; the folder's results cannot be "
                             f"vouched for: {hint}")


def scan_records(path, *, schema=None, task_keys=None):
    """Read and verify ``path`` (see the module docstring); return a :class:`Scan`."""
    scan = Scan()
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
        raise _corrupt(path, lineno, f"a JSON {kind_of(entry)}, not a task object")
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
        raise _corrupt(path, lineno, f"`records` is a JSON {kind_of(records)}, not a list")
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
