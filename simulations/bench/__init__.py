"""Benchmark registry and runner (``python -m simulations bench``).

Every row times what a user runs, end to end, next to a reference written the way a
competent researcher would write it (plain numpy, no toolkit shortcut), both timed in the
same run with the same best-of-``k`` (interleaved, so load hits both alike), and next to a
machine limit measured in the same run.  Calls of about a millisecond are timed in turns of
back-to-back calls (:meth:`BenchContext.race` with ``block``), as a sweep runs them, so
that the cold caches left by the other functions' turns count once per turn.

A workload is a function registered with :func:`workload` that takes a
:class:`BenchContext` and returns a dict::

    {"params": {...},                        # the parameters actually run
     "seconds": float,                       # best wall time of the toolkit's call
     "cpu_seconds": float,                   # optional: CPU time of that call (load evidence;
                                             # the row then also gets cpu_machine_ratio)
     "work": (amount, "unit"),               # work per call; throughput = amount / seconds
     "machine_limit": "np.exp" | "GEMM",     # optional: work is in that limit's unit
     "exp_rate": float,                      # optional: np.exp rate timed alongside (race(exp=True))
     "exp_cpu_rate": float,                  # optional: the same on CPU time (for cpu_machine_ratio)
     "reference": "text",                    # optional: what the reference computes
     "reference_seconds": float,             # optional: its best wall time (same k, same run)
     "other_references": {"name": seconds},  # optional: further references
     "target": "text",                       # what "fast enough" means
     "min_machine_ratio": float,             # optional: verdict machine_ratio >= this
     "min_reference_ratio": float,           # optional: verdict reference_ratio >= this
     "passed": bool}                         # optional: any other verdict (on wall time)

or ``{"params": {...}, "skipped": "reason"}`` when it cannot run here (an optional
dependency is missing): a row without numbers or verdict.

The runner derives ``throughput``, ``reference_ratio`` (reference time / toolkit time: above
1 means the toolkit is faster) and ``machine_ratio`` (the toolkit's throughput as a fraction
of the machine limit's, in the same unit of work: ``np.exp`` elements/s on a ``2^22``
float64 array, or float64 GEMM flop/s).  The ``np.exp`` rate is the fastest seen in the run:
the baseline row's, or the one timed in the row's own alternation (``race(..., exp=True)``)
if that was faster; ``machine_limit_rate`` records it.  The verdict (full mode, wall time)
is the conjunction of ``passed`` and the ``min_*_ratio`` thresholds the workload gives.  With ``quick=True`` the sizes are smaller and no
verdict is given (``passed`` is ``None`` on every row that ran).

Workloads live in the modules of this package (:mod:`simulations.bench.core`,
:mod:`~simulations.bench.sgd`, ...); :func:`collect_workloads` imports all of them.

Examples
--------
>>> @workload("demo/sum")
... def _demo(ctx):
...     x = np.ones(1000)
...     s = ctx.best_of(lambda: x.sum())
...     return {"params": {"n": 1000}, "seconds": s, "work": (1000, "elem")}
>>> "demo/sum" in WORKLOADS
True
>>> _ = WORKLOADS.pop("demo/sum")
"""

from __future__ import annotations

import importlib
import json
import pathlib
import pkgutil
import shutil
import textwrap
import time
import traceback
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["workload", "WORKLOADS", "BenchContext", "BenchResult", "measure_exp_rate",
           "measure_gemm_rate", "collect_workloads", "run_benchmarks", "format_table",
           "write_json"]

#: name -> workload function
WORKLOADS = {}

#: Elements of the ``np.exp`` baseline (float64).
EXP_SIZE = 1 << 22


def workload(name):
    """Decorator registering a benchmark workload under ``name`` (``topic/what``).

    Parameters
    ----------
    name : str
        Unique workload name (table row).
    """
    if not isinstance(name, str) or not name:
        raise TypeError("`name` must be a non-empty str.")

    def register(fn):
        existing = WORKLOADS.get(name)
        if existing is not None and (existing.__module__, existing.__qualname__) != (
                fn.__module__, fn.__qualname__):
            raise ValueError(f"benchmark workload {name!r} is already registered "
                             f"by {existing.__module__}.{existing.__qualname__}.")
        WORKLOADS[name] = fn
        return fn

    return register


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def _timed_block(fn, n):
    """Mean wall and CPU seconds per call of ``n`` back-to-back calls of ``fn``."""
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return (time.perf_counter() - w0) / n, (time.process_time() - c0) / n


def _best_of(fn, repeat):
    return min(_timed(fn)[0] for _ in range(repeat))


def measure_exp_rate(*, repeat=5):
    """Return ``(elements/s, seconds)`` of ``np.exp`` on a ``2^22``-element float64 array (best of k)."""
    a = np.linspace(-10.0, 10.0, EXP_SIZE)
    out = np.empty_like(a)
    np.exp(a, out=out)  # warm-up
    seconds = _best_of(lambda: np.exp(a, out=out), repeat)
    return EXP_SIZE / seconds, seconds


def measure_gemm_rate(*, quick=False, repeat=5):
    """Return ``(flop/s, seconds)`` of a float64 square matmul, ``2 n^3`` flops (best of k)."""
    n = 512 if quick else 1024
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    out = np.empty((n, n))
    np.matmul(a, b, out=out)  # warm-up
    seconds = _best_of(lambda: np.matmul(a, b, out=out), repeat)
    return 2.0 * n ** 3 / seconds, seconds


@dataclass(frozen=True)
class BenchContext:
    """What a workload receives.

    Attributes
    ----------
    quick : bool
        Smaller problem sizes, no verdicts (CI smoke run).
    exp_rate : float
        Machine's float64 ``np.exp`` throughput, elements/s.
    gemm_rate : float
        Machine's float64 GEMM rate, flop/s.
    repeat : int
        ``k`` of best-of-``k`` (toolkit and reference alike).
    """

    quick: bool
    exp_rate: float
    gemm_rate: float
    repeat: int = 5

    def best_of(self, fn, repeat=None):
        """Best wall time in seconds of ``fn()`` over ``repeat`` calls."""
        return _best_of(fn, self.repeat if repeat is None else repeat)

    def race(self, toolkit, reference=None, repeat=None, *, exp=False, block=0.0):
        """Time ``toolkit`` and ``reference`` alternately, best of ``repeat`` each.

        With ``exp=True`` the ``np.exp`` baseline is timed in the same alternation, so the
        row's machine ratio compares measurements taken under the same load.

        With ``block > 0`` (seconds) each turn is a *block* of back-to-back calls lasting at
        least ``block`` seconds, and its time is the block's mean per call: what a sweep of
        repeated calls sees.  Each function is first called once untimed (first-call costs
        such as loading compiled code), then once more to fix its number of calls per
        block; the first call of a block runs after the other functions' turns, so its cold
        caches count once per block, not once per measurement.

        Returns
        -------
        dict
            ``seconds`` and ``cpu_seconds`` (CPU time of the toolkit's best turn, per call),
            with a reference ``reference_seconds``, with ``exp=True`` ``exp_rate`` (elements/s,
            best wall time) and ``exp_cpu_rate`` (elements per CPU second, best CPU time);
            with ``block > 0`` ``calls_per_block`` (``{"toolkit", "reference", "np.exp"}``).
        """
        k = self.repeat if repeat is None else repeat
        best, cpu, ref, exp_s, exp_c = float("inf"), float("nan"), float("inf"), float("inf"), float("inf")
        exp_fn = None
        if exp:
            a = np.linspace(-10.0, 10.0, EXP_SIZE)
            buf = np.empty_like(a)

            def exp_fn():
                np.exp(a, out=buf)
        fns = {"toolkit": toolkit, "reference": reference, "np.exp": exp_fn}
        calls = {name: 1 for name, fn in fns.items() if fn is not None}
        if block > 0:
            for name in calls:
                fns[name]()                                  # first-call costs
                calls[name] = max(1, int(np.ceil(block / max(_timed(fns[name])[0], 1e-9))))
        for _ in range(k):
            wall, c = _timed_block(toolkit, calls["toolkit"])
            if wall < best:
                best, cpu = wall, c
            if reference is not None:
                ref = min(ref, _timed_block(reference, calls["reference"])[0])
            if exp:
                w, c = _timed_block(exp_fn, calls["np.exp"])
                exp_s, exp_c = min(exp_s, w), min(exp_c, c)
        out = {"seconds": best, "cpu_seconds": cpu}
        if reference is not None:
            out["reference_seconds"] = ref
        if exp:
            out["exp_rate"] = EXP_SIZE / exp_s
            if exp_c > 0:
                out["exp_cpu_rate"] = EXP_SIZE / exp_c
        if block > 0:
            out["calls_per_block"] = calls
        return out


@dataclass(frozen=True)
class BenchResult:
    """One row of the benchmark table (see the module docstring for the fields)."""

    name: str
    params: dict = field(default_factory=dict)
    seconds: float | None = None
    throughput: float | None = None
    unit: str = ""
    reference: str | None = None
    reference_seconds: float | None = None
    reference_ratio: float | None = None
    other_references: dict = field(default_factory=dict)
    machine_limit: str | None = None
    machine_limit_rate: float | None = None
    machine_ratio: float | None = None
    cpu_seconds: float | None = None
    cpu_machine_ratio: float | None = None
    target: str = ""
    passed: bool | None = None
    error: str = ""

    def to_dict(self):
        """Return a JSON-ready dict."""
        return asdict(self)


def collect_workloads():
    """Import every module of :mod:`simulations.bench`.

    Returns
    -------
    dict
        ``{module name: error text}`` for modules that failed to import.
    """
    errors = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        modname = f"{__name__}.{info.name}"
        try:
            importlib.import_module(modname)
        except Exception as exc:
            errors[modname] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return errors


def _as_result(name, out, ctx, limits):
    if isinstance(out, dict) and "skipped" in out:
        return BenchResult(name=name, params=dict(out.get("params", {})),
                           target=f"not run: {out['skipped']}")
    if not isinstance(out, dict) or "seconds" not in out or "work" not in out:
        raise TypeError("a workload must return a dict with 'seconds' and 'work'.")
    seconds = float(out["seconds"])
    amount, unit = out["work"]
    throughput = float(amount) / seconds
    ref_s = out.get("reference_seconds")
    limit = out.get("machine_limit")
    if limit is not None and limit not in limits:
        raise ValueError(f"unknown machine limit {limit!r}; known: {sorted(limits)}")
    rate = None
    if limit is not None:
        rate = limits[limit]
        if limit == "np.exp" and "exp_rate" in out:      # the fastest np.exp seen in the run
            rate = max(rate, float(out["exp_rate"]))
    machine_ratio = None if limit is None else throughput / rate
    ref_ratio = None if ref_s is None else float(ref_s) / seconds
    checks = [out["passed"]] if out.get("passed") is not None else []
    if out.get("min_machine_ratio") is not None:
        checks.append(machine_ratio >= out["min_machine_ratio"])
    if out.get("min_reference_ratio") is not None:
        checks.append(ref_ratio >= out["min_reference_ratio"])
    passed = all(checks) if checks else None
    return BenchResult(
        name=name, params=dict(out.get("params", {})), seconds=seconds, throughput=throughput,
        unit=f"{unit}/s", reference=out.get("reference"),
        reference_seconds=None if ref_s is None else float(ref_s),
        reference_ratio=ref_ratio,
        other_references={k: {"seconds": float(v), "ratio": float(v) / seconds}
                          for k, v in out.get("other_references", {}).items()},
        machine_limit=limit, machine_limit_rate=rate, machine_ratio=machine_ratio,
        cpu_seconds=None if out.get("cpu_seconds") is None else float(out["cpu_seconds"]),
        cpu_machine_ratio=(None if limit is None or not out.get("cpu_seconds") else
                           float(amount) / float(out["cpu_seconds"])
                           / max(rate, float(out.get("exp_cpu_rate", 0.0)))),
        target=str(out.get("target", "")),
        passed=None if ctx.quick or passed is None else bool(passed))


def run_benchmarks(*, quick=False, names=None, repeat=None):
    """Measure the machine limits, then run the selected workloads.

    Parameters
    ----------
    quick : bool
        Smaller sizes and no verdicts.
    names : iterable of str, optional
        Workloads to run (default: all, after :func:`collect_workloads`).
    repeat : int, optional
        ``k`` of best-of-``k`` (default 3 quick, 5 full).

    Returns
    -------
    list of BenchResult
        The two machine rows (``machine/np.exp``, ``machine/GEMM``) first, then one row per
        workload; a workload that raises (or whose answer disagrees with its reference) gives
        a row with ``error`` set and ``passed=False``, in quick mode too.
    """
    import_errors = collect_workloads()
    exp_rate, exp_s = measure_exp_rate()
    gemm_rate, gemm_s = measure_gemm_rate(quick=quick)
    k = (3 if quick else 5) if repeat is None else int(repeat)
    ctx = BenchContext(quick=bool(quick), exp_rate=exp_rate, gemm_rate=gemm_rate, repeat=k)
    limits = {"np.exp": exp_rate, "GEMM": gemm_rate}
    gemm_n = 512 if quick else 1024
    rows = [BenchResult("machine/np.exp", {"n": EXP_SIZE, "dtype": "float64"}, exp_s, exp_rate,
                        "elem/s", target="machine limit (rows with np.exp ratios re-time it "
                        "alongside their own runs)", machine_limit="np.exp",
                        machine_limit_rate=exp_rate, machine_ratio=1.0),
            BenchResult("machine/GEMM", {"n": gemm_n, "dtype": "float64"}, gemm_s, gemm_rate,
                        "flop/s", target="machine limit", machine_limit="GEMM",
                        machine_limit_rate=gemm_rate, machine_ratio=1.0)]
    for modname, err in sorted(import_errors.items()):
        rows.append(BenchResult(f"import {modname}", passed=False, error=err))
    selected = sorted(WORKLOADS) if names is None else list(names)
    for name in selected:
        if name not in WORKLOADS:
            raise ValueError(f"unknown benchmark workload {name!r}; known: "
                             f"{', '.join(sorted(WORKLOADS)) or 'none'}")
        try:
            rows.append(_as_result(name, WORKLOADS[name](ctx), ctx, limits))
        except Exception as exc:
            rows.append(BenchResult(name, passed=False, error=f"{type(exc).__name__}: {exc}"))
    return rows


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def _params(p):
    return " ".join(f"{k}={v}" for k, v in p.items())


def format_table(rows, width=None):
    """Return the rows as an aligned plain-text table that fits ``width`` columns.

    One line per workload: name, best wall time, throughput, ``vs ref`` (reference time /
    toolkit time: above 1 the toolkit is faster), ``vs machine`` (throughput as a fraction of
    the named machine limit, same unit of work) and status. The parameters actually run and
    the target, the reference and any further reference ratios (or the error) follow on
    indented lines, wrapped to ``width``
    (default: the terminal's width, at least 80).
    """
    if width is None:
        width = max(80, shutil.get_terminal_size((100, 24)).columns)
    header = ("workload", "seconds", "throughput", "vs ref", "vs machine", "status")
    body, notes = [], []
    for r in rows:
        status = "ERROR" if r.error else {True: "PASS", False: "FAIL", None: "-"}[r.passed]
        tp = "-" if r.throughput is None else f"{r.throughput:.3g} {r.unit}"
        machine = ("-" if r.machine_ratio is None else f"{r.machine_ratio:.3g} x {r.machine_limit}")
        body.append((r.name, _fmt(r.seconds, ".4g"), tp, _fmt(r.reference_ratio, ".3g"), machine,
                     status))
        extra = [("params", _params(r.params))] if r.params else []
        if r.error:
            extra.append(("error", r.error))
        else:
            extra += [(k, v) for k, v in (("target", r.target), ("reference", r.reference)) if v]
            extra += [(f"vs {k}", f"{v['ratio']:.3g}") for k, v in (r.other_references or {}).items()]
        notes.append(extra)
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]

    def line(row):
        return "  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip()

    lines = [line(header), line(tuple("-" * w for w in widths))]
    for row, extra in zip(body, notes):
        lines.append(line(row))
        for key, text in extra:
            lines += textwrap.wrap(text, width=width, initial_indent=f"    {key}: ",
                                   subsequent_indent=" " * (6 + len(key)),
                                   break_on_hyphens=False)
    return "\n".join(lines)


def write_json(rows, path):
    """Write the rows as a JSON list to ``path`` and return it."""
    path = pathlib.Path(path)
    path.write_text(json.dumps([r.to_dict() for r in rows], indent=2) + "\n")
    return path
