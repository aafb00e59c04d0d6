r"""Exact coverage (enumerated support with weights) against the empirical coverage of a large sample.

For each instance, ``Cov_N`` is computed exactly (:func:`theory.log_ratio.exact_log_ratio`) at a
grid of thresholds, and estimated from ``n`` i.i.d. samples of the data distribution
(:func:`theory.log_ratio.sampled_log_ratio`).  The count of samples with ratio ``>= N`` is
exactly ``Binomial(n, Cov_N)``.

Acceptance rule and calibration
-------------------------------
Accept iff every exact value lies in its two-sided Clopper--Pearson interval at level
``1 - ALPHA / m`` (``m`` = thresholds of the instance, Bonferroni), ``ALPHA = 1e-6``.
Clopper--Pearson is conservative, so each test's false-fail rate is at most ``1e-6``; the
module has 4 such tests: family-wise at most ``4e-6``.  Seeds are fixed (``rng`` fixture).

Power
-----
The same rule must reject the exact coverage of a *slightly different* model (``theta`` moved
by ``0.1``; or, at ``H = 10^4``, a model Bernoulli parameter off by ``0.002``): asserted on the
realized sample, and analytically -- the probability under the true coverage that the
interval excludes the wrong value (computed from the binomial law) is at least ``1 - 1e-3``
for at least one threshold.

The ``H = 10^4`` instance has no enumerable support; its exact coverage is the closed form
``sum_k Bin(k; H, p) 1{k log(p/q) + (H - k) log((1-p)/(1-q)) >= log N}`` (i.i.d. tokens), computed
here with :mod:`scipy.stats` independently of :mod:`theory`.
"""

import numpy as np
import pytest
from scipy import stats

from theory.coverage import TIE_ATOL
from theory.intervals import clopper_pearson
from theory.log_ratio import exact_log_ratio, sampled_log_ratio
from theory.models import AutoregressiveLinearModel, CallableFeatures, TabularFeatures

pytestmark = pytest.mark.statistical

ALPHA = 1e-6
N_SAMPLES = 100_000


def analytic_rejection_prob(c_true, c_wrong, n, level):
    """P_{k ~ Bin(n, c_true)}[c_wrong outside the Clopper--Pearson interval of k], for each pair.

    Only ``k`` within the central ``1 - 2e-12`` of the binomial law are enumerated; the omitted
    mass is counted as "not rejected", so the value is a lower bound on the power.
    """
    out = []
    for c, w in zip(c_true, c_wrong):
        k = np.arange(stats.binom.ppf(1e-12, n, c), stats.binom.isf(1e-12, n, c) + 1).astype(np.int64)
        lo, hi = clopper_pearson(k, np.full_like(k, n), level=level)
        out.append(stats.binom.pmf(k, n, c)[(w < lo) | (w > hi)].sum())
    return np.array(out)


def check(exact, sample_law, wrong_exact, N):
    level = 1 - ALPHA / len(N)
    lo, hi = sample_law.coverage_interval(N, level=level)
    inside = (lo <= exact) & (exact <= hi)
    assert inside.all(), f"exact {exact} outside [{lo}, {hi}] at N = {N[~inside]}"
    rejected = (wrong_exact < lo) | (wrong_exact > hi)
    assert rejected.any(), f"wrong coverage {wrong_exact} not rejected"
    power = analytic_rejection_prob(exact, wrong_exact, sample_law.n_points, level).max()
    assert power >= 1 - 1e-3, f"analytic power {power:.4f}"


def tabular_pair(seed, X=2, H=4, V=3, d=3):
    rng = np.random.default_rng(seed)
    feats = TabularFeatures(rng.normal(size=(X, H, V + 1, V, d)), horizon=H)
    mu = rng.dirichlet(np.ones(X) * 3)
    data = AutoregressiveLinearModel(feats, rng.normal(size=d), prompt_weights=mu)
    model = AutoregressiveLinearModel(feats, rng.normal(size=d), prompt_weights=mu)
    return data, model


def mid_range_thresholds(law, m=6):
    """Thresholds at quantiles of the exact law (so coverage is neither 0 nor 1), all >= 1."""
    z = np.sort(law.values[law.values > 0])
    q = np.quantile(z, np.linspace(0.1, 0.9, m), method="lower")
    return np.unique(np.exp(q))


def nudge(model, seed, delta=0.1):
    u = np.random.default_rng(seed).normal(size=model.dim)
    return model.replace(theta=model.theta + delta * u / np.linalg.norm(u))


@pytest.mark.parametrize("seed", [11, 12])
def test_tabular_exact_coverage_within_sample_interval(seed, rng):
    data, model = tabular_pair(seed)
    law = exact_log_ratio(data, model)
    N = mid_range_thresholds(law)
    exact = law.coverage(N)
    wrong = exact_log_ratio(data, nudge(model, seed)).coverage(N)
    check(exact, sampled_log_ratio(data, model, N_SAMPLES, rng=rng), wrong, N)


def test_callable_exact_coverage_within_sample_interval(rng):
    X, H, V, d, C = 2, 4, 2, 3, 3
    g = np.random.default_rng(21)
    A = g.normal(size=(X, C, V, d))
    feats = CallableFeatures(lambda x, prefix, h: A[x, (prefix.astype(np.int64) @ np.arange(1, h + 1)) % C],
                             X, H, V, d)
    data = AutoregressiveLinearModel(feats, g.normal(size=d))
    model = AutoregressiveLinearModel(feats, g.normal(size=d))
    law = exact_log_ratio(data, model)
    N = mid_range_thresholds(law)
    exact = law.coverage(N)
    wrong = exact_log_ratio(data, nudge(model, 22)).coverage(N)
    check(exact, sampled_log_ratio(data, model, N_SAMPLES, rng=rng), wrong, N)


def bernoulli_chain(p, H):
    t = np.zeros((1, 1, 3, 2, 1))
    t[..., 1, 0] = 1.0
    return AutoregressiveLinearModel(TabularFeatures(t, horizon=H), [np.log(p / (1 - p))])


def iid_bernoulli_coverage(p, q, H, N):
    k = np.arange(H + 1)
    lr = k * np.log(p / q) + (H - k) * np.log((1 - p) / (1 - q))
    pmf = stats.binom.pmf(k, H, p)
    return np.array([pmf[lr >= np.log(n) - TIE_ATOL].sum() for n in N])


def test_long_horizon_coverage_against_binomial_closed_form(rng):
    p, q, H = 0.3, 0.35, 10 ** 4
    kl = H * (p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)))     # ~ 55
    N = np.exp(kl + np.array([-15.0, -5.0, 0.0, 5.0, 15.0]))
    exact = iid_bernoulli_coverage(p, q, H, N)
    assert np.all((exact > 0.01) & (exact < 0.99))
    law = sampled_log_ratio(bernoulli_chain(p, H), bernoulli_chain(q, H), 1000, rng=rng)
    wrong = iid_bernoulli_coverage(p, q + 0.002, H, N)
    check(exact, law, wrong, N)
