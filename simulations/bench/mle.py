r"""Finite-class maximum likelihood (:mod:`simulations.experiments.mle_finite_class`).

``mle/finite-class-grid``
    The full preset's grid at ``|Π| = 4096`` (``K = 12``): ``n`` from 20 to ``10^4`` (9
    sizes), ``H = 16``, 200 replicates -- sampling, one batched log-likelihood GEMM per
    cell, exact coverage of the selected members.  Target: under 5 minutes (``--quick``:
    ``n <= 1000``, 50 replicates).  The row times a whole experiment grid; it has an
    absolute target and no reference.
``mle/sample-replicates``
    The sampling step of that grid alone:
    :func:`~simulations.learners.mle.sample_replicates` of ``n = 10^4`` sequences x 200
    replicates from the ``K = 12`` ladder's data (``H = 16``).  Reference: the per-position
    loop it replaced (a gather of every sequence's CDF row with three index arrays, a
    compare-and-sum over the token axis), the same uniforms; samples must be identical.
    Work: ``n R H V`` token-candidate evaluations.  Target: 70% of the ``np.exp`` rate (as
    for W1 at large ``R``: the same sampler) and at least the reference.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from simulations.bench import workload

__all__ = ["reference_markov_sample"]


def reference_markov_sample(model, n, replicates, rng):
    """Prompts from ``rng.choice``, then one ``(replicates, n)`` draw and one gather per position."""
    lp = model.log_probs                                              # (X, Hd, V+1, V)
    v, hd = lp.shape[-1], lp.shape[1]
    x = rng.choice(lp.shape[0], size=(replicates, n), p=model.prompt_weights)
    cdf = np.cumsum(np.exp(lp), axis=-1)
    cdf[..., -1] = np.inf
    y = np.empty((replicates, n, model.horizon), dtype=np.uint8)
    prev = np.full((replicates, n), v)
    u = np.empty((replicates, n))
    for h in range(model.horizon):
        rng.random(out=u)
        y[..., h] = (cdf[x, h if hd > 1 else 0, prev] <= u[..., None]).sum(-1)
        prev = y[..., h]
    return x, y


@workload("mle/finite-class-grid")
def finite_class_grid(ctx):
    import time

    from simulations.experiments import mle_finite_class as exp
    from simulations.sweep import task_rng

    full = exp.Config.full()
    cfg = dataclasses.replace(full, levels=(12,), replicates=200, rare_horizons=(), claim_levels=(12,))
    if ctx.quick:
        cfg = dataclasses.replace(cfg, ns=tuple(n for n in cfg.ns if n <= 1000), replicates=50)
    tasks = exp.tasks(cfg)
    exp._ladder.cache_clear()
    n_fits = 0
    w0, c0 = time.perf_counter(), time.process_time()
    for t in tasks:
        n_fits += len(exp.run_task(cfg, t, rng=task_rng(0, t.cell, t.rep)))
    seconds, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"params": {"K": 12, "H": cfg.horizon, "n_max": max(cfg.ns), "sizes": len(cfg.ns),
                       "replicates": cfg.replicates},
            "seconds": seconds, "cpu_seconds": cpu, "work": (n_fits, "MLE fit"),
            "target": "< 300 s wall (one run)", "passed": seconds < 300.0}


@workload("mle/sample-replicates")
def sample_replicates_row(ctx):
    from simulations.learners.mle import as_markov_model, sample_replicates
    from theory.instances import finite_ladder_class

    H = 16
    data = as_markov_model(finite_ladder_class(n_levels=12, horizon=H, ratio=10.0).data)
    n, reps = (2000, 50) if ctx.quick else (10_000, 200)
    out = {}

    def toolkit():
        out["toolkit"] = sample_replicates(data, n, reps, rng=np.random.default_rng(3))

    def reference():
        out["ref"] = reference_markov_sample(data, n, reps, np.random.default_rng(3))

    times = ctx.race(toolkit, reference, repeat=min(ctx.repeat, 3), exp=True)
    if not all(np.array_equal(a, b) for a, b in zip(out["toolkit"], out["ref"])):
        raise AssertionError("samples differ from the reference")
    v = data.vocab_size
    return {"params": {"n": n, "replicates": reps, "H": H, "V": v}, **times,
            "work": (n * reps * H * v, "token-cand"), "machine_limit": "np.exp",
            "reference": "per-position gather + compare-and-sum, same uniforms",
            "target": "machine_ratio >= 0.7 and reference_ratio >= 1 (the W1 sampler's path)",
            "min_machine_ratio": 0.7, "min_reference_ratio": 1.0}
