"""The i.i.d.-token shortcuts of the optimizer experiments, against the plain per-sequence paths.

1. ``PooledCountsStream``: a minibatch's per-prompt pooled counts have the law of the sum of
   ``K`` per-sequence counts, and ``train_one_pass`` turns them into the minibatch mean score.
2. ``train_distillation(method="counts")``: the truncation of a constant-KL sequence matches
   ``truncated_token_weights``; prefix counts are multivariate hypergeometric; the weighted
   counts of one step have the token path's law; whole runs have the token path's law; the
   counts path reads the same sequences as vanilla SGD with ``stream="counts"``.

Statistical checks: chi-square / z-tests at level 1e-3 (false-fail rate 1e-3 each under the
stated approximation, fixed seeds); each has a negative control that the same test rejects.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from simulations.learners import distillation as distill_mod
from simulations.learners.distillation import (iid_truncation, prefix_counts, train_distillation,
                                               truncated_token_weights)
from simulations.learners.optimizers import chain, normalized_sgd, project_l2_ball, sgd
from simulations.learners.pooled import PooledCountsStream
from simulations.learners.training import DataStream, count_scores, train_one_pass
from theory.instances import lemma_k7
from theory.models import AutoregressiveLinearModel, TabularFeatures

pytestmark = pytest.mark.statistical

ALPHA = 1e-3


def _two_sample_chi2_pvalue(a, b):
    """Chi-square homogeneity test of two samples of hashable outcomes (cells with < 5 pooled)."""
    keys = sorted(set(a) | set(b))
    ca = np.array([a.count(k) for k in keys], float)
    cb = np.array([b.count(k) for k in keys], float)
    tot = ca + cb
    small = tot < 10
    ca = np.append(ca[~small], ca[small].sum())
    cb = np.append(cb[~small], cb[small].sum())
    keep = (ca + cb) > 0
    return stats.chi2_contingency(np.stack([ca[keep], cb[keep]])).pvalue


def _small_iid_model(H=3):
    return lemma_k7(H, B=8.0, B_bar=1.0, mu_plus=0.3)


def test_pooled_counts_have_the_law_of_summed_sequences():
    inst = _small_iid_model()
    K, n = 3, 20000
    pooled = PooledCountsStream(inst.data, K)
    x, c = pooled.draw((n, K), np.random.default_rng(1).spawn(2))
    a = [tuple(v) for v in c.reshape(n, -1)]
    seq = DataStream(inst.data, "counts")
    xs, cs = seq.draw((n, K), np.random.default_rng(2).spawn(2))
    onehot = (xs[..., None] == np.arange(2)).astype(int)
    summed = np.einsum("nkx,nkv->nxv", onehot, cs)
    b = [tuple(v) for v in summed.reshape(n, -1)]
    assert _two_sample_chi2_pvalue(a, b) >= ALPHA
    # negative control: pooled counts of a different minibatch size
    x2, c2 = PooledCountsStream(inst.data, K + 1).draw((n, K + 1), np.random.default_rng(3).spawn(2))
    assert _two_sample_chi2_pvalue([tuple(v) for v in c2.reshape(n, -1)], b) < ALPHA


def test_pooled_stream_gives_the_minibatch_mean_score():
    inst = lemma_k7(16, B=8.0, B_bar=2.0, mu_plus=0.5)
    K, R = 64, 3

    class Rec(PooledCountsStream):
        def draw(self, shape, rngs):
            out = super().draw(shape, rngs)
            self.last = out
            return out

    stream = Rec(inst.data, K)
    theta0 = np.array([[0.1, -0.2], [0.0, 0.3], [0.2, 0.2]])
    model = inst.model_class.replace(theta=theta0)
    res = train_one_pass(data=inst.data, model=model, optimizer=sgd(0.01), T=1, rng=np.random.default_rng(0), batch=K,
                         stream=stream)
    x, c = stream.last
    table = inst.data.features.table[:, 0, -1]                                # (X, V, d)
    g = count_scores(table, theta0, x[0], c[0]) * x.shape[-1] / K          # sum over slots / K
    np.testing.assert_allclose(res.final_theta, theta0 + 0.01 * g, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="batch"):
        PooledCountsStream(inst.data, 1)


@given(eps=st.one_of(st.just(0.0), st.floats(1e-4, 20.0)), H=st.integers(1, 40), A=st.floats(0.05, 10.0))
def test_iid_truncation_matches_the_token_weights(eps, H, A):
    m, f = iid_truncation(eps, H, A)
    alpha = truncated_token_weights(np.full(H, eps), A)
    expect = np.zeros(H)
    expect[:int(m)] = 1.0
    if m < H:
        expect[int(m)] = f
    np.testing.assert_allclose(alpha, expect, atol=1e-9)


def test_prefix_counts_are_multivariate_hypergeometric():
    rng = np.random.default_rng(4)
    n, m, reps = np.array([4, 3, 5]), 6, 20000
    k = prefix_counts(np.broadcast_to(n, (reps, 3)), np.full(reps, m), rng)
    assert (k.sum(-1) == m).all() and (k <= n).all()
    support = sorted({tuple(v) for v in k})
    law = stats.multivariate_hypergeom(m=n, n=m)
    p = np.array([law.pmf(s) for s in support])
    obs = np.array([(k == s).all(-1).sum() for s in support])
    assert p.sum() == pytest.approx(1.0)
    assert stats.chisquare(obs, p * reps).pvalue >= ALPHA
    # negative control: multinomial prefixes (sampling with replacement) are rejected
    wrong = rng.multinomial(m, n / n.sum(), size=reps)
    wrong = wrong[(wrong <= n).all(-1)]
    obs_w = np.array([(wrong == s).all(-1).sum() for s in support])
    assert stats.chisquare(obs_w, p * obs_w.sum()).pvalue < ALPHA
    assert (prefix_counts([[2, 0, 3]], [0], rng) == 0).all()


def _one_step_weighted_counts(method, eps, p, H, A, reps, rng):
    m, f = iid_truncation(np.full(reps, eps), H, A)
    if method == "tokens":
        y = (rng.random((reps, H))[..., None] >= np.cumsum(p)[:-1]).sum(-1)
        alpha = truncated_token_weights(np.full((reps, H), eps), A)
        k = np.stack([((y == v) & (alpha == 1.0)).sum(-1) for v in range(p.size)], -1)
        nxt = y[np.arange(reps), np.minimum(m, H - 1)]
    else:
        n = rng.multinomial(H, p, size=reps)
        k = prefix_counts(n, m, rng)
        rest = n - k
        cum = np.cumsum(rest, -1) / np.maximum(H - m, 1)[:, None]
        nxt = (rng.random(reps)[:, None] >= cum).sum(-1).clip(0, p.size - 1)
    return [tuple(a) + (int(b),) for a, b in zip(k, nxt)]


def test_one_step_weights_have_the_token_paths_law():
    p, H, A, reps = np.array([0.2, 0.3, 0.5]), 9, 1.0, 20000
    a = _one_step_weighted_counts("tokens", 0.27, p, H, A, reps, np.random.default_rng(5))
    b = _one_step_weighted_counts("counts", 0.27, p, H, A, reps, np.random.default_rng(6))
    assert _two_sample_chi2_pvalue(a, b) >= ALPHA
    c = _one_step_weighted_counts("counts", 0.27, np.array([0.3, 0.3, 0.4]), H, A, reps, np.random.default_rng(7))
    assert _two_sample_chi2_pvalue(a, c) < ALPHA                       # negative control: other law


def _avg_coverage(method, A_scale=1.0, seed=0, R=800, T=60):
    inst = lemma_k7(24, B=8.0, B_bar=8.0, mu_plus=0.5)
    from simulations.experiments._optimizers_common import coverage_metric
    metric, _ = coverage_metric(inst.data, (8.0,))
    res = train_distillation(inst.data, model=inst.model_class, optimizer=chain(sgd(1 / 128), project_l2_ball(1.0)),
                             N=8.0 ** A_scale, T=T, rng=np.random.default_rng(seed), replicates=R,
                             iterate_metric=metric, method=method)
    return res.metric_means[:, -1, 0]


def test_counts_path_runs_have_the_token_paths_law():
    """Two-sided z-test on the average-iterate coverage at 3.29 standard errors (level 1e-3)."""
    a, b = _avg_coverage("tokens", seed=10), _avg_coverage("counts", seed=11)
    z = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(z) < stats.norm.isf(ALPHA / 2)
    c = _avg_coverage("counts", A_scale=1.5, seed=12)                # negative control: budget 1.5 log N
    z = (a.mean() - c.mean()) / np.sqrt(a.var(ddof=1) / a.size + c.var(ddof=1) / c.size)
    assert abs(z) > stats.norm.isf(ALPHA / 2)


def test_counts_path_reads_the_vanilla_counts_stream(monkeypatch):
    inst = lemma_k7(16, B=8.0, B_bar=4.0, mu_plus=0.5)
    seen = {}
    orig = DataStream.draw

    def recorder(key):
        def draw(self, shape, rngs):
            out = orig(self, shape, rngs)
            seen.setdefault(key, []).append(out[1].copy())
            return out
        return draw

    monkeypatch.setattr(DataStream, "draw", recorder("vanilla"))
    train_one_pass(data=inst.data, model=inst.model_class, optimizer=sgd(0.01), T=7, rng=np.random.default_rng(3), replicates=2,
                   stream="counts")
    monkeypatch.setattr(distill_mod.DataStream, "draw", recorder("distill"))
    train_distillation(inst.data, model=inst.model_class, optimizer=sgd(0.01), N=8.0, T=7, rng=np.random.default_rng(3),
                       replicates=2, method="counts")
    np.testing.assert_array_equal(np.concatenate(seen["vanilla"]), np.concatenate(seen["distill"]))


def test_counts_path_validation():
    inst = lemma_k7(8, B=8.0, B_bar=4.0, mu_plus=0.5)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="method"):
        train_distillation(inst.data, model=inst.model_class, optimizer=sgd(0.1), N=8.0, T=2, rng=rng, method="exact")
    t = np.random.default_rng(0).normal(size=(2, 4, 4, 3, 2))
    model = AutoregressiveLinearModel(TabularFeatures(t, 4), np.zeros(2), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="i.i.d."):
        train_distillation(model, model=model, optimizer=sgd(0.1), N=8.0, T=2, rng=rng, method="counts")
