r"""Section 6: test-time training (Theorem 6.1), distillation and tournament selection."""

from __future__ import annotations

import numpy as np

from ..deprecation import legacy_positional
from ._common import PARAMS, online_to_batch_bound, per_log_threshold, rate_argument, rate_arguments
from ._mle import linear_mle_coverage_rate


@PARAMS
@legacy_positional("T", "sigma_sq", "B")
def ttt_kl_rate(T, *, sigma_sq, B):
    r"""Theorem 6.1: :math:`\mathbb E\frac1T\sum_t D_{KL}(\pi_D\|\pi^{TTT}_{\theta_t}) \lesssim \sqrt{\sigma_\star^2/T} + B^2/T` (no ``H``).

    Parameters
    ----------
    %(T_sequences)s
    %(sigma_sq)s
    %(B)s

    Returns
    -------
    %(rate_shape)s

    Examples
    --------
    >>> round(float(ttt_kl_rate(100, sigma_sq=4.0, B=1.0)), 12)
    0.21
    """
    T, s2, B = rate_arguments(T=T, sigma_sq=sigma_sq, B=B)
    return np.sqrt(s2 / T) + B ** 2 / T


@PARAMS
@legacy_positional("T", "N", "sigma_sq", "B")
def ttt_coverage_rate(T, *, N, sigma_sq, B):
    r"""Theorem 6.1, coverage form: :math:`\frac{1}{\log N}(\sqrt{\sigma_\star^2/T} + B^2/T)`.

    Parameters
    ----------
    %(T_sequences)s
    %(N)s
    %(sigma_sq)s
    %(B)s

    Returns
    -------
    %(rate_shape)s

    Examples
    --------
    >>> round(float(ttt_coverage_rate(100, N=np.e, sigma_sq=4.0, B=1.0)), 12)
    0.21
    """
    return per_log_threshold(ttt_kl_rate(T, sigma_sq=sigma_sq, B=B), rate_argument(N, "N"))


@PARAMS
@legacy_positional("T", "B", "sigma_sq")
def ttt_step_size(T, *, sigma_sq, B):
    r"""Theorem 6.1's step: :math:`\eta = \min\{1/(2B^2), (\sigma_\star^2T)^{-1/2}\}`.

    Parameters
    ----------
    %(T_sequences)s
    %(sigma_sq)s
    %(B)s

    Returns
    -------
    %(step_size)s

    Examples
    --------
    >>> float(ttt_step_size(100, sigma_sq=1.0, B=1.0))
    0.1
    """
    B, s2, T = rate_arguments(B=B, sigma_sq=sigma_sq, T=T)
    with np.errstate(divide="ignore"):
        return np.minimum(1.0 / (2 * B ** 2), (1.0 / (s2 * T)) ** 0.5)


@PARAMS
def ttt_kl_bound(T, *, sigma_sq, eta):
    r"""Theorem 6.1's explicit bound (its proof, online-to-batch), per training sequence.

    Token-level SGD (Eq. (12) ICLR / (21) arXiv) with :math:`\eta \le 1/(2B^2)` from any
    :math:`\theta_1 \in \Theta \subseteq B_2(1)` satisfies
    :math:`\mathbb E\sum_{t=1}^T\sum_{h=1}^H \varepsilon_{t,h} \le 4/\eta + 2\eta T\sigma_\star^2`
    with :math:`\varepsilon_{t,h}` the per-token KL at :math:`\theta_{t,h}` along the
    training sequence; since :math:`\theta_{t,h} = \vartheta^{TTT}(x_t, y^t_{<h}; \theta_t)`,
    the inner sum has expectation :math:`D_{KL}(\pi_D\|\pi^{TTT}_{\theta_t})`, so

    .. math::

        \mathbb E\Big[\frac1T\sum_{t=1}^T D_{KL}(\pi_D\|\pi^{TTT}_{\theta_t})\Big]
          \le \frac{4}{\eta T} + 2\eta\sigma_\star^2 .

    The step-size condition :math:`\eta \le 1/(2B^2)` is the caller's to check;
    :func:`ttt_step_size` chooses :math:`\eta` under it, and :func:`ttt_kl_rate` is the
    resulting rate shape.

    Parameters
    ----------
    %(T_sequences)s
    %(sigma_sq)s
    %(eta)s

    Returns
    -------
    ndarray
        The bound on the average over training sequences, broadcast over the arguments.

    Examples
    --------
    >>> float(ttt_kl_bound(100, sigma_sq=2.0, eta=0.1))
    0.8
    """
    return online_to_batch_bound(T, eta, sigma_sq)


@PARAMS
@legacy_positional("T", "N", "sigma_sq", "B")
def distillation_coverage_rate(T, *, N, sigma_sq, B):
    r"""Theorem G.2 (ICLR) / 6.2 (arXiv): :math:`\sqrt{\sigma_\star^2/(T\log N)} + B^2/T` (matches Theorem 4.2).

    Parameters
    ----------
    %(T_steps)s
    %(N)s
    %(sigma_sq)s
    %(B)s

    Returns
    -------
    %(rate_shape)s

    Examples
    --------
    >>> round(float(distillation_coverage_rate(100, N=np.e, sigma_sq=4.0, B=1.0)), 12)
    0.21
    """
    rate_argument(T, "T")  # named as T here (linear_mle_coverage_rate calls it n)
    return linear_mle_coverage_rate(T, N=N, sigma_sq=sigma_sq, B=B)


@PARAMS
@legacy_positional("T", "N", "B", "sigma_sq")
def distillation_step_size(T, *, N, sigma_sq, B, proof=False):
    r"""Theorem G.2 (ICLR) / 6.2 (arXiv) step: :math:`\eta = \min\{1/((64\log N + 2)B^2), (T\sigma_\star^2\log N)^{-1/2}\}`.

    With ``proof=True`` the first branch is :math:`1/(256\log N\,B^2)` instead.  [derived]
    The last step of the proof (App. K.7 ICLR / I.7 arXiv) bounds
    :math:`\frac\eta2\mathbb E\|\hat g\|^2` by Lemma K.11 (ICLR) / I.11 (arXiv),
    :math:`(64A+2)\sigma_\star^2 + 256AB^2 D_{seq,N}`, which leaves
    :math:`128\eta AB^2\sum_t D_{seq,N}` on the right; absorbing it needs
    :math:`128\eta AB^2 \le 1/2`, i.e. :math:`\eta \le 1/(256AB^2)`, about four times
    smaller than the stated :math:`1/((64A+2)B^2)` (at which :math:`128\eta AB^2 \approx 2`).

    Parameters
    ----------
    %(T_steps)s
    %(N)s
    %(sigma_sq)s
    %(B)s
    proof : bool, optional
        Use the first branch the proof's last inequality needs.

    Returns
    -------
    %(step_size)s

    Examples
    --------
    >>> float(distillation_step_size(1e6, N=np.e, sigma_sq=1.0, B=1.0))
    0.001
    >>> float(distillation_step_size(1e6, N=np.e, sigma_sq=1.0, B=10.0, proof=True))    # 1/(256 * 100)
    3.90625e-05
    """
    N, B, T, s2 = rate_arguments(N=N, B=B, T=T, sigma_sq=sigma_sq)
    logn = np.log(N)
    first = 256 * logn if proof else 64 * logn + 2
    with np.errstate(divide="ignore"):
        return np.minimum(1.0 / (first * B ** 2), (1.0 / (T * s2 * logn)) ** 0.5)


@PARAMS
@legacy_positional("N", "a", "best_coverage", "class_size", "n", "delta")
def tournament_coverage_rate(n, *, N, a, class_size, best_coverage, delta):
    r"""Theorem 6.2 (ICLR) / 6.3 (arXiv) (simple tournament), bound on :math:`\mathrm{Cov}_{N^{1+a}}(\hat\pi)`.

    .. math:: \min_\pi\mathrm{Cov}_{N^a}(\pi) + N^{-(1-a)} + \log(|\Pi|/\delta)/n

    Parameters
    ----------
    %(n_heldout)s
    N : array_like
        Tournament threshold, ``>= 1``.
    a : array_like
        Exponent :math:`a \in [0, 1]`.
    %(class_size)s
    best_coverage : array_like
        :math:`\min_\pi\mathrm{Cov}_{N^a}(\pi)`, in ``[0, 1]``.
    %(delta)s

    Returns
    -------
    %(rate_shape)s

    Examples
    --------
    >>> float(tournament_coverage_rate(10, N=100, a=0.5, class_size=np.e, best_coverage=0.0, delta=1.0))
    0.2
    """
    best, N, a, class_size, delta, n = rate_arguments(best_coverage=best_coverage, N=N, a=a, class_size=class_size,
                                                      delta=delta, n=n)
    return best + N ** (-(1.0 - a)) + np.log(class_size / delta) / n


@PARAMS
@legacy_positional("class_size", "n", "delta")
def offset_tournament_coverage_rate(n, *, class_size, delta):
    r"""Theorem G.3 (ICLR) / 6.4 (arXiv): :math:`\mathrm{Cov}_{2N^{1+a}}(\hat\pi) \lesssim \log(|\Pi|/\delta)/n`.

    Parameters
    ----------
    %(n_heldout)s
    %(class_size)s
    %(delta)s

    Returns
    -------
    ndarray
        :math:`\log(|\Pi|/\delta)/n` (absolute constant set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(offset_tournament_coverage_rate(10, class_size=np.e, delta=1.0))
    0.1
    """
    class_size, delta, n = rate_arguments(class_size=class_size, delta=delta, n=n)
    return np.log(class_size / delta) / n
