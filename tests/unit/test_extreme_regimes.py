r"""Extreme regimes give finite, correct numbers, checked against closed forms.

* logits :math:`\pm 10^4` (tabular and callable features): sequence log-probabilities equal
  the closed form :math:`\sum_h \log\mathrm{softmax}(\theta\phi)_{y_h}` evaluated with
  50-digit arithmetic (mpmath), gradients/Hessians finite, samples deterministic;
* ``H = 10^4`` with i.i.d. tokens (constant features): sequence log-probabilities equal
  :math:`k\log p_1 + (H-k)\log p_0`; ``markov_kl`` equals ``H`` times the per-token KL;
  the stopped KL and the coverage of a model against itself (1 at ``N = 1``, 0 above) are
  exact;
* probabilities down to ``1e-300``: KL and coverage in log space match 50-digit references;
* ``N`` up to ``1e300``: coverage, KL-to-coverage bounds, Pass@N and stopped KL are finite
  and equal their closed forms.
"""

import mpmath
import numpy as np
import pytest

from theory.best_of_n import bon_sufficient_n, pass_at_n
from theory.bounds import kl_to_coverage, kl_to_coverage_sharp
from theory.coverage import coverage_profile
from theory.divergences import kl_divergence, stopped_kl
from theory.log_ratio import exact_log_ratio, exact_stopped_kl, markov_kl, sampled_log_ratio
from theory.models import (AutoregressiveLinearModel, CallableFeatures, TabularFeatures,
                           categorical_model)

mpmath.mp.dps = 50


def _constant_features(token_features, horizon, n_prompts=1):
    """phi(x, h, prev, v) = token_features[v]: tokens are i.i.d. under any theta."""
    c = np.asarray(token_features, dtype=float)  # (V, d)
    v, d = c.shape
    table = np.broadcast_to(c, (n_prompts, 1, v + 1, v, d)).copy()
    return TabularFeatures(table, horizon=horizon)


def _mp_log_softmax(logits):
    """Exact (50 digits) log-softmax of a list of floats."""
    z = [mpmath.mpf(float(a)) for a in logits]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(a) for a in z))
    return [a - lse for a in z]


# -------------------------------------------------------------------- logits +-1e4

@pytest.mark.parametrize("scale", [1e4, -1e4, 3.7e3])
def test_logits_1e4_tabular_and_callable(scale, rng):
    token_features = np.array([[1.0], [-1.0], [0.25]])        # V = 3, d = 1
    feats = _constant_features(token_features, horizon=6)
    model = AutoregressiveLinearModel(feats, [scale])
    t = feats.table

    def fn(x, prefix, h):
        return t[x, 0, prefix[:, h - 1] if h > 0 else np.full(len(x), 3)]

    cmodel = AutoregressiveLinearModel(CallableFeatures(fn, 1, 6, 3, 1), [scale])
    y = rng.integers(0, 3, size=(40, 6))
    x = np.zeros(40, dtype=np.int64)
    per_token = _mp_log_softmax(scale * token_features[:, 0])
    expected = np.array([float(mpmath.fsum(per_token[v] for v in row)) for row in y])
    for m in (model, cmodel):
        lp = m.log_prob(x, y)
        assert np.all(np.isfinite(lp))
        np.testing.assert_allclose(lp, expected, rtol=1e-12, atol=0)
        g = m.grad_log_prob(x, y)
        hess = m.hessian_log_prob(x, y)
        assert np.all(np.isfinite(g)) and np.all(np.isfinite(hess))
    # closed-form score: sum_h (phi(y_h) - E_softmax phi), the mean is the argmax feature
    winner = np.argmax(scale * token_features[:, 0])
    np.testing.assert_allclose(model.grad_log_prob(x, y)[:, 0],
                               (token_features[y, 0] - token_features[winner, 0]).sum(-1),
                               rtol=0, atol=1e-9)
    # sampling is deterministic: every token is the argmax
    _, ys = model.sample(25, rng=rng)
    assert np.all(ys == winner)


def test_logits_1e4_log_ratio_and_kl_are_finite_and_exact():
    feats = _constant_features([[1.0], [-1.0]], horizon=5)
    data = AutoregressiveLinearModel(feats, [1e4])
    model = AutoregressiveLinearModel(feats, [-1e4])
    law = exact_log_ratio(data, model)
    assert np.all(np.isfinite(law.values)) and np.all(np.isfinite(law.weights))
    # data puts mass 1 - 5e^{-2e4} = 1.0 on 00000, where the ratio is e^{5 * 2e4}
    assert float(law.kl()) == pytest.approx(5 * 2e4, rel=1e-12)
    assert float(markov_kl(data, model)) == pytest.approx(5 * 2e4, rel=1e-12)
    assert float(law.coverage(1e300)) == 1.0      # log N = 690.8 < 1e5
    assert float(exact_stopped_kl(data, model, 1e300)) == pytest.approx(np.log(1e300), rel=1e-12)


# -------------------------------------------------------------------- H = 10^4

@pytest.fixture(scope="module")
def long_iid():
    H = 10_000
    feats = _constant_features([[0.0, 0.0], [1.0, -0.5]], horizon=H)   # V = 2, d = 2
    data = AutoregressiveLinearModel(feats, [0.4, 0.3])
    model = AutoregressiveLinearModel(feats, [-0.2, 0.9])
    return H, data, model


def _bernoulli_p1(theta):
    return 1.0 / (1.0 + np.exp(-(theta[0] * 1.0 + theta[1] * -0.5)))


def test_h_1e4_sequence_log_prob_closed_form(long_iid, rng):
    H, data, _ = long_iid
    x, y = data.sample(30, rng=rng)
    assert y.shape == (30, H)
    p1 = _bernoulli_p1(data.theta)
    k = y.sum(axis=1).astype(float)
    expected = k * np.log(p1) + (H - k) * np.log1p(-p1)
    np.testing.assert_allclose(data.log_prob(x, y), expected, rtol=1e-11)
    # the frequency of ones is p1 (binomial 6-sigma band on 3e5 tokens)
    assert abs(k.sum() / (30 * H) - p1) < 6 * np.sqrt(p1 * (1 - p1) / (30 * H))


def test_h_1e4_markov_kl_is_h_times_token_kl(long_iid):
    H, data, model = long_iid
    p, q = _bernoulli_p1(data.theta), _bernoulli_p1(model.theta)
    mp, mq = mpmath.mpf(float(p)), mpmath.mpf(float(q))
    token_kl = float(mp * mpmath.log(mp / mq) + (1 - mp) * mpmath.log((1 - mp) / (1 - mq)))
    assert float(markov_kl(data, model)) == pytest.approx(H * token_kl, rel=1e-10)
    assert np.isfinite(float(markov_kl(model, data)))


def test_h_1e4_coverage_of_a_model_against_itself(long_iid, rng):
    _, data, _ = long_iid
    twin = data.replace()  # same parameters, separate object and caches
    law = sampled_log_ratio(data, twin, 200, rng=rng)
    assert np.all(law.values == 0.0)
    cov = law.coverage([1.0, 1.0 + 1e-9, 2.0, 1e300])
    np.testing.assert_array_equal(cov, [1.0, 0.0, 0.0, 0.0])
    assert float(markov_kl(data, twin)) == 0.0


def test_exact_coverage_of_a_model_against_itself():
    feats = _constant_features([[0.3], [-1.2], [2.0]], horizon=4, n_prompts=2)
    m = AutoregressiveLinearModel(feats, [0.7], prompt_weights=[0.25, 0.75])
    law = exact_log_ratio(m, m.replace())
    np.testing.assert_array_equal(law.coverage([1.0, 1.0 + 1e-9, 10.0]), [1.0, 0.0, 0.0])
    assert float(law.kl()) == 0.0


# -------------------------------------------------------------------- probabilities 1e-300

def test_tiny_probabilities_kl_in_log_space():
    p, q = 1e-300, 1e-200
    log_p = [np.log1p(-p), np.log(p)]
    log_q = [np.log1p(-q), np.log(q)]
    mp, mq = mpmath.mpf("1e-300"), mpmath.mpf("1e-200")
    exact = mp * mpmath.log(mp / mq) + (1 - mp) * (mpmath.log1p(-mp) - mpmath.log1p(-mq))
    assert kl_divergence(log_p, log_q) == pytest.approx(float(exact), rel=1e-9)
    assert kl_divergence(log_p, log_q) > 0


def test_tiny_probability_coverage_is_exact():
    # a point of probability 1e-300 where the model is 1e10 times smaller
    lr = np.array([np.log(1e-300) - np.log(1e-310), np.log1p(-1e-300) - np.log1p(-1e-310)])
    w = np.array([1e-300, 1.0 - 1e-300])
    cov = coverage_profile(lr, [1.0, 1e9, 1e10, 1e11, 1e300], weights=w)
    np.testing.assert_array_equal(cov, [1.0, 1e-300, 1e-300, 0.0, 0.0])
    law = exact_log_ratio(categorical_model([1.0 - 1e-300, 1e-300]),
                          categorical_model([1.0 - 1e-310, 1e-310]))
    assert float(law.coverage(1e10)) == pytest.approx(1e-300, rel=1e-9)


def test_tiny_success_probability_pass_at_n():
    N = np.array([1.0, 1e150, 1e300])
    out = pass_at_n([1e-300], N)
    expected = [float(-mpmath.expm1(mpmath.mpf(n) * mpmath.log1p(-mpmath.mpf("1e-300")))) for n in N]
    np.testing.assert_allclose(out, expected, rtol=1e-12)


# -------------------------------------------------------------------- N up to 1e300

def test_thresholds_up_to_1e300():
    N = np.array([10.0, 1e10, 1e100, 1e300])
    log_n = np.log(N)
    kl = 3.0
    np.testing.assert_allclose(kl_to_coverage(kl, N), kl / (log_n - 1.0), rtol=1e-14)
    np.testing.assert_allclose(kl_to_coverage_sharp(kl, N), kl / (log_n - 1.0 + 1.0 / N), rtol=1e-14)
    # coverage of log-ratios straddling log(1e300) = 690.78
    lr = np.array([690.0, 690.8, 700.0, np.inf])
    np.testing.assert_array_equal(coverage_profile(lr, [1e300, np.inf]), [0.75, 0.25])
    # stopped KL: E[min(log N, S)] with S = (10, 800)
    np.testing.assert_allclose(stopped_kl([10.0, 800.0], N, weights=[0.5, 0.5]),
                               0.5 * np.minimum(log_n, 10.0) + 0.5 * np.minimum(log_n, 800.0),
                               rtol=1e-14)
    assert float(bon_sufficient_n(1e300, 0.5)) == pytest.approx(2e300 * np.log(2.0), rel=1e-14)
    assert np.all(np.isfinite(pass_at_n([0.3, 1e-300], N)))
