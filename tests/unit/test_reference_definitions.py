"""Held-out tests of the theory layer against the paper's definitions, written from the mathematics.

Every quantity is recomputed here in a few lines of plain numpy/scipy straight from its
definition in the reference notes (coverage profile, KL/CE, squared Hellinger with the
one-half convention, stopped KL, sigma*^2, Pass@N, the unbiased pass@k estimator), by
brute-force enumeration on tiny instances, and compared with the toolkit.  The reference
helpers below (``ref_*``) never call :mod:`theory`.  Every documented inequality is checked on
random instances (hypothesis, few examples) **and** with a negative control: the same check,
fed a deliberately wrong formula (``> N`` instead of ``>= N``, a factor 2 off, a missing
term), must fail on an instance built for it, so none of the checks is vacuous.

Statistical checks state their false-fail rate in the test.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats
from scipy.special import comb

from theory import best_of_n as bon
from theory import bounds, coverage as cov, divergences as div
from theory import rates
from theory.log_ratio import (certified_coverage, certified_stopped_kl, exact_log_ratio, exact_stopped_kl,
                              markov_kl, markov_token_kl_profile, path_token_hellinger, path_token_kls,
                              sampled_log_ratio)
from theory.models import (AutoregressiveLinearModel, CallableFeatures, MarkovModel, TabularFeatures,
                           categorical_model, enumerate_sequences, projection_box, projection_l2_ball)

FEW = settings(max_examples=12, deadline=None)
SOME = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2 ** 32 - 1)


# ============================================================================ reference helpers
# Plain numpy, straight from the definitions; nothing here imports theory.

def ref_ratio(p, q):
    """p/q in linear space, +inf where q = 0 < p, 0 where p = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, np.where(q > 0, p / np.where(q > 0, q, 1.0), np.inf), 0.0)


def ref_cov(p, q, N, mu=None, strict=False):
    """Definition 1.1: sum_x mu(x) sum_y p(y|x) 1{p/q >= N} (``strict``: the wrong ``> N``)."""
    p, q = np.atleast_2d(p), np.atleast_2d(q)
    mu = np.full(p.shape[0], 1.0 / p.shape[0]) if mu is None else np.asarray(mu)
    r = ref_ratio(p, q)
    N = np.asarray(N, dtype=float)
    hit = (r[..., None] > N.ravel()) if strict else (r[..., None] >= N.ravel())
    out = np.einsum("x,xy,xyk->k", mu, p, hit)
    return out.reshape(N.shape)


def ref_kl(p, q, mu=None):
    p, q = np.atleast_2d(p), np.atleast_2d(q)
    mu = np.full(p.shape[0], 1.0 / p.shape[0]) if mu is None else np.asarray(mu)
    total = 0.0
    for x in range(p.shape[0]):
        for y in range(p.shape[1]):
            if p[x, y] > 0:
                total += mu[x] * p[x, y] * (np.log(p[x, y]) - np.log(q[x, y]) if q[x, y] > 0 else np.inf)
    return total


def ref_ce(p, q, mu=None):
    p, q = np.atleast_2d(p), np.atleast_2d(q)
    mu = np.full(p.shape[0], 1.0 / p.shape[0]) if mu is None else np.asarray(mu)
    with np.errstate(divide="ignore"):
        return float(sum(mu[x] * sum(-p[x, y] * np.log(q[x, y]) for y in range(p.shape[1]) if p[x, y] > 0)
                         for x in range(p.shape[0])))


def ref_h2(p, q, mu=None, half=True):
    """Squared Hellinger; ``half=False`` is the un-halved convention (a wrong formula here)."""
    p, q = np.atleast_2d(p), np.atleast_2d(q)
    mu = np.full(p.shape[0], 1.0 / p.shape[0]) if mu is None else np.asarray(mu)
    return (0.5 if half else 1.0) * float(mu @ ((np.sqrt(p) - np.sqrt(q)) ** 2).sum(1))


def ref_tv(p, q, mu=None):
    p, q = np.atleast_2d(p), np.atleast_2d(q)
    mu = np.full(p.shape[0], 1.0 / p.shape[0]) if mu is None else np.asarray(mu)
    return 0.5 * float(mu @ np.abs(p - q).sum(1))


def ref_pass(q, N, mu=None):
    q = np.asarray(q, dtype=float)
    mu = np.full(q.shape[-1], 1.0 / q.shape[-1]) if mu is None else np.asarray(mu)
    return (1.0 - (1.0 - q) ** N) @ mu


def ref_bon_bruteforce(p, r, N):
    """E_x max_{i<=N} r(x, y^i), y^i iid p(.|x), by enumerating all V^N tuples (uniform prompts)."""
    p, r = np.atleast_2d(p), np.atleast_2d(r)
    out = 0.0
    for x in range(p.shape[0]):
        for tup in itertools.product(range(p.shape[1]), repeat=N):
            out += np.prod(p[x, list(tup)]) * max(r[x, list(tup)]) / p.shape[0]
    return out


def ref_pass_at_k_subsets(n, c, k):
    """Average over all k-subsets of n samples (c correct) of 1{some correct}."""
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


def random_pmf(rng, shape, zero_frac=0.0):
    """Dirichlet rows along the last axis, some entries set to exactly zero (one kept per row)."""
    a = rng.gamma(rng.uniform(0.2, 2.0), size=shape)
    if zero_frac:
        zero = rng.random(shape) < zero_frac
        keep = rng.integers(shape[-1], size=shape[:-1])
        np.put_along_axis(zero, keep[..., None], False, axis=-1)
        a = np.where(zero, 0.0, a)
    a = a + (a.sum(-1, keepdims=True) == 0)
    return a / a.sum(-1, keepdims=True)


def log(p):
    with np.errstate(divide="ignore"):
        return np.log(p)


def ref_markov_enumerate(table, H):
    """log pi(y|x) for every y in V^H (lexicographic) from a (X, Hd, V+1, V) next-token table."""
    X, Hd, V1, V = table.shape
    seqs = list(itertools.product(range(V), repeat=H))
    out = np.zeros((X, len(seqs)))
    for x in range(X):
        for s, y in enumerate(seqs):
            prev, total = V, 0.0
            for h, v in enumerate(y):
                total += table[x, h if Hd > 1 else 0, prev, v]
                prev = v
            out[x, s] = total
    return np.array(seqs), out


def ref_token_dists(table, x, y):
    """Next-token distributions along path y: (H, V) probabilities."""
    V = table.shape[-1]
    prevs = [V] + list(y[:-1])
    return np.array([np.exp(table[x, h if table.shape[1] > 1 else 0, prevs[h]]) for h in range(len(y))])


def ref_cat_kl(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - np.log(q)), 0.0)
    return t.sum(-1)


def random_markov_pair(rng, X, H, V, zero_frac=0.0, homogeneous=False):
    Hd = 1 if homogeneous else H
    pd = random_pmf(rng, (X, Hd, V + 1, V), zero_frac)
    pm = random_pmf(rng, (X, Hd, V + 1, V), zero_frac)
    mu = random_pmf(rng, (X,))
    return log(pd), log(pm), mu


# ================================================================================ coverage.py

@SOME
@given(seed=seeds, X=st.integers(1, 3), m=st.integers(1, 6), zero=st.sampled_from([0.0, 0.3]))
def test_coverage_profile_is_the_definition_on_random_pairs(seed, X, m, zero):
    """Cov_N = sum mu(x) pi(y|x) 1{pi/pi_hat >= N} (Def. 1.1), every N of a 2-d grid at once, incl. 1 and inf."""
    rng = np.random.default_rng(seed)
    p, q, mu = random_pmf(rng, (X, m), zero), random_pmf(rng, (X, m), zero), random_pmf(rng, (X,))
    N = np.concatenate([[1.0, np.inf, 1e300], np.exp(rng.uniform(0, 5, 9))]).reshape(3, 4)
    with np.errstate(invalid="ignore"):
        lr = (log(p) - log(q)).ravel()
    got = cov.coverage_profile(lr, N, weights=(mu[:, None] * p).ravel())
    assert got.shape == N.shape
    np.testing.assert_allclose(got, ref_cov(p, q, N, mu), atol=1e-12)
    # per prompt: row x is Cov_N(x), and the mu-average is the coverage profile
    pp = cov.per_prompt_coverage(log(p) - np.where(p > 0, log(q), 0.0), N, weights=p)
    for x in range(X):
        np.testing.assert_allclose(pp[x], ref_cov(p[x], q[x], N), atol=1e-12)
    np.testing.assert_allclose(np.tensordot(mu, pp, 1), got, atol=1e-12)


@SOME
@given(seed=seeds, m=st.integers(1, 40))
def test_coverage_is_non_increasing_in_N_and_in_unit_interval(seed, m):
    rng = np.random.default_rng(seed)
    lr = rng.normal(0, 3, m)
    lr[rng.random(m) < 0.2] = np.inf
    N = np.sort(np.concatenate([[1.0, np.inf], np.exp(rng.uniform(0, 10, 20))]))
    for w in (None, random_pmf(rng, (m,))):
        c = cov.coverage_profile(lr, N, weights=w)
        assert np.all(np.diff(c) <= 1e-15) and c.min() >= 0 and c.max() <= 1


def test_ties_count_and_the_strict_convention_is_detected():
    """Ratio exactly N counts (``>= N``); a ``> N`` implementation would give a different number (negative control)."""
    # exact binary fractions: ratios 4, 1/2, 2/3 (rational arithmetic decides the reference)
    p = np.array([0.5, 0.25, 0.25])
    q = np.array([0.125, 0.5, 0.375])
    truth = sum(Fraction(a) for a, b in zip(p, q) if Fraction(a) / Fraction(b) >= 4)
    strict = sum(Fraction(a) for a, b in zip(p, q) if Fraction(a) / Fraction(b) > 4)
    assert truth == Fraction(1, 2) and strict == 0
    lr = np.log(p) - np.log(q)
    assert cov.coverage_profile(lr, 4.0, weights=p) == float(truth)
    assert cov.coverage_profile(lr, 4.0, weights=p) != ref_cov(p, q, 4.0, strict=True)   # control
    # the same tie through every other entry point
    assert cov.per_prompt_coverage(lr[None], 4.0, weights=p[None])[0] == 0.5
    assert cov.empirical_coverage(np.log(p), np.log(q), 4.0) == pytest.approx(1 / 3)
    assert cov.on_policy_coverage(np.log(p)[None], np.log(q)[None], 4.0, weights=p[None]) == 0.5
    assert bon.bon_necessity_reward(np.log(p), np.log(q), 2.0).tolist() == [1, 0, 0]
    assert bon.bon_necessity_reward(np.log(p), np.log(q), [2.0]).tolist() == [[1, 0, 0]]
    b = certified_coverage(categorical_model(p), categorical_model(q), [4.0, 2.0])
    assert b.contains([0.5, 0.5]).all()
    # the witness of Prop. F.2 / D.2: Ber(p) vs Ber(p/N) has ratio N at y = 1 (computed, rounded)
    for pp, N in [(0.3, 3.0), (0.1, 7.0), (0.5, 10.0), (1 / 3, 6.0)]:
        lr = np.log([pp, 1 - pp]) - np.log([pp / N, 1 - pp / N])
        assert cov.coverage_profile(lr, N, weights=[pp, 1 - pp]) == pytest.approx(pp, abs=1e-15)


def test_coverage_at_N_one_and_infinity():
    """Cov_1 = P[pi/pi_hat >= 1] (not 1: ratios below one do not count); Cov_inf = P[pi_hat = 0 < pi]."""
    p = np.array([0.2, 0.3, 0.5])
    q = np.array([0.0, 0.6, 0.4])
    lr = log(p) - log(q)
    assert cov.coverage_profile(lr, 1, weights=p) == pytest.approx(0.7)
    assert cov.coverage_profile(lr, np.inf, weights=p) == pytest.approx(0.2)
    assert cov.coverage_profile(lr, 1e308, weights=p) == pytest.approx(0.2)
    assert cov.coverage_profile([0.0, 0.0], 1) == 1.0          # identical models: every ratio is 1 >= 1
    # integer inputs give the same floats
    assert cov.coverage_profile(np.array([0, 1, 2]), np.array([1, 3])).tolist() == \
        cov.coverage_profile([0.0, 1.0, 2.0], [1.0, 3.0]).tolist()


@FEW
@given(seed=seeds, n=st.integers(1, 12), K=st.integers(1, 3))
def test_empirical_and_on_policy_coverage_are_counts(seed, n, K):
    """Eq. (13)/(28): (1/n)|{i : pi'(y_i)/pi(y_i) >= N}| for all K x K pairs by broadcasting; Eq. (39)/(32) on-policy."""
    rng = np.random.default_rng(seed)
    ll = np.log(rng.uniform(1e-3, 1, (K, n)))
    ll[rng.random((K, n)) < 0.1] = -np.inf
    N = np.array([1.0, 2.0, 10.0, np.inf])
    got = cov.empirical_coverage(ll[:, None, :], ll[None, :, :], N)
    assert got.shape == (K, K, 4)
    for a in range(K):
        for b in range(K):
            r = ref_ratio(np.exp(ll[a]), np.exp(ll[b]))
            np.testing.assert_allclose(got[a, b], [(r >= t).mean() for t in N])
    m = 5
    ref = np.log(rng.uniform(1e-3, 1, (n, m)))
    mod = np.log(rng.uniform(1e-3, 1, (n, m)))
    w = random_pmf(rng, (n, m))
    got = cov.on_policy_coverage(ref, mod, N, weights=w)
    r = ref_ratio(np.exp(ref), np.exp(mod))
    np.testing.assert_allclose(got, [(w * (r >= t)).sum(1).mean() for t in N], atol=1e-12)


def test_answer_level_coverage_counterexample_and_negative_control():
    """The docstring's pi = (0.1, 0.1 | 0.8), pi_hat = (0.001, 0.019 | 0.98): Cov^ans_10 = 0.2 > Cov_10 = 0.1."""
    p = np.array([[0.1, 0.1, 0.8]])
    q = np.array([[0.001, 0.019, 0.98]])
    ans = [0, 0, 1]
    got = cov.answer_level_coverage(np.log(p), np.log(q), ans, 10.0)
    pa, qa = np.array([[0.2, 0.8]]), np.array([[0.02, 0.98]])
    assert got == pytest.approx(float(ref_cov(pa, qa, 10.0))) and got == pytest.approx(0.2)
    # the "pointwise Cov^ans <= Cov" rule (not a theorem) is refuted by this instance
    assert not got <= ref_cov(p, q, 10.0) + 1e-12


@SOME
@given(seed=seeds, X=st.integers(1, 3), m=st.integers(2, 6), c=st.floats(0.05, 0.95))
def test_answer_level_coverage_matches_marginals_and_the_derived_bound(seed, X, m, c):
    """Cov^ans_N from brute-force marginals, and Cov^ans_N <= Cov_{cN}/(1-c) (the docstring's derived bound)."""
    rng = np.random.default_rng(seed)
    p, q, mu = random_pmf(rng, (X, m), 0.2), random_pmf(rng, (X, m), 0.2), random_pmf(rng, (X,))
    ans = rng.integers(0, 3, m)
    labels = np.unique(ans)
    pa = np.stack([p[:, ans == a].sum(1) for a in labels], 1)
    qa = np.stack([q[:, ans == a].sum(1) for a in labels], 1)
    N = float(np.exp(rng.uniform(0, 4))) / c
    got = cov.answer_level_coverage(log(p), log(q), ans, N, prompt_weights=mu)
    assert got == pytest.approx(float(ref_cov(pa, qa, N, mu)), abs=1e-12)
    assert got <= ref_cov(p, q, c * N, mu) / (1 - c) + 1e-12


@pytest.mark.parametrize("call, exc, name", [
    (lambda: cov.coverage_profile([0.0, 1.0], 0.5), ValueError, "N"),
    (lambda: cov.coverage_profile([0.0, 1.0], np.nan), ValueError, "N"),
    (lambda: cov.coverage_profile([0.0, 1.0], -np.inf), ValueError, "N"),
    (lambda: cov.coverage_profile([0.0, 1.0], []), ValueError, "N"),
    (lambda: cov.coverage_profile([], 2.0), ValueError, "log_ratio"),
    (lambda: cov.coverage_profile([np.nan, 1.0], 2.0), ValueError, "log_ratio"),
    (lambda: cov.coverage_profile([[0.0, 1.0]], 2.0), ValueError, "log_ratio"),
    (lambda: cov.coverage_profile("ab", 2.0), TypeError, "log_ratio"),
    (lambda: cov.coverage_profile([0.0, 1.0], 2.0, weights=[0.5, 0.6]), ValueError, "weights"),
    (lambda: cov.coverage_profile([0.0, 1.0], 2.0, weights=[1.0]), ValueError, "weights"),
    (lambda: cov.coverage_profile([0.0, 1.0], 2.0, weights=[1.5, -0.5]), ValueError, "weights"),
    (lambda: cov.coverage_profile([0.0, 1.0], 2.0, weights=[np.nan, 1.0]), ValueError, "weights"),
    (lambda: cov.per_prompt_coverage([[0.0, 1.0]], 2.0, weights=[[0.5, 0.4]]), ValueError, "weights"),
    (lambda: cov.empirical_coverage([0.0, 0.0], [0.0], 2.0), ValueError, "loglik_"),
    (lambda: cov.empirical_coverage([0.5], [0.0], 2.0), ValueError, "loglik_ref"),
    (lambda: cov.on_policy_coverage([[0.0, 0.0]], [[0.0, 0.0]], 2.0, weights=[[1.0]]), ValueError, "weights"),
    (lambda: cov.answer_level_coverage(np.log([[0.5, 0.5]]), np.log([[0.5, 0.5]]), [0], 2.0), ValueError,
     "answer"),
])
def test_coverage_bad_input_names_the_argument(call, exc, name):
    with pytest.raises(exc, match=f"`{name}"):
        call()


# ============================================================================= divergences.py

@SOME
@given(seed=seeds, X=st.integers(1, 3), m=st.integers(1, 6), zero=st.sampled_from([0.0, 0.3]))
def test_divergences_are_the_definitions(seed, X, m, zero):
    """KL, CE, D_H^2 (one-half convention), TV with a prompt distribution, against sums written out."""
    rng = np.random.default_rng(seed)
    p, q, mu = random_pmf(rng, (X, m), zero), random_pmf(rng, (X, m), zero), random_pmf(rng, (X,))
    lp, lq = log(p), log(q)
    for fn, ref in [(div.kl_divergence, ref_kl), (div.cross_entropy, ref_ce), (div.squared_hellinger, ref_h2),
                    (div.total_variation, ref_tv)]:
        got, want = fn(lp, lq, prompt_weights=mu), ref(p, q, mu)
        assert not np.isnan(got)
        if np.isinf(want):
            assert got == want
        else:
            assert got == pytest.approx(want, rel=1e-10, abs=1e-13)
    # CE = KL + entropy; D_H^2 = 1 - E_mu sum sqrt(p q)
    ent = -sum(mu[x] * sum(p[x, y] * np.log(p[x, y]) for y in range(m) if p[x, y] > 0) for x in range(X))
    if np.isfinite(ref_kl(p, q, mu)):
        assert div.cross_entropy(lp, lq, prompt_weights=mu) == pytest.approx(ref_kl(p, q, mu) + ent, abs=1e-12)
    assert div.squared_hellinger(lp, lq, prompt_weights=mu) == pytest.approx(1 - mu @ np.sqrt(p * q).sum(1),
                                                                            abs=1e-12)


def test_hellinger_uses_the_one_half_convention():
    """Disjoint supports: D_H^2 = 1 with the 1/2 convention (2 without it: the wrong convention is detected)."""
    lp, lq = [0.0, -np.inf], [-np.inf, 0.0]
    assert div.squared_hellinger(lp, lq) == 1.0 == ref_h2([1, 0], [0, 1])
    assert div.squared_hellinger(lp, lq) != ref_h2([1, 0], [0, 1], half=False)
    assert div.categorical_squared_hellinger(lp, lq) == 1.0
    assert "one-half" in div.squared_hellinger.__doc__ or "1/2" in div.squared_hellinger.__doc__


@SOME
@given(seed=seeds, m=st.integers(2, 6))
def test_classical_inequalities_between_divergences(seed, m):
    """D_H^2 <= TV <= sqrt(2 D_H^2) (Le Cam), TV <= sqrt(KL/2) (Pinsker), KL >= 2 D_H^2 (one-half convention)."""
    rng = np.random.default_rng(seed)
    lp, lq = log(random_pmf(rng, (m,))), log(random_pmf(rng, (m,)))
    h2, tv, kl = div.squared_hellinger(lp, lq), div.total_variation(lp, lq), div.kl_divergence(lp, lq)
    assert h2 <= tv + 1e-12 and tv <= np.sqrt(2 * h2) + 1e-12
    assert tv <= np.sqrt(kl / 2) + 1e-12 and kl >= 2 * h2 - 1e-12


def test_pinsker_with_a_wrong_constant_fails():
    """Negative control of the Pinsker check: TV <= sqrt(KL/8) is false on Ber(1/2) vs Ber(0.4)."""
    lp, lq = np.log([0.5, 0.5]), np.log([0.6, 0.4])
    assert not div.total_variation(lp, lq) <= np.sqrt(div.kl_divergence(lp, lq) / 8)


def test_divergences_at_logits_pm_1e4_are_finite_and_right():
    """p = softmax(0, -1e4), q = softmax(-1e4, 0): KL = CE = 1e4 (+ e^-1e4 terms), D_H^2 = TV = 1 - O(e^-5e3)."""
    lp, lq = [0.0, -1e4], [-1e4, 0.0]
    assert div.kl_divergence(lp, lq) == pytest.approx(1e4, rel=1e-15)
    assert div.cross_entropy(lp, lq) == pytest.approx(1e4, rel=1e-15)
    assert div.squared_hellinger(lp, lq) == 1.0 and div.total_variation(lp, lq) == 1.0
    assert div.categorical_kl(np.array([lp, lq]), np.array([lq, lp])).tolist() == [1e4, 1e4]


@FEW
@given(seed=seeds)
def test_categorical_divergences_broadcast_along_any_axis(seed):
    rng = np.random.default_rng(seed)
    p, q = random_pmf(rng, (4, 3), 0.2), random_pmf(rng, (3,))
    got = div.categorical_kl(log(p), log(q))
    np.testing.assert_allclose(got, [ref_kl(p[i], q) for i in range(4)], rtol=1e-12)
    got0 = div.categorical_kl(log(p.T), log(q)[:, None], axis=0)
    np.testing.assert_allclose(got0, got, rtol=1e-12)
    h = div.categorical_squared_hellinger(log(p), log(q))
    np.testing.assert_allclose(h, [ref_h2(p[i], q) for i in range(4)], atol=1e-14)


@SOME
@given(seed=seeds, m=st.integers(1, 10))
def test_stopped_kl_is_the_expected_minimum(seed, m):
    """D_seq,N = E[min{log N, S}] (Prop. F.10 / D.10) for (m,) sums or (m, H) per-step KLs, <= log N, -> E S at N = inf."""
    rng = np.random.default_rng(seed)
    per_step = rng.exponential(0.5, (m, 3))
    S = per_step.sum(1)
    w = random_pmf(rng, (m,))
    N = np.array([1.0, 1.5, np.e, 10.0, 1e6, np.inf])
    got = div.stopped_kl(per_step, N, weights=w)
    want = [w @ np.minimum(np.log(t), S) for t in N]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert np.all(got <= np.log(N) + 1e-15) and np.all(np.diff(got) >= -1e-15)
    np.testing.assert_allclose(div.stopped_kl(S, N), [np.minimum(np.log(t), S).mean() for t in N], rtol=1e-12)
    # infinite KL sums saturate at log N; a capped formula at log(N)/2 would be detected
    got_inf = div.stopped_kl(np.append(S, np.inf), 10.0)
    assert got_inf == pytest.approx(np.append(np.minimum(np.log(10.0), S), np.log(10.0)).mean())


@pytest.mark.parametrize("call, exc, name", [
    (lambda: div.kl_divergence(np.log([0.5, 0.6]), np.log([0.5, 0.5])), ValueError, "log_p"),
    (lambda: div.kl_divergence(np.log([0.5, 0.5]), np.log([0.3, 0.3, 0.4])), ValueError, "log_q"),
    (lambda: div.kl_divergence([np.nan, 0.0], [0.0, -np.inf]), ValueError, "log_p"),
    (lambda: div.kl_divergence([np.inf, 0.0], [0.0, -np.inf]), ValueError, "log_p"),
    (lambda: div.squared_hellinger(np.log([0.5, 0.5]), np.log([0.5, 0.5]), prompt_weights=[0.5, 0.5]),
     ValueError, "prompt_weights"),
    (lambda: div.categorical_kl(np.log([0.5, 0.5]), np.log([0.5, 0.5]), axis=1), ValueError, "axis"),
    (lambda: div.categorical_kl(np.log([0.5, 0.5]), np.log([0.5, 0.5]), axis=0.0), TypeError, "axis"),
    (lambda: div.stopped_kl([-0.1, 1.0], 2.0), ValueError, "token_kl_sums"),
    (lambda: div.stopped_kl([0.1, 1.0], 0.9), ValueError, "N"),
    (lambda: div.stopped_kl([0.1, 1.0], 2.0, weights=[1.0]), ValueError, "weights"),
])
def test_divergence_bad_input_names_the_argument(call, exc, name):
    with pytest.raises(exc, match=f"`{name}"):
        call()


# ============================================================================== best_of_n.py

@SOME
@given(seed=seeds, X=st.integers(1, 4))
def test_pass_at_n_is_the_formula_with_N_broadcast(seed, X):
    """Pass@N = E_mu[1 - (1 - q)^N] for integer, non-integer, 1 and infinite N; N as a column gives a grid."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0, 1, (2, X))
    q[0, 0] = 0.0
    mu = random_pmf(rng, (X,))
    N = np.array([1.0, 2.0, 3.5, 17.0, 1e6])
    got = bon.pass_at_n(q, N[:, None], prompt_weights=mu)
    assert got.shape == (5, 2)
    for i, t in enumerate(N):
        np.testing.assert_allclose(got[i], ref_pass(q, t, mu), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(bon.pass_at_n(q, 1), q.mean(-1), rtol=1e-13)
    np.testing.assert_allclose(bon.pass_at_n(q, np.inf, prompt_weights=mu), (q > 0) @ mu, rtol=1e-13)


@FEW
@given(seed=seeds, m=st.integers(1, 3), N=st.integers(1, 4))
def test_best_of_n_is_the_expected_max_over_enumerated_draws(seed, m, N):
    """best_of_n_success / best_of_n_expected_reward against all V^N tuples of draws."""
    rng = np.random.default_rng(seed)
    p = random_pmf(rng, (2, m), 0.2)
    r01 = rng.integers(0, 2, (2, m))
    r = rng.uniform(0, 1, (2, m))
    assert bon.best_of_n_success(log(p), r01, N) == pytest.approx(ref_bon_bruteforce(p, r01, N), abs=1e-12)
    assert bon.best_of_n_expected_reward(log(p), r, N) == pytest.approx(ref_bon_bruteforce(p, r, N), abs=1e-12)
    assert bon.best_of_n_expected_reward(log(p), r01, N) == pytest.approx(ref_bon_bruteforce(p, r01, N), abs=1e-12)


def test_best_of_n_with_a_success_probability_below_the_smallest_double():
    """Logits +-1e4: q = e^-1e4 > 0 underflows as a float, yet Pass@inf = 1 (every positive q) and Pass@N ~ N q."""
    lp = np.array([[0.0, -1e4]])
    r = np.array([[0, 1]])
    assert bon.best_of_n_success(lp, r, np.inf) == 1.0
    assert bon.best_of_n_expected_reward(lp, r, np.inf) == 1.0
    assert bon.best_of_n_success(lp, r, 1e300) == 0.0            # N q = e^(690 - 1e4): 0 in float64
    # q = e^-800 (below the smallest normal double): Pass@N = -expm1(N log1p(-q)) ~ N q
    lp = np.array([[np.log1p(-np.exp(-800.0)), -800.0]])
    got = bon.best_of_n_success(lp, r, 1e300)
    with mpmath.workdps(40):
        want = float(-mpmath.expm1(1e300 * mpmath.log1p(-mpmath.exp(-800))))
    assert got == pytest.approx(want, rel=1e-12)
    # a success mass close to one keeps its failure mass: q = 1 - e^-1e4 -> Pass@1 = 1, no NaN
    assert bon.best_of_n_success(np.array([[0.0, -1e4]]), np.array([[1, 0]]), [1.0, np.inf]).tolist() == [1.0, 1.0]


def test_pass_at_k_equals_the_binomial_ratio_and_the_subset_average():
    """1 - C(n-c, k)/C(n, k) (exact integers) = average over k-subsets of 1{some correct}, for every n <= 9."""
    for n in range(1, 10):
        for c in range(n + 1):
            for k in range(1, n + 1):
                want = 1 - Fraction(int(comb(n - c, k, exact=True)), int(comb(n, k, exact=True)))
                got = bon.pass_at_k(n, c, k)
                assert got == pytest.approx(float(want), rel=1e-14, abs=1e-15)
                if n <= 7:
                    assert got == pytest.approx(ref_pass_at_k_subsets(n, c, k), rel=1e-14, abs=1e-15)


@FEW
@given(n=st.integers(1, 60), q=st.sampled_from([0.0, 1.0]) | st.floats(1e-9, 1.0), k=st.integers(1, 60))
def test_pass_at_k_is_unbiased_and_the_plug_in_is_not(n, q, k):
    """E_{c ~ Bin(n, q)}[pass@k(n, c, k)] = 1 - (1 - q)^k exactly; the plug-in 1 - (1 - c/n)^k is biased (control)."""
    k = min(k, n)
    c = np.arange(n + 1)
    pmf = stats.binom.pmf(c, n, q)
    est = bon.pass_at_k(n, c, k)
    assert pmf @ est == pytest.approx(1 - (1 - q) ** k, abs=1e-12)


def test_pass_at_k_plug_in_estimator_fails_the_unbiasedness_check():
    n, q, k = 10, 0.2, 5
    c = np.arange(n + 1)
    plug_in = 1 - (1 - c / n) ** k
    assert abs(stats.binom.pmf(c, n, q) @ plug_in - (1 - (1 - q) ** k)) > 1e-3


@pytest.mark.parametrize("n, c, k", [(10 ** 12, 10 ** 6, 10 ** 3), (10 ** 9, 3, 10 ** 8), (2 ** 62, 5, 3),
                                     (10 ** 6, 10 ** 5, 10 ** 5), (10 ** 15, 10 ** 10, 10 ** 4),
                                     (2 ** 40, 2 ** 20, 2 ** 39), (1000, 500, 500), (10 ** 7, 9, 9)])
def test_pass_at_k_for_huge_n_matches_high_precision(n, c, k):
    """O(1)-memory evaluation against mpmath's log-gamma at 60 digits; no overflow."""
    lg = mpmath.loggamma
    with mpmath.workdps(60):
        s = lg(n - c + 1) - lg(n - c - k + 1) - lg(n + 1) + lg(n - k + 1) if n - c >= k else -mpmath.inf
        want = float(-mpmath.expm1(s))
    got = bon.pass_at_k(n, c, k)
    assert np.isfinite(got) and got == pytest.approx(want, rel=1e-12, abs=1e-300)


def test_pass_at_k_broadcasts_and_accepts_integral_floats():
    got = bon.pass_at_k(np.array([[10], [20]]), np.array([0, 3, 9]), 2)
    assert got.shape == (2, 3)
    assert got[1, 1] == pytest.approx(1 - comb(17, 2) / comb(20, 2))
    assert bon.pass_at_k(10.0, 3.0, 2.0) == bon.pass_at_k(10, 3, 2)


@pytest.mark.parametrize("call, exc, name", [
    (lambda: bon.pass_at_k(10.5, 3, 2), TypeError, "n"),
    (lambda: bon.pass_at_k(10, 11, 2), ValueError, "c"),
    (lambda: bon.pass_at_k(10, 3, 0), ValueError, "k"),
    (lambda: bon.pass_at_k(10, 3, 11), ValueError, "k"),
    (lambda: bon.pass_at_k(10, -1, 1), ValueError, "c"),
    (lambda: bon.pass_at_k(np.nan, 1, 1), TypeError, "n"),
    (lambda: bon.pass_at_k([10, 10], [1, 2, 3], 1), ValueError, "n"),
    (lambda: bon.pass_at_n([0.5, 1.2], 2), ValueError, "success_prob"),
    (lambda: bon.pass_at_n([0.5, np.nan], 2), ValueError, "success_prob"),
    (lambda: bon.pass_at_n([0.5], 0.5), ValueError, "N"),
    (lambda: bon.pass_at_n([0.5, 0.5], 2, prompt_weights=[1.0]), ValueError, "prompt_weights"),
    (lambda: bon.best_of_n_success(np.log([[0.5, 0.5]]), [[0.5, 1]], 2), ValueError, "reward"),
    (lambda: bon.best_of_n_success(np.log([[0.5, 0.5]]), [[0, 1, 1]], 2), ValueError, "reward"),
    (lambda: bon.best_of_n_expected_reward(np.log([[0.5, 0.5]]), [[0, 2]], 2), ValueError, "reward"),
    (lambda: bon.bon_sufficient_n(10, 1.0), ValueError, "epsilon"),
    (lambda: bon.bon_sufficient_n(0.5, 0.1), ValueError, "M"),
    (lambda: bon.deterministic_target_sandwich(1.5, 2, 2), ValueError, "cov_M"),
])
def test_best_of_n_bad_input_names_the_argument(call, exc, name):
    with pytest.raises(exc, match=f"`{name}`"):
        call()


@SOME
@given(seed=seeds, X=st.integers(1, 3), m=st.integers(1, 5), M=st.floats(1.0, 20.0), eps=st.floats(1e-3, 0.5))
def test_bon_sufficiency_prop_f6(seed, X, m, M, eps):
    """Prop. F.6 / D.6: N >= 2M log(1/eps) and Cov_M <= 1/2 give E[r(pi_T) - r(BoN_N)] <= Cov_M + eps."""
    rng = np.random.default_rng(seed)
    pt, ph = random_pmf(rng, (X, m), 0.3), random_pmf(rng, (X, m), 0.2)
    r = rng.uniform(0, 1, (X, m))
    c_M = float(ref_cov(pt, ph, M))
    N = float(bon.bon_sufficient_n(M, eps))
    assert N >= 2 * M * np.log(1 / eps) and N - 1 < 2 * M * np.log(1 / eps)
    if c_M <= 0.5:
        gap = (pt * r).sum(1).mean() - bon.best_of_n_expected_reward(log(ph), r, N)
        assert gap <= bon.bon_sufficiency_bound(c_M, eps) + 1e-12
    # the derived form (for every M >= 1, no Cov_M <= 1/2 condition): same gap <= Cov_M + e^{-N/M}
    for Nn in (1.0, 3.0, 40.0):
        gap = (pt * r).sum(1).mean() - bon.best_of_n_expected_reward(log(ph), r, Nn)
        assert gap <= bon.pass_at_n_coverage_bound(c_M, Nn, M) + 1e-12


def test_bon_sufficiency_fails_with_a_budget_too_small_or_a_wrong_exponent():
    """Negative controls: pi_T = delta_{y*}, pi_hat(y*) just above 1/M (Cov_M = 0), N = M: gap ~ e^-1 > eps."""
    M, eps = 50.0, 0.01
    q = 1 / M * (1 + 1e-9)
    pt, ph, r = np.array([[1.0, 0.0]]), np.array([[q, 1 - q]]), np.array([[1, 0]])
    assert ref_cov(pt, ph, M) == 0.0
    gap_small_n = 1 - bon.best_of_n_success(log(ph), r, M)
    assert gap_small_n > bon.bon_sufficiency_bound(0.0, eps)                     # N = M is not enough
    N = float(bon.bon_sufficient_n(M, eps))
    assert 1 - bon.best_of_n_success(log(ph), r, N) <= eps                      # the prescribed N is
    # 1 - Pass@N <= Cov_M + e^{-N/M} is nearly tight here, so e^{-2N/M} would be violated
    gap = 1 - bon.best_of_n_success(log(ph), r, M)
    assert gap <= bon.pass_at_n_coverage_bound(0.0, M, M) and not gap <= np.exp(-2.0)


@SOME
@given(seed=seeds, X=st.integers(1, 3), m=st.integers(1, 5), N=st.floats(1.0, 30.0))
def test_bon_necessity_prop_f7_with_its_witness_reward(seed, X, m, N):
    """Prop. F.7 / D.7: with r = 1{pi_T/pi_hat >= 2N}, E[r(pi_T) - r(BoN_N)] >= Cov_{2N}/2."""
    rng = np.random.default_rng(seed)
    pt, ph = random_pmf(rng, (X, m), 0.2), random_pmf(rng, (X, m), 0.3)
    r = bon.bon_necessity_reward(log(pt), log(ph), N)
    np.testing.assert_array_equal(r, (ref_ratio(pt, ph) >= 2 * N) & (pt > 0))
    gap = (pt * r).sum(1).mean() - bon.best_of_n_success(log(ph), r, N)
    assert gap >= bon.bon_necessity_bound(float(ref_cov(pt, ph, 2 * N))) - 1e-12


def test_bon_necessity_fails_with_threshold_N_instead_of_2N():
    """Negative control: r = 1{ratio >= N} on pi_T = delta, pi_hat(y*) = 1/N: gap = (1 - 1/N)^N < Cov_N / 2."""
    N = 10.0
    pt, ph = np.array([[1.0, 0.0]]), np.array([[1 / N, 1 - 1 / N]])
    r = (ref_ratio(pt, ph) >= N).astype(int)
    gap = 1 - bon.best_of_n_success(log(ph), r, N)
    assert not gap >= 0.5 * ref_cov(pt, ph, N)


@SOME
@given(seed=seeds, X=st.integers(1, 6), N=st.floats(1.0, 50.0), M=st.floats(1.0, 50.0))
def test_deterministic_target_sandwich(seed, X, N, M):
    """(1 - 1/M)^N Cov_M <= 1 - Pass@N <= Cov_M + (1 - 1/M)^N with Cov_M = P_x[q_x <= 1/M]."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0, 1, X) ** 3
    c_M = float(np.mean(ref_ratio(np.ones(X), q) >= M))
    fail = 1 - ref_pass(q, N)
    lo, hi = bon.deterministic_target_sandwich(c_M, N, M)
    assert lo <= fail + 1e-12 and fail <= hi + 1e-12
    assert lo == pytest.approx((1 - 1 / M) ** N * c_M) and hi == pytest.approx(c_M + (1 - 1 / M) ** N)


def test_deterministic_sandwich_without_its_factor_fails():
    """Negative control: Cov_M <= 1 - Pass@N (lower bound without (1 - 1/M)^N) is false when q = 1/M."""
    M, N = 4.0, 3.0
    q = np.array([1 / M])
    assert not 1.0 <= 1 - ref_pass(q, N)


# ================================================================================= bounds.py

def bernoulli_witness(p, N):
    """Prop. F.2 / D.2: pi_D = Ber(p), pi_hat = Ber(p/N) (index 0 = success); Cov_N = p exactly (a tie).

    The rounded ratio p/(p/N) may land an ulp below N, so the references below use the
    exact value ``p`` for Cov_N rather than :func:`ref_cov` (whose linear comparison has no tie tolerance).
    """
    return np.array([p, 1 - p]), np.array([p / N, 1 - p / N])


@SOME
@given(seed=seeds, X=st.integers(1, 3), m=st.integers(1, 6), logN=st.floats(1e-3, 12.0))
def test_kl_to_coverage_props_3_1_and_f1(seed, X, m, logN):
    """Cov_N <= KL/(log N - 1 + 1/N) (F.1 / D.1) <= KL/log(N/e) (3.1) on random pairs."""
    rng = np.random.default_rng(seed)
    p, q, mu = random_pmf(rng, (X, m), 0.2), random_pmf(rng, (X, m)), random_pmf(rng, (X,))
    N = float(np.exp(logN))
    c, kl = float(ref_cov(p, q, N, mu)), ref_kl(p, q, mu)
    sharp = float(bounds.kl_to_coverage_sharp(kl, N))
    assert sharp == pytest.approx(kl / (np.log(N) - 1 + 1 / N), rel=1e-9)
    assert c <= sharp * (1 + 1e-12)
    if N > np.e:
        assert sharp <= float(bounds.kl_to_coverage(kl, N)) * (1 + 1e-12)
    else:
        assert bounds.kl_to_coverage(kl, N) == np.inf


@FEW
@given(p=st.floats(1e-6, 0.5), N=st.floats(2.0, 1e6))
def test_kl_tightness_witness_prop_f2(p, N):
    """On Ber(p) vs Ber(p/N): Cov_N = p >= KL/(log N - 1/2 + 1/(2N)) (F.2 / D.2), and <= the F.1 bound."""
    pd, pm = bernoulli_witness(p, N)
    kl = ref_kl(pd, pm)
    lr = np.log(pd) - np.log(pm)
    assert float(cov.coverage_profile(lr, N, weights=pd)) == pytest.approx(p, rel=1e-12)    # the tie counts
    assert float(bounds.kl_tightness_witness(kl, N)) <= p * (1 + 1e-9)
    # negative control: the F.1 bound is an upper bound, so "F.1 <= Cov" is false on the witness
    assert not float(bounds.kl_to_coverage_sharp(kl, N)) <= p


def test_kl_to_coverage_with_a_wrong_denominator_fails():
    """Negative control: KL/log N (dropping -1 + 1/N) is below Cov_N on the Prop. F.2 witness."""
    pd, pm = bernoulli_witness(0.01, 10.0)
    assert not 0.01 <= ref_kl(pd, pm) / np.log(10.0)
    assert 0.01 <= bounds.kl_to_coverage_sharp(ref_kl(pd, pm), 10.0)


@SOME
@given(seed=seeds, m=st.integers(1, 8))
def test_coverage_decay_prop_f3(seed, m):
    """C = sup_{N>=1} Cov_N log N (brute force over N = ratios), and KL <= C (1 + log(log W_max / C))."""
    rng = np.random.default_rng(seed)
    p, q = random_pmf(rng, (m,), 0.2), random_pmf(rng, (m,))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(p > 0, np.log(p) - np.log(q), -np.inf)
    C, logw = bounds.uniform_coverage_decay(z, weights=p)
    cands = [t * p[z >= t].sum() for t in z[(p > 0) & (z > 0)]]           # t P[Z >= t] at the atoms
    assert C == pytest.approx(max(cands, default=0.0), rel=1e-12, abs=1e-15)
    assert logw == pytest.approx(z[p > 0].max())
    assert ref_kl(p, q) <= float(bounds.coverage_decay_to_kl(C, logw)) + 1e-12


def test_coverage_decay_without_its_log_factor_fails():
    """Negative control: on P[Z >= 2^k] = C/2^k (k <= K), KL = C K/2 > C, so 'KL <= C' is false; F.3 holds."""
    Cc, K = 0.5, 8
    z = 2.0 ** np.arange(1, K + 1)
    w = Cc / z - np.append(Cc / z[1:], 0.0)
    pd = np.append(w, 1 - w.sum())                     # last point: Z = 0
    pm = np.append(pd[:-1] * np.exp(-z), pd[-1])       # pi = pi_D e^{-Z}; the rest of pi's mass elsewhere
    pd, pm = np.append(pd, 0.0), np.append(pm, 1 - pm.sum())
    kl = ref_kl(pd, pm)
    assert kl == pytest.approx(Cc * (K + 1) / 2)          # sum_{k<K} z_k C/z_{k+1} + z_K C/z_K
    zz = np.log(pd[:-1]) - np.log(pm[:-1])
    C, logw = bounds.uniform_coverage_decay(zz, weights=pd[:-1])
    assert C == pytest.approx(Cc) and not kl <= C
    assert kl <= bounds.coverage_decay_to_kl(C, logw)


@SOME
@given(seed=seeds, X=st.integers(1, 3), m=st.integers(1, 6), logN=st.floats(1e-3, 12.0))
def test_hellinger_to_coverage_prop_f4(seed, X, m, logN):
    """Cov_N <= 2N/(sqrt N - 1)^2 D_H^2 (one-half convention), F.4 / D.4."""
    rng = np.random.default_rng(seed)
    p, q, mu = random_pmf(rng, (X, m), 0.2), random_pmf(rng, (X, m), 0.2), random_pmf(rng, (X,))
    N = float(np.exp(logN))
    h2 = ref_h2(p, q, mu)
    b = float(bounds.hellinger_to_coverage(h2, N))
    assert b == pytest.approx(2 * N / (np.sqrt(N) - 1) ** 2 * h2, rel=1e-9)
    assert float(ref_cov(p, q, N, mu)) <= b * (1 + 1e-12) + 1e-15


def test_hellinger_to_coverage_negative_control_and_edges():
    """Factor 2 off (N/(sqrt N - 1)^2) fails on the witness with small p; N = 1 is vacuous, N = inf gives 2 D_H^2."""
    pd, pm = bernoulli_witness(1e-4, 9.0)
    h2 = ref_h2(pd, pm)
    assert 1e-4 <= bounds.hellinger_to_coverage(h2, 9.0)                     # Cov_9 = p = 1e-4
    assert not 1e-4 <= 9.0 / (3 - 1) ** 2 * h2
    assert bounds.hellinger_to_coverage(h2, 1.0) == np.inf
    assert bounds.hellinger_to_coverage(h2, np.inf) == pytest.approx(2 * h2)
    # near N = 1 the constants 2N/(sqrt N - 1)^2 (F.4) and 1/(log N - 1/2 + 1/(2N)) (F.2) are evaluated
    # without cancellation (they lost up to 1.5e-8 and 6e-14 relative before)
    with mpmath.workdps(50):
        for N in (1 + 2.0 ** -50, 1 + 1e-12, 1 + 1e-8, 1.001, 2.0, 1e300):
            M = mpmath.mpf(N)
            want = float(2 * M / (mpmath.sqrt(M) - 1) ** 2 * 0.25)
            assert float(bounds.hellinger_to_coverage(0.25, N)) == pytest.approx(want, rel=1e-14)
            want = float(mpmath.mpf(0.1) / (mpmath.log(M) - 0.5 + 0.5 / M))
            assert float(bounds.kl_tightness_witness(0.1, N)) == pytest.approx(want, rel=1e-14)


@SOME
@given(seed=seeds, X=st.integers(1, 2), m=st.integers(1, 5), M1=st.floats(2.0, 50.0), M2=st.floats(2.0, 50.0))
def test_coverage_chain_rule_prop_f5(seed, X, m, M1, M2):
    """Cov_{M1}(pi_T||pi) <= M2 Cov_{M1/M2}(pi_D||pi) + Cov_{M2}(pi_T||pi_D) on random triples (any M1/M2 > 0)."""
    rng = np.random.default_rng(seed)
    pt, pd, pi = (random_pmf(rng, (X, m), 0.25) for _ in range(3))
    lhs = float(ref_cov(pt, pi, M1))
    a, b = float(ref_cov(pd, pi, M1 / M2)), float(ref_cov(pt, pd, M2))
    rhs = float(bounds.coverage_chain_rule(a, b, M2))
    assert rhs == pytest.approx(M2 * a + b)
    assert lhs <= rhs + 1e-12


def test_coverage_chain_rule_without_the_factor_M2_fails():
    """Negative control: pi_T = delta_a, pi_D(a) = 0.2, pi(a) = 0.001, M1 = 100, M2 = 10: 1 > 0.2 + 0 but 1 <= 2 + 0."""
    pt, pd, pi = np.array([1.0, 0.0]), np.array([0.2, 0.8]), np.array([0.001, 0.999])
    lhs = ref_cov(pt, pi, 100.0)
    a, b = ref_cov(pd, pi, 10.0), ref_cov(pt, pd, 10.0)
    assert lhs == 1.0 and lhs <= bounds.coverage_chain_rule(a, b, 10.0) and not lhs <= a + b


def ref_path_quantities(lpd, lpm, mu, H):
    """Brute force over V^H: weights mu(x) pi_D(y|x), log-ratios, per-path sums of token KLs and token D_H^2."""
    seqs, ld = ref_markov_enumerate(lpd, H)
    _, lm = ref_markov_enumerate(lpm, H)
    X = lpd.shape[0]
    w = (mu[:, None] * np.exp(ld))
    S_kl = np.zeros_like(ld)
    S_h2 = np.zeros_like(ld)
    for x in range(X):
        for s, y in enumerate(seqs):
            Pd, Pm = ref_token_dists(lpd, x, y), ref_token_dists(lpm, x, y)
            S_kl[x, s] = ref_cat_kl(Pd, Pm).sum()
            S_h2[x, s] = (0.5 * ((np.sqrt(Pd) - np.sqrt(Pm)) ** 2).sum(-1)).sum()
    with np.errstate(invalid="ignore"):
        z = np.where(w > 0, ld - lm, -np.inf)
    return seqs, w, z, S_kl, S_h2, ld, lm


@FEW
@given(seed=seeds, X=st.integers(1, 2), H=st.integers(1, 3), V=st.integers(2, 3), logN=st.floats(1.0001, 6.0))
def test_stopped_kl_to_coverage_prop_f10(seed, X, H, V, logN):
    """Cov_N <= 2/(log N - 1) D_seq,N for N > e on random autoregressive (Markov) pairs, all by enumeration."""
    rng = np.random.default_rng(seed)
    lpd, lpm, mu = random_markov_pair(rng, X, H, V, zero_frac=0.15)
    _, w, z, S_kl, _, _, _ = ref_path_quantities(lpd, lpm, mu, H)
    N = float(np.exp(logN))
    dseq = float((w * np.minimum(logN, S_kl)).sum())
    c = float((w * (z >= logN)).sum())
    assert c <= float(bounds.stopped_kl_to_coverage(dseq, N)) * (1 + 1e-12) + 1e-15
    d, m = MarkovModel(lpd, H, mu), MarkovModel(lpm, H, mu)
    assert float(exact_stopped_kl(d, m, N)) == pytest.approx(dseq, rel=1e-10, abs=1e-14)


def test_stopped_kl_to_coverage_negative_control():
    """Dividing by log N instead of log N - 1 makes the F.10 check fail on Ber(p) vs Ber(p/N) at N = e^1.5."""
    N = np.exp(1.5)
    pd, pm = bernoulli_witness(1e-3, N)
    dseq = pd @ np.minimum(np.log(N), np.full(2, ref_kl(pd, pm)))      # H = 1: S = KL on every path
    assert 1e-3 <= bounds.stopped_kl_to_coverage(dseq, N)                   # Cov_N = p = 1e-3
    assert not 1e-3 <= 2 * dseq / np.log(N)
    assert bounds.stopped_kl_to_coverage(dseq, np.e) == np.inf


@FEW
@given(seed=seeds, X=st.integers(1, 2), H=st.integers(1, 3), V=st.integers(2, 3),
       logN=st.floats(0.0, 3.0), delta=st.floats(0.01, 0.99))
def test_hellinger_partial_converse_prop_f11(seed, X, H, V, logN, delta):
    """Cov_N >= P[sum_h D_H^2 >= log(N/delta)] - delta on random Markov pairs (enumeration)."""
    rng = np.random.default_rng(seed)
    lpd, lpm, mu = random_markov_pair(rng, X, H, V, zero_frac=0.2)
    seqs, w, z, _, S_h2, _, _ = ref_path_quantities(lpd, lpm, mu, H)
    N = float(np.exp(logN))
    keep = w.ravel() > 0
    lower = float(bounds.hellinger_partial_converse(S_h2.ravel()[keep], N, delta, weights=w.ravel()[keep]))
    assert lower == pytest.approx(float((w * (S_h2 >= np.log(N / delta))).sum()) - delta, abs=1e-12)
    assert float((w * (z >= logN - 1e-12)).sum()) >= lower - 1e-12
    # the toolkit's per-path Hellinger sums are the same numbers
    d = MarkovModel(lpd, H, mu)
    xs = np.repeat(np.arange(X), len(seqs))
    ys = np.tile(seqs, (X, 1))
    np.testing.assert_allclose(path_token_hellinger(d, MarkovModel(lpm, H, mu), xs, ys).sum(-1), S_h2.ravel(),
                               atol=1e-13)


def test_hellinger_partial_converse_without_delta_fails():
    """Negative control: rare tokens the model never emits (pi_D = (1 - e, e), pi = (1, 0)), H = 40, e = 0.2:
    S = H D_H^2 is deterministic and large, Cov_1 = 1 - (1 - e)^H < 1, so dropping '- delta' exceeds Cov."""
    H, e, delta = 60, 0.2, 0.01
    h2 = 0.5 * ((np.sqrt(1 - e) - 1) ** 2 + e)
    S = H * h2
    cov1 = 1 - (1 - e) ** H
    assert S >= np.log(1 / delta)
    assert cov1 >= float(bounds.hellinger_partial_converse([S], 1.0, delta))
    assert not cov1 >= 1.0          # P[S >= log(N/delta)] = 1 without the -delta


@SOME
@given(seed=seeds, m=st.integers(1, 6), p_exp=st.floats(0.1, 3.0), logN=st.floats(0.0, 8.0))
def test_markov_lp_moment_and_bound(seed, m, p_exp, logN):
    """log E[(pi/pi_hat)^p] by brute force; Cov_N <= E[(pi/pi_hat)^p]/N^p (Markov)."""
    rng = np.random.default_rng(seed)
    p, q = random_pmf(rng, (m,), 0.2), random_pmf(rng, (m,))
    r = ref_ratio(p, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(p > 0, np.log(p) - np.log(q), -np.inf)
    lm = float(bounds.log_density_ratio_moment(z, p_exp, weights=p))
    assert lm == pytest.approx(np.log(p @ r ** p_exp), rel=1e-10, abs=1e-12)
    N = float(np.exp(logN))
    assert float(ref_cov(p, q, N)) <= float(bounds.markov_lp_coverage_bound(lm, N, p_exp)) * (1 + 1e-10)


@SOME
@given(seed=seeds, X=st.integers(1, 3), m=st.integers(1, 6), C=st.floats(np.log(4.0), 20.0))
def test_lemma_j1_clipped_exponential_is_at_most_one(seed, X, m, C):
    """E_{pi_D} exp(1/2 max{log(pi/pi_D), -C}) <= 1 for C >= log 4 (brute-force value)."""
    rng = np.random.default_rng(seed)
    p, q, mu = random_pmf(rng, (X, m), 0.2), random_pmf(rng, (X, m), 0.3), random_pmf(rng, (X,))
    with np.errstate(divide="ignore"):
        inner = np.exp(0.5 * np.maximum(np.log(q) - np.log(np.where(p > 0, p, 1.0)), -C))
    want = float(mu @ (p * inner).sum(1))
    got = float(bounds.lemma_j1_clipped_exponential(log(p), log(q), C, prompt_weights=mu))
    assert got == pytest.approx(want, rel=1e-12) and got <= 1 + 1e-12


def test_lemma_j1_fails_below_log_4():
    """Negative control: pi_D = (1 - a, a), pi = (1, 0): value sqrt(1 - a) + a e^{-C/2} > 1 for C < log 4, small a."""
    a = 0.01
    v = bounds.lemma_j1_clipped_exponential(np.log([1 - a, a]), [0.0, -np.inf], [1.2, np.log(4.0)])
    assert v[0] > 1 and v[1] <= 1
    assert v[0] == pytest.approx(np.sqrt(1 - a) + a * np.exp(-0.6))


def test_finite_class_mle_failure_probability_by_enumerating_samples():
    """P[some MLE has D_H^2 > t] by enumerating all n-tuples of samples equals the toolkit's count-vector sum; <= delta."""
    rng = np.random.default_rng(7)
    K, X, m, n = 3, 2, 2, 5
    cls = random_pmf(rng, (K, X, m))
    mu = np.array([0.3, 0.7])
    h2 = [ref_h2(cls[0], cls[k], mu) for k in range(K)]
    thr = float(np.sort(h2)[1]) - 1e-9                 # the farther members are "far"
    cells = [(x, y) for x in range(X) for y in range(m)]
    prob = 0.0
    for tup in itertools.product(range(len(cells)), repeat=n):
        pr = np.prod([mu[cells[c][0]] * cls[0][cells[c]] for c in tup])
        ll = np.array([sum(np.log(cls[k][cells[c]]) for c in tup) for k in range(K)])
        is_max = ll >= ll.max() - 1e-9 * max(1.0, abs(ll.max()))
        if any(is_max[k] and h2[k] > thr for k in range(K)):
            prob += pr
    got = bounds.finite_class_mle_failure_probability(np.log(cls), n, thr, prompt_weights=mu)
    assert got == pytest.approx(prob, rel=1e-10, abs=1e-14)
    delta = 0.3
    assert bounds.finite_class_mle_failure_probability(
        np.log(cls), n, float(bounds.finite_class_mle_hellinger_bound(n, K, delta)), prompt_weights=mu) <= delta


@pytest.mark.parametrize("call, exc, name", [
    (lambda: bounds.kl_to_coverage(-0.1, 3.0), ValueError, "kl"),
    (lambda: bounds.kl_to_coverage(0.1, 0.5), ValueError, "N"),
    (lambda: bounds.kl_to_coverage_sharp(np.nan, 3.0), ValueError, "kl"),
    (lambda: bounds.hellinger_to_coverage(1.5, 3.0), ValueError, "hellinger_sq"),
    (lambda: bounds.coverage_chain_rule(0.1, 0.1, 0.0), ValueError, "M2"),
    (lambda: bounds.coverage_chain_rule(1.1, 0.1, 2.0), ValueError, "cov_data_vs_model"),
    (lambda: bounds.coverage_decay_to_kl(2.0, 1.0), ValueError, "decay_constant"),
    (lambda: bounds.hellinger_partial_converse([0.1], 2.0, 1.0), ValueError, "delta"),
    (lambda: bounds.hellinger_partial_converse([-0.1], 2.0, 0.5), ValueError, "hellinger_sums"),
    (lambda: bounds.markov_lp_coverage_bound(0.0, 2.0, 0.0), ValueError, "exponent"),
    (lambda: bounds.lemma_j1_clipped_exponential(np.log([0.5, 0.5]), np.log([0.5, 0.6]), 2.0), ValueError,
     "log_p_model"),
    (lambda: bounds.finite_class_mle_hellinger_bound(0, 2, 0.1), ValueError, "n"),
    (lambda: bounds.finite_class_mle_hellinger_bound(10, 2, 0.0), ValueError, "delta"),
])
def test_bounds_bad_input_names_the_argument(call, exc, name):
    with pytest.raises(exc, match=f"`{name}`"):
        call()


# ================================================================================== models/*

def tabular_model(rng, X, H, V, d, P=None, scale=1.0, homogeneous=False):
    table = rng.normal(size=(X, 1 if homogeneous else H, V + 1, V, d))
    theta = rng.normal(scale=scale, size=(d,) if P is None else (P, d))
    return table, theta, AutoregressiveLinearModel(TabularFeatures(table, horizon=H), theta=theta,
                                                   prompt_weights=random_pmf(rng, (X,)))


def ref_linear_token_logprobs(phi_of, theta, x, y, V):
    """Per-position log pi_theta(y_h|x, y_<h) = <theta, phi(v*)> - log sum_v exp <theta, phi(v)>, by hand."""
    out = []
    for h in range(len(y)):
        logits = np.array([phi_of(x, tuple(y[:h]), v) @ theta for v in range(V)])
        mx = logits.max()
        out.append(logits[y[h]] - mx - np.log(np.exp(logits - mx).sum()))
    return np.array(out)


@FEW
@given(seed=seeds, X=st.integers(1, 2), H=st.integers(1, 3), V=st.integers(2, 3), d=st.integers(1, 3),
       scale=st.sampled_from([0.5, 3.0, 1e4]))
def test_linear_model_log_probs_and_enumeration_match_the_softmax(seed, X, H, V, d, scale):
    """Eq. (3): pi_theta(y_h|x, y_<h) = softmax_v <theta, phi(x, y_<h, v)> for tabular features, logits up to 1e4."""
    rng = np.random.default_rng(seed)
    table, theta, m = tabular_model(rng, X, H, V, d, scale=scale)
    seqs = enumerate_sequences(V, H)
    assert seqs.tolist() == [list(s) for s in itertools.product(range(V), repeat=H)]
    enum = m.enumerate_log_probs()
    assert np.isfinite(enum).all()
    np.testing.assert_allclose(np.exp(enum).sum(-1), 1.0, rtol=1e-12)

    def phi_of(x, prefix, v):
        return table[x, len(prefix), prefix[-1] if prefix else V, v]

    for x in range(X):
        for s in range(0, len(seqs), max(1, len(seqs) // 5)):
            want = ref_linear_token_logprobs(phi_of, theta, x, seqs[s], V)
            got = m.token_log_probs([x], seqs[s][None])[0]
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9 * scale)
            assert enum[x, s] == pytest.approx(want.sum(), rel=1e-12, abs=1e-9 * scale)


def test_callable_features_agree_with_a_hand_computed_prefix_dependent_softmax(rng):
    """General features phi(x, y_{1:h}, v) = W[x, (#ones in prefix) mod 3, v]: log-probs, enumeration, batch."""
    X, H, V, d = 2, 4, 2, 3
    W = rng.normal(size=(X, 3, V, d))

    def fn(x, prefix, h):
        ones = (prefix == 1).sum(axis=1) % 3 if h else np.zeros(len(x), int)
        return W[x, ones]

    f = CallableFeatures(fn, n_prompts=X, horizon=H, vocab_size=V, dim=d)
    thetas = rng.normal(size=(2, d))
    m = AutoregressiveLinearModel(f, theta=thetas)
    seqs = enumerate_sequences(V, H)
    enum = m.enumerate_log_probs()
    assert enum.shape == (2, X, V ** H)
    np.testing.assert_allclose(np.exp(enum).sum(-1), 1.0, rtol=1e-12)
    phi_of = lambda x, prefix, v: W[x, sum(t == 1 for t in prefix) % 3, v]   # noqa: E731
    for i in range(2):
        for x in range(X):
            want = [ref_linear_token_logprobs(phi_of, thetas[i], x, y, V).sum() for y in seqs]
            np.testing.assert_allclose(enum[i, x], want, rtol=1e-12)
    xs = np.repeat(np.arange(X), len(seqs))
    ys = np.tile(seqs, (X, 1))
    np.testing.assert_allclose(m.log_prob(xs, ys), enum.reshape(2, -1), rtol=1e-12)


@FEW
@given(seed=seeds, H=st.integers(1, 3), V=st.integers(2, 3), d=st.integers(1, 3))
def test_gradients_and_hessians_are_derivatives(seed, H, V, d):
    """Score, Hessian and HVP against central finite differences of log pi_theta(y|x); token grads sum to the sequence grad."""
    rng = np.random.default_rng(seed)
    table, theta, m = tabular_model(rng, 2, H, V, d)
    x, y = m.sample(3, rng=rng)
    g = m.grad_log_prob(x, y)
    gt = m.grad_log_prob(x, y, level="token")
    np.testing.assert_allclose(gt.sum(-2), g, atol=1e-12)
    eps = 1e-5
    for j in range(d):
        e = np.zeros(d)
        e[j] = eps
        fd = (m.replace(theta=theta + e).log_prob(x, y) - m.replace(theta=theta - e).log_prob(x, y)) / (2 * eps)
        np.testing.assert_allclose(g[:, j], fd, atol=1e-7)
        fdg = (m.replace(theta=theta + e).grad_log_prob(x, y) - m.replace(theta=theta - e).grad_log_prob(x, y)) / (
            2 * eps)
        hess = m.hessian_log_prob(x, y)
        np.testing.assert_allclose(hess[..., j], fdg, atol=1e-7)
    v = rng.normal(size=d)
    np.testing.assert_allclose(m.hvp(x, y, v), hess @ v, atol=1e-12)
    assert (np.linalg.eigvalsh(hess) <= 1e-12).all()                 # concave in theta


@FEW
@given(seed=seeds, H=st.integers(1, 3), V=st.integers(2, 3), d=st.integers(1, 3))
def test_sigma_star_sq_is_the_inherent_variance(seed, H, V, d):
    """sigma*^2 = E_{pi_D} sum_h ||phi - E_{pi_D} phi||^2 by enumeration; = E||score||^2 when realizable; uncentred differs."""
    rng = np.random.default_rng(seed)
    table, theta, m = tabular_model(rng, 2, H, V, d)
    seqs = enumerate_sequences(V, H)
    _, _, data = tabular_model(rng, 2, H, V, d)
    for dm in (m, data):
        ref = uncentred = score_sq = 0.0
        enum = dm.enumerate_log_probs()
        for x in range(2):
            for s, y in enumerate(seqs):
                w = dm.prompt_weights[x] * np.exp(enum[x, s])
                pd = np.exp(dm.next_token_log_probs([x], y[None])[0])                # (H, V)
                prevs = [V] + list(y[:-1])
                for h in range(H):
                    phis = table[x, h, prevs[h]]                                    # (V, d)
                    mean = pd[h] @ phis
                    ref += w * np.sum((phis[y[h]] - mean) ** 2)
                    uncentred += w * np.sum(phis[y[h]] ** 2)
                if dm is m:
                    score_sq += w * np.sum(m.grad_log_prob([x], y[None])[0] ** 2)
        got = m.sigma_star_sq(None if dm is m else data)
        assert got == pytest.approx(ref, rel=1e-10)
        assert got != pytest.approx(uncentred, rel=1e-6)                          # negative control
        if dm is m:
            assert got == pytest.approx(score_sq, rel=1e-10)
        assert got <= H * m.features.bound ** 2 * 4 + 1e-12                         # ||phi - mean|| <= 2B


@FEW
@given(seed=seeds, d=st.integers(1, 5), radius=st.just(0.0) | st.floats(1e-100, 3.0))
def test_projections_are_the_nearest_points(seed, d, radius):
    """Proj onto B_2(R) and onto a box: inside the set, idempotent, no feasible point is closer (random probes)."""
    rng = np.random.default_rng(seed)
    th = rng.normal(scale=3, size=(4, d))
    pr = projection_l2_ball(th, radius)
    assert (np.linalg.norm(pr, axis=-1) <= radius * (1 + 1e-12)).all()
    np.testing.assert_allclose(projection_l2_ball(pr, radius), pr, rtol=1e-12)
    probes = rng.normal(size=(200, d))
    probes *= radius * rng.random((200, 1)) ** (1 / d) / np.maximum(np.linalg.norm(probes, axis=1, keepdims=True),
                                                                    1e-300)
    for i in range(4):
        assert np.linalg.norm(th[i] - pr[i]) <= np.linalg.norm(th[i] - probes, axis=1).min() + 1e-12
    bx = projection_box(th, -0.5, 1.0)
    np.testing.assert_array_equal(bx, np.minimum(np.maximum(th, -0.5), 1.0))
    with pytest.raises(ValueError, match="`low`"):
        projection_box(th, 1.0, 0.0)
    with pytest.raises(ValueError, match="`radius`"):
        projection_l2_ball(th, -1.0)


def test_sampling_frequencies_match_the_enumerated_law():
    """Chi-square goodness of fit of 40,000 draws over V^H x prompts (false-fail rate 1e-6); a wrong law is rejected."""
    rng = np.random.default_rng(12345)
    X, H, V, d = 2, 3, 2, 2
    for kind in ("tabular", "callable"):
        table = rng.normal(size=(X, H, V + 1, V, d))
        theta = rng.normal(size=d)
        if kind == "tabular":
            feats = TabularFeatures(table, horizon=H)
        else:
            feats = CallableFeatures(lambda x, prefix, h: table[x, h, prefix[:, -1] if h else np.full(len(x), V)],
                                     n_prompts=X, horizon=H, vocab_size=V, dim=d)
        m = AutoregressiveLinearModel(feats, theta=theta, prompt_weights=[0.3, 0.7])
        n = 40_000
        xs, ys = m.sample(n, rng=np.random.default_rng(1))
        idx = xs * V ** H + (ys * V ** np.arange(H - 1, -1, -1)).sum(-1)
        counts = np.bincount(idx, minlength=X * V ** H)
        p = (np.exp(m.enumerate_log_probs()) * m.prompt_weights[:, None]).ravel()
        assert stats.chisquare(counts, n * p).pvalue > 1e-6
        wrong = np.roll(p, 1)
        assert stats.chisquare(counts, n * wrong).pvalue < 1e-6                    # power: detects a wrong law
        # rng semantics: same int seed -> same draws; a Generator is advanced, not copied
        a = m.sample(5, rng=3)[1]
        assert np.array_equal(a, m.sample(5, rng=3)[1])
        g = np.random.default_rng(3)
        assert not np.array_equal(m.sample(5, rng=g)[1], m.sample(5, rng=g)[1])
        assert np.array_equal(m.sample(5, rng=np.random.SeedSequence(3))[1], a)


@pytest.mark.parametrize("bad", [1.5, "seed", np.random.RandomState(0), -1, [1, 2]])
def test_sampling_rejects_wrong_rng_types(bad):
    _, _, m = tabular_model(np.random.default_rng(0), 1, 2, 2, 1)
    with pytest.raises((TypeError, ValueError), match="`rng`"):
        m.sample(2, rng=bad)
    with pytest.raises((TypeError, ValueError), match="`rng`"):
        categorical_model([0.5, 0.5]).sample(2, rng=bad)


def test_models_do_not_alias_the_callers_arrays():
    """A frozen model is a snapshot: mutating the arrays it was built from changes neither its attributes nor its numbers."""
    rng = np.random.default_rng(0)
    table = rng.normal(size=(1, 2, 3, 2, 2))
    theta = np.array([0.3, -0.2])
    mu = np.array([1.0])
    m = AutoregressiveLinearModel(TabularFeatures(table, horizon=2), theta=theta, prompt_weights=mu)
    before = m.log_prob([0], [[1, 0]])
    theta[0] = 5.0
    table[...] = 0.0
    assert m.theta[0] == 0.3 and m.features.table.any()
    np.testing.assert_array_equal(m.log_prob([0], [[1, 0]]), before)
    lp = np.log(np.full((1, 1, 3, 2), 0.5))
    mk = MarkovModel(lp, 2)
    lp[...] = np.log([0.9, 0.1])
    np.testing.assert_allclose(np.exp(mk.enumerate_log_probs()), 0.25)
    for arr in (m.theta, m.prompt_weights, m.features.table, mk.log_probs):
        assert not arr.flags.writeable


@pytest.mark.parametrize("call, exc, name", [
    (lambda m: m.log_prob([0], [[0, 2]]), ValueError, "y"),
    (lambda m: m.log_prob([3], [[0, 1]]), ValueError, "x"),
    (lambda m: m.log_prob([0], [[0, 1, 1]]), ValueError, "y"),
    (lambda m: m.log_prob([0], [[0.5, 1]]), TypeError, "y"),
    (lambda m: m.replace(theta=[np.nan]), ValueError, "theta"),
    (lambda m: m.replace(theta=[1.0, 2.0]), ValueError, "theta"),
    (lambda m: m.sample(-1, rng=0), ValueError, "n"),
    (lambda m: m.grad_log_prob([0], [[0, 1]], level="bogus"), ValueError, "level"),
    (lambda m: m.hvp([0], [[0, 1]], [1.0, 2.0]), ValueError, "vector"),
    (lambda m: m.replace(prompt_weights=[0.5, 0.6]), ValueError, "prompt_weights"),
])
def test_model_bad_input_names_the_argument(call, exc, name):
    _, _, m = tabular_model(np.random.default_rng(0), 2, 2, 2, 1)
    with pytest.raises(exc, match=f"`{name}`"):
        call(m)


# =============================================================================== log_ratio/*

@FEW
@given(seed=seeds, X=st.integers(1, 2), H=st.integers(1, 3), V=st.integers(2, 3))
def test_exact_law_kl_and_token_profiles_match_brute_force(seed, X, H, V):
    """exact_log_ratio (coverage, KL), markov_kl, markov_token_kl_profile and path_token_kls against enumeration."""
    rng = np.random.default_rng(seed)
    lpd, lpm, mu = random_markov_pair(rng, X, H, V, zero_frac=0.15)
    seqs, w, z, S_kl, _, ld, lm = ref_path_quantities(lpd, lpm, mu, H)
    d, m = MarkovModel(lpd, H, mu), MarkovModel(lpm, H, mu)
    N = np.array([1.0, 1.7, 5.0, 40.0, np.inf])
    law = exact_log_ratio(d, m)
    want_cov = [(w * (z >= np.log(t))).sum() for t in N]
    np.testing.assert_allclose(law.coverage(N), want_cov, atol=1e-12)
    kl = (w * np.where(w > 0, z, 0.0)).sum() if np.isfinite(z[w > 0]).all() else np.inf
    if np.isfinite(kl):
        assert float(markov_kl(d, m)) == pytest.approx(kl, rel=1e-9, abs=1e-13)
        assert float(law.kl()) == pytest.approx(kl, rel=1e-9, abs=1e-13)
        assert float(markov_token_kl_profile(d, m).sum()) == pytest.approx(kl, rel=1e-9, abs=1e-13)
        with np.errstate(invalid="ignore"):                                     # chain rule (reference itself)
            assert np.where(w > 0, w * S_kl, 0.0).sum() == pytest.approx(kl, rel=1e-9, abs=1e-13)
    else:
        assert markov_kl(d, m) == np.inf
    # per-position expected KL: E[eps_h] for each h by brute force
    prof = np.zeros(H)
    for x in range(X):
        for s, y in enumerate(seqs):
            if w[x, s] > 0:
                prof += w[x, s] * ref_cat_kl(ref_token_dists(lpd, x, y), ref_token_dists(lpm, x, y))
    np.testing.assert_allclose(markov_token_kl_profile(d, m), prof, rtol=1e-9, atol=1e-13)
    xs, ys = np.repeat(np.arange(X), len(seqs)), np.tile(seqs, (X, 1))
    got = path_token_kls(d, m, xs, ys).sum(-1)
    keep = w.ravel() > 0
    np.testing.assert_allclose(got[keep], S_kl.ravel()[keep], rtol=1e-12, atol=1e-14)


@FEW
@given(seed=seeds, X=st.integers(1, 2), H=st.integers(1, 4), V=st.integers(2, 3),
       method=st.sampled_from(["lattice", "fft", "fourier"]))
def test_certified_bounds_bracket_the_brute_force_values(seed, X, H, V, method):
    """lo <= Cov_N <= hi and lo <= D_seq,N <= hi for the enumerated truth (all three certified methods)."""
    rng = np.random.default_rng(seed)
    homogeneous = method != "lattice"
    lpd, lpm, mu = random_markov_pair(rng, X, H, V, zero_frac=0.1, homogeneous=homogeneous)
    _, w, z, S_kl, _, _, _ = ref_path_quantities(lpd, lpm, mu, H)
    d, m = MarkovModel(lpd, H, mu), MarkovModel(lpm, H, mu)
    N = np.array([1.0, 1.3, 2.0, 6.0, 50.0, np.inf])
    truth = np.array([(w * (z >= np.log(t) - 1e-10)).sum() for t in N])
    b = certified_coverage(d, m, N, n_bins=512, method=method)
    assert (b.lo <= truth + 1e-12).all() and (truth <= b.hi + 1e-12).all()
    with np.errstate(invalid="ignore"):
        dseq = np.array([np.where(w > 0, w * np.minimum(np.log(t), S_kl), 0.0).sum() for t in N])
    s = certified_stopped_kl(d, m, N, n_bins=256)
    assert (s.lo <= dseq + 1e-9).all() and (dseq <= s.hi + 1e-9).all()
    # the check has power: a value off by a tenth is outside the bracket at some threshold
    assert not ((b.lo <= truth + 0.1) & (truth + 0.1 <= b.hi)).all()


def test_long_horizon_closed_forms_at_H_1e4():
    """I.i.d. tokens (next-token law independent of prefix), H = 10^4, V = 2: KL = H KL_tok, D_seq,N = min{log N, H KL_tok},
    sigma*^2 = H Var(phi), and Cov_N = P[k a + (H - k) b >= log N], k ~ Bin(H, p) (scipy), all bracketed/equal."""
    H = 10 ** 4
    pd, pm = np.array([0.6, 0.4]), np.array([0.62, 0.38])
    table_d = np.broadcast_to(np.log(pd), (1, 1, 3, 2)).copy()
    table_m = np.broadcast_to(np.log(pm), (1, 1, 3, 2)).copy()
    d, m = MarkovModel(table_d, H), MarkovModel(table_m, H)
    kl_tok = ref_kl(pd, pm)
    assert float(markov_kl(d, m)) == pytest.approx(H * kl_tok, rel=1e-9)
    N = np.array([1.0, 1.5, 2.0, 3.0, 10.0, 1e3])
    a, b = np.log(pd[0] / pm[0]), np.log(pd[1] / pm[1])          # increment for token 0 (a < 0), token 1 (b > 0)
    # Z = k a + (H - k) b >= t  <=>  k <= (H b - t)/(b - a), k = number of token-0 draws ~ Bin(H, 0.6)
    kmax = np.floor((H * b - np.log(N)) / (b - a) + 1e-9)
    truth = stats.binom.cdf(kmax, H, pd[0])
    cert = certified_coverage(d, m, N)
    assert (cert.lo <= truth + 1e-12).all() and (truth <= cert.hi + 1e-12).all() and cert.max_gap < 0.05
    s = certified_stopped_kl(d, m, [2.0, 100.0, np.inf])
    dseq = np.minimum(np.log([2.0, 100.0, np.inf]), H * kl_tok)
    assert (s.lo <= dseq + 1e-9).all() and (dseq <= s.hi + 1e-9).all()
    # sigma*^2 of a linear model with i.i.d. tokens: H Var_{pi}(phi)
    table = np.zeros((1, 1, 3, 2, 1))
    table[..., 1, 0] = 1.0                                        # phi = 1{y_h = 1}
    lin = AutoregressiveLinearModel(TabularFeatures(table, horizon=H), theta=[np.log(pd[1] / pd[0])])
    assert lin.sigma_star_sq() == pytest.approx(H * pd[0] * pd[1], rel=1e-9)
    lp = lin.log_prob(*lin.sample(3, rng=0))
    assert np.isfinite(lp).all()


def test_monte_carlo_law_interval_covers_the_exact_coverage():
    """Clopper-Pearson at level 1 - 1e-6 covers the exact Cov_N (false-fail <= 4e-6 over 4 thresholds);
    with n = 20,000 it excludes the exact value shifted by 0.03 (power check)."""
    rng = np.random.default_rng(2024)
    lpd, lpm, mu = random_markov_pair(rng, 2, 3, 3)
    d, m = MarkovModel(lpd, 3, mu), MarkovModel(lpm, 3, mu)
    N = np.array([1.0, 1.5, 3.0, 10.0])
    exact = exact_log_ratio(d, m).coverage(N)
    law = sampled_log_ratio(d, m, 20_000, rng=np.random.default_rng(99))
    lo, hi = law.coverage_interval(N, level=1 - 1e-6)
    assert ((lo <= exact) & (exact <= hi)).all()
    wrong = np.clip(exact + 0.03, 0, 1)
    assert not ((lo <= wrong) & (wrong <= hi)).any()
    assert law.evaluation == "monte_carlo" and exact_log_ratio(d, m).evaluation == "exact"


def test_batched_models_give_the_rows_of_single_models():
    rng = np.random.default_rng(5)
    lpd, lpm, mu = random_markov_pair(rng, 2, 2, 2)
    lpm2 = random_markov_pair(rng, 2, 2, 2)[1]
    d = MarkovModel(lpd, 2, mu)
    batch = MarkovModel(np.stack([lpm, lpm2]), 2, mu)
    N = [1.0, 2.0, 5.0]
    law = exact_log_ratio(d, batch)
    for i, lp in enumerate((lpm, lpm2)):
        single = MarkovModel(lp, 2, mu)
        np.testing.assert_allclose(law.coverage(N)[i], exact_log_ratio(d, single).coverage(N), atol=1e-14)
        assert markov_kl(d, batch)[i] == pytest.approx(float(markov_kl(d, single)), rel=1e-12)
        np.testing.assert_allclose(exact_stopped_kl(d, batch, N)[i], exact_stopped_kl(d, single, N), rtol=1e-12)


def test_log_ratio_pair_checks_name_the_argument():
    d = categorical_model([0.5, 0.5])
    with pytest.raises(ValueError, match="`data` and `model`"):
        exact_log_ratio(d, categorical_model([0.2, 0.3, 0.5]))
    with pytest.raises(TypeError, match="`model`"):
        markov_kl(d, np.log([0.5, 0.5]))
    with pytest.raises(ValueError, match="`N`"):
        certified_coverage(d, d, 0.5)
    with pytest.raises(ValueError, match="`data`"):
        markov_kl(MarkovModel(np.log(np.full((2, 1, 1, 3, 2), 0.5)), 1), d)     # a batch as data


# ==================================================================================== rates/*

@SOME
@given(n=st.floats(1.0, 1e8), N=st.floats(1.0001, 1e6), s2=st.just(0.0) | st.floats(1e-100, 1e3),
       B=st.just(0.0) | st.floats(1e-100, 10.0),
       H=st.floats(1.0, 1e4), d=st.floats(1.0, 100.0), delta=st.floats(1e-6, 1.0), k=st.floats(1.0, 1e6),
       a=st.floats(0.0, 1.0), best=st.floats(0.0, 1.0), alpha=st.floats(0.0, 1.0), M=st.floats(1.01, 1e6))
def test_rates_are_the_stated_formulas(n, N, s2, B, H, d, delta, k, a, best, alpha, M):
    """Each rate shape / explicit constant transcribed again from the reference notes (constants one where unknown)."""
    L = np.log(N)
    checks = [
        (rates.kl_lower_bound_prop_3_2(n, H=H), H / (4 * n)),
        (rates.high_dim_coverage_lower_bound(n, N=N, H=H), min(1.0, H / (n * L))),
        (rates.coarse_lower_bound_prop_g1(n, d=d), d / n),
        (rates.fine_lower_bound_prop_g1(n, N=N, d=d), d / (n * L)),
        (rates.misspecification_lower_bound(alpha, M=M), alpha ** 2 / np.log(M)),
        (rates.bernoulli_coverage_rate(n, delta=delta), np.log(1 / delta) / n),
        (rates.finite_class_mle_coverage_rate(n, N=N, class_size=k, delta=delta),
         np.log(k) / (n * L) + (np.log(k) + np.log(1 / delta)) / n),
        (rates.linear_mle_coverage_rate(n, N=N, sigma_sq=s2, B=B), np.sqrt(s2 / (n * L)) + B ** 2 / n),
        (rates.ttt_kl_rate(n, sigma_sq=s2, B=B), np.sqrt(s2 / n) + B ** 2 / n),
        (rates.ttt_coverage_rate(n, N=N, sigma_sq=s2, B=B), (np.sqrt(s2 / n) + B ** 2 / n) / L),
        (rates.distillation_coverage_rate(n, N=N, sigma_sq=s2, B=B), np.sqrt(s2 / (n * L)) + B ** 2 / n),
        (rates.tournament_coverage_rate(n, N=N, a=a, class_size=k, best_coverage=best, delta=delta),
         best + N ** (a - 1) + np.log(k / delta) / n),
        (rates.offset_tournament_coverage_rate(n, class_size=k, delta=delta), np.log(k / delta) / n),
        (rates.ttt_kl_bound(n, sigma_sq=s2, eta=0.01), 4 / (0.01 * n) + 2 * 0.01 * s2),
    ]
    with np.errstate(divide="ignore"):
        checks += [
            (rates.ttt_step_size(n, sigma_sq=s2, B=B), min(np.inf if B == 0 else 1 / (2 * B ** 2),
                                                           np.inf if s2 == 0 else (s2 * n) ** -0.5)),
            (rates.distillation_step_size(n, N=N, sigma_sq=s2, B=B),
             min(np.inf if B == 0 else 1 / ((64 * L + 2) * B ** 2), np.inf if s2 == 0 else (n * s2 * L) ** -0.5)),
        ]
    if L > np.log(4.0):
        checks.append((rates.finite_class_mle_coverage_bound(n, N=N, class_size=k, delta=delta),
                       4 * np.log(2 * k / delta) / ((L - np.log(4.0)) * n) + 16 * np.log(4 * k / delta) / n))
    for got, want in checks:
        assert float(got) == pytest.approx(want, rel=1e-10)


def test_rates_broadcast_and_validate():
    n = np.array([10.0, 100.0, 1000.0])[:, None]
    N = np.array([2.0, 8.0])
    got = rates.linear_mle_coverage_rate(n, N=N, sigma_sq=1.0, B=1.0)
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got, np.sqrt(1 / (n * np.log(N))) + 1 / n)
    for call, name in [(lambda: rates.linear_mle_coverage_rate(0, N=2, sigma_sq=1, B=1), "n"),
                       (lambda: rates.linear_mle_coverage_rate(10, N=0.5, sigma_sq=1, B=1), "N"),
                       (lambda: rates.linear_mle_coverage_rate(10, N=2, sigma_sq=np.nan, B=1), "sigma_sq"),
                       (lambda: rates.bernoulli_coverage_rate(10, delta=0.0), "delta"),
                       (lambda: rates.misspecification_lower_bound(1.5, M=2), "alpha"),
                       (lambda: rates.misspecification_lower_bound(0.5, M=1.0), "M"),
                       (lambda: rates.tournament_coverage_rate(10, N=2, a=2, class_size=2, best_coverage=0,
                                                               delta=0.1), "a"),
                       (lambda: rates.finite_class_mle_coverage_bound(10, N=3.0, class_size=2, delta=0.1), "N"),
                       (lambda: rates.finite_class_mle_coverage_bound(10, N=30.0, class_size=2, delta=0.1, C=1.0),
                        "C"),
                       (lambda: rates.ttt_kl_bound(10, sigma_sq=1.0, eta=0.0), "eta")]:
        with pytest.raises(ValueError, match=f"`{name}`"):
            call()
    with pytest.raises(TypeError, match="`n`"):
        rates.bernoulli_coverage_rate("10", delta=0.1)


def test_prop_3_2_construction_reaches_a_smaller_constant_than_H_over_4n():
    """Documented finding: on App. I's construction (mu(1) = 1/(2n), Theta = [-1, 1]) the proper choice theta_hat = 0
    has max over theta* of KL = 0.328 H mu(1) = 0.164 H/n < H/(4n) = kl_lower_bound_prop_3_2."""
    n, H = 50, 10

    def kl_seq(theta_star, theta_hat):
        s = lambda t: np.exp(t) / (np.exp(t) + np.exp(-t))     # noqa: E731  P(y_h = 1) at x = 1
        return H / (2 * n) * ref_kl(np.array([s(theta_star), 1 - s(theta_star)]),
                                    np.array([s(theta_hat), 1 - s(theta_hat)]))
    worst = max(kl_seq(1.0, 0.0), kl_seq(-1.0, 0.0))
    assert worst == pytest.approx(0.1639 * H / n, rel=1e-3)
    assert worst < float(rates.kl_lower_bound_prop_3_2(n, H=H))
    assert "0.164" in rates.kl_lower_bound_prop_3_2.__doc__


def test_fft_certified_bounds_ignore_transitions_only_reachable_through_infinite_ratios():
    """V = 3, model BOS (0, 1/2, 1/2): a first token 0 gives Z = +inf, and afterwards the data never emits 0, so the
    context 'prev = 0' (increments up to log 98) is never reached by a finite path.  The FFT method must then be as
    tight as the lattice on the enumerated truth (it once counted the unreachable increments in the range of Z_r
    and added an aliasing slack of about 0.1 here)."""
    V = 3
    pd = np.empty((1, 1, V + 1, V))
    pm = np.empty_like(pd)
    pd[0, 0, V], pm[0, 0, V] = [0.4, 0.3, 0.3], [0.0, 0.5, 0.5]          # begin of sequence
    pd[0, 0, 0], pm[0, 0, 0] = [0.98, 0.01, 0.01], [0.01, 0.01, 0.98]    # after 0: unreachable on finite paths
    pd[0, 0, 1], pm[0, 0, 1] = [0.0, 0.5, 0.5], [0.3, 0.2, 0.5]
    pd[0, 0, 2], pm[0, 0, 2] = [0.0, 0.7, 0.3], [0.3, 0.6, 0.1]
    H = 4
    d, m = MarkovModel(log(pd), H), MarkovModel(log(pm), H)
    _, w, z, _, _, _, _ = ref_path_quantities(log(pd), log(pm), np.ones(1), H)
    N = np.array([1.0, 1.5, 3.0, 10.0, np.inf])
    truth = np.array([(w * (z >= np.log(t) - 1e-10)).sum() for t in N])
    lat = certified_coverage(d, m, N, n_bins=4096, method="lattice")
    fft = certified_coverage(d, m, N, n_bins=4096, method="fft")
    assert lat.contains(truth, atol=1e-12).all() and fft.contains(truth, atol=1e-12).all()
    assert lat.max_gap < 1e-6 and fft.max_gap < 1e-6


@FEW
@given(seed=seeds, H=st.integers(1, 3), V=st.integers(2, 3), d=st.integers(1, 3))
def test_callable_features_equal_to_a_table_give_the_same_model(seed, H, V, d):
    """The general-feature code path (enumeration, score, Hessian, sigma*^2 by enumeration) agrees with the tabular one."""
    rng = np.random.default_rng(seed)
    table, theta, m = tabular_model(rng, 2, H, V, d)
    f = CallableFeatures(lambda x, prefix, h: table[x, h, prefix[:, -1] if h else np.full(len(x), V)],
                         n_prompts=2, horizon=H, vocab_size=V, dim=d)
    mc = AutoregressiveLinearModel(f, theta=theta, prompt_weights=m.prompt_weights)
    np.testing.assert_allclose(mc.enumerate_log_probs(), m.enumerate_log_probs(), rtol=1e-12, atol=1e-12)
    x, y = m.sample(4, rng=rng)
    np.testing.assert_allclose(mc.grad_log_prob(x, y), m.grad_log_prob(x, y), atol=1e-12)
    np.testing.assert_allclose(mc.hessian_log_prob(x, y), m.hessian_log_prob(x, y), atol=1e-12)
    assert mc.sigma_star_sq() == pytest.approx(m.sigma_star_sq(), rel=1e-10)


@FEW
@given(seed=seeds, X=st.integers(1, 2), H=st.integers(1, 4), V=st.integers(2, 3))
def test_markov_model_marginals_likelihood_and_characteristic_function(seed, X, H, V):
    """state_marginals = P[x, y_{h-1} = prev] and state_visits their sum over h (brute force); log_likelihood =
    sum of log pi(y_i|x_i); phi(t) = E[e^{itZ}; Z < inf] (brute force)."""
    from theory.log_ratio import markov_characteristic_function
    rng = np.random.default_rng(seed)
    lpd, lpm, mu = random_markov_pair(rng, X, H, V, zero_frac=0.15)
    seqs, w, z, _, _, _, _ = ref_path_quantities(lpd, lpm, mu, H)
    d = MarkovModel(lpd, H, mu)
    marg = np.zeros((H, X, V + 1))
    for x in range(X):
        for s, y in enumerate(seqs):
            for h in range(H):
                marg[h, x, V if h == 0 else y[h - 1]] += w[x, s]
    np.testing.assert_allclose(d.state_marginals(), marg, atol=1e-13)
    np.testing.assert_allclose(d.state_visits(), marg.sum(0), atol=1e-12)
    xs, ys = d.sample(7, rng=rng)
    assert d.log_likelihood(xs, ys) == pytest.approx(d.log_prob(xs, ys).sum(), rel=1e-12)
    t = np.array([0.0, 0.3, -1.7, 5.0])
    phi, err = markov_characteristic_function(d, MarkovModel(lpm, H, mu), t)
    fin = np.isfinite(z) & (w > 0)
    want = np.array([(w[fin] * np.exp(1j * tt * z[fin])).sum() for tt in t])
    np.testing.assert_allclose(phi, want, atol=1e-12)
    assert (np.abs(phi - want) <= err + 1e-15).all()


@pytest.mark.parametrize("H", [1, 3, 200, 10 ** 4])          # 10**4: the repeated-squaring path
def test_certified_stopped_kl_is_tight_when_one_token_kl_exceeds_log_N(H):
    """Ber(1/2) vs Ber(0.9) i.i.d. tokens: token KL 0.511 > log 1.5, so every path saturates at the first token and
    D_seq,N = log N exactly for N <= e^0.511.  The bracket must be within the rounding of one step (it once counted
    the clipped excess 0.511 - log 1.5 = 0.105 as rounding error)."""
    d = MarkovModel(np.broadcast_to(np.log([0.5, 0.5]), (1, 1, 3, 2)), H)
    m = MarkovModel(np.broadcast_to(np.log([0.9, 0.1]), (1, 1, 3, 2)), H)
    N = np.array([1.2, 1.5])
    b = certified_stopped_kl(d, m, N)
    assert b.contains(np.log(N), atol=1e-12).all()
    assert b.max_gap <= b.step / 2 + 1e-12


def test_infinite_kl_gives_infinite_stopped_kl_at_N_inf_with_a_zero_gap():
    """pi_D = delta_0, pi = delta_1: KL = inf, D_seq,N = log N for finite N and inf at N = inf; the gap is 0, not NaN."""
    d, m = categorical_model([1.0, 0.0]), categorical_model([0.0, 1.0])
    N = np.array([2.0, 50.0, np.inf])
    b = certified_stopped_kl(d, m, N)
    np.testing.assert_allclose(b.lo, np.log(N))
    np.testing.assert_allclose(b.hi, np.log(N))
    np.testing.assert_array_equal(b.gap, 0.0)
    assert b.max_gap == 0.0
    np.testing.assert_allclose(exact_stopped_kl(d, m, N), np.log(N))
    c = certified_coverage(d, m, [1.0, np.inf])
    np.testing.assert_array_equal(c.lo, [1.0, 1.0])
    np.testing.assert_array_equal(c.hi, [1.0, 1.0])


def test_rates_at_N_one_are_vacuous_or_zero_never_nan():
    """At N = 1 (log N = 0, in every rate's domain) a term x / log N is +inf, or 0 when x = 0 (its limit as N -> 1+),
    with no warning; N = inf gives the limit 0 of the 1/log N terms."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lin = rates.linear_mle_coverage_rate(100, N=[1.0, np.inf], sigma_sq=np.array([[0.0], [1.0]]), B=1.0)
        np.testing.assert_array_equal(lin, [[0.01, 0.01], [np.inf, 0.01]])
        np.testing.assert_array_equal(rates.finite_class_mle_coverage_rate(10, N=1.0, class_size=[1.0, 2.0],
                                                                           delta=1.0), [0.0, np.inf])
        np.testing.assert_array_equal(rates.ttt_coverage_rate(10, N=1.0, sigma_sq=[0.0, 1.0], B=0.0), [0.0, np.inf])
        assert rates.distillation_coverage_rate(100, N=1.0, sigma_sq=0.0, B=1.0) == 0.01
        assert rates.fine_lower_bound_prop_g1(10, N=1.0, d=1) == np.inf
        assert rates.high_dim_coverage_lower_bound(10, N=1.0, H=3) == 1.0
        assert rates.fine_lower_bound_prop_g1(10, N=np.inf, d=1) == 0.0


def test_a_prompt_of_zero_weight_adds_nothing_even_with_infinite_kl():
    """mu = (1, 0) and the second prompt has KL = CE = inf: the averages are those of the first prompt (0*inf is not NaN)."""
    lp = np.log([[0.5, 0.5], [0.5, 0.5]])
    lq = log(np.array([[0.25, 0.75], [1.0, 0.0]]))
    mu = [1.0, 0.0]
    assert div.kl_divergence(lp, lq, prompt_weights=mu) == pytest.approx(ref_kl(np.exp(lp[0]), np.exp(lq[0])))
    assert div.cross_entropy(lp, lq, prompt_weights=mu) == pytest.approx(ref_ce(np.exp(lp[0]), np.exp(lq[0])))
    assert div.squared_hellinger(lp, lq, prompt_weights=mu) == pytest.approx(ref_h2(np.exp(lp[0]), np.exp(lq[0])))
    assert div.total_variation(lp, lq, prompt_weights=mu) == pytest.approx(0.25)
    assert div.kl_divergence(lp, lq, prompt_weights=[0.5, 0.5]) == np.inf


def test_batched_linear_models_paired_and_unpaired():
    """A batch of P models: unpaired results are every model on every path, paired ones model i on x[i]; both equal
    the single models' values (and the equivalent Markov model's)."""
    rng = np.random.default_rng(3)
    table, theta, m = tabular_model(rng, 2, 3, 2, 2, P=3)
    x, y = m.sample(4, rng=0)
    assert x.shape == (3, 4) and y.shape == (3, 4, 3)
    lp_all, lp_p = m.log_prob(x, y), m.log_prob(x, y, paired=True)
    assert lp_all.shape == (3, 3, 4) and lp_p.shape == (3, 4)
    for i in range(3):
        single = AutoregressiveLinearModel(TabularFeatures(table, horizon=3), theta=theta[i],
                                           prompt_weights=m.prompt_weights)
        for j in range(3):
            np.testing.assert_allclose(lp_all[i, j], single.log_prob(x[j], y[j]), rtol=1e-13)
        np.testing.assert_allclose(lp_p[i], lp_all[i, i], rtol=1e-13)
        assert m.log_likelihood(x[i], y[i])[i] == pytest.approx(lp_all[i, i].sum(), rel=1e-12)
        np.testing.assert_allclose(m.grad_log_prob(x, y, paired=True)[i], single.grad_log_prob(x[i], y[i]),
                                   atol=1e-13)
    np.testing.assert_allclose(m.as_markov().log_prob(x, y, paired=True), lp_p, rtol=1e-13)


@settings(max_examples=60, deadline=None)
@given(logn=st.floats(0.0, 18.0), fc=st.floats(0.0, 1.0), fk=st.floats(0.0, 1.0), small=st.booleans())
def test_pass_at_k_against_high_precision_on_random_large_arguments(logn, fc, fk, small):
    """Random (n, c, k) up to 1e18, with c or k small half of the time (both formula branches and d = n - c - k near 0):
    relative error <= 1e-11 against 60-digit log-gamma."""
    n = max(1, int(10 ** logn))
    c = int(round(fc * (20 if small else n)))
    c = min(c, n)
    k = max(1, min(n, int(round(fk * (20 if small else n)))))
    with mpmath.workdps(60):
        if n - c < k or c == 0:
            want = float(c > 0)
        else:
            lg = mpmath.loggamma
            want = float(-mpmath.expm1(lg(n - c + 1) - lg(n - c - k + 1) - lg(n + 1) + lg(n - k + 1)))
    got = bon.pass_at_k(n, c, k)
    assert got == pytest.approx(want, rel=1e-11, abs=1e-300)


def test_markov_lp_bound_with_a_wrong_power_of_N_fails():
    """Negative control of the L_p (Markov) check: on Ber(0.01) vs Ber(0.01/N), Cov_N = 0.01 <= E[r]/N but > E[r]/N^2."""
    N, p = 20.0, 0.01
    pd, pm = bernoulli_witness(p, N)
    z = np.log(pd) - np.log(pm)
    lm = float(bounds.log_density_ratio_moment(z, 1.0, weights=pd))
    assert p <= bounds.markov_lp_coverage_bound(lm, N, 1.0)
    assert not p <= np.exp(lm) / N ** 2


def test_empirical_coverage_zero_over_zero_never_counts_and_positive_over_zero_always_does():
    """Documented convention of Eq. (13)/(28) on samples where a likelihood is 0."""
    ref = [-np.inf, 0.0, -1.0]
    mod = [-np.inf, -np.inf, -1.0]
    np.testing.assert_allclose(cov.empirical_coverage(ref, mod, [1.0, 1e300, np.inf]), [2 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(cov.on_policy_coverage([ref], [mod], [1.0, np.inf]), [2 / 3, 1 / 3])


def test_l2_projection_of_huge_and_tiny_parameters():
    """Proj_{B_2(R)}(theta) = R theta/||theta|| outside the ball even when ||theta||^2 overflows (1e200) or
    underflows (1e-200); before, the first came back as 0 and the second unprojected."""
    np.testing.assert_allclose(projection_l2_ball([1e200, 1e200]), [2 ** -0.5, 2 ** -0.5], rtol=1e-15)
    np.testing.assert_allclose(projection_l2_ball([3e-200, 4e-200], 1e-250), [6e-251, 8e-251], rtol=1e-15)
    np.testing.assert_array_equal(projection_l2_ball([[3.0, 4.0], [0.0, 0.0]], 0.0), 0.0)
    np.testing.assert_array_equal(projection_l2_ball([0.3, 0.4], 1.0), [0.3, 0.4])


def test_fft_certified_bounds_are_as_tight_as_the_lattice_on_short_chains():
    """A short homogeneous chain (X = 2, H = 4, V = 2; drawn once from a fixed seed) whose window is clipped to the
    reachable range of Z: the rounded walk can leave that range by H steps/2, and the FFT method once bounded the
    aliased mass by a Chernoff slack of 0.12 (512 bins) to 0.29 (4096 bins).  Now the window holds the exact range of
    the rounded walk and both methods give the same gaps."""
    rng = np.random.default_rng(235)
    lpd, lpm, mu = random_markov_pair(rng, 2, 4, 2, zero_frac=0.1, homogeneous=True)
    d, m = MarkovModel(lpd, 4, mu), MarkovModel(lpm, 4, mu)
    _, w, z, _, _, _, _ = ref_path_quantities(lpd, lpm, mu, 4)
    N = np.array([1.0, 1.3, 2.0, 6.0, 50.0, np.inf])
    truth = np.array([(w * (z >= np.log(t) - 1e-10)).sum() for t in N])
    for n_bins in (512, 4096):
        lat = certified_coverage(d, m, N, n_bins=n_bins, method="lattice")
        fft = certified_coverage(d, m, N, n_bins=n_bins, method="fft")
        assert fft.contains(truth, atol=1e-12).all()
        np.testing.assert_allclose(fft.gap, lat.gap, atol=1e-9)
