"""Exact confidence intervals used wherever a Monte Carlo number is reported."""

from __future__ import annotations

import numpy as np
from scipy import special

from .validation import check_real

__all__ = ["clopper_pearson"]


def clopper_pearson(k, n, *, level=0.95):
    """Exact (Clopper--Pearson) two-sided interval for a binomial proportion, vectorised.

    Parameters
    ----------
    k : int or array_like of int
        Successes, ``0 <= k <= n``.
    n : int or array_like of int
        Trials, ``n >= 1`` (broadcast against ``k``).
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    lo, hi : float or ndarray
        Bounds with coverage at least ``level`` for every true proportion.

    Notes
    -----
    .. math::

        \\text{lo} = B^{-1}(\\alpha/2;\\, k, n-k+1), \\qquad
        \\text{hi} = B^{-1}(1-\\alpha/2;\\, k+1, n-k),

    with ``lo = 0`` when ``k = 0`` and ``hi = 1`` when ``k = n``; equal to
    ``scipy.stats.binomtest(k, n).proportion_ci(level, method="exact")``.

    Examples
    --------
    >>> lo, hi = clopper_pearson(0, 10, level=0.95)
    >>> float(lo), round(float(hi), 4)
    (0.0, 0.3085)
    """
    level = check_real(level, "level", low=0, high=1, low_open=True, high_open=True)
    k_arr = np.asarray(k)
    n_arr = np.asarray(n)
    for name, arr in (("k", k_arr), ("n", n_arr)):
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
                raise TypeError(f"`{name}` must contain integers, got dtype {arr.dtype}.")
    k_arr, n_arr = np.broadcast_arrays(k_arr.astype(np.float64), n_arr.astype(np.float64))
    if (n_arr < 1).any():
        raise ValueError(f"`n` must be >= 1, got minimum {n_arr.min()}.")
    if (k_arr < 0).any() or (k_arr > n_arr).any():
        raise ValueError("`k` must satisfy 0 <= k <= n.")
    alpha = 1.0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k_arr == 0, 0.0,
                      special.betaincinv(np.maximum(k_arr, 1), n_arr - k_arr + 1, alpha / 2))
        hi = np.where(k_arr == n_arr, 1.0,
                      special.betaincinv(k_arr + 1, np.maximum(n_arr - k_arr, 1), 1 - alpha / 2))
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi
