r"""Every proved inequality of the coverage paper as a function, one function per statement.

Each function returns the value of one bound, named after what the statement says and
vectorised (numpy broadcasting) over the threshold ``N`` and the other numeric arguments.
Bounds take the *quantities* they relate (a KL divergence, a squared Hellinger distance,
coverages, a stopped KL, ...) so they compose with any way of obtaining those quantities:
exact enumeration, certified bounds (:mod:`theory.certified`) or Monte Carlo.

Numbering: ICLR camera-ready first, arXiv v2 second (Section 10 of the reference notes).
Outside a statement's range of ``N`` a bound is vacuous and returned as ``+inf``.

=========================================  =====================================================
function                                   statement
=========================================  =====================================================
:func:`kl_to_coverage`                     Prop. 3.1: :math:`\mathrm{Cov}_N\le D_{KL}/\log(N/e)`
:func:`kl_to_coverage_sharp`               Prop. F.1 / D.1: :math:`D_{KL}/(\log N-1+1/N)`
:func:`kl_tightness_witness`               Prop. F.2 / D.2: attained value :math:`D_{KL}/(\log N-\frac12+\frac1{2N})`
:func:`coverage_decay_to_kl`               Prop. F.3 / D.3
:func:`hellinger_to_coverage`              Prop. F.4 / D.4: :math:`2N/(\sqrt N-1)^2\,D_H^2`
:func:`coverage_chain_rule`                Prop. F.5 / D.5
:func:`stopped_kl_to_coverage`             Prop. F.10 / D.10
:func:`hellinger_partial_converse`         Prop. F.11 / D.11
:func:`markov_lp_coverage_bound`           Related work (Markov's inequality, [derived] form)
:func:`lemma_j1_clipped_exponential`       Lemma J.1 (ICLR; arXiv number not in the notes)
:func:`finite_class_mle_hellinger_bound`   finite-class MLE in Hellinger (Prop. F.8 / D.8 core)
=========================================  =====================================================

The Best-of-N statements (Props. F.6/F.7 = D.6/D.7 and the derived Pass@N bounds) live in
:mod:`theory.best_of_n`.

The witnesses (instances on which a bound is attained, or attained up to its stated
constant) are constructions, not inequalities: they live in :mod:`theory.instances.witnesses`
with the other instances.  Their old names here (``theory.bounds.bernoulli_witness``, ...)
still resolve for one release, with a ``DeprecationWarning`` naming the new path.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
from scipy.special import gammaln, logsumexp

from .validation import (as_float_array, check_int, check_log_probabilities, check_real,
                          check_thresholds, check_weights)
from .coverage import tail_masses, coverage_profile
from .deprecation import moved_names
from .divergences import squared_hellinger

__all__ = [
    "kl_to_coverage",
    "kl_to_coverage_sharp",
    "kl_tightness_witness",
    "uniform_coverage_decay",
    "coverage_decay_to_kl",
    "hellinger_to_coverage",
    "coverage_chain_rule",
    "stopped_kl_to_coverage",
    "hellinger_partial_converse",
    "log_density_ratio_moment",
    "markov_lp_coverage_bound",
    "lemma_j1_clipped_exponential",
    "finite_class_mle_hellinger_bound",
    "finite_class_mle_failure_probability",
]

#: Names that moved to :mod:`theory.instances.witnesses`; still importable from here, with a
#: ``DeprecationWarning`` naming the new path, for one release.
_MOVED_TO_WITNESSES = ("Witness", "BernoulliWitness", "bernoulli_witness", "kl_tightness_instance",
                       "coverage_decay_witness", "chain_rule_witness", "hellinger_converse_witness",
                       "lemma_j1_witness")


# Resolved on access only: importing theory.instances here would point an arrow from the
# inequalities up to the constructions (no cycle either way; the arrow is the point).
__getattr__ = moved_names(__name__, dict.fromkeys(_MOVED_TO_WITNESSES, "theory.instances.witnesses"))


# --------------------------------------------------------------------------- helpers
def _nonneg(value, name):
    arr = as_float_array(value, name, allow_neginf=False)
    if (arr < 0).any():
        raise ValueError(f"`{name}` must be non-negative, got minimum {arr.min()}.")
    return arr


def _unit_interval(value, name):
    arr = as_float_array(value, name, allow_posinf=False, allow_neginf=False)
    if (arr < 0).any() or (arr > 1).any():
        raise ValueError(f"`{name}` must lie in [0, 1].")
    return arr


def _out(arr):
    """0-d results as numpy scalars' arrays; keep arrays otherwise."""
    return np.asarray(arr, dtype=float)


def _ratio_or_inf(num, den, valid):
    """``num/den`` where ``valid`` (den > 0 there), ``+inf`` elsewhere; ``0`` for 0/inf."""
    num, den, valid = np.broadcast_arrays(num, den, valid)
    out = np.full(num.shape, np.inf)
    ok = valid & np.isfinite(num)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[ok] = num[ok] / den[ok]
    return _out(out)


# ------------------------------------------------------------------- Prop 3.1 / F.1
def kl_to_coverage(kl, N):
    r"""KL-to-coverage bound of Prop. 3.1 (same number in ICLR and arXiv).

    .. math::

        \mathrm{Cov}_N(\pi_D\|\hat\pi) \le \frac{D_{KL}(\pi_D\|\hat\pi)}{\log(N/e)},
        \qquad N > e .

    Proof: the pointwise inequality :math:`(a-1)\mathbf 1\{z\ge a\}\le z+e^{-z}-1` at
    :math:`a=\log N`, :math:`z=\log(\pi_D/\hat\pi)`, and :math:`\mathbb E_{\pi_D}e^{-z}\le1`
    (checked in :mod:`proofs_check`).

    Parameters
    ----------
    kl : float or array_like
        Sequence-level KL divergence(s), ``>= 0`` (``inf`` allowed).
    N : float or array_like
        Thresholds ``>= 1``; broadcast against ``kl``.

    Returns
    -------
    ndarray
        The bound; ``inf`` for ``N <= e`` (the statement says nothing there) or infinite KL.

    Examples
    --------
    >>> float(kl_to_coverage(0.5, np.e ** 3))
    0.25
    >>> kl_to_coverage(0.5, [2.0, np.inf])
    array([inf,  0.])
    """
    kl = _nonneg(kl, "kl")
    N = check_thresholds(N)
    with np.errstate(divide="ignore"):
        den = np.log(N) - 1.0
    return _ratio_or_inf(kl, den, den > 0)


def _f_over_n(N):
    r""":math:`f(N)/N = \log N - 1 + 1/N` for ``N >= 1``, accurate near ``N = 1``."""
    N = np.asarray(N, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = N - 1.0
        out = np.log1p(u) - u / N
    return np.where(np.isinf(N), np.inf, out)


def kl_to_coverage_sharp(kl, N):
    r"""Sharp KL-to-coverage bound, Prop. F.1 (ICLR) / Prop. D.1 (arXiv).

    .. math::

        \mathrm{Cov}_N(\pi_D\|\hat\pi) \le \frac{D_{KL}(\pi_D\|\hat\pi)}{\log N - 1 + 1/N}
        = \frac{N\,D_{KL}}{f(N)},\qquad f(x) = x\log x - x + 1 .

    The paper states it for :math:`N\ge2`; the proof (Lemma 27 of Block & Polyanskiy with
    this :math:`f`; :math:`f(x)/x` is non-decreasing on :math:`x\ge1`) gives every
    :math:`N>1` with the ``>= N`` convention, which is the range implemented.  By Prop.
    F.2 / D.2 the constant cannot be improved: on Ber(p) vs Ber(p/N) the ratio of the two
    sides tends to one as :math:`p\to0` (see :func:`~theory.instances.witnesses.bernoulli_witness`).

    Parameters
    ----------
    kl : float or array_like
        KL divergence(s), ``>= 0``.
    N : float or array_like
        Thresholds ``>= 1``.

    Returns
    -------
    ndarray
        The bound (``inf`` at ``N = 1``; ``0`` at ``N = inf`` for finite KL).

    Examples
    --------
    >>> round(float(kl_to_coverage_sharp(0.1, 2.0)), 5)    # 0.1 / (log 2 - 1/2)
    0.51774
    """
    kl = _nonneg(kl, "kl")
    N = check_thresholds(N)
    den = _f_over_n(N)
    return _ratio_or_inf(kl, den, den > 0)


def kl_tightness_witness(kl, N):
    r"""The coverage level attained on the witness of Prop. F.2 (ICLR) / Prop. D.2 (arXiv).

    .. math:: \frac{D_{KL}}{\log N - \tfrac12 + \tfrac1{2N}}

    For every :math:`N\ge2` and :math:`p\le\tfrac12`, the pair
    :math:`\pi_D=\mathrm{Ber}(p)`, :math:`\hat\pi=\mathrm{Ber}(p/N)`
    (:func:`~theory.instances.witnesses.kl_tightness_instance`) has :math:`\mathrm{Cov}_N = p` at least this value of
    its own KL, so the denominator of Prop. F.1 (ICLR) / D.1 (arXiv) is optimal up to :math:`\tfrac12 - \tfrac1{2N}`.

    Parameters
    ----------
    kl : float or array_like
        KL divergence(s), ``>= 0``.
    N : float or array_like
        Thresholds ``>= 1`` (``inf`` at ``N = 1``, where the denominator vanishes).

    Returns
    -------
    ndarray
        :math:`D_{KL}/(\log N - \tfrac12 + \tfrac1{2N})`, broadcast over the arguments.

    Examples
    --------
    >>> round(float(kl_tightness_witness(0.1, 2.0)), 6)   # 0.1 / (log 2 - 1/4)
    0.225659
    """
    kl = _nonneg(kl, "kl")
    N = check_thresholds(N)
    with np.errstate(divide="ignore", invalid="ignore"):
        den = np.where(np.isinf(N), np.inf, np.log(N) - 0.5 * (N - 1.0) / N)   # no cancellation near N = 1
    return _ratio_or_inf(kl, den, den > 0)


# ------------------------------------------------------------------------- Prop F.3
def uniform_coverage_decay(log_ratio, *, weights=None):
    r"""The constants of Prop. F.3 / D.3 for one law of :math:`Z=\log\pi_D/\pi`.

    .. math::

        C = \sup_{N\ge1}\mathrm{Cov}_N\,\log N
          = \max_{z_i>0} z_i\,\mathbb P[Z\ge z_i],\qquad
        \log W_{\max} = \max_i z_i,

    exact: :math:`\mathrm{Cov}_N\log N` increases in :math:`\log N` between atoms, so the
    supremum is attained at an atom.

    Parameters
    ----------
    log_ratio : (m,) array_like
        Log-ratios on a support (``+inf`` allowed).
    weights : (m,) array_like, optional
        Probabilities of the points (exact law); uniform ``1/m`` if omitted.

    Returns
    -------
    C : float
    log_w_max : float
        Over points of positive weight.

    Examples
    --------
    >>> uniform_coverage_decay([np.log(4.0), -0.1], weights=[0.25, 0.75])
    (0.34657359027997264, 1.3862943611198906)
    """
    lr = as_float_array(log_ratio, "log_ratio", ndim=1, allow_neginf=True)
    w = np.full(lr.size, 1.0 / lr.size) if weights is None else check_weights(weights, "weights", lr.shape)
    keep = w > 0
    lr, w = lr[keep], w[keep]
    log_w_max = float(lr.max())
    if np.isposinf(lr).any():
        return float("inf"), log_w_max
    sorted_lr, tail = tail_masses(lr, w)
    pos = sorted_lr > 0
    if not pos.any():
        return 0.0, log_w_max
    # tail[i] = P[Z >= sorted_lr[i]] (ties: the first of equal values carries the full tail).
    first = np.concatenate([[True], sorted_lr[1:] != sorted_lr[:-1]])
    cand = np.where(pos & first, sorted_lr * tail[:-1], 0.0)
    return float(cand.max()), log_w_max


def coverage_decay_to_kl(decay_constant, log_w_max):
    r"""KL bound from uniform coverage decay, Prop. F.3 (ICLR) / Prop. D.3 (arXiv).

    .. math::

        D_{KL}(\pi_D\|\pi) \le C\left(1 + \log\frac{\log W_{\max}}{C}\right),
        \qquad C = \sup_{N\ge1}\mathrm{Cov}_N(\pi)\log N\;(\le\log W_{\max}),

    with :math:`W_{\max} = \sup_{x,y}\pi_D/\pi`.  Proof:
    :math:`D_{KL}\le\int_0^{\log W_{\max}}\mathbb P[Z\ge t]\,dt` and
    :math:`\mathbb P[Z\ge t]\le\min\{1, C/t\}`.

    Parameters
    ----------
    decay_constant : float or array_like
        :math:`C \ge 0` (see :func:`uniform_coverage_decay`).
    log_w_max : float or array_like
        :math:`\log W_{\max}` (``inf`` allowed); must be ``>= C``.

    Returns
    -------
    ndarray
        The bound; ``0`` when ``C = 0`` (then :math:`\pi_D/\pi\le1` a.s., so KL = 0).

    Examples
    --------
    >>> float(coverage_decay_to_kl(0.5, 0.5 * np.e))
    1.0
    """
    C = _nonneg(decay_constant, "decay_constant")
    L = as_float_array(log_w_max, "log_w_max", allow_neginf=False)
    C, L = np.broadcast_arrays(C, L)
    if (np.isfinite(C) & (C > L + 1e-12 * np.maximum(1.0, np.abs(L)))).any():
        raise ValueError("`decay_constant` must not exceed `log_w_max` (C <= log W_max always).")
    out = np.full(C.shape, np.inf)
    fin = np.isfinite(C) & np.isfinite(L)
    zero = fin & (C == 0)
    pos = fin & (C > 0)
    out[zero] = 0.0
    out[pos] = C[pos] * (1.0 + np.log(np.maximum(L[pos], C[pos]) / C[pos]))
    return _out(out)


# ------------------------------------------------------------------------- Prop F.4
def hellinger_to_coverage(hellinger_sq, N):
    r"""Hellinger-to-coverage bound, Prop. F.4 (ICLR) / Prop. D.4 (arXiv).

    .. math::

        \mathrm{Cov}_N(\pi_D\|\pi) \le \frac{2N}{(\sqrt N-1)^2}\,D_H^2(\pi_D,\pi),
        \qquad D_H^2 = \tfrac12\textstyle\sum(\sqrt{\pi_D}-\sqrt\pi)^2,\quad N>1 .

    Pointwise step: on :math:`\{r=\pi_D/\pi\ge N\}`,
    :math:`(1-r^{-1/2})^2\ge(1-N^{-1/2})^2` and
    :math:`D_H^2=\tfrac12\mathbb E_{\pi_D}(1-r^{-1/2})^2`.  Attained as :math:`p\to0` on
    :func:`~theory.instances.witnesses.bernoulli_witness`.

    Parameters
    ----------
    hellinger_sq : float or array_like
        Squared Hellinger distance, one-half convention, in ``[0, 1]``.
    N : float or array_like
        Thresholds ``>= 1``.

    Returns
    -------
    ndarray
        ``inf`` at ``N = 1``; the limit ``2 D_H^2`` at ``N = inf``.

    Examples
    --------
    >>> float(hellinger_to_coverage(0.01, 4.0))
    0.08
    """
    h = _unit_interval(hellinger_sq, "hellinger_sq")
    N = check_thresholds(N)
    with np.errstate(divide="ignore", invalid="ignore"):
        # 1 - N^{-1/2} = -expm1(-log(N)/2): no cancellation for N near 1; 1 at N = inf
        const = 2.0 / np.expm1(-0.5 * np.log(N)) ** 2
        bound = h * const  # 0 * inf at N = 1 is replaced by inf below
    return _ratio_or_inf(bound, np.ones_like(const), N > 1)


# ------------------------------------------------------------------------- Prop F.5
def coverage_chain_rule(cov_data_vs_model, cov_target_vs_data, M2):
    r"""Chain rule (transitivity) of coverage, Prop. F.5 (ICLR) / Prop. D.5 (arXiv).

    .. math::

        \mathrm{Cov}_{M_1}(\pi_T\|\pi) \le M_2\,\mathrm{Cov}_{M_1/M_2}(\pi_D\|\pi)
            + \mathrm{Cov}_{M_2}(\pi_T\|\pi_D),

    stated for :math:`M_1, M_2\ge2`; the proof (if :math:`\pi_T/\pi\ge M_1` and
    :math:`\pi_T/\pi_D<M_2` then :math:`\pi_D/\pi>M_1/M_2` and :math:`\pi_T<M_2\pi_D`)
    holds for all :math:`M_1, M_2>0`.

    Parameters
    ----------
    cov_data_vs_model : float or array_like
        :math:`\mathrm{Cov}_{M_1/M_2}(\pi_D\|\pi)`, evaluated by the caller at
        :math:`M_1/M_2`.
    cov_target_vs_data : float or array_like
        :math:`\mathrm{Cov}_{M_2}(\pi_T\|\pi_D)`.
    M2 : float or array_like
        :math:`M_2 > 0`.

    Returns
    -------
    ndarray
        The right-hand side (broadcast).

    Examples
    --------
    >>> float(coverage_chain_rule(0.01, 0.05, 10.0))    # the paper's "10 eps" example
    0.15000000000000002
    """
    a = _unit_interval(cov_data_vs_model, "cov_data_vs_model")
    b = _unit_interval(cov_target_vs_data, "cov_target_vs_data")
    m2 = as_float_array(M2, "M2", allow_posinf=False, allow_neginf=False)
    if (m2 <= 0).any():
        raise ValueError("`M2` must be positive.")
    return _out(m2 * a + b)


# ------------------------------------------------------------------------ Prop F.10
def stopped_kl_to_coverage(stopped_kl, N):
    r"""Coverage from the stopped KL, Prop. F.10 (ICLR) / Prop. D.10 (arXiv).

    .. math::

        \mathrm{Cov}_N(\pi_D\|\pi) \le \frac{2}{\log N - 1}\,D_{seq,N}(\pi_D\|\pi),
        \qquad N > e,

    with :math:`D_{seq,N} = \mathbb E_{\pi_D}\min\{\log N, \sum_h
    D_{KL}(\pi_D(\cdot|x,y_{<h})\|\pi(\cdot|x,y_{<h}))\}`
    (:func:`theory.divergences.stopped_kl`, :func:`theory.log_ratio.exact_stopped_kl`,
    :func:`theory.certified.certified_stopped_kl`).  On Ber(p) vs Ber(p/N) (``H = 1``) the
    ratio of the two sides tends to :math:`\tfrac12(\log N-1)/(\log N-1+1/N)` as
    :math:`p\to0`: the bound is attained up to its factor 2.

    Parameters
    ----------
    stopped_kl : float or array_like
        :math:`D_{seq,N}` (already evaluated at the same ``N``), ``>= 0``.
    N : float or array_like
        Thresholds ``>= 1``.

    Returns
    -------
    ndarray
        ``inf`` for ``N <= e``.

    Examples
    --------
    >>> float(stopped_kl_to_coverage(0.1, np.e ** 3))
    0.1
    """
    d = _nonneg(stopped_kl, "stopped_kl")
    N = check_thresholds(N)
    with np.errstate(divide="ignore"):
        den = np.log(N) - 1.0
    return _ratio_or_inf(2.0 * d, den, den > 0)


# ------------------------------------------------------------------------ Prop F.11
def hellinger_partial_converse(hellinger_sums, N, delta, *, weights=None):
    r"""Lower bound on coverage from per-step Hellinger sums, Prop. F.11 (ICLR) / D.11 (arXiv).

    .. math::

        \mathrm{Cov}_N(\pi_D\|\pi) \ge
        \mathbb P_{\pi_D}\Big[\sum_{h=1}^H D_H^2\big(\pi_D(\cdot|x,y_{<h}),
        \pi(\cdot|x,y_{<h})\big) \ge \log(N/\delta)\Big] - \delta,
        \qquad N\ge1,\ \delta\in(0,1).

    (Proof: :math:`\exp(-\tfrac12 Z_h)/\prod_{j\le h}(1-D^2_{H,j})` is a
    :math:`\pi_D`-martingale of mean one, and :math:`1-x\le e^{-x}`.)

    Parameters
    ----------
    hellinger_sums : (m,) array_like
        :math:`S=\sum_h D^2_{H,h}` on each point (enumerated path or sample); see
        :func:`theory.log_ratio.path_token_hellinger`.
    N : float or array_like
        Thresholds ``>= 1``.
    delta : float
        :math:`\delta\in(0,1)`.
    weights : (m,) array_like, optional
        Probabilities of the points (exact); uniform if omitted (empirical).

    Returns
    -------
    ndarray
        The lower bound (may be negative, i.e. vacuous), shape ``np.shape(N)``.

    Examples
    --------
    >>> round(float(hellinger_partial_converse([5.0, 0.0], np.e ** 2, np.exp(-1.0),
    ...                                        weights=[0.3, 0.7])), 6)    # 0.3 - 1/e
    -0.067879
    """
    s = as_float_array(hellinger_sums, "hellinger_sums", ndim=1, allow_neginf=False, allow_posinf=False)
    if (s < 0).any():
        raise ValueError("`hellinger_sums` must be non-negative.")
    N = check_thresholds(N)
    delta = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    prob = coverage_profile(s, N / delta, weights=weights)
    return _out(prob - delta)


# ----------------------------------------------------------------- Markov / L_p bound
def log_density_ratio_moment(log_ratio, exponent, *, weights=None):
    r"""Log of the :math:`L_p`-type coverage coefficient :math:`\log\mathbb E_\pi[(\pi/\hat\pi)^p]`.

    The coefficient that the paper's Related Work discussion bounds coverage by through
    Markov's inequality (:func:`markov_lp_coverage_bound`).  Computed in log space (``logsumexp``), vectorised over ``p``.

    Parameters
    ----------
    log_ratio : (m,) array_like
        :math:`\log(\pi/\hat\pi)` on a support or sample (``+inf`` allowed).
    exponent : float or array_like
        Exponent(s) :math:`p > 0`.
    weights : (m,) array_like, optional
        Probabilities of the points; uniform if omitted.

    Returns
    -------
    ndarray
        Shape ``np.shape(exponent)``.

    Examples
    --------
    >>> float(np.exp(log_density_ratio_moment([np.log(2.0), 0.0], 1.0, weights=[0.5, 0.5])))
    1.5
    """
    lr = as_float_array(log_ratio, "log_ratio", ndim=1)
    p = as_float_array(exponent, "exponent", allow_posinf=False, allow_neginf=False)
    if (p <= 0).any():
        raise ValueError("`exponent` must be positive.")
    w = np.full(lr.size, 1.0 / lr.size) if weights is None else check_weights(weights, "weights", lr.shape)
    keep = w > 0
    lr, lw = lr[keep], np.log(w[keep])
    if np.isnan(lr).any():
        raise ValueError("`log_ratio` must not contain NaN where the weight is positive.")
    return _out(logsumexp(lw[None, :] + np.multiply.outer(np.ravel(p), lr), axis=1).reshape(np.shape(p)))


def markov_lp_coverage_bound(log_moment, N, exponent):
    r"""Markov's inequality in :math:`L_p` form (Related Work; the form here is [derived]).

    .. math::

        \mathrm{Cov}_N(\pi\|\hat\pi) = \mathbb P_\pi[\pi/\hat\pi\ge N]
        \le \frac{\mathbb E_\pi[(\pi/\hat\pi)^p]}{N^p},\qquad p>0,

    from the pointwise :math:`\mathbf 1\{r\ge N\}\le(r/N)^p`.  ``p = 1`` gives
    :math:`C_{cov}/N` with :math:`C_{cov}=\mathbb E_\pi[\pi/\hat\pi]`.  Attained up to
    :math:`(1 + o(1))` on :func:`~theory.instances.witnesses.bernoulli_witness` when :math:`N^p\gg1/p_{\rm data}`.

    Parameters
    ----------
    log_moment : float or array_like
        :math:`\log\mathbb E_\pi[(\pi/\hat\pi)^p]` (see :func:`log_density_ratio_moment`).
    N : float or array_like
        Thresholds ``>= 1``.
    exponent : float or array_like
        Exponent :math:`p > 0`.

    Returns
    -------
    ndarray
        The bound :math:`\exp(\log\text{moment} - p\log N)` (broadcast).

    Examples
    --------
    >>> round(float(markov_lp_coverage_bound(np.log(1.5), 3.0, 1.0)), 12)
    0.5
    """
    lm = as_float_array(log_moment, "log_moment", allow_neginf=False)
    N = check_thresholds(N)
    p = as_float_array(exponent, "exponent", allow_posinf=False, allow_neginf=False)
    if (p <= 0).any():
        raise ValueError("`exponent` must be positive.")
    with np.errstate(invalid="ignore"):
        out = np.exp(lm - p * np.log(N))
    return _out(np.where(np.isposinf(lm), np.inf, out))


# -------------------------------------------------------------------------- Lemma J.1
def lemma_j1_clipped_exponential(log_p_data, log_p_model, C, *, prompt_weights=None):
    r"""The quantity of Lemma J.1 (ICLR; arXiv v2 number not in the reference notes): :math:`\mathbb E_{\pi_D}\exp(\tfrac12\max\{\log(\pi/\pi_D),-C\})`.

    .. math::

        \mathbb E_{x\sim\mu,\,y\sim\pi_D}\exp\Big(\tfrac12\max\Big\{\log\frac{\pi(y|x)}{\pi_D(y|x)},
        -C\Big\}\Big) \le 1\qquad\text{for } C\ge\log 4 .

    Proof: with :math:`A=\{\pi/\pi_D<e^{-C}\}`, :math:`a=\pi_D(A)`, Cauchy–Schwarz gives a
    value at most :math:`e^{-C/2}a+\sqrt{1-a}`, which is non-increasing in :math:`a` when
    :math:`e^{-C/2}\le\tfrac12`.  The constant :math:`\log4` is exact: see
    :func:`~theory.instances.witnesses.lemma_j1_witness`.  (Used in Prop. J.1 (ICLR) with the clipped log-likelihood,
    in the proof of Theorem 4.1.)

    Parameters
    ----------
    log_p_data, log_p_model : (m,) or (n_prompts, m) array_like
        Normalised log-probabilities of :math:`\pi_D` and :math:`\pi`.
    C : float or array_like
        Clipping level(s) (any real; the lemma needs ``C >= log 4``).
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution; uniform by default.

    Returns
    -------
    ndarray
        The expectation, shape ``np.shape(C)``.

    Examples
    --------
    >>> v = lemma_j1_clipped_exponential(np.log([0.5, 0.5]), np.log([0.9, 0.1]), np.log(4.0))
    >>> bool(v <= 1.0)
    True
    """
    lp = check_log_probabilities(log_p_data, "log_p_data", min_ndim=1)
    lq = check_log_probabilities(log_p_model, "log_p_model", min_ndim=1)
    lp = lp[None, :] if lp.ndim == 1 else lp
    lq = lq[None, :] if lq.ndim == 1 else lq
    if lp.ndim != 2:
        raise ValueError(f"`log_p_data` must have shape (m,) or (n_prompts, m), got {lp.shape}.")
    if lq.shape != lp.shape:
        raise ValueError(f"`log_p_model` must have the shape of `log_p_data` {lp.shape}, got {lq.shape}.")
    mu = (np.full(lp.shape[0], 1.0 / lp.shape[0]) if prompt_weights is None
          else check_weights(prompt_weights, "prompt_weights", (lp.shape[0],)))
    C = as_float_array(C, "C", allow_posinf=False, allow_neginf=False)
    c = np.ravel(C)
    with np.errstate(invalid="ignore"):
        lr = lq - lp                                         # log(pi / pi_D); -inf where pi = 0
    clipped = np.maximum(lr[None], -c[:, None, None])        # (k, n_prompts, m)
    with np.errstate(invalid="ignore"):                      # pi_D = 0 points (-inf + inf) are dropped
        terms = np.where(lp[None] > -np.inf, lp[None] + 0.5 * clipped, -np.inf)
    per_prompt = np.exp(logsumexp(terms, axis=-1))           # (k, n_prompts)
    return _out((per_prompt @ mu).reshape(C.shape))


# ---------------------------------------------------------------- finite-class MLE
def finite_class_mle_hellinger_bound(n, class_size, delta):
    r"""Hellinger risk of the MLE over a finite realizable class (core of Prop. F.8 / D.8).

    With probability at least :math:`1-\delta` over :math:`n` i.i.d. samples of
    :math:`\mu\otimes\pi_D`, every maximiser :math:`\hat\pi` of the log-likelihood over a
    finite class :math:`\Pi\ni\pi_D` satisfies

    .. math::

        \mathbb E_{x\sim\mu} D_H^2\big(\pi_D(\cdot|x),\hat\pi(\cdot|x)\big)
        \le \frac{\log(|\Pi|/\delta)}{n},

    with the **one-half convention** :math:`D_H^2=\tfrac12\sum(\sqrt p-\sqrt q)^2` used
    throughout the toolkit (equivalently ``2 log(|Π|/δ)/n`` for
    :math:`\sum(\sqrt p-\sqrt q)^2`).  Proof: for fixed :math:`\pi`,
    :math:`\mathbb E\,e^{\frac12(\hat L_n(\pi)-\hat L_n(\pi_D))}=(1-D_H^2)^n\le e^{-nD_H^2}`;
    Markov's inequality and a union bound over :math:`\Pi`, then
    :math:`\hat L_n(\hat\pi)\ge\hat L_n(\pi_D)`.  Prop. F.8 / D.8 is the covering-number
    version of the same argument (stated there up to constants).

    Parameters
    ----------
    n : int or array_like
        Sample size ``>= 1``.
    class_size : int or array_like
        :math:`|\Pi|\ge1`.
    delta : float or array_like
        Failure probability in ``(0, 1)``.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> round(float(finite_class_mle_hellinger_bound(100, 10, 0.1)), 6)
    0.046052
    """
    n = as_float_array(n, "n", allow_posinf=False, allow_neginf=False)
    if (n < 1).any():
        raise ValueError("`n` must be >= 1.")
    k = as_float_array(class_size, "class_size", allow_posinf=False, allow_neginf=False)
    if (k < 1).any():
        raise ValueError("`class_size` must be >= 1.")
    d = as_float_array(delta, "delta", allow_posinf=False, allow_neginf=False)
    if (d <= 0).any() or (d >= 1).any():
        raise ValueError("`delta` must lie in (0, 1).")
    return _out(np.log(k / d) / n)


def _compositions(n, k):
    """All count vectors of ``n`` samples in ``k`` cells, shape ``(C(n+k-1, k-1), k)``."""
    cuts = np.array(list(combinations(range(n + k - 1), k - 1)), dtype=np.int64).reshape(-1, k - 1)
    edges = np.concatenate([np.full((len(cuts), 1), -1), cuts, np.full((len(cuts), 1), n + k - 1)], axis=1)
    return np.diff(edges, axis=1) - 1


def finite_class_mle_failure_probability(log_class, n, threshold, *, prompt_weights=None,
                                         max_outcomes=2_000_000):
    r"""Exact probability that some log-likelihood maximiser over a finite class has Hellinger risk above ``threshold``.

    The failure event of the finite-class MLE bound at the core of Prop. F.8 (ICLR) / D.8
    (arXiv) (:func:`finite_class_mle_hellinger_bound`), computed exactly.  The class member ``0`` is the data distribution :math:`\pi_D` (realizable case).  With
    :math:`n` i.i.d. samples of :math:`\mu\otimes\pi_D` the likelihood depends only on the
    counts of the ``(prompt, response)`` cells, so

    .. math::

        \mathbb P\Big[\exists\,\hat\pi\in\arg\max_{\pi\in\Pi}\hat L_n(\pi):\
        \mathbb E_\mu D_H^2(\pi_D,\hat\pi) > \text{threshold}\Big]
        = \sum_{c} \mathrm{Mult}(c;\,n,\mu\otimes\pi_D)\,
          \mathbf 1\{\text{some maximiser for } c \text{ is far}\}

    over all count vectors :math:`c` (ties between maximisers resolved adversarially, up to a
    relative ``1e-9`` on the log-likelihood).  With ``threshold`` =
    :func:`finite_class_mle_hellinger_bound` this is at most :math:`\delta`.

    Parameters
    ----------
    log_class : (K, m) or (K, n_prompts, m) array_like
        Normalised log-probabilities of the class members; member 0 is :math:`\pi_D`.
    n : int
        Sample size.
    threshold : float
        Hellinger level (one-half convention).
    prompt_weights : (n_prompts,) array_like, optional
        :math:`\mu`; uniform by default.
    max_outcomes : int
        Refuse to enumerate more count vectors than this.

    Returns
    -------
    float
        The probability, in ``[0, 1]``.

    Examples
    --------
    >>> lc = np.log([[0.5, 0.5], [0.9, 0.1]])
    >>> p = finite_class_mle_failure_probability(lc, 10, finite_class_mle_hellinger_bound(10, 2, 0.1))
    >>> bool(p <= 0.1)
    True
    """
    lc = as_float_array(log_class, "log_class", allow_posinf=False)
    if lc.ndim == 2:
        lc = lc[:, None, :]
    if lc.ndim != 3 or lc.shape[0] < 1:
        raise ValueError("`log_class` must have shape (K, m) or (K, n_prompts, m).")
    for k in range(lc.shape[0]):
        check_log_probabilities(lc[k], "log_class", axis=-1)
    n = check_int(n, "n", low=1)
    max_outcomes = check_int(max_outcomes, "max_outcomes", low=1)
    thr = as_float_array(threshold, "threshold", allow_posinf=False, allow_neginf=False)
    if thr.ndim != 0 or thr < 0:
        raise ValueError("`threshold` must be a non-negative scalar.")
    threshold = float(thr)
    max_outcomes = check_int(max_outcomes, "max_outcomes", low=1)
    K, X, m = lc.shape
    mu = np.full(X, 1.0 / X) if prompt_weights is None else check_weights(prompt_weights, "prompt_weights", (X,))
    cells = X * m
    if comb(n + cells - 1, cells - 1) > max_outcomes:
        raise ValueError(f"too many count vectors to enumerate (n={n}, {cells} cells); raise `max_outcomes`.")
    with np.errstate(divide="ignore"):
        log_joint = (np.log(mu)[None, :, None] + lc).reshape(K, cells)
    counts = _compositions(n, cells)
    log_mult = gammaln(n + 1) - gammaln(counts + 1).sum(axis=1)
    with np.errstate(invalid="ignore"):
        ll = np.where(counts[None] > 0, counts[None] * log_joint[:, None, :], 0.0).sum(-1)   # (K, C)
    prob = np.exp(log_mult + ll[0])
    h2 = np.array([squared_hellinger(lc[0], lc[k], prompt_weights=mu) for k in range(K)])
    best = ll.max(axis=0)
    is_max = ll >= best - 1e-9 * np.maximum(1.0, np.abs(best))
    fail = (is_max & (h2[:, None] > threshold)).any(axis=0)
    return float(np.clip(prob[fail].sum(), 0.0, 1.0))
