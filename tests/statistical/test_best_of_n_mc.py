"""Monte Carlo Best-of-N against the exact formulas of :mod:`theory.best_of_n`.

Each check simulates ``T`` independent Best-of-N trials: a prompt ``x ~ mu``, then ``N``
i.i.d. responses from the enumerated model ``pi_hat(.|x)`` (inverse-CDF sampling, vectorized
over trials and draws, fixed-seed ``np.random.default_rng``), and records whether one of
them is correct.  The number of successes is exactly ``Binomial(T, Pass@N)``.

Acceptance rule and calibration
-------------------------------
* 0/1 reward: accept iff the exact ``Pass@N`` lies in the two-sided Clopper--Pearson interval
  (:func:`simulations.stats.binomial_interval`) at level ``1 - ALPHA`` with
  ``ALPHA = 1e-6``.  Clopper--Pearson is conservative, so the **false-fail rate of each
  check is at most 1e-6** whatever the true value.  The module makes 12 binomial and 4
  Hoeffding checks, so its family-wise false-fail rate is at most ``16 * 1e-6 < 2e-5``
  (union bound).  The seeds are fixed, so the outcome is deterministic; the rate applies
  to a fresh draw of the seeds.
* [0, 1] reward (mean of the best reward) and the pass@k estimator (values in [0, 1]):
  accept iff ``|mean - exact| <= sqrt(log(2 / ALPHA) / (2 T))`` (Hoeffding), false-fail
  rate at most 1e-6 per check.

Power: the same binomial rule must reject the off-by-one formula ``1 - (1 - q)^(N - 1)``.
This is asserted both on the realized simulation and *analytically*: the probability, under
the true ``Pass@N``, that the interval excludes the wrong value is computed exactly from the
binomial law and must be at least ``1 - 1e-3``.  (With ``T = 1e5`` the rule resolves
differences of about 0.01 in Pass@N; cases where the off-by-one error is smaller than that,
e.g. large ``N`` at a saturated prompt mix, are deliberately not used for the power check.)
"""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import binom

from simulations.stats import binomial_interval
from theory.best_of_n import best_of_n_expected_reward, best_of_n_success, pass_at_k, pass_at_n

pytestmark = pytest.mark.statistical

ALPHA = 1e-6
LEVEL = 1.0 - ALPHA
T = 100_000


def make_instance(seed, n_prompts=5, m=6):
    """Enumerated model with varied per-prompt success masses (some small, some large)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n_prompts, m))
    logits[0, 1] = -np.inf                                       # a zero-probability response
    lp = logits - logsumexp(logits, axis=1, keepdims=True)
    reward = (rng.random((n_prompts, m)) < 0.3).astype(int)
    reward[:, 0] = 0                                             # every prompt can fail
    reward[1, 1] = 1                                             # prompt 1 can succeed
    mu = rng.dirichlet(np.full(n_prompts, 2.0))
    return lp, reward, mu / mu.sum()


def simulate_best_of_n(log_probs, reward, N, mu, n_trials, rng):
    """Reward of the best of ``N`` i.i.d. draws, for ``n_trials`` independent prompts."""
    n_prompts, m = log_probs.shape
    cdf = np.cumsum(np.exp(log_probs), axis=1)
    cdf[:, -1] = 1.0
    x = rng.choice(n_prompts, size=n_trials, p=mu)
    u = rng.random((n_trials, N))
    y = (u[..., None] >= cdf[x][:, None, :]).sum(axis=-1)       # inverse CDF, y in [0, m)
    return reward[x[:, None], y].max(axis=1)


def accepts(successes, n, value):
    lo, hi = binomial_interval(successes, n, level=LEVEL)
    return lo <= value <= hi


def wrong_pass_at_n(lp, reward, N, mu):
    """Deliberately wrong formula 1 - (1 - q)^(N - 1)."""
    q = (np.exp(lp) * reward).sum(axis=1)
    return float(np.dot(mu, 1 - (1 - q) ** (N - 1)))


def analytic_power(p_true, p_wrong, n):
    """P_{k ~ Bin(n, p_true)}[p_wrong outside the Clopper--Pearson interval of k]."""
    sd = np.sqrt(n * p_true * (1 - p_true))
    k = np.arange(max(0, int(n * p_true - 12 * sd) - 1), min(n, int(n * p_true + 12 * sd) + 2))
    lo, hi = binomial_interval(k, n, level=LEVEL)
    accept = (lo <= p_wrong) & (p_wrong <= hi)
    return 1.0 - binom.pmf(k[accept], n, p_true).sum()


@pytest.mark.parametrize("seed, N", [(11, 1), (12, 2), (13, 5), (14, 12)])
def test_monte_carlo_pass_at_n_matches_exact(seed, N):
    lp, reward, mu = make_instance(seed)
    exact = float(best_of_n_success(lp, reward, N, prompt_weights=mu))
    assert 0.05 < exact < 0.95                                   # a non-degenerate check
    wins = simulate_best_of_n(lp, reward, N, mu, T, np.random.default_rng([seed, N]))
    assert accepts(int(wins.sum()), T, exact)


@pytest.mark.parametrize("seed, N", [(12, 2), (13, 5), (11, 8)])
def test_power_against_off_by_one_formula(seed, N):
    lp, reward, mu = make_instance(seed)
    exact = float(best_of_n_success(lp, reward, N, prompt_weights=mu))
    wrong = wrong_pass_at_n(lp, reward, N, mu)
    assert analytic_power(exact, wrong, T) >= 1 - 1e-3
    wins = simulate_best_of_n(lp, reward, N, mu, T, np.random.default_rng([seed, N]))
    assert accepts(int(wins.sum()), T, exact)
    assert not accepts(int(wins.sum()), T, wrong)


def test_simulator_matches_pass_at_n_of_success_mass():
    """The simulator's per-prompt success rate agrees with ``pass_at_n`` prompt by prompt."""
    lp, reward, mu = make_instance(21)
    N, n_trials = 3, 40_000
    rng = np.random.default_rng(21)
    q = (np.exp(lp) * reward).sum(axis=1)
    for x in range(lp.shape[0]):
        point = np.zeros(lp.shape[0])
        point[x] = 1.0
        wins = simulate_best_of_n(lp, reward, N, point, n_trials, rng)
        assert accepts(int(wins.sum()), n_trials, float(pass_at_n(q[x:x + 1], N)))


@pytest.mark.parametrize("N", [1, 4])
def test_monte_carlo_expected_reward_matches_exact(N):
    lp, _, mu = make_instance(31)
    rng = np.random.default_rng([31, N])
    reward = np.round(rng.random(lp.shape), 2)
    exact = float(best_of_n_expected_reward(lp, reward, N, prompt_weights=mu))
    best = simulate_best_of_n(lp, reward, N, mu, T, rng)
    half_width = np.sqrt(np.log(2 / ALPHA) / (2 * T))
    assert abs(best.mean() - exact) <= half_width
    # Power: the off-by-one budget is far outside the Hoeffding band.
    if N > 1:
        wrong = float(best_of_n_expected_reward(lp, reward, N - 1, prompt_weights=mu))
        assert abs(best.mean() - wrong) > half_width


@pytest.mark.parametrize("n, k, q", [(20, 5, 0.1), (50, 10, 0.03)])
def test_pass_at_k_unbiased_by_simulation(n, k, q):
    rng = np.random.default_rng([n, k])
    c = rng.binomial(n, q, size=T)
    est = pass_at_k(n, c, k)
    half_width = np.sqrt(np.log(2 / ALPHA) / (2 * T))
    assert abs(est.mean() - (1 - (1 - q) ** k)) <= half_width
    # The plug-in estimator 1 - (1 - c/n)^k is biased by more than the band here.
    plug_in = 1 - (1 - c / n) ** k
    assert abs(plug_in.mean() - (1 - (1 - q) ** k)) > half_width
