"""Boundary checks shared by :mod:`theory` and :mod:`simulations`.

Every public function of either package validates its arguments at the boundary through
these helpers (scipy's ``_<fn>_iv`` pattern) and raises ``TypeError``/``ValueError`` whose
message names the offending argument in backticks.  Internal helpers trust their inputs.
The module is public so that :mod:`simulations` never imports a private name of
:mod:`theory`; it was ``theory._validation`` before the layout renovation.
"""

from __future__ import annotations

import contextlib
import contextvars
import numbers
import os

import numpy as np

#: Absolute tolerance used when checking that probabilities sum to one.
PROB_SUM_ATOL = 1e-8


def _asarray(value, name, what):
    """``np.asarray(value)`` with a message naming ``name`` for ragged nested sequences."""
    try:
        return np.asarray(value)
    except ValueError:
        raise ValueError(f"`{name}` must be a rectangular array of {what}: its nested sequences "
                         "have different lengths (ragged).") from None


def as_float_array(value, name, *, ndim=None, min_ndim=None, allow_nan=False,
                   allow_posinf=True, allow_neginf=True, nonempty=True):
    """Return ``value`` as a float64 array, checked for dtype, shape and special values."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"`{name}` must be array-like of real numbers, got {type(value).__name__}.")
    arr = _asarray(value, name, "real numbers")
    if arr.dtype == object and arr.size and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in arr.flat):
        arr = arr.astype(np.float64)            # Python ints beyond 64 bits, mixed with floats
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"`{name}` must be array-like of real numbers, got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"`{name}` must be real, got a complex array.")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimension(s), got shape {arr.shape}.")
    if min_ndim is not None and arr.ndim < min_ndim:
        hint = f" (for one value, pass a list: [{float(arr):g}])" if arr.ndim == 0 and min_ndim == 1 else ""
        raise ValueError(f"`{name}` must have at least {min_ndim} dimension(s), got shape {arr.shape}{hint}.")
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
    arr = _asarray(value, name, "integers")
    if nonempty and arr.size == 0:
        raise ValueError(f"`{name}` must not be empty.")
    too_big = ((arr.dtype == object and arr.size and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in arr.flat))
        or (np.issubdtype(arr.dtype, np.unsignedinteger) and arr.size and arr.max() >= 2 ** 63))
    if too_big:
        raise ValueError(f"`{name}` entries must fit in 64-bit signed integers (< 2**63), got "
                         f"{max(int(v) for v in arr.flat)}.")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        # an empty list has dtype float64; it holds no non-integer
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) \
                and np.all(arr == np.round(arr)):
            if arr.size and np.abs(arr).max() >= 2.0 ** 63:
                raise ValueError(f"`{name}` entries must fit in 64-bit integers, got "
                                 f"{np.abs(arr).max():.3g}.")
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"`{name}` must contain integers, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimension(s), got shape {arr.shape}.")
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


def check_rng(rng, name="rng"):
    """Return a ``numpy.random.Generator`` from any seed-like ``rng`` (SPEC 7).

    Accepts ``None`` (fresh OS entropy), an integer, a ``numpy.random.SeedSequence``, a
    ``numpy.random.BitGenerator`` or a ``Generator`` (returned unchanged, so a caller's stream
    is advanced, not copied), as :func:`numpy.random.default_rng` and scipy do.  Anything else
    (a float, a string, the legacy ``RandomState``) raises ``TypeError`` naming ``name``.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (np.random.SeedSequence, np.random.BitGenerator)):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise ValueError(f"`{name}` as an integer seed must be >= 0, got {int(rng)}.")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"`{name}` must be None, an int seed, a numpy SeedSequence or a numpy Generator, "
        f"got {type(rng).__name__}."
    )


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
    if isinstance(N, (bool, np.bool_)) or np.asarray(N).dtype == bool:
        raise TypeError(f"`{name}` must be real numbers >= 1, got a boolean.")
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
        raise ValueError(f"`{name}` must sum to one, got {float(total):.6g}.")
    return arr


def physical_memory_bytes():
    """Physical memory of this machine in bytes (``2**46`` if the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 1 << 46


#: Default byte budget of one call: the largest working memory a public function of
#: :mod:`theory` allocates without being asked (2 GiB, or the physical memory if smaller).
#: Raise it for a block of code with :func:`theory.allocation_budget`.
DEFAULT_ALLOCATION_BUDGET = 2 << 30

_BUDGET = contextvars.ContextVar("theory_allocation_budget", default=None)


def allocation_budget_bytes():
    """The byte budget in force: the innermost :func:`allocation_budget`, else the default.

    Never more than the physical memory of the machine.
    """
    budget = _BUDGET.get()
    if budget is None:
        budget = DEFAULT_ALLOCATION_BUDGET
    return min(budget, physical_memory_bytes())


@contextlib.contextmanager
def allocation_budget_context(n_bytes):
    """Context manager behind :func:`theory.allocation_budget` (``n_bytes`` validated there)."""
    token = _BUDGET.set(n_bytes)
    try:
        yield n_bytes
    finally:
        _BUDGET.reset(token)


def format_bytes(n_bytes):
    """``n_bytes`` as a short human-readable string (``'3.9 GiB'``)."""
    n = float(n_bytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "bytes" else f"{int(n)} bytes"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover


def check_allocation(n_bytes, what, alternative):
    """Refuse, before it happens, an allocation of about ``n_bytes`` above the byte budget.

    Every public function whose memory grows with an argument estimates its working set in
    bytes and calls this first, so that a huge argument (``n = 10**18`` samples,
    ``H = 10**9`` positions, 64 models x 200 prompts x ``V**H`` sequences) is a
    ``ValueError`` in microseconds instead of a ``MemoryError`` or an out-of-memory kill.

    Parameters
    ----------
    n_bytes : int or float
        Estimated peak working memory of the request (Python ints, so no overflow).
    what : str
        The request, naming the responsible argument(s) in backticks, e.g.
        ``"exact enumeration with `max_sequences` = 4194304 for 64 models x 3 prompts"``.
    alternative : str
        What to use instead (a cheaper method, a smaller argument, batches).

    Raises
    ------
    ValueError
        ``"<what> needs about 3.9 GiB of working memory, more than the allocation budget
        of 2 GiB; <alternative> (or raise the budget with theory.allocation_budget)."``
    """
    budget = allocation_budget_bytes()
    if n_bytes > budget:
        raise ValueError(f"{what} needs about {format_bytes(n_bytes)} of working memory, more "
                         f"than the allocation budget of {format_bytes(budget)}; {alternative} "
                         "(or raise the budget with theory.allocation_budget).")


def readonly(arr):
    """Return ``arr`` as a read-only array (a view when possible)."""
    arr = np.asarray(arr)
    if arr.flags.writeable:
        arr = arr.view()
        arr.flags.writeable = False
    return arr
