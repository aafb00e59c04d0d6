"""Unit tests of the maximum-likelihood learners (simulations.learners.mle)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import optimize
from scipy.special import log_softmax

from simulations.learners.mle import (convex_mle, finite_class_log_likelihood, finite_class_mle, mixture_mle,
                                      replicate_token_counts, sample_group_counts, sample_replicates,
                                      separable_ball_mle)
from theory import instances
from theory.models import AutoregressiveLinearModel, MarkovModel, TabularFeatures, categorical_model


def _random_markov(rng, p=5, x=2, h=3, v=3):
    lp = log_softmax(rng.normal(size=(p, x, h, v + 1, v)), axis=-1)
    return MarkovModel(lp, h, rng.dirichlet(np.ones(x)))


def test_counts_match_token_counts(rng):
    cls = _random_markov(rng)
    x, y = sample_replicates(cls[0], 17, 4, rng=rng)
    c = replicate_token_counts(cls, x, y)
    for r in range(4):
        np.testing.assert_array_equal(c[r], cls[0].token_counts(x[r], y[r]))


def test_finite_class_loglik_matches_per_sequence_sum(rng):
    cls = _random_markov(rng)
    x, y = sample_replicates(cls[2], 23, 3, rng=rng)
    ll = finite_class_log_likelihood(cls, replicate_token_counts(cls, x, y))
    brute = np.stack([cls.log_prob(x[r], y[r]).sum(-1) for r in range(3)])
    np.testing.assert_allclose(ll, brute, rtol=1e-12, atol=1e-9)
    res = finite_class_mle(cls, x, y)
    np.testing.assert_array_equal(res.index, brute.argmax(1))


def test_tie_rules(rng):
    probs = np.array([[[0.5, 0.5]], [[0.8, 0.2]], [[0.8, 0.2]], [[0.8, 0.2]]])
    cls = categorical_model(probs)
    x = np.zeros((2, 5), int)
    y = np.zeros((2, 5, 1), int)
    assert finite_class_mle(cls, x, y, tie_break="first").index.tolist() == [1, 1]
    assert finite_class_mle(cls, x, y, tie_break="last").index.tolist() == [3, 3]
    res = finite_class_mle(cls, np.zeros((300, 5), int), np.zeros((300, 5, 1), int), tie_break="random", rng=rng)
    assert set(res.index.tolist()) == {1, 2, 3} and (res.n_maximizers == 3).all()
    with pytest.raises(TypeError, match="rng"):
        finite_class_mle(cls, x, y, tie_break="random")
    with pytest.raises(ValueError, match="tie_break"):
        finite_class_mle(cls, x, y, tie_break="best")


def test_zero_probability_member_gets_minus_inf():
    cls = categorical_model(np.array([[[1.0, 0.0]], [[0.5, 0.5]]]))
    res = finite_class_mle(cls, np.zeros((1, 2), int), np.array([[[0], [1]]]))
    assert res.log_likelihood[0, 0] == -np.inf and res.index[0] == 1


def test_convex_mle_box_closed_form_prop_3_2(rng):
    inst = instances.prop_3_2_kl_lower_bound(8, 5, rare_mass=0.5)
    x, y = sample_replicates(inst.data, 8, 50, rng=rng)
    counts = replicate_token_counts(inst.data, x, y)
    res = convex_mle(inst.data.features, counts, constraint="box", low=-1, high=1, tol=1e-10)
    k = counts[:, 1, :, :, 1].sum((1, 2))                               # ones on the rare prompt
    m = counts[:, 1].sum((1, 2, 3))                                     # its tokens
    with np.errstate(divide="ignore", invalid="ignore"):
        closed = np.where(m > 0, np.clip(0.5 * np.log(k / (m - k)), -1, 1), 0.0)
    np.testing.assert_allclose(res.theta[:, 0], closed, atol=1e-7)
    assert res.converged.all()


def test_convex_mle_ball_matches_scipy(rng):
    d, v = 4, 3
    table = rng.normal(size=(2, 1, v + 1, v, d))
    feats = TabularFeatures(table, 3)
    data = AutoregressiveLinearModel(feats, 0.5 * rng.normal(size=d) / np.sqrt(d))
    x, y = sample_replicates(data, 30, 3, rng=rng)
    counts = replicate_token_counts(data, x, y)
    res = convex_mle(feats, counts, constraint="ball", radius=0.7, tol=1e-10)
    for r in range(3):
        def f(t, r=r):
            return -float((counts[r] * log_softmax(np.einsum("xhpvd,d->xhpv", table, t), -1)).sum())
        ref = optimize.minimize(f, np.zeros(d), method="SLSQP", tol=1e-12,
                                constraints=[{"type": "ineq", "fun": lambda t: 0.49 - t @ t}])
        assert -res.log_likelihood[r] <= ref.fun + 1e-7
        np.testing.assert_allclose(res.theta[r], ref.x, atol=1e-4)
    assert (np.linalg.norm(res.theta, axis=1) <= 0.7 + 1e-12).all() and res.converged.all()


def test_convex_mle_validation():
    feats = TabularFeatures(np.zeros((1, 1, 3, 2, 1)), 1)
    with pytest.raises(ValueError, match="constraint"):
        convex_mle(feats, np.zeros((1, 1, 1, 3, 2)), constraint="simplex")
    with pytest.raises(ValueError, match="counts"):
        convex_mle(feats, np.zeros((1, 2, 1, 3, 2)))
    with pytest.raises(TypeError, match="TabularFeatures"):
        convex_mle(None, np.zeros((1, 1, 1, 3, 2)))


@settings(max_examples=10)
@given(st.integers(0, 2 ** 32 - 1))
def test_mixture_mle_kkt_and_likelihood(seed):
    rng = np.random.default_rng(seed)
    comp = np.log(rng.dirichlet(np.ones(6), size=3).T)[None]          # 6 points, 3 components
    mult = rng.integers(0, 5, size=(1, 6)).astype(float)
    mult[0, 0] += 1
    res = mixture_mle(comp, multiplicity=mult, tol=1e-7, max_iter=20000)
    assert res.converged[0]
    w = res.weights[0]
    assert abs(w.sum() - 1) < 1e-12 and (w >= 0).all()
    # No simplex vertex nor the uniform mixture does better (up to the first-order gap of a
    # KKT residual of 1e-7: at most 1e-7 * n * diameter of the simplex).
    def ll(wv):
        return float((mult[0] * np.log(np.exp(comp[0]) @ wv)).sum())
    for cand in list(np.eye(3)) + [np.full(3, 1 / 3)]:
        assert ll(w) >= ll(cand) - 2e-7 * mult.sum()


def _variance_counts(inst, counts):
    """Per-coordinate (ones, trials) of linear_variance_family from transition counts."""
    k = inst.params["n_prompts"]
    sizes = np.array(inst.params["group_sizes"])
    pos = np.repeat(np.arange(sizes.size), sizes)
    tok = counts.sum(3)                                                  # (R, X, H, V)
    ones = np.stack([tok[:, x][:, pos == g, 1].sum(-1) for x in range(k) for g in range(sizes.size)], 1)
    trials = np.stack([tok[:, x][:, pos == g].sum((-1, -2)) for x in range(k) for g in range(sizes.size)], 1)
    return ones, trials


@pytest.mark.parametrize("pivotal, weak, groups, B, n", [(3, 4, 2, 2.0, 6), (4, 0, 1, 1.0, 20), (2, 6, 3, 3.0, 50),
                                                          (5, 2, 1, 1.5, 400)])
def test_separable_ball_mle_matches_convex_mle(pivotal, weak, groups, B, n, rng):
    inst = instances.linear_variance_family(pivotal, weak=weak, weak_groups=groups, B=B)
    data = instances.linear_variance_model(inst)
    x, y = sample_replicates(data, n, 20, rng=rng)
    counts = replicate_token_counts(data, x, y)
    ref = convex_mle(data.features, counts, constraint="ball", radius=1.0, tol=1e-11)
    ones, trials = _variance_counts(inst, counts)
    res = separable_ball_mle(ones, trials, np.tile(inst.params["group_norms"], 2), n, tol=1e-9)
    np.testing.assert_allclose(res.theta, ref.theta, atol=1e-8)
    np.testing.assert_allclose(res.log_likelihood, ref.log_likelihood, rtol=1e-11, atol=1e-9)
    assert res.converged.all() and (np.linalg.norm(res.theta, axis=1) <= 1 + 1e-12).all()


def test_separable_ball_mle_kkt_on_the_sphere(rng):
    ones, trials = sample_group_counts([1] * 64, np.full(64, 0.5), 2, 16, 30, rng=rng)
    res = separable_ball_mle(ones, trials, np.full(128, 2.0), 16, radius=0.5)
    norm = np.linalg.norm(res.theta, axis=1)
    assert res.converged.all() and np.allclose(norm, 0.5)             # 128 coordinates, 16 samples: binds
    grad = 2.0 * (ones - trials * (1 / (1 + np.exp(-2.0 * res.theta))))
    cos = (grad * res.theta).sum(1) / (np.linalg.norm(grad, axis=1) * norm)
    np.testing.assert_allclose(cos, 1.0, atol=1e-8)                      # gradient along the outward normal
    # without the constraint binding: the closed-form logit of the frequencies
    ones, trials = np.array([[3, 5]]), np.array([[10, 10]])
    res = separable_ball_mle(ones, trials, [1.0, 2.0], 10, radius=10.0)
    np.testing.assert_allclose(res.theta[0], [np.log(3 / 7), 0.0], atol=1e-12)


def test_separable_ball_mle_validation():
    with pytest.raises(ValueError, match="ones"):
        separable_ball_mle([[3]], [[2]], [1.0], 2)
    with pytest.raises(ValueError, match="norms"):
        separable_ball_mle([[1]], [[2]], [-1.0], 2)
    with pytest.raises(ValueError, match="n_sequences"):
        separable_ball_mle([[1]], [[2]], [1.0], 0)
    with pytest.raises(ValueError, match="radius"):
        separable_ball_mle([[1]], [[2]], [1.0], 2, radius=0.0)


def test_sample_group_counts_law(rng):
    ones, trials = sample_group_counts([1, 3], [0.2, 0.7], 3, 50, 4000, rng=rng)
    t = trials.reshape(4000, 3, 2)
    assert (t.sum(1) == [50, 150]).all()
    frac = ones.reshape(4000, 3, 2).sum((0, 1)) / t.sum((0, 1))
    np.testing.assert_allclose(frac, [0.2, 0.7], atol=0.01)               # > 10 sd for a binomial mean
    with pytest.raises(ValueError, match="group_probs"):
        sample_group_counts([1, 2], [0.5, 1.5], 1, 5, 2, rng=rng)
