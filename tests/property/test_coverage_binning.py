"""Both paths of the exact coverage profile put every point on the same side of every threshold.

``coverage_profile(..., weights=w)`` bins the points among the sorted thresholds when there
are no more thresholds than points, and sorts the points otherwise.  Against a brute-force
masked sum with the same cut-offs (``log N - TIE_ATOL``), on supports with ties, points
exactly at a cut-off, ``+inf`` ratios and zero weights.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.coverage import (_coverage_binned, _coverage_sorted, tail_masses,
                             comparison_log_thresholds, coverage_profile)


def brute_force(lr, w, N):
    cut = comparison_log_thresholds(N)
    return np.array([w[(lr >= c) & (w > 0)].sum() for c in np.ravel(cut)]).reshape(np.shape(N))


@st.composite
def support_and_thresholds(draw):
    m = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    N = np.exp(rng.choice([0.0, 0.5, 1.0, 2.0, 7.0], size=draw(st.integers(1, 80)))
               * rng.random(1)[0] * 3) * rng.choice([1.0, 1.0, 2.0], size=1)
    cut = comparison_log_thresholds(N)
    pool = np.concatenate([cut, np.log(N), rng.normal(size=5), [np.inf, 0.0, -1.0]])
    lr = rng.choice(pool, size=m)                     # many ties, some exactly at a cut-off
    w = rng.random(m) * (rng.random(m) > 0.2)
    if w.sum() == 0:
        w[0] = 1.0
    return lr, w / w.sum(), N


@settings(max_examples=200, deadline=None)
@given(support_and_thresholds())
def test_binned_and_sorted_paths_equal_brute_force(case):
    lr, w, N = case
    want = brute_force(lr, w, N)
    lr_eff = np.where(w > 0, lr, -np.inf)
    cut = comparison_log_thresholds(N)
    binned = _coverage_binned(lr_eff, w, cut)
    sorted_lr, tail = tail_masses(lr_eff, w)
    by_sort = _coverage_sorted(sorted_lr, tail, cut)
    np.testing.assert_allclose(binned, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(by_sort, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(coverage_profile(lr, N, weights=w), want, rtol=0, atol=1e-12)


def test_binning_detects_a_wrong_side():
    """Negative control: a point exactly at a cut-off counts, and moving the cut-off by one
    ulp upward drops it; the brute force sees the same, so the comparison above can fail."""
    N = np.array([4.0])
    cut = comparison_log_thresholds(N)
    lr, w = np.array([cut[0], -1.0]), np.array([0.25, 0.75])
    assert _coverage_binned(lr, w, cut)[0] == 0.25
    assert _coverage_binned(lr, w, np.nextafter(cut, np.inf))[0] == 0.0
