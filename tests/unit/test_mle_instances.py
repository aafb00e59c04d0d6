"""Exact evaluators of the Section 4 constructions against enumeration, and count-law identities."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from theory import instances
from theory.count_law import count_log_ratio_law, count_vectors, group_sequence_log_probs, grouped_count_support
from theory.instances.mle import (finite_ladder_exact, finite_ladder_mle_coverage, grouped_exact_law, linear_variance_kl,
                                 linear_variance_monte_carlo_coverage, prop_k1_monte_carlo_coverage)
from theory.log_ratio import clopper_pearson, exact_log_ratio, markov_kl

NS = [1.5, 2.0, 8.0, 64.0]


@given(st.integers(0, 6), st.integers(1, 4))
def test_count_vectors_total_mass(m, v):
    c, lm = count_vectors(m, v)
    assert (c.sum(1) == m).all() and len(np.unique(c, axis=0)) == len(c)
    assert np.isclose(np.exp(lm).sum(), v ** m)


@settings(max_examples=15)
@given(st.integers(0, 2 ** 32 - 1))
def test_grouped_law_is_a_probability_law(seed):
    rng = np.random.default_rng(seed)
    c, lm = grouped_count_support([2, 3], 2)
    lp = np.log(rng.dirichlet(np.ones(2), size=(2, 2)))          # (X, G, V)
    d = group_sequence_log_probs(lp, c)
    law = count_log_ratio_law(d, d, lm, [0.3, 0.7])
    assert np.isclose(law.weights.sum(), 1.0) and np.allclose(law.values, 0.0)


def test_ladder_closed_form_matches_enumeration():
    inst = instances.finite_ladder_class(n_levels=3, horizon=5, ratio=7.0)
    cov, kl = finite_ladder_exact(inst, NS)
    law = exact_log_ratio(inst.data, inst.model_class)
    np.testing.assert_allclose(cov, law.coverage(NS), atol=1e-12)
    np.testing.assert_allclose(kl, markov_kl(inst.data, inst.model_class), atol=1e-12)


def _ladder_mle_check(inst, ns, approx, rng, reps=2000):
    """Monte Carlo mean of the real MLE's exact coverage against ``approx`` (n, N): True iff every
    difference is within 10% of the value (the approximation's error) + 4.5 standard errors."""
    from simulations.learners.mle import finite_class_mle, sample_replicates

    cov, _ = finite_ladder_exact(inst, [8.0, 64.0])
    ok = []
    for n, a in zip(ns, approx):
        x, y = sample_replicates(inst.data, n, reps, rng=rng)
        c = cov[finite_class_mle(inst.model_class, x, y, tie_break="first", rng=rng).index]
        ok.append(np.abs(c.mean(0) - a) <= 0.1 * a + 4.5 * c.std(0, ddof=1) / np.sqrt(reps))
    return bool(np.all(ok))


def test_ladder_mle_coverage_approximation_matches_the_mle(rng):
    # false-fail rate: 4 checks at 4.5 standard errors (< 1e-4), beyond the 10% the approximation is allowed
    inst = instances.finite_ladder_class(n_levels=4, horizon=16, ratio=10.0, q_min=1e-3 / 16)
    ns = [30, 100]
    assert _ladder_mle_check(inst, ns, finite_ladder_mle_coverage(inst, ns, [8.0, 64.0]), rng)
    # negative control: the approximation at twice the sample size (a slope-1 error of a factor 2) is rejected
    assert not _ladder_mle_check(inst, ns, finite_ladder_mle_coverage(inst, [2 * n for n in ns], [8.0, 64.0]), rng)
    with pytest.raises(ValueError, match="`n`"):
        finite_ladder_mle_coverage(inst, [0, 10], [8.0])


@pytest.mark.parametrize("make", [
    lambda: instances.finite_rare_prompt_class(6, 40),
    lambda: instances.prop_3_2_kl_lower_bound(10, 6, rare_mass=0.2),
    lambda: instances.linear_pivotal_family(6, n_prompts=3, pivotal=2),
    lambda: instances.linear_pivotal_family(5, n_prompts=2),
    lambda: instances.prop_g1a(10, 5),
])
def test_grouped_exact_law_matches_enumeration(make, rng):
    inst = make()
    th = np.atleast_2d(np.asarray(inst.model_class.theta))[:1]
    th = th + 0.3 * rng.standard_normal((4, th.shape[1]))
    law = grouped_exact_law(inst, th)
    ref = exact_log_ratio(inst.data, inst.model_class.replace(theta=th))
    np.testing.assert_allclose(law.coverage(NS), ref.coverage(NS), atol=1e-12)
    np.testing.assert_allclose(law.kl(), ref.kl(), atol=1e-12)


def test_prop_g1b_and_g2_coverage_formulas():
    inst = instances.prop_g1b(128, 3, 16.0)
    cov = exact_log_ratio(inst.data, inst.model_class).coverage(16.0)
    assert cov[0] == 0 and np.allclose(cov[1:], inst.params["p"] / 2)
    g2 = instances.prop_g2_misspecified(0.5, 64.0)
    cov = exact_log_ratio(g2.data, g2.model_class).coverage(np.array([2.0, 32.0]))
    assert (cov[0] == 0).all() and np.allclose(cov[1], g2.params["p"] / 2)
    assert np.isclose(g2.params["p"] / 2 * np.log(64.0) / 0.25, 1 / 64)


def test_prop_k1_monte_carlo_brackets_exact(rng):
    inst = instances.prop_k1_high_dim(40, 8, 8.0)
    theta = np.asarray(inst.data.theta)[None] * np.array([[1, -1, 1, -1, 1, -1, 1, -1]]) * 0.5
    exact = exact_log_ratio(inst.data, inst.model_class.replace(theta=theta))
    hits, kl = prop_k1_monte_carlo_coverage(inst, theta, [8.0], 20000, rng=rng)
    lo, hi = clopper_pearson(hits[0, 0], 20000, level=1 - 1e-6)
    p = inst.params["p"]
    assert p * lo <= exact.coverage(8.0)[0] <= p * hi
    np.testing.assert_allclose(kl, exact.kl(), rtol=1e-10)


def test_prop_3_2_kl_formula():
    inst = instances.prop_3_2_kl_lower_bound(16, 32)
    law = grouped_exact_law(inst, [[0.0]])
    rho = 1 / 32
    p = 1 / (1 + np.exp(-2.0))
    kl_tok = p * np.log(2 * p) + (1 - p) * np.log(2 * (1 - p))
    assert np.isclose(law.kl()[0], 32 * rho * kl_tok) and abs(kl_tok - 0.328) < 1e-3


def test_mixture_class_law_sums_to_one():
    inst = instances.mixture_convex_class(6)
    comp = np.array(inst.params["component_log_probs"])
    lm = np.array(inst.params["log_mult"])
    assert np.allclose(np.exp(comp + lm[:, None]).sum(0), 1.0)
    assert np.allclose(stats.binom.pmf(np.arange(7), 6, inst.params["q"][0]), np.exp(comp[:, 0] + lm))


@pytest.mark.parametrize("kw", [dict(pivotal=3, weak=2), dict(pivotal=2, weak=6, weak_groups=3, B=3.0),
                                dict(pivotal=4, n_prompts=3, pivotal_logit=0.5)])
def test_linear_variance_family_closed_forms(kw, rng):
    inst = instances.linear_variance_family(**kw)
    data = instances.linear_variance_model(inst)
    assert np.isclose(float(data.sigma_star_sq()), inst.params["sigma_star_sq"], rtol=1e-12)
    assert np.isclose(np.linalg.norm(np.asarray(data.theta)), inst.params["theta_star_norm"])
    assert np.isclose(np.abs(data.features.table).max(), inst.params["B"])
    th = 0.3 * rng.standard_normal((3, inst.params["dim"]))
    exact = exact_log_ratio(data, data.replace(theta=th))
    np.testing.assert_allclose(linear_variance_kl(inst, th), exact.kl(), atol=1e-12)
    hits = linear_variance_monte_carlo_coverage(inst, th, [1.2, 2.0], 20000, rng=rng)
    lo, hi = clopper_pearson(hits, 20000, level=1 - 1e-6)
    cov = exact.coverage([1.2, 2.0])
    assert ((lo <= cov) & (cov <= hi)).all(), (cov, hits / 20000)


def test_linear_variance_family_validation():
    with pytest.raises(ValueError, match="weak_groups"):
        instances.linear_variance_family(4, weak=6, weak_groups=4)
    with pytest.raises(ValueError, match="pivotal_logit"):
        instances.linear_variance_family(16, B=1.0, pivotal_logit=1.0)       # ||theta_star|| > 1
    with pytest.raises(ValueError, match="B"):
        instances.linear_variance_family(4, B=0.5)
    inst = instances.linear_variance_family(4)
    with pytest.raises(ValueError, match="theta"):
        linear_variance_kl(inst, np.zeros(3))
    with pytest.raises(TypeError, match="rng"):
        linear_variance_monte_carlo_coverage(inst, np.zeros(8), [2.0], 10, rng=0.5)


def test_monte_carlo_coverage_accepts_every_seed_form():
    """SPEC 7: an int seed, a SeedSequence and a Generator seeded alike give the same draws."""
    inst = instances.linear_variance_family(4)
    theta = 0.3 * np.ones(8)
    ref = linear_variance_monte_carlo_coverage(inst, theta, [1.1, 2.0], 500, rng=np.random.default_rng(3))
    for seed in (3, np.random.SeedSequence(3)):
        np.testing.assert_array_equal(
            linear_variance_monte_carlo_coverage(inst, theta, [1.1, 2.0], 500, rng=seed), ref)
    k1 = instances.prop_k1_high_dim(40, 8, 8.0)
    th = np.zeros(8)
    a = prop_k1_monte_carlo_coverage(k1, th, [1.5], 300, rng=5)
    b = prop_k1_monte_carlo_coverage(k1, th, [1.5], 300, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(TypeError, match="rng"):
        prop_k1_monte_carlo_coverage(k1, th, [1.5], 300, rng="seed")
