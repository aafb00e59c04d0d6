"""Unit tests for :mod:`theory.best_of_n`: hand-checked values, boundaries, extremes, errors."""

import math
from fractions import Fraction

import numpy as np
import pytest

from theory.best_of_n import (best_of_n_expected_reward, best_of_n_success,
                              bon_necessity_bound, bon_necessity_reward, bon_sufficiency_bound,
                              bon_sufficient_n, deterministic_target_sandwich, pass_at_k,
                              pass_at_n, pass_at_n_coverage_bound)


def log(p):
    """``np.log`` with ``log(0) = -inf`` (zero probabilities) and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(p, dtype=float))


def comb_pass_at_k(n, c, k):
    """Exact pass@k as a Fraction, straight from the binomial definition."""
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


# ------------------------------------------------------------------------------- pass_at_n

class TestPassAtN:
    def test_hand_values(self):
        # (1 - 0.5^2 + 1 - 0.9^2) / 2 = (0.75 + 0.19) / 2
        assert pass_at_n([0.5, 0.1], 2) == pytest.approx(0.47, rel=1e-14)

    def test_prompt_weights(self):
        got = pass_at_n([0.5, 0.1], 3, prompt_weights=[0.25, 0.75])
        assert got == pytest.approx(0.25 * (1 - 0.5**3) + 0.75 * (1 - 0.9**3), rel=1e-14)

    def test_boundaries_exact(self):
        assert pass_at_n([0.0], 5) == 0.0
        assert pass_at_n([1.0], 5) == 1.0
        assert pass_at_n([1.0], 1e300) == 1.0
        assert pass_at_n([0.0], np.inf) == 0.0
        assert pass_at_n([0.3], np.inf) == 1.0
        assert pass_at_n([0.3], 1) == pytest.approx(0.3, rel=1e-15)

    @pytest.mark.parametrize("q, N", [(1e-300, 1e300), (1e-300, 3e299), (1e-200, 1e199),
                                      (1e-17, 1e16)])
    def test_tiny_q_huge_N(self, q, N):
        # 1 - (1 - q)^N = 1 - exp(N log(1 - q)), and N log1p(-q) = -N q to relative 1e-16.
        expected = -math.expm1(-N * q)
        got = pass_at_n([q], N)
        assert np.isfinite(got)
        assert got == pytest.approx(expected, rel=1e-12)

    def test_tiny_q_small_N_no_underflow(self):
        assert pass_at_n([1e-300], 3) == pytest.approx(3e-300, rel=1e-12)

    def test_huge_N_moderate_q(self):
        assert pass_at_n([0.5, 1e-3], 1e300) == 1.0

    def test_shape_broadcast_leading_dims_with_N(self):
        q = np.array([[0.5, 0.5], [0.1, 0.3]])          # 2 models, 2 prompts
        got = pass_at_n(q, [1, 2])                       # leading (2,) with N (2,)
        assert got.shape == (2,)
        np.testing.assert_allclose(got, [0.5, 1 - (0.81 + 0.49) / 2], rtol=1e-14)
        grid = pass_at_n(q, np.array([1, 2, 3])[:, None])
        assert grid.shape == (3, 2)
        np.testing.assert_allclose(grid[2, 1], 1 - (0.9**3 + 0.7**3) / 2, rtol=1e-14)

    def test_scalar_result_is_scalar(self):
        assert np.ndim(pass_at_n([0.2], 2)) == 0

    def test_result_read_only(self):
        out = pass_at_n([0.2], [1, 2])
        with pytest.raises(ValueError):
            out[0] = 1.0

    @pytest.mark.parametrize("q, N, name, exc", [
        ([0.5], 0.5, "N", ValueError),
        ([0.5], [1, 0], "N", ValueError),
        ([0.5], np.nan, "N", ValueError),
        ([0.5], "3", "N", TypeError),
        ([1.5], 2, "success_prob", ValueError),
        ([-0.1], 2, "success_prob", ValueError),
        ([np.nan], 2, "success_prob", ValueError),
        (0.5, 2, "success_prob", ValueError),
        ([], 2, "success_prob", ValueError),
        ("a", 2, "success_prob", TypeError),
    ])
    def test_bad_input(self, q, N, name, exc):
        with pytest.raises(exc, match=f"`{name}`"):
            pass_at_n(q, N)

    def test_bad_prompt_weights(self):
        with pytest.raises(ValueError, match="`prompt_weights`"):
            pass_at_n([0.5, 0.5], 2, prompt_weights=[0.5, 0.6])
        with pytest.raises(ValueError, match="`prompt_weights`"):
            pass_at_n([0.5, 0.5], 2, prompt_weights=[1.0])

    def test_non_broadcasting_N(self):
        with pytest.raises(ValueError, match="`N`"):
            pass_at_n(np.full((2, 3), 0.5), [1, 2, 3])


# ------------------------------------------------------------------------------- pass_at_k

class TestPassAtK:
    @pytest.mark.parametrize("n, c, k", [(10, 3, 2), (5, 1, 1), (100, 7, 10), (20, 10, 10),
                                         (50, 1, 49), (1000, 2, 3), (6, 0, 6), (3, 3, 1)])
    def test_against_math_comb(self, n, c, k):
        assert pass_at_k(n, c, k) == pytest.approx(float(comb_pass_at_k(n, c, k)),
                                                   rel=1e-13, abs=0)

    def test_hand_value(self):
        assert pass_at_k(10, 3, 2) == pytest.approx(1 - 21 / 45, rel=1e-15)

    @pytest.mark.parametrize("n, c, k", [(10, 9, 2), (10, 10, 1), (5, 3, 3), (4, 1, 4)])
    def test_n_minus_c_below_k_is_one(self, n, c, k):
        assert pass_at_k(n, c, k) == 1.0

    def test_c_zero_is_zero(self):
        assert pass_at_k(7, 0, 3) == 0.0

    def test_k_one_is_fraction_correct(self):
        n = np.arange(1, 30)
        c = n // 3
        np.testing.assert_allclose(pass_at_k(n, c, 1), c / n, rtol=1e-14, atol=0)

    def test_tiny_result_relative_accuracy(self):
        # 1 - C(n-1, 1)/C(n, 1) = 1/n: no cancellation for huge n.
        n = 10**12
        assert pass_at_k(n, 1, 1) == pytest.approx(1e-12, rel=1e-12)
        assert pass_at_k(10**6, 1, 3) == pytest.approx(3e-6, rel=1e-12)

    def test_large_vectorized_against_comb(self):
        rng = np.random.default_rng(20251015)
        n = rng.integers(1, 400, size=300)
        c = rng.integers(0, n + 1)
        k = rng.integers(1, n + 1)
        got = pass_at_k(n, c, k)
        expected = np.array([float(comb_pass_at_k(*map(int, t))) for t in zip(n, c, k)])
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)

    def test_vectorized_identical_to_elementwise(self):
        rng = np.random.default_rng(7)
        n = rng.integers(1, 60, size=200)
        c = rng.integers(0, n + 1)
        k = rng.integers(1, n + 1)
        whole = pass_at_k(n, c, k)
        np.testing.assert_array_equal(whole, [pass_at_k(*t) for t in zip(n, c, k)])

    def test_broadcast_shape(self):
        out = pass_at_k(np.array([[10], [20]]), [0, 1, 5], 2)
        assert out.shape == (2, 3)
        assert out[1, 2] == pytest.approx(float(comb_pass_at_k(20, 5, 2)), rel=1e-14)

    def test_integral_floats_accepted(self):
        assert pass_at_k(10.0, 3.0, 2.0) == pass_at_k(10, 3, 2)

    @pytest.mark.parametrize("n, c, k, name, exc", [
        (10, 11, 2, "c", ValueError),
        (10, -1, 2, "c", ValueError),
        (10, 3, 11, "k", ValueError),
        (10, 3, 0, "k", ValueError),
        (0, 0, 1, "n", ValueError),
        (10.5, 3, 2, "n", TypeError),
        (10, 2.5, 2, "c", TypeError),
        (10, 3, "2", "k", TypeError),
        (10, 3, True, "k", TypeError),
        ([10, 10], [1, 2, 3], 2, "n", ValueError),
    ])
    def test_bad_input(self, n, c, k, name, exc):
        with pytest.raises(exc, match=f"`{name}`"):
            pass_at_k(n, c, k)


# ------------------------------------------------------------------- enumerated Best-of-N

class TestBestOfN:
    lp = log([[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]])

    def test_success_hand(self):
        r = [[1, 0, 1], [0, 1, 0]]                      # q = (0.7, 0.4)
        got = best_of_n_success(self.lp, r, 3)
        assert got == pytest.approx(((1 - 0.3**3) + (1 - 0.6**3)) / 2, rel=1e-14)

    def test_success_extreme_masses(self):
        lp = np.log(np.array([[1e-300, 1 - 1e-300]]))
        assert best_of_n_success(lp, [[1, 0]], 1e300) == pytest.approx(-math.expm1(-1),
                                                                        rel=1e-12)
        assert best_of_n_success(lp, [[1, 0]], 2) == pytest.approx(2e-300, rel=1e-12)
        # Failure mass 1e-300: Pass@1 = 1 - 1e-300, 1 - Pass@N underflows to exactly 1.
        assert best_of_n_success(lp, [[0, 1]], 1) == 1.0
        lp2 = np.array([[np.log1p(-1e-300), -np.inf, np.log(1e-300)]])
        assert best_of_n_success(lp2, [[0, 1, 1]], 1e300) == pytest.approx(-math.expm1(-1),
                                                                            rel=1e-12)

    def test_zero_probability_correct_response(self):
        assert best_of_n_success(self.lp, [[0, 0, 0], [0, 0, 1]], 10) == 0.0

    def test_reward_broadcast(self):
        got = best_of_n_success(self.lp, [1, 0, 0], 2)       # q = (0.2, 0.6)
        assert got == pytest.approx(((1 - 0.8**2) + (1 - 0.4**2)) / 2, rel=1e-14)

    def test_expected_reward_hand(self):
        lp = np.log(np.array([[0.5, 0.25, 0.25]]))
        r = [[0.2, 1.0, 0.6]]
        # max of N draws: P(max >= 1) = 1 - 0.75^N, P(max >= 0.6) = 1 - 0.5^N, >= 0.2 sure.
        for N in (1, 2, 5):
            expected = 0.2 + 0.4 * (1 - 0.5**N) + 0.4 * (1 - 0.75**N)
            assert best_of_n_expected_reward(lp, r, N) == pytest.approx(expected, rel=1e-14)

    def test_expected_reward_ties(self):
        lp = np.log(np.array([[0.5, 0.25, 0.25]]))
        expected = 0.7 * (1 - 0.5**3)
        assert best_of_n_expected_reward(lp, [[0.0, 0.7, 0.7]], 3) == pytest.approx(
            expected, rel=1e-14)

    def test_expected_reward_matches_success_for_binary(self):
        r = np.array([[1, 0, 1], [0, 1, 0]])
        N = np.array([1.0, 2.0, 7.5, 1e6])
        np.testing.assert_allclose(best_of_n_expected_reward(self.lp, r, N),
                                   best_of_n_success(self.lp, r, N), rtol=1e-13)

    def test_expected_reward_N_one_is_mean_reward(self):
        r = np.array([[0.1, 0.9, 0.4], [0.3, 0.2, 1.0]])
        mean = (np.exp(self.lp) * r).sum(1).mean()
        assert best_of_n_expected_reward(self.lp, r, 1) == pytest.approx(mean, rel=1e-14)

    def test_expected_reward_N_inf_is_max_on_support(self):
        r = np.array([[0.1, 0.9, 0.4], [0.3, 0.2, 1.0]])   # 1.0 has probability zero
        assert best_of_n_expected_reward(self.lp, r, np.inf) == pytest.approx(
            (0.9 + 0.3) / 2, rel=1e-14)

    def test_batch_of_models(self):
        lps = np.stack([self.lp, np.log(np.full((2, 3), 1 / 3))])
        r = [[1, 0, 0], [0, 0, 1]]
        got = best_of_n_success(lps, r, np.array([1, 2])[:, None])
        assert got.shape == (2, 2)
        assert got[1, 1] == pytest.approx(1 - (2 / 3) ** 2, rel=1e-14)

    @pytest.mark.parametrize("func", [best_of_n_success, best_of_n_expected_reward])
    def test_bad_input(self, func):
        r = [[1, 0, 1], [0, 1, 0]]
        with pytest.raises(ValueError, match="`log_probs`"):
            func(log([[0.5, 0.4, 0.2], [0.5, 0.5, 0.0]]), r, 2)
        with pytest.raises(ValueError, match="`log_probs`"):
            func(np.log([0.5, 0.5]), [1, 0], 2)
        with pytest.raises(ValueError, match="`reward`"):
            func(self.lp, [[1, 0], [0, 1]], 2)
        with pytest.raises(ValueError, match="`reward`"):
            func(self.lp, [[1.5, 0, 1], [0, 1, 0]], 2)
        with pytest.raises(ValueError, match="`N`"):
            func(self.lp, r, 0)
        with pytest.raises(ValueError, match="`prompt_weights`"):
            func(self.lp, r, 2, prompt_weights=[0.2, 0.2])

    def test_binary_reward_required(self):
        with pytest.raises(ValueError, match="`reward`"):
            best_of_n_success(self.lp, [[0.5, 0, 1], [0, 1, 0]], 2)


# ------------------------------------------------------------- Props F.6 / F.7 and bounds

class TestCoverageBounds:
    def test_sufficiency_bound(self):
        assert bon_sufficiency_bound(0.1, 0.01) == pytest.approx(0.11, rel=1e-15)
        np.testing.assert_allclose(bon_sufficiency_bound([0.0, 0.5], 0.1), [0.1, 0.6])

    def test_sufficient_n(self):
        assert bon_sufficient_n(10, 0.01) == math.ceil(20 * math.log(100))
        assert bon_sufficient_n(1, math.exp(-1)) in (2.0, 3.0)   # 2 up to rounding
        np.testing.assert_array_equal(bon_sufficient_n([1, 5], 0.5),
                                      [math.ceil(2 * math.log(2)), math.ceil(10 * math.log(2))])

    def test_necessity_reward_and_bound(self):
        lt = log([[0.5, 0.5, 0.0], [0.9, 0.1, 0.0]])
        lm = log([[0.05, 0.45, 0.5], [0.0, 0.5, 0.5]])
        # ratios: 10, 1.11, 0 | inf, 0.2, 0 ; threshold 2N = 4
        np.testing.assert_array_equal(bon_necessity_reward(lt, lm, 2),
                                      [[1, 0, 0], [1, 0, 0]])
        out = bon_necessity_reward(lt, lm, [2, 10])
        assert out.shape == (2, 2, 3)
        np.testing.assert_array_equal(out[1], [[0, 0, 0], [1, 0, 0]])
        assert bon_necessity_bound(0.3) == pytest.approx(0.15)

    def test_necessity_reward_threshold_is_ge(self):
        # log-ratio exactly log(2N) = log 4 is included, also when rounded a few ulps low
        # (theory.coverage.TIE_ATOL); clearly below it is not.
        from theory.coverage import TIE_ATOL
        log4 = np.log(4.0)
        assert bon_necessity_reward(0.0, -log4, 2) == 1
        assert bon_necessity_reward(0.0, -np.nextafter(log4, 0.0), 2) == 1
        assert bon_necessity_reward(0.0, -(log4 - 2 * TIE_ATOL), 2) == 0
        # huge N: 2N overflows, only pi_hat = 0 < pi_T qualifies.
        np.testing.assert_array_equal(bon_necessity_reward([0.0, 0.0], [-np.inf, -700.0],
                                                           1e308), [1, 0])

    def test_pass_at_n_coverage_bound(self):
        assert pass_at_n_coverage_bound(0.1, 20, 10) == pytest.approx(0.1 + math.exp(-2))
        got = pass_at_n_coverage_bound(0.0, [1, 1e300], [1, 1])
        np.testing.assert_allclose(got, [math.exp(-1), 0.0])

    def test_sandwich_hand(self):
        lo, hi = deterministic_target_sandwich(0.5, 2, 2)
        assert (lo, hi) == (pytest.approx(0.125), pytest.approx(0.75))
        lo, hi = deterministic_target_sandwich(0.4, 3, 1)            # (1 - 1)^3 = 0
        assert (lo, hi) == (0.0, 0.4)

    def test_sandwich_stable_huge_M(self):
        # (1 - 1/M)^N with M = 1e20, N = 1e20 is e^{-1}; the naive power gives 1.
        lo, hi = deterministic_target_sandwich(1.0, 1e20, 1e20)
        assert lo == pytest.approx(math.exp(-1), rel=1e-12)
        assert hi == pytest.approx(1 + math.exp(-1), rel=1e-12)

    def test_sandwich_vectorized(self):
        N = np.array([1.0, 4.0, 16.0])
        lo, hi = deterministic_target_sandwich(0.25, N[:, None], [2.0, 8.0])
        assert lo.shape == hi.shape == (3, 2)
        np.testing.assert_allclose(lo[1, 1], 0.25 * (7 / 8) ** 4, rtol=1e-14)
        np.testing.assert_allclose(hi[2, 0], 0.25 + 0.5**16, rtol=1e-14)

    @pytest.mark.parametrize("call, name, exc", [
        (lambda: bon_sufficiency_bound(1.2, 0.1), "cov_M", ValueError),
        (lambda: bon_sufficiency_bound(0.2, 0.0), "epsilon", ValueError),
        (lambda: bon_sufficient_n(0.5, 0.1), "M", ValueError),
        (lambda: bon_sufficient_n(2, 1.0), "epsilon", ValueError),
        (lambda: bon_sufficient_n(2, -0.1), "epsilon", ValueError),
        (lambda: bon_necessity_bound(-0.1), "cov_2N", ValueError),
        (lambda: bon_necessity_reward([0.0], [0.0], 0), "N", ValueError),
        (lambda: bon_necessity_reward([np.nan], [0.0], 2), "log_p_target", ValueError),
        (lambda: bon_necessity_reward([0.0, 0.0], [0.0, 0.0, 0.0], 2), "log_p_target",
         ValueError),
        (lambda: pass_at_n_coverage_bound(0.1, 0, 2), "N", ValueError),
        (lambda: pass_at_n_coverage_bound(0.1, 2, 0.5), "M", ValueError),
        (lambda: pass_at_n_coverage_bound(np.nan, 2, 2), "cov_M", ValueError),
        (lambda: deterministic_target_sandwich(0.1, 2, 0), "M", ValueError),
        (lambda: deterministic_target_sandwich(0.1, [1, 2], [1, 2, 3]), "N", ValueError),
        (lambda: deterministic_target_sandwich("x", 2, 2), "cov_M", TypeError),
    ])
    def test_bad_input(self, call, name, exc):
        with pytest.raises(exc, match=f"`{name}`"):
            call()
