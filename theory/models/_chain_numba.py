"""Compiled inverse-CDF chain kernels (optional: need ``numba``; see :mod:`theory.models._chain`).

Imported only when numba is installed and the compiled path is enabled; compiled on first
use and cached on disk (``cache=True``), so the cost is paid once per machine.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

#: Chains advanced together (independent dependency chains overlap in the CPU).
_LANES = 16


@numba.njit(cache=True, nogil=True)
def chain_kernel(cdf, base, u, y, prev, h0, row_step):  # pragma: no cover - compiled
    """``y[n, j] = #{a < V-1 : cdf[base[n] + (h0+j) row_step + s, a] <= u[n, j]}``, ``s`` the previous token.

    ``cdf`` ``(rows, V)``; ``u``, ``y`` ``(N, L)`` (any strides); ``prev`` ``(N,)`` tokens
    before position ``h0`` (``V`` = begin of sequence).
    """
    n_chains, length = u.shape
    n_thr = cdf.shape[1] - 1
    state = np.empty(_LANES, np.int64)
    for n0 in range(0, n_chains, _LANES):
        lanes = min(_LANES, n_chains - n0)
        for i in range(lanes):
            state[i] = prev[n0 + i]
        for j in range(length):
            off = (h0 + j) * row_step
            for i in range(lanes):
                n = n0 + i
                r = base[n] + off + state[i]
                uu = u[n, j]
                k = 0
                for a in range(n_thr):
                    k += cdf[r, a] <= uu
                y[n, j] = k
                state[i] = k


@numba.njit(cache=True, nogil=True)
def chain_counts_kernel(cdf, base, row_step, u, ctx_base, ctx_step, ctx_prev, per_row,
                        counts):  # pragma: no cover - compiled
    """Sample whole chains from position 0 and add their context-token counts to ``counts``.

    The tokens are those of :func:`chain_kernel` (``h0 = 0``, begin of sequence); token
    ``y`` at position ``h`` after token ``s`` of chain ``n`` adds one to
    ``counts[n // per_row, (ctx_base[n] + h ctx_step + ctx_prev s) V + y]``.  Contexts that
    do not depend on the position (``ctx_step = 0``) are counted per chain in a small local
    table first (no store-to-load stalls between chains).
    """
    n_chains, length = u.shape
    v = cdf.shape[1]
    n_thr = v - 1
    n_cell = (v * ctx_prev + 1) * v
    local = ctx_step == 0
    state = np.empty(_LANES, np.int64)
    row0 = np.empty(_LANES, np.int64)
    cells = np.zeros((_LANES, n_cell if local else 1), np.int64)
    for n0 in range(0, n_chains, _LANES):
        lanes = min(_LANES, n_chains - n0)
        for i in range(lanes):
            state[i] = v
            row0[i] = base[n0 + i]
        for j in range(length):
            off = j * row_step
            coff = j * ctx_step
            for i in range(lanes):
                n = n0 + i
                s = state[i]
                uu = u[n, j]
                r = row0[i] + off + s
                k = 0
                for a in range(n_thr):
                    k += cdf[r, a] <= uu
                if local:
                    cells[i, ctx_prev * s * v + k] += 1
                else:
                    counts[n // per_row, (ctx_base[n] + coff + ctx_prev * s) * v + k] += 1.0
                state[i] = k
        if local:
            for i in range(lanes):
                n = n0 + i
                c0 = ctx_base[n] * v
                for cell in range(n_cell):
                    counts[n // per_row, c0 + cell] += cells[i, cell]
                    cells[i, cell] = 0


# ----------------------------------------------------------------------------- PCG64 inline
@intrinsic
def _mulhi(typingctx, a, b):  # pragma: no cover - compiled
    """High 64 bits of the 128-bit product of two uint64 (one machine multiply)."""
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        p = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        return builder.trunc(builder.lshr(p, ir.Constant(i128, 64)), ir.IntType(64))

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def chain_counts_pcg_kernel(cdf, base, row_step, n_chains, length, pcg, jumps, ctx_base, ctx_prev,
                            per_row, counts):  # pragma: no cover - compiled
    """:func:`chain_counts_kernel` (``ctx_step = 0``) drawing its uniforms from PCG64 inline.

    ``pcg = (state_hi, state_lo, inc_hi, inc_lo)`` (uint64) is the state of numpy's ``PCG64``
    before the call; chain ``n`` position ``j`` uses the stream's ``(n length + j + 1)``-th
    double, ``(next64 >> 11) 2^-53`` with ``next64`` the XSL-RR output of the advanced
    128-bit LCG state, as numpy's ``Generator.random`` does.  ``jumps[i] = (A_hi, A_lo,
    C_hi, C_lo)`` advance the LCG by ``i * length`` steps (``i < LANES``) and row ``LANES``
    by ``LANES * length``: each lane runs its own chain of the stream, so the LCG steps of
    the lanes overlap.  The caller advances the generator by ``n_chains * length`` after.
    """
    v = cdf.shape[1]
    n_thr = v - 1
    n_cell = (v * ctx_prev + 1) * v
    mh = np.uint64(0x2360ED051FC65DA4)
    ml = np.uint64(0x4385DF649FCCF645)
    s11, s58, s64, m63 = np.uint64(11), np.uint64(58), np.uint64(64), np.uint64(63)
    inc_hi, inc_lo = pcg[2], pcg[3]
    sh, sl = pcg[0], pcg[1]
    state = np.empty(_LANES, np.int64)
    row0 = np.empty(_LANES, np.int64)
    hs = np.empty(_LANES, np.uint64)
    ls = np.empty(_LANES, np.uint64)
    cells = np.zeros((_LANES, n_cell), np.int64)
    for n0 in range(0, n_chains, _LANES):
        lanes = min(_LANES, n_chains - n0)
        for i in range(lanes):
            state[i] = v
            row0[i] = base[n0 + i]
            lo = jumps[i, 1] * sl
            hi = _mulhi(jumps[i, 1], sl) + jumps[i, 1] * sh + jumps[i, 0] * sl
            lo2 = lo + jumps[i, 3]
            hs[i] = hi + jumps[i, 2] + np.uint64(lo2 < lo)
            ls[i] = lo2
        for j in range(length):
            off = j * row_step
            for i in range(lanes):
                lo, hi = ls[i], hs[i]
                nlo = lo * ml
                nhi = _mulhi(lo, ml) + lo * mh + hi * ml
                lo = nlo + inc_lo
                hi = nhi + inc_hi + np.uint64(lo < nlo)
                ls[i], hs[i] = lo, hi
                val = hi ^ lo
                rot = hi >> s58
                uu = np.float64((((val >> rot) | (val << ((s64 - rot) & m63))) >> s11)) \
                    * (1.0 / 9007199254740992.0)
                s = state[i]
                r = row0[i] + off + s
                k = 0
                for a in range(n_thr):
                    k += cdf[r, a] <= uu
                cells[i, ctx_prev * s * v + k] += 1
                state[i] = k
        for i in range(lanes):
            n = n0 + i
            c0 = ctx_base[n] * v
            for cell in range(n_cell):
                counts[n // per_row, c0 + cell] += cells[i, cell]
                cells[i, cell] = 0
        lo = jumps[_LANES, 1] * sl
        hi = _mulhi(jumps[_LANES, 1], sl) + jumps[_LANES, 1] * sh + jumps[_LANES, 0] * sl
        lo2 = lo + jumps[_LANES, 3]
        sh = hi + jumps[_LANES, 2] + np.uint64(lo2 < lo)
        sl = lo2
