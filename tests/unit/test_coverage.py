"""Unit tests of :mod:`theory.coverage` on hand-derived closed forms."""

import numpy as np
import pytest

from theory.coverage import (TIE_ATOL, answer_level_coverage, comparison_log_thresholds,
                             coverage_profile, empirical_coverage, log_thresholds,
                             on_policy_coverage, per_prompt_coverage)


def test_witness_coverage_is_p_up_to_N_and_zero_beyond():
    # Ber(p) vs Ber(p/N0): ratios N0 (mass p) and (1-p)/(1-p/N0) < 1 (mass 1-p).
    p, N0 = 0.3, 4.0
    lr = np.log([p / (p / N0), (1 - p) / (1 - p / N0)])
    N = np.array([1.0, 2.0, N0, 4.0001, np.inf])
    np.testing.assert_allclose(coverage_profile(lr, N, weights=[p, 1 - p]), [p, p, p, 0.0, 0.0],
                               atol=1e-15)


def test_infinite_ratio_counts_at_every_threshold_including_infinity():
    lr = np.array([np.inf, 3.0, -1.0])
    w = np.array([0.2, 0.5, 0.3])
    N = np.array([1.0, np.exp(3.0), np.exp(3.0) * 1.01, 1e300, np.inf])
    np.testing.assert_allclose(coverage_profile(lr, N, weights=w), [0.7, 0.7, 0.2, 0.2, 0.2], atol=1e-15)
    np.testing.assert_allclose(coverage_profile(lr, N), [2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3])


def test_thresholds_of_any_shape():
    lr = np.log([1.0, 2.0, 4.0, 8.0])
    N = np.array([[1.0, 2.0], [4.0, 8.0], [16.0, 3.0]])
    np.testing.assert_array_equal(coverage_profile(lr, N), [[1.0, 0.75], [0.5, 0.25], [0.0, 0.5]])
    assert np.ndim(coverage_profile(lr, 2.0)) == 0


def test_zero_weight_points_are_ignored_even_with_nan_or_inf_ratio():
    lr = np.array([np.nan, np.inf, 0.5])
    w = np.array([0.0, 0.0, 1.0])
    np.testing.assert_array_equal(coverage_profile(lr, [1.0, np.exp(0.5), 2.0], weights=w), [1.0, 1.0, 0.0])


def test_tie_tolerance_is_1e_10_on_the_log_scale():
    assert TIE_ATOL == 1e-10
    np.testing.assert_array_equal(comparison_log_thresholds([1.0, np.e]), [-1e-10, 1.0 - 1e-10])
    np.testing.assert_array_equal(log_thresholds([1.0, np.inf]), [0.0, np.inf])
    N = 7.0
    assert coverage_profile([np.log(N) - 0.9e-10], N) == 1.0
    assert coverage_profile([np.log(N) - 1.1e-10], N) == 0.0


def test_per_prompt_coverage_closed_form():
    lr = np.log([[4.0, 1.0, 0.5], [8.0, 8.0, 0.1]])
    w = np.array([[0.2, 0.3, 0.5], [0.25, 0.25, 0.5]])
    got = per_prompt_coverage(lr, [1.0, 4.0, 5.0], weights=w)
    np.testing.assert_allclose(got, [[0.5, 0.2, 0.0], [0.5, 0.5, 0.5]], atol=1e-15)
    np.testing.assert_allclose(per_prompt_coverage(lr, 4.0), [1 / 3, 2 / 3])


def test_answer_level_coverage_closed_form_and_counterexample_to_pointwise_domination():
    """Hand computation: pi = (0.1, 0.1 | 0.8), pi_hat = (0.001, 0.019 | 0.98), answers (a, a | b).

    Answer a: pi(a) = 0.2, pi_hat(a) = 0.02, ratio 10; answer b: 0.8/0.98 < 1.
    Responses: ratios 100, 0.1/0.019 = 5.26..., 0.816...
    Cov^ans_10 = 0.2 but Cov_10 = 0.1: answer-level coverage can EXCEED sequence coverage at the
    same N (only Cov^ans_N <= Cov_{cN}/(1-c) holds, e.g. 0.2 <= 2 Cov_5 = 0.4).
    """
    lp = np.log([[0.1, 0.1, 0.8]])
    lq = np.log([[0.001, 0.019, 0.98]])
    ans = [0, 0, 1]
    np.testing.assert_allclose(answer_level_coverage(lp, lq, ans, 10.0), 0.2, atol=1e-15)
    seq = coverage_profile((lp - lq).ravel(), [5.0, 10.0], weights=np.exp(lp).ravel())
    np.testing.assert_allclose(seq, [0.2, 0.1], atol=1e-15)
    assert answer_level_coverage(lp, lq, ans, 10.0) > seq[1]
    assert answer_level_coverage(lp, lq, ans, 10.0) <= 2 * seq[0]
    # thresholds vectorised; ratio 10 is a tie at N = 10 and counts
    np.testing.assert_allclose(answer_level_coverage(lp, lq, ans, [1.0, 10.0, 10.001]), [0.2, 0.2, 0.0],
                               atol=1e-15)


def test_answer_level_coverage_with_prompt_weights_and_per_prompt_answers():
    lp = np.log([[0.5, 0.5], [0.5, 0.5]])
    lq = np.log([[0.05, 0.95], [0.5, 0.5]])
    # prompt 0: one answer for both responses (ratio 1); prompt 1: distinct answers (ratios 1).
    got = answer_level_coverage(lp, lq, [[0, 0], [0, 1]], 2.0, prompt_weights=[0.7, 0.3])
    assert got == 0.0
    # prompt 0 with distinct answers: response 0 has ratio 10 (mass 0.5), weight 0.7
    got = answer_level_coverage(lp, lq, [[0, 1], [0, 1]], 2.0, prompt_weights=[0.7, 0.3])
    np.testing.assert_allclose(got, 0.35, atol=1e-15)


def test_empirical_coverage_doc_example_and_nan_ratio():
    emp = empirical_coverage([0.0, 0.0, 0.0, 0.0], np.log([1.0, 0.5, 0.1, 0.4]), [1.0, 2.0, 4.0])
    np.testing.assert_array_equal(emp, [1.0, 0.75, 0.25])
    # 0/0 (both -inf) never counts, p/0 always counts
    np.testing.assert_array_equal(empirical_coverage([-np.inf, 0.0], [-np.inf, -np.inf], [1.0, np.inf]),
                                  [0.5, 0.5])


def test_empirical_coverage_loops_over_the_shorter_axis_consistently():
    rng = np.random.default_rng(1)
    ref = -np.abs(rng.normal(size=(5, 40)))
    mod = -np.abs(rng.normal(size=(5, 40)))
    few_n = empirical_coverage(ref, mod, [1.0, 2.0])           # thresholds fewer than rows
    many_n = empirical_coverage(ref, mod, np.array([1.0, 2.0] + [3.0] * 10))
    np.testing.assert_array_equal(few_n, many_n[:, :2])
    direct = ((ref - mod)[:, :, None] >= comparison_log_thresholds([1.0, 2.0])).mean(axis=1)
    np.testing.assert_array_equal(few_n, direct)


def test_on_policy_coverage_doc_example_and_weights():
    assert on_policy_coverage([[0.0, 0.0]], np.log([[0.25, 1.0]]), 4.0) == 0.5
    got = on_policy_coverage([[0.0, 0.0]], np.log([[0.25, 1.0]]), 4.0, weights=[[0.9, 0.1]])
    np.testing.assert_allclose(got, 0.9)
    # leading axes broadcast: (2, 1, m) against (1, m)
    got = on_policy_coverage(np.zeros((2, 1, 2)), np.log([[0.25, 1.0]]), [1.0, 4.0])
    assert got.shape == (2, 2)
    np.testing.assert_array_equal(got, [[1.0, 0.5], [1.0, 0.5]])


@pytest.mark.parametrize("fn", [coverage_profile])
def test_coverage_output_is_within_unit_interval_after_weight_rounding(fn):
    # weights that sum to 1 only up to rounding: coverage is still clipped to [0, 1]
    w = np.full(10, 0.1)
    assert fn(np.zeros(10), 1.0, weights=w) <= 1.0
    np.testing.assert_allclose(fn(np.zeros(10), 1.0, weights=w), 1.0, atol=1e-15)
