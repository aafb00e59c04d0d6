"""Tests for :mod:`simulations.stats`: rate fits, Clopper--Pearson, Bonferroni."""

import numpy as np
import pytest
from scipy import stats as sps

from simulations.stats import RateFit, binomial_interval, bonferroni, loglog_fit, slope_test

N_GRID = np.array([64, 128, 256, 512, 1024, 2048])


def _power_law(rng, exponent, sigma=0.3, reps=30, x=N_GRID):
    return x[:, None] ** exponent * rng.lognormal(0.0, sigma, size=(x.size, reps))


@pytest.mark.parametrize("exponent", [-1.0, -0.5, 0.25])
def test_slope_recovered_within_interval(exponent, rng):
    # 99.9% intervals: the false-fail rate of each case is about 1e-3.
    fit = loglog_fit(N_GRID, _power_law(rng, exponent), level=0.999, n_boot=2000, rng=rng)
    assert fit.ci_low <= exponent <= fit.ci_high
    assert fit.theil_low <= exponent <= fit.theil_high
    assert slope_test(fit, exponent)
    assert fit.n_points == N_GRID.size and fit.n_dropped == 0


def test_wrong_exponent_rejected(rng):
    # Power: an exponent off by 0.25 must fall outside the interval (design: width << 0.25).
    fit = loglog_fit(N_GRID, _power_law(rng, -0.5), level=0.999, rng=rng)
    assert fit.ci_high - fit.ci_low < 0.15
    assert not slope_test(fit, -0.75)
    assert not slope_test(fit, -0.25)
    assert slope_test(fit, -0.75, tol=0.3)


def test_quantile_statistic_and_ragged_replicates(rng):
    rows = [N ** -0.5 * rng.lognormal(0, 0.2, size=20 + 5 * i) for i, N in enumerate(N_GRID)]
    fit = loglog_fit(N_GRID, rows, rng=rng, statistic="quantile", q=0.5, level=0.999)
    assert fit.ci_low <= -0.5 <= fit.ci_high
    assert fit.statistic == "quantile(0.5)"


def test_fit_is_deterministic_given_rng():
    y = _power_law(np.random.default_rng(1), -0.5)
    a = loglog_fit(N_GRID, y, rng=np.random.default_rng(5))
    b = loglog_fit(N_GRID, y, rng=np.random.default_rng(5))
    assert a == b
    assert isinstance(a, RateFit) and a.to_dict()["slope"] == a.slope


def test_zero_statistic_raises_or_drops(rng):
    y = _power_law(rng, -0.5)
    y[-1] = 0.0
    with pytest.raises(ValueError, match="<= 0 at x"):
        loglog_fit(N_GRID, y, rng=rng)
    fit = loglog_fit(N_GRID, y, rng=rng, nonpositive="drop")
    assert fit.n_dropped == 1 and fit.n_points == N_GRID.size - 1


def test_mostly_zero_replicates_make_bootstrap_unreliable(rng):
    y = _power_law(rng, -0.5, reps=10)
    y[0, 1:] = 0.0  # resamples with no positive replicate at x[0] are common (~35%)
    with pytest.raises(ValueError, match="bootstrap resamples"):
        loglog_fit(N_GRID, y, rng=rng)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x=[1, 2, 3], y=np.ones((2, 4))), "one row per `x`"),
    (dict(x=[0, 2, 3], y=np.ones((3, 4))), "`x` must be positive"),
    (dict(x=[1, 1, 3], y=np.ones((3, 4))), "repeated"),
    (dict(x=[1, 2, 3], y=np.ones((3, 4)), level=1.0), "`level`"),
    (dict(x=[1, 2, 3], y=np.ones((3, 4)), n_boot=10), "`n_boot`"),
    (dict(x=[1, 2, 3], y=np.ones((3, 4)), statistic="median"), "`statistic`"),
    (dict(x=[1, 2, 3], y=np.ones((3, 4)), statistic="quantile"), "`q`"),
    (dict(x=[1, 2, 3], y=np.full((3, 4), np.nan)), "NaN"),
])
def test_loglog_fit_validation(kwargs, match, rng):
    x, y = kwargs.pop("x"), kwargs.pop("y")
    with pytest.raises(ValueError, match=match):
        loglog_fit(x, y, rng=rng, **kwargs)


def test_loglog_fit_rejects_a_non_seed_rng():
    with pytest.raises(TypeError, match="`rng`"):
        loglog_fit([1, 2, 3], np.ones((3, 2)), rng=0.5)


@pytest.mark.parametrize("level", [0.8, 0.95, 0.999])
def test_clopper_pearson_matches_scipy(level):
    n = np.array([1, 5, 10, 37, 100, 1000])
    for nn in n:
        ks = np.unique(np.linspace(0, nn, 7).round().astype(int))
        lo, hi = binomial_interval(ks, nn, level=level)
        for k, l, h in zip(ks, lo, hi):
            ref = sps.binomtest(int(k), int(nn)).proportion_ci(confidence_level=level, method="exact")
            assert l == pytest.approx(ref.low, abs=1e-12)
            assert h == pytest.approx(ref.high, abs=1e-12)


def test_clopper_pearson_scalar_and_validation():
    lo, hi = binomial_interval(0, 10)
    assert isinstance(lo, float) and lo == 0.0 and 0 < hi < 1
    assert binomial_interval(10, 10)[1] == 1.0
    with pytest.raises(ValueError, match="`k`"):
        binomial_interval(11, 10)
    with pytest.raises(ValueError, match="`n`"):
        binomial_interval(0, 0)
    with pytest.raises(TypeError, match="`k`"):
        binomial_interval(1.5, 10)


def test_clopper_pearson_coverage(rng):
    # Exact coverage >= level at p = 0.3, n = 40: count over 4000 simulated intervals.
    k = rng.binomial(40, 0.3, size=4000)
    lo, hi = binomial_interval(k, 40, level=0.9)
    covered = np.mean((lo <= 0.3) & (0.3 <= hi))
    assert covered >= 0.9 - 4 * np.sqrt(0.9 * 0.1 / 4000)


def test_bonferroni():
    assert bonferroni(0.95, 5) == pytest.approx(0.99)
    assert bonferroni(1e-4, 4) == pytest.approx(2.5e-5)
    assert bonferroni(0.9, 1) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="`m`"):
        bonferroni(0.95, 0)
    with pytest.raises(ValueError, match="`level_or_alpha`"):
        bonferroni(1.0, 3)


def test_slope_test_validation(rng):
    fit = loglog_fit(N_GRID, _power_law(rng, -0.5), rng=rng)
    with pytest.raises(ValueError, match="`tol`"):
        slope_test(fit, -0.5, tol=-1)
    with pytest.raises(TypeError, match="`fit`"):
        slope_test({"slope": 1}, -0.5)
