r"""The step loop of sequence-level SGD on token streams, from context-token counts.

Sequence-level one-pass training (Eq. (8) ICLR / (14) arXiv) with plain token weights needs
only the context-token counts :math:`N_t[c, v]` of each step's minibatch (see
:mod:`~simulations.learners.training`).  Per step and replicate the score is

.. math:: \sum_{c,v}\big(N[c,v] - N[c]\,q_\theta(v|c)\big)\,\Phi[c,v],
          \qquad q_\theta(\cdot|c) = \mathrm{softmax}(\Phi[c]\theta),

and the optimizer receives :math:`-\text{score}/K`.  Every sum has one fixed order, shared
by the numpy path and the optional compiled one, so both give the same iterates bit for
bit: logits summed over coordinates in order, softmax normaliser over tokens in order,
the score over ``(c, v)`` in order from ``0`` (``np.bincount``), and ``np.exp`` applied by
numpy in both paths (numba's ``exp`` is libm's, which differs from numpy's SIMD one in the
last bit).

Compiled path (numba installed, ``COVERAGE_PRINCIPLE_NUMBA`` not ``0``, enough tokens, see
:func:`theory.models.chain_sampler.compiled_module`):

* sampling and counting fused: the inverse-CDF chains add each token to the counts as it
  is drawn (the tokens are never stored).  With numpy's default ``PCG64`` the generator is
  stepped inline (:func:`theory.models._chain_numba.chain_counts_pcg_kernel`, comparing
  the uniforms' 53 bits with integer thresholds); other generators fill a buffer with
  ``Generator.random`` (:func:`theory.models._chain_numba.chain_counts_kernel`).  Either
  way the uniforms are the stream's, in its order, so the stream is the pinned one;
* the step (score, ``chain(scale(c), [project_l2_ball(r)])``, next logits) in
  :func:`simulations.learners._sgd_numba.sgd_step`, one call per step (the first logits by
  its twin :func:`simulations.learners._sgd_numba.shifted_logits`); other optimizers run
  through their ``update``.
"""

from __future__ import annotations

import numpy as np

from theory.models.chain_sampler import compiled_module, pcg64_lanes

from .optimizers import apply_updates
from .stream import DataStream

__all__ = ["run_count_steps", "shifted_logits", "numpy_score", "compiled_step", "step_spec"]

#: Tokens per block of uniforms in the fused sampler (the block stays in cache).
_TOKEN_BLOCK = 1 << 16

_STEP = None                                   # None: not looked up; False: unavailable


def compiled_step():
    """The module :mod:`simulations.learners._sgd_numba` (``sgd_step``, ``shifted_logits``), or
    ``None`` if it cannot be compiled."""
    global _STEP
    if _STEP is None:
        try:
            from . import _sgd_numba
            _STEP = _sgd_numba
        except Exception:                      # numba missing or compilation failed
            _STEP = False
    return _STEP or None


def step_spec(optimizer, R, d):
    """``(factor (R,), radius)`` when ``optimizer`` is ``chain(scale(c), [project_l2_ball(r)])``
    with ``c`` a scalar or per-replicate ``(R, 1)`` factor, else ``None`` (``radius = -1``: no
    projection).  The projection needs ``d < 8``: numpy sums fewer than 8 terms in order."""
    def leaves(spec):
        if spec is None:
            return None
        if spec[0] != "chain":
            return [spec]
        out = []
        for s in spec[1]:
            sub = leaves(s)
            if sub is None:
                return None
            out += sub
        return out

    ops = leaves(getattr(optimizer, "spec", None))
    if not ops or ops[0][0] != "scale" or len(ops) > 2:
        return None
    c = np.asarray(ops[0][1], dtype=float)
    if c.ndim == 0:
        factor = np.full(R, c)
    else:
        try:
            factor = np.broadcast_to(c, (R, 1))[:, 0].copy()
        except ValueError:
            return None
    if len(ops) == 1:
        return factor, -1.0
    if ops[1][0] != "project_l2_ball" or d >= 8:
        return None
    return factor, float(ops[1][1])


def shifted_logits(theta, table, vocab_size):
    """Logits ``theta . Phi[c, v]`` minus their max over ``v``: ``(R, C, V)`` (coordinates summed in order)."""
    acc = theta[:, None, 0] * table[None, :, 0]
    for j in range(1, theta.shape[1]):
        acc += theta[:, None, j] * table[None, :, j]
    z = acc.reshape(theta.shape[0], -1, vocab_size)
    m = z[..., 0].copy()
    for a in range(1, vocab_size):
        np.maximum(m, z[..., a], out=m)
    z -= m[..., None]
    return z


def numpy_score(e, counts, table, ids):
    r"""Score sums ``(R, d)`` from ``e = exp(shifted logits)`` ``(R, C, V)`` and counts ``(R, C V)``.

    :math:`\sum_{c,v}(N_{cv} - N_c\,e_{cv}/s_c)\Phi_{cv}` with :math:`s_c = \sum_v e_{cv}`
    in order; ``ids = repeat(arange(R d), C V)`` (the bincount's bins).
    """
    R, C, v = e.shape
    s = e[..., 0].copy()
    n3 = counts.reshape(R, C, v)
    nc = n3[..., 0].copy()
    for a in range(1, v):
        s += e[..., a]
        nc += n3[..., a]
    w = n3 - nc[..., None] * (e / s[..., None])
    terms = w.reshape(R, 1, C * v) * table.T[None]                        # (R, d, C V)
    return np.bincount(ids, weights=terms.ravel(), minlength=R * table.shape[1]).reshape(R, table.shape[1])


def _fused_counts(engine, src, shape, rngs, kernels):
    """Counts ``shape[:2] + (C V,)`` of fresh sequences, sampled and counted in compiled code."""
    rng_x, rng_y = rngs
    K = shape[-1]
    x = src.prompts(shape, rng_x).reshape(-1).astype(np.intp)
    n, hz, v = x.size, src.horizon, src.vocab_size
    _, hd, p = engine.ctx_shape
    counts = np.zeros((n // K, engine.n_ctx * v))
    base = x * (src._hd * (v + 1))
    row_step = v + 1 if src._hd > 1 else 0
    ctx_base = x * (hd * p)
    ctx_step, ctx_prev = (p if hd > 1 else 0), (1 if p > 1 else 0)
    if ctx_step == 0:
        lanes = pcg64_lanes(rng_y, hz, kernels.PCG_LANES)
        if lanes is not None:                      # numpy's default generator: drawn inline
            kernels.chain_counts_pcg_kernel(src._int_thresholds, base, row_step, n, hz, *lanes,
                                            ctx_base, ctx_prev, K, counts)
            rng_y.bit_generator.advance(n * hz)
            return counts.reshape(shape[0], shape[1], -1)
    block = max(1, _TOKEN_BLOCK // (hz * K)) * K
    u = np.empty((min(block, n), hz))
    for n0 in range(0, n, block):
        n1 = min(n, n0 + block)
        ub = u[:n1 - n0]
        rng_y.random(out=ub)
        kernels.chain_counts_kernel(src._cdf_rows, base[n0:n1], row_step, ub,
                                    ctx_base[n0:n1], ctx_step, ctx_prev, K, counts[n0 // K:])
    return counts.reshape(shape[0], shape[1], -1)


def run_count_steps(engine, src, opt, theta, state, T, K, rngs, rec, chunk):
    """Run ``T`` sequence-level steps on the counts of a token stream; returns ``(theta, state)``.

    ``src`` is any token stream (``draw(shape, rngs)``); a :class:`DataStream` is sampled
    and counted in compiled code when the kernels are available.  ``chunk`` steps are drawn
    at a time (the stream and the iterates do not depend on it).
    """
    R, d = theta.shape
    hz, v = engine.horizon, engine.vocab_size
    kernels = compiled_module(T * R * K * hz)
    fuse = kernels is not None and type(src) is DataStream
    compiled = compiled_step() if kernels is not None else None
    spec = step_spec(opt, R, d) if compiled is not None else None
    table = engine._table_cvd
    C = chunk
    theta = np.array(theta, dtype=float, order="C")
    if spec is not None:
        step = compiled.sgd_step
        z = np.empty((R, engine.n_ctx, v))
        compiled.shifted_logits(theta, table, z)
    else:
        ids = np.repeat(np.arange(R * d), table.shape[0])
        z = shifted_logits(theta, table, v)
    e = np.empty_like(z)
    n_seq = float(K)
    for t0 in range(0, T, C):
        c = min(C, T - t0)
        if fuse:
            counts = _fused_counts(engine, src, (c, R, K), rngs, kernels)
        else:
            x, y = src.draw((c, R, K), rngs)
            counts = engine.context_token_counts(x, y).reshape(c, R, -1)
        iters = np.empty((c, R, d))
        for i in range(c):
            iters[i] = theta
            rec.log_theta(t0 + i, theta)
            np.exp(z, out=e)
            if spec is not None:
                step(e, counts[i], table, n_seq, spec[0], spec[1], theta, z)
            else:
                g = -numpy_score(e, counts[i], table, ids) / K
                upd, state = opt.update(g, state, theta)
                theta = np.ascontiguousarray(apply_updates(theta, upd))
                z = shifted_logits(theta, table, v)
        rec.flush(iters, t0)
    return theta, state
