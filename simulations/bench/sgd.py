r"""One-pass SGD end to end, sampling included (workload W1).

W1: sequence-level projected SGD (:func:`~simulations.learners.training.train_one_pass`,
``chain(sgd(0.05), project_l2_ball(1))``) on an autoregressive linear model with Markov
tabular features (``X = 4`` prompts, features of ``(x, y_{h-1}, y_h)``, the same at every
position), ``V = 3``, ``d = 2``, ``H = 256``, ``K = 8`` fresh sequences per step and
replicate, ``T = 20`` steps; data :math:`\pi_D` from the same class.

``sgd/w1-end-to-end``
    W1 at ``R = 4`` replicates.
``sgd/large-R``
    W1 at ``R = 256``.

Work is counted in token-candidate evaluations, ``R K H V T`` per call, and set next to
the ``np.exp`` rate measured in the same run (targets: 50% at ``R = 4``, 70% at
``R = 256``).

What is timed: a call of :func:`w1_toolkit` (building the optimizer and the generator, then
:func:`~simulations.learners.training.train_one_pass`: validation, the data's CDF table,
sampling, every step), as a user runs it in a sweep of repeated calls.  After one untimed
warm-up call each (which loads the compiled kernels) and one call that fixes its number of
calls per turn (``calls_per_block`` in the parameters), the toolkit, the vectorised
reference and ``np.exp`` on its ``2^22``-element array take turns for ``k`` rounds (the
run's best-of-``k``: 5 in full mode, 3 in quick mode).  In each turn a function runs back
to back for at least :data:`SWEEP_BLOCK` seconds and the turn's time is its mean per call;
the row reports each function's best turn.  So the first call of a turn, which follows the
other functions' turns (``np.exp`` streams 64 MiB through the caches), pays for cold
caches once per turn, as the first call of a sweep does, rather than in every measurement
(timed as single calls, the sub-millisecond ``R = 4`` call measured up to 1.5x slower
after an ``np.exp`` turn than back to back).

References, both drawing the *same* stream as the toolkit (same generator spawns, uniforms
in the same order), so their final parameters must agree with the toolkit's to ``1e-9``
(else the row is an ERROR):

* **vectorised numpy step loop** (:func:`reference_step_loop`): per step, prompts and
  uniforms for all replicates, tokens position by position over ``(R, K)`` (a gather of the
  CDF rows, a compare-and-sum), then the score by gathering every token's candidate
  features ``(R, K, H, V, d)`` and a softmax per token;
* **per-sample numpy loop** (:func:`reference_per_sample`, ``R = 4`` only): the same, one
  sequence at a time (token by token for sampling, vectorised over its tokens for the score);
  timed on its own, best of as many single calls (each lasts over a second).

``sgd/compiled-sampler``
    The optional compiled token kernel (``pip install coverage-principle[fast]``, numba)
    against the numpy position loop, on the stream of W1 at ``R = 256`` (one chunk of 8
    steps, ``4.2 10^6`` tokens; the tokens must be identical), and the compiled path
    against the numpy path end to end on W1 at ``R = 4`` and ``R = 256`` (the gain of the
    ``fast`` extra, in the target text).  Target: at least 2x on the sampler.  Without
    numba the row says so and gives no verdict.

The ``sampler`` parameter of the W1 rows says which path ran: ``compiled`` when numba is
installed (the fused loop of :mod:`simulations.learners._sgd_loop`: tokens drawn and
counted in one kernel, PCG64 stepped inline, one compiled SGD step per iteration; the
same iterates bit for bit as the numpy path), else ``numpy``.

``--quick``: ``H = 64``, ``T = 10``, and ``R = 32`` for the large-``R`` row.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from simulations.bench import workload
from simulations.learners.optimizers import chain, project_l2_ball, sgd
from simulations.learners.training import DataStream, train_one_pass
from theory.models import AutoregressiveLinearModel, TabularFeatures, chain_sampler

__all__ = ["w1_problem", "w1_toolkit", "reference_step_loop", "reference_per_sample"]

V, D, X, K, ETA, RADIUS = 3, 2, 4, 8, 0.05, 1.0

#: Seconds of back-to-back calls per timed block of the W1 rows (see the module docstring).
SWEEP_BLOCK = 0.05


def w1_problem(horizon, *, vocab=V, seed=0):
    """``(data, model)`` of W1: Markov tabular features, data from the class, model at 0."""
    rng = np.random.default_rng(seed)
    feats = TabularFeatures(rng.normal(size=(X, 1, vocab + 1, vocab, D)), horizon)
    return (AutoregressiveLinearModel(feats, rng.normal(size=D)),
            AutoregressiveLinearModel(feats, np.zeros(D)))


def w1_toolkit(data, model, *, R, T, seed):
    """What a user runs: :func:`train_one_pass`; returns the final parameters ``(R, d)``."""
    opt = chain(sgd(ETA), project_l2_ball(RADIUS))
    return train_one_pass(data, model=model, optimizer=opt, T=T, batch=K, replicates=R,
                          rng=np.random.default_rng(seed)).final_theta


def _tables(data):
    """Plain-numpy view of the problem: features ``(X, V+1, V, d)``, CDF rows, prompt CDF."""
    feats = data.features.table[:, 0]                                     # (X, V+1, V, d)
    cdf = np.cumsum(np.exp(log_softmax(feats @ data.theta, axis=-1)), axis=-1)
    cdf[..., -1] = np.inf
    mu = np.cumsum(data.prompt_weights)
    mu[-1] = np.inf
    return feats, cdf, mu


def _project(theta):
    norm = np.linalg.norm(theta, axis=-1, keepdims=True)
    return theta * np.minimum(1.0, RADIUS / np.maximum(norm, 1e-300))


def reference_step_loop(data, horizon, *, R, T, seed):
    """Vectorised numpy reference of W1 (one step at a time): final parameters ``(R, d)``."""
    feats, cdf, mu = _tables(data)
    rng_x, rng_y = np.random.default_rng(seed).spawn(2)
    theta = np.zeros((R, D))
    for _ in range(T):
        x = np.searchsorted(mu, rng_x.random((R, K)), side="right")      # (R, K)
        u = rng_y.random((R, K, horizon))
        y = np.empty((R, K, horizon), dtype=np.int64)
        prev = np.full((R, K), V)
        for h in range(horizon):
            y[..., h] = (cdf[x, prev] <= u[..., h, None]).sum(-1)
            prev = y[..., h]
        prevs = np.concatenate([np.full((R, K, 1), V), y[..., :-1]], axis=-1)
        cand = feats[x[..., None], prevs]                                 # (R, K, H, V, d)
        logits = np.einsum("rkhvd,rd->rkhv", cand, theta)
        p = np.exp(log_softmax(logits, axis=-1))
        chosen = np.take_along_axis(cand, y[..., None, None], axis=-2)[..., 0, :]
        score = (chosen - np.einsum("rkhv,rkhvd->rkhd", p, cand)).sum(axis=(1, 2)) / K
        theta = _project(theta + ETA * score)
    return theta


def reference_per_sample(data, horizon, *, R, T, seed):
    """Per-sample numpy reference of W1 (one sequence at a time): final parameters ``(R, d)``."""
    feats, cdf, mu = _tables(data)
    rng_x, rng_y = np.random.default_rng(seed).spawn(2)
    theta = np.zeros((R, D))
    for _ in range(T):
        x = np.searchsorted(mu, rng_x.random((R, K)), side="right")
        u = rng_y.random((R, K, horizon))
        new = np.empty_like(theta)
        for r in range(R):
            g = np.zeros(D)
            for k in range(K):
                seq = np.empty(horizon, dtype=np.int64)
                prev = V
                for h in range(horizon):
                    prev = seq[h] = np.searchsorted(cdf[x[r, k], prev], u[r, k, h], side="right")
                prevs = np.concatenate([[V], seq[:-1]])
                cand = feats[x[r, k], prevs]                              # (H, V, d)
                p = np.exp(log_softmax(cand @ theta[r], axis=-1))
                g += (cand[np.arange(horizon), seq] - np.einsum("hv,hvd->hd", p, cand)).sum(0)
            new[r] = _project(theta[r] + ETA * g / K)
        theta = new
    return theta


def _row(ctx, *, R, horizon, T, target, per_sample):
    data, model = w1_problem(horizon)
    seed = 1
    out = {}

    def toolkit():
        out["toolkit"] = w1_toolkit(data, model, R=R, T=T, seed=seed)

    def step_loop():
        out["step_loop"] = reference_step_loop(data, horizon, R=R, T=T, seed=seed)

    times = ctx.race(toolkit, step_loop, exp=True, block=SWEEP_BLOCK)
    others = {}
    if per_sample:
        def loop():
            out["per_sample"] = reference_per_sample(data, horizon, R=R, T=T, seed=seed)
        others["per-sample loop"] = ctx.race(loop, repeat=ctx.repeat)["seconds"]
    for name in ("step_loop", "per_sample"):
        if name in out:
            err = float(np.max(np.abs(out[name] - out["toolkit"])))
            if err > 1e-9:
                raise AssertionError(f"reference {name} ends at other parameters (max diff {err:.3g})")
    work = R * K * horizon * V * T
    sampler = "compiled" if chain_sampler.compiled_kernel(R * K * horizon * T) is not None else "numpy"
    calls = times["calls_per_block"]["toolkit"]
    return {"params": {"R": R, "K": K, "H": horizon, "V": V, "d": D, "T": T, "sampler": sampler,
                       "calls_per_block": calls},
            "seconds": times["seconds"], "cpu_seconds": times["cpu_seconds"],
            "exp_rate": times["exp_rate"], "exp_cpu_rate": times.get("exp_cpu_rate", 0.0),
            "work": (work, "token-cand"), "machine_limit": "np.exp",
            "reference": "vectorised numpy step loop, same stream (final theta equal)",
            "reference_seconds": times["reference_seconds"], "other_references": others,
            "target": f"machine_ratio >= {target:g} (sampling included)",
            "min_machine_ratio": target}


@workload("sgd/w1-end-to-end")
def w1_end_to_end(ctx):
    horizon, T = (64, 10) if ctx.quick else (256, 20)
    return _row(ctx, R=4, horizon=horizon, T=T, target=0.5, per_sample=True)


@workload("sgd/large-R")
def w1_large_r(ctx):
    horizon, T, R = (64, 10, 32) if ctx.quick else (256, 20, 256)
    return _row(ctx, R=R, horizon=horizon, T=T, target=0.7, per_sample=False)


class _Kernel:
    """Context manager: run the samplers with the compiled kernel (``True``) or the numpy loop."""

    def __init__(self, compiled):
        self.compiled = compiled

    def __enter__(self):
        self.old = chain_sampler._KERNEL
        chain_sampler._KERNEL = None if self.compiled else False

    def __exit__(self, *exc):
        chain_sampler._KERNEL = self.old


@workload("sgd/compiled-sampler")
def compiled_sampler(ctx):
    R, horizon, steps = (32, 64, 8) if ctx.quick else (256, 256, 8)
    with _Kernel(True):
        available = chain_sampler.compiled_kernel() is not None
    params = {"R": R, "K": K, "H": horizon, "V": V, "steps": steps}
    if not available:
        return {"params": params,
                "skipped": ("no compiled kernel: numba not installed (pip install -e '.[fast]') "
                            "or COVERAGE_PRINCIPLE_NUMBA=0")}
    data, _ = w1_problem(horizon)
    stream = DataStream(data, "tokens")
    x = stream.prompts((steps, R, K), np.random.default_rng(0))
    out = {}

    def run(compiled):
        def go():
            with _Kernel(compiled):
                out[compiled] = stream.tokens(x, np.random.default_rng(1))
        return go

    run(True)()                                           # compile (or load the disk cache)
    times = ctx.race(run(True), run(False))
    if not np.array_equal(out[True], out[False]):
        raise AssertionError("the compiled kernel draws other tokens than the numpy loop")
    e2e = {}
    for r in (4, R):
        d, m = w1_problem(horizon)
        for compiled in (True, False):
            def w1(compiled=compiled, r=r, d=d, m=m):
                with _Kernel(compiled):
                    w1_toolkit(d, m, R=r, T=20 if not ctx.quick else 10, seed=1)
            e2e[(r, compiled)] = ctx.best_of(w1, 3 * ctx.repeat if r == 4 else min(ctx.repeat, 3))
    e2e_text = ", ".join(f"R={r} {e2e[(r, False)] / e2e[(r, True)]:.2f}x" for r in (4, R))
    return {"params": params, **times, "work": (x.size * horizon, "token"),
            "reference": "the numpy position loop (same tokens)",
            "target": f"reference_ratio >= 2 on the sampler (end-to-end W1 gain: {e2e_text})",
            "min_reference_ratio": 2.0}
