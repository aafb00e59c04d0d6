"""Hellinger statements: Prop. F.4 / D.4, Lemma J.1, finite-class MLE (Prop. F.8 / D.8 core)."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from scipy.special import gammaln, logsumexp

from bounds_strategies import coverage, distribution_pairs, distribution_tuples, leq, thresholds
from theory.bounds import (_compositions, finite_class_mle_failure_probability,
                           finite_class_mle_hellinger_bound, hellinger_to_coverage,
                           lemma_j1_clipped_exponential)
from theory.instances.witnesses import bernoulli_witness, lemma_j1_witness
from theory.coverage import coverage_profile
from theory.divergences import squared_hellinger


# ----------------------------------------------------------------------------- Prop F.4
@given(distribution_pairs(), thresholds)
def test_prop_f4_holds(pair, N):
    data, model = pair
    h2 = squared_hellinger(data.log_p, model.log_p, prompt_weights=data.mu)
    assert np.all(leq(coverage(data, model, N), hellinger_to_coverage(h2, N)))


@given(st.floats(1e-12, 1e-6), st.floats(np.log(1.5), 30.0).map(np.exp))
def test_prop_f4_attained_on_witness(p, N):
    # D_H^2 = (p (1 - N^-1/2)^2 + h0)/2 with h0 <= p^2/(4(1 - p)), so
    # Cov/bound >= 1 - p/(4 (1 - p) (1 - N^-1/2)^2).
    w = bernoulli_witness(p, N)
    cov = coverage_profile(w.log_ratio, N, weights=[p, 1 - p])
    ratio = cov / hellinger_to_coverage(w.hellinger_sq, N)
    slack = p / (4 * (1 - p) * (1 - N ** -0.5) ** 2)
    assert 1 - slack - 1e-9 <= ratio <= 1 + 1e-9
    assert abs(w.hellinger_sq - squared_hellinger(w.log_p_data, w.log_p_model)) <= 1e-12 + 1e-6 * w.hellinger_sq


# ----------------------------------------------------------------------------- Lemma J.1
@given(distribution_pairs(), st.floats(np.log(4.0), 40.0))
def test_lemma_j1_holds(pair, C):
    data, model = pair
    val = lemma_j1_clipped_exponential(data.log_p, model.log_p, C, prompt_weights=data.mu)
    assert leq(val, 1.0)


@given(st.floats(-5.0, np.log(4.0)))
def test_lemma_j1_constant_log4_is_exact(C):
    w = lemma_j1_witness(C)
    val = lemma_j1_clipped_exponential(w.log_p_data, w.log_p_model, C)
    excess = (np.exp(C / 2) - 2) ** 2 / (4 * np.exp(C / 2))
    assert abs(val - (1 + excess)) <= 1e-12
    if C < np.log(4.0) - 1e-6:
        assert val > 1.0                          # the lemma fails below log 4


def test_lemma_j1_equality_at_log4():
    w = lemma_j1_witness(np.log(4.0))
    assert abs(lemma_j1_clipped_exponential(w.log_p_data, w.log_p_model, np.log(4.0)) - 1.0) <= 1e-12


# ------------------------------------------------------------- finite-class MLE (F.8)
def _brute_force_failure(log_class, mu, n, bound):
    """Independent check: enumerate every sample sequence of (prompt, response) cells."""
    K = log_class.shape[0]
    log_joint = (np.log(mu)[None, :, None] + log_class).reshape(K, -1)
    h2 = np.array([squared_hellinger(log_class[0], log_class[k], prompt_weights=mu) for k in range(K)])
    total = 0.0
    for seq in itertools.product(range(log_joint.shape[1]), repeat=n):
        ll = log_joint[:, list(seq)].sum(axis=1)
        if not np.isfinite(ll[0]):
            continue
        best = ll.max()
        if ((ll >= best - 1e-9 * max(1.0, abs(best))) & (h2 > bound)).any():
            total += np.exp(ll[0])
    return total


@given(distribution_tuples(4, zeros_allowed=(False, True, True, True), max_points=3, max_prompts=2),
       st.integers(1, 8), st.floats(0.01, 0.5))
def test_finite_class_mle_hellinger_bound_holds(members, n, delta):
    log_class = np.stack([d.log_p for d in members])
    mu = members[0].mu
    bound = finite_class_mle_hellinger_bound(n, len(members), delta)
    assert finite_class_mle_failure_probability(log_class, n, bound, prompt_weights=mu) <= delta + 1e-12


@pytest.mark.parametrize("n, delta", [(400, 1e-6), (1000, 1e-6), (200, 1e-4), (2000, 1e-8)])
def test_finite_class_mle_constant_cannot_be_halved(n, delta):
    # Class {Ber(1/2 + e), Ber(1/2 - e)} with D_H^2 = half the bound: the MLE picks the wrong
    # member (ties adversarial) with probability P[Bin(n, 1/2 + e) <= n/2] > delta.
    half = 0.5 * finite_class_mle_hellinger_bound(n, 2, delta)
    eps = 0.5 * np.sqrt(1 - (1 - half) ** 2)              # 1 - sqrt(1 - 4 e^2) = half
    h2 = squared_hellinger(np.log([0.5 + eps, 0.5 - eps]), np.log([0.5 - eps, 0.5 + eps]))
    assert abs(h2 - half) <= 1e-12
    assert stats.binom.cdf(n // 2, n, 0.5 + eps) > delta
    # while at the full bound the same event has probability <= delta (the statement)
    full = 2 * half
    eps_f = 0.5 * np.sqrt(1 - (1 - full) ** 2)
    assert stats.binom.cdf(n // 2, n, 0.5 + eps_f) <= delta


@given(distribution_tuples(3, zeros_allowed=(False, True, True), max_points=3, max_prompts=2),
       st.integers(1, 4), st.floats(0.0, 0.6))
def test_mle_failure_probability_matches_brute_force(members, n, level):
    log_class = np.stack([d.log_p for d in members])
    mu = members[0].mu
    exact = finite_class_mle_failure_probability(log_class, n, level, prompt_weights=mu)
    assert abs(exact - _brute_force_failure(log_class, mu, n, level)) <= 1e-12


def test_compositions_enumerate_all():
    c = _compositions(5, 3)
    assert c.shape == (21, 3) and (c.sum(1) == 5).all() and len({tuple(r) for r in c}) == 21
    assert abs(logsumexp(gammaln(6) - gammaln(c + 1).sum(1) + c @ np.log([0.2, 0.3, 0.5]))) < 1e-12
