r"""Sections 3 and 4 and their appendices: lower bounds on the KL and the coverage."""

from __future__ import annotations

import numpy as np

from ..deprecation import legacy_positional
from ._common import PARAMS, per_log_threshold, rate_arguments


@PARAMS
@legacy_positional("n", "H")
def kl_lower_bound_prop_3_2(n, *, H):
    r"""Prop. 3.2: every proper estimator has :math:`D_{KL} \ge H/(4n)` w.p. :math:`\ge 1/4` (the stated constant).

    The value is the statement's, not a property of its construction as transcribed in the
    reference notes (App. I: :math:`\mu(1) = 1/(2n)`, :math:`\Theta = [-1, 1]`,
    :math:`\pi_\theta(y_h = 1 \mid x = 1) = \sigma(2\theta)`).  There the proper choice
    :math:`\hat\theta = 0` on the event that no ``x = 1`` prompt is seen gives, for either
    :math:`\theta^\star = \pm1`, :math:`D_{KL} = H\mu(1)\,\mathrm{KL}(\sigma(2)\|\tfrac12)
    = 0.328\,H\mu(1) = 0.164\,H/n < H/(4n)`; the level :math:`H/(4n)` needs
    :math:`\mu(1) \ge 0.763/n` (e.g. :math:`\mu(1) = 1/n`).  The linear dependence on
    :math:`H` holds either way.

    Parameters
    ----------
    %(n)s
    %(H)s

    Returns
    -------
    ndarray
        :math:`H/(4n)`, broadcast over the arguments.

    Examples
    --------
    >>> float(kl_lower_bound_prop_3_2(10, H=8))
    0.2
    """
    H, n = rate_arguments(H=H, n=n)
    return H / (4.0 * n)


@PARAMS
@legacy_positional("n", "H", "N")
def high_dim_coverage_lower_bound(n, *, N, H):
    r"""Prop. K.1 (ICLR) / I.1 (arXiv): :math:`\mathbb E\,\mathrm{Cov}_N \ge c\min\{1, H/(n\log N)\}`.

    Parameters
    ----------
    %(n)s
    %(N)s
    H : array_like
        Sequence length (= dimension ``d`` of the construction), ``>= 1``.

    Returns
    -------
    ndarray
        :math:`\min\{1, H/(n\log N)\}` (constant ``c`` set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(high_dim_coverage_lower_bound(100, N=np.e, H=10))
    0.1
    """
    H, n, N = rate_arguments(H=H, n=n, N=N)
    return np.minimum(1.0, per_log_threshold(H / n, N))


@PARAMS
@legacy_positional("n", "d")
def coarse_lower_bound_prop_g1(n, *, d):
    r"""Prop. G.1(a) (ICLR) / 4.1(a) (arXiv): :math:`\mathrm{Cov}_N(\hat\pi) \ge c\,d/n` for all :math:`N \le e^B`.

    Parameters
    ----------
    %(n)s
    d : array_like
        Dimension of the class, ``>= 1``.

    Returns
    -------
    ndarray
        :math:`d/n` (constant ``c`` set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(coarse_lower_bound_prop_g1(100, d=5))
    0.05
    """
    d, n = rate_arguments(d=d, n=n)
    return d / n


@PARAMS
@legacy_positional("n", "d", "N")
def fine_lower_bound_prop_g1(n, *, N, d):
    r"""Prop. G.1(b) (ICLR) / 4.1(b) (arXiv): :math:`\mathrm{Cov}_N(\hat\pi) \ge c\,d/(n\log N)`.

    Parameters
    ----------
    %(n)s
    %(N)s
    d : array_like
        Dimension of the class (:math:`|\Pi| = 2^d + 1`), ``>= 1``.

    Returns
    -------
    ndarray
        :math:`d/(n\log N)` (constant ``c`` set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(fine_lower_bound_prop_g1(100, N=np.e, d=5))
    0.05
    """
    d, n, N = rate_arguments(d=d, n=n, N=N)
    return per_log_threshold(d / n, N)


@legacy_positional("alpha", "M")
def misspecification_lower_bound(alpha, *, M):
    r"""Prop. G.2 (ICLR) / E.2 (arXiv): :math:`\mathrm{Cov}_N(\pi_2) \ge c\,\alpha^2/\log M`.

    Parameters
    ----------
    alpha : array_like
        Misspecification level :math:`\alpha`, in ``[0, 1]``.
    M : array_like
        The construction's ratio :math:`M > 1` (:math:`\pi_2(\cdot|-) = \mathrm{Ber}(1/(2M))`).

    Returns
    -------
    ndarray
        :math:`\alpha^2/\log M` (constant ``c`` set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(misspecification_lower_bound(0.5, M=np.e))
    0.25
    """
    alpha, M = rate_arguments(alpha=alpha, M=M)
    return alpha ** 2 / np.log(M)
