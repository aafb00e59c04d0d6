r"""Exact evaluation and tabular sampling.

``core/enumerate-coverage``
    Exact coverage profile of two tabular autoregressive linear models (``V = 2``,
    ``H = 20``, ``d = 8``, position-dependent features, ``2^20`` sequences each) at 1,000
    thresholds: ``exact_log_ratio(data, model).coverage(N)``.  Reference
    (:func:`reference_enumerate_coverage`): level-by-level numpy enumeration of both
    models' log-probabilities (one broadcast add per level), then one sort of the log-ratios,
    a reversed cumulative sum of the sorted weights and one binary search per threshold.
    The two profiles must agree to ``1e-9``.  Target: at least 1.5x the reference.
``core/sample-score``
    Sample ``10^5`` sequences of ``H = 64`` (``V = 4``, ``d = 16``, Markov features) and
    score them exactly under a second model: ``sampler.sample(n)`` then
    ``scorer.log_prob(x, y)``.  Reference (:func:`reference_sample_score`): tokens position
    by position (a gather of every sequence's CDF row with three index arrays, a
    compare-and-sum over the token axis), the same uniforms, then a gather of every token's
    log-probability; samples and scores must be identical.  Work: ``2 n H V``
    token-candidate evaluations.  Target: at least the reference.

``--quick``: ``H = 14`` for the enumeration and ``n = 10^4`` for the sampling.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from simulations.bench import workload
from theory.coverage import TIE_ATOL
from theory.log_ratio import exact_log_ratio
from theory.models import AutoregressiveLinearModel, TabularFeatures

__all__ = ["enumeration_pair", "sampling_pair", "reference_enumerate_coverage",
           "reference_sample_score"]


def enumeration_pair(horizon=20, vocab=2, dim=8, *, seed=0):
    """Data and model of the enumeration workload: tabular features, independent thetas."""
    rng = np.random.default_rng(seed)
    feats = TabularFeatures(rng.normal(size=(1, horizon, vocab + 1, vocab, dim)), horizon=horizon)
    data = AutoregressiveLinearModel(feats, 0.5 * rng.normal(size=dim))
    model = AutoregressiveLinearModel(feats, 0.5 * rng.normal(size=dim))
    return data, model


def sampling_pair(horizon=64, vocab=4, dim=16, *, seed=1):
    """Sampler and scorer of the sampling workload (one prompt, Markov features)."""
    rng = np.random.default_rng(seed)
    feats = TabularFeatures(rng.normal(size=(1, horizon, vocab + 1, vocab, dim)), horizon=horizon)
    return (AutoregressiveLinearModel(feats, 0.3 * rng.normal(size=dim)),
            AutoregressiveLinearModel(feats, 0.3 * rng.normal(size=dim)))


def _log_tables(model):
    """Next-token log-probabilities ``(H, V+1, V)`` of a one-prompt tabular model, in numpy."""
    return log_softmax(model.features.table[0] @ model.theta, axis=-1)


def reference_enumerate_coverage(data, model, thresholds):
    """Level-by-level enumeration and one sort: the coverage profile at ``thresholds``."""
    lps = []
    for m in (data, model):
        t = _log_tables(m)                                                  # (H, V+1, V)
        v = t.shape[-1]
        lp = t[0, v]
        for h in range(1, t.shape[0]):
            lp = (lp.reshape(-1, v, 1) + t[h, :v]).reshape(-1)
        lps.append(lp)
    lr = lps[0] - lps[1]
    order = np.argsort(lr)
    tail = np.append(np.cumsum(np.exp(lps[0])[order][::-1])[::-1], 0.0)
    return tail[np.searchsorted(lr[order], np.log(thresholds) - TIE_ATOL, side="left")]


def _fresh(model):
    """A copy without cached tables, so every timed call does the full work."""
    return model.replace()


@workload("core/enumerate-coverage")
def enumerate_coverage(ctx):
    horizon = 14 if ctx.quick else 20
    data, model = enumeration_pair(horizon)
    thresholds = np.geomspace(1.0, 1e6, 1000)
    out = {}

    def toolkit():
        out["cov"] = exact_log_ratio(_fresh(data), _fresh(model)).coverage(thresholds)

    def reference():
        out["ref"] = reference_enumerate_coverage(data, model, thresholds)

    times = ctx.race(toolkit, reference)
    err = float(np.max(np.abs(out["cov"] - out["ref"])))
    if err > 1e-9:
        raise AssertionError(f"coverage profile disagrees with the reference (max diff {err:.3g})")
    return {"params": {"V": 2, "H": horizon, "d": 8, "models": 2, "thresholds": 1000},
            **times, "work": (2 * 2 ** horizon, "seq"),
            "reference": "level-by-level numpy enumeration, one sort",
            "target": "reference_ratio >= 1.5", "min_reference_ratio": 1.5}


def reference_sample_score(sampler, scorer, n, rng):
    """Tokens by a per-position gather and compare-and-sum, then per-token score gathers."""
    lt = _log_tables(sampler)
    hz, v = lt.shape[0], lt.shape[-1]
    cdf = np.cumsum(np.exp(lt), axis=-1)
    cdf[..., -1] = np.inf
    x = np.zeros(n, dtype=np.int64)
    u = rng.random((hz, n))                                  # one row of uniforms per position
    y = np.empty((n, hz), dtype=np.int64)
    prev = np.full(n, v)
    for h in range(hz):
        y[:, h] = (cdf[h, prev] <= u[h, :, None]).sum(-1)
        prev = y[:, h]
    prevs = np.concatenate([np.full((n, 1), v), y[:, :-1]], axis=1)
    score = _log_tables(scorer)[np.arange(hz), prevs, y].sum(-1)
    return x, y, score


@workload("core/sample-score")
def sample_score(ctx):
    n, horizon, vocab = (10_000 if ctx.quick else 100_000), 64, 4
    sampler, scorer = sampling_pair(horizon, vocab)
    x0 = np.zeros(n, dtype=np.int64)
    out = {}

    def toolkit():
        s, q = _fresh(sampler), _fresh(scorer)
        _, y = s.sample(n, rng=np.random.default_rng(2), x=x0)
        out["toolkit"] = y, q.log_prob(x0, y)

    def reference():
        _, y, score = reference_sample_score(sampler, scorer, n, np.random.default_rng(2))
        out["ref"] = y, score

    times = ctx.race(toolkit, reference, exp=True)
    (y, s), (yr, sr) = out["toolkit"], out["ref"]
    if not np.array_equal(y, yr) or not np.allclose(s, sr, rtol=0, atol=1e-9):
        raise AssertionError("samples or scores differ from the reference")
    return {"params": {"n": n, "H": horizon, "V": vocab, "d": 16}, **times,
            "work": (2 * n * horizon * vocab, "token-cand"), "machine_limit": "np.exp",
            "reference": "per-position gather + compare-and-sum, per-token score gather",
            "target": "reference_ratio >= 1", "min_reference_ratio": 1.0}
