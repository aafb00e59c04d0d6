"""Sharpness of the Best-of-N statements of :mod:`theory.best_of_n` (their property tests on
random instances live in ``tests/property/test_best_of_n_properties.py``).

Each test builds the witness on which the statement is attained (up to a slack derived
a priori here), so a loosened constant or a wrong tie convention fails:

* Prop. F.7 / D.7 (necessity, 1/2 Cov_{2N}): attained up to a factor 1 + s/4;
* Prop. F.6 / D.6 (sufficiency, Cov_M + eps): the coverage term is attained exactly;
* derived 1 - Pass@N <= Cov_M + e^{-N/M}: attained as M grows with N/M fixed;
* deterministic-target sandwich: both sides attained.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bounds_strategies import leq
from theory.best_of_n import (best_of_n_success, bon_necessity_bound, bon_necessity_reward,
                              bon_sufficiency_bound, bon_sufficient_n, deterministic_target_sandwich,
                              pass_at_n, pass_at_n_coverage_bound)
from theory.coverage import coverage_profile


def _cov(log_target, log_model, N, weights):
    with np.errstate(invalid="ignore"):
        lr = np.where(np.isneginf(log_target), -np.inf, log_target - log_model)
    return coverage_profile(lr.ravel(), N, weights=np.ravel(weights))


@given(st.integers(1, 64), st.floats(1e-9, 1e-2))
def test_prop_f7_necessity_attained(N, s):
    # pi_T = (s, 1-s), pi = (s/(2N), 1 - s/(2N)): ratio exactly 2N on the first response.
    # Suboptimality = s - (1 - (1 - s/(2N))^N) lies in [s/2, s/2 + s^2/8].
    lt = np.log([s, 1 - s])
    lm = np.array([np.log(s) - np.log(2 * N), np.log1p(-s / (2 * N))])
    reward = bon_necessity_reward(lt, lm, N)
    assert reward.tolist() == [1, 0]                          # the tie counts (>= 2N)
    cov_2n = _cov(lt, lm, 2 * N, np.exp(lt))
    assert abs(cov_2n - s) <= 1e-15
    target_reward = float(np.exp(lt) @ reward)
    subopt = target_reward - best_of_n_success(lm[None], reward[None], N)
    bound = bon_necessity_bound(cov_2n)
    assert leq(bound, subopt)
    assert subopt <= bound * (1 + s / 4) + 1e-15


@given(st.floats(0.0, 0.5), st.floats(np.log(2.0), np.log(1e3)).map(np.exp), st.floats(1e-6, 0.5))
def test_prop_f6_sufficiency_coverage_term_attained(c, M, eps):
    # Two prompts: weight c where the model never produces the target's (correct) response
    # (ratio inf, counted in Cov_M), weight 1 - c where model = target.  Suboptimality = c
    # exactly = Cov_M, for every N: the bound Cov_M + eps is attained up to eps.
    N = bon_sufficient_n(M, eps)
    with np.errstate(divide="ignore"):
        lt = np.log([[1.0, 0.0], [1.0, 0.0]])
        lm = np.log([[0.0, 1.0], [1.0, 0.0]])
    mu = np.array([c, 1 - c]) if c > 0 else np.array([0.0, 1.0])
    reward = np.array([[1, 0], [1, 0]])
    cov_m = _cov(lt, lm, M, mu[:, None] * np.exp(lt))
    assert abs(cov_m - c) <= 1e-15
    subopt = 1.0 - best_of_n_success(lm, reward, N, prompt_weights=mu)
    assert abs(subopt - c) <= 1e-12
    bound = bon_sufficiency_bound(cov_m, eps)
    assert leq(subopt, bound)
    assert bound - eps <= subopt + 1e-12          # attained up to eps


@given(st.floats(np.log(1e3), np.log(1e5)).map(np.exp), st.floats(0.5, 5.0))
def test_pass_at_n_coverage_bound_attained(M, ratio):
    # Every prompt has q = 1/M + eta (ratio below M by a factor 1 - 1e-7, well outside the
    # 1e-10 tie tolerance: Cov_M = 0), so 1 - Pass@N = (1 - 1/M - eta)^N, and
    # e^{-N/M} - (1 - 1/M)^N <= e^{-N/M} N/(M(M-1)).
    N = ratio * M
    eta = 1e-7 / M
    q = 1 / M + eta
    with np.errstate(divide="ignore"):
        lt = np.log([1.0, 0.0])
    lm = np.log([q, 1 - q])
    cov_m = _cov(lt, lm, M, np.exp(lt))
    assert cov_m == 0.0
    fail = 1.0 - pass_at_n([q], N)
    bound = pass_at_n_coverage_bound(cov_m, N, M)
    assert leq(fail, bound)
    slack = np.exp(-N / M) * N / (M * (M - 1)) + N * eta
    assert bound - fail <= slack + 1e-15


@given(st.floats(0.0, 1.0), st.floats(np.log(2.0), np.log(1e3)).map(np.exp), st.floats(1.0, 200.0))
def test_deterministic_sandwich_lower_side_attained(c, M, N):
    # Covered prompts have q = 1/M exactly (ratio exactly M: counted), the rest q = 1.
    # Then 1 - Pass@N = c (1 - 1/M)^N, the lower side, exactly.
    q = np.array([1 / M, 1.0])
    mu = np.array([c, 1 - c])
    cov_m = _cov(np.zeros(2), np.log(q), M, mu)
    assert abs(cov_m - c) <= 1e-15
    fail = 1.0 - pass_at_n(q, N, prompt_weights=mu)
    lo, hi = deterministic_target_sandwich(cov_m, N, M)
    assert leq(lo, fail) and leq(fail, hi)
    assert abs(fail - lo) <= 1e-12


@given(st.floats(1e-6, 0.2), st.floats(np.log(2.0), np.log(1e3)).map(np.exp), st.floats(1.0, 200.0))
def test_deterministic_sandwich_upper_side_attained(c, M, N):
    # Covered prompts have q = 0, the rest q = 1/M + eta (ratio M (1 - 1e-7), not a tie):
    # 1 - Pass@N = c + (1-c)(1-1/M-eta)^N, within c (1-1/M)^N + N eta of c + (1-1/M)^N.
    eta = 1e-7 / M
    q = np.array([0.0, 1 / M + eta])
    mu = np.array([c, 1 - c])
    with np.errstate(divide="ignore"):
        cov_m = _cov(np.zeros(2), np.log(q), M, mu)
    assert abs(cov_m - c) <= 1e-15
    fail = 1.0 - pass_at_n(q, N, prompt_weights=mu)
    lo, hi = deterministic_target_sandwich(cov_m, N, M)
    assert leq(lo, fail) and leq(fail, hi)
    assert hi - fail <= c * (1 - 1 / M) ** N + N * eta + 1e-12
