"""Argument validation and the shared parameter descriptions of :mod:`theory.rates`."""

from __future__ import annotations

import numpy as np

from ..docstrings import DocTemplate
from ..validation import as_float_array

#: Domain of each argument name: (low, low_open, high, high_open, allow +inf).
_DOMAINS = {
    "n": (0.0, True, None, False, False), "T": (0.0, True, None, False, False),
    "K": (0.0, True, None, False, False), "N": (1.0, False, None, False, True),
    "M": (1.0, True, None, False, True), "delta": (0.0, True, 1.0, False, False),
    "class_size": (1.0, False, None, False, False), "H": (1.0, False, None, False, False),
    "d": (1.0, False, None, False, False), "sigma_sq": (0.0, False, None, False, False),
    "B": (0.0, False, None, False, False), "alpha": (0.0, False, 1.0, False, False),
    "a": (0.0, False, 1.0, False, False), "best_coverage": (0.0, False, 1.0, False, False),
    "eta": (0.0, True, None, False, False), "C": (float(np.log(4.0)), False, None, False, False),
}


def rate_argument(a, name):
    """``a`` as a float array, validated against the domain of the argument ``name``."""
    low, low_open, high, high_open, allow_inf = _DOMAINS.get(name, (None, False, None, False, False))
    arr = as_float_array(a, name, allow_posinf=allow_inf, allow_neginf=False)
    if low is not None and ((arr < low) | ((arr == low) & low_open)).any():
        raise ValueError(f"`{name}` must be {'>' if low_open else '>='} {low:g}, got minimum {arr.min()}.")
    if high is not None and ((arr > high) | ((arr == high) & high_open)).any():
        raise ValueError(f"`{name}` must be {'<' if high_open else '<='} {high:g}, got maximum {arr.max()}.")
    return arr


def rate_arguments(**named):
    """Each keyword argument validated by :func:`rate_argument` against its own name, in the order given.

    ``T, s2 = rate_arguments(T=T, sigma_sq=sigma_sq)`` replaces one ``rate_argument`` call per
    argument; the first argument out of its domain raises.
    """
    return tuple(rate_argument(value, name) for name, value in named.items())


def per_log_threshold(num, N):
    r""":math:`x/\log N` with its limit as :math:`N \downarrow 1` at ``N = 1``: ``+inf`` for ``x > 0``, ``0`` for ``x = 0``.

    The rates' :math:`1/\log N` factors at the edge ``N = 1`` of their domain, without a
    ``0/0`` NaN (a zero variance, a class of one model) or a divide-by-zero warning.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / np.log(N)
    return np.where(num == 0, 0.0, out)


def online_to_batch_bound(T, eta, sigma_sq):
    """:math:`4/(\\eta T) + 2\\eta\\sigma^2`, the explicit bound of Prop. 5.1 and Theorem 6.1 (validated)."""
    eta, T, s2 = rate_arguments(eta=eta, T=T, sigma_sq=sigma_sq)
    return 4.0 / (eta * T) + 2.0 * eta * s2


#: Each parameter of :mod:`theory.rates` described once.
PARAMS = DocTemplate(
    n="""
    n : array_like
        Sample size, ``> 0``.""",
    n_heldout="""
    n : array_like
        Number of held-out samples, ``> 0``.""",
    T_steps="""
    T : array_like
        Number of steps (fresh samples at every step), ``> 0``.""",
    T_sequences="""
    T : array_like
        Number of training sequences, ``> 0``.""",
    N="""
    N : array_like
        Coverage threshold, ``>= 1``.""",
    H="""
    H : array_like
        Sequence length, ``>= 1``.""",
    class_size="""
    class_size : array_like
        :math:`|\\Pi|`, ``>= 1``.""",
    sigma_sq="""
    sigma_sq : array_like
        Inherent variance :math:`\\sigma_\\star^2` (Eq. (6) ICLR / (8) arXiv), ``>= 0``.""",
    B="""
    B : array_like
        Feature-norm bound of Assumption 2.2, ``>= 0``.""",
    K="""
    K : array_like
        Mini-batch size, ``> 0``.""",
    eta="""
    eta : array_like
        Step size, ``> 0``.""",
    delta="""
    delta : array_like
        Failure probability, in ``(0, 1]``.""",
    rate_shape="""
    ndarray
        The rate shape with every absolute constant set to one, broadcast over the arguments.""",
    step_size="""
    ndarray
        The step size :math:`\\eta` (exact, no hidden constant), broadcast over the arguments.""",
)
