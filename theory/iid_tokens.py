r"""Exact law of the log density ratio for models whose tokens are i.i.d. given the prompt.

When the features (hence the next-token law) depend on the prompt and the current token
only, :math:`\phi(x, y_{1:h}) = \Phi[x, y_h]` — the case of every SGD construction of
Section 5 (Lemmas K.6/K.7 ICLR = I.6/I.7 arXiv, Prop. 3.2) — both :math:`\pi_D` and
:math:`\pi_\theta` draw the ``H`` tokens i.i.d. from per-prompt laws :math:`p_x`, :math:`q_x`,
so the log density ratio depends on the sequence only through its token counts
:math:`n \in \mathbb N^V`, :math:`\sum_a n_a = H`:

.. math::

    Z = \log\frac{\pi_D(y|x)}{\pi_\theta(y|x)} = \sum_{a\in V} n_a\,r_{x,a},
    \qquad r_{x,a} = \log p_{x,a} - \log q_{x,a},
    \qquad n \sim \mathrm{Multinomial}(H, p_x).

:class:`IidTokenLaw` enumerates the count vectors (``C(H+V-1, V-1)`` of them, e.g. 131,841
for ``V = 3``, ``H = 512``; :func:`theory.count_law.count_vectors`) with their multinomial
probabilities once per data distribution, keeps the most probable ones holding all but ``drop`` of the mass, and then
evaluates the coverage of any number of models in one array operation.  The result is a
**certified** interval ``[lo, hi]`` with ``hi - lo`` equal to the dropped mass (at most
``drop``; zero when nothing is dropped, and then the value is exact).  The KL divergence
has the closed form :math:`H\sum_x\mu(x)D_{KL}(p_x\|q_x)` (:meth:`IidTokenLaw.kl`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np

from .validation import (as_finite_array, as_float_array, check_allocation, check_int, check_real,
                          check_weights, readonly)
from .count_law import MAX_COUNT_VECTORS as _COUNT_LAW_MAX
from .count_law import count_vectors
from .coverage import comparison_log_thresholds, log_thresholds
from .divergences import categorical_kl

__all__ = ["IidTokenLaw", "iid_token_log_probs", "iid_token_tables", "MAX_COUNT_VECTORS"]

#: Largest number of count vectors enumerated (that of :func:`theory.count_law.count_vectors`,
#: so a refusal always names this module's arguments).
MAX_COUNT_VECTORS = _COUNT_LAW_MAX


def _count_support(vocab_size, horizon, n_prompts=None):
    """Count vectors and log multinomial coefficients (:func:`theory.count_law.count_vectors`),
    after checking that their number is tractable."""
    v = check_int(vocab_size, "vocab_size", low=1)
    h = check_int(horizon, "horizon", low=1)
    size = comb(h + v - 1, v - 1)
    if size > MAX_COUNT_VECTORS:
        raise ValueError(f"`horizon` = {h} with `vocab_size` = {v} gives {size} count vectors, more than "
                         f"{MAX_COUNT_VECTORS}; use certified DP bounds or Monte Carlo instead.")
    if n_prompts is not None:
        check_allocation(8 * size * (n_prompts * (8 + 3 * v) + 2 * v) + (1 << 16),
                         f"the count vectors of `horizon` = {h} tokens over `vocab_size` = {v} "
                         f"({size} vectors) for {n_prompts} prompt(s)",
                         "use fewer prompts per law or certified bounds (theory.certified)")
    return count_vectors(h, v)


def iid_token_log_probs(table, theta):
    r"""Per-prompt token log-probabilities :math:`\log q_x = \mathrm{log\,softmax}(\Phi[x]\theta)`.

    The next-token law of an autoregressive linear model (Assumption 2.2 setting) whose
    features are :math:`\phi(x, y_{1:h}) = \Phi[x, y_h]`, as in the SGD lower-bound
    constructions (App. K.4 ICLR / I.4 arXiv) and Prop. 3.2.

    Parameters
    ----------
    table : (X, V, d) array_like
        Token features :math:`\Phi[x, a]`.
    theta : (..., d) array_like
        Parameters; leading axes index models.

    Returns
    -------
    ndarray
        ``(..., X, V)``.

    Examples
    --------
    >>> np.exp(iid_token_log_probs([[[0.0], [1.0]]], [np.log(3.0)])).round(3)
    array([[0.25, 0.75]])
    """
    t = as_finite_array(table, "table", ndim=3)
    th = as_finite_array(theta, "theta", min_ndim=1)
    x, v, d = t.shape
    if th.shape[-1] != d:
        raise ValueError(f"`theta` must end with the feature dimension d = {d}, got shape {th.shape}.")
    logits = (th @ t.reshape(x * v, d).T).reshape(th.shape[:-1] + (x, v))
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def iid_token_tables(distribution):
    r"""Detect i.i.d. tokens and return the per-prompt tables.

    Recognises the i.i.d.-token structure of the SGD lower-bound constructions (App. K.4
    ICLR / I.4 arXiv) and of Prop. 3.2, for which :class:`IidTokenLaw` is exact.

    Parameters
    ----------
    distribution : AutoregressiveLinearModel or MarkovModel
        With tabular features (resp. a Markov table) that depend on neither the position
        nor the previous token.

    Returns
    -------
    ndarray
        For an :class:`~theory.models.AutoregressiveLinearModel`: the feature table
        ``(X, V, d)``; for a :class:`~theory.models.MarkovModel`: the log-probabilities
        ``batch_shape + (X, V)``.

    Raises
    ------
    ValueError
        If the next-token law depends on the position or on the previous token.

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> np.exp(iid_token_tables(categorical_model([[0.25, 0.75]])))
    array([[0.25, 0.75]])
    """
    from .models import AutoregressiveLinearModel, MarkovModel, TabularFeatures

    if isinstance(distribution, AutoregressiveLinearModel):
        if not isinstance(distribution.features, TabularFeatures):
            raise ValueError("`distribution` must have TabularFeatures to have i.i.d. tokens.")
        t = distribution.features.table
        if not np.array_equal(t, np.broadcast_to(t[:, :1, -1:], t.shape)):
            raise ValueError("`distribution` features depend on the position or the previous token.")
        return t[:, 0, -1]
    if isinstance(distribution, MarkovModel):
        lp = distribution.log_probs
        row = lp[..., :1, -1:, :]                                         # begin-of-sequence row
        if distribution.horizon > 1 and not np.array_equal(np.broadcast_to(row, lp.shape), lp):
            raise ValueError("`distribution` next-token law depends on the position or the previous token.")
        return lp[..., 0, -1, :]
    raise TypeError("`distribution` must be an AutoregressiveLinearModel or MarkovModel.")


@dataclass(frozen=True, eq=False)
class IidTokenLaw:
    r"""Law of the token counts under :math:`\pi_D`, for exact/certified coverage of any model.

    Gives the coverage profile of Definition 1.1 (certified, or exact with ``drop=0``) and
    the KL when tokens are i.i.d. given the prompt: the constructions of Lemmas K.6/K.7
    (ICLR) / I.6/I.7 (arXiv) and Prop. 3.2.

    Parameters
    ----------
    data_log_probs : (X, V) array_like
        :math:`\log p_x`, the data's per-prompt token law (``-inf`` allowed).
    horizon : int
        Sequence length ``H``.
    prompt_weights : (X,) array_like, optional
        :math:`\mu` (uniform by default).
    drop : float, default 1e-13
        Largest probability mass per prompt left out of the enumeration; the coverage is
        then certified to within that mass plus a floating-point slack of
        ``1e-13 + 8 eps S`` (``0`` keeps every count vector: exact).

    Attributes
    ----------
    counts : (X, S, V) ndarray of int
        Kept count vectors per prompt (padded; padding has weight 0).
    weights : (X, S) ndarray
        Their probabilities :math:`\mathrm{Multinomial}(H, p_x)(n)`.
    dropped : (X,) ndarray
        Mass left out per prompt (``1 - weights.sum(1)`` up to rounding).

    Examples
    --------
    >>> import numpy as np
    >>> law = IidTokenLaw(np.log([[0.5, 0.5]]), horizon=2, drop=0.0)
    >>> lo, hi = law.coverage(np.log([[0.9, 0.1]]), 4.0)   # ratio >= 4 iff y = (1, 1)
    >>> float(lo), float(hi)
    (0.25, 0.25)
    """

    data_log_probs: np.ndarray
    horizon: int
    prompt_weights: np.ndarray | None = None
    drop: float = 1e-13

    def __post_init__(self):
        lp = as_float_array(self.data_log_probs, "data_log_probs", ndim=2, allow_posinf=False)
        if not np.allclose(np.exp(lp).sum(-1), 1.0, atol=1e-8):
            raise ValueError("`data_log_probs` must be normalised over the last axis.")
        h = check_int(self.horizon, "horizon", low=1)
        x, v = lp.shape
        mu = (np.full(x, 1.0 / x) if self.prompt_weights is None
              else check_weights(self.prompt_weights, "prompt_weights", (x,)))
        drop = check_real(self.drop, "drop", low=0.0, high=1.0, high_open=True)
        allc, log_mult = _count_support(v, h, x)
        lp0 = np.where(np.isneginf(lp), 0.0, lp)
        logw = log_mult[None, :] + lp0 @ allc.T                            # (X, C)
        impossible = (np.isneginf(lp)[:, None, :] & (allc[None] > 0)).any(-1)
        logw = np.where(impossible, -np.inf, logw)
        order = np.argsort(-logw, axis=1, kind="stable")
        w_sorted = np.exp(np.take_along_axis(logw, order, axis=1))
        # keep the fewest points whose complement has mass <= drop (summed from the tail)
        tail = np.cumsum(w_sorted[:, ::-1], axis=1)[:, ::-1]      # tail[i] = sum_{j >= i}
        tail_after = np.concatenate([tail[:, 1:], np.zeros((x, 1))], axis=1)
        keep_n = np.maximum(1, (tail_after > drop).sum(axis=1) + 1)
        keep_n = np.minimum(keep_n, allc.shape[0])
        s = int(keep_n.max())
        idx = order[:, :s]
        counts = allc[idx]                                         # (X, S, V)
        weights = np.where(np.arange(s)[None, :] < keep_n[:, None], w_sorted[:, :s], 0.0)
        dropped = np.array([tail_after[i, keep_n[i] - 1] for i in range(x)])
        object.__setattr__(self, "data_log_probs", readonly(lp))
        object.__setattr__(self, "horizon", h)
        object.__setattr__(self, "prompt_weights", readonly(mu))
        object.__setattr__(self, "drop", drop)
        object.__setattr__(self, "counts", readonly(counts))
        object.__setattr__(self, "weights", readonly(weights))
        object.__setattr__(self, "dropped", readonly(dropped))
        object.__setattr__(self, "_counts_f", counts.astype(float))
        object.__setattr__(self, "_counts_t", np.ascontiguousarray(counts.transpose(0, 2, 1), dtype=float))
        object.__setattr__(self, "_weights_col", np.ascontiguousarray(weights[:, :, None]))

    @property
    def n_prompts(self):
        return self.data_log_probs.shape[0]

    @property
    def vocab_size(self):
        return self.data_log_probs.shape[1]

    @property
    def evaluation(self):
        """``"exact"`` when nothing was dropped, else ``"certified"``."""
        return "exact" if not np.any(self.dropped > 0) else "certified"

    def _ratios(self, model_log_probs):
        lq = as_float_array(model_log_probs, "model_log_probs", min_ndim=2, allow_posinf=False)
        if lq.shape[-2:] != self.data_log_probs.shape:
            raise ValueError(f"`model_log_probs` must end with shape {self.data_log_probs.shape}, "
                             f"got {lq.shape}.")
        lp = self.data_log_probs
        with np.errstate(invalid="ignore"):
            r = lp - lq
        return np.where(np.isneginf(lp), 0.0, r)                    # unused tokens contribute 0

    def per_prompt_coverage(self, model_log_probs, N):
        r"""Certified per-prompt coverage :math:`P[Z \ge \log N \mid x]`.

        Returns ``(lo, hi)``, each of shape ``batch + (X,) + np.shape(N)`` where
        ``model_log_probs`` has shape ``batch + (X, V)``.
        """
        r = self._ratios(model_log_probs)                            # (..., X, V)
        cut = np.atleast_1d(comparison_log_thresholds(N))            # (nN,)
        counts = self._counts_f                                       # (X, S, V)
        v, n_s = self.vocab_size, counts.shape[1]
        rows = int(np.prod(r.shape[:-1], dtype=object))
        check_allocation(8 * rows * (n_s * (2 + (cut.size if n_s > 16 else 0)) + 2 * cut.size) + (1 << 16),
                         f"per-prompt coverage of {rows // self.n_prompts} model(s) `model_log_probs` over "
                         f"{n_s} count vectors at {cut.size} thresholds `N`",
                         "pass fewer models or thresholds per call")
        if v <= 8:                                                   # few tokens: fused loop
            z = r[..., :, None, 0] * counts[:, :, 0]
            for a in range(1, v):
                z = z + r[..., :, None, a] * counts[:, :, a]         # (..., X, S)
        else:
            z = (r[..., :, None, :] @ self._counts_t)[..., 0, :]
        if n_s <= 16:                                                # few points: fused loop
            lo = np.zeros(z.shape[:-1] + cut.shape)
            for j in range(n_s):
                lo += (z[..., j, None] >= cut) * self.weights[:, j, None]
        else:
            hit = (z[..., None, :] >= cut[:, None]).astype(float)    # (..., X, nN, S)
            lo = (hit @ self._weights_col)[..., 0]                   # (..., X, nN)
        hi = lo + self.dropped[:, None]
        if self.evaluation == "certified":                           # floating-point slack
            slack = 1e-13 + 8 * np.finfo(float).eps * self.counts.shape[1]
            lo, hi = np.maximum(lo - slack, 0.0), hi + slack
        shape = r.shape[:-1] + np.shape(N)
        return np.minimum(lo, 1.0).reshape(shape), np.minimum(hi, 1.0).reshape(shape)

    def coverage(self, model_log_probs, N):
        r"""Certified coverage :math:`\mathrm{Cov}_N(\pi_D\|\pi_\theta) \in [lo, hi]`.

        Parameters
        ----------
        model_log_probs : (..., X, V) array_like
            :math:`\log q_x` of every model (any leading batch shape).
        N : float or array_like
            Thresholds ``>= 1``.

        Returns
        -------
        lo, hi : ndarray
            ``batch + np.shape(N)``; ``hi - lo <= drop`` (equal when exact).
        """
        lo, hi = self.per_prompt_coverage(model_log_probs, N)
        ax = -1 - np.ndim(N)
        mu = self.prompt_weights.reshape((-1,) + (1,) * np.ndim(N))
        return (np.minimum((lo * mu).sum(axis=ax), 1.0), np.minimum((hi * mu).sum(axis=ax), 1.0))

    def kl(self, model_log_probs):
        r"""Exact :math:`D_{KL}(\pi_D\|\pi_\theta) = H\sum_x\mu(x)D_{KL}(p_x\|q_x)`: shape ``batch``."""
        lq = as_float_array(model_log_probs, "model_log_probs", min_ndim=2, allow_posinf=False)
        return self.horizon * (categorical_kl(np.broadcast_to(self.data_log_probs, lq.shape), lq)
                               * self.prompt_weights).sum(-1)

    def stopped_kl(self, model_log_probs, N):
        r"""Exact stopped KL :math:`D_{seq,N}` (Prop. F.10 ICLR / D.10 arXiv): ``batch + np.shape(N)``.

        With i.i.d. tokens the per-token KLs along any sequence of prompt ``x`` are all
        :math:`D_{KL}(p_x\|q_x)`, so
        :math:`D_{seq,N} = \sum_x\mu(x)\min\{\log N, H\,D_{KL}(p_x\|q_x)\}`.
        """
        lq = as_float_array(model_log_probs, "model_log_probs", min_ndim=2, allow_posinf=False)
        per = self.horizon * categorical_kl(np.broadcast_to(self.data_log_probs, lq.shape), lq)  # (..., X)
        c = np.asarray(log_thresholds(N), dtype=float)
        capped = np.minimum(c[..., None], per.reshape(per.shape[:-1] + (1,) * c.ndim + per.shape[-1:]))
        return (capped * self.prompt_weights).sum(-1)

    def to_dict(self):
        return {"horizon": self.horizon, "drop": self.drop, "n_points": int(self.counts.shape[1]),
                "dropped": self.dropped.tolist(), "evaluation": self.evaluation}
