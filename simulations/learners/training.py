r"""One-pass training of autoregressive linear models, vectorised over replicates.

Every step draws a fresh minibatch of ``K`` sequences from :math:`\pi_D` for each of ``R``
independent replicates and advances all replicates in one array operation:

* ``level="sequence"`` (Eq. (8) ICLR / (14) arXiv; Eq. (10) / (17) with a normalising
  optimizer): one step per minibatch of sequences,
  :math:`\hat g = \frac1K\sum_k \sum_h w_{k,h}\nabla\log\pi_\theta(y^k_h|x^k, y^k_{<h})`
  (``w = 1`` unless ``token_weights`` is given, see :mod:`~simulations.learners.distillation`);
* ``level="token"`` (Eq. (12) ICLR / (21) arXiv): one step per token position, the
  minibatch being the ``K`` sequences' tokens at that position; the next sequence starts
  from the last token step, :math:`\theta_{t+1,0} = \theta_{t,H}`.

The optimizer receives the gradient of the loss, :math:`-\hat g` (optax convention, see
:mod:`~simulations.learners.optimizers`).

How the score is computed (tabular features :math:`\phi = \Phi[x, h, y_{h-1}, y_h]`): the
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

Evaluation: ``iterate_metric(thetas) -> values`` is called on every iterate
:math:`\theta_0,\dots,\theta_{T-1}` (in chunks) and its running means at ``average_at``
give the average-iterate quantities the theorems bound, e.g.
:math:`\frac1T\sum_{t<T}\mathrm{Cov}_N(\pi_{\theta_t})` (the paper's iterates
:math:`\theta_1..\theta_T` with :math:`\theta_1` the initialisation).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from theory.validation import as_finite_array, as_int_array, check_int, readonly
from theory.models import AutoregressiveLinearModel, MarkovModel, TabularFeatures
from theory.models._chain import cdf_thresholds, chain_tokens, compiled_kernel

from .optimizers import Optimizer, apply_updates

__all__ = ["TrainResult", "train_one_pass", "sequence_scores", "count_scores", "DataStream",
           "ScoreEngine"]

#: Target number of floats in the per-chunk arrays.
_CHUNK_FLOATS = 1 << 22
#: Tokens per block of the Markov sampler (uniforms of a block stay in cache).
_TOKEN_BLOCK = 1 << 18
#: Tokens per block of the context-token counts.
_COUNT_BLOCK = 1 << 17


def _softmax_parts(logits):
    """``(log_probs, probs)`` along the last axis (stable, no scipy overhead)."""
    m = logits.max(axis=-1, keepdims=True)
    z = logits - m
    e = np.exp(z)
    s = e.sum(axis=-1, keepdims=True)
    return z - np.log(s), e / s


def _softmax(logits):
    """Probabilities along the last axis (stable)."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def _is_iid(table):
    """A feature table (or Markov table) that depends on the prompt and the current token only:
    identical across positions and previous tokens (the begin-of-sequence row included)."""
    return np.array_equal(table, np.broadcast_to(table[:, :1, -1:], table.shape))


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
        self.iid = _is_iid(t)
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
                if not _is_iid(lp):
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
        return _softmax_parts(logits)

    def context_probs(self, theta):
        """Probabilities of every context's next-token law: ``(R, C, V)``."""
        return _softmax((theta @ self._table_cvd.T).reshape(theta.shape[0], self.n_ctx, self.vocab_size))

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
        _, q = _softmax_parts(logits)
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
    _, q = _softmax_parts(np.einsum("xvd,rd->rxv", tab, th))
    mean = np.einsum("rxv,xvd->rxd", q, tab)
    chosen = np.einsum("rkv,rkvd->rkd", c.astype(float), tab[x])
    h = c.sum(-1).astype(float)
    g = chosen - h[..., None] * np.take_along_axis(mean, x[..., None], axis=1)
    return g.mean(axis=1)


class DataStream:
    r"""Fresh samples from :math:`\pi_D` for ``R`` replicates x ``K`` sequences per step.

    The fresh i.i.d. samples of one-pass training (Prop. 5.1, Theorem 5.1, Theorem 6.1).

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel
        Unbatched data distribution with tabular structure.
    kind : {"auto", "tokens", "counts"}
        ``"counts"`` draws per-sequence token counts (i.i.d.-token data only); ``"auto"``
        picks counts when possible.
    """

    def __init__(self, data, kind="auto"):
        m = data.as_markov() if isinstance(data, AutoregressiveLinearModel) else data
        if not isinstance(m, MarkovModel) or m.batch_shape:
            raise TypeError("`data` must be a single MarkovModel or AutoregressiveLinearModel "
                            "with tabular features.")
        lp = m.log_probs                                               # (X, Hd, V+1, V)
        iid = m.horizon == 1 or _is_iid(lp)
        if kind not in ("auto", "tokens", "counts"):
            raise ValueError(f"`kind` must be 'auto', 'tokens' or 'counts', got {kind!r}.")
        if kind == "counts" and not iid:
            raise ValueError("`kind='counts'` needs i.i.d. tokens given the prompt.")
        self.kind = ("counts" if iid else "tokens") if kind == "auto" else kind
        self.iid = iid
        self.horizon = m.horizon
        self.vocab_size = m.vocab_size
        self.n_prompts = m.n_prompts
        self.prompt_weights = np.asarray(m.prompt_weights)
        self._prompt_cdf = np.cumsum(self.prompt_weights)
        self._prompt_cdf[-1] = np.inf
        p = np.exp(lp)
        self._probs_iid = p[:, 0, -1] if iid else None                 # (X, V) at BOS (= all rows)
        cdf = np.cumsum(p, axis=-1)
        cdf[..., -1] = np.inf
        self._cdf = cdf
        self._hd = lp.shape[1]
        self._thresholds = cdf_thresholds(cdf)                         # (V-1, X Hd (V+1))
        self._cdf_rows = cdf.reshape(-1, self.vocab_size)              # (X Hd (V+1), V)

    def prompts(self, shape, rng):
        """Prompts ``x ~ mu``, by inversion of one uniform each."""
        u = rng.random(shape)
        return np.searchsorted(self._prompt_cdf, u, side="right").astype(np.int64)

    def draw(self, shape, rngs):
        """Draw ``x`` (shape) and ``y`` (shape + (H,)) or counts (shape + (V,)) as by :attr:`kind`.

        ``rngs = (rng_prompts, rng_tokens)``: prompts and tokens come from separate
        generators, each consumed in C order, so drawing ``n`` steps at once or one by one
        gives the same stream.
        """
        rng_x, rng_y = rngs
        x = self.prompts(shape, rng_x)
        if self.kind == "counts":
            return x, rng_y.multinomial(self.horizon, self._probs_iid[x])
        return x, self.tokens(x, rng_y)

    def tokens(self, x, rng):
        """Token sequences for prompts ``x``: ``x.shape + (H,)`` (uint8 when ``V <= 256``).

        One uniform per token (``x.shape + (H,)``, C order), inverted through the
        next-token CDF of the token's context.  Markov data runs the position loop of
        :func:`theory.models._chain.chain_tokens` on blocks of sequences (uniforms
        transposed to position-major once per block), so the stream is the same whatever
        the block size.
        """
        hz, v = self.horizon, self.vocab_size
        dtype = np.uint8 if v <= 256 else np.int64
        if self.iid:
            u = rng.random(x.shape + (hz,))
            cdf = self._cdf[x, 0, -1]                                  # (..., V)
            y = np.zeros(x.shape + (hz,), dtype=dtype)
            for a in range(v - 1):                                     # y = #{a : u >= cdf_a}
                y += (u >= cdf[..., a, None])
            return y
        xf = np.asarray(x, dtype=np.intp).reshape(-1)
        n = xf.size
        y = np.empty((n, hz), dtype=dtype)
        base = xf * (self._hd * (v + 1))
        row_step = v + 1 if self._hd > 1 else 0
        block = max(1, _TOKEN_BLOCK // hz)
        kernel = compiled_kernel(n * hz)
        for n0 in range(0, n, block):
            n1 = min(n, n0 + block)
            if kernel is not None:
                kernel(self._cdf_rows, base[n0:n1], rng.random((n1 - n0, hz)), y[n0:n1],
                       np.full(n1 - n0, v), 0, row_step)
                continue
            u_t = rng.random((n1 - n0, hz)).T.copy()                     # (H, n_block)
            y_t = np.empty((hz, n1 - n0), dtype=dtype)
            chain_tokens(self._thresholds, base[n0:n1], u_t, y_t, row_step=row_step)
            y[n0:n1] = y_t.T
        return y.reshape(x.shape + (hz,))


@dataclass(frozen=True)
class TrainResult:
    r"""Output of :func:`train_one_pass`.

    The iterates and average-iterate metrics that Prop. 5.1, Theorem 5.1, Theorem 6.1 and
    Theorem G.2 (ICLR) / 6.2 (arXiv) bound (:math:`\frac1T\sum_t\mathrm{Cov}_N(\pi_{\theta_t})`).

    Attributes
    ----------
    thetas : (R, n_log, d) ndarray
        Logged iterates :math:`\theta_t` at ``steps``.
    steps : (n_log,) ndarray of int
        Number of updates before each logged iterate (``0`` = initialisation, ``T`` = last).
    final_theta : (R, d) ndarray
        The last iterate.
    average_at : (n_avg,) ndarray of int
        Horizons ``T'`` of the running means.
    metric_means : (R, n_avg, m) ndarray or None
        :math:`\frac1{T'}\sum_{t<T'}\mathrm{metric}(\theta_t)` for each ``T'``.
    metric_logged : (R, n_log, m) ndarray or None
        The metric at the logged iterates.
    metric_min : (R, m) ndarray or None
        :math:`\min_{t<T}\mathrm{metric}(\theta_t)`.
    path_token_kl : (R, n_avg) ndarray or None
        Token level with ``track_token_kl``: running mean over ``t`` of the training-path
        per-token KL sums :math:`\frac1K\sum_k\sum_h\varepsilon_{t,h}` — an unbiased
        estimate of :math:`\frac1{T'}\sum_t D_{KL}(\pi_D\|\pi^{TTT}_{\theta_t})`
        (Section 6.1's identity :math:`\theta_{t,h} = \vartheta^{TTT}(x_t, y_{<h}; \theta_t)`).
    level : str
        ``"sequence"`` or ``"token"``.
    batch, T : int
        Minibatch size ``K`` and number of steps (sequences at token level).
    stream : str
        ``"tokens"`` or ``"counts"``.
    """

    thetas: np.ndarray
    steps: np.ndarray
    final_theta: np.ndarray
    average_at: np.ndarray
    metric_means: np.ndarray | None
    metric_logged: np.ndarray | None
    metric_min: np.ndarray | None
    path_token_kl: np.ndarray | None
    level: str
    batch: int
    T: int
    stream: str

    def __post_init__(self):
        for name in ("thetas", "steps", "final_theta", "average_at", "metric_means",
                     "metric_logged", "metric_min", "path_token_kl"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, readonly(np.asarray(getattr(self, name))))

    def to_dict(self):
        out = asdict(self)
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in out.items()}


def _train_iv(model, data, optimizer, T, batch, level, replicates):
    if not isinstance(model, AutoregressiveLinearModel):
        raise TypeError("`model` must be an AutoregressiveLinearModel (its theta is the initialisation).")
    if not isinstance(model.features, TabularFeatures):
        raise TypeError("`model` must have TabularFeatures.")
    if not isinstance(data, (AutoregressiveLinearModel, MarkovModel)):
        raise TypeError("`data` must be an AutoregressiveLinearModel or MarkovModel.")
    if (data.n_prompts, data.vocab_size, data.horizon) != (model.n_prompts, model.vocab_size, model.horizon):
        raise ValueError("`data` and `model` must share prompts, vocabulary and horizon.")
    if not isinstance(optimizer, Optimizer):
        raise TypeError("`optimizer` must be an Optimizer (see simulations.learners.optimizers).")
    if level not in ("sequence", "token"):
        raise ValueError(f"`level` must be 'sequence' or 'token', got {level!r}.")
    T = check_int(T, "T", low=1)
    batch = check_int(batch, "batch", low=1)
    theta0 = np.asarray(model.theta, dtype=float)
    if theta0.ndim == 1:
        r = 1 if replicates is None else check_int(replicates, "replicates", low=1)
        theta0 = np.broadcast_to(theta0, (r, theta0.size)).copy()
    elif replicates is not None and check_int(replicates, "replicates", low=1) != theta0.shape[0]:
        raise ValueError(f"`replicates`={replicates} contradicts model.theta's leading axis "
                         f"{theta0.shape[0]}.")
    return theta0.copy(), T, batch


def _schedule(T, log_every, log_steps, average_at):
    if log_steps is not None:
        steps = np.unique(as_int_array(log_steps, "log_steps", ndim=1, low=0, high=T + 1))
    else:
        every = T if log_every is None else check_int(log_every, "log_every", low=1)
        steps = np.unique(np.append(np.arange(0, T + 1, every), T))
    avg = np.array([T]) if average_at is None else np.unique(
        as_int_array(average_at, "average_at", ndim=1, low=1, high=T + 1))
    return steps, avg


class _Recorder:
    """Logged iterates and running means of a per-iterate metric."""

    def __init__(self, R, d, T, steps, avg, metric):
        self.steps, self.avg, self.metric = steps, avg, metric
        self.step_index = {int(t): i for i, t in enumerate(steps)}
        self.thetas = np.empty((R, steps.size, d))
        self.metric_sum = None
        self.metric_means = None
        self.metric_logged = None
        self.metric_min = None
        self.buffer = []
        self.buf_start = 0
        self.kl_sum = np.zeros(R)
        self.kl_means = np.empty((R, avg.size))

    def log_theta(self, t, theta):
        i = self.step_index.get(t)
        if i is not None:
            self.thetas[:, i] = theta

    def flush(self, thetas_chunk, t0):
        """Evaluate the metric on iterates ``t0 .. t0 + C - 1`` (``(C, R, d)``)."""
        if self.metric is None:
            return
        vals = np.asarray(self.metric(thetas_chunk), dtype=float)
        if vals.ndim == 2:
            vals = vals[..., None]
        c, r = thetas_chunk.shape[:2]
        if vals.shape[:2] != (c, r):
            raise ValueError(f"`iterate_metric` must return (C, R[, m]) = ({c}, {r}, ...), got {vals.shape}.")
        if self.metric_sum is None:
            m = vals.shape[2]
            self.metric_sum = np.zeros((r, m))
            self.metric_means = np.full((r, self.avg.size, m), np.nan)
            self.metric_logged = np.full((r, self.steps.size, m), np.nan)
            self.metric_min = np.full((r, m), np.inf)
        self.metric_min = np.minimum(self.metric_min, vals.min(axis=0))
        csum = np.cumsum(vals, axis=0)                                   # (C, R, m)
        for j, ta in enumerate(self.avg):                                # horizons ending in this chunk
            if t0 < ta <= t0 + c:
                self.metric_means[:, j] = (self.metric_sum + csum[ta - t0 - 1]) / ta
        self.metric_sum = self.metric_sum + csum[-1]
        sel = (self.steps >= t0) & (self.steps < t0 + c)
        for i in np.flatnonzero(sel):
            self.metric_logged[:, i] = vals[self.steps[i] - t0]

    def final_metric(self, theta, T):
        if self.metric is None or self.steps[-1] != T:
            return
        vals = np.asarray(self.metric(theta[None]), dtype=float)
        self.metric_logged[:, -1] = vals.reshape(theta.shape[0], -1)


def train_one_pass(model, data, optimizer, *, T, rng, level="sequence", batch=1, replicates=None,
                   log_every=None, log_steps=None, average_at=None, iterate_metric=None,
                   token_weights=None, track_token_kl=False, stream="auto"):
    r"""One pass of (projected) stochastic optimisation on fresh samples from :math:`\pi_D`.

    Parameters
    ----------
    model : AutoregressiveLinearModel
        Tabular features and the initialisation: ``theta`` ``(d,)`` (broadcast to
        ``replicates``) or ``(R, d)``.
    data : MarkovModel or AutoregressiveLinearModel
        :math:`\pi_D` (unbatched), same prompts, vocabulary and horizon.
    optimizer : Optimizer
        E.g. ``chain(sgd(eta), project_l2_ball(1.0))``; its learning rate may be an
        ``(R, 1)`` array (one step size per replicate).
    T : int
        Number of steps (sequence level) or of sequences (token level, ``T*H`` steps).
    rng : numpy.random.Generator
    level : {"sequence", "token"}
    batch : int
        ``K`` sequences per step (per replicate).
    replicates : int, optional
        ``R`` when ``model.theta`` is ``(d,)``.
    log_every : int, optional
        Log :math:`\theta_t` every ``log_every`` steps (and at ``T``); default: ``0`` and ``T``.
    log_steps : array_like of int, optional
        Explicit iterate indices to log (overrides ``log_every``).
    average_at : array_like of int, optional
        Horizons ``T' <= T`` of the running means of ``iterate_metric`` (default ``(T,)``).
    iterate_metric : callable, optional
        ``metric(thetas (C, R, d)) -> (C, R) or (C, R, m)``, evaluated on every iterate
        :math:`\theta_0..\theta_{T-1}` (and at the logged final iterate).
    token_weights : callable, optional
        Sequence level only: ``weights(eps (R, K, H)) -> (R, K, H)``, the token weights
        as a function of the per-token KLs :math:`\varepsilon_\theta` along the sampled
        paths (truncated distillation, Theorem G.2 / 6.2 arXiv).  Needs ``data``'s
        next-token law on the model's contexts.
    track_token_kl : bool
        Token level only: record :attr:`TrainResult.path_token_kl`.
    stream : {"auto", "tokens", "counts"} or DataStream
        Sampling of the data (see :class:`DataStream`); runs that must see the *same*
        stream should use the same kind (and the same ``rng`` seed, ``R`` and ``K``; the
        stream does not depend on how many steps are drawn at once).  Any object with
        ``kind`` and ``draw(shape, (rng_prompts, rng_tokens))`` may be passed (e.g. to replay
        a recorded stream).

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> import numpy as np
    >>> from theory.instances import lemma_k7
    >>> from simulations.learners.optimizers import chain, sgd, project_l2_ball
    >>> inst = lemma_k7(16, B=64.0, B_bar=4.0, mu_plus=0.5)
    >>> res = train_one_pass(inst.model_class, inst.data, chain(sgd(0.01), project_l2_ball(1.0)),
    ...                      T=200, rng=np.random.default_rng(0), replicates=3)
    >>> res.thetas.shape, res.steps.tolist()
    ((3, 2, 2), [0, 200])
    """
    theta, T, K = _train_iv(model, data, optimizer, T, batch, level, replicates)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("`rng` must be a numpy.random.Generator.")
    if token_weights is not None and (level != "sequence" or not callable(token_weights)):
        raise ValueError("`token_weights` must be a callable and needs level='sequence'.")
    if track_token_kl and level != "token":
        raise ValueError("`track_token_kl` needs level='token'.")
    need_data_law = token_weights is not None or track_token_kl
    engine = ScoreEngine(model.features, data if need_data_law else None)
    if isinstance(stream, str):
        if stream == "auto" and (token_weights is not None or level == "token" or not engine.iid):
            stream = "tokens"
        src = DataStream(data, stream)
    elif callable(getattr(stream, "draw", None)) and getattr(stream, "kind", None) in ("tokens", "counts"):
        src = stream
    else:
        raise TypeError("`stream` must be 'auto', 'tokens', 'counts' or a DataStream-like object.")
    if src.kind == "counts" and (not engine.iid or level == "token" or token_weights is not None):
        raise ValueError("a counts stream needs i.i.d.-token features and plain sequence-level steps.")
    steps, avg = _schedule(T, log_every, log_steps, average_at)
    R, d = theta.shape
    rec = _Recorder(R, d, T, steps, avg, iterate_metric)
    state = optimizer.init(theta)
    rng = tuple(rng.spawn(2))                                            # (prompts, tokens)
    if level == "sequence":
        theta, state = _run_sequence(engine, src, optimizer, theta, state, T, K, rng, rec,
                                     token_weights)
    else:
        theta, state = _run_token(engine, src, optimizer, theta, state, T, K, rng, rec, track_token_kl)
    rec.log_theta(T, theta)
    rec.final_metric(theta, T)
    return TrainResult(thetas=rec.thetas, steps=steps, final_theta=theta, average_at=avg,
                       metric_means=rec.metric_means, metric_logged=rec.metric_logged,
                       metric_min=rec.metric_min,
                       path_token_kl=rec.kl_means if track_token_kl else None, level=level,
                       batch=K, T=T, stream=src.kind)


def _chunk_size(per_step, T):
    return int(max(1, min(T, _CHUNK_FLOATS // max(per_step, 1))))


def _run_sequence(engine, src, opt, theta, state, T, K, rng, rec, token_weights):
    R, d = theta.shape
    hz, v = engine.horizon, engine.vocab_size
    use_tokens_method = src.kind == "tokens" and engine.n_ctx > 4 * K * hz
    per_step = R * K * (hz if src.kind == "tokens" else v) + R * engine.n_ctx * (v + 1)
    C = _chunk_size(per_step, T)
    for t0 in range(0, T, C):
        c = min(C, T - t0)
        x, obs = src.draw((c, R, K), rng)
        if src.kind == "counts":
            pc = engine.prompt_counts(x, obs)                           # (c, R, X, V)
            chosen = pc.reshape(c, R, -1) @ engine._table_cvd
            nctx = pc.sum(-1)                                           # (c, R, X)
        elif token_weights is None and not use_tokens_method:
            counts = engine.context_token_counts(x, obs)                # (c, R, C, V)
            chosen = counts.reshape(c, R, -1) @ engine._table_cvd
            nctx = counts.sum(-1)
        iters = np.empty((c, R, d))
        for i in range(c):
            t = t0 + i
            iters[i] = theta
            rec.log_theta(t, theta)
            if token_weights is not None:
                lq, q = engine.context_laws(theta)
                ctx = engine.context_index(x[i], obs[i])
                w = np.asarray(token_weights(engine.token_kls(lq, ctx)), dtype=float)
                if use_tokens_method:
                    score = engine.token_scores(theta, x[i], obs[i], w)
                else:
                    score = engine.score_from_counts(theta, engine.context_token_counts(x[i], obs[i], w), q)
            elif use_tokens_method:
                score = engine.token_scores(theta, x[i], obs[i])
            else:
                score = engine.mean_score(engine.context_probs(theta), chosen[i], nctx[i])
            step, state = opt.update(-score / K, state, theta)
            theta = apply_updates(theta, step)
        rec.flush(iters, t0)
    return theta, state


def _run_token(engine, src, opt, theta, state, T, K, rng, rec, track_kl):
    R, d = theta.shape
    hz, v = engine.horizon, engine.vocab_size
    C = _chunk_size(R * K * hz, T)
    table = engine.flat_table
    lpd = engine.data_log_probs
    pd = None if lpd is None else np.exp(lpd)
    kl_sum = np.zeros(R)
    j_avg = 0
    for t0 in range(0, T, C):
        c = min(C, T - t0)
        x, y = src.draw((c, R, K), rng)
        y = np.asarray(y, dtype=np.int64)
        ctx_all = engine.context_index(x, y)                             # (c, R, K, H)
        iters = np.empty((c, R, d))
        for i in range(c):
            t = t0 + i
            iters[i] = theta
            rec.log_theta(t, theta)
            ctx, yy = ctx_all[i], y[i]
            chosen_all = table[ctx, yy]                                  # (R, K, H, d)
            cand = table[ctx[..., 0]] if engine.iid else None            # (R, K, V, d)
            seq_kl = np.zeros((R, K)) if track_kl else None
            for h in range(hz):
                if not engine.iid:
                    cand = table[ctx[..., h]]
                logits = (cand @ theta[:, None, :, None])[..., 0]        # (R, K, V)
                lq, q = _softmax_parts(logits)
                g = (chosen_all[:, :, h] - (q[..., None] * cand).sum(-2)).mean(axis=1)
                if track_kl:
                    lp = lpd[ctx[..., h]]
                    p = pd[ctx[..., h]]
                    with np.errstate(invalid="ignore"):
                        seq_kl += np.maximum(np.where(p > 0, p * (lp - lq), 0.0).sum(-1), 0.0)
                step, state = opt.update(-g, state, theta)
                theta = apply_updates(theta, step)
            if track_kl:
                kl_sum += seq_kl.mean(axis=1)
                while j_avg < rec.avg.size and rec.avg[j_avg] == t + 1:
                    rec.kl_means[:, j_avg] = kl_sum / (t + 1)
                    j_avg += 1
        rec.flush(iters, t0)
    return theta, state
