"""Benchmark workloads for certified coverage (:mod:`theory.certified`), issue 3.

Target from the issue: ``V = 4``, ``H = 1,000``, 4,096 bins: bounds at 1,000 thresholds in at
most 2 s with ``hi - lo <= 1e-3``.  Rows:

* ``certified: Fourier`` (the verdict rows, one per kind of chain): the default method at
  this ``H`` (:mod:`theory.characteristic`): exact characteristic function, no rounding of
  the log-ratio, ``n_freq = 2**16`` frequencies;
* ``certified: lattice DP`` and ``certified: FFT 4096`` (informational): the two rounding
  methods at the issue's 4,096 bins.  Their gap cannot reach ``1e-3`` at this ``H``: the
  accumulated rounding error spreads like ``Delta * sqrt(H / 12)`` while the lattice must
  span the law of ``Z`` (``Delta ~ 16 sd(Z) / 4096``), which gives a gap near ``0.09``
  whatever the implementation; the FFT path needs about ``2**19`` bins for ``1e-3``.

Each row reports wall time (best of 3) and, in its target text, the measured largest gap
``hi - lo`` over the thresholds.  Instances: data logits ``N(0, 1)``, model logits
``data + 0.3 N(0, 1)`` (``V = 4``), thresholds ``N = exp(linspace(0, 60, 1000))``.
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


def _run(ctx, *, homogeneous, method, verdict, **kwargs):
    H = 200 if ctx.quick else 1000
    d, m = _pair(H, homogeneous)
    N = np.exp(np.linspace(0.0, 60.0, N_THRESHOLDS))
    out = {}

    def go():
        law = certified_log_ratio(d, m, method=method, **kwargs)
        out["lo"], out["hi"] = law.coverage_bounds(N)
        out["law"] = law

    seconds = ctx.best_of(go, repeat=3)
    c0 = time.process_time()
    go()
    cpu = time.process_time() - c0
    gap = float(np.max(out["hi"] - out["lo"]))
    ok_time, ok_gap = seconds <= TIME_TARGET, gap <= GAP_TARGET
    res = out["law"].n_bins
    unit = "frequencies" if method == "fourier" else "bins"
    return {"seconds": seconds, "throughput": (N_THRESHOLDS / seconds, "thresholds/s"),
            "target": (f"V={V}, H={H}, {res} {unit}, {N_THRESHOLDS} thresholds: <= {TIME_TARGET:g} s "
                       f"and hi-lo <= {GAP_TARGET:g}; measured max gap {gap:.2e} "
                       f"({'ok' if ok_gap else 'MISSED'}), CPU {cpu:.2f} s"),
            "passed": bool(ok_time and ok_gap) if verdict else None}


@workload("certified: Fourier (inhomogeneous, default 2^16 frequencies)", issue="#3")
def bench_fourier_inhomogeneous(ctx):
    return _run(ctx, homogeneous=False, method="fourier", verdict=True)


@workload("certified: Fourier (homogeneous, default 2^16 frequencies)", issue="#3")
def bench_fourier_homogeneous(ctx):
    return _run(ctx, homogeneous=True, method="fourier", verdict=True)


@workload("certified: lattice DP (inhomogeneous, 4096 bins; info)", issue="#3")
def bench_lattice(ctx):
    return _run(ctx, homogeneous=False, method="lattice", verdict=False, n_bins=4096)


@workload("certified: FFT (homogeneous, 4096 bins; info)", issue="#3")
def bench_fft_4096(ctx):
    return _run(ctx, homogeneous=True, method="fft", verdict=False, n_bins=4096)
