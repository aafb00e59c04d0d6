r"""Section 5: one-pass SGD (Prop. 5.1) and normalized SGD (Theorem 5.1)."""

from __future__ import annotations

import numpy as np

from ..deprecation import legacy_positional
from ._common import PARAMS, online_to_batch_bound, rate_arguments


@PARAMS
@legacy_positional("T", "N", "sigma_sq", "B", "H")
def sgd_coverage_rate(T, *, N, H, sigma_sq, B):
    r"""Prop. 5.1 upper bound (Eq. (9) ICLR / (15) arXiv): :math:`\frac{1}{\log N}(\sqrt{\sigma_\star^2/T} + B^2H/T)`.

    Parameters
    ----------
    %(T_steps)s
    %(N)s
    %(H)s
    %(sigma_sq)s
    %(B)s

    Returns
    -------
    %(rate_shape)s

    Examples
    --------
    >>> round(float(sgd_coverage_rate(100, N=np.e, H=10, sigma_sq=4.0, B=1.0)), 12)
    0.3
    """
    T, s2, B, H, N = rate_arguments(T=T, sigma_sq=sigma_sq, B=B, H=H, N=N)
    return (np.sqrt(s2 / T) + B ** 2 * H / T) / np.log(N)


@PARAMS
@legacy_positional("T", "H", "N")
def sgd_coverage_lower_bound(T, *, N, H):
    r"""Prop. 5.1 lower bound (Eq. (16) arXiv): :math:`c\min\{H/(T\log N), 1\}` for any constant step.

    Parameters
    ----------
    %(T_steps)s
    %(N)s
    %(H)s

    Returns
    -------
    ndarray
        :math:`\min\{H/(T\log N), 1\}` (constant ``c`` set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(sgd_coverage_lower_bound(100, N=np.e, H=10))
    0.1
    """
    H, T, N = rate_arguments(H=H, T=T, N=N)
    return np.minimum(H / (T * np.log(N)), 1.0)


@PARAMS
@legacy_positional("T", "H", "B", "sigma_sq")
def sgd_step_size(T, *, H, sigma_sq, B):
    r"""Step size optimising Prop. 5.1's bound: :math:`\eta = \min\{1/(2HB^2), \sqrt{2/(\sigma_\star^2 T)}\}`.

    (The paper leaves it implicit; this choice balances :math:`4/(\eta T) + 2\eta\sigma_\star^2`
    under the constraint :math:`\eta \le 1/(2HB^2)`.)  ``sigma_sq = 0`` removes the second
    branch and ``B = 0`` the first.

    Parameters
    ----------
    %(T_steps)s
    %(H)s
    %(sigma_sq)s
    %(B)s

    Returns
    -------
    %(step_size)s

    Examples
    --------
    >>> float(sgd_step_size(200, H=10, sigma_sq=1.0, B=1.0))
    0.05
    """
    H, B, s2, T = rate_arguments(H=H, B=B, sigma_sq=sigma_sq, T=T)
    with np.errstate(divide="ignore"):
        return np.minimum(1.0 / (2 * H * B ** 2), np.sqrt(2.0 / (s2 * T)))


@PARAMS
def sgd_kl_bound(T, *, sigma_sq, eta):
    r"""Prop. 5.1 upper bound with its explicit constants (Section 5, Eq. (8) ICLR / (14) arXiv).

    For one-pass sequence-level SGD on an autoregressive linear model (Assumptions 2.1 and
    2.2, :math:`\Theta \subseteq B_2(1)`, any :math:`\theta_1 \in \Theta`) with a constant
    step :math:`\eta \le 1/(2HB^2)`:

    .. math::

        \mathbb E\Big[\frac1T\sum_{t=1}^T D_{KL}(\pi_D\|\pi_{\theta_t})\Big]
          \le \frac{4}{\eta T} + 2\eta\sigma_\star^2 .

    The constant 4 is :math:`\max\|\theta_\star - \theta_1\|^2` over the unit ball.  Here
    :math:`\theta_1` is the initialisation: the sum runs over the ``T`` points where a gradient
    is evaluated (the experiments' :math:`\theta_0..\theta_{T-1}`, the initialisation written
    :math:`\theta_0`).  The
    step-size condition is the caller's to check (it involves ``H`` and ``B``);
    :func:`sgd_step_size` minimises the bound under it.  With Prop. 3.1 / F.1
    (:func:`theory.bounds.kl_to_coverage_sharp`) this bounds the average-iterate coverage.

    Parameters
    ----------
    %(T_steps)s
    %(sigma_sq)s
    %(eta)s

    Returns
    -------
    ndarray
        The bound on the average-iterate KL, broadcast over the arguments.

    Examples
    --------
    >>> float(sgd_kl_bound(100, sigma_sq=2.0, eta=0.1))
    0.8
    """
    return online_to_batch_bound(T, eta, sigma_sq)


@PARAMS
@legacy_positional("T", "K", "N", "sigma_sq", "B")
def normalized_sgd_coverage_rate(T, *, N, sigma_sq, B, K):
    r"""Theorem 5.1 (Eq. (11) ICLR / (19) arXiv): :math:`\sqrt{\sigma_\star^2/(T\log N)} + B^2/T + B/(K\log N)`.

    Parameters
    ----------
    %(T_steps)s
    %(N)s
    %(sigma_sq)s
    %(B)s
    %(K)s

    Returns
    -------
    %(rate_shape)s

    Examples
    --------
    >>> round(float(normalized_sgd_coverage_rate(100, N=np.e, sigma_sq=4.0, B=1.0, K=10)), 12)
    0.31
    """
    T, N, s2, B, K = rate_arguments(T=T, N=N, sigma_sq=sigma_sq, B=B, K=K)
    logn = np.log(N)
    return np.sqrt(s2 / (T * logn)) + B ** 2 / T + B / (K * logn)


@PARAMS
@legacy_positional("T", "N", "B", "sigma_sq")
def normalized_sgd_parameters(T, *, N, sigma_sq, B):
    r"""The proof's choices for Theorem 5.1 (App. K.5 ICLR / I.5 arXiv), with :math:`M = \log N`.

    .. math:: \eta = \min\{1/(128B),\ (M/(\sigma_\star^2T))^{1/4}\},\qquad \lambda = M/(16\eta).

    Parameters
    ----------
    %(T_steps)s
    %(N)s
    %(sigma_sq)s
    %(B)s

    Returns
    -------
    eta : ndarray
        Step size :math:`\eta`.
    lam : ndarray
        Normalisation offset :math:`\lambda = M/(16\eta)`.

    Examples
    --------
    >>> eta, lam = normalized_sgd_parameters(1e12, N=np.e, sigma_sq=1.0, B=1.0)
    >>> float(eta), float(lam)
    (0.001, 62.5)
    """
    N, B, s2, T = rate_arguments(N=N, B=B, sigma_sq=sigma_sq, T=T)
    M = np.log(N)
    with np.errstate(divide="ignore"):
        eta = np.minimum(1.0 / (128.0 * B), (M / (s2 * T)) ** 0.25)
    return eta, M / (16.0 * eta)


@PARAMS
@legacy_positional("T", "K", "N", "sigma_sq", "B", "eta")
def normalized_sgd_explicit_bound(T, *, N, sigma_sq, B, K, eta):
    r"""Theorem 5.1 with the proof's constants (App. K.5 ICLR / I.5 arXiv), :math:`\lambda = \log N/(16\eta)`.

    [derived] Tracking the constants of the proof (Lemmas K.8/I.8 and K.9/I.9, Eq. (81)),
    with :math:`M = \log N`:

    .. math::

        \mathbb E\frac1T\sum_t\mathrm{Cov}_N(\pi_{\theta_t}) \le \frac{4}{M-1}\Big(
        \frac{240B}{K} + 2304\,\eta^2\sigma_\star^2 + \frac{M}{T\eta^2}
        + \frac{4\eta\sigma_\star}{\sqrt K}\Big),

    valid when :math:`\eta \le 1/(128B)` (equivalently :math:`\lambda \ge 8BM`) and
    :math:`N > e`.  It shows how far the ``\lesssim`` of Eq. (11) ICLR / (19) arXiv is from a
    number: at :math:`B = 24, K = 256, T = 10^5, N = 8, \sigma_\star^2 = 1` it is about 800.

    Parameters
    ----------
    %(T_steps)s
    N : array_like
        Coverage threshold ``> e``.
    %(sigma_sq)s
    %(B)s
    %(K)s
    %(eta)s

    Returns
    -------
    ndarray
        The bound, broadcast over the arguments.

    Examples
    --------
    >>> round(float(normalized_sgd_explicit_bound(1e5, N=8.0, sigma_sq=1.0, B=24.0, K=256, eta=1 / 3072)))
    811
    """
    M = _log_threshold(N)
    eta, s2, K, B, T = rate_arguments(eta=eta, sigma_sq=sigma_sq, K=K, B=B, T=T)
    return 4.0 / (M - 1.0) * (_nsgd_free_terms(eta, s2, K, B) + M / (T * eta ** 2))


def _log_threshold(N):
    """``M = log N`` of Theorem 5.1's explicit bound, which divides by ``M - 1``."""
    (N,) = rate_arguments(N=N)
    M = np.log(N)
    if np.any(M <= 1):
        raise ValueError("`N` must exceed e (the bound divides by log N - 1).")
    return M


def _nsgd_free_terms(eta, s2, K, B):
    """The ``T``-free terms of :func:`normalized_sgd_explicit_bound` inside its bracket."""
    return 240.0 * B / K + 2304.0 * eta ** 2 * s2 + 4.0 * eta * np.sqrt(s2) / np.sqrt(K)


@PARAMS
def normalized_sgd_min_steps(target, *, N, sigma_sq, B, K, eta=None):
    r"""Fewest steps ``T`` at which Theorem 5.1's bound with the proof's constants is at most ``target``.

    Inverts :func:`normalized_sgd_explicit_bound` in ``T`` at a fixed step (default the proof's cap
    :math:`\eta = 1/(128B)`, which is the proof's choice whenever
    :math:`T \le \log N\,(128B)^4/\sigma_\star^2`), with :math:`M = \log N`:

    .. math::

        T_{\min} = \frac{M}{\eta^2\big(\frac{(M-1)\,\text{target}}{4} - \frac{240B}{K}
                   - 2304\eta^2\sigma_\star^2 - \frac{4\eta\sigma_\star}{\sqrt K}\big)},

    and :math:`+\infty` when the ``T``-free terms alone exceed ``target`` (no horizon helps:
    increase ``K`` or ``N``, or lower ``B``).  [derived]

    Parameters
    ----------
    target : array_like
        Bound to reach, ``> 0``.
    N : array_like
        Coverage threshold ``> e``.
    %(sigma_sq)s
    %(B)s
    %(K)s
    eta : array_like, optional
        Step size, at most :math:`1/(128B)` (the default).

    Returns
    -------
    ndarray
        :math:`T_{\min}` (real-valued; ``inf`` where unreachable), broadcast over the arguments.

    Examples
    --------
    >>> round(float(normalized_sgd_min_steps(0.5, N=np.exp(4), sigma_sq=0.5, B=1.0, K=4096)))
    266679
    >>> float(normalized_sgd_min_steps(0.5, N=8.0, sigma_sq=1.0, B=24.0, K=256))    # bias floor 81
    inf
    """
    M = _log_threshold(N)
    target, s2, K, B = rate_arguments(target=target, sigma_sq=sigma_sq, K=K, B=B)
    if np.any(target <= 0):
        raise ValueError(f"`target` must be > 0, got minimum {target.min()}.")
    eta = 1.0 / (128.0 * B) if eta is None else rate_arguments(eta=eta)[0]
    if np.any(eta * 128.0 * B > 1.0 + 1e-12):
        raise ValueError("`eta` must be <= 1/(128 B), the proof's step cap (the bound holds only there), "
                         f"got eta * 128 B = {float(np.max(eta * 128.0 * B)):.6g}.")
    room = (M - 1.0) * target / 4.0 - _nsgd_free_terms(eta, s2, K, B)
    with np.errstate(divide="ignore"):
        return np.where(room > 0, M / (eta ** 2 * np.where(room > 0, room, 1.0)), np.inf)
