r"""Model and checkpoint selection: simple and offset tournaments, and the baselines.

Setting (Section 6.2 ICLR / 6.3 arXiv of 2510.15020): a finite candidate set
:math:`\Pi = \{\pi_1, \dots, \pi_K\}` (checkpoints, hyperparameter configurations) and
held-out samples :math:`(x_i, y_i) \sim \pi_D`, :math:`i \le n`.  Every selector here takes
the **(candidates x samples) log-likelihood matrix** ``loglik[k, i]`` :math:`=\log\pi_k(y_i|x_i)`
and nothing else about :math:`\pi_D`: the density of :math:`\pi_D` is never used.

* :func:`simple_tournament` (Eq. (14) ICLR / (29) arXiv, Theorem 6.2 ICLR / 6.3 arXiv):

  .. math::

      \hat\pi = \arg\min_{\pi\in\Pi}\max_{\pi'\in\Pi}\widehat{\mathrm{Cov}}_N(\pi'\|\pi),
      \qquad \widehat{\mathrm{Cov}}_N(\pi'\|\pi) = \frac1n
        \left|\{i : \pi'(y_i|x_i)/\pi(y_i|x_i) \ge N\}\right| .

* :func:`offset_tournament` (Eq. (39) ICLR / (32) arXiv, Theorem G.3 ICLR / 6.4 arXiv):

  .. math::

      \hat\pi = \arg\min_{\pi\in\Pi}\max_{\pi'\in\Pi}\left\{\widehat{\mathrm{Cov}}_N(\pi'\|\pi)
        - 2N^a\,\widehat{\mathrm{Cov}}{}^{\pi}_N(\pi'\|\pi)\right\},

  the on-policy term :math:`\widehat{\mathrm{Cov}}{}^{\pi}_N(\pi'\|\pi)` estimated from
  generations of each candidate :math:`\pi` (or computed exactly on an enumerated support).
* Baselines: :func:`min_cross_entropy` (held-out log-likelihood; estimable),
  :func:`min_kl` and :func:`best_pass_at_n` (oracles: they take exact KL / Pass@N values
  computed elsewhere).

Tie-breaking (the paper gives no rule; this is ours, and it is the same for every
selector): among the candidates whose score equals the optimum (integer counts compare
exactly; real-valued offset scores within ``TIE_TOL``), ``tie_break="loglik"`` (default)
picks the one with the largest total held-out log-likelihood (the min-cross-entropy
candidate among the tied), and remaining ties go to the lowest index;
``tie_break="index"`` picks the lowest index directly.  The baselines break ties by lowest
index.

The pairwise counts are the only expensive step (:math:`K^2 n` comparisons); they are
computed in row blocks whose memory is bounded by ``max_bytes`` and spread over worker
threads (NumPy releases the GIL inside the comparison and the count).  The comparison uses
the same threshold as :func:`theory.coverage.empirical_coverage`,
:math:`\log N - \tau` (:func:`theory.coverage.comparison_log_thresholds`), in the form
:math:`\log\pi'(y_i) \ge \log\pi(y_i) + (\log N - \tau)`; this agrees with
``empirical_coverage``'s :math:`\log\pi' - \log\pi \ge \log N - \tau` except for
log-ratios within a few ulps of :math:`\log N - \tau`.  ``method="reference"`` computes the
same matrix by calling :func:`theory.coverage.empirical_coverage` itself (slow; for tests).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from theory.validation import (as_finite_array, as_float_array, check_int, check_real,
                                check_thresholds, readonly)
from theory.coverage import comparison_log_thresholds, empirical_coverage, on_policy_coverage

__all__ = [
    "Selection",
    "TIE_TOL",
    "TIE_BREAKS",
    "pairwise_coverage_counts",
    "pairwise_coverage",
    "onpolicy_coverage_matrix",
    "simple_tournament",
    "offset_tournament",
    "min_cross_entropy",
    "min_kl",
    "best_pass_at_n",
]

#: Two real-valued scores within this absolute distance are tied.
TIE_TOL = 1e-12

#: Accepted values of ``tie_break``.
TIE_BREAKS = ("loglik", "index")

#: Default memory bound (bytes) of one block of the pairwise comparison.
DEFAULT_MAX_BYTES = 1 << 24


@dataclass(frozen=True)
class Selection:
    r"""The outcome of a selection rule.

    The selected :math:`\hat\pi` of the simple tournament (Theorem 6.2 ICLR / 6.3 arXiv), the
    offset tournament (Theorem G.3 ICLR / 6.4 arXiv) or a baseline of Figure 1.

    Attributes
    ----------
    method : str
        ``"simple_tournament"``, ``"offset_tournament"``, ``"min_cross_entropy"``,
        ``"min_kl"`` or ``"best_pass_at_n"``.
    index : int or ndarray of int
        Selected candidate; for the tournaments one per threshold, shape ``np.shape(N)``.
    scores : ndarray
        The criterion each candidate was ranked by (minimised): ``np.shape(N) + (K,)`` for
        the tournaments (the max over rivals), ``(K,)`` for the baselines (held-out
        cross-entropy per sample, KL, or ``-Pass@N``).
    n_tied : int or ndarray of int
        Number of candidates attaining the optimal score (same shape as ``index``).
    tie_break : str
        The rule applied among tied candidates (see the module docstring).
    N : ndarray or None
        Thresholds of a tournament (``None`` for the baselines).
    a : float or None
        Exponent of the offset :math:`2N^a` (offset tournament only).
    n : int or None
        Number of held-out samples (``None`` for the oracles).
    """

    method: str
    index: object
    scores: np.ndarray
    n_tied: object
    tie_break: str
    N: object = None
    a: object = None
    n: object = None

    def __post_init__(self):
        object.__setattr__(self, "scores", readonly(np.asarray(self.scores)))
        for name in ("index", "n_tied"):
            v = np.asarray(getattr(self, name))
            object.__setattr__(self, name, int(v) if v.ndim == 0 else readonly(v))
        if self.N is not None:
            n_arr = np.asarray(self.N, dtype=float)
            object.__setattr__(self, "N", float(n_arr) if n_arr.ndim == 0 else readonly(n_arr))

    def to_dict(self):
        """Return a JSON-ready dict."""
        def conv(v):
            return v.tolist() if isinstance(v, np.ndarray) else v
        return {"method": self.method, "index": conv(self.index), "scores": self.scores.tolist(),
                "n_tied": conv(self.n_tied), "tie_break": self.tie_break, "N": conv(self.N),
                "a": self.a, "n": self.n}


# ----------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------

def _loglik_iv(loglik, name="loglik"):
    ll = as_float_array(loglik, name, ndim=2, allow_posinf=False)
    if (ll > 1e-9).any():
        raise ValueError(f"`{name}` holds log-probabilities and must be <= 0, got maximum {ll.max()}.")
    return ll


def _tournament_thresholds_iv(N):
    n_arr = check_thresholds(N)
    if not np.isfinite(n_arr).all():
        raise ValueError("`N` must be finite for a tournament.")
    return n_arr


def _tie_break_iv(tie_break):
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"`tie_break` must be one of {TIE_BREAKS}, got {tie_break!r}.")
    return tie_break


_DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))


def _workers_iv(workers):
    if workers is None:
        return _DEFAULT_WORKERS
    return check_int(workers, "workers", low=1)


# ----------------------------------------------------------------------------------------
# pairwise empirical coverage
# ----------------------------------------------------------------------------------------

def _count_true(hits):
    """Number of ``True`` along the last axis: bit-pack, then popcount 64 bits at a time."""
    if not hasattr(np, "bitwise_count"):                          # NumPy < 2.0
        return np.count_nonzero(hits, axis=-1)
    packed = np.packbits(hits, axis=-1)
    pad = (-packed.shape[-1]) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros(packed.shape[:-1] + (pad,), np.uint8)], axis=-1)
    return np.bitwise_count(packed.view(np.uint64)).sum(axis=-1, dtype=np.int64)


def _count_block(rival, cand_plus, out_rows):
    """``out_rows[t, b, j] = #{i : rival[j, i] >= cand_plus[t, b, i]}`` for one row block."""
    for t in range(cand_plus.shape[0]):
        hits = np.greater_equal(rival[None, :, :], cand_plus[t][:, None, :])
        out_rows[t] = _count_true(hits)


def pairwise_coverage_counts(loglik, N, *, max_bytes=DEFAULT_MAX_BYTES, workers=None,
                             method="count"):
    r"""Counts :math:`n\,\widehat{\mathrm{Cov}}_N(\pi_j\|\pi_k)` for all ordered pairs.

    .. math::

        c_N[j, k] = \left|\{i \le n : \log\pi_j(y_i|x_i) - \log\pi_k(y_i|x_i)
                     \ge \log N\}\right|
        \qquad \text{(Eq. (13) ICLR / (28) arXiv, times } n\text{)} .

    Parameters
    ----------
    loglik : (K, n) array_like
        ``loglik[k, i]`` :math:`=\log\pi_k(y_i|x_i)` on held-out samples of :math:`\pi_D`
        (``-inf`` allowed: probability zero; a ratio 0/0 never counts).
    N : float or array_like
        Finite thresholds ``>= 1``, any shape.
    max_bytes : int
        Memory bound of one block of the comparison (rows of the candidate axis are
        processed in blocks of ``max_bytes // (K n)``).
    workers : int, optional
        Worker threads (default ``min(2, cpu_count)``).
    method : {"count", "reference"}
        ``"count"`` (fast, blocked comparison) or ``"reference"`` (calls
        :func:`theory.coverage.empirical_coverage` on the same blocks; for tests).

    Returns
    -------
    ndarray of int64
        Shape ``np.shape(N) + (K, K)``; entry ``[..., j, k]`` is the count for rival ``j``
        against candidate ``k`` (the tournament maximises over ``j``).

    Examples
    --------
    >>> import numpy as np
    >>> ll = np.log([[0.5, 0.5, 0.5], [0.1, 0.5, 0.9]])
    >>> pairwise_coverage_counts(ll, 2.0)          # 0.5/0.1 >= 2 once; 0.9/0.5 < 2
    array([[0, 1],
           [0, 0]])
    """
    ll = _loglik_iv(loglik)
    n_arr = _tournament_thresholds_iv(N)
    if method not in ("count", "reference"):
        raise ValueError(f"`method` must be 'count' or 'reference', got {method!r}.")
    max_bytes = check_int(max_bytes, "max_bytes", low=1)
    workers = _workers_iv(workers)
    K, n = ll.shape
    flat_n = n_arr.ravel()
    T = flat_n.size
    out = np.empty((T, K, K), dtype=np.int64)
    block = max(1, min(K, max_bytes // max(1, K * n)))
    starts = list(range(0, K, block))
    if method == "reference":
        for s in starts:
            e = min(K, s + block)
            cov = empirical_coverage(ll[None, :, :], ll[s:e, None, :], flat_n)   # (b, K, T)
            out[:, s:e, :] = np.rint(np.moveaxis(cov, -1, 0) * n).astype(np.int64)
        return np.swapaxes(out, -1, -2).reshape(n_arr.shape + (K, K))
    c = comparison_log_thresholds(flat_n)                          # log N - tau, (T,)
    # Rival operand: -inf -> NaN so that a 0/0 ratio (both -inf) never counts.
    rival = np.where(np.isneginf(ll), np.nan, ll)
    rows = np.empty((T, K, K), dtype=np.int64)                     # rows[t, k, j]

    def work(s):
        e = min(K, s + block)
        cand_plus = ll[None, s:e, :] + c[:, None, None]            # (T, b, n)
        _count_block(rival, cand_plus, rows[:, s:e, :])

    if workers == 1 or len(starts) == 1:
        for s in starts:
            work(s)
    else:
        with ThreadPoolExecutor(max_workers=workers) as ex:
            list(ex.map(work, starts))
    out = np.swapaxes(rows, -1, -2)                                 # [t, j, k]
    return np.ascontiguousarray(out).reshape(n_arr.shape + (K, K))


def pairwise_coverage(loglik, N, **kwargs):
    r"""All-pairs empirical coverage :math:`\widehat{\mathrm{Cov}}_N(\pi_j\|\pi_k)`, ``np.shape(N) + (K, K)``.

    :func:`pairwise_coverage_counts` divided by ``n``; entry ``[..., j, k]`` is rival ``j``
    against candidate ``k``.  Equal to ``empirical_coverage(loglik[:, None], loglik[None],
    N)`` (moved axes).  The empirical coverage of Eq. (13) ICLR / (28) arXiv
    for every ordered pair, as the tournaments need it.

    Parameters
    ----------
    loglik : (K, n) array_like
        Held-out log-likelihoods ``loglik[k, i]`` :math:`=\log\pi_k(y_i|x_i)`.
    N : float or array_like
        Finite thresholds ``>= 1``.
    **kwargs
        Passed to :func:`pairwise_coverage_counts`.

    Returns
    -------
    ndarray
        Shape ``np.shape(N) + (K, K)``, values in ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> pairwise_coverage(np.log([[0.5, 0.5], [0.1, 0.9]]), 2.0)
    array([[0. , 0.5],
           [0. , 0. ]])
    """
    counts = pairwise_coverage_counts(loglik, N, **kwargs)
    return counts / counts.dtype.type(np.shape(loglik)[-1])


def onpolicy_coverage_matrix(onpolicy_loglik, N, *, weights=None):
    r"""On-policy coverage :math:`\widehat{\mathrm{Cov}}{}^{\pi_k}_N(\pi_j\|\pi_k)` for all pairs.

    .. math::

        O_N[j, k] = \frac{1}{n'}\sum_{i=1}^{n'} \sum_{l=1}^{m} w_{k,i,l}\,
          \mathbf 1\left\{\frac{\pi_j(y^{(k)}_{il}|x_i)}{\pi_k(y^{(k)}_{il}|x_i)} \ge N\right\}

    (the on-policy term of the offset tournament, Eq. (39) ICLR / (32) arXiv), computed with
    :func:`theory.coverage.on_policy_coverage`, one call per candidate :math:`\pi_k`.

    Parameters
    ----------
    onpolicy_loglik : (K_gen, K, n', m) array_like
        ``[k, j, i, l]`` :math:`=\log\pi_j(y^{(k)}_{il}|x_i)`: the log-likelihood under every
        candidate ``j`` of the ``l``-th response to prompt ``x_i`` generated by candidate
        ``k`` (``K_gen = K``), or of the ``l``-th point of an enumerated response set
        shared by all generators (``K_gen = 1``, broadcast).
    N : float or array_like
        Finite thresholds ``>= 1``.
    weights : (K, n', m) array_like, optional
        :math:`w_{k,i,l} = \pi_k(y_{il}|x_i)` (rows summing to one) for an exact on-policy
        term on an enumerated support; default: samples, ``1/m`` each.  For the population
        version over a prompt distribution :math:`\mu`, pass the joint support as one row
        (``n' = 1``) with weights :math:`\mu(x)\pi_k(y|x)`.

    Returns
    -------
    ndarray
        Shape ``np.shape(N) + (K, K)``, entry ``[..., j, k]``.

    Examples
    --------
    >>> import numpy as np
    >>> lp = np.log([[0.5, 0.5], [0.05, 0.95]])           # two models on a 2-point support
    >>> on = np.broadcast_to(lp[None, :, None, :], (1, 2, 1, 2))
    >>> w = np.exp(lp)[:, None, :]                         # exact: weights pi_k(y)
    >>> onpolicy_coverage_matrix(on, 4.0, weights=w)        # pi_0/pi_1 = 10 on y=0, mass 0.05 under pi_1
    array([[0.  , 0.05],
           [0.  , 0.  ]])
    """
    on = as_float_array(onpolicy_loglik, "onpolicy_loglik", ndim=4, allow_posinf=False)
    n_arr = _tournament_thresholds_iv(N)
    K_gen, K, n_p, m = on.shape
    if K_gen not in (1, K):
        raise ValueError(f"`onpolicy_loglik` axis 0 must have length 1 or K = {K}, got {K_gen}.")
    if weights is not None:
        w = as_finite_array(weights, "weights", ndim=3)
        if w.shape != (K, n_p, m):
            raise ValueError(f"`weights` must have shape {(K, n_p, m)}, got {w.shape}.")
    elif K_gen == 1 and K > 1:
        raise ValueError("a shared response set (K_gen = 1) needs `weights` pi_k(y|x).")
    out = np.empty((K,) + n_arr.shape + (K,))                      # [k, ..., j]
    for k in range(K):
        g = on[k if K_gen == K else 0]                              # (K, n', m)
        wk = None if weights is None else w[k]
        out[k] = np.moveaxis(on_policy_coverage(g, g[k], n_arr, weights=wk), 0, -1)
    return np.moveaxis(out, 0, -1)                                  # [..., j, k]


# ----------------------------------------------------------------------------------------
# arg-min with documented tie-breaking
# ----------------------------------------------------------------------------------------

def argmin_tie_break(scores, tie_key, tie_break, tol):
    """Index of the minimum of ``scores`` (last axis) with ties resolved by ``tie_key``.

    ``tie_key`` (K,) is *maximised* among tied candidates when ``tie_break == "loglik"``;
    remaining ties (and ``tie_break == "index"``) go to the lowest index.
    """
    best = scores.min(axis=-1, keepdims=True)
    tied = scores <= best + tol
    n_tied = tied.sum(axis=-1)
    if tie_break == "index" or tie_key is None:
        return np.argmax(tied, axis=-1), n_tied
    key = np.where(tied, tie_key, -np.inf)
    top = key.max(axis=-1, keepdims=True)
    # Rows where every tied key is -inf (all log-likelihoods -inf): lowest tied index.
    pick = tied & ((key >= top) | np.isneginf(top))
    return np.argmax(pick, axis=-1), n_tied


# ----------------------------------------------------------------------------------------
# tournaments
# ----------------------------------------------------------------------------------------

def simple_tournament(loglik, N, *, tie_break="loglik", max_bytes=DEFAULT_MAX_BYTES,
                      workers=None, method="count"):
    r"""Simple tournament :math:`\arg\min_\pi\max_{\pi'}\widehat{\mathrm{Cov}}_N(\pi'\|\pi)`.

    Eq. (14) ICLR / (29) arXiv.  Theorem 6.2 (ICLR) / 6.3 (arXiv): for any
    :math:`a \in [0, 1]`, with probability :math:`\ge 1 - \delta`,

    .. math::

        \mathrm{Cov}_{N^{1+a}}(\hat\pi) \lesssim \min_{\pi\in\Pi}\mathrm{Cov}_{N^a}(\pi)
          + N^{-(1-a)} + \frac{\log(|\Pi|/\delta)}{n} .

    Parameters
    ----------
    loglik : (K, n) array_like
        Held-out log-likelihoods ``loglik[k, i]`` :math:`=\log\pi_k(y_i|x_i)`,
        :math:`(x_i, y_i) \sim \pi_D`.  Nothing about :math:`\pi_D` besides these samples
        is used.
    N : float or array_like
        Finite thresholds ``>= 1``; one tournament per entry.
    tie_break : {"loglik", "index"}
        See the module docstring.
    max_bytes, workers, method
        Passed to :func:`pairwise_coverage_counts`.

    Returns
    -------
    Selection
        ``index`` and ``n_tied`` of shape ``np.shape(N)``; ``scores`` ``np.shape(N) + (K,)``
        is :math:`\max_{\pi'}\widehat{\mathrm{Cov}}_N(\pi'\|\pi_k)` (the rival ranges over
        all of :math:`\Pi`, the candidate itself included).

    Examples
    --------
    >>> import numpy as np
    >>> ll = np.log([[0.5, 0.5, 0.5, 0.5],      # spreads mass
    ...              [0.9, 0.9, 0.9, 0.01]])    # sharp, but misses the last sample
    >>> sel = simple_tournament(ll, 4.0)
    >>> sel.index, sel.scores.tolist()          # 0.5/0.01 = 50 >= 4 on one sample of four
    (0, [0.0, 0.25])
    """
    ll = _loglik_iv(loglik)
    n_arr = _tournament_thresholds_iv(N)
    tie_break = _tie_break_iv(tie_break)
    counts = pairwise_coverage_counts(ll, n_arr, max_bytes=max_bytes, workers=workers,
                                      method=method)
    worst = counts.max(axis=-2)                                      # max over rivals j
    key = ll.sum(axis=-1)
    index, n_tied = argmin_tie_break(worst, key, tie_break, 0)
    return Selection("simple_tournament", index, worst / ll.shape[1], n_tied, tie_break,
                     N=n_arr, n=int(ll.shape[1]))


def offset_tournament(loglik, N, a, *, onpolicy_loglik, onpolicy_weights=None,
                      tie_break="loglik", max_bytes=DEFAULT_MAX_BYTES, workers=None):
    r"""Offset tournament with an on-policy correction.

    Eq. (39) ICLR / (32) arXiv:

    .. math::

        \hat\pi = \arg\min_{\pi\in\Pi}\max_{\pi'\in\Pi}\left\{
          \widehat{\mathrm{Cov}}_N(\pi'\|\pi) - 2N^a\,\widehat{\mathrm{Cov}}{}^{\pi}_N(\pi'\|\pi)\right\},
        \qquad
        \widehat{\mathrm{Cov}}{}^{\pi}_N(\pi'\|\pi)
          = \frac1{n'}\sum_i P_{y\sim\pi(\cdot|x_i)}\left[\frac{\pi'(y|x_i)}{\pi(y|x_i)} \ge N\right].

    Theorem G.3 (ICLR) / 6.4 (arXiv): if :math:`N^{1-2a} \ge 4` (ICLR; 8 in arXiv) and some
    :math:`\pi\in\Pi` has :math:`|\log\pi_D - \log\pi| \le a\log N` everywhere, then w.p.
    :math:`\ge 1-\delta`, :math:`\mathrm{Cov}_{2N^{1+a}}(\hat\pi) \lesssim \log(|\Pi|/\delta)/n`.

    Parameters
    ----------
    loglik : (K, n) array_like
        Held-out log-likelihoods on samples of :math:`\pi_D` (as in :func:`simple_tournament`).
    N : float or array_like
        Finite thresholds ``>= 1``.
    a : float
        Offset exponent, ``a >= 0``; the offset coefficient is :math:`2N^a`.
    onpolicy_loglik : (K, K, n', m) or (1, K, n', m) array_like
        Likelihoods of the candidates' own generations (or of a shared enumerated support):
        see :func:`onpolicy_coverage_matrix`.
    onpolicy_weights : (K, n', m) array_like, optional
        Exact on-policy weights :math:`\pi_k(y|x)`; ``None`` for sampled generations.
    tie_break : {"loglik", "index"}
        Ties are scores within ``TIE_TOL``; see the module docstring.
    max_bytes, workers
        Passed to :func:`pairwise_coverage_counts`.

    Returns
    -------
    Selection
        ``scores[..., k]`` :math:`=\max_{\pi'}\{\widehat{\mathrm{Cov}}_N(\pi'\|\pi_k) -
        2N^a\widehat{\mathrm{Cov}}{}^{\pi_k}_N(\pi'\|\pi_k)\}` (``>= 0`` for ``N > 1``: the
        candidate itself is a rival with both terms zero).

    Examples
    --------
    >>> import numpy as np
    >>> lp = np.log([[0.5, 0.5], [0.05, 0.95]])         # candidates on a 2-point support
    >>> ll = lp[:, [0, 1, 1, 1]]                         # held-out samples y = 0, 1, 1, 1
    >>> on = lp[None, :, None, :]                        # shared support, exact weights
    >>> sel = offset_tournament(ll, 4.0, 0.5, onpolicy_loglik=on,
    ...                         onpolicy_weights=np.exp(lp)[:, None, :])
    >>> sel.index, np.round(sel.scores, 3).tolist()      # 0.25 - 2*2*0.05 = 0.05 for model 1
    (0, [0.0, 0.05])
    """
    ll = _loglik_iv(loglik)
    n_arr = _tournament_thresholds_iv(N)
    a = check_real(a, "a", low=0.0)
    tie_break = _tie_break_iv(tie_break)
    K = ll.shape[0]
    on = as_float_array(onpolicy_loglik, "onpolicy_loglik", ndim=4, allow_posinf=False)
    if on.shape[1] != K:
        raise ValueError(f"`onpolicy_loglik` axis 1 must index the K = {K} candidates, got {on.shape}.")
    held = pairwise_coverage_counts(ll, n_arr, max_bytes=max_bytes, workers=workers) / ll.shape[1]
    onp = onpolicy_coverage_matrix(on, n_arr, weights=onpolicy_weights)
    offset = 2.0 * n_arr ** a
    total = held - offset[..., None, None] * onp                     # [..., j, k]
    worst = total.max(axis=-2)
    index, n_tied = argmin_tie_break(worst, ll.sum(axis=-1), tie_break, TIE_TOL)
    return Selection("offset_tournament", index, worst, n_tied, tie_break, N=n_arr, a=a,
                     n=int(ll.shape[1]))


# ----------------------------------------------------------------------------------------
# baselines
# ----------------------------------------------------------------------------------------

def _first_min(values, method, **extra):
    best = values.min()
    tied = values <= best
    return Selection(method, int(np.argmax(tied)), values, int(tied.sum()), "index", **extra)


def min_cross_entropy(loglik):
    r"""Minimum held-out cross-entropy :math:`\arg\min_k -\frac1n\sum_i\log\pi_k(y_i|x_i)`.

    The estimable baseline (an unbiased estimate of :math:`D_{CE}(\pi_D\|\pi_k)`, which
    differs from the KL by a constant).  Ties: lowest index.  The
    cross-entropy selection the paper contrasts with the tournament (Section 6.2 ICLR / 6.3
    arXiv; Figure 1).

    Parameters
    ----------
    loglik : (K, n) array_like
        Held-out log-likelihoods ``loglik[k, i]`` :math:`=\log\pi_k(y_i|x_i)`.

    Returns
    -------
    Selection
        ``index`` of the selected candidate, ``scores`` the criterion (minimised).

    Examples
    --------
    >>> import numpy as np
    >>> min_cross_entropy(np.log([[0.5, 0.5], [0.9, 0.4]])).index
    1
    """
    ll = _loglik_iv(loglik)
    return _first_min(-ll.mean(axis=-1), "min_cross_entropy", n=int(ll.shape[1]))


def min_kl(kl):
    r"""Oracle: :math:`\arg\min_k D_{KL}(\pi_D\|\pi_k)` from exact KL values ``(K,)``; ties: lowest index.

    The minimum-KL checkpoint marked in Figure 1 (App. D ICLR / App. C arXiv).

    Parameters
    ----------
    kl : (K,) array_like
        Exact :math:`D_{KL}(\pi_D\|\pi_k)` of each candidate.

    Returns
    -------
    Selection
        ``index`` of the selected candidate, ``scores`` the criterion (minimised).

    Examples
    --------
    >>> min_kl([0.3, 0.1, 0.1]).index
    1
    """
    v = as_float_array(kl, "kl", ndim=1, allow_neginf=False)
    return _first_min(v, "min_kl")


def best_pass_at_n(pass_at_n):
    r"""Oracle: :math:`\arg\max_k \mathrm{Pass@}N(\pi_k)` from exact values ``(K,)``; ties: lowest index.

    The best checkpoint by the y-axis of Figure 1's scatter plots.  ``scores`` holds :math:`-\mathrm{Pass@}N` (minimised).

    Parameters
    ----------
    pass_at_n : (K,) array_like
        Exact :math:`\mathrm{Pass@}N` of each candidate.

    Returns
    -------
    Selection
        ``index`` of the selected candidate, ``scores`` the criterion (minimised).

    Examples
    --------
    >>> best_pass_at_n([0.90, 0.97, 0.95]).index
    1
    """
    v = as_finite_array(pass_at_n, "pass_at_n", ndim=1)
    if (v < 0).any() or (v > 1).any():
        raise ValueError("`pass_at_n` must lie in [0, 1].")
    return _first_min(-v, "best_pass_at_n")
