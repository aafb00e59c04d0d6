"""Benchmark workloads for certified coverage (:mod:`theory.certified`), issue 3.

Target from the issue: ``V = 4``, ``H = 1,000``, 4,096 bins: bounds at 1,000 thresholds in at
most 2 s with ``hi - lo <= 1e-3``.  Three rows:

* ``certified: lattice DP``: the position-by-position dynamic programme (any Markov
  model; here a time-inhomogeneous random pair) with 4,096 bins;
* ``certified: FFT 4096``: the FFT path (time-homogeneous pair) with 4,096 bins;
* ``certified: FFT fine``: the FFT path with the bins needed for the gap target.

Each row reports wall time (best of 3) and, in its target text, the measured largest gap
``hi - lo`` over the thresholds.  Instances: data logits ``N(0, 1)``, model logits
``data + 0.3 N(0, 1)`` (``V = 4``), thresholds log-spaced over the bulk of ``log(pi_D/pi)``.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.special import log_softmax

from simulations.bench import workload
from theory.log_ratio import certified_log_ratio
from theory.models import MarkovModel

V = 4
N_THRESHOLDS = 1000
GAP_TARGET = 1e-3
TIME_TARGET = 2.0


def _pair(H, homogeneous, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(1, 1 if homogeneous else H, V + 1, V))
    d = MarkovModel(log_softmax(logits, -1), H)
    m = MarkovModel(log_softmax(logits + 0.3 * rng.normal(size=logits.shape), -1), H)
    return d, m


def _run(ctx, *, homogeneous, n_bins, method, width_sd=8.0):
    H = 200 if ctx.quick else 1000
    d, m = _pair(H, homogeneous)
    N = np.exp(np.linspace(0.0, 60.0, N_THRESHOLDS))
    out = {}

    def go():
        law = certified_log_ratio(d, m, n_bins=n_bins, method=method, width_sd=width_sd)
        out["lo"], out["hi"] = law.coverage_bounds(N)

    seconds = ctx.best_of(go, repeat=3)
    c0 = time.process_time()
    go()
    cpu = time.process_time() - c0
    gap = float(np.max(out["hi"] - out["lo"]))
    ok_time, ok_gap = seconds <= TIME_TARGET, gap <= GAP_TARGET
    return {"seconds": seconds, "throughput": (N_THRESHOLDS / seconds, "thresholds/s"),
            "target": (f"V={V}, H={H}, {n_bins} bins, {N_THRESHOLDS} thresholds: <= {TIME_TARGET:g} s "
                       f"and hi-lo <= {GAP_TARGET:g}; measured max gap {gap:.2e} "
                       f"({'ok' if ok_gap else 'MISSED'}), CPU {cpu:.2f} s"),
            "passed": bool(ok_time and ok_gap)}


@workload("certified: lattice DP (inhomogeneous, 4096 bins)", issue="#3")
def bench_lattice(ctx):
    return _run(ctx, homogeneous=False, n_bins=4096, method="lattice")


@workload("certified: FFT (homogeneous, 4096 bins)", issue="#3")
def bench_fft_4096(ctx):
    return _run(ctx, homogeneous=True, n_bins=4096, method="fft")


@workload("certified: FFT (homogeneous, 2^19 bins)", issue="#3")
def bench_fft_fine(ctx):
    return _run(ctx, homogeneous=True, n_bins=1 << 19, method="fft", width_sd=6.0)
