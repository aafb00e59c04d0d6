r"""Scores of autoregressive linear models with tabular features, vectorised over replicates.

With tabular features :math:`\phi = \Phi[x, h, y_{h-1}, y_h]` the
score of a sequence is :math:`\sum_h \Phi[c_h, y_h] - \bar\phi_\theta(c_h)` over its
contexts :math:`c_h = (x, h, y_{h-1})`, so a minibatch enters only through its
(weighted) **context-token counts** :math:`N[c, v]`:

.. math::

    \sum_k\sum_h w_{k,h}\nabla\log\pi_\theta(y^k_h|c^k_h)
      = \sum_{c,v} N[c,v]\,\Phi[c,v] - \sum_c N[c]\,\bar\phi_\theta(c),
    \qquad \bar\phi_\theta(c) = \mathrm{softmax}(\Phi[c]\theta)^\top\Phi[c].

One ``bincount`` gives the counts of a whole chunk of steps; each step then needs one
softmax per context (not per token).  When the features ignore the position and the
previous token (i.i.d. tokens given the prompt) the contexts are the prompts, and the
stream samples the token counts directly (``Multinomial(H, p_x)``; ``stream="counts"``),
which has the same law as counting the tokens of fresh sequences.  When the context grid
is larger than the tokens (many prompts with position-dependent features), the score is
computed token by token instead (``sequence_scores(..., method="tokens")``).
"""

from __future__ import annotations

import numpy as np

from theory.validation import as_finite_array, as_int_array
from theory.models import AutoregressiveLinearModel, TabularFeatures

__all__ = ["ScoreEngine", "sequence_scores", "count_scores"]

#: Tokens per block of the context-token counts.
_COUNT_BLOCK = 1 << 17


def softmax_parts(logits):
    """``(log_probs, probs)`` along the last axis (stable, no scipy overhead)."""
    m = logits.max(axis=-1, keepdims=True)
    z = logits - m
    e = np.exp(z)
    s = e.sum(axis=-1, keepdims=True)
    return z - np.log(s), e / s


def softmax_rows(logits):
    """Probabilities along the last axis (stable)."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def is_iid_features(table):
    """A feature table (or Markov table) that depends on the prompt and the current token only:
    identical across positions and previous tokens (the begin-of-sequence row included)."""
    return bool((table == table[:, :1, -1:]).all())


class ScoreEngine:
    r"""Scores and context laws of an autoregressive linear model with tabular features.

    The score :math:`\nabla_\theta\log\pi_\theta(y|x) = \sum_h[\phi(x,y_{1:h}) -
    \bar\phi_\theta(x,y_{<h})]` that drives the updates Eq. (8) ICLR / (14) arXiv, Eq. (10)
    ICLR / (17)–(18) arXiv and Eq. (12) ICLR / (21) arXiv.

    Parameters
    ----------
    features : TabularFeatures
        Feature map of the model.
    data : MarkovModel or AutoregressiveLinearModel, optional
        :math:`\pi_D`; needed only for per-token KLs (distillation weights, the
        test-time-training identity).

    Attributes
    ----------
    table : (X, Hd, P, V, d) ndarray
        The feature table reduced to the contexts it distinguishes (``P = 1`` when the
        features ignore the previous token).
    iid : bool
        ``Hd == 1`` and ``P == 1``: tokens are i.i.d. given the prompt.
    """

    def __init__(self, features, data=None):
        if not isinstance(features, TabularFeatures):
            raise TypeError("training needs TabularFeatures (got "
                            f"{type(features).__name__}); callable features are not supported.")
        t = features.table
        self.iid = is_iid_features(t)
        self.table = t[:, :1, -1:] if self.iid else t
        self.horizon = features.horizon
        self.vocab_size = features.vocab_size
        self.dim = features.dim
        self.n_prompts = features.n_prompts
        x, hd, p, v, d = self.table.shape
        self.ctx_shape = (x, hd, p)
        self.n_ctx = x * hd * p
        self.flat_table = self.table.reshape(self.n_ctx, v, d)
        self._table_cvd = np.ascontiguousarray(self.flat_table.reshape(self.n_ctx * v, d))
        self.data_log_probs = None
        if data is not None:
            lp = (data.as_markov() if isinstance(data, AutoregressiveLinearModel) else data).log_probs
            if lp.ndim != 4:
                raise ValueError("`data` must be a single (unbatched) distribution.")
            if self.iid:
                if not is_iid_features(lp):
                    raise ValueError("the features give i.i.d. tokens but `data` does not; per-token "
                                     "KLs need the data law on the model's contexts.")
                lp = lp[:, :1, -1:]
            elif lp.shape[1] > hd:
                raise ValueError("`data` depends on the position but the features do not; per-token "
                                 "KLs need the data law on the model's contexts.")
            lp = np.broadcast_to(lp, (x, hd, p, v))
            self.data_log_probs = np.ascontiguousarray(lp).reshape(self.n_ctx, v)

    # ----------------------------------------------------------------- contexts
    def context_laws(self, theta):
        """``(log_probs, probs)`` of every context's next-token law: ``(R, C, V)`` each."""
        logits = (theta @ self._table_cvd.T).reshape(theta.shape[0], self.n_ctx, self.vocab_size)
        return softmax_parts(logits)

    def context_probs(self, theta):
        """Probabilities of every context's next-token law: ``(R, C, V)``."""
        return softmax_rows((theta @ self._table_cvd.T).reshape(theta.shape[0], self.n_ctx, self.vocab_size))

    def mean_score(self, q, chosen, nctx):
        r"""Score sum from context laws ``q`` ``(R, C, V)``, chosen-feature sums ``(R, d)`` and
        context counts ``(R, C)``: :math:`\text{chosen} - \sum_{c,v} N[c]q_{c,v}\Phi[c,v]`."""
        w = (q * nctx[..., None]).reshape(q.shape[0], -1)
        return chosen - w @ self._table_cvd

    def context_index(self, x, y):
        """Flat context index of every token: ``x.shape + (H,)`` (int64)."""
        x = np.asarray(x, dtype=np.int64)
        _, hd, p = self.ctx_shape
        hz = self.horizon
        base = x[..., None] * (hd * p)
        if hd > 1:
            base = base + (np.arange(hz) * p)
        if p > 1:
            prev = np.empty(np.shape(y), dtype=np.int64)
            prev[..., 0] = self.vocab_size
            prev[..., 1:] = y[..., :-1]
            base = base + prev
        return np.broadcast_to(base, np.shape(y))

    def context_at(self, x, prev, h):
        """Flat context index at position ``h`` after token(s) ``prev`` (``V`` = begin of sequence)."""
        _, hd, p = self.ctx_shape
        idx = np.asarray(x, dtype=np.int64) * (hd * p)
        if hd > 1:
            idx = idx + h * p
        if p > 1:
            idx = idx + np.asarray(prev, dtype=np.int64)
        return idx

    def context_token_counts(self, x, y, weights=None):
        r"""Weighted context-token counts per leading index of ``x``.

        ``x`` ``lead + (K,)``, ``y`` ``lead + (K, H)``, ``weights`` like ``y``: returns
        ``N`` ``lead + (C, V)`` with :math:`N[c, v] = \sum_{k,h} w_{k,h}1\{c_{k,h}=c, y_{k,h}=v\}`.
        One ``bincount`` over the flat index ``((m C + c) V + v)`` of every token (``m`` the
        leading index), in blocks of leading indices that keep the index array in cache.
        """
        lead = np.shape(x)[:-1]
        m = int(np.prod(lead)) if lead else 1
        v = self.vocab_size
        _, hd, p = self.ctx_shape
        hz = self.horizon
        y = np.asarray(y).reshape(m, -1, hz)
        k = y.shape[1]
        w = None if weights is None else np.asarray(weights, dtype=float).reshape(m, k, hz)
        row = self.n_ctx * v
        # per-sequence offset (m C + x Hd P) V; per-token offset h P V + prev V + y
        seq = (np.arange(m).reshape(m, 1) * row
               + np.asarray(x, dtype=np.intp).reshape(m, k) * (hd * p * v))   # (m, K)
        tok = np.arange(hz) * (p * v) if hd > 1 else None
        small = p > 1 and y.dtype == np.uint8 and (v + 1) * v <= 256   # prev V + y fits a byte
        counts = np.empty((m, row), dtype=np.int64 if w is None else float)
        block = max(1, _COUNT_BLOCK // max(1, k * hz))
        for m0 in range(0, m, block):
            m1 = min(m, m0 + block)
            yb = y[m0:m1]
            if small:                                      # prev * V + y, in uint8
                code = np.empty(yb.shape, dtype=np.uint8)
                code[..., 0] = v * v
                np.multiply(yb[..., :-1], np.uint8(v), out=code[..., 1:])
                code += yb
            elif p > 1:
                code = yb.astype(np.intp)
                code[..., 1:] += yb[..., :-1] * np.intp(v)
                code[..., 0] += v * v
            else:
                code = yb
            flat = np.empty(yb.shape, dtype=np.intp)
            np.add((seq[m0:m1] - m0 * row)[..., None], code, out=flat)
            if tok is not None:
                flat += tok
            c = np.bincount(flat.ravel(), minlength=(m1 - m0) * row,
                            weights=None if w is None else w[m0:m1].ravel())
            counts[m0:m1] = c.reshape(m1 - m0, row)
        return counts.astype(float, copy=False).reshape(lead + (self.n_ctx, v))

    def prompt_counts(self, x, counts):
        """i.i.d. tokens: per-prompt token counts ``lead + (X, V)`` from ``x`` ``lead + (K,)`` and counts ``lead + (K, V)``."""
        onehot = (np.asarray(x)[..., None] == np.arange(self.n_prompts)).astype(float)
        return np.einsum("...kx,...kv->...xv", onehot, counts)

    def score_from_counts(self, theta, counts, q=None):
        r"""Score sum :math:`\sum_{c,v}N[c,v]\Phi[c,v] - \sum_c N[c]\bar\phi_\theta(c)`: ``(R, d)``.

        ``counts`` ``(R, C, V)``; ``q`` are the context laws (computed if omitted).
        """
        if q is None:
            q = self.context_laws(theta)[1]
        chosen = counts.reshape(counts.shape[0], -1) @ self._table_cvd
        return self.mean_score(q, chosen, counts.sum(-1))

    def token_scores(self, theta, x, y, weights=None):
        r"""Token-by-token score (gathers over ``(R, K, H, V, d)``): ``(R, d)`` summed over ``K``."""
        ctx = self.context_index(x, y)                                   # (R, K, H)
        cand = self.flat_table[ctx]                                      # (R, K, H, V, d)
        logits = np.einsum("rkhvd,rd->rkhv", cand, theta)
        _, q = softmax_parts(logits)
        mean = np.einsum("rkhv,rkhvd->rkhd", q, cand)
        idx = np.asarray(y, dtype=np.int64)[..., None, None]
        chosen = np.take_along_axis(cand, np.broadcast_to(idx, cand.shape[:-2] + (1, self.dim)),
                                    axis=-2)[..., 0, :]
        g = chosen - mean
        if weights is not None:
            g = g * np.asarray(weights, dtype=float)[..., None]
        return g.sum(axis=(1, 2))

    def token_kls(self, lq, ctx):
        r"""Per-token :math:`\varepsilon = D_{KL}(\pi_D(\cdot|c)\|\pi_\theta(\cdot|c))` at contexts ``ctx`` ``(R, ...)``.

        ``lq`` is ``(R, C, V)`` from :meth:`context_laws`.
        """
        lp = self.data_log_probs
        pd = np.exp(lp)
        with np.errstate(invalid="ignore"):
            terms = np.where(pd > 0, pd * (lp - lq), 0.0)                 # (R, C, V)
        kl_ctx = np.maximum(terms.sum(-1), 0.0)                            # (R, C)
        r = np.arange(kl_ctx.shape[0]).reshape((-1,) + (1,) * (ctx.ndim - 1))
        return kl_ctx[r, ctx]


def sequence_scores(features, theta, x, y, *, token_weights=None, method="auto"):
    r"""Minibatch mean score of every replicate, vectorised.

    .. math:: \hat g_r = \frac1K\sum_{k=1}^K\sum_{h=1}^H w_{r,k,h}\,
              \nabla_\theta\log\pi_{\theta_r}(y^{r,k}_h \mid x^{r,k}, y^{r,k}_{<h})

    The minibatch gradient :math:`\hat g(\theta; D_t)` of Eq. (10) ICLR / (17)–(18) arXiv
    (``K = 1``: Eq. (8) ICLR / (14) arXiv; truncated weights: Theorem G.2 ICLR / 6.2 arXiv).

    Parameters
    ----------
    features : TabularFeatures
        Feature map of the model.
    theta : (R, d) array_like
        One parameter vector per replicate.
    x : (R, K) array_like of int
        Prompts of each replicate's minibatch.
    y : (R, K, H) array_like of int
        Responses of each replicate's minibatch.
    token_weights : (R, K, H) array_like, optional
        :math:`w` (default 1).
    method : {"auto", "counts", "tokens"}
        Context-count contraction or token-by-token gathers (same result).

    Returns
    -------
    (R, d) ndarray
        :math:`\hat g_r` of every replicate.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.models import TabularFeatures, AutoregressiveLinearModel
    >>> t = np.random.default_rng(0).normal(size=(2, 1, 3, 2, 2))
    >>> f = TabularFeatures(t, horizon=4)
    >>> th = np.array([[0.3, -0.2], [1.0, 0.5]])
    >>> x = np.array([[0, 1], [1, 1]]); y = np.array([[[0, 1, 1, 0], [1, 1, 0, 0]], [[0, 0, 0, 1], [1, 0, 1, 1]]])
    >>> ref = AutoregressiveLinearModel(f, th).grad_log_prob(x, y, paired=True).mean(1)
    >>> bool(np.allclose(sequence_scores(f, th, x, y), ref))
    True
    """
    eng = ScoreEngine(features)
    th = as_finite_array(theta, "theta", ndim=2)
    if th.shape[1] != eng.dim:
        raise ValueError(f"`theta` must have shape (R, {eng.dim}), got {th.shape}.")
    x = as_int_array(x, "x", ndim=2, low=0, high=eng.n_prompts)
    y = as_int_array(y, "y", ndim=3, low=0, high=eng.vocab_size)
    if x.shape[0] != th.shape[0] or y.shape != x.shape + (eng.horizon,):
        raise ValueError(f"`x` must be (R, K) and `y` (R, K, H) with R = {th.shape[0]}, "
                         f"H = {eng.horizon}; got {x.shape} and {y.shape}.")
    w = None if token_weights is None else as_finite_array(token_weights, "token_weights")
    if w is not None and w.shape != y.shape:
        raise ValueError(f"`token_weights` must have shape {y.shape}, got {w.shape}.")
    if method not in ("auto", "counts", "tokens"):
        raise ValueError(f"`method` must be 'auto', 'counts' or 'tokens', got {method!r}.")
    if method == "auto":
        method = "counts" if eng.n_ctx <= 4 * x.shape[1] * eng.horizon else "tokens"
    if method == "tokens":
        return eng.token_scores(th, x, y, w) / x.shape[1]
    counts = eng.context_token_counts(x, y, w)
    return eng.score_from_counts(th, counts) / x.shape[1]


def count_scores(token_table, theta, x, counts):
    r"""Minibatch mean score for i.i.d. tokens from token counts.

    .. math:: \hat g_r = \frac1K\sum_k\Big(\sum_a n^{r,k}_a\Phi[x^{r,k}, a]
              - H\,\bar\phi_{\theta_r}(x^{r,k})\Big),\qquad H = \sum_a n_a.

    :func:`sequence_scores` when tokens are i.i.d. given the prompt (the SGD constructions of
    App. K.4 ICLR / I.4 arXiv).

    Parameters
    ----------
    token_table : (X, V, d) array_like
        Token features :math:`\Phi[x, a]`.
    theta : (R, d) array_like
        One parameter vector per replicate.
    x : (R, K) array_like of int
        Prompts of each replicate's minibatch.
    counts : (R, K, V) array_like of int
        Token counts of each sequence.

    Returns
    -------
    (R, d) ndarray
        :math:`\hat g_r` of every replicate.

    Examples
    --------
    >>> import numpy as np
    >>> tab = np.array([[[-1.0], [1.0]]])
    >>> count_scores(tab, [[0.0]], [[0]], [[[1, 3]]])      # (3 - 1) - 4 * 0
    array([[2.]])
    """
    tab = as_finite_array(token_table, "token_table", ndim=3)
    th = as_finite_array(theta, "theta", ndim=2)
    x = as_int_array(x, "x", ndim=2, low=0, high=tab.shape[0])
    c = as_int_array(counts, "counts", ndim=3, low=0)
    _, q = softmax_parts(np.einsum("xvd,rd->rxv", tab, th))
    mean = np.einsum("rxv,xvd->rxd", q, tab)
    chosen = np.einsum("rkv,rkvd->rkd", c.astype(float), tab[x])
    h = c.sum(-1).astype(float)
    g = chosen - h[..., None] * np.take_along_axis(mean, x[..., None], axis=1)
    return g.mean(axis=1)
