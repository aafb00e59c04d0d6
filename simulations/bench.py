"""Benchmark registry and runner (``python -m simulations bench``).

A workload is a function registered with :func:`workload` that takes a
:class:`BenchContext` and returns a dict::

    {"seconds": float,                       # wall time of the measured operation (best of k)
     "throughput": (value, "unit"),          # or {"value": v, "unit": "u"}
     "reference_ratio": float,               # optional: e.g. time / (time of a reference op)
     "limit_ratio": float,                   # optional: the largest acceptable ratio
     "machine_ratio": float,                 # optional: throughput / machine limit
     "machine_limit": "np.exp" | "GEMM",     # which limit machine_ratio is relative to
     "target": "text",                       # optional: what "fast enough" means
     "passed": bool}                         # optional: verdict (None = informational)

The context carries two machine baselines measured in the same run, so workloads can state
targets relative to the hardware: ``ctx.exp_rate`` (float64 ``np.exp`` elements/s on a large
array, best of 5) and ``ctx.gemm_rate`` (float64 matrix-multiply flop/s, best of 5).

Workloads live in modules named ``simulations.bench_*`` or ``simulations.benchmarks_*``;
:func:`collect_workloads` imports all of them.

Examples
--------
>>> @workload("demo-sum", issue="#0")
... def _demo(ctx):
...     x = np.ones(1000)
...     s = ctx.best_of(lambda: x.sum())
...     return {"seconds": s, "throughput": (1000 / s, "elem/s")}
>>> "demo-sum" in WORKLOADS
True
>>> _ = WORKLOADS.pop("demo-sum")
"""

from __future__ import annotations

import importlib
import json
import pathlib
import pkgutil
import time
import traceback
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["workload", "WORKLOADS", "BenchContext", "BenchResult", "measure_exp_rate",
           "measure_gemm_rate", "collect_workloads", "run_benchmarks", "format_table",
           "write_json"]

#: name -> (function, issue)
WORKLOADS = {}

_MODULE_PREFIXES = ("bench_", "benchmarks_")


def workload(name, *, issue=None):
    """Decorator registering a benchmark workload under ``name``.

    Parameters
    ----------
    name : str
        Unique workload name (table row).
    issue : str, optional
        Issue or requirement the workload tracks (e.g. ``"perf#3"``).
    """
    if not isinstance(name, str) or not name:
        raise TypeError("`name` must be a non-empty str.")

    def register(fn):
        if name in WORKLOADS and WORKLOADS[name][0] is not fn:
            existing = WORKLOADS[name][0]
            if (existing.__module__, existing.__qualname__) != (fn.__module__, fn.__qualname__):
                raise ValueError(f"benchmark workload {name!r} is already registered "
                                 f"by {existing.__module__}.{existing.__qualname__}.")
        WORKLOADS[name] = (fn, issue)
        return fn

    return register


def _best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_exp_rate(*, quick=False, repeat=5):
    """Return ``(elements/s, seconds)`` of ``np.exp`` on a large float64 array (best of k)."""
    n = 1 << (20 if quick else 22)
    a = np.linspace(-10.0, 10.0, n)
    out = np.empty_like(a)
    np.exp(a, out=out)  # warm-up
    seconds = _best_of(lambda: np.exp(a, out=out), repeat)
    return n / seconds, seconds


def measure_gemm_rate(*, quick=False, repeat=5):
    """Return ``(flop/s, seconds)`` of a float64 square matmul, ``2 n^3`` flops (best of k)."""
    n = 256 if quick else 1024
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
        Smaller problem sizes (CI smoke run).
    exp_rate : float
        Machine's float64 ``np.exp`` throughput, elements/s.
    gemm_rate : float
        Machine's float64 GEMM rate, flop/s.
    repeat : int
        Default number of repetitions for :meth:`best_of`.
    """

    quick: bool
    exp_rate: float
    gemm_rate: float
    repeat: int = 5

    def best_of(self, fn, repeat=None):
        """Best wall time in seconds of ``fn()`` over ``repeat`` calls."""
        return _best_of(fn, self.repeat if repeat is None else repeat)


@dataclass(frozen=True)
class BenchResult:
    """One row of the benchmark table (see the module docstring for the fields)."""

    name: str
    issue: str | None
    seconds: float | None
    throughput: float | None
    unit: str
    reference_ratio: float | None = None
    limit_ratio: float | None = None
    target: str = ""
    passed: bool | None = None
    error: str = ""
    machine_ratio: float | None = None
    machine_limit: str = ""

    def to_dict(self):
        """Return a JSON-ready dict."""
        return asdict(self)


def collect_workloads():
    """Import every ``simulations.bench_*`` / ``simulations.benchmarks_*`` module.

    Returns
    -------
    dict
        ``{module name: error text}`` for modules that failed to import.
    """
    import simulations

    errors = {}
    for info in pkgutil.iter_modules(simulations.__path__):
        if info.name.startswith(_MODULE_PREFIXES):
            modname = f"simulations.{info.name}"
            try:
                importlib.import_module(modname)
            except Exception as exc:
                errors[modname] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return errors


def _as_result(name, issue, out):
    if not isinstance(out, dict) or "seconds" not in out or "throughput" not in out:
        raise TypeError("a workload must return a dict with 'seconds' and 'throughput'.")
    tp = out["throughput"]
    if isinstance(tp, dict):
        value, unit = tp["value"], tp["unit"]
    else:
        value, unit = tp
    opt = {k: (None if out.get(k) is None else float(out[k]))
           for k in ("reference_ratio", "limit_ratio", "machine_ratio")}
    passed = out.get("passed")
    return BenchResult(name=name, issue=issue, seconds=float(out["seconds"]),
                       throughput=float(value), unit=str(unit), target=str(out.get("target", "")),
                       passed=None if passed is None else bool(passed),
                       machine_limit=str(out.get("machine_limit", "")), **opt)


def run_benchmarks(*, quick=False, names=None):
    """Measure the baselines, then run the selected workloads.

    Parameters
    ----------
    quick : bool
        Smaller sizes.
    names : iterable of str, optional
        Workloads to run (default: all registered after :func:`collect_workloads`).

    Returns
    -------
    list of BenchResult
        Baseline rows (``baseline: np.exp``, ``baseline: GEMM``) first, then one row per
        workload; a workload that raises gives a row with ``error`` set and ``passed=False``.
    """
    import_errors = collect_workloads()
    exp_rate, exp_s = measure_exp_rate(quick=quick)
    gemm_rate, gemm_s = measure_gemm_rate(quick=quick)
    ctx = BenchContext(quick=bool(quick), exp_rate=exp_rate, gemm_rate=gemm_rate)
    rows = [BenchResult("baseline: np.exp", None, exp_s, exp_rate, "elem/s",
                        target="machine reference", machine_ratio=1.0, machine_limit="np.exp"),
            BenchResult("baseline: GEMM", None, gemm_s, gemm_rate, "flop/s",
                        target="machine reference", machine_ratio=1.0, machine_limit="GEMM")]
    for modname, err in sorted(import_errors.items()):
        rows.append(BenchResult(f"import {modname}", None, None, None, "", passed=False,
                                error=err))
    selected = sorted(WORKLOADS) if names is None else list(names)
    for name in selected:
        if name not in WORKLOADS:
            raise ValueError(f"unknown benchmark workload {name!r}; known: "
                             f"{', '.join(sorted(WORKLOADS)) or 'none'}")
        fn, issue = WORKLOADS[name]
        try:
            rows.append(_as_result(name, issue, fn(ctx)))
        except Exception as exc:
            rows.append(BenchResult(name, issue, None, None, "", passed=False,
                                    error=f"{type(exc).__name__}: {exc}"))
    return rows


def _fmt(value, spec):
    return "—" if value is None else format(value, spec)


def format_table(rows):
    """Return the rows as one aligned plain-text table.

    Columns: wall time, throughput, ``vs ref`` (time / reference time: below 1 is faster
    than the reference implementation), ``ref max`` (the largest acceptable ``vs ref``),
    ``vs machine`` (throughput as a fraction of the machine limit measured in the same run,
    ``np.exp`` elements/s or GEMM flop/s), status and target.
    """
    header = ("workload", "issue", "seconds", "throughput", "vs ref", "ref max", "vs machine",
              "status", "target")
    body = []
    for r in rows:
        status = "ERROR" if r.error else {True: "PASS", False: "FAIL", None: "info"}[r.passed]
        tp = "—" if r.throughput is None else f"{r.throughput:.3g} {r.unit}"
        machine = ("—" if r.machine_ratio is None
                   else f"{r.machine_ratio:.3g} x {r.machine_limit or '?'}")
        body.append((r.name, r.issue or "", _fmt(r.seconds, ".4g"), tp,
                     _fmt(r.reference_ratio, ".3g"), _fmt(r.limit_ratio, ".3g"), machine,
                     status, r.error or r.target))
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip()
             for row in [header, tuple("-" * w for w in widths), *body]]
    return "\n".join(lines)


def write_json(rows, path):
    """Write the rows as a JSON list to ``path`` and return it."""
    path = pathlib.Path(path)
    path.write_text(json.dumps([r.to_dict() for r in rows], indent=2) + "\n")
    return path
