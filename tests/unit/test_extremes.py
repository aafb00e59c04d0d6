"""Extreme inputs: logits up to +-1e4 and horizons up to H = 10^4.

Every computation runs under ``warnings`` as errors and ``np.errstate(divide, over, invalid =
"raise")``.  Underflow is *not* raised: ``exp(-1e4) = 0`` in double precision is the correct
rounding of a probability below 1e-4300, not an error.

Closed forms (derived by hand):

* one-hot features ``phi(y_h) = e_{y_h}`` make the tokens i.i.d. ``softmax(theta)``: the
  sequence log-probability is the sum of the token log-probabilities, and with
  ``theta = (1e4, -1e4, 0)``, ``log softmax = (0, -2e4, -1e4)`` exactly in floating point;
* constant features (equal for every candidate token) give the uniform law, ``-H log V``;
* i.i.d. Bernoulli data/model: ``log pi_D/pi_hat = k log(p/q) + (H - k) log((1-p)/(1-q))``
  with ``k`` the number of ones, and ``KL = H kl(p, q)``.
"""

import warnings
from contextlib import contextmanager

import numpy as np
import pytest

from theory.coverage import coverage_profile, empirical_coverage, per_prompt_coverage
from theory.divergences import kl_divergence, squared_hellinger, stopped_kl, total_variation
from theory.log_ratio import exact_log_ratio, markov_kl, markov_token_kl_profile, sampled_log_ratio
from theory.models import AutoregressiveLinearModel, CallableFeatures, TabularFeatures

H_LONG = 10 ** 4
EXTREME = np.array([1e4, -1e4, 0.0])
EXTREME_LOGSOFTMAX = np.array([0.0, -2e4, -1e4])


@contextmanager
def strict():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
            yield


def onehot_features(V, H):
    t = np.zeros((1, 1, V + 1, V, V))
    t[..., np.arange(V), np.arange(V)] = 1.0
    return TabularFeatures(t, horizon=H)


def onehot_callable(V, H):
    eye = np.eye(V)
    return CallableFeatures(lambda x, prefix, h: np.broadcast_to(eye, (len(x), V, V)), 1, H, V, V, bound=1.0)


@pytest.mark.parametrize("H", [1, 50, H_LONG])
def test_extreme_logits_give_exact_finite_log_probabilities(H):
    rng = np.random.default_rng(H)
    model = AutoregressiveLinearModel(onehot_features(3, H), EXTREME)
    y = rng.integers(0, 3, size=(4, H))
    x = np.zeros(4, int)
    with strict():
        tok = model.token_log_probs(x, y)
        lp = model.log_prob(x, y)
        grad = model.grad_log_prob(x, y)
        hess = model.hessian_log_prob(x, y)
        lik = model.log_likelihood(x, y)
    np.testing.assert_array_equal(tok, EXTREME_LOGSOFTMAX[y])
    np.testing.assert_allclose(lp, EXTREME_LOGSOFTMAX[y].sum(1), rtol=1e-15)
    assert np.all(np.isfinite(lp))
    # softmax is (1, 0, 0) in floating point: score sum_h (e_{y_h} - e_0), Hessian 0
    np.testing.assert_array_equal(grad, np.eye(3)[y].sum(1) - H * np.eye(3)[0])
    np.testing.assert_array_equal(hess, 0.0)
    np.testing.assert_allclose(lik, lp.sum(), rtol=1e-15)


def test_extreme_logits_callable_features_long_horizon():
    model = AutoregressiveLinearModel(onehot_callable(3, H_LONG), EXTREME)
    y = np.random.default_rng(0).integers(0, 3, size=(2, H_LONG))
    with strict():
        lp = model.log_prob(np.zeros(2, int), y)
        # sampling: one feature call per position; 10^3 positions keep the test fast
        _, y_s = model.replace(features=onehot_callable(3, 1000)).sample(3, rng=np.random.default_rng(1))
    np.testing.assert_allclose(lp, EXTREME_LOGSOFTMAX[y].sum(1), rtol=1e-15)
    assert np.all(y_s == 0)                      # the argmax token has probability 1 in float


def test_constant_features_give_the_uniform_law_whatever_theta():
    H, V = H_LONG, 3
    t = np.ones((2, 1, V + 1, V, 2)) * np.array([3.0, -1.0])        # same feature for every token
    tab = AutoregressiveLinearModel(TabularFeatures(t, horizon=H), [1e4, 1e4])
    call = AutoregressiveLinearModel(
        CallableFeatures(lambda x, prefix, h: t[x, 0, 0], 2, H, V, 2), [1e4, 1e4])
    y = np.random.default_rng(0).integers(0, V, size=(3, H))
    x = np.array([0, 1, 1])
    with strict():
        for m in (tab, call):
            np.testing.assert_allclose(m.log_prob(x, y), -H * np.log(V), rtol=1e-12)
        np.testing.assert_array_equal(tab.grad_log_prob(x, y), 0.0)
        short = AutoregressiveLinearModel(TabularFeatures(t, horizon=12), [1e4, -1e4])
        np.testing.assert_allclose(short.enumerate_log_probs(), -12 * np.log(V), rtol=1e-13)
        np.testing.assert_allclose(tab.sigma_star_sq(), 0.0, atol=1e-12)


def test_long_horizon_kl_and_coverage_with_extreme_logits():
    """Data: token 0 w.p. 1 (theta = EXTREME); model: theta permuted, log pi_hat(0) = -1e4.

    The log-ratio is H * 1e4 = 1e8 on the only sequence: KL = 1e8, Cov_N = 1 for every finite N.
    """
    feats = onehot_features(3, H_LONG)
    data = AutoregressiveLinearModel(feats, EXTREME)
    model = AutoregressiveLinearModel(feats, np.array([0.0, 1e4, -1e4]))
    with strict():
        kl = markov_kl(data, model)
        profile = markov_token_kl_profile(data, model)
        law = sampled_log_ratio(data, model, 20, rng=np.random.default_rng(0))
        cov = law.coverage([1.0, 1e300, np.inf])
    np.testing.assert_allclose(kl, H_LONG * 1e4, rtol=1e-12)
    np.testing.assert_allclose(profile, 1e4, rtol=1e-12)
    np.testing.assert_allclose(law.values, H_LONG * 1e4, rtol=1e-12)
    np.testing.assert_array_equal(cov, [1.0, 1.0, 0.0])


def test_long_horizon_iid_bernoulli_log_ratio_and_kl_closed_forms():
    p, q = 0.3, 0.35
    t = np.zeros((1, 1, 3, 2, 1))
    t[..., 1, 0] = 1.0                                               # phi = 1{y_h = 1}
    feats = TabularFeatures(t, horizon=H_LONG)
    logit = lambda a: np.log(a / (1 - a))
    data = AutoregressiveLinearModel(feats, [logit(p)])
    model = AutoregressiveLinearModel(feats, [logit(q)])
    kl_tok = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    with strict():
        law = sampled_log_ratio(data, model, 200, rng=np.random.default_rng(3))
        kl = markov_kl(data, model)
        x, y = data.sample(200, rng=np.random.default_rng(3))
        N = np.exp(np.array([0.0, 10.0, 30.0, 50.0]))
        cov = law.coverage(N)
        skl = stopped_kl(np.full(200, kl), N)
        sigma = data.sigma_star_sq()
    k = y.sum(1, dtype=np.int64)
    closed = k * np.log(p / q) + (H_LONG - k) * np.log((1 - p) / (1 - q))
    np.testing.assert_allclose(law.values, closed, rtol=1e-9)
    np.testing.assert_allclose(kl, H_LONG * kl_tok, rtol=1e-9)
    np.testing.assert_array_equal(cov, [(closed >= np.log(n) - 1e-10).mean() for n in N])
    np.testing.assert_allclose(skl, np.minimum(np.log(N), kl), rtol=1e-12)
    np.testing.assert_allclose(sigma, H_LONG * p * (1 - p), rtol=1e-9)     # Var of 1{y = 1}


def test_divergences_and_coverage_on_extreme_log_probabilities():
    lp = np.array([[0.0, -1e4], [-2e4, 0.0]])
    lq = np.array([[-1e4, 0.0], [0.0, -1e4]])
    with strict():
        kl = kl_divergence(lp, lq)
        h2 = squared_hellinger(lp, lq)
        tv = total_variation(lp, lq)
        cov = coverage_profile((lp - lq).ravel(), [1.0, np.exp(700.0), np.inf], weights=np.exp(lp).ravel() / 2)
        per = per_prompt_coverage(lp - lq, [1.0, 1e300], weights=np.exp(lp))
        emp = empirical_coverage(lp.ravel(), lq.ravel(), [1.0, 1e300])
    np.testing.assert_allclose(kl, 1e4, rtol=1e-15)           # the other terms underflow to 0
    assert h2 == 1.0 and tv == 1.0
    np.testing.assert_array_equal(cov, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(per, [[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(emp, [0.5, 0.5])


def test_enumeration_with_extreme_logits_is_normalised():
    rng = np.random.default_rng(0)
    feats = TabularFeatures(rng.choice([-1.0, 0.0, 1.0], size=(2, 8, 3, 2, 2)), horizon=8)
    model = AutoregressiveLinearModel(feats, [1e4, -1e4])
    with strict():
        lp = model.enumerate_log_probs()
        law = exact_log_ratio(model, model)
    assert np.all(np.isfinite(lp) | (lp == -np.inf)) and not np.any(np.isnan(lp))
    assert np.all(lp <= 0)
    np.testing.assert_allclose(np.exp(lp).sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(law.coverage(1.0), 1.0, atol=1e-12)
