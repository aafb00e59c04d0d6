"""Property tests for :mod:`theory.best_of_n` (hypothesis, small shapes, seeds drawn by hypothesis).

Exact identities (pass@k = subset average, unbiasedness, BoN = Pass@N of the success mass,
E[max] by brute-force enumeration of N-tuples) and the inequalities of Props. F.6/F.7
(ICLR) = D.6/D.7 (arXiv), the derived bound 1 - Pass@N <= Cov_M + exp(-N/M) and the
deterministic-target sandwich, with coverage from :func:`theory.coverage.coverage_profile`.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from theory.best_of_n import (best_of_n_expected_reward, best_of_n_success,
                              bon_necessity_bound, bon_necessity_reward, bon_sufficiency_bound,
                              bon_sufficient_n, deterministic_target_sandwich, pass_at_k,
                              pass_at_n, pass_at_n_coverage_bound)

coverage = pytest.importorskip("theory.coverage")
coverage_profile = coverage.coverage_profile

TOL = 1e-12
seeds = st.integers(0, 2**32 - 1)
common = settings(deadline=None)


# ------------------------------------------------------------------------------ helpers

def random_log_probs(rng, shape, *, scale, zero_frac=0.0):
    """Normalized log-probabilities along the last axis, some exact zeros (``-inf``)."""
    logits = rng.normal(scale=scale, size=shape)
    if zero_frac:
        zero = rng.random(shape) < zero_frac
        keep = rng.integers(shape[-1], size=shape[:-1])            # one survivor per row
        np.put_along_axis(zero, keep[..., None], False, axis=-1)
        logits = np.where(zero, -np.inf, logits)
    return logits - logsumexp(logits, axis=-1, keepdims=True)


def prompt_dist(rng, n_prompts):
    w = rng.dirichlet(np.ones(n_prompts))
    return w / w.sum()


def log_ratio_flat(log_p_target, log_p_model):
    """Flattened log(pi_T / pi_hat), ``-inf`` where pi_T = 0 (weight 0 in coverage)."""
    with np.errstate(invalid="ignore"):
        lr = log_p_target - log_p_model
    return np.where(np.isneginf(log_p_target), -np.inf, lr).ravel()


def joint_weights(mu, log_p_target):
    w = (mu[:, None] * np.exp(log_p_target)).ravel()
    return w / w.sum()


# ------------------------------------------------------------------------------ pass@k

@common
@given(data=st.data())
def test_pass_at_k_is_mean_over_k_subsets(data):
    n = data.draw(st.integers(1, 10), label="n")
    c = data.draw(st.integers(0, n), label="c")
    k = data.draw(st.integers(1, n), label="k")
    items = [1] * c + [0] * (n - c)
    hits = [any(s) for s in itertools.combinations(items, k)]
    assert pass_at_k(n, c, k) == pytest.approx(sum(hits) / len(hits), rel=TOL, abs=TOL)


@common
@given(n=st.integers(1, 60), data=st.data(), q=st.floats(0.0, 1.0))
def test_pass_at_k_is_unbiased(n, data, q):
    k = data.draw(st.integers(1, n), label="k")
    c = np.arange(n + 1)
    pmf = np.array([math.comb(n, j) * q**j * (1 - q) ** (n - j) for j in c])
    mean = np.sum(pmf * pass_at_k(n, c, k))
    assert mean == pytest.approx(1 - (1 - q) ** k, abs=1e-12)


@common
@given(seed=seeds, size=st.integers(1, 40))
def test_pass_at_k_vectorized_equals_elementwise(seed, size):
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 50, size=size)
    c = rng.integers(0, n + 1)
    k = rng.integers(1, n + 1)
    vec = pass_at_k(n, c, k)
    one = np.array([pass_at_k(int(a), int(b), int(d)) for a, b, d in zip(n, c, k)])
    np.testing.assert_array_equal(vec, one)
    assert np.all((vec >= 0) & (vec <= 1))


# ------------------------------------------------------------------------------ Pass@N

@common
@given(seed=seeds, n_prompts=st.integers(1, 6), n_N=st.integers(1, 8),
       log_scale=st.floats(0.0, 300.0))
def test_pass_at_n_in_unit_interval_and_monotone(seed, n_prompts, n_N, log_scale):
    rng = np.random.default_rng(seed)
    q = rng.random(n_prompts) ** rng.uniform(1, 30)                   # some tiny q
    q[rng.random(n_prompts) < 0.2] = 0.0
    q[rng.random(n_prompts) < 0.2] = 1.0
    N = np.sort(np.exp(rng.uniform(0, log_scale, size=n_N)))
    mu = prompt_dist(rng, n_prompts)
    out = pass_at_n(q, N, prompt_weights=mu)
    assert out.shape == (n_N,)
    assert np.all((out >= 0) & (out <= 1))
    assert np.all(np.diff(out) >= -1e-15)
    with np.errstate(divide="ignore"):
        log_fail = np.log1p(-q)
    np.testing.assert_allclose(out, [np.dot(mu, -np.expm1(x * log_fail)) for x in N],
                               rtol=1e-13, atol=1e-300)


@common
@given(seed=seeds, n_prompts=st.integers(1, 5), m=st.integers(1, 6),
       scale=st.floats(0.1, 20.0), zero_frac=st.floats(0.0, 0.6))
def test_best_of_n_success_is_pass_at_n_of_success_mass(seed, n_prompts, m, scale, zero_frac):
    rng = np.random.default_rng(seed)
    lp = random_log_probs(rng, (n_prompts, m), scale=scale, zero_frac=zero_frac)
    r = (rng.random((n_prompts, m)) < 0.4).astype(int)
    mu = prompt_dist(rng, n_prompts)
    N = np.array([1.0, 2.0, 3.0, 10.0, 1e3, 1e8])
    q = (np.exp(lp) * r).sum(axis=1)
    expected = pass_at_n(np.clip(q, 0, 1), N, prompt_weights=mu)
    np.testing.assert_allclose(best_of_n_success(lp, r, N, prompt_weights=mu), expected,
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(best_of_n_expected_reward(lp, r, N, prompt_weights=mu),
                               expected, rtol=1e-10, atol=1e-14)


@common
@given(seed=seeds, n_prompts=st.integers(1, 3), m=st.integers(1, 4), N=st.integers(1, 3),
       ties=st.booleans())
def test_expected_reward_equals_brute_force_over_tuples(seed, n_prompts, m, N, ties):
    rng = np.random.default_rng(seed)
    lp = random_log_probs(rng, (n_prompts, m), scale=1.5, zero_frac=0.3)
    r = rng.random((n_prompts, m))
    if ties:
        r = np.round(r * 2) / 2
    mu = prompt_dist(rng, n_prompts)
    p = np.exp(lp)
    brute = 0.0
    for x in range(n_prompts):
        for tup in itertools.product(range(m), repeat=N):
            brute += mu[x] * math.prod(p[x, list(tup)]) * max(r[x, list(tup)])
    got = best_of_n_expected_reward(lp, r, N, prompt_weights=mu)
    assert got == pytest.approx(brute, rel=1e-12, abs=1e-14)


# ------------------------------------------------------------ coverage-based statements

@common
@given(seed=seeds, n_prompts=st.integers(1, 6), m=st.integers(1, 6),
       scale=st.floats(0.1, 12.0), N=st.integers(1, 300), M=st.floats(1.0, 80.0))
def test_deterministic_target_sandwich_brackets_failure(seed, n_prompts, m, scale, N, M):
    rng = np.random.default_rng(seed)
    lm = random_log_probs(rng, (n_prompts, m), scale=scale, zero_frac=0.2)
    mu = prompt_dist(rng, n_prompts)
    target = rng.integers(m, size=n_prompts)
    lt = np.full((n_prompts, m), -np.inf)
    lt[np.arange(n_prompts), target] = 0.0                       # pi_T = delta_{y*(x)}
    reward = (lt == 0.0).astype(int)
    failure = 1.0 - best_of_n_success(lm, reward, N, prompt_weights=mu)
    q = np.exp(lm[np.arange(n_prompts), target])
    assert failure == pytest.approx(np.dot(mu, (1 - q) ** N), rel=1e-9, abs=1e-13)
    cov = coverage_profile(log_ratio_flat(lt, lm), M, weights=joint_weights(mu, lt))
    lo, hi = deterministic_target_sandwich(cov, N, M)
    assert lo - TOL <= failure <= hi + TOL


@common
@given(seed=seeds, n_prompts=st.integers(1, 6), m=st.integers(2, 7),
       scale=st.floats(0.1, 12.0), N=st.integers(1, 300), M=st.floats(1.0, 80.0))
def test_failure_at_most_coverage_plus_exp(seed, n_prompts, m, scale, N, M):
    rng = np.random.default_rng(seed)
    lm = random_log_probs(rng, (n_prompts, m), scale=scale, zero_frac=0.2)
    mu = prompt_dist(rng, n_prompts)
    correct = rng.random((n_prompts, m)) < 0.5
    correct[np.arange(n_prompts), rng.integers(m, size=n_prompts)] = True
    # pi_T supported on (a subset of) the correct responses.
    lt = random_log_probs(rng, (n_prompts, m), scale=scale, zero_frac=0.3)
    lt = np.where(correct, lt, -np.inf)
    lt[np.arange(n_prompts), np.argmax(correct, axis=1)] = 0.0     # >= 1 support point
    lt = lt - logsumexp(lt, axis=1, keepdims=True)
    failure = 1.0 - best_of_n_success(lm, correct.astype(int), N, prompt_weights=mu)
    cov = coverage_profile(log_ratio_flat(lt, lm), M, weights=joint_weights(mu, lt))
    assert failure <= pass_at_n_coverage_bound(cov, N, M) + TOL


@common
@given(seed=seeds, n_prompts=st.integers(1, 5), m=st.integers(1, 6),
       scale=st.floats(0.1, 12.0), M=st.floats(1.0, 50.0), eps=st.floats(1e-6, 0.9),
       extra=st.integers(0, 50))
def test_sufficiency_prop_f6(seed, n_prompts, m, scale, M, eps, extra):
    """Prop. F.6 / D.6 with a [0, 1] reward and a stochastic comparator pi_T."""
    rng = np.random.default_rng(seed)
    lm = random_log_probs(rng, (n_prompts, m), scale=scale, zero_frac=0.2)
    lt = random_log_probs(rng, (n_prompts, m), scale=scale, zero_frac=0.2)
    mu = prompt_dist(rng, n_prompts)
    r = rng.random((n_prompts, m))
    r[rng.random((n_prompts, m)) < 0.3] = 0.0
    N = bon_sufficient_n(M, eps) + extra
    cov = coverage_profile(log_ratio_flat(lt, lm), M, weights=joint_weights(mu, lt))
    value_target = np.dot(mu, (np.exp(lt) * r).sum(axis=1))
    subopt = value_target - best_of_n_expected_reward(lm, r, N, prompt_weights=mu)
    if cov <= 0.5:
        assert subopt <= bon_sufficiency_bound(cov, eps) + TOL
    # The derived form behind it holds for every instance (no Cov_M <= 1/2 needed).
    assert subopt <= pass_at_n_coverage_bound(cov, N, M) + TOL


@common
@given(seed=seeds, n_prompts=st.integers(1, 5), m=st.integers(1, 6),
       scale=st.floats(0.1, 12.0), N=st.integers(1, 200))
def test_necessity_witness_prop_f7(seed, n_prompts, m, scale, N):
    rng = np.random.default_rng(seed)
    lm = random_log_probs(rng, (n_prompts, m), scale=scale, zero_frac=0.3)
    lt = random_log_probs(rng, (n_prompts, m), scale=scale, zero_frac=0.3)
    mu = prompt_dist(rng, n_prompts)
    S = bon_necessity_reward(lt, lm, N)
    assert S.shape == (n_prompts, m) and set(np.unique(S)) <= {0, 1}
    value_target = np.dot(mu, (np.exp(lt) * S).sum(axis=1))      # E_x pi_T(S_x | x)
    subopt = value_target - best_of_n_success(lm, S, N, prompt_weights=mu)
    cov_2n = coverage_profile(log_ratio_flat(lt, lm), 2 * N, weights=joint_weights(mu, lt))
    # The witness set carries exactly the Cov_{2N} mass under pi_T ...
    assert value_target == pytest.approx(cov_2n, abs=1e-12)
    # ... and Best-of-N loses at least half of it.
    assert subopt >= bon_necessity_bound(cov_2n) - TOL
