r"""Sections 3 and 4: the coverage rates of maximum likelihood (Bernoulli, finite class, linear)."""

from __future__ import annotations

import numpy as np

from ..deprecation import legacy_positional
from ._common import PARAMS, per_log_threshold, rate_arguments


@PARAMS
@legacy_positional("n", "delta")
def bernoulli_coverage_rate(n, *, delta):
    r"""Bernoulli case study (Section 3): :math:`\mathrm{Cov}_N(\hat p) \lesssim \log(1/\delta)/n` w.p. :math:`1-\delta`, for all :math:`N \ge 2`.

    Parameters
    ----------
    %(n)s
    %(delta)s

    Returns
    -------
    ndarray
        :math:`\log(1/\delta)/n` (absolute constant set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(bernoulli_coverage_rate(100, delta=np.exp(-1)))
    0.01
    """
    delta, n = rate_arguments(delta=delta, n=n)
    return np.log(1.0 / delta) / n


@PARAMS
@legacy_positional("n", "N", "class_size", "delta")
def finite_class_mle_coverage_rate(n, *, N, class_size, delta):
    r"""Theorem 4.1 for a finite class (cover at every scale of size ``|Π|``).

    .. math:: \frac{\log|\Pi|}{n\log N} + \frac{\log|\Pi| + \log(1/\delta)}{n}

    The first (fine) term decays with ``N``; the second (coarse) term is the worst case
    of :math:`\log N_\infty(\Pi, c\log N) \le \log|\Pi|` and vanishes once the class is
    ``c log N``-separated.

    Parameters
    ----------
    %(n)s
    %(N)s
    %(class_size)s
    %(delta)s

    Returns
    -------
    %(rate_shape)s

    Examples
    --------
    >>> float(finite_class_mle_coverage_rate(100, N=np.e, class_size=np.e, delta=1.0))
    0.02
    """
    class_size, n, N, delta = rate_arguments(class_size=class_size, n=n, N=N, delta=delta)
    logc = np.log(class_size)
    return per_log_threshold(logc / n, N) + (logc + np.log(1.0 / delta)) / n


@PARAMS
def finite_class_mle_coverage_bound(n, *, N, class_size, delta, C=np.log(4.0)):
    r"""Theorem 4.1 for a finite realizable class, with the constants of its proof (App. J ICLR; arXiv number not in the reference notes).

    With probability at least :math:`1-\delta` over ``n`` i.i.d. samples, every maximiser
    :math:`\hat\pi` of the log-likelihood over a finite :math:`\Pi \ni \pi_D` satisfies

    .. math::

        \mathrm{Cov}_N(\hat\pi) \le
          \underbrace{\frac{4\log(2|\Pi|/\delta)}{(\log N - C)\,n}}_{\text{fine}}
          + \underbrace{\frac{16\log(4|\Pi|/\delta)}{n}}_{\text{coarse}},
        \qquad \log 4 \le C < \log N .

    Derivation (each failure event gets :math:`\delta/2`; Lemma J.1 and Props. J.1, J.2 are
    ICLR numbers, the arXiv numbers are not in the reference notes): with the clipped losses
    :math:`L^\pm_C` of App. J, :math:`\hat L_n(\pi) - \hat L_n(\pi_D) = L^+_C(\pi) - L^-_C(\pi)`,
    so the MLE has :math:`L^-_C(\hat\pi) \le L^+_C(\hat\pi)`.  Lemma J.1
    (:math:`\mathbb E\,e^{\frac12\max\{\log\pi/\pi_D, -C\}} \le 1` for :math:`C \ge \log 4`),
    Markov's inequality and a union bound over :math:`\Pi` give
    :math:`L^+_C(\pi) \le 2\log(2|\Pi|/\delta)` for every :math:`\pi` (the form of Prop. J.1
    for a finite class, where the cover at every scale is :math:`\Pi` itself); Prop. J.2 at
    scale :math:`\alpha \to 0` (:math:`N_\infty(\Pi,\alpha) \le |\Pi|`) gives
    :math:`\mathrm{Cov}_N(\pi) \le \frac{2}{\log N - C}\frac{L^-_C(\pi)}{n}
    + \frac{16\log(2|\Pi|/(\delta/2))}{n}`.  The first term decays with :math:`\log N`
    (fine), the second does not (coarse).  Compare the rate shape
    :func:`finite_class_mle_coverage_rate` (constants set to one).

    Parameters
    ----------
    %(n)s
    N : array_like
        Coverage threshold, ``> e^C`` (``> 4`` at the default ``C``).
    %(class_size)s
    %(delta)s
    C : array_like, optional
        Clipping threshold of the proof, ``>= log 4`` (default ``log 4``).

    Returns
    -------
    ndarray
        The bound (may exceed 1: then vacuous), broadcast over the arguments.

    Examples
    --------
    >>> b = finite_class_mle_coverage_bound(1000, N=np.exp(4.0) * 4, class_size=2, delta=0.5)
    >>> bool(np.isclose(b, (4 * np.log(8) / 4 + 16 * np.log(16)) / 1000))
    True
    """
    n, class_size, delta, C, N = rate_arguments(n=n, class_size=class_size, delta=delta, C=C, N=N)
    logn = np.log(N)
    if (logn <= C).any():
        raise ValueError("`N` must be > exp(`C`) (> 4 at the default C = log 4): the fine term needs "
                         "log N > C.")
    fine = 4.0 * np.log(2.0 * class_size / delta) / ((logn - C) * n)
    coarse = 16.0 * np.log(4.0 * class_size / delta) / n
    return fine + coarse


@PARAMS
@legacy_positional("n", "N", "sigma_sq", "B")
def linear_mle_coverage_rate(n, *, N, sigma_sq, B):
    r"""Theorem 4.2 (Eq. (7) ICLR / (9) arXiv): :math:`\sqrt{\sigma_\star^2/(n\log N)} + B^2/n`.

    Parameters
    ----------
    %(n)s
    %(N)s
    %(sigma_sq)s
    %(B)s

    Returns
    -------
    %(rate_shape)s

    Examples
    --------
    >>> round(float(linear_mle_coverage_rate(100, N=np.e, sigma_sq=4.0, B=1.0)), 12)
    0.21
    """
    n, s2, N, B = rate_arguments(n=n, sigma_sq=sigma_sq, N=N, B=B)
    return np.sqrt(per_log_threshold(s2 / n, N)) + B ** 2 / n
