"""Every invalid input a named error: the cases that returned a wrong number or leaked a warning.

Each test reproduces a failure of the earlier code (a silent wrong number, a leaked
``RuntimeWarning``, or a message that did not name the argument), then checks the fix.  The
generic battery for every public callable is ``tests/property/test_fuzz_theory.py``.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

from theory.best_of_n import pass_at_k
from theory.coverage import coverage_profile, per_prompt_coverage
from theory.log_ratio import exact_log_ratio
from theory.models import categorical_model
from theory.vgb import coverage_tail, example_3_1_action_level_coverage_tail


@pytest.mark.parametrize("pi_star", [[0.9, 0.9], [1.5, -0.5], [0.2, 0.2], [np.inf, 0.0]])
def test_coverage_tail_rejects_invalid_pi_star(pi_star):
    """It returned 1.8 and 1.5 (probabilities above one) for the first two."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="`pi_star`"):
            coverage_tail(pi_star, [0.5, 0.5], 1.0)


@pytest.mark.parametrize("pi_hat", [[0.9, 0.9], [1.5, -0.5], [-0.1, 0.5]])
def test_coverage_tail_rejects_invalid_pi_hat(pi_hat):
    with pytest.raises(ValueError, match="`pi_hat`"):
        coverage_tail([0.5, 0.5], pi_hat, 1.0)


def test_coverage_tail_accepts_a_sub_probability_output_law():
    # a sampler that fails to output a leaf with probability 0.2: ratio 0.5 / 0.1 = 5 > 4
    assert coverage_tail([0.5, 0.5], [0.1, 0.7], 4.0) == 0.5
    with pytest.raises(ValueError, match="`threshold`"):
        coverage_tail([0.5, 0.5], [0.5, 0.5], 0.5)


@pytest.mark.parametrize("threshold", [-5.0, 0.0, 0.5, [2.0, -1.0]])
def test_example_3_1_coverage_tail_threshold_domain(threshold):
    """Threshold -5 returned 0.0 (the tail P[ratio > -5] is 1): the domain N >= 1 is stated
    and validated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="`threshold`"):
            example_3_1_action_level_coverage_tail(3, 1.0, threshold)


def _exact_tail(H, eps, N):
    """P_{k ~ Bin(H-1, 1/2)}[pi*/pi_hat > N] in rational arithmetic (eps, N rational)."""
    n = H - 1
    q = (1 + eps) / (2 + eps)
    total = Fraction(0)
    for k in range(n + 1):
        ratio = Fraction(1, 2**n) / (q**k * (1 - q) ** (n - k))
        if ratio > N:
            total += Fraction(math.comb(n, k), 2**n)
    return float(total)


@pytest.mark.parametrize("H", [1, 2, 3, 8, 25, 254])
@pytest.mark.parametrize("eps", [Fraction(0), Fraction(1, 10**6), Fraction(2, 5), Fraction(3)])
def test_example_3_1_coverage_tail_exact(H, eps):
    """At eps = 0 the ratio is exactly 1, yet the tail at N = 1 came out 0.40 for H = 254
    (rounding noise of either sign in the log-ratio counted as > 0)."""
    Ns = [Fraction(1), Fraction(3, 2), Fraction(3), Fraction(40)]
    got = example_3_1_action_level_coverage_tail(H, float(eps), [float(N) for N in Ns])
    exact = [_exact_tail(H, eps, N) for N in Ns]
    assert np.allclose(got, exact, rtol=0, atol=1e-14)


def test_exact_log_ratio_no_warning_on_zero_probability_tokens():
    """A legal model with a zero-probability token leaked 'invalid value encountered in subtract'."""
    data = categorical_model([0.5, 0.5, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        law = exact_log_ratio(data, categorical_model([0.5, 0.5, 0.0]))
        assert np.array_equal(law.values, [0.0, 0.0]) and np.allclose(law.weights, 0.5)
        law = exact_log_ratio(data, categorical_model([0.25, 0.5, 0.25]))
        assert np.allclose(law.values, [np.log(2.0), 0.0])


@pytest.mark.parametrize("call", [
    lambda: coverage_profile([[1.0, 2.0], [3.0]], 2.0),
    lambda: coverage_profile([1.0, [2.0, 3.0]], 2.0),
    lambda: per_prompt_coverage([[1.0, 2.0], [3.0]], 2.0),
])
def test_ragged_log_ratio_is_named(call):
    """Numpy's 'inhomogeneous shape after 1 dimensions' did not say which argument."""
    with pytest.raises(ValueError, match=r"`log_ratio` must be a rectangular array.*ragged"):
        call()


def test_pass_at_k_empty_input_message():
    """``pass_at_k([], [], [])`` said "`n` must contain integers, got dtype float64"."""
    with pytest.raises(ValueError, match="`n` must not be empty"):
        pass_at_k([], [], [])
    with pytest.raises(ValueError, match="`c` must not be empty"):
        pass_at_k(5, [], 2)
