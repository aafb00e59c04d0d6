r"""The coverage profile and its empirical and per-prompt variants.

The coverage profile of a model :math:`\hat\pi` relative to a reference :math:`\pi`
(Definition 1.1, Eq. (1) of arXiv 2510.15020) is

.. math::

    \mathrm{Cov}_N(\pi \,\|\, \hat\pi)
      = \mathbb{P}_{x\sim\mu,\ y\sim\pi(\cdot|x)}
        \left[\frac{\pi(y|x)}{\hat\pi(y|x)} \ge N\right]
      = \mathbb{P}\left[\log\frac{\pi}{\hat\pi} \ge \log N\right],

the upper tail of the log density ratio at level :math:`\log N` (Remark E.1 ICLR /
Remark 2.1 arXiv).  The convention is ``>= N`` everywhere in this toolkit.

Everything here takes the *log-ratio* as input, so the same code serves exact evaluation
(enumerated support with probability weights), Monte Carlo (samples, no weights) and the
empirical coverage between two candidate models (Eq. (13) ICLR / (28) arXiv).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .validation import (as_float_array, as_int_array, check_allocation, check_log_probabilities,
                          check_thresholds, check_weights)

__all__ = [
    "coverage_profile",
    "per_prompt_coverage",
    "answer_level_coverage",
    "empirical_coverage",
    "on_policy_coverage",
    "log_thresholds",
    "comparison_log_thresholds",
    "TIE_ATOL",
]


#: Absolute tolerance on the log scale with which a tie ``pi/pi_hat == N`` counts as ``>= N``.
TIE_ATOL = 1e-10


def log_thresholds(N, *, name="N"):
    r"""Return ``log N`` for validated thresholds ``N >= 1`` (``+inf`` allowed).

    The level of the log-ratio tail in Definition 1.1 written in log form (Remark E.1
    ICLR / 2.1 arXiv): :math:`\mathrm{Cov}_N = P[\log\pi/\hat\pi \ge \log N]`.

    Parameters
    ----------
    N : float or array_like
        Thresholds, every entry ``>= 1`` (``inf`` allowed).
    name : str, optional
        Argument name used in error messages.

    Returns
    -------
    ndarray
        :math:`\log N`, shape ``np.shape(N)``.

    Examples
    --------
    >>> float(log_thresholds(np.e))
    1.0
    """
    N = check_thresholds(N, name)
    with np.errstate(divide="ignore"):
        return np.log(N)


def comparison_log_thresholds(N, *, name="N"):
    r"""The cut-offs against which log-ratios are compared: :math:`\log N - \tau`.

    The event :math:`\pi/\hat\pi \ge N` of Definition 1.1 is evaluated as
    :math:`\log\pi - \log\hat\pi \ge \log N - \tau` with :math:`\tau` = ``TIE_ATOL``
    (``1e-10``).  Log-ratios are differences of (sums of) rounded log-probabilities, so a
    ratio that equals ``N`` exactly (the Prop. F.2 (ICLR) / D.2 (arXiv) witness, the
    F.7 / D.7 witness reward, any constructed tie) comes out a few ulps on either side of
    :math:`\log N`; the tolerance makes the ``>=`` convention hold for such ties.  It changes
    the count only for ratios within a factor :math:`e^{10^{-10}}` of ``N``.

    Parameters
    ----------
    N : float or array_like
        Thresholds, every entry ``>= 1`` (``inf`` allowed).
    name : str, optional
        Argument name used in error messages.

    Returns
    -------
    ndarray
        :math:`\log N - \tau`, shape ``np.shape(N)``.

    Examples
    --------
    >>> float(comparison_log_thresholds(1.0)) == -TIE_ATOL
    True
    """
    return log_thresholds(N, name=name) - TIE_ATOL


def _coverage_sorted(sorted_lr, tail_mass, log_n):
    """Upper-tail mass ``sum(w[lr >= t])`` for each ``t`` in ``log_n``.

    ``sorted_lr`` is ascending; ``tail_mass[i]`` is the mass of ``sorted_lr[i:]`` (length
    ``len(sorted_lr) + 1`` with a trailing 0).
    """
    idx = np.searchsorted(sorted_lr, log_n, side="left")
    return tail_mass[idx]


def tail_masses(log_ratio, weights):
    # Any sort will do: tied values fall on the same side of every threshold.
    order = np.argsort(log_ratio)
    sorted_lr = log_ratio[order]
    w = weights[order]
    tail = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])
    # Rounding in the cumulative sum must not push coverage outside [0, 1].
    np.clip(tail, 0.0, 1.0, out=tail)
    return sorted_lr, tail


def _coverage_binned(log_ratio, weights, log_n):
    r"""Upper-tail mass ``sum(w[lr >= t]) / sum(w)`` for each ``t`` in ``log_n`` without sorting ``lr``.

    Point ``i`` falls in bin ``b_i = #{j : t_(j) <= lr_i}`` of the sorted thresholds, so
    ``lr_i >= t_(j)`` exactly when ``b_i > j``: one binary search per point among the
    ``|N|`` thresholds and one weighted ``bincount`` give every tail mass, in
    :math:`O(m \log |N|)` instead of the :math:`O(m \log m)` of a sort.  The tails are
    divided by the total mass (summed in the same order), so a threshold that every point
    clears has coverage exactly 1.
    """
    flat = log_n.ravel()
    order = np.argsort(flat)
    bins = np.searchsorted(flat[order], log_ratio, side="right")
    mass = np.bincount(bins, weights=weights, minlength=flat.size + 1)
    tail = np.cumsum(mass[::-1])[::-1]                      # tail[b] = mass of bins >= b
    cov = tail[1:] / tail[0]                                # cov[j] = mass of bins > j
    np.clip(cov, 0.0, 1.0, out=cov)
    out = np.empty(flat.size)
    out[order] = cov
    return out.reshape(log_n.shape)


def _coverage_profile_iv(log_ratio, N, weights):
    lr = as_float_array(log_ratio, "log_ratio", ndim=1, allow_nan=weights is not None)
    log_n = comparison_log_thresholds(N)
    if weights is None:
        w = None
    else:
        w = check_weights(weights, "weights", lr.shape)
        # A point of zero probability may carry an undefined log-ratio (0/0 in the ratio).
        lr = np.where(w > 0, lr, -np.inf)
    if np.isnan(lr).any():
        raise ValueError("`log_ratio` must not contain NaN where the weight is positive.")
    return lr, log_n, w


def coverage_profile(log_ratio, N, *, weights=None):
    r"""Coverage profile :math:`\mathrm{Cov}_N` at every threshold in ``N``.

    .. math::

        \mathrm{Cov}_N = \sum_i w_i\, \mathbf 1\{\ell_i \ge \log N\},
        \qquad \ell_i = \log\frac{\pi(y_i|x_i)}{\hat\pi(y_i|x_i)} .

    Parameters
    ----------
    log_ratio : (m,) array_like
        Log density ratios :math:`\log \pi/\hat\pi` on the points of a support or sample.
        ``+inf`` (the model gives probability 0) is allowed and always counts.
    N : float or array_like
        Thresholds, every entry ``>= 1`` (``inf`` allowed).  Any shape.  Ties
        (ratio exactly ``N``) count, up to rounding: see :func:`comparison_log_thresholds`.
    weights : (m,) array_like, optional
        Probabilities of the points under the reference (``mu(x) pi(y|x)`` for an
        enumerated support): the result is then the *exact* coverage.  With ``None`` each
        point has weight ``1/m`` and the result is the empirical coverage of a sample.

    Returns
    -------
    ndarray
        Coverage at each threshold, shape ``np.shape(N)``; values in ``[0, 1]``,
        non-increasing in ``N``.

    Notes
    -----
    With weights and at most ``m`` thresholds, each point is binned among the sorted
    thresholds (one binary search each, then one weighted ``bincount``): cost
    :math:`O((m + |N|)\log |N|)`.  Otherwise the log-ratios are sorted once and each
    threshold is a binary search: :math:`O((m + |N|)\log m)`.  Definition 1.1 (both numberings).

    Examples
    --------
    >>> import numpy as np
    >>> from theory.coverage import coverage_profile
    >>> p = 0.3; N = 4.0      # witness of Prop. F.2 / D.2: Ber(p) against Ber(p/N)
    >>> lr = np.array([np.log(N), np.log((1 - p) / (1 - p / N))])
    >>> float(coverage_profile(lr, N, weights=[p, 1 - p]))
    0.3
    >>> coverage_profile(lr, [1.0, 2.0, 5.0], weights=[p, 1 - p]).round(3)
    array([0.3, 0.3, 0. ])
    """
    lr, log_n, w = _coverage_profile_iv(log_ratio, N, weights)
    if weights is None:  # exact counts: k/m, with no rounding from summing 1/m
        srt = np.sort(lr)
        return (lr.size - np.searchsorted(srt, log_n, side="left")) / lr.size
    if np.size(log_n) <= lr.size:
        return _coverage_binned(lr, w, log_n)
    sorted_lr, tail = tail_masses(lr, w)
    return _coverage_sorted(sorted_lr, tail, log_n)


def per_prompt_coverage(log_ratio, N, *, weights=None):
    r"""Per-prompt coverage :math:`\mathrm{Cov}_N(x) = P_{y\sim\pi(\cdot|x)}[\pi/\hat\pi \ge N]`.

    Definition 1.1 conditioned on the prompt (the paper averages over :math:`x\sim\mu`;
    per-prompt quantities appear inside its proofs, e.g. :math:`E_{N,\mu}` in the analysis of
    the offset tournament, Theorem G.3 (ICLR) / 6.4 (arXiv)).

    Parameters
    ----------
    log_ratio : (n_prompts, m) array_like
        Log density ratios for ``m`` responses (support points or samples) of each prompt.
    N : float or array_like
        Thresholds ``>= 1``.
    weights : (n_prompts, m) array_like, optional
        Conditional probabilities :math:`\pi(y|x)` (each row sums to one) for exact
        coverage; ``None`` gives the per-prompt empirical coverage.

    Returns
    -------
    ndarray
        Shape ``(n_prompts,) + np.shape(N)``.  Averaging over :math:`x\sim\mu` gives
        :func:`coverage_profile`.

    Notes
    -----
    Each row is sorted once and every threshold is a binary search in it, as in
    :func:`coverage_profile` (the same tail sums, so row ``x`` equals
    ``coverage_profile(log_ratio[x], N, weights=weights[x])``): :math:`O(n_{\rm prompts}\,(m +
    |N|)\log m)` time and memory linear in the input plus the output, never the
    :math:`n_{\rm prompts}\times m\times|N|` comparison table.  Empirical coverage (no
    ``weights``) is an exact count divided by ``m``.

    Examples
    --------
    >>> per_prompt_coverage([[0.0, 2.0], [3.0, 3.0]], 2.0)
    array([0.5, 1. ])
    """
    lr = as_float_array(log_ratio, "log_ratio", ndim=2, allow_nan=weights is not None)
    log_n = comparison_log_thresholds(N)
    n_prompts, m = lr.shape
    if weights is None:
        w = np.full(lr.shape, 1.0 / m)
    else:
        w = as_float_array(weights, "weights", ndim=2, allow_posinf=False, allow_neginf=False)
        if w.shape != lr.shape:
            raise ValueError(f"`weights` must have the shape of `log_ratio` {lr.shape}, got {w.shape}.")
        if (w < 0).any() or not np.allclose(w.sum(axis=1), 1.0, rtol=0, atol=1e-8):
            raise ValueError("`weights` rows must be probability vectors (non-negative, summing to one).")
        lr = np.where(w > 0, lr, -np.inf)
    if np.isnan(lr).any():
        raise ValueError("`log_ratio` must not contain NaN where the weight is positive.")
    flat_n = np.ravel(log_n)
    k = flat_n.size
    check_allocation(24 * n_prompts * k + 56 * lr.size + 24 * k + (1 << 16),
                     f"per-prompt coverage of `log_ratio` ({n_prompts} prompts x {m} points) at "
                     f"{k} thresholds `N`", "pass fewer prompts or thresholds per call")
    if weights is None:   # exact counts: k/m, with no rounding from summing 1/m
        srt = np.sort(lr, axis=1)
        below = _rowwise_count_below(srt, flat_n)
        cov = (m - below) / m
    else:
        order = np.argsort(lr, axis=1, kind="stable")
        srt = np.take_along_axis(lr, order, axis=1)
        ws = np.take_along_axis(w, order, axis=1)
        del order
        tail = np.concatenate([np.cumsum(ws[:, ::-1], axis=1)[:, ::-1], np.zeros((n_prompts, 1))], axis=1)
        del ws
        np.clip(tail, 0.0, 1.0, out=tail)
        cov = np.take_along_axis(tail, _rowwise_count_below(srt, flat_n), axis=1)
    return cov.reshape((n_prompts,) + np.shape(log_n))


def _rowwise_count_below(sorted_rows, t):
    """``[np.searchsorted(row, t, side="left") for row in sorted_rows]`` without a loop, ``(P, K)``.

    Values and thresholds are replaced by their ranks among all of them, so ``row * R + rank``
    is one globally sorted key and a single ``searchsorted`` answers every row.
    """
    P, m = sorted_rows.shape
    _, ranks = np.unique(np.concatenate([sorted_rows.ravel(), t]), return_inverse=True)
    ranks = ranks.astype(np.int64)
    offsets = np.arange(P, dtype=np.int64)[:, None] * (int(ranks.max()) + 1)
    keys = (ranks[:P * m].reshape(P, m) + offsets).ravel()
    queries = offsets + ranks[P * m:][None, :]
    return np.searchsorted(keys, queries, side="left") - np.arange(P, dtype=np.int64)[:, None] * m


def answer_level_coverage(log_p, log_q, answer, N, *, prompt_weights=None):
    r"""Answer-level coverage :math:`\mathrm{Cov}^{ans}_N` (Sec. A.1 ICLR / 7.1 arXiv).

    Responses are ``y = (y_cot, y_ans)``; both models are marginalised onto the answer,

    .. math::

        \mathrm{Cov}^{ans}_N(\pi\|\hat\pi)
        = P_{\pi}\left[\frac{\pi(y_{ans}|x)}{\hat\pi(y_{ans}|x)} \ge N\right]
        \le \frac{\mathrm{Cov}_{cN}(\pi\|\hat\pi)}{1 - c}
        \quad (0 < c < 1,\ cN \ge 1).

    (If :math:`\pi(a)/\hat\pi(a) \ge N`, the responses of answer :math:`a` with ratio
    :math:`< cN` carry :math:`\pi`-mass :math:`< cN\hat\pi(a) \le c\,\pi(a)`.)  The
    pointwise :math:`\mathrm{Cov}^{ans}_N \le \mathrm{Cov}_N` does **not** hold in general:
    :math:`\pi = (0.1, 0.1 \mid 0.8)`, :math:`\hat\pi = (0.001, 0.019 \mid 0.98)` with the
    first two responses sharing an answer gives :math:`\mathrm{Cov}^{ans}_{10} = 0.2 >
    \mathrm{Cov}_{10} = 0.1`.

    Parameters
    ----------
    log_p, log_q : (n_prompts, m) array_like
        Normalised log-probabilities of the reference and the model on an enumerated
        response support (``-inf`` allowed).
    answer : (m,) or (n_prompts, m) array_like of int
        Answer label of each response.
    N : float or array_like
        Thresholds ``>= 1``.
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution :math:`\mu`; uniform by default.

    Returns
    -------
    ndarray
        Shape ``np.shape(N)``.

    Examples
    --------
    >>> lp = np.log([[0.25, 0.25, 0.5]]); lq = np.log([[0.5, 0.0 + 1e-9, 0.5 - 1e-9]])
    >>> float(answer_level_coverage(lp, lq, [0, 0, 1], 2.0))
    0.0
    """
    log_p = check_log_probabilities(log_p, "log_p", ndim=2)
    log_q = check_log_probabilities(log_q, "log_q", ndim=2)
    if log_q.shape != log_p.shape:
        raise ValueError(f"`log_q` must have the shape of `log_p` {log_p.shape}, got {log_q.shape}.")
    n_prompts, m = log_p.shape
    ans = as_int_array(answer, "answer", low=0)
    if ans.shape == (m,):
        ans = np.broadcast_to(ans, log_p.shape)
    if ans.shape != log_p.shape:
        raise ValueError(f"`answer` must have shape ({m},) or {log_p.shape}, got {ans.shape}.")
    mu = _prompt_weights(prompt_weights, n_prompts)
    # Labels are arbitrary non-negative integers: relabel them 0..K-1 so the one-hot below
    # has K = number of distinct labels columns (a label like 10**18 must not size it).
    _, ans = np.unique(ans, return_inverse=True)
    ans = ans.reshape(log_p.shape)
    n_ans = int(ans.max()) + 1
    # Marginals over answers by a grouped logsumexp: (n_prompts, n_ans).
    onehot_log = np.where(ans[:, :, None] == np.arange(n_ans), 0.0, -np.inf)
    marg_p = logsumexp(log_p[:, :, None] + onehot_log, axis=1)
    marg_q = logsumexp(log_q[:, :, None] + onehot_log, axis=1)
    w = (mu[:, None] * np.exp(marg_p)).ravel()
    with np.errstate(invalid="ignore"):
        lr = (marg_p - marg_q).ravel()
    return coverage_profile(np.where(w > 0, lr, -np.inf), N, weights=w / w.sum())


def _prompt_weights(prompt_weights, n_prompts):
    if prompt_weights is None:
        return np.full(n_prompts, 1.0 / n_prompts)
    return check_weights(prompt_weights, "prompt_weights", (n_prompts,))


#: Largest accepted positive rounding in a sequence log-likelihood (a sum of log-probabilities).
LOGLIK_ATOL = 1e-8


def _loglik_iv(value, name, min_ndim):
    """Log-likelihoods of sequences: ``<= 0`` up to rounding, ``-inf`` allowed, no NaN/``+inf``."""
    arr = as_float_array(value, name, min_ndim=min_ndim, allow_posinf=False)
    if (arr > LOGLIK_ATOL).any():
        raise ValueError(f"`{name}` are log-probabilities and must be <= 0, got maximum {arr.max()}.")
    return arr


def empirical_coverage(loglik_ref, loglik_model, N):
    r"""Empirical coverage :math:`\widehat{\mathrm{Cov}}_N(\pi'\|\pi)` (Eq. (13) ICLR / (28) arXiv).

    .. math::

        \widehat{\mathrm{Cov}}_N(\pi'\|\pi) = \frac1n\left|\{i :
            \pi'(y_i|x_i)/\pi(y_i|x_i) \ge N\}\right|, \qquad (x_i, y_i)\sim\pi_D .

    With :math:`\pi' = \pi_D` it is an unbiased estimate of :math:`\mathrm{Cov}_N(\pi_D\|\pi)`;
    between two candidates it needs only their likelihoods on samples from :math:`\pi_D`.

    Parameters
    ----------
    loglik_ref : (..., n) array_like
        :math:`\log\pi'(y_i|x_i)` on ``n`` samples (``<= 0``; ``-inf`` allowed).
    loglik_model : (..., n) array_like
        :math:`\log\pi(y_i|x_i)` on the same samples; broadcast against ``loglik_ref``
        (e.g. ``(K, 1, n)`` against ``(1, K, n)`` gives all pairs of ``K`` candidates).
        A sample with :math:`\pi' > 0 = \pi` has ratio ``+inf`` and counts at every ``N``
        (``inf`` included); one with :math:`\pi' = \pi = 0` (ratio ``0/0``) never counts.
    N : float or array_like
        Thresholds ``>= 1``.

    Returns
    -------
    ndarray
        Shape ``broadcast(...) + np.shape(N)``.

    Examples
    --------
    >>> empirical_coverage([0.0, 0.0, 0.0, 0.0], np.log([1.0, 0.5, 0.1, 0.4]), [1.0, 2.0, 4.0])
    array([1.  , 0.75, 0.25])
    """
    ref = _loglik_iv(loglik_ref, "loglik_ref", 1)
    mod = _loglik_iv(loglik_model, "loglik_model", 1)
    if ref.shape[-1] != mod.shape[-1]:
        raise ValueError(f"`loglik_ref` and `loglik_model` must have the same number of samples "
                         f"(last axis), got {ref.shape[-1]} and {mod.shape[-1]}.")
    try:
        lead = np.broadcast_shapes(ref.shape[:-1], mod.shape[:-1])
    except ValueError:
        raise ValueError(f"`loglik_ref` {ref.shape} and `loglik_model` {mod.shape} do not broadcast.") from None
    log_n = comparison_log_thresholds(N)
    n = ref.shape[-1]
    with np.errstate(invalid="ignore"):
        lr = ref - mod  # (-inf) - (-inf) is NaN: the ratio 0/0 never reaches N.
    lr = np.where(np.isnan(lr), -np.inf, lr)
    lr = np.broadcast_to(lr, lead + (n,))
    # Sort each row once; then each count is a binary search.  Loop over whichever of
    # rows and thresholds is shorter, vectorising over the other.
    srt = np.sort(lr, axis=-1).reshape(-1, n)
    flat_n = np.ravel(log_n)
    if srt.shape[0] <= flat_n.size:
        below = np.stack([np.searchsorted(row, flat_n, side="left") for row in srt])
    else:
        below = np.stack([np.sum(srt < t, axis=-1) for t in flat_n], axis=-1)
    return ((n - below) / n).reshape(lead + np.shape(log_n))


def on_policy_coverage(loglik_ref, loglik_model, N, *, weights=None):
    r"""On-policy empirical coverage :math:`\widehat{\mathrm{Cov}}^{\bar\pi}_N(\pi'\|\pi)`.

    .. math::

        \widehat{\mathrm{Cov}}^{\bar\pi}_N(\pi'\|\pi) = \frac1n\sum_{i=1}^n
        P_{y\sim\bar\pi(\cdot|x_i)}\left[\frac{\pi'(y|x_i)}{\pi(y|x_i)} \ge N\right]

    (offset tournament, Eq. (39) ICLR / (32) arXiv), the inner probability estimated from
    ``m`` generations of :math:`\bar\pi` per prompt or computed exactly on an enumerated
    support with ``weights`` :math:`\bar\pi(y|x_i)`.

    Parameters
    ----------
    loglik_ref, loglik_model : (..., n, m) array_like
        :math:`\log\pi'` and :math:`\log\pi` on ``m`` responses for each of ``n`` prompts
        (``-inf`` allowed: a ``0/0`` ratio never counts, :math:`\pi' > 0 = \pi` always does).
    N : float or array_like
        Thresholds ``>= 1``.
    weights : (n, m) array_like, optional
        Probabilities :math:`\bar\pi(y|x_i)` of the responses (rows sum to one); uniform
        ``1/m`` (samples) by default.

    Returns
    -------
    ndarray
        Shape ``broadcast(...) + np.shape(N)``.

    Examples
    --------
    >>> float(on_policy_coverage([[0.0, 0.0]], np.log([[0.25, 1.0]]), 4.0))
    0.5
    """
    ref = _loglik_iv(loglik_ref, "loglik_ref", 2)
    mod = _loglik_iv(loglik_model, "loglik_model", 2)
    try:
        shape = np.broadcast_shapes(ref.shape, mod.shape)
    except ValueError:
        raise ValueError(f"`loglik_ref` {ref.shape} and `loglik_model` {mod.shape} do not broadcast.") from None
    n, m = shape[-2:]
    if weights is None:
        w = np.full((n, m), 1.0 / m)
    else:
        w = as_float_array(weights, "weights", ndim=2, allow_posinf=False, allow_neginf=False)
        if w.shape != (n, m) or (w < 0).any() or not np.allclose(w.sum(axis=1), 1.0, atol=1e-8):
            raise ValueError(f"`weights` must be a ({n}, {m}) array of probability rows.")
    log_n = comparison_log_thresholds(N)
    with np.errstate(invalid="ignore"):
        lr = ref - mod
    lr = np.where(np.isnan(lr), -np.inf, lr)
    flat_n = np.ravel(log_n)
    cells = int(np.prod(shape, dtype=object)) * flat_n.size
    check_allocation(9 * cells + (1 << 16), f"the comparison table of `loglik_ref`/`loglik_model` "
                     f"{shape} against {flat_n.size} thresholds `N`",
                     "pass fewer thresholds or candidates per call")
    hits = lr[..., None] >= flat_n
    cov = np.einsum("nm,...nmk->...k", w, hits) / n
    return cov.reshape(shape[:-2] + np.shape(log_n))
