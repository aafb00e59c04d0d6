r"""Exact law of the log density ratio for models whose likelihood depends on token counts.

Many constructions of the paper (Props 3.2, G.1, G.2, K.1 and the finite and linear classes
of Section 4) have, for each prompt, positions that split into *groups* inside which tokens
are i.i.d. and prev-independent.  Then :math:`\log\pi(y|x)` depends on ``y`` only through
the token counts of each group, and the law of
:math:`Z = \log\pi_D(y|x)/\hat\pi(y|x)` under :math:`\pi_D` is supported on the count
vectors: at most :math:`\prod_g\binom{m_g+V-1}{V-1}` points per prompt (``H + 1`` for one
binary group), whatever ``H``.  This gives **exact** coverage and KL at any sequence length
(no enumeration of :math:`V^H`).

.. math::

    \mathbb P_{\pi_D}[Z = z] = \sum_x\mu(x)\sum_{c:\,Z(x,c)=z}
      \prod_g\binom{m_g}{c_g}\,\pi_D(\text{one sequence with counts } c\mid x).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from .validation import as_float_array, as_int_array, check_int, check_weights
from .log_ratio import LogRatioLaw

#: Largest number of count vectors (or joint count vectors) enumerated.
MAX_COUNT_VECTORS = 2 ** 22

__all__ = ["count_vectors", "grouped_count_support", "group_sequence_log_probs", "count_log_ratio_law"]


def _compositions(m, v):
    """All ``(c_1, ..., c_v) >= 0`` with sum ``m``, in lexicographic order, built part by part
    with numpy (no Python loop over rows): each row is extended by every admissible next part."""
    prefix = np.zeros((1, 0), dtype=np.int64)
    left = np.array([m], dtype=np.int64)
    for _ in range(v - 1):
        n_next = left + 1
        row = np.repeat(np.arange(left.size), n_next)
        part = np.arange(int(n_next.sum()), dtype=np.int64) - np.repeat(np.cumsum(n_next) - n_next, n_next)
        prefix = np.concatenate([prefix[row], part[:, None]], axis=1)
        left = left[row] - part
    return np.concatenate([prefix, left[:, None]], axis=1)


def count_vectors(m, vocab_size):
    r"""All count vectors of ``m`` tokens over ``V`` symbols and their log multinomial coefficients.

    Parameters
    ----------
    m : int
        Number of tokens, ``>= 0``.
    vocab_size : int
        ``V >= 1``.

    Returns
    -------
    counts : (S, V) int ndarray
        Rows sum to ``m``; ``S = C(m + V - 1, V - 1)``.
    log_mult : (S,) ndarray
        :math:`\log\binom{m}{c_1,\dots,c_V}`.

    Examples
    --------
    >>> c, lm = count_vectors(2, 2)
    >>> c.tolist(), np.exp(lm).round(6).tolist()
    ([[0, 2], [1, 1], [2, 0]], [1.0, 2.0, 1.0])
    """
    m = check_int(m, "m", low=0)
    v = check_int(vocab_size, "vocab_size", low=1)
    n_rows = math.comb(m + v - 1, v - 1)
    if n_rows > MAX_COUNT_VECTORS:
        raise ValueError(f"`m`={m} tokens over `vocab_size`={v} symbols give {n_rows} count vectors, "
                         f"more than {MAX_COUNT_VECTORS}; use certified bounds (theory.certified).")
    counts = _compositions(m, v)
    log_mult = gammaln(m + 1) - gammaln(counts + 1).sum(-1)
    return counts, log_mult


def grouped_count_support(group_sizes, vocab_size):
    r"""Cartesian product of per-group count vectors.

    Parameters
    ----------
    group_sizes : (G,) array_like of int
        Number of positions in each group (``0`` allowed).
    vocab_size : int
        ``V >= 1``.

    Returns
    -------
    counts : (S, G, V) int ndarray
        Joint count vectors (row ``s``, group ``g``: counts of each token).
    log_mult : (S,) ndarray
        Number of sequences with those counts, in log.

    Examples
    --------
    >>> c, lm = grouped_count_support([1, 2], 2)
    >>> c.shape, float(np.exp(lm).sum())      # 2 * 3 count pairs, 2**3 sequences
    ((6, 2, 2), 8.0)
    """
    sizes = as_int_array(group_sizes, "group_sizes", ndim=1, low=0)
    v = check_int(vocab_size, "vocab_size", low=1)
    total = math.prod(math.comb(int(m) + v - 1, v - 1) for m in sizes)
    if total > MAX_COUNT_VECTORS:
        raise ValueError(f"`group_sizes` over `vocab_size`={v} symbols give {total} joint count vectors, "
                         f"more than {MAX_COUNT_VECTORS}.")
    parts = [count_vectors(int(m), vocab_size) for m in sizes]
    idx = np.stack(np.meshgrid(*[np.arange(len(c)) for c, _ in parts], indexing="ij"), -1).reshape(-1, len(parts))
    counts = np.stack([parts[g][0][idx[:, g]] for g in range(len(parts))], axis=1)
    log_mult = sum(parts[g][1][idx[:, g]] for g in range(len(parts)))
    return counts, np.asarray(log_mult, dtype=float)


def group_sequence_log_probs(token_log_probs, counts):
    r"""Log-probability of *one* sequence with the given group counts.

    .. math:: \log\pi(y|x) = \sum_g\sum_v c_{g,v}\log\pi_g(v|x).

    Parameters
    ----------
    token_log_probs : (..., X, G, V) array_like
        Per-prompt, per-group token log-probabilities (``-inf`` allowed).
    counts : (S, G, V) array_like of int
        Joint count vectors (as returned by :func:`grouped_count_support`).

    Returns
    -------
    (..., X, S) ndarray
        ``0 * (-inf)`` is taken as 0 (a count of zero never costs probability).

    Examples
    --------
    >>> c, _ = grouped_count_support([2], 2)                          # counts (0,2), (1,1), (2,0)
    >>> lp = group_sequence_log_probs(np.log([[[0.25, 0.75]]]), c)
    >>> np.exp(lp).round(4).tolist()                                  # 0.75**2, 0.25*0.75, 0.25**2
    [[0.5625, 0.1875, 0.0625]]
    """
    lp = as_float_array(token_log_probs, "token_log_probs", min_ndim=3, allow_posinf=False)
    c = as_int_array(counts, "counts", ndim=3, low=0)
    if lp.shape[-2:] != c.shape[1:]:
        raise ValueError(f"`token_log_probs` groups/vocab {lp.shape[-2:]} do not match `counts` {c.shape[1:]}.")
    finite = np.where(np.isfinite(lp), lp, 0.0)
    out = np.einsum("...xgv,sgv->...xs", finite, c.astype(float))
    if not np.isfinite(lp).all():
        bad = np.einsum("...xgv,sgv->...xs", (~np.isfinite(lp)).astype(float), (c > 0).astype(float)) > 0
        out = np.where(bad, -np.inf, out)
    return out


def count_log_ratio_law(log_seq_data, log_seq_model, log_mult, prompt_weights):
    r"""Exact law of :math:`\log\pi_D/\hat\pi` from per-count-vector sequence log-probabilities.

    The law whose upper tail is the coverage profile of Definition 1.1 and whose mean is the
    KL (Remark E.1 ICLR / 2.1 arXiv), exact at any ``H``.

    Parameters
    ----------
    log_seq_data : (X, S) array_like
        :math:`\log\pi_D` of one sequence with count vector ``s`` under prompt ``x``.
    log_seq_model : ([P,] X, S) array_like
        The same for the model(s).
    log_mult : (S,) array_like
        Log number of sequences per count vector.
    prompt_weights : (X,) array_like
        Prompt distribution :math:`\mu`.

    Returns
    -------
    LogRatioLaw
        ``evaluation="exact"``; points of zero :math:`\pi_D` mass are dropped.

    Examples
    --------
    >>> from theory.count_law import grouped_count_support, group_sequence_log_probs
    >>> c, lm = grouped_count_support([3], 2)                         # three i.i.d. tokens
    >>> d = group_sequence_log_probs(np.log([[[0.5, 0.5]]]), c)
    >>> m = group_sequence_log_probs(np.log([[[0.9, 0.1]]]), c)
    >>> law = count_log_ratio_law(d, m, lm, [1.0])
    >>> round(float(law.kl()), 6)                                      # 3 * KL(Ber(.5)||Ber(.1))
    1.532477
    """
    d = as_float_array(log_seq_data, "log_seq_data", ndim=2, allow_posinf=False)
    m = as_float_array(log_seq_model, "log_seq_model", min_ndim=2, allow_posinf=False)
    lm = as_float_array(log_mult, "log_mult", ndim=1)
    x, s = d.shape
    if m.shape[-2:] != (x, s) or lm.shape != (s,):
        raise ValueError(f"shapes do not match: data {d.shape}, model {m.shape}, log_mult {lm.shape}.")
    mu = check_weights(prompt_weights, "prompt_weights", (x,))
    with np.errstate(divide="ignore"):
        logw = d + lm[None, :] + np.log(mu)[:, None]
    w = np.exp(logw).ravel()
    keep = w > 0
    with np.errstate(invalid="ignore"):
        values = (d - m).reshape(m.shape[:-2] + (-1,))[..., keep]
    return LogRatioLaw(values, w[keep] / w[keep].sum(), "exact")
