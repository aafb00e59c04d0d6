r"""Euclidean projections onto parameter sets :math:`\Theta` (Assumption 2.2).

Both act on the last axis and broadcast over leading (replicate) axes.  These are the array
functions (named as :func:`optax.projections.projection_l2_ball`); the optimizer transforms
that apply them inside a :func:`~simulations.learners.optimizers.chain` are
:func:`simulations.learners.optimizers.project_l2_ball` and
:func:`~simulations.learners.optimizers.project_box`.  The former names of these functions,
``project_l2_ball`` and ``project_box``, still work for one release with a ``DeprecationWarning``.
"""

from __future__ import annotations

import numpy as np

from ..deprecation import renamed
from ..validation import as_finite_array, check_real

__all__ = ["projection_l2_ball", "projection_box"]


def projection_l2_ball(theta, radius=1.0):
    r"""Project onto :math:`\{\theta : \|\theta\|_2 \le R\}`.

    .. math:: \mathrm{Proj}(\theta) = \theta\,\min\{1, R/\|\theta\|_2\}.

    The :math:`\mathrm{Proj}_\Theta` of the SGD updates (Eq. (8) ICLR / (14) arXiv, and
    Theorem 5.1) for the ball :math:`\Theta = B_2(1)` of Assumption 2.2.

    Parameters
    ----------
    theta : (..., d) array_like
        Parameters; leading axes are replicates.
    radius : float, optional
        :math:`R \ge 0` (default 1).

    Returns
    -------
    ndarray
        The projection, shape of ``theta``.

    Examples
    --------
    >>> projection_l2_ball([3.0, 4.0], radius=1.0)
    array([0.6, 0.8])
    """
    t = as_finite_array(theta, "theta", min_ndim=1)
    r = check_real(radius, "radius", low=0.0)
    with np.errstate(over="ignore", under="ignore"):
        norm = np.sqrt((t * t).sum(axis=-1, keepdims=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = t * np.where(norm > r, r / norm, 1.0)
    # Where the squares overflow (|theta_i| ~ 1e200) or underflow (~ 1e-200), the same projection
    # from theta / m, m = max |theta_i| (elsewhere the formula above, bit for bit that of the
    # optimizer transform simulations.learners.optimizers.project_l2_ball).
    m = np.max(np.abs(t), axis=-1, keepdims=True)
    extreme = (m > 1e150) | ((m > 0) & (m < 1e-150))
    if extreme.any():
        u = t / np.where(m > 0, m, 1.0)
        s = np.sqrt((u * u).sum(axis=-1, keepdims=True))       # in [1, sqrt(d)] where m > 0
        with np.errstate(over="ignore"):
            outside = m * s > r
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(extreme, np.where(outside, u * (r / s), t), out)
    return out


def projection_box(theta, low=-1.0, high=1.0):
    r"""Project onto the box :math:`\{\theta : \ell \le \theta_i \le u\}` (coordinatewise clip).

    :math:`\mathrm{Proj}_\Theta` for the box classes of Prop. 3.2 (:math:`\Theta = [-1, 1]`)
    and Prop. G.1(a) (ICLR) / 4.1(a) (arXiv) (:math:`\|\theta\|_\infty \le 1`).

    Parameters
    ----------
    theta : (..., d) array_like
        Parameters; leading axes are replicates.
    low, high : float, optional
        Bounds :math:`\ell \le u` (default ``-1, 1``).

    Returns
    -------
    ndarray
        The projection, shape of ``theta``.

    Examples
    --------
    >>> projection_box([-2.0, 0.5, 3.0])
    array([-1. ,  0.5,  1. ])
    """
    t = as_finite_array(theta, "theta", min_ndim=1)
    lo = check_real(low, "low")
    hi = check_real(high, "high")
    if lo > hi:
        raise ValueError(f"`low` must be <= `high`, got {lo} > {hi}.")
    return np.clip(t, lo, hi)


#: Former names (deprecated; the optimizer transforms keep the ``project_*`` names).
project_l2_ball = renamed(projection_l2_ball, "theory.models.project_l2_ball")
project_box = renamed(projection_box, "theory.models.project_box")
