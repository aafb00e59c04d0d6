r"""Predicted rates of the paper's theorems, as vectorised functions.

The main theorems are stated up to unspecified absolute constants ("≲").  Each function
here returns the **rate shape** with every constant set to one, so experiments compare
*shapes* (log-log slopes, dependence on ``H`` and ``N``) and fit at most one overall
constant.  Constants that appear explicitly in the proofs (step sizes, thresholds) are
implemented exactly, in the ``*_step_size`` / ``*_parameters`` functions.

All arguments broadcast (numpy semantics) and are validated: NaN, complex or non-numeric
values and values outside the parameter's domain (``n, T, K > 0``; ``N >= 1``;
``M > 1``; ``0 < delta <= 1``; ``class_size, H, d >= 1``; ``sigma_sq, B >= 0``; ``eta > 0``;
``C >= log 4``;
``alpha, a, best_coverage`` in ``[0, 1]``) raise ``ValueError``/``TypeError`` naming the
argument.  Numbering: ICLR camera-ready first, arXiv v2 second.
"""

from __future__ import annotations

import numpy as np

from .validation import as_float_array

__all__ = [
    "bernoulli_coverage_rate",
    "finite_class_mle_coverage_rate",
    "finite_class_mle_coverage_bound",
    "linear_mle_coverage_rate",
    "kl_lower_bound_prop_3_2",
    "high_dim_coverage_lower_bound",
    "coarse_lower_bound_prop_g1",
    "fine_lower_bound_prop_g1",
    "misspecification_lower_bound",
    "sgd_coverage_rate",
    "sgd_coverage_lower_bound",
    "sgd_step_size",
    "sgd_kl_bound",
    "normalized_sgd_coverage_rate",
    "normalized_sgd_parameters",
    "normalized_sgd_explicit_bound",
    "ttt_kl_rate",
    "ttt_coverage_rate",
    "ttt_step_size",
    "ttt_kl_bound",
    "distillation_coverage_rate",
    "distillation_step_size",
    "tournament_coverage_rate",
    "offset_tournament_coverage_rate",
]


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


def _f(a, name):
    """``a`` as a float array, validated against the domain of the argument ``name``."""
    low, low_open, high, high_open, allow_inf = _DOMAINS.get(name, (None, False, None, False, False))
    arr = as_float_array(a, name, allow_posinf=allow_inf, allow_neginf=False)
    if low is not None and ((arr < low) | ((arr == low) & low_open)).any():
        raise ValueError(f"`{name}` must be {'>' if low_open else '>='} {low:g}, got minimum {arr.min()}.")
    if high is not None and ((arr > high) | ((arr == high) & high_open)).any():
        raise ValueError(f"`{name}` must be {'<' if high_open else '<='} {high:g}, got maximum {arr.max()}.")
    return arr


def bernoulli_coverage_rate(n, delta):
    r"""Bernoulli case study (Section 3): :math:`\mathrm{Cov}_N(\hat p) \lesssim \log(1/\delta)/n` w.p. :math:`1-\delta`, for all :math:`N \ge 2`.

    Parameters
    ----------
    n : array_like
        Sample size, ``> 0``.
    delta : array_like
        Failure probability, in ``(0, 1]``.

    Returns
    -------
    ndarray
        :math:`\log(1/\delta)/n` (absolute constant set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(bernoulli_coverage_rate(100, np.exp(-1)))
    0.01
    """
    return np.log(1.0 / _f(delta, "delta")) / _f(n, "n")


def finite_class_mle_coverage_rate(n, N, class_size, delta):
    r"""Theorem 4.1 for a finite class (cover at every scale of size ``|Π|``).

    .. math:: \frac{\log|\Pi|}{n\log N} + \frac{\log|\Pi| + \log(1/\delta)}{n}

    The first (fine) term decays with ``N``; the second (coarse) term is the worst case
    of :math:`\log N_\infty(\Pi, c\log N) \le \log|\Pi|` and vanishes once the class is
    ``c log N``-separated.

    Parameters
    ----------
    n : array_like
        Sample size, ``> 0``.
    N : array_like
        Coverage threshold, ``>= 1``.
    class_size : array_like
        :math:`|\Pi|`, ``>= 1``.
    delta : array_like
        Failure probability, in ``(0, 1]``.

    Returns
    -------
    ndarray
        The rate shape with every absolute constant set to one, broadcast over the arguments.

    Examples
    --------
    >>> float(finite_class_mle_coverage_rate(100, np.e, np.e, 1.0))
    0.02
    """
    logc = np.log(_f(class_size, "class_size"))
    return logc / (_f(n, "n") * np.log(_f(N, "N"))) + (logc + np.log(1.0 / _f(delta, "delta"))) / _f(n, "n")


def finite_class_mle_coverage_bound(*, n, N, class_size, delta, C=np.log(4.0)):
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
    n : array_like
        Sample size, ``> 0``.
    N : array_like
        Coverage threshold, ``> e^C`` (``> 4`` at the default ``C``).
    class_size : array_like
        :math:`|\Pi|`, ``>= 1``.
    delta : array_like
        Failure probability, in ``(0, 1]``.
    C : array_like, optional
        Clipping threshold of the proof, ``>= log 4`` (default ``log 4``).

    Returns
    -------
    ndarray
        The bound (may exceed 1: then vacuous), broadcast over the arguments.

    Examples
    --------
    >>> b = finite_class_mle_coverage_bound(n=1000, N=np.exp(4.0) * 4, class_size=2, delta=0.5)
    >>> bool(np.isclose(b, (4 * np.log(8) / 4 + 16 * np.log(16)) / 1000))
    True
    """
    n, class_size, delta, C = _f(n, "n"), _f(class_size, "class_size"), _f(delta, "delta"), _f(C, "C")
    logn = np.log(_f(N, "N"))
    if (logn <= C).any():
        raise ValueError("`N` must be > exp(`C`) (> 4 at the default C = log 4): the fine term needs "
                         "log N > C.")
    fine = 4.0 * np.log(2.0 * class_size / delta) / ((logn - C) * n)
    coarse = 16.0 * np.log(4.0 * class_size / delta) / n
    return fine + coarse


def linear_mle_coverage_rate(n, N, sigma_sq, B):
    r"""Theorem 4.2 (Eq. (7) ICLR / (9) arXiv): :math:`\sqrt{\sigma_\star^2/(n\log N)} + B^2/n`.

    Parameters
    ----------
    n : array_like
        Sample size, ``> 0``.
    N : array_like
        Coverage threshold, ``>= 1``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2` (Eq. (6) ICLR / (8) arXiv), ``>= 0``.
    B : array_like
        Feature-norm bound of Assumption 2.2, ``>= 0``.

    Returns
    -------
    ndarray
        The rate shape with every absolute constant set to one, broadcast over the arguments.

    Examples
    --------
    >>> round(float(linear_mle_coverage_rate(100, np.e, 4.0, 1.0)), 12)
    0.21
    """
    n = _f(n, "n")
    return np.sqrt(_f(sigma_sq, "sigma_sq") / (n * np.log(_f(N, "N")))) + _f(B, "B") ** 2 / n


def kl_lower_bound_prop_3_2(n, H):
    r"""Prop. 3.2: every proper estimator has :math:`D_{KL} \ge H/(4n)` w.p. :math:`\ge 1/4` (exact constant).

    Parameters
    ----------
    n : array_like
        Sample size, ``> 0``.
    H : array_like
        Sequence length, ``>= 1``.

    Returns
    -------
    ndarray
        :math:`H/(4n)`, broadcast over the arguments.

    Examples
    --------
    >>> float(kl_lower_bound_prop_3_2(10, 8))
    0.2
    """
    return _f(H, "H") / (4.0 * _f(n, "n"))


def high_dim_coverage_lower_bound(n, H, N):
    r"""Prop. K.1 (ICLR) / I.1 (arXiv): :math:`\mathbb E\,\mathrm{Cov}_N \ge c\min\{1, H/(n\log N)\}`.

    Parameters
    ----------
    n : array_like
        Sample size, ``> 0``.
    H : array_like
        Sequence length (= dimension ``d`` of the construction), ``>= 1``.
    N : array_like
        Coverage threshold, ``>= 1``.

    Returns
    -------
    ndarray
        :math:`\min\{1, H/(n\log N)\}` (constant ``c`` set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(high_dim_coverage_lower_bound(100, 10, np.e))
    0.1
    """
    return np.minimum(1.0, _f(H, "H") / (_f(n, "n") * np.log(_f(N, "N"))))


def coarse_lower_bound_prop_g1(n, d):
    r"""Prop. G.1(a) (ICLR) / 4.1(a) (arXiv): :math:`\mathrm{Cov}_N(\hat\pi) \ge c\,d/n` for all :math:`N \le e^B`.

    Parameters
    ----------
    n : array_like
        Sample size, ``> 0``.
    d : array_like
        Dimension of the class, ``>= 1``.

    Returns
    -------
    ndarray
        :math:`d/n` (constant ``c`` set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(coarse_lower_bound_prop_g1(100, 5))
    0.05
    """
    return _f(d, "d") / _f(n, "n")


def fine_lower_bound_prop_g1(n, d, N):
    r"""Prop. G.1(b) (ICLR) / 4.1(b) (arXiv): :math:`\mathrm{Cov}_N(\hat\pi) \ge c\,d/(n\log N)`.

    Parameters
    ----------
    n : array_like
        Sample size, ``> 0``.
    d : array_like
        Dimension of the class (:math:`|\Pi| = 2^d + 1`), ``>= 1``.
    N : array_like
        Coverage threshold, ``>= 1``.

    Returns
    -------
    ndarray
        :math:`d/(n\log N)` (constant ``c`` set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(fine_lower_bound_prop_g1(100, 5, np.e))
    0.05
    """
    return _f(d, "d") / (_f(n, "n") * np.log(_f(N, "N")))


def misspecification_lower_bound(alpha, M):
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
    >>> float(misspecification_lower_bound(0.5, np.e))
    0.25
    """
    return _f(alpha, "alpha") ** 2 / np.log(_f(M, "M"))


def sgd_coverage_rate(T, N, sigma_sq, B, H):
    r"""Prop. 5.1 upper bound (Eq. (9) ICLR / (15) arXiv): :math:`\frac{1}{\log N}(\sqrt{\sigma_\star^2/T} + B^2H/T)`.

    Parameters
    ----------
    T : array_like
        Number of SGD steps (one fresh sequence each), ``> 0``.
    N : array_like
        Coverage threshold, ``>= 1``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2`, ``>= 0``.
    B : array_like
        Feature-norm bound of Assumption 2.2, ``>= 0``.
    H : array_like
        Sequence length, ``>= 1``.

    Returns
    -------
    ndarray
        The rate shape with every absolute constant set to one, broadcast over the arguments.

    Examples
    --------
    >>> round(float(sgd_coverage_rate(100, np.e, 4.0, 1.0, 10)), 12)
    0.3
    """
    T = _f(T, "T")
    return (np.sqrt(_f(sigma_sq, "sigma_sq") / T) + _f(B, "B") ** 2 * _f(H, "H") / T) / np.log(_f(N, "N"))


def sgd_coverage_lower_bound(T, H, N):
    r"""Prop. 5.1 lower bound (Eq. (16) arXiv): :math:`c\min\{H/(T\log N), 1\}` for any constant step.

    Parameters
    ----------
    T : array_like
        Number of SGD steps, ``> 0``.
    H : array_like
        Sequence length, ``>= 1``.
    N : array_like
        Coverage threshold, ``>= 1``.

    Returns
    -------
    ndarray
        :math:`\min\{H/(T\log N), 1\}` (constant ``c`` set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(sgd_coverage_lower_bound(100, 10, np.e))
    0.1
    """
    return np.minimum(_f(H, "H") / (_f(T, "T") * np.log(_f(N, "N"))), 1.0)


def sgd_step_size(T, H, B, sigma_sq):
    r"""Step size optimising Prop. 5.1's bound: :math:`\eta = \min\{1/(2HB^2), \sqrt{2/(\sigma_\star^2 T)}\}`.

    (The paper leaves it implicit; this choice balances :math:`4/(\eta T) + 2\eta\sigma_\star^2`
    under the constraint :math:`\eta \le 1/(2HB^2)`.)

    Parameters
    ----------
    T : array_like
        Number of SGD steps, ``> 0``.
    H : array_like
        Sequence length, ``>= 1``.
    B : array_like
        Feature-norm bound, ``>= 0`` (``B = 0`` removes the first constraint).
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2`, ``>= 0`` (``0`` removes the second).

    Returns
    -------
    ndarray
        The step size :math:`\eta` (exact, no hidden constant), broadcast over the arguments.

    Examples
    --------
    >>> float(sgd_step_size(200, 10, 1.0, 1.0))
    0.05
    """
    with np.errstate(divide="ignore"):
        return np.minimum(1.0 / (2 * _f(H, "H") * _f(B, "B") ** 2), np.sqrt(2.0 / (_f(sigma_sq, "sigma_sq") * _f(T, "T"))))


def _online_to_batch_bound(T, eta, sigma_sq):
    """:math:`4/(\\eta T) + 2\\eta\\sigma^2`, the explicit bound of Prop. 5.1 and Theorem 6.1 (validated)."""
    eta = _f(eta, "eta")
    return 4.0 / (eta * _f(T, "T")) + 2.0 * eta * _f(sigma_sq, "sigma_sq")


def sgd_kl_bound(*, T, eta, sigma_sq):
    r"""Prop. 5.1 upper bound with its explicit constants (Section 5, Eq. (8) ICLR / (14) arXiv).

    For one-pass sequence-level SGD on an autoregressive linear model (Assumptions 2.1 and
    2.2, :math:`\Theta \subseteq B_2(1)`, any :math:`\theta_1 \in \Theta`) with a constant
    step :math:`\eta \le 1/(2HB^2)`:

    .. math::

        \mathbb E\Big[\frac1T\sum_{t=1}^T D_{KL}(\pi_D\|\pi_{\theta_t})\Big]
          \le \frac{4}{\eta T} + 2\eta\sigma_\star^2 .

    The constant 4 is :math:`\max\|\theta_\star - \theta_1\|^2` over the unit ball.  The
    step-size condition is the caller's to check (it involves ``H`` and ``B``);
    :func:`sgd_step_size` minimises the bound under it.  With Prop. 3.1 / F.1
    (:func:`theory.bounds.kl_to_coverage_sharp`) this bounds the average-iterate coverage.

    Parameters
    ----------
    T : array_like
        Number of steps (iterates :math:`\theta_1..\theta_T`), ``> 0``.
    eta : array_like
        Step size, ``> 0``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2` (Eq. (6) ICLR / (8) arXiv), ``>= 0``.

    Returns
    -------
    ndarray
        The bound on the average-iterate KL, broadcast over the arguments.

    Examples
    --------
    >>> float(sgd_kl_bound(T=100, eta=0.1, sigma_sq=2.0))
    0.8
    """
    return _online_to_batch_bound(T, eta, sigma_sq)


def normalized_sgd_coverage_rate(T, K, N, sigma_sq, B):
    r"""Theorem 5.1 (Eq. (11) ICLR / (19) arXiv): :math:`\sqrt{\sigma_\star^2/(T\log N)} + B^2/T + B/(K\log N)`.

    Parameters
    ----------
    T : array_like
        Number of steps, ``> 0``.
    K : array_like
        Mini-batch size, ``> 0``.
    N : array_like
        Coverage threshold, ``>= 1``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2`, ``>= 0``.
    B : array_like
        Feature-norm bound of Assumption 2.2, ``>= 0``.

    Returns
    -------
    ndarray
        The rate shape with every absolute constant set to one, broadcast over the arguments.

    Examples
    --------
    >>> round(float(normalized_sgd_coverage_rate(100, 10, np.e, 4.0, 1.0)), 12)
    0.31
    """
    T, logn = _f(T, "T"), np.log(_f(N, "N"))
    return np.sqrt(_f(sigma_sq, "sigma_sq") / (T * logn)) + _f(B, "B") ** 2 / T + _f(B, "B") / (_f(K, "K") * logn)


def normalized_sgd_parameters(T, N, B, sigma_sq):
    r"""The proof's choices for Theorem 5.1 (App. K.5 ICLR / I.5 arXiv), with :math:`M = \log N`.

    .. math:: \eta = \min\{1/(128B),\ (M/(\sigma_\star^2T))^{1/4}\},\qquad \lambda = M/(16\eta).

    Parameters
    ----------
    T : array_like
        Number of steps, ``> 0``.
    N : array_like
        Coverage threshold, ``>= 1``.
    B : array_like
        Feature-norm bound, ``>= 0``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2`, ``>= 0``.

    Returns
    -------
    eta : ndarray
        Step size :math:`\eta`.
    lam : ndarray
        Normalisation offset :math:`\lambda = M/(16\eta)`.

    Examples
    --------
    >>> eta, lam = normalized_sgd_parameters(1e12, np.e, 1.0, 1.0)
    >>> float(eta), float(lam)
    (0.001, 62.5)
    """
    M = np.log(_f(N, "N"))
    with np.errstate(divide="ignore"):
        eta = np.minimum(1.0 / (128.0 * _f(B, "B")), (M / (_f(sigma_sq, "sigma_sq") * _f(T, "T"))) ** 0.25)
    return eta, M / (16.0 * eta)


def normalized_sgd_explicit_bound(T, K, N, sigma_sq, B, eta):
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
    T, K : array_like
        Steps and minibatch size, ``> 0``.
    N : array_like
        Coverage threshold ``> e``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2`, ``>= 0``.
    B : array_like
        Feature-norm bound, ``>= 0``.
    eta : array_like
        Step size, ``> 0``.

    Returns
    -------
    ndarray
        The bound, broadcast over the arguments.

    Examples
    --------
    >>> round(float(normalized_sgd_explicit_bound(1e5, 256, 8.0, 1.0, 24.0, 1 / 3072)))
    811
    """
    M = np.log(_f(N, "N"))
    if np.any(M <= 1):
        raise ValueError("`N` must exceed e (the bound divides by log N - 1).")
    eta, s2, K = _f(eta, "eta"), _f(sigma_sq, "sigma_sq"), _f(K, "K")
    inner = (240.0 * _f(B, "B") / K + 2304.0 * eta ** 2 * s2 + M / (_f(T, "T") * eta ** 2)
             + 4.0 * eta * np.sqrt(s2) / np.sqrt(K))
    return 4.0 / (M - 1.0) * inner


def ttt_kl_rate(T, sigma_sq, B):
    r"""Theorem 6.1: :math:`\mathbb E\frac1T\sum_t D_{KL}(\pi_D\|\pi^{TTT}_{\theta_t}) \lesssim \sqrt{\sigma_\star^2/T} + B^2/T` (no ``H``).

    Parameters
    ----------
    T : array_like
        Number of training sequences, ``> 0``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2`, ``>= 0``.
    B : array_like
        Feature-norm bound of Assumption 2.2, ``>= 0``.

    Returns
    -------
    ndarray
        The rate shape with every absolute constant set to one, broadcast over the arguments.

    Examples
    --------
    >>> round(float(ttt_kl_rate(100, 4.0, 1.0)), 12)
    0.21
    """
    T = _f(T, "T")
    return np.sqrt(_f(sigma_sq, "sigma_sq") / T) + _f(B, "B") ** 2 / T


def ttt_coverage_rate(T, N, sigma_sq, B):
    r"""Theorem 6.1, coverage form: :math:`\frac{1}{\log N}(\sqrt{\sigma_\star^2/T} + B^2/T)`.

    Parameters
    ----------
    T : array_like
        Number of training sequences, ``> 0``.
    N : array_like
        Coverage threshold, ``>= 1``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2`, ``>= 0``.
    B : array_like
        Feature-norm bound of Assumption 2.2, ``>= 0``.

    Returns
    -------
    ndarray
        The rate shape with every absolute constant set to one, broadcast over the arguments.

    Examples
    --------
    >>> round(float(ttt_coverage_rate(100, np.e, 4.0, 1.0)), 12)
    0.21
    """
    return ttt_kl_rate(T, sigma_sq, B) / np.log(_f(N, "N"))


def ttt_step_size(T, B, sigma_sq):
    r"""Theorem 6.1's step: :math:`\eta = \min\{1/(2B^2), (\sigma_\star^2T)^{-1/2}\}`.

    Parameters
    ----------
    T : array_like
        Number of training sequences, ``> 0``.
    B : array_like
        Feature-norm bound, ``>= 0``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2`, ``>= 0``.

    Returns
    -------
    ndarray
        The step size :math:`\eta` (exact, no hidden constant), broadcast over the arguments.

    Examples
    --------
    >>> float(ttt_step_size(100, 1.0, 1.0))
    0.1
    """
    with np.errstate(divide="ignore"):
        return np.minimum(1.0 / (2 * _f(B, "B") ** 2), (1.0 / (_f(sigma_sq, "sigma_sq") * _f(T, "T"))) ** 0.5)


def ttt_kl_bound(*, T, eta, sigma_sq):
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
    T : array_like
        Number of training sequences, ``> 0``.
    eta : array_like
        Step size, ``> 0``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2`, ``>= 0``.

    Returns
    -------
    ndarray
        The bound on the average over training sequences, broadcast over the arguments.

    Examples
    --------
    >>> float(ttt_kl_bound(T=100, eta=0.1, sigma_sq=2.0))
    0.8
    """
    return _online_to_batch_bound(T, eta, sigma_sq)


def distillation_coverage_rate(T, N, sigma_sq, B):
    r"""Theorem G.2 (ICLR) / 6.2 (arXiv): :math:`\sqrt{\sigma_\star^2/(T\log N)} + B^2/T` (matches Theorem 4.2).

    Parameters
    ----------
    T : array_like
        Number of steps, ``> 0``.
    N : array_like
        Coverage threshold, ``>= 1``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2`, ``>= 0``.
    B : array_like
        Feature-norm bound of Assumption 2.2, ``>= 0``.

    Returns
    -------
    ndarray
        The rate shape with every absolute constant set to one, broadcast over the arguments.

    Examples
    --------
    >>> round(float(distillation_coverage_rate(100, np.e, 4.0, 1.0)), 12)
    0.21
    """
    _f(T, "T")  # named as T here (linear_mle_coverage_rate calls it n)
    return linear_mle_coverage_rate(T, N, sigma_sq, B)


def distillation_step_size(T, N, B, sigma_sq, *, proof=False):
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
    T : array_like
        Number of steps, ``> 0``.
    N : array_like
        Coverage threshold, ``>= 1``.
    B : array_like
        Feature-norm bound, ``>= 0``.
    sigma_sq : array_like
        Inherent variance :math:`\sigma_\star^2`, ``>= 0``.
    proof : bool, optional
        Use the first branch the proof's last inequality needs.

    Returns
    -------
    ndarray
        The step size :math:`\eta` (exact, no hidden constant), broadcast over the arguments.

    Examples
    --------
    >>> float(distillation_step_size(1e6, np.e, 1.0, 1.0))
    0.001
    >>> float(distillation_step_size(1e6, np.e, 10.0, 1.0, proof=True))    # 1/(256 * 100)
    3.90625e-05
    """
    logn = np.log(_f(N, "N"))
    first = 256 * logn if proof else 64 * logn + 2
    with np.errstate(divide="ignore"):
        return np.minimum(1.0 / (first * _f(B, "B") ** 2), (1.0 / (_f(T, "T") * _f(sigma_sq, "sigma_sq") * logn)) ** 0.5)


def tournament_coverage_rate(N, a, best_coverage, class_size, n, delta):
    r"""Theorem 6.2 (ICLR) / 6.3 (arXiv) (simple tournament), bound on :math:`\mathrm{Cov}_{N^{1+a}}(\hat\pi)`.

    .. math:: \min_\pi\mathrm{Cov}_{N^a}(\pi) + N^{-(1-a)} + \log(|\Pi|/\delta)/n

    Parameters
    ----------
    N : array_like
        Tournament threshold, ``>= 1``.
    a : array_like
        Exponent :math:`a \in [0, 1]`.
    best_coverage : array_like
        :math:`\min_\pi\mathrm{Cov}_{N^a}(\pi)`, in ``[0, 1]``.
    class_size : array_like
        :math:`|\Pi|`, ``>= 1``.
    n : array_like
        Number of held-out samples, ``> 0``.
    delta : array_like
        Failure probability, in ``(0, 1]``.

    Returns
    -------
    ndarray
        The rate shape with every absolute constant set to one, broadcast over the arguments.

    Examples
    --------
    >>> float(tournament_coverage_rate(100, 0.5, 0.0, np.e, 10, 1.0))
    0.2
    """
    return (_f(best_coverage, "best_coverage") + _f(N, "N") ** (-(1.0 - _f(a, "a")))
            + np.log(_f(class_size, "class_size") / _f(delta, "delta")) / _f(n, "n"))


def offset_tournament_coverage_rate(class_size, n, delta):
    r"""Theorem G.3 (ICLR) / 6.4 (arXiv): :math:`\mathrm{Cov}_{2N^{1+a}}(\hat\pi) \lesssim \log(|\Pi|/\delta)/n`.

    Parameters
    ----------
    class_size : array_like
        :math:`|\Pi|`, ``>= 1``.
    n : array_like
        Number of held-out samples, ``> 0``.
    delta : array_like
        Failure probability, in ``(0, 1]``.

    Returns
    -------
    ndarray
        :math:`\log(|\Pi|/\delta)/n` (absolute constant set to one), broadcast over the arguments.

    Examples
    --------
    >>> float(offset_tournament_coverage_rate(np.e, 10, 1.0))
    0.1
    """
    return np.log(_f(class_size, "class_size") / _f(delta, "delta")) / _f(n, "n")
