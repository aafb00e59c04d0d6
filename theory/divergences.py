r"""Sequence-level divergences between explicit distributions, and the stopped KL.

Distributions are given as **normalised log-probabilities over an enumerated support**:
an array ``log_p`` of shape ``(n_prompts, m)`` holds :math:`\log\pi(y_j|x_i)` for the ``m``
responses of every prompt (a 1-d array is a single prompt), and ``prompt_weights`` is the
prompt distribution :math:`\mu` (uniform by default).  Every divergence is the
:math:`\mu`-average of the per-prompt divergence, which for an autoregressive model over
:math:`Y = V^H` is the *sequence-level* divergence of the paper (Section 1.3 of the
reference notes).

Conventions: :math:`0\log 0 = 0`; a point with :math:`p > 0 = q` makes KL and
cross-entropy ``+inf`` (never NaN); the squared Hellinger distance uses the **one-half
convention** :math:`D_H^2(P,Q) = \tfrac12\sum(\sqrt{p}-\sqrt{q})^2 \in [0, 1]`; total
variation is :math:`\tfrac12\sum|p-q|`.
"""

from __future__ import annotations

import numpy as np

from .validation import as_float_array, check_int, check_log_probabilities, check_weights
from .coverage import log_thresholds

__all__ = [
    "kl_divergence",
    "cross_entropy",
    "squared_hellinger",
    "total_variation",
    "categorical_kl",
    "categorical_squared_hellinger",
    "stopped_kl",
]


def _pair_iv(log_p, log_q, prompt_weights):
    lp = check_log_probabilities(log_p, "log_p", min_ndim=1)
    lq = check_log_probabilities(log_q, "log_q", min_ndim=1)
    if lp.ndim == 1:
        lp = lp[None, :]
    if lq.ndim == 1:
        lq = lq[None, :]
    if lp.ndim != 2:
        raise ValueError(f"`log_p` must have shape (m,) or (n_prompts, m), got {lp.shape}.")
    if lq.shape != lp.shape:
        raise ValueError(f"`log_q` must have the shape of `log_p` {lp.shape}, got {lq.shape}.")
    if prompt_weights is None:
        mu = np.full(lp.shape[0], 1.0 / lp.shape[0])
    else:
        mu = check_weights(prompt_weights, "prompt_weights", (lp.shape[0],))
    return lp, lq, mu


def _prompt_average(mu, per_prompt):
    """``sum_x mu(x) d(x)`` over prompts of positive weight: a prompt that ``mu`` never draws adds
    nothing, even when its divergence is infinite (``0 * inf`` would be NaN)."""
    pos = mu > 0
    return float(mu[pos] @ per_prompt[pos])


def _kl_terms(lp, lq):
    """Pointwise p (log p - log q) with 0 log 0 = 0 and +inf where p > 0 = q."""
    p = np.exp(lp)
    with np.errstate(invalid="ignore"):
        return np.where(p > 0, p * (lp - lq), 0.0)


def _hellinger_terms(lp, lq, axis):
    """``0.5 * sum((sqrt p - sqrt q)**2)`` along ``axis``: no cancellation for small distances."""
    return 0.5 * ((np.exp(0.5 * lp) - np.exp(0.5 * lq)) ** 2).sum(axis=axis)


def kl_divergence(log_p, log_q, *, prompt_weights=None):
    r"""Sequence-level KL divergence :math:`D_{KL}(\pi\|\hat\pi)`.

    .. math::

        D_{KL}(\pi\|\hat\pi) = \mathbb E_{x\sim\mu}\sum_y \pi(y|x)\log\frac{\pi(y|x)}{\hat\pi(y|x)}

    The KL of Prop. 3.1 and Prop. F.1 (ICLR) / D.1 (arXiv): the mean of the log density
    ratio whose upper tail is the coverage profile (Remark E.1 ICLR / 2.1 arXiv).

    Parameters
    ----------
    log_p, log_q : (m,) or (n_prompts, m) array_like
        Normalised log-probabilities of :math:`\pi` and :math:`\hat\pi` over the same
        enumerated responses (``-inf`` allowed).
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution :math:`\mu`, uniform by default.

    Returns
    -------
    float
        In nats; ``inf`` when :math:`\hat\pi` misses mass of :math:`\pi`.

    Examples
    --------
    >>> import numpy as np
    >>> round(kl_divergence(np.log([0.5, 0.5]), np.log([0.9, 0.1])), 6)
    0.510826
    """
    lp, lq, mu = _pair_iv(log_p, log_q, prompt_weights)
    # Each per-prompt KL is >= 0; rounding of nearly equal log-probabilities must not make it negative.
    return _prompt_average(mu, np.maximum(_kl_terms(lp, lq).sum(axis=1), 0.0))


def cross_entropy(log_p, log_q, *, prompt_weights=None):
    r"""Sequence-level cross-entropy :math:`D_{CE}(\pi\|\hat\pi) = \mathbb E_\pi[-\log\hat\pi(y|x)]`.

    Equals :math:`D_{KL}(\pi\|\hat\pi) + \mathbb E_\mu H(\pi(\cdot|x))`, and
    :math:`\mathbb E_D[\hat L_n(\pi)] = -n\,D_{CE}(\pi_D\|\pi)`: the estimable upper bound on
    KL of Remark E.2 (ICLR) / 2.2 (arXiv).

    Parameters
    ----------
    log_p, log_q : (m,) or (n_prompts, m) array_like
        Normalised log-probabilities of :math:`\pi` and :math:`\hat\pi` over the same
        enumerated responses (``-inf`` allowed).
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution :math:`\mu`, uniform by default.

    Returns
    -------
    float
        In nats; ``inf`` when :math:`\hat\pi` misses mass of :math:`\pi`.

    Examples
    --------
    >>> import numpy as np
    >>> round(cross_entropy(np.log([0.5, 0.5]), np.log([0.5, 0.5])), 6)
    0.693147
    """
    lp, lq, mu = _pair_iv(log_p, log_q, prompt_weights)
    p = np.exp(lp)
    with np.errstate(invalid="ignore"):
        terms = np.where(p > 0, -p * lq, 0.0)
    return _prompt_average(mu, terms.sum(axis=1))


def squared_hellinger(log_p, log_q, *, prompt_weights=None):
    r"""Squared Hellinger distance, one-half convention.

    .. math::

        D_H^2(\pi,\hat\pi) = \mathbb E_{x\sim\mu}\,\tfrac12\sum_y
            \left(\sqrt{\pi(y|x)} - \sqrt{\hat\pi(y|x)}\right)^2
        = 1 - \mathbb E_\mu \sum_y \sqrt{\pi\hat\pi} \in [0, 1],

    the convention of Prop. F.4 (ICLR) / D.4 (arXiv).  Computed as the sum of squares (not
    as ``1 - BC``, which cancels catastrophically for nearly equal distributions), clipped to
    ``[0, 1]``.

    Parameters
    ----------
    log_p, log_q : (m,) or (n_prompts, m) array_like
        Normalised log-probabilities of :math:`\pi` and :math:`\hat\pi` over the same
        enumerated responses (``-inf`` allowed).
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution :math:`\mu`, uniform by default.

    Returns
    -------
    float
        :math:`D_H^2 \in [0, 1]`.

    Examples
    --------
    >>> import numpy as np
    >>> squared_hellinger([0.0, -np.inf], [-np.inf, 0.0])
    1.0
    """
    lp, lq, mu = _pair_iv(log_p, log_q, prompt_weights)
    return float(np.clip(_prompt_average(mu, _hellinger_terms(lp, lq, axis=1)), 0.0, 1.0))


def total_variation(log_p, log_q, *, prompt_weights=None):
    r"""Total variation :math:`\mathbb E_\mu \tfrac12\sum_y|\pi(y|x)-\hat\pi(y|x)|`.

    The distance of VGB Theorem 4.1 (arXiv 2510.03149) and of Lemma 19 of the
    Foster--Rakhlin notes (arXiv 2312.16730, :math:`D_{TV}^2 \le D_H^2 \le D_{KL}` with the
    un-halved :math:`D_H^2`); no statement of the coverage paper is about it.

    Parameters
    ----------
    log_p, log_q : (m,) or (n_prompts, m) array_like
        Normalised log-probabilities of :math:`\pi` and :math:`\hat\pi` over the same
        enumerated responses (``-inf`` allowed).
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution :math:`\mu`, uniform by default.

    Returns
    -------
    float
        :math:`D_{TV} \in [0, 1]`.

    Examples
    --------
    >>> import numpy as np
    >>> total_variation(np.log([0.5, 0.5]), [0.0, -np.inf])
    0.5
    """
    lp, lq, mu = _pair_iv(log_p, log_q, prompt_weights)
    return float(np.clip(_prompt_average(mu, 0.5 * np.abs(np.exp(lp) - np.exp(lq)).sum(axis=1)), 0.0, 1.0))


def _categorical_iv(log_p, log_q, axis):
    """Validate a pair of categorical log-distributions along ``axis`` (broadcastable)."""
    lp = as_float_array(log_p, "log_p", min_ndim=1, allow_posinf=False)
    lq = as_float_array(log_q, "log_q", min_ndim=1, allow_posinf=False)
    try:
        shape = np.broadcast_shapes(lp.shape, lq.shape)
    except ValueError:
        raise ValueError(f"`log_p` {lp.shape} and `log_q` {lq.shape} do not broadcast.") from None
    axis = check_int(axis, "axis")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"`axis` = {axis} is out of bounds for arrays of shape {shape}.")
    lp = check_log_probabilities(lp, "log_p", axis=axis)
    lq = check_log_probabilities(lq, "log_q", axis=axis)
    return lp, lq, axis


def categorical_kl_kernel(lp, lq, axis=-1):
    """:func:`categorical_kl` without validation (for callers holding normalised tables)."""
    return np.maximum(_kl_terms(lp, lq).sum(axis=axis), 0.0)


def categorical_kl(log_p, log_q, *, axis=-1):
    r"""KL between categorical distributions along ``axis``, batched over the other axes.

    The building block of per-token KLs :math:`\varepsilon(x, y_{<h}) =
    D_{KL}(\pi_D(\cdot|x,y_{<h})\|\pi(\cdot|x,y_{<h}))` (Prop. F.10 ICLR / D.10 arXiv).
    Returns ``inf`` where :math:`q` misses mass of :math:`p`; never NaN.

    Parameters
    ----------
    log_p, log_q : array_like
        Normalised log-probabilities along ``axis`` (validated; ``-inf`` allowed) that
        broadcast against each other.
    axis : int, optional
        The category axis (default last).

    Returns
    -------
    ndarray
        The broadcast shape of the inputs without ``axis``; in nats.

    Examples
    --------
    >>> import numpy as np
    >>> categorical_kl([[np.log(0.5), np.log(0.5)], [0.0, -np.inf]], np.log([[0.5, 0.5], [0.5, 0.5]])).round(6)
    array([0.      , 0.693147])
    """
    lp, lq, axis = _categorical_iv(log_p, log_q, axis)
    return categorical_kl_kernel(lp, lq, axis)


def categorical_squared_hellinger(log_p, log_q, *, axis=-1):
    """Squared Hellinger (one-half convention) between categoricals along ``axis``.

    Per-step terms of Prop. F.11 (ICLR) / D.11 (arXiv).

    Parameters
    ----------
    log_p, log_q : array_like
        Normalised log-probabilities along ``axis`` (validated as in :func:`categorical_kl`)
        that broadcast against each other.
    axis : int, optional
        The category axis (default last).

    Returns
    -------
    ndarray
        The broadcast shape of the inputs without ``axis``; values in ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> float(categorical_squared_hellinger([0.0, -np.inf], [-np.inf, 0.0]))
    1.0
    """
    lp, lq, axis = _categorical_iv(log_p, log_q, axis)
    return np.clip(_hellinger_terms(lp, lq, axis=axis), 0.0, 1.0)


def stopped_kl(token_kl_sums, N, *, weights=None):
    r"""Stopped KL :math:`D_{seq,N}` (Prop. F.10 ICLR / D.10 arXiv), vectorised over thresholds.

    .. math::

        D_{seq,N}(\pi_D\|\pi) = \mathbb E_{\pi_D}\left[\min\left\{\log N,
            \sum_{h=1}^H D_{KL}\big(\pi_D(\cdot|x,y_{<h})\,\|\,\pi(\cdot|x,y_{<h})\big)\right\}\right].

    Parameters
    ----------
    token_kl_sums : (m,) or (m, H) array_like
        For each point (an enumerated sequence or a sample from :math:`\pi_D`), the per-step
        KLs along its prefixes (``(m, H)``, summed here) or their sums (``(m,)``).
        Non-negative; ``+inf`` allowed.
    N : float or array_like
        Thresholds ``>= 1``.
    weights : (m,) array_like, optional
        :math:`\mu(x)\pi_D(y|x)` of the points for the exact value; ``None`` averages a
        sample uniformly.

    Returns
    -------
    ndarray
        Shape ``np.shape(N)``; always ``<= log N``.

    Examples
    --------
    >>> stopped_kl([0.5, 3.0], [1.0, 4.0, np.e ** 10]).round(4)
    array([0.    , 0.9431, 1.75  ])
    """
    s = as_float_array(token_kl_sums, "token_kl_sums", allow_neginf=False)
    if s.ndim == 2:
        s = s.sum(axis=1)
    elif s.ndim != 1:
        raise ValueError(f"`token_kl_sums` must have shape (m,) or (m, H), got {s.shape}.")
    if (s < 0).any():
        raise ValueError("`token_kl_sums` must be non-negative (sums of KL divergences).")
    c = log_thresholds(N)
    w = np.full(s.size, 1.0 / s.size) if weights is None else check_weights(weights, "weights", s.shape)
    order = np.argsort(s, kind="stable")
    s_sorted, w_sorted = s[order], w[order]
    # E[min(c, S)] = sum_{S < c} w S + c * P[S >= c], with prefix sums over the sorted S.
    ws = np.where(w_sorted > 0, w_sorted * np.where(np.isinf(s_sorted), 0.0, s_sorted), 0.0)
    prefix_ws = np.concatenate([[0.0], np.cumsum(ws)])
    # P[S >= c] as a suffix sum (exactly 0 when every S < c; 1 - prefix would leave rounding
    # residue that c = log N = inf turns into inf).
    suffix_w = np.concatenate([np.cumsum(w_sorted[::-1])[::-1], [0.0]])
    idx = np.searchsorted(s_sorted, c, side="left")
    tail = np.clip(suffix_w[idx], 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        capped = np.where(tail > 0, c * tail, 0.0)
    return np.minimum(prefix_ws[idx] + capped, c)
