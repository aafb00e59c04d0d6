r"""Fresh samples from a tabular data distribution for one-pass training (:class:`DataStream`)."""

from __future__ import annotations

import functools

import numpy as np

from theory.models import AutoregressiveLinearModel, MarkovModel
from theory.models.chain_sampler import cdf_thresholds, chain_tokens, compiled_kernel, integer_thresholds

from .scores import is_iid_features

__all__ = ["DataStream"]

#: Tokens per block of the Markov sampler (uniforms of a block stay in cache).
_TOKEN_BLOCK = 1 << 18


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
        iid = m.horizon == 1 or is_iid_features(lp)
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
        self._prompt_cdf = np.add.accumulate(self.prompt_weights)
        self._prompt_cdf[-1] = np.inf
        p = np.exp(lp)
        self._probs_iid = p[:, 0, -1] if iid else None                 # (X, V) at BOS (= all rows)
        cdf = np.add.accumulate(p, axis=-1)
        cdf[..., -1] = np.inf
        self._cdf = cdf
        self._hd = lp.shape[1]
        self._thresholds = cdf_thresholds(cdf)                         # (V-1, X Hd (V+1))
        self._cdf_rows = cdf.reshape(-1, self.vocab_size)              # (X Hd (V+1), V)

    @functools.cached_property
    def _int_thresholds(self):
        """The CDF thresholds as integers for the compiled PCG64 sampler, ``(rows, V - 1)`` uint64
        (:func:`theory.models.chain_sampler.integer_thresholds`; computed on first use)."""
        return integer_thresholds(self._cdf_rows)

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
        :func:`theory.models.chain_sampler.chain_tokens` on blocks of sequences (uniforms
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

