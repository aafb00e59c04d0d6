r"""Autoregressive models with Markov (tabular) next-token distributions.

A :class:`MarkovModel` is given by a table of next-token log-probabilities
``log_probs[x, h, prev, v]`` :math:`= \log\pi(y_h = v \mid x, y_{h-1} = prev)` (position
``h`` 0-based; ``prev = V`` is the begin-of-sequence symbol) and a prompt distribution
:math:`\mu`.  The sequence law is
:math:`\pi(y_{1:H}|x) = \prod_h \pi(y_h|x, y_{h-1})`.

Autoregressive linear models with :class:`~theory.models.TabularFeatures` are Markov models
(``AutoregressiveLinearModel.as_markov()``); categorical distributions are the case
``H = 1``.  A leading *batch* axis of length ``P`` holds ``P`` models evaluated together
(a finite class, replicates, checkpoints).

Batch semantics of the evaluation methods: with ``paired=False`` (default) every model is
evaluated on every sequence and results have shape ``batch_shape + x.shape``; with
``paired=True`` the leading axis of ``x`` is the model axis (``x.shape[0] == P``) and
results have shape ``x.shape``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.special import logsumexp

from ..validation import (as_float_array, as_int_array, check_allocation, check_int, check_rng,
                           check_weights)
from .chain_sampler import cdf_thresholds, chain_tokens, compiled_kernel
from .features import previous_tokens, snapshot

__all__ = ["MarkovModel", "categorical_model", "enumerate_sequences"]

#: Largest support that exact enumeration builds without being asked explicitly.
MAX_ENUMERATION = 2 ** 22

#: Chunk size (number of floats) for gathers over batch x sequences x positions.
_CHUNK_FLOATS = 2 ** 24
#: Uniforms drawn at once by :meth:`MarkovModel.sample` (a block of positions).
_UNIFORM_BLOCK = 2 ** 20


def enumerate_sequences(vocab_size, horizon, *, max_sequences=MAX_ENUMERATION):
    """All ``V**H`` sequences in lexicographic order, shape ``(V**H, H)``.

    Row ``s`` is the base-``V`` expansion of ``s`` (most significant token first), the
    order used by :meth:`MarkovModel.enumerate_log_probs`.

    Parameters
    ----------
    vocab_size : int
        ``V >= 1``.
    horizon : int
        ``H >= 1``.
    max_sequences : int, optional
        Refuse to enumerate more than this many sequences.

    Returns
    -------
    ndarray
        Shape ``(V**H, H)``, dtype ``uint8`` when ``V <= 256`` (else ``int64``).

    Examples
    --------
    >>> enumerate_sequences(2, 2)
    array([[0, 0],
           [0, 1],
           [1, 0],
           [1, 1]], dtype=uint8)
    """
    v = check_int(vocab_size, "vocab_size", low=1)
    h = check_int(horizon, "horizon", low=1)
    size = support_size(v, h, max_sequences)
    check_enumeration_bytes(_sequences_bytes(size, h), v, h, "")
    dtype = np.uint8 if v <= 256 else np.int64
    s = np.arange(size, dtype=np.int64)
    powers = v ** np.arange(h - 1, -1, -1, dtype=np.int64)
    return ((s[:, None] // powers) % v).astype(dtype)


def fixed_prompts(x, n_prompts, p, n):
    """Prompts given to ``sample``: shape ``(n,)`` or ``(P, n)``, broadcast to ``(P, n)``."""
    xs = as_int_array(x, "x", low=0, high=n_prompts, nonempty=False)
    try:
        return np.broadcast_to(xs, (p, n)).copy()
    except ValueError:
        raise ValueError(f"`x` must have shape (`n`,) or (P, `n`) with `n` = {n} and P = {p}, "
                         f"got {xs.shape}.") from None


def support_size(v, h, max_sequences):
    max_sequences = check_int(max_sequences, "max_sequences", low=1)
    if h * np.log(max(v, 1)) > np.log(max_sequences) + 1e-9:
        raise ValueError(f"exact enumeration of V**H = {v}**{h} sequences exceeds `max_sequences`="
                         f"{max_sequences}; use certified bounds (theory.log_ratio) or Monte Carlo.")
    return v ** h


#: Bytes of fixed overhead (Python objects, small tables) added to every estimate below.
_OVERHEAD_BYTES = 1 << 16


def _sequences_bytes(size, h):
    """Peak bytes of :func:`enumerate_sequences` for ``size`` sequences of length ``h``.

    The ``int64`` digits and their remainders (``16 * size * h`` bytes) with the numpy
    temporaries of the broadcast division (measured: within ``24 * size * h``).
    """
    return size * (24 * h + 16) + _OVERHEAD_BYTES


def _markov_enumeration_bytes(n_rows, v, h):
    """Peak bytes of :meth:`MarkovModel.enumerate_log_probs` for ``n_rows`` = models x prompts.

    The last level holds the previous level, the gathered step and the new level
    (``8 * n_rows * V**H`` bytes each, the previous level ``V`` times smaller), the gather's
    temporaries (measured: within another previous level) and the ``int64`` indices of
    last tokens.
    """
    size = v ** h
    return 8 * n_rows * (2 * size + 2 * (size // max(v, 1))) + 24 * size + _OVERHEAD_BYTES


def check_enumeration_bytes(n_bytes, v, h, rows):
    """Refuse an enumeration whose working set exceeds the byte budget (models x prompts x sequences)."""
    check_allocation(n_bytes, f"exact enumeration of the V**H = {v}**{h} sequences{rows} (bounded by "
                     "`max_sequences`, which counts sequences only)",
                     "use certified bounds (theory.certified) or Monte Carlo "
                     "(theory.log_ratio.sampled_log_ratio), or evaluate fewer models or prompts per call")


def rows_text(model):
    return f" for {model.n_models} model(s) x {model.n_prompts} prompt(s)"


def support_bytes(model, size):
    """Peak bytes of ``enumerate_support``: the enumeration, then ``x``, ``y`` and the weights."""
    rows, x, h = model.n_models * model.n_prompts, model.n_prompts, model.horizon
    item = 1 if model.vocab_size <= 256 else 8
    during = max(_sequences_bytes(size, h), item * size * h + model._enumeration_bytes())
    return during + 8 * rows * size + 8 * x * size + item * x * size * h


@dataclass(frozen=True, eq=False)
class MarkovModel:
    r"""Autoregressive model with Markov next-token distributions.

    Parameters
    ----------
    log_probs : ([P,] n_prompts, H or 1, V + 1, V) array_like
        Normalised next-token log-probabilities (``-inf`` allowed).  A position axis of
        length 1 is time-homogeneous.
    horizon : int
        Sequence length ``H``.
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution :math:`\mu` (uniform by default).

    Examples
    --------
    >>> import numpy as np
    >>> m = categorical_model([0.25, 0.75])
    >>> m.enumerate_log_probs().round(4)
    array([[-1.3863, -0.2877]])
    """

    log_probs: np.ndarray
    horizon: int
    prompt_weights: np.ndarray | None = None
    batch_shape: tuple = field(init=False)

    def __post_init__(self):
        lp = as_float_array(self.log_probs, "log_probs", allow_posinf=False)
        if lp.ndim not in (4, 5):
            raise ValueError("`log_probs` must have shape ([P,] n_prompts, H, V + 1, V), "
                             f"got {lp.shape}.")
        if lp.shape[-2] != lp.shape[-1] + 1:
            raise ValueError(f"`log_probs` axis -2 must be V + 1 = {lp.shape[-1] + 1}, got {lp.shape[-2]}.")
        total = logsumexp(lp, axis=-1)
        if not np.allclose(total, 0.0, atol=1e-8):
            raise ValueError("`log_probs` must be normalised over the last (token) axis "
                             f"(max |log-sum| {np.max(np.abs(total)):.3g}).")
        horizon = check_int(self.horizon, "horizon", low=1)
        if lp.shape[-3] not in (1, horizon):
            raise ValueError(f"`log_probs` position axis must have length 1 or `horizon`={horizon}, "
                             f"got {lp.shape[-3]}.")
        n_prompts = lp.shape[-4]
        if self.prompt_weights is None:
            mu = np.full(n_prompts, 1.0 / n_prompts)
        else:
            mu = check_weights(self.prompt_weights, "prompt_weights", (n_prompts,))
        object.__setattr__(self, "log_probs", snapshot(lp, self.log_probs))
        object.__setattr__(self, "horizon", horizon)
        object.__setattr__(self, "prompt_weights", snapshot(mu, self.prompt_weights))
        object.__setattr__(self, "batch_shape", lp.shape[:-4])

    # ------------------------------------------------------------------ shapes
    @property
    def n_prompts(self):
        return self.log_probs.shape[-4]

    @property
    def vocab_size(self):
        return self.log_probs.shape[-1]

    @property
    def n_models(self):
        return int(np.prod(self.batch_shape)) if self.batch_shape else 1

    @cached_property
    def _flat(self):
        """Table with an explicit model axis: ``(P, X, Hd, V+1, V)``."""
        return self.log_probs.reshape((self.n_models,) + self.log_probs.shape[-4:])

    def _pos(self, h):
        return h if self.log_probs.shape[-3] > 1 else np.zeros_like(h)

    def __getitem__(self, index):
        """The ``index``-th model of a batch, as an unbatched :class:`MarkovModel`."""
        if not self.batch_shape:
            raise TypeError("an unbatched MarkovModel cannot be indexed.")
        return MarkovModel(self.log_probs[index], self.horizon, self.prompt_weights)

    # -------------------------------------------------------------- validation
    def _sequences_iv(self, x, y, paired):
        x = as_int_array(x, "x", low=0, high=self.n_prompts)
        y = as_int_array(y, "y", low=0, high=self.vocab_size)
        if y.shape != x.shape + (self.horizon,):
            raise ValueError(f"`y` must have shape x.shape + (H,) = {x.shape + (self.horizon,)}, "
                             f"got {y.shape}.")
        if paired:
            if not self.batch_shape or x.ndim < 1 or x.shape[0] != self.n_models:
                raise ValueError(f"with paired=True the leading axis of `x` must index the "
                                 f"{self.n_models} models of the batch; got x.shape={x.shape}.")
        return x, y

    # -------------------------------------------------------------- evaluation
    def next_token_log_probs(self, x, y, *, paired=False):
        """Next-token distributions along given paths, shape ``(..., H, V)``.

        Entry ``[..., h, v]`` is :math:`\\log\\pi(v \\mid x, y_{<h})`.
        """
        x, y = self._sequences_iv(x, y, paired)
        prev = previous_tokens(y, self.vocab_size)
        pos = self._pos(np.arange(self.horizon))
        t = self._flat
        if paired:
            model = np.arange(self.n_models).reshape((-1,) + (1,) * x.ndim)
            return t[model, x[..., None], pos, prev]
        out = t[:, x[..., None], pos, prev]
        return out.reshape(self.batch_shape + out.shape[1:])

    def token_log_probs(self, x, y, *, paired=False):
        r"""Per-token log-probabilities :math:`\log\pi(y_h|x, y_{<h})`, shape ``(..., H)``."""
        x, y = self._sequences_iv(x, y, paired)
        prev = previous_tokens(y, self.vocab_size)
        pos = self._pos(np.arange(self.horizon))
        t = self._flat
        if paired:
            model = np.arange(self.n_models).reshape((-1,) + (1,) * x.ndim)
            return t[model, x[..., None], pos, prev, y]
        out = t[:, x[..., None], pos, prev, y]
        return out.reshape(self.batch_shape + out.shape[1:])

    def log_prob(self, x, y, *, paired=False):
        r"""Sequence log-probabilities :math:`\log\pi(y|x) = \sum_h \log\pi(y_h|x,y_{<h})`.

        Parameters
        ----------
        x : (...) array_like of int
            Prompts.
        y : (..., H) array_like of int
            Responses.
        paired : bool
            See the module docstring.

        Returns
        -------
        ndarray
            ``batch_shape + x.shape`` (or ``x.shape`` when paired).
        """
        x, y = self._sequences_iv(x, y, paired)
        if paired or self.n_models * y.size <= _CHUNK_FLOATS:
            return self.token_log_probs(x, y, paired=paired).sum(axis=-1)
        xf, yf = x.reshape(-1), y.reshape(-1, self.horizon)
        step = max(1, _CHUNK_FLOATS // (self.n_models * self.horizon))
        out = np.concatenate([self.token_log_probs(xf[i:i + step], yf[i:i + step]).sum(-1)
                              for i in range(0, len(xf), step)], axis=-1)
        return out.reshape(self.batch_shape + x.shape)

    def token_counts(self, x, y):
        """Sufficient statistics: counts of ``(x, h, prev, v)`` transitions, ``(X, Hd, V+1, V)``.

        The log-likelihood of a data set under every model of the batch is
        ``(log_probs * counts).sum()`` over the last four axes (see :meth:`log_likelihood`).
        """
        x, y = self._sequences_iv(x, y, False)
        prev = previous_tokens(y, self.vocab_size)
        pos = np.broadcast_to(self._pos(np.arange(self.horizon)), y.shape)
        shape = (self.n_prompts, self.log_probs.shape[-3], self.vocab_size + 1, self.vocab_size)
        flat = np.ravel_multi_index((np.broadcast_to(x[..., None], y.shape), pos, prev, y), shape)
        return np.bincount(flat.ravel(), minlength=int(np.prod(shape))).reshape(shape).astype(float)

    def log_likelihood(self, x, y):
        r"""Total log-likelihood :math:`\hat L_n(\pi) = \sum_i \log\pi(y_i|x_i)` of a data set.

        Computed from sufficient statistics for every model in the batch at once, at a
        cost independent of the number of sequences.  Returns ``batch_shape``.
        """
        counts = self.token_counts(x, y)
        t = self._flat
        with np.errstate(invalid="ignore"):
            terms = np.where(counts > 0, t * counts, 0.0)
        return terms.reshape(self.n_models, -1).sum(axis=1).reshape(self.batch_shape)

    # --------------------------------------------------------------- sampling
    def sample(self, n, *, rng, x=None):
        """Draw ``n`` i.i.d. pairs ``(x, y)`` from :math:`\\mu \\otimes \\pi` for each model.

        Parameters
        ----------
        n : int
            Number of sequences per model.
        rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        x : (n,) or (P, n) array_like of int, optional
            Fixed prompts instead of draws from :math:`\\mu`.

        Returns
        -------
        x : ``batch_shape + (n,)`` int array
        y : ``batch_shape + (n, H)`` int array (``uint8`` when ``V <= 256``)
        """
        n = check_int(n, "n", low=0)
        rng = check_rng(rng)
        p = self.n_models
        v = self.vocab_size
        check_allocation(p * n * (self.horizon + 8 * v + 40), f"sampling `n` = {n} sequences for {p} "
                         "model(s)", "draw the samples in batches")
        if x is None:
            xs = rng.choice(self.n_prompts, size=(p, n), p=self.prompt_weights)
        else:
            xs = fixed_prompts(x, self.n_prompts, p, n)
        dtype = np.uint8 if v <= 256 else np.int64
        hz, hd = self.horizon, self.log_probs.shape[-3]
        ys = np.empty((p, n, hz), dtype=dtype)
        probs = np.exp(self._flat)
        cdf = np.cumsum(probs, axis=-1)
        cdf[..., -1] = np.inf  # guards against rounding in the last bin
        thresholds = cdf_thresholds(cdf)                        # (V-1, P X Hd (V+1))
        base = (np.arange(p)[:, None] * self.n_prompts + xs).reshape(-1) * (hd * (v + 1))
        # one uniform per (position, model, sequence) in that order: blocks of positions
        block = max(1, _UNIFORM_BLOCK // max(p * n, 1))
        row_step = v + 1 if hd > 1 else 0
        kernel = compiled_kernel(p * n * hz)
        prev = None
        for h0 in range(0, hz, block):
            h1 = min(hz, h0 + block)
            u = rng.random((h1 - h0, p * n))
            if kernel is not None:
                y_view = ys.reshape(p * n, hz)[:, h0:h1]
                kernel(cdf.reshape(-1, v), base, u.T, y_view,
                       np.full(p * n, v) if prev is None else prev, h0, row_step)
                prev = ys.reshape(p * n, hz)[:, h1 - 1]
                continue
            y_t = np.empty((h1 - h0, p * n), dtype=dtype)
            prev = chain_tokens(thresholds, base, u, y_t, prev=prev, h0=h0, row_step=row_step)
            ys[:, :, h0:h1] = y_t.T.reshape(p, n, h1 - h0)
        return (xs.reshape(self.batch_shape + (n,)),
                ys.reshape(self.batch_shape + (n, self.horizon)))

    # ------------------------------------------------------------ enumeration
    def enumerate_log_probs(self, *, max_sequences=MAX_ENUMERATION):
        r"""Log-probabilities of all ``V**H`` sequences for every prompt.

        Built level by level (each prefix extended by every token), so the cost is
        :math:`O(V^H)` per prompt and model with no ``(V^H, H)`` intermediate.

        Returns
        -------
        ndarray
            ``batch_shape + (n_prompts, V**H)``: conditional log-probabilities
            :math:`\log\pi(y|x)`, sequences in the order of :func:`enumerate_sequences`.
        """
        v, horizon = self.vocab_size, self.horizon
        support_size(v, horizon, max_sequences)
        check_enumeration_bytes(self._enumeration_bytes(), v, horizon, rows_text(self))
        t = self._flat                                          # (P, X, Hd, V+1, V)
        p, x = t.shape[:2]
        lp = t[:, :, self._pos(0), v, :]                        # (P, X, V)
        for h in range(1, horizon):
            # prefix s ends with token s % V: broadcast over (prefix // V, last, next)
            step = t[:, :, self._pos(h), :v, :]                  # (P, X, V (last), V)
            lp = (lp.reshape(p, x, -1, v, 1) + step[:, :, None]).reshape(p, x, -1)
        return lp.reshape(self.batch_shape + lp.shape[1:])

    def _enumeration_bytes(self):
        return _markov_enumeration_bytes(self.n_models * self.n_prompts, self.vocab_size, self.horizon)

    def enumerate_support(self, *, max_sequences=MAX_ENUMERATION):
        """The joint support: ``x (S,)``, ``y (S, H)`` and ``log_weight`` :math:`\\log\\mu(x)\\pi(y|x)`.

        ``S = n_prompts * V**H``; for a batched model ``log_weight`` has shape
        ``batch_shape + (S,)``.
        """
        support_size(self.vocab_size, self.horizon, max_sequences)
        check_enumeration_bytes(support_bytes(self, self.vocab_size ** self.horizon),
                                 self.vocab_size, self.horizon, rows_text(self))
        y1 = enumerate_sequences(self.vocab_size, self.horizon, max_sequences=max_sequences)
        lp = self.enumerate_log_probs(max_sequences=max_sequences)
        with np.errstate(divide="ignore"):
            lw = lp + np.log(self.prompt_weights)[:, None]
        x = np.repeat(np.arange(self.n_prompts), len(y1))
        y = np.tile(y1, (self.n_prompts, 1))
        return x, y, lw.reshape(self.batch_shape + (-1,))

    # ---------------------------------------------------- forward marginals
    def state_marginals(self):
        r"""Law of the context ``(x, y_{h-1})`` at every position, ``(H, n_prompts, V + 1)``.

        Entry ``[h, x, prev]`` is :math:`P_{\mu\otimes\pi}[x, y_{h-1} = prev]` (``prev = V``
        is the begin-of-sequence symbol, all mass at ``h = 0``).  Unbatched models only.
        """
        if self.batch_shape:
            raise ValueError("state_marginals needs an unbatched model; index the batch first.")
        v = self.vocab_size
        check_allocation(8 * self.horizon * self.n_prompts * (v + 1) + _OVERHEAD_BYTES,
                         f"the per-position marginals of `horizon` = {self.horizon} positions",
                         "use state_visits() for sums over positions")
        p = np.exp(self.log_probs)                              # (X, Hd, V+1, V)
        out = np.zeros((self.horizon, self.n_prompts, v + 1))
        out[0, :, v] = self.prompt_weights
        for h in range(1, self.horizon):
            nxt = np.einsum("xp,xpv->xv", out[h - 1], p[:, self._pos(h - 1)])
            out[h, :, :v] = nxt
        return out

    def _transition_matrices(self, h):
        """``(X, V+1, V+1)`` transition matrices between contexts at position ``h``.

        Entry ``[x, prev, v]`` is :math:`\\pi(y_h = v|x, y_{h-1} = prev)` for ``v < V``; the
        begin-of-sequence column ``V`` is zero (that context occurs at ``h = 0`` only).
        """
        p = np.exp(self.log_probs[:, self._pos(h)])            # (X, V+1, V)
        return np.concatenate([p, np.zeros(p.shape[:-1] + (1,))], axis=-1)

    def state_visits(self):
        r"""Expected number of visits of every context, :math:`\sum_{h<H} P[x, y_{h-1} = prev]`, ``(n_prompts, V + 1)``.

        The sum over positions of :meth:`state_marginals` (the begin-of-sequence context
        ``prev = V`` is visited once, at ``h = 0``), so that for a time-homogeneous context
        function :math:`g` the sum :math:`\mathbb E\sum_h g(x, y_{h-1})` is
        ``(state_visits() * g).sum()``.  For a time-homogeneous table and long horizons it is
        computed by repeated squaring (:math:`O(V^3\log H)` per prompt, ``H = 10**12`` in
        milliseconds); otherwise position by position in :math:`O(HV^2)` time and
        :math:`O(V)` memory per prompt.  Unbatched models only.

        Returns
        -------
        ndarray
            ``(n_prompts, V + 1)``; each row sums to :math:`\mu(x) H`.
        """
        from ..squaring import power_and_sum, use_squaring

        if self.batch_shape:
            raise ValueError("state_visits needs an unbatched model; index the batch first.")
        v, H = self.vocab_size, self.horizon
        m = np.zeros((self.n_prompts, 1, v + 1))
        m[:, 0, v] = self.prompt_weights
        homogeneous = self.log_probs.shape[-3] == 1
        if use_squaring(H, v + 1, homogeneous):
            visits = power_and_sum(m, self._transition_matrices(0), H)[1][:, 0, :]
            # Rows of exp(log_probs) sum to 1 only up to rounding, and the H-th power turns a
            # row-sum error d into a mass drift of about H d (1e-4 at H = 1e12): restore the
            # exact total mu(x) H of every prompt.
            total = visits.sum(axis=-1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = np.where(total > 0, self.prompt_weights[:, None] * H / total, 0.0)
            return visits * scale
        total = np.zeros_like(m)
        T = self._transition_matrices(0) if homogeneous else None
        for h in range(H):
            total += m
            if h + 1 < H:
                m = m @ (T if homogeneous else self._transition_matrices(h))
        return total[:, 0, :]

    def expected_token_sum(self, values):
        r"""Exact :math:`\mathbb E_{\mu\otimes\pi}\sum_h g(x, h, y_{h-1})` for a context table ``g``.

        Parameters
        ----------
        values : (..., n_prompts, H or 1, V + 1) array_like
            ``g[x, h, prev]``; leading axes are kept.  Non-finite entries in contexts of
            zero probability are ignored.

        Returns
        -------
        per_position : (..., H) ndarray
            :math:`\mathbb E[g(x, h, y_{h-1})]` for each position.
        """
        g = as_float_array(values, "values", min_ndim=3, allow_nan=True)
        check_allocation(8 * self.horizon * self.n_prompts * (self.vocab_size + 1)
                         * (3 + int(np.prod(g.shape[:-3], dtype=object))) + _OVERHEAD_BYTES,
                         f"the per-position sums of `horizon` = {self.horizon} positions",
                         "use state_visits() for the sum over positions of a time-homogeneous `values`")
        marg = self.state_marginals()                          # (H, X, V+1)
        target = g.shape[:-3] + (self.n_prompts, self.horizon, self.vocab_size + 1)
        try:
            g = np.broadcast_to(g, target)
        except ValueError:
            raise ValueError(f"`values` must have shape (..., n_prompts, H or 1, V + 1) = "
                             f"(..., {self.n_prompts}, {self.horizon} or 1, {self.vocab_size + 1}), "
                             f"got {g.shape}.") from None
        g_hx = np.moveaxis(g, -2, -3)                          # (..., H, X, V+1)
        if (np.isnan(g_hx) & (marg > 0)).any():
            raise ValueError("`values` must not be NaN in a context of positive probability.")
        with np.errstate(invalid="ignore"):
            terms = np.where(marg > 0, marg * g_hx, 0.0)
        return terms.sum(axis=(-1, -2))


def categorical_model(probs, *, prompt_weights=None):
    r"""A one-step (``H = 1``) :class:`MarkovModel` from probabilities ``([P,] n_prompts, V)``.

    A 1-d ``probs`` is a single prompt.

    Parameters
    ----------
    probs : ([P,] n_prompts, V) or (V,) array_like
        Response probabilities of each prompt (rows sum to one); a leading axis ``P``
        makes a batch of models.
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution :math:`\mu` (uniform by default).

    Returns
    -------
    MarkovModel
        With ``horizon = 1``.

    Examples
    --------
    >>> categorical_model([[0.5, 0.5], [0.1, 0.9]]).n_prompts
    2
    """
    p = as_float_array(probs, "probs", allow_posinf=False, allow_neginf=False)
    if (p < 0).any():
        raise ValueError("`probs` must be non-negative.")
    if not np.allclose(p.sum(-1), 1.0, atol=1e-8):
        raise ValueError("`probs` must sum to one along the last axis.")
    if p.ndim == 1:
        p = p[None, :]
    v = p.shape[-1]
    with np.errstate(divide="ignore"):
        lp = np.log(p)
    # Unused begin-of-sequence-free rows still need to be normalised: fill them with lp too.
    table = np.broadcast_to(lp[..., None, None, :], p.shape[:-1] + (1, v + 1, v))
    return MarkovModel(table, 1, prompt_weights)
