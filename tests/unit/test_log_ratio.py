"""Unit tests of :mod:`theory.log_ratio` and :mod:`theory.intervals`."""

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from theory.instances import bernoulli_witness
from theory.intervals import clopper_pearson
from theory.log_ratio import (LogRatioLaw, exact_log_ratio, exact_stopped_kl, markov_kl,
                              markov_token_kl_profile, path_token_kls, sampled_log_ratio)
from theory.models import AutoregressiveLinearModel, MarkovModel, TabularFeatures, categorical_model


def bern_chain(a, H, P=None):
    """I.i.d. Ber(a) tokens as a Markov model (a may be a vector: a batch)."""
    a = np.atleast_1d(a)
    with np.errstate(divide="ignore"):
        lp = np.log(np.stack([1 - a, a], -1))                      # (P, 2)
    table = np.broadcast_to(lp[:, None, None, None, :], (len(a), 1, 1, 3, 2))
    return MarkovModel(table if P else table[0], H)


def kl_bern(a, b):
    return a * np.log(a / b) + (1 - a) * np.log((1 - a) / (1 - b))


def test_exact_law_of_the_witness():
    p, N = 0.2, 8.0
    inst = bernoulli_witness(p, N)
    law = exact_log_ratio(inst.data, inst.model_class)
    assert law.evaluation == "exact"
    np.testing.assert_allclose(law.weights, [1 - p, p], rtol=1e-14)
    np.testing.assert_allclose(law.values, [np.log((1 - p) / (1 - p / N)), np.log(N)], rtol=1e-14)
    np.testing.assert_allclose(law.coverage(N), p, rtol=1e-14)
    np.testing.assert_allclose(law.kl(), kl_bern(p, p / N), rtol=1e-12)
    lo, hi = law.coverage_interval(N)
    assert lo == hi == law.coverage(N)


def test_zero_probability_sequences_are_dropped_and_missing_mass_is_infinite():
    data = bern_chain(0.0, 3)                                     # always 000: one support point
    law = exact_log_ratio(data, bern_chain(0.5, 3))
    assert law.n_points == 1
    np.testing.assert_allclose(law.values, [3 * np.log(2)], rtol=1e-14)
    law = exact_log_ratio(bern_chain(0.5, 2), bern_chain(0.0, 2))
    assert law.n_points == 4
    np.testing.assert_array_equal(np.isinf(law.values), [False, True, True, True])
    assert law.kl() == np.inf
    assert law.coverage(np.inf) == 0.75


def test_batched_law_shapes_and_values():
    b = np.array([0.1, 0.5, 0.9])
    law = exact_log_ratio(bern_chain(0.3, 2), bern_chain(b, 2, P=True))
    assert law.values.shape == (3, 4)
    assert law.coverage([1.0, 2.0]).shape == (3, 2)
    np.testing.assert_allclose(law.kl(), 2 * kl_bern(0.3, b), rtol=1e-12)
    np.testing.assert_allclose(markov_kl(bern_chain(0.3, 2), bern_chain(b, 2, P=True)), 2 * kl_bern(0.3, b),
                               rtol=1e-12)
    assert exact_stopped_kl(bern_chain(0.3, 2), bern_chain(b, 2, P=True), [1.0, 2.0, np.inf]).shape == (3, 3)


def test_law_is_frozen_serialisable_and_validated():
    law = exact_log_ratio(categorical_model([0.3, 0.7]), categorical_model([0.5, 0.5]))
    with pytest.raises(ValueError):
        law.values[0] = 1.0
    d = law.to_dict()
    json.dumps(d)
    assert d["evaluation"] == "exact" and len(d["values"]) == 2
    with pytest.raises(ValueError, match="`evaluation`"):
        LogRatioLaw(np.zeros(2), None, "guessed")


def test_sampled_law_uses_the_data_samples():
    data = bern_chain(0.3, 4)
    model = bern_chain(0.6, 4)
    law = sampled_log_ratio(data, model, 500, rng=np.random.default_rng(7))
    assert law.evaluation == "monte_carlo" and law.weights is None and law.n_points == 500
    x, y = data.sample(500, rng=np.random.default_rng(7))
    np.testing.assert_allclose(law.values, data.log_prob(x, y) - model.log_prob(x, y), rtol=1e-14)
    k = y.sum(1)
    np.testing.assert_allclose(law.values, k * np.log(0.3 / 0.6) + (4 - k) * np.log(0.7 / 0.4), rtol=1e-12)
    N = [1.0, 2.0, 5.0]
    cov = law.coverage(N)
    lo, hi = law.coverage_interval(N, level=0.9)
    counts = np.rint(cov * 500).astype(int)
    elo, ehi = clopper_pearson(counts, 500, level=0.9)
    np.testing.assert_array_equal(lo, elo)
    np.testing.assert_array_equal(hi, ehi)
    np.testing.assert_allclose(law.kl(), law.values.mean(), rtol=1e-14)


def test_path_token_kls_iid():
    data, model = bern_chain(0.3, 3), bern_chain(np.array([0.1, 0.6]), 3, P=True)
    x = np.zeros(5, int)
    y = np.random.default_rng(0).integers(0, 2, size=(5, 3))
    eps = path_token_kls(data, model, x, y)
    assert eps.shape == (2, 5, 3)
    np.testing.assert_allclose(eps, np.broadcast_to(kl_bern(0.3, np.array([0.1, 0.6]))[:, None, None],
                                                    (2, 5, 3)), rtol=1e-12)
    np.testing.assert_allclose(markov_token_kl_profile(data, model),
                               np.repeat(kl_bern(0.3, np.array([0.1, 0.6]))[:, None], 3, axis=1), rtol=1e-12)


def test_exact_stopped_kl_iid_by_hand():
    """S = H kl(a, b) is deterministic for i.i.d. chains: D_seq,N = min(log N, H kl)."""
    a, b, H = 0.3, 0.6, 3
    s = H * kl_bern(a, b)
    N = np.array([1.0, 1.2, np.exp(s) * 2, np.inf])
    np.testing.assert_allclose(exact_stopped_kl(bern_chain(a, H), bern_chain(b, H), N),
                               np.minimum(np.log(N), s), rtol=1e-12)


def test_time_homogeneous_and_inhomogeneous_models_mix():
    rng = np.random.default_rng(2)
    H = 3
    feats_h = TabularFeatures(rng.normal(size=(2, 1, 3, 2, 2)), horizon=H)      # homogeneous
    feats_i = TabularFeatures(rng.normal(size=(2, H, 3, 2, 2)), horizon=H)      # inhomogeneous
    data = AutoregressiveLinearModel(feats_h, rng.normal(size=2))
    model = AutoregressiveLinearModel(feats_i, rng.normal(size=2))
    np.testing.assert_allclose(markov_kl(data, model), exact_log_ratio(data, model).kl(), rtol=1e-10)
    np.testing.assert_allclose(markov_kl(model, data), exact_log_ratio(model, data).kl(), rtol=1e-10)


@pytest.mark.parametrize("k,n", [(0, 1), (0, 10), (3, 10), (10, 10), (57, 200), (1, 100000)])
@pytest.mark.parametrize("level", [0.9, 0.999999])
def test_clopper_pearson_matches_scipy(k, n, level):
    lo, hi = clopper_pearson(k, n, level=level)
    ref = binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    # scipy finds the roots with brentq (absolute xtol 2e-12), hence the absolute slack.
    np.testing.assert_allclose([lo, hi], [ref.low, ref.high], rtol=1e-7, atol=1e-11)


def test_clopper_pearson_closed_forms_at_the_edges_and_vectorised():
    # k = 0: hi solves (1 - hi)^n = alpha/2;  k = n: lo solves lo^n = alpha/2.
    n, level = 20, 0.95
    alpha = 1 - level
    lo, hi = clopper_pearson(0, n, level=level)
    assert lo == 0.0
    np.testing.assert_allclose(hi, 1 - (alpha / 2) ** (1 / n), rtol=1e-12)
    lo, hi = clopper_pearson(n, n, level=level)
    assert hi == 1.0
    np.testing.assert_allclose(lo, (alpha / 2) ** (1 / n), rtol=1e-12)
    # k = 1: lo solves 1 - (1 - lo)^n = alpha/2;  k = n - 1: hi solves 1 - hi^n = alpha/2 (tiny values
    # where root finders with an absolute tolerance are inaccurate).
    for n, level in [(20, 0.95), (100000, 1 - 1e-6)]:
        alpha = 1 - level
        lo, _ = clopper_pearson(1, n, level=level)
        np.testing.assert_allclose(lo, -np.expm1(np.log1p(-alpha / 2) / n), rtol=1e-10)
        _, hi = clopper_pearson(n - 1, n, level=level)
        np.testing.assert_allclose(hi, np.exp(np.log1p(-alpha / 2) / n), rtol=1e-12)
    lo, hi = clopper_pearson(np.array([[0, 5], [10, 20]]), 20)
    assert lo.shape == hi.shape == (2, 2)
    assert np.all(lo <= hi)
