"""Certified coverage and stopped-KL bounds for Markov models (:mod:`theory.log_ratio.certified`, :mod:`theory.log_ratio.stopped`).

* bracketing: the exact value (enumeration) lies in ``[lo, hi]`` at every threshold, for
  random Markov / tabular autoregressive models drawn by hypothesis (zeros in the data,
  zero-probability transitions in the model, prompt mixtures, narrow windows that force
  mass out of the lattice);
* refinement: the gap shrinks as ``n_bins`` grows;
* consistency: lattice mean + exact rounding-error mean = KL; ``N = inf``;
* agreement with Monte Carlo at long ``H`` (Clopper–Pearson, stated false-fail rate).
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import log_softmax

from theory.coverage import coverage_profile
from theory.log_ratio import (certified_coverage, certified_log_ratio, certified_stopped_kl,
                              exact_log_ratio, exact_stopped_kl, markov_kl, sampled_log_ratio)
from theory.models import AutoregressiveLinearModel, MarkovModel, TabularFeatures, categorical_model


def _random_table(rng, X, Hd, V, conc, zero_frac):
    p = rng.dirichlet(np.full(V, conc), size=(X, Hd, V + 1))
    if zero_frac > 0:
        p = np.where(rng.random(p.shape) < zero_frac, 0.0, p)
        empty = p.sum(-1) == 0
        p[..., 0] = np.where(empty, 1.0, p[..., 0])
        p = p / p.sum(-1, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.log(p)


@st.composite
def markov_pairs(draw, max_h=5, max_v=3):
    H = draw(st.integers(1, max_h))
    V = draw(st.integers(2, max_v))
    X = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    hom = draw(st.booleans())
    mu = rng.dirichlet(np.ones(X)) if X > 1 else None
    d = MarkovModel(_random_table(rng, X, 1 if hom else H, V, draw(st.sampled_from([0.1, 1.0, 10.0])),
                                  draw(st.sampled_from([0.0, 0.3]))), H, mu)
    m = MarkovModel(_random_table(rng, X, 1 if draw(st.booleans()) else H, V,
                                  draw(st.sampled_from([0.1, 1.0, 10.0])),
                                  draw(st.sampled_from([0.0, 0.3]))), H, mu)
    return d, m


N_GRID = np.concatenate([[1.0], np.exp(np.linspace(0.01, 12.0, 60)), [np.inf]])


def _exact_cov(d, m, N):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return exact_log_ratio(d, m).coverage(N)


@given(markov_pairs(), st.sampled_from([16, 64, 512]), st.sampled_from([0.25, 1.0, 8.0]),
       st.sampled_from(["lattice", "fft"]))
def test_certified_coverage_brackets_exact(pair, n_bins, width_sd, method):
    d, m = pair
    if method == "fft" and not (d.log_probs.shape[1] == 1 and m.log_probs.shape[1] == 1):
        method = "lattice"
    exact = _exact_cov(d, m, N_GRID)
    law = certified_log_ratio(d, m, n_bins=n_bins, width_sd=width_sd, method=method)
    assert law.method == method
    lo, hi = law.coverage_bounds(N_GRID)
    assert np.all(lo <= exact + 1e-12) and np.all(exact <= hi + 1e-12)
    assert np.all((0 <= lo) & (hi <= 1))
    assert np.all(np.diff(lo) <= 1e-12) and np.all(np.diff(hi) <= 1e-12)   # non-increasing in N
    # N = inf: coverage is the exact mass of infinite ratios
    assert lo[-1] <= law.inf_mass + 1e-12 <= hi[-1] + 2e-12


@given(markov_pairs(max_h=4))
def test_certified_coverage_brackets_exact_for_tabular_linear_models(pair):
    d, _ = pair
    rng = np.random.default_rng(d.horizon)
    X, V, H = d.n_prompts, d.vocab_size, d.horizon
    feats = TabularFeatures(rng.normal(size=(X, H, V + 1, V, 2)), horizon=H)
    data = AutoregressiveLinearModel(feats, rng.normal(size=2) * 2)
    model = AutoregressiveLinearModel(feats, rng.normal(size=(3, 2)) * 2)      # a batch of 3
    b = certified_coverage(data, model, N_GRID, n_bins=128)
    exact = _exact_cov(data, model, N_GRID)
    assert b.lo.shape == (3,) + N_GRID.shape == exact.shape
    assert np.all(b.contains(exact, atol=1e-12))
    assert b.evaluation == "certified"


@given(markov_pairs())
def test_certified_stopped_kl_brackets_exact(pair):
    d, m = pair
    N = np.concatenate([[1.0], np.exp(np.linspace(0.01, 8.0, 30))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        exact = exact_stopped_kl(d, m, N)
    b = certified_stopped_kl(d, m, N, n_bins=256)
    assert np.all(b.contains(exact, atol=1e-12))
    assert np.all(b.hi <= np.log(N) + 1e-12)


def _long_pair(H, V=4, seed=0, noise=0.3, X=1):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(X, H, V + 1, V))
    d = MarkovModel(log_softmax(logits, -1), H)
    m = MarkovModel(log_softmax(logits + noise * rng.normal(size=logits.shape), -1), H)
    return d, m


def test_gap_shrinks_with_bins_and_kl_consistency():
    d, m = _long_pair(60, seed=1)
    N = np.exp(np.linspace(0, 12, 200))
    gaps = []
    for bins in (256, 1024, 4096):
        law = certified_log_ratio(d, m, n_bins=bins)
        lo, hi = law.coverage_bounds(N)
        gaps.append(np.max(hi - lo))
        if law.escape_mass.sum() < 1e-12:
            assert abs(law.lattice_mean() + law.error_mean - law.kl) <= 1e-9 * max(1, law.kl)
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 0.25 * gaps[0]                 # roughly 1/bins
    assert abs(law.kl - markov_kl(d, m)) == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_fft_and_lattice_agree_on_homogeneous_chains(seed):
    d, m = _long_pair(1, seed=seed)
    d, m = MarkovModel(d.log_probs, 300), MarkovModel(m.log_probs, 300)     # homogeneous, H = 300
    N = np.exp(np.linspace(0, 30, 300))
    a = certified_coverage(d, m, N, n_bins=8192, method="lattice")
    b = certified_coverage(d, m, N, n_bins=8192, method="fft")
    assert np.all(np.maximum(a.lo, b.lo) <= np.minimum(a.hi, b.hi) + 1e-12)   # the two bands intersect
    assert b.max_gap < 0.05 and a.max_gap < 0.05
    fine = certified_coverage(d, m, N, n_bins=1 << 16, method="fft")
    assert fine.max_gap < 0.5 * b.max_gap                      # refining the lattice shrinks the gap
    assert np.all(np.maximum(fine.lo, a.lo) <= np.minimum(fine.hi, a.hi) + 1e-12)


def test_ties_and_infinite_ratios():
    # Ber(0.3) vs Ber(0.075): ratio exactly 4 on outcome 1 (tie counted by the convention)
    b = certified_coverage(categorical_model([0.3, 0.7]), categorical_model([0.075, 0.925]), [4.0, 4.1])
    exact = _exact_cov(categorical_model([0.3, 0.7]), categorical_model([0.075, 0.925]), [4.0, 4.1])
    assert np.all(b.contains(exact, atol=1e-15)) and exact[0] == pytest.approx(0.3)
    # the model misses one data outcome: +inf ratio, counted at every N including inf
    d, m = categorical_model([0.2, 0.8]), categorical_model([0.0, 1.0])
    b = certified_coverage(d, m, [1.0, 10.0, 1e300, np.inf])
    np.testing.assert_allclose(b.lo, [0.2, 0.2, 0.2, 0.2], atol=1e-12)   # ratio 0.8 < 1 elsewhere
    np.testing.assert_allclose(b.hi, [0.2, 0.2, 0.2, 0.2], atol=1e-12)


def test_identical_models_and_deterministic_paths():
    d, _ = _long_pair(20, seed=3)
    b = certified_coverage(d, d, [1.0, 1.0 + 1e-6, 2.0])
    np.testing.assert_allclose(b.lo, [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(b.hi, [1.0, 0.0, 0.0], atol=1e-12)
    s = certified_stopped_kl(d, d, [1.0, 5.0, np.inf])
    np.testing.assert_allclose(s.hi, 0.0, atol=1e-12)


@pytest.mark.statistical
def test_agrees_with_monte_carlo_at_long_horizon(rng):
    # H = 400, V = 4: certified [lo, hi] against 99.99% Clopper-Pearson intervals from 20,000
    # samples at 8 thresholds; the false-fail rate is at most 8 * 1e-4 (Bonferroni).
    # Power: the intervals are narrower than 0.03, so a certified band shifted by 0.05 (or a
    # coverage computed with the wrong tail) would not overlap them.
    d, m = _long_pair(400, seed=7, noise=0.25)
    N = np.exp(np.quantile(sampled_log_ratio(d, m, 2000, rng=rng).values, [0.1, 0.2, 0.35, 0.5, 0.65,
                                                                              0.8, 0.9, 0.95]))
    b = certified_coverage(d, m, N, n_bins=8192)
    mc = sampled_log_ratio(d, m, 20000, rng=rng)
    lo_mc, hi_mc = mc.coverage_interval(N, level=1 - 1e-4)
    assert np.all(hi_mc - lo_mc < 0.03)
    assert np.all(b.gap < 0.05)
    assert np.all((b.lo <= hi_mc) & (lo_mc <= b.hi))
    shifted_lo, shifted_hi = b.lo + 0.05 + b.gap, b.hi + 0.05 + b.gap
    assert not np.all((shifted_lo <= hi_mc) & (lo_mc <= shifted_hi))


def test_validation():
    d, m = _long_pair(3, seed=0)
    with pytest.raises(ValueError, match="n_bins"):
        certified_coverage(d, m, 2.0, n_bins=8)
    with pytest.raises(ValueError, match="N"):
        certified_coverage(d, m, 0.5)
    with pytest.raises(ValueError):
        certified_coverage(d, _long_pair(4, seed=0)[1], 2.0)
    batch = MarkovModel(np.stack([d.log_probs, m.log_probs]), 3)
    with pytest.raises(ValueError, match="single"):
        certified_coverage(batch, m, 2.0)
    with pytest.raises(ValueError, match="unbatched"):
        certified_log_ratio(d, batch)
    with pytest.raises(ValueError, match="width_sd"):
        certified_log_ratio(d, m, width_sd=0.0)
    with pytest.raises(ValueError, match="homogeneous"):
        certified_log_ratio(d, m, method="fft")            # position-dependent tables
    with pytest.raises(ValueError, match="method"):
        certified_log_ratio(d, m, method="exact")


def test_result_records():
    d, m = _long_pair(10, seed=2)
    b = certified_coverage(d, m, [2.0, np.inf])
    rec = b.to_dict()
    assert rec["evaluation"] == "certified" and rec["quantity"] == "coverage" and rec["n_bins"] == 4096
    assert not b.lo.flags.writeable
    law = certified_log_ratio(d, m, n_bins=64)
    assert law.to_dict()["n_bins"] == 64 and law.evaluation == "certified"
    assert coverage_profile([0.0], 1.0) == 1.0   # sanity of the shared convention


# ----------------------------------------------------------------------- method="fourier"
# The exact characteristic function (theory.log_ratio.fourier) and the certified bounds built
# from it without any rounding of the log-ratio.

from theory.log_ratio import markov_characteristic_function  # noqa: E402


@given(markov_pairs(), st.floats(0.0, 200.0))
def test_characteristic_function_matches_enumeration(pair, t_max):
    d, m = pair
    law = exact_log_ratio(d, m)
    fin = np.isfinite(law.values)
    t = np.linspace(-t_max, t_max, 7)
    exact = (law.weights[fin][None, :] * np.exp(1j * t[:, None] * law.values[fin][None, :])).sum(axis=1)
    phi, err = markov_characteristic_function(d, m, t)
    # the enumeration has its own rounding (one exp per support point), hence the 1e-13
    assert np.all(np.abs(phi - exact) <= err + 1e-13)
    assert abs(phi[3] - law.weights[fin].sum()) <= 1e-12         # t = 0: P[Z < inf]


@given(markov_pairs(), st.sampled_from([64, 1024]))
def test_fourier_bounds_bracket_exact(pair, n_freq):
    d, m = pair
    law = certified_log_ratio(d, m, method="fourier", n_freq=n_freq)
    lo, hi = law.coverage_bounds(N_GRID)
    exact = _exact_cov(d, m, N_GRID)
    assert np.all(lo <= exact + 1e-12) and np.all(exact <= hi + 1e-12)
    assert law.to_dict()["method"] == "fourier" and law.evaluation == "certified"


@pytest.mark.parametrize("homogeneous", [True, False])
def test_fourier_gap_halves_with_frequencies_and_agrees_with_lattice(homogeneous):
    d, m = _long_pair(1 if homogeneous else 300, seed=4)
    d, m = MarkovModel(d.log_probs, 300), MarkovModel(m.log_probs, 300)
    N = np.exp(np.linspace(0, 30, 300))
    lat = certified_coverage(d, m, N, n_bins=4096, method="lattice")
    gaps = []
    for n_freq in (1 << 12, 1 << 13, 1 << 14):
        b = certified_coverage(d, m, N, method="fourier", n_freq=n_freq)
        assert np.all(np.maximum(lat.lo, b.lo) <= np.minimum(lat.hi, b.hi) + 1e-12)   # bands intersect
        gaps.append(b.max_gap)
    # the smoothing scale halves with each doubling, and with it the gap (no sqrt(H) rounding term)
    assert 0.4 < gaps[1] / gaps[0] < 0.6 and 0.4 < gaps[2] / gaps[1] < 0.6
    assert gaps[2] < 0.2 * lat.max_gap


def test_fourier_is_the_default_at_long_horizons_and_meets_the_gap_bar():
    # the benchmark instance (V = 4, H = 1000), position-dependent tables
    d, m = _long_pair(1000, seed=0)
    N = np.exp(np.linspace(0.0, 60.0, 1000))
    b = certified_coverage(d, m, N)
    assert b.n_bins == 1 << 16 and b.max_gap <= 1e-3
    lat = certified_coverage(d, m, N[::50], method="lattice")
    assert np.all(np.maximum(lat.lo, b.lo[::50]) <= np.minimum(lat.hi, b.hi[::50]) + 1e-12)


def test_fourier_edge_cases():
    # identical models: Z = 0 surely, far thresholds are exact
    d, _ = _long_pair(80, seed=3)
    b = certified_coverage(d, d, [1.0, 2.0, np.inf], method="fourier")
    np.testing.assert_allclose(b.lo, [1.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(b.hi, [1.0, 0.0, 0.0], atol=1e-9)
    # a model that misses data outcomes: the +inf atom is exact at every threshold
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=(1, 1, 4))
    q = p.copy()
    q[..., 0] = 0.0
    q /= q.sum(-1, keepdims=True)
    with np.errstate(divide="ignore"):
        d, m = MarkovModel(np.log(p), 100), MarkovModel(np.log(q), 100)
    law = certified_log_ratio(d, m, method="fourier")
    p_inf = 1.0 - law.finite_mass
    assert law.inf_mass == pytest.approx(p_inf, abs=1e-12) and law.inf_mass > 0.99
    lo, hi = law.coverage_bounds([1.0, 1e6, np.inf])
    assert np.all(lo >= law.inf_mass - 1e-12) and np.all(hi <= 1.0)
    assert lo[-1] == pytest.approx(law.inf_mass, abs=1e-12) and hi[-1] == pytest.approx(law.inf_mass, abs=1e-12)


def test_fourier_validation():
    d, m = _long_pair(3, seed=0)
    with pytest.raises(ValueError, match="`n_freq`"):
        certified_coverage(d, m, 2.0, method="fourier", n_freq=4)
    with pytest.raises(ValueError, match="`t`"):
        markov_characteristic_function(d, m, [0.0, np.nan])
    with pytest.raises(ValueError, match="method"):
        certified_log_ratio(d, m, method="fourrier")
