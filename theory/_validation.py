"""Input validation shared by the public functions of :mod:`theory`.

Every public function validates its arguments at the boundary through these helpers
(scipy's ``_<fn>_iv`` pattern) and raises ``TypeError``/``ValueError`` whose message names
the offending argument in backticks.  Internal helpers trust their inputs.
"""

from __future__ import annotations

import numbers
import os

import numpy as np

#: Absolute tolerance used when checking that probabilities sum to one.
PROB_SUM_ATOL = 1e-8


def as_float_array(value, name, *, ndim=None, min_ndim=None, allow_nan=False,
                   allow_posinf=True, allow_neginf=True, nonempty=True):
    """Return ``value`` as a float64 array, checked for dtype, shape and special values."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"`{name}` must be array-like of real numbers, got {type(value).__name__}.")
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"`{name}` must be array-like of real numbers, got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"`{name}` must be real, got a complex array.")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimension(s), got shape {arr.shape}.")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"`{name}` must have at least {min_ndim} dimension(s), got shape {arr.shape}.")
    if nonempty and arr.size == 0:
        raise ValueError(f"`{name}` must not be empty.")
    if not allow_nan and np.isnan(arr).any():
        raise ValueError(f"`{name}` must not contain NaN.")
    if not allow_posinf and np.isposinf(arr).any():
        raise ValueError(f"`{name}` must not contain +inf.")
    if not allow_neginf and np.isneginf(arr).any():
        raise ValueError(f"`{name}` must not contain -inf.")
    return arr


def as_finite_array(value, name, **kwargs):
    """Like :func:`as_float_array` but rejecting NaN and both infinities."""
    return as_float_array(value, name, allow_posinf=False, allow_neginf=False, **kwargs)


def as_int_array(value, name, *, ndim=None, low=None, high=None, nonempty=True):
    """Return ``value`` as an int64 array with entries in ``[low, high)``."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"`{name}` must be array-like of integers, got {type(value).__name__}.")
    arr = np.asarray(value)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and arr.size and np.all(np.isfinite(arr)) \
                and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"`{name}` must contain integers, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimension(s), got shape {arr.shape}.")
    if nonempty and arr.size == 0:
        raise ValueError(f"`{name}` must not be empty.")
    if low is not None and arr.size and arr.min() < low:
        raise ValueError(f"`{name}` entries must be >= {low}, got {arr.min()}.")
    if high is not None and arr.size and arr.max() >= high:
        raise ValueError(f"`{name}` entries must be < {high}, got {arr.max()}.")
    return arr


def check_int(value, name, *, low=None, high=None):
    """Return ``value`` as a Python int, checking type and range ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer, got {type(value).__name__}.")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"`{name}` must be >= {low}, got {value}.")
    if high is not None and value > high:
        raise ValueError(f"`{name}` must be <= {high}, got {value}.")
    return value


def check_real(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a finite Python float in the given (closed or open) range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {value}.")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"`{name}` must be {'>' if low_open else '>='} {low}, got {value}.")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"`{name}` must be {'<' if high_open else '<='} {high}, got {value}.")
    return value


def check_probability_vector(value, name, *, axis=-1, ndim=None):
    """Return a float array of non-negative entries summing to one along ``axis``."""
    arr = as_finite_array(value, name, ndim=ndim)
    if (arr < 0).any():
        raise ValueError(f"`{name}` must be non-negative, got minimum {arr.min()}.")
    total = arr.sum(axis=axis)
    if not np.allclose(total, 1.0, rtol=0.0, atol=PROB_SUM_ATOL):
        bad = np.max(np.abs(total - 1.0))
        raise ValueError(f"`{name}` must sum to one along axis {axis} (max deviation {bad:.3g}).")
    return arr


def check_log_probabilities(value, name, *, axis=-1, ndim=None, min_ndim=None, normalized=True):
    """Return log-probabilities (``-inf`` allowed, NaN/``+inf`` rejected).

    With ``normalized=True`` the probabilities must sum to one along ``axis``.
    """
    arr = as_float_array(value, name, ndim=ndim, min_ndim=min_ndim, allow_posinf=False)
    if (arr > 1e-12).any():
        raise ValueError(f"`{name}` are log-probabilities and must be <= 0, got maximum {arr.max()}.")
    if normalized:
        from scipy.special import logsumexp
        total = logsumexp(arr, axis=axis)
        if not np.allclose(total, 0.0, rtol=0.0, atol=PROB_SUM_ATOL):
            raise ValueError(
                f"`{name}` must be normalized: exp(`{name}`) must sum to one along axis {axis} "
                f"(max |log-sum| {np.max(np.abs(total)):.3g}).")
    return arr


def check_thresholds(N, name="N"):
    """Return the thresholds ``N`` as a float array with every entry ``>= 1``.

    ``N`` may be a scalar or any array; ``+inf`` is allowed (coverage at infinity).
    """
    arr = as_float_array(N, name, allow_neginf=False)
    if (arr < 1).any():
        raise ValueError(f"`{name}` must be >= 1 (a Best-of-N budget), got minimum {arr.min()}.")
    return arr


def check_weights(weights, name, shape):
    """Return a probability vector of the given ``shape`` (normalised over all entries)."""
    arr = as_finite_array(weights, name)
    if arr.shape != tuple(shape):
        raise ValueError(f"`{name}` must have shape {tuple(shape)}, got {arr.shape}.")
    if (arr < 0).any():
        raise ValueError(f"`{name}` must be non-negative, got minimum {arr.min()}.")
    total = arr.sum()
    if not np.isclose(total, 1.0, rtol=0.0, atol=PROB_SUM_ATOL):
        raise ValueError(f"`{name}` must sum to one, got {total!r}.")
    return arr


def physical_memory_bytes():
    """Physical memory of this machine in bytes (``2**46`` if the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 1 << 46


def check_allocation(n_bytes, name, value):
    """Raise ``ValueError`` naming ``name`` when a request needs more than the physical memory.

    Guards sizes such as ``n = 10**18`` samples: numpy would otherwise either fail with a
    ``MemoryError`` or, for sizes just above the free memory, drive the machine out of
    memory.
    """
    limit = physical_memory_bytes()
    if n_bytes > limit:
        raise ValueError(f"`{name}` = {value} needs about {n_bytes / 2**30:.3g} GiB of working "
                         f"memory, more than the {limit / 2**30:.3g} GiB of this machine; "
                         "work in batches.")


def readonly(arr):
    """Return ``arr`` as a read-only array (a view when possible)."""
    arr = np.asarray(arr)
    if arr.flags.writeable:
        arr = arr.view()
        arr.flags.writeable = False
    return arr
