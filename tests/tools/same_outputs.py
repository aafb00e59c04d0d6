"""Same-outputs check: two results folders hold the same records and claims, experiment by experiment.

A refactoring that must not change behaviour is checked by running the same reproduction
(same seed, same presets) before and after and comparing the two ``--out`` folders::

    python -m tests.tools.same_outputs BEFORE AFTER        # exit 0 iff identical, 1 otherwise

For every experiment folder (a sub-folder holding ``records.jsonl`` or ``claims.json``) of
either side:

* ``records.jsonl`` — one line per task ``{"cell", "rep", "n", "sha256", "records"}``
  (:mod:`simulations.store`) — is compared task by task, keyed by ``(cell, rep)`` (so the
  completion order of an unfinished file does not matter), with every value compared exactly
  through its canonical JSON text (floats by their shortest repr, so any changed bit of a
  number is a difference).  Fields in :data:`WALL_CLOCK_FIELDS` are dropped at every depth
  before comparing.  The store writes wall-clock, CPU time and host to ``timings.jsonl``,
  ``meta.json`` and ``.lock``, never into a record, so for today's experiments nothing is
  dropped; the set is there so that a record carrying a timing never makes the check fail
  spuriously, and the line's ``sha256`` is left out with it, since it digests the records
  that are compared field by field anyway.
* ``claims.json`` is compared byte for byte (the claims carry no timing).
* ``meta.json`` (creation time, argv, versions, code fingerprint), ``timings.jsonl``,
  ``failures.jsonl``, figures and the report pages are not compared: they name the run, not
  its results.

An experiment present on one side only, a missing file, or a task present on one side only
is a difference.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

__all__ = ["WALL_CLOCK_FIELDS", "Difference", "strip_wall_clock", "load_tasks",
           "compare_experiment", "compare_folders", "main"]

#: Keys dropped (at any depth) from a ``records.jsonl`` line before comparing: the timing and
#: host fields the store writes to ``timings.jsonl`` / ``.lock`` / ``meta.json``
#: (``elapsed``, ``cpu_seconds``, ``worker``, ``host``, ``pid``, ``started``, ``created``),
#: plus the line checksum, which digests the records compared field by field.
WALL_CLOCK_FIELDS = frozenset({"elapsed", "cpu_seconds", "worker", "host", "pid", "started",
                               "created", "sha256"})

RECORDS_FILE = "records.jsonl"
CLAIMS_FILE = "claims.json"


class Difference(str):
    """One difference found, as a readable line (``experiment: what differs``)."""

    __slots__ = ()


def strip_wall_clock(value, fields=WALL_CLOCK_FIELDS):
    """Return ``value`` (parsed JSON) without the keys in ``fields``, at every depth.

    Examples
    --------
    >>> strip_wall_clock({"x": 1.5, "elapsed": 0.2, "sub": [{"worker": "a", "y": 2}]})
    {'x': 1.5, 'sub': [{'y': 2}]}
    """
    if isinstance(value, dict):
        return {k: strip_wall_clock(v, fields) for k, v in value.items() if k not in fields}
    if isinstance(value, list):
        return [strip_wall_clock(v, fields) for v in value]
    return value


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


def load_tasks(path):
    """Return ``{(cell, rep): canonical JSON text}`` of a ``records.jsonl`` (wall clock stripped).

    Raises
    ------
    ValueError
        On a line that does not parse or lacks ``cell``/``rep``, or on a task stored twice.
    """
    path = pathlib.Path(path)
    tasks = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            key = (int(entry["cell"]), int(entry["rep"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a task line ({exc})") from None
        if key in tasks:
            raise ValueError(f"{path}:{number}: task (cell={key[0]}, rep={key[1]}) stored twice")
        tasks[key] = _canonical(strip_wall_clock(entry))
    return tasks


def _first_divergence(a, b):
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    lo = max(0, i - 40)
    return f"...{a[lo:i + 40]}... vs ...{b[lo:i + 40]}..."


def compare_experiment(before, after, name=None):
    """Return the list of :class:`Difference` between two experiment folders (empty: same)."""
    before, after = pathlib.Path(before), pathlib.Path(after)
    name = name or after.name
    diffs = []
    rec_a, rec_b = before / RECORDS_FILE, after / RECORDS_FILE
    if rec_a.exists() != rec_b.exists():
        diffs.append(Difference(f"{name}: {RECORDS_FILE} only in "
                                f"{'before' if rec_a.exists() else 'after'}"))
    elif rec_a.exists():
        ta, tb = load_tasks(rec_a), load_tasks(rec_b)
        for key in sorted(ta.keys() - tb.keys()):
            diffs.append(Difference(f"{name}: task cell={key[0]} rep={key[1]} only in before"))
        for key in sorted(tb.keys() - ta.keys()):
            diffs.append(Difference(f"{name}: task cell={key[0]} rep={key[1]} only in after"))
        for key in sorted(ta.keys() & tb.keys()):
            if ta[key] != tb[key]:
                diffs.append(Difference(f"{name}: records of task cell={key[0]} rep={key[1]} "
                                        f"differ: {_first_divergence(ta[key], tb[key])}"))
    cl_a, cl_b = before / CLAIMS_FILE, after / CLAIMS_FILE
    if cl_a.exists() != cl_b.exists():
        diffs.append(Difference(f"{name}: {CLAIMS_FILE} only in "
                                f"{'before' if cl_a.exists() else 'after'}"))
    elif cl_a.exists():
        a, b = cl_a.read_bytes(), cl_b.read_bytes()
        if a != b:
            diffs.append(Difference(f"{name}: {CLAIMS_FILE} differs: "
                                    f"{_first_divergence(a.decode(), b.decode())}"))
    return diffs


def _experiments(folder):
    return {p.name for p in pathlib.Path(folder).iterdir()
            if p.is_dir() and ((p / RECORDS_FILE).exists() or (p / CLAIMS_FILE).exists())}


def compare_folders(before, after):
    """Compare two results folders experiment by experiment.

    Returns
    -------
    names : list of str
        The experiments compared (present on both sides), sorted.
    diffs : list of Difference
        Every difference (empty when the outputs are the same).
    """
    before, after = pathlib.Path(before), pathlib.Path(after)
    for side, folder in (("before", before), ("after", after)):
        if not folder.is_dir():
            raise ValueError(f"{side} folder {folder} does not exist")
    ea, eb = _experiments(before), _experiments(after)
    diffs = [Difference(f"{n}: experiment only in before") for n in sorted(ea - eb)]
    diffs += [Difference(f"{n}: experiment only in after") for n in sorted(eb - ea)]
    names = sorted(ea & eb)
    for n in names:
        diffs += compare_experiment(before / n, after / n, n)
    return names, diffs


def main(argv=None):
    """``python -m tests.tools.same_outputs BEFORE AFTER``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tests.tools.same_outputs",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("before", type=pathlib.Path)
    parser.add_argument("after", type=pathlib.Path)
    args = parser.parse_args(argv)
    names, diffs = compare_folders(args.before, args.after)
    for d in diffs:
        print(d)
    print(f"{len(names)} experiment(s) compared: "
          f"{'SAME outputs' if not diffs else f'{len(diffs)} difference(s)'}")
    return 0 if names and not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
