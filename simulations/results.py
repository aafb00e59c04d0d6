"""Tidy results: a finished run folder as :class:`pandas.DataFrame` objects, and ``export``.

:func:`load_records` turns ``OUT/NAME/records.jsonl`` into a long-format frame: one row per
record, with list-valued fields exploded into one row per point of a swept axis when the
experiment declares that axis.  An experiment declares it with a module attribute

``RECORD_AXES = {"cov": "Ns"}``

mapping a record field to the ``Config`` field whose values index the list (record
``cov[i]`` is the coverage at ``N = config.Ns[i]``).  Undeclared list fields stay lists.
:func:`load_claims` turns ``claims.json`` into one row per claim, with the numeric
``measured_value``, ``ci_low`` and ``ci_high`` beside the display strings.

pandas is an optional dependency (``pip install "coverage-principle[tidy]"``; Parquet also
needs pyarrow, in the same extra).

Why at the top level of :mod:`simulations` and not inside :mod:`simulations.store`: the
store writes and verifies folders and imports nothing above itself, while tidy results need
the registry (each experiment's ``RECORD_AXES`` and ``Config``) and the report's number
formatting; this module is the user-facing reader, a peer of :mod:`simulations.report`.
"""

from __future__ import annotations

import json
import math
import pathlib

from simulations.store import read_records

__all__ = ["load_records", "load_claims", "record_axes", "export", "TidyDependencyError"]

_INSTALL = 'python -m pip install "coverage-principle[tidy]"'


class TidyDependencyError(ImportError):
    """pandas (or pyarrow, for Parquet) is missing; the message says how to install it."""


def _pandas():
    try:
        import pandas
    except ImportError:
        raise TidyDependencyError(f"tidy results need pandas: {_INSTALL}") from None
    return pandas


def _module(name):
    from simulations import registry

    return registry.get(name)


def _folder(out_dir, name):
    folder = pathlib.Path(out_dir) / name
    if not (folder / "meta.json").is_file():
        raise FileNotFoundError(f"no finished run of {name!r} in {str(pathlib.Path(out_dir))!r} "
                                f"(missing {folder / 'meta.json'}); run `python -m simulations "
                                f"run {name} --out {out_dir}` first")
    return folder


def record_axes(name):
    """Return the experiment's declared ``{record field: Config field}`` axes (may be empty).

    Parameters
    ----------
    name : str
        Experiment name.
    """
    axes = getattr(_module(name), "RECORD_AXES", None) or {}
    if not isinstance(axes, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                             for k, v in axes.items()):
        raise TypeError(f"{name}: RECORD_AXES must map record field names to Config field "
                        f"names (str -> str), got {axes!r}")
    return dict(axes)


def _declared_axes(name):
    from simulations.registry import UnknownExperimentError

    try:
        return record_axes(name)
    except UnknownExperimentError:  # a run of an experiment not registered here: no axes
        return {}


def load_records(out_dir, name, *, explode=True):
    """Load one experiment's records as a long-format DataFrame.

    Parameters
    ----------
    out_dir : path-like
        The ``--out`` folder of the run (records in ``out_dir/name/records.jsonl``).
    name : str
        Experiment name.
    explode : bool, default True
        Explode the list fields declared in the experiment's ``RECORD_AXES`` (none for an
        experiment not registered in this session) into one row per
        point of the axis, adding a column named after the ``Config`` field (e.g. ``Ns``) with
        the swept value.  Fields declared on the same axis are exploded together; when the
        declared fields use different axes, ``ValueError`` (load with ``explode=False``).

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment``, ``cell``, ``rep``, ``record`` (the record's index within its
        task) and the record fields; records are verified as on resume.

    Raises
    ------
    FileNotFoundError
        If ``out_dir/name`` holds no run.
    ValueError
        If a declared list field's length differs from its axis.
    TidyDependencyError
        If pandas is not installed.
    """
    pd = _pandas()
    folder = _folder(out_dir, name)
    config = json.loads((folder / "meta.json").read_text()).get("config", {})
    rows = read_records(folder)
    counts = {}
    for rec in rows:
        key = (rec["cell"], rec["rep"])
        rec["record"] = counts[key] = counts.get(key, -1) + 1
    frame = pd.DataFrame(rows)
    lead = ["cell", "rep", "record"]
    frame = frame[lead + [c for c in frame.columns if c not in lead]]
    frame.insert(0, "experiment", name)
    axes = {f: a for f, a in _declared_axes(name).items() if f in frame.columns} if explode else {}
    if not axes:
        return frame
    if len(set(axes.values())) > 1:
        raise ValueError(f"{name}: record fields use different axes {axes}; load with "
                         "explode=False and explode one axis at a time")
    (axis,) = set(axes.values())
    if axis not in config:
        raise ValueError(f"{name}: RECORD_AXES names {axis!r}, which is not a Config field")
    values = list(config[axis])
    for field in axes:
        bad = frame[field].map(lambda v: not isinstance(v, list) or len(v) != len(values))
        if bad.any():
            raise ValueError(f"{name}: record field {field!r} is not a list of length "
                             f"{len(values)} (the Config field {axis!r}) in row "
                             f"{int(bad.idxmax())}")
    frame.insert(4, axis, [values] * len(frame))
    frame = frame.explode([axis, *axes], ignore_index=True)
    for column in [axis, *axes]:
        try:
            frame[column] = pd.to_numeric(frame[column])
        except (TypeError, ValueError):  # a non-numeric axis or field stays as it is
            pass
    return frame


def _number(value):
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


def load_claims(out_dir, name=None):
    """Load the claims of one experiment (or of every run in ``out_dir``) as a DataFrame.

    Parameters
    ----------
    out_dir : path-like
        The ``--out`` folder.
    name : str, optional
        Experiment name; default every ``out_dir/*/claims.json``.

    Returns
    -------
    pandas.DataFrame
        One row per claim: the fields of ``claims.json`` (``measured``, ``predicted`` and
        ``interval`` as display strings) plus ``experiment`` and the floats
        ``measured_value`` and ``predicted_value`` (NaN when the value is not a single
        number, e.g. a list or a text) and ``ci_low``, ``ci_high`` (NaN without an interval).

    Raises
    ------
    FileNotFoundError
        If there is no ``claims.json`` to read.
    TidyDependencyError
        If pandas is not installed.
    """
    from simulations.report import format_value

    pd = _pandas()
    out_dir = pathlib.Path(out_dir)
    paths = ([out_dir / name / "claims.json"] if name is not None
             else sorted(out_dir.glob("*/claims.json")))
    paths = [p for p in paths if p.is_file()]
    if not paths:
        raise FileNotFoundError(f"no claims.json under {str(out_dir)!r}"
                                + (f" for {name!r}" if name else ""))
    rows = []
    for path in paths:
        for claim in json.loads(path.read_text()):
            interval = claim.get("interval")
            lo, hi = (interval if isinstance(interval, (list, tuple)) and len(interval) == 2
                      else (None, None))
            rows.append({"experiment": path.parent.name, **claim,
                         "measured": format_value(claim.get("measured")),
                         "predicted": format_value(claim.get("predicted")),
                         "interval": format_value(interval),
                         "measured_value": _number(claim.get("measured")),
                         "predicted_value": _number(claim.get("predicted")),
                         "ci_low": _number(lo), "ci_high": _number(hi)})
    return pd.DataFrame(rows)


def export(out_dir, *, fmt="csv", dest=None):
    """Write every run of ``out_dir`` as tidy files; return the paths written.

    Writes ``DEST/NAME.records.FMT`` per experiment (long format, :func:`load_records`; list
    fields that are not exploded are written as JSON text) and ``DEST/claims.FMT``.

    Parameters
    ----------
    out_dir : path-like
        The ``--out`` folder.
    fmt : {"csv", "parquet"}
        File format (Parquet needs pyarrow).
    dest : path-like, optional
        Where to write (default ``out_dir/tidy``).

    Raises
    ------
    ValueError
        If `fmt` is not ``"csv"`` or ``"parquet"``.
    FileNotFoundError
        If ``out_dir`` holds no finished run.
    TidyDependencyError
        If pandas (or, for Parquet, pyarrow) is not installed.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"`fmt` must be 'csv' or 'parquet', got {fmt!r}")
    _pandas()
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise TidyDependencyError(f"Parquet export needs pyarrow: {_INSTALL}") from None
    out_dir = pathlib.Path(out_dir)
    names = sorted(p.parent.name for p in out_dir.glob("*/meta.json")
                   if (p.parent / "records.jsonl").is_file())
    if not names:
        raise FileNotFoundError(f"no finished run in {str(out_dir)!r}")
    dest = out_dir / "tidy" if dest is None else pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        frame = load_records(out_dir, name)
        for column in frame.columns:
            if frame[column].map(lambda v: isinstance(v, (list, dict))).any():
                frame[column] = frame[column].map(json.dumps)
        written.append(_write(frame, dest / f"{name}.records.{fmt}", fmt))
    if any((out_dir / n / "claims.json").is_file() for n in names):
        claims = load_claims(out_dir)
        for column in claims.columns:
            if claims[column].map(lambda v: isinstance(v, (list, dict))).any():
                claims[column] = claims[column].map(json.dumps)
        written.append(_write(claims, dest / f"claims.{fmt}", fmt))
    return written


def _write(frame, path, fmt):
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path
