"""Unit tests of :mod:`theory.divergences` and the Markov KL against closed forms.

Closed forms used (derived by hand, not from the code under test):

* Bernoulli: ``KL(Ber a || Ber b) = a log(a/b) + (1-a) log((1-a)/(1-b))``,
  ``D_H^2 = 1 - sqrt(ab) - sqrt((1-a)(1-b))`` (one-half convention), ``TV = |a - b|``;
* i.i.d. sequences: ``KL(P^H || Q^H) = H KL(P || Q)``;
* stopped KL: ``E[min(log N, S)]`` by hand for a two-point law.
"""

import numpy as np
import pytest

from theory.divergences import (categorical_kl, categorical_squared_hellinger, cross_entropy,
                                kl_divergence, squared_hellinger, stopped_kl, total_variation)
from theory.log_ratio import exact_log_ratio, markov_kl, markov_token_kl_profile
from theory.models import MarkovModel, categorical_model


def bern(a):
    with np.errstate(divide="ignore"):
        return np.log([1 - a, a])


def kl_bern(a, b):
    return a * np.log(a / b) + (1 - a) * np.log((1 - a) / (1 - b))


@pytest.mark.parametrize("a,b", [(0.5, 0.1), (0.01, 0.3), (0.3, 0.3), (0.999, 0.001)])
def test_bernoulli_closed_forms(a, b):
    np.testing.assert_allclose(kl_divergence(bern(a), bern(b)), kl_bern(a, b), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(squared_hellinger(bern(a), bern(b)),
                               1 - np.sqrt(a * b) - np.sqrt((1 - a) * (1 - b)), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(total_variation(bern(a), bern(b)), abs(a - b), rtol=1e-12, atol=1e-15)
    entropy = -(a * np.log(a) + (1 - a) * np.log(1 - a))
    np.testing.assert_allclose(cross_entropy(bern(a), bern(b)), kl_bern(a, b) + entropy, rtol=1e-12)
    np.testing.assert_allclose(categorical_kl(bern(a), bern(b)), kl_bern(a, b), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(categorical_squared_hellinger(bern(a), bern(b)),
                               1 - np.sqrt(a * b) - np.sqrt((1 - a) * (1 - b)), rtol=1e-10, atol=1e-15)


def test_hellinger_is_relatively_accurate_for_nearly_equal_distributions():
    # D_H^2(Ber(a), Ber(a + e)) = e^2 / (8 a (1 - a)) + O(e^3): far below the resolution of 1 - BC.
    a, e = 0.3, 1e-9
    expected = e ** 2 / (8 * a * (1 - a))
    np.testing.assert_allclose(squared_hellinger(bern(a), bern(a + e)), expected, rtol=1e-5)
    np.testing.assert_allclose(categorical_squared_hellinger(bern(a), bern(a + e)), expected, rtol=1e-5)


def test_disjoint_supports_and_zero_conventions():
    p, q = [0.0, -np.inf], [-np.inf, 0.0]
    assert kl_divergence(p, q) == np.inf
    assert cross_entropy(p, q) == np.inf
    assert squared_hellinger(p, q) == 1.0
    assert total_variation(p, q) == 1.0
    # 0 log 0 = 0: q may put mass where p has none, KL stays finite
    np.testing.assert_allclose(kl_divergence([0.0, -np.inf], np.log([0.5, 0.5])), np.log(2))
    # categorical_kl never NaN, inf where q misses mass of p
    out = categorical_kl([[0.0, -np.inf], [-np.inf, 0.0]], [[0.0, -np.inf], [0.0, -np.inf]])
    np.testing.assert_array_equal(out, [0.0, np.inf])


def test_prompt_weights_average_per_prompt_divergences():
    lp = np.stack([bern(0.2), bern(0.6)])
    lq = np.stack([bern(0.5), bern(0.1)])
    mu = np.array([0.25, 0.75])
    for fn, closed in [(kl_divergence, [kl_bern(0.2, 0.5), kl_bern(0.6, 0.1)]),
                       (total_variation, [0.3, 0.5])]:
        np.testing.assert_allclose(fn(lp, lq, prompt_weights=mu), mu @ np.array(closed), rtol=1e-12)
    # default: uniform prompts
    np.testing.assert_allclose(total_variation(lp, lq), 0.4, rtol=1e-12)


def test_stopped_kl_two_point_closed_form():
    # S = 0.5 w.p. 0.5, S = 3 w.p. 0.5:
    #   N = 1: 0;  N = 4: 0.5 * 0.5 + 0.5 * log 4;  N = e^10: E S = 1.75.
    got = stopped_kl([0.5, 3.0], [1.0, 4.0, np.e ** 10])
    np.testing.assert_allclose(got, [0.0, 0.25 + 0.5 * np.log(4), 1.75], rtol=1e-14)
    # weights and an infinite sum (model misses mass): E[min(log N, inf)] = log N on that mass
    got = stopped_kl([1.0, np.inf], [np.e ** 2, np.inf], weights=[0.9, 0.1])
    np.testing.assert_allclose(got, [0.9 + 0.2, np.inf])


def test_stopped_kl_at_infinite_N_is_the_mean_for_finite_sums():
    """Regression: 1 - sum of weights rounding (ten weights of 0.1) times log N = inf gave inf."""
    np.testing.assert_allclose(stopped_kl([0.5] * 10, np.inf), 0.5, rtol=1e-15)
    np.testing.assert_allclose(stopped_kl([0.5] * 10, 1e300), 0.5, rtol=1e-15)


def test_kl_is_never_negative_on_rounding():
    """Regression: a one-point support normalised to exp(-1.1e-16) gave KL = -1.1e-16."""
    assert kl_divergence([-1.1102230246251565e-16], [0.0]) >= 0.0


def test_markov_kl_iid_sequences_is_H_times_token_kl():
    a, b, H = 0.2, 0.45, 7
    data = MarkovModel(np.broadcast_to(bern(a), (1, 1, 3, 2)), H)
    model = MarkovModel(np.broadcast_to(bern(b), (1, 1, 3, 2)), H)
    np.testing.assert_allclose(markov_kl(data, model), H * kl_bern(a, b), rtol=1e-12)
    np.testing.assert_allclose(markov_token_kl_profile(data, model), np.full(H, kl_bern(a, b)), rtol=1e-12)
    np.testing.assert_allclose(exact_log_ratio(data, model).kl(), H * kl_bern(a, b), rtol=1e-10)


def test_markov_kl_two_state_chain_by_hand():
    # H = 2, one prompt.  Position 0: Ber(a0) vs Ber(b0).  Position 1 after token t: Ber(a_t) vs Ber(b_t).
    # Chain rule: KL = kl(a0, b0) + (1 - a0) kl(a_0', b_0') + a0 kl(a_1', b_1').
    a0, b0, a = 0.3, 0.6, (0.1, 0.8)
    b = (0.2, 0.5)
    def table(first, nxt):
        t = np.empty((1, 2, 3, 2))
        t[0, :, 2] = bern(first)
        t[0, :, 0] = bern(nxt[0])
        t[0, :, 1] = bern(nxt[1])
        return t
    data, model = MarkovModel(table(a0, a), 2), MarkovModel(table(b0, b), 2)
    expected = kl_bern(a0, b0) + (1 - a0) * kl_bern(a[0], b[0]) + a0 * kl_bern(a[1], b[1])
    np.testing.assert_allclose(markov_kl(data, model), expected, rtol=1e-12)
    np.testing.assert_allclose(markov_token_kl_profile(data, model),
                               [kl_bern(a0, b0), expected - kl_bern(a0, b0)], rtol=1e-12)


def test_markov_kl_infinite_when_model_misses_reachable_mass_only():
    # model puts 0 on token 1 after token 1, but the data never reaches "after token 1" -> finite
    # rows: prev = 0, prev = 1, begin-of-sequence.  The data always emits 0, so "prev = 1" is unreachable.
    with np.errstate(divide="ignore"):
        data = MarkovModel(np.log(np.array([[[[1.0, 0.0], [0.5, 0.5], [1.0, 0.0]]]])), 3)
        model = MarkovModel(np.log(np.array([[[[0.9, 0.1], [1.0, 0.0], [0.9, 0.1]]]])), 3)
    data2 = MarkovModel(np.log(np.full((1, 1, 3, 2), 0.5)), 3)
    assert np.isfinite(markov_kl(data, model))
    np.testing.assert_allclose(markov_kl(data, model), 3 * np.log(1 / 0.9), rtol=1e-12)
    assert markov_kl(data2, model) == np.inf


def test_categorical_model_kl_via_law_matches_closed_form():
    p = np.array([0.2, 0.3, 0.5])
    q = np.array([0.5, 0.25, 0.25])
    law = exact_log_ratio(categorical_model(p), categorical_model(q))
    np.testing.assert_allclose(law.kl(), p @ np.log(p / q), rtol=1e-12)
