"""Compiled inverse-CDF chain kernels (optional: need ``numba``; see :mod:`theory.models.chain_sampler`).

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


#: Chains of the PCG64 kernel advanced together, their states held in registers.
PCG_LANES = 4


@numba.njit(inline="always")
def _pcg64_double(lo, hi, inc_lo, inc_hi):  # pragma: no cover - compiled
    """Advance the 128-bit LCG ``(hi, lo)`` one step; return ``(lo, hi, u)`` with ``u`` numpy's next double."""
    nlo = lo * np.uint64(0x4385DF649FCCF645)
    nhi = (_mulhi(lo, np.uint64(0x4385DF649FCCF645)) + lo * np.uint64(0x2360ED051FC65DA4)
           + hi * np.uint64(0x4385DF649FCCF645))
    lo = nlo + inc_lo
    hi = nhi + inc_hi + np.uint64(lo < nlo)
    val = hi ^ lo                                               # XSL-RR output
    rot = hi >> np.uint64(58)
    out = (val >> rot) | (val << ((np.uint64(64) - rot) & np.uint64(63)))
    return lo, hi, np.float64(out >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(inline="always")
def _lcg_apply(jump, hi, lo):  # pragma: no cover - compiled
    """``A state + C mod 2^128`` for ``jump = (A_hi, A_lo, C_hi, C_lo)``: returns ``(hi, lo)``."""
    plo = jump[1] * lo
    phi = _mulhi(jump[1], lo) + jump[1] * hi + jump[0] * lo
    rlo = plo + jump[3]
    return phi + jump[2] + np.uint64(rlo < plo), rlo


@numba.njit(inline="always")
def _token(cdf, row, n_thr, u):  # pragma: no cover - compiled
    k = 0
    for a in range(n_thr):
        k += cdf[row + a] <= u
    return k


@numba.njit(cache=True, nogil=True)
def chain_counts_pcg_kernel(cdf, base, row_step, n_chains, length, pcg, jumps, ctx_base, ctx_prev,
                            per_row, counts):  # pragma: no cover - compiled
    """:func:`chain_counts_kernel` (``ctx_step = 0``) drawing its uniforms from PCG64 inline.

    ``pcg = (state_hi, state_lo, inc_hi, inc_lo)`` (uint64) is the state of numpy's ``PCG64``
    before the call; chain ``n`` position ``j`` uses the stream's ``(n length + j + 1)``-th
    double, ``(next64 >> 11) 2^-53`` with ``next64`` the XSL-RR output of the advanced
    128-bit LCG state, as numpy's ``Generator.random`` does.  ``jumps[i] = (A_hi, A_lo,
    C_hi, C_lo)`` advance the LCG by ``i * length`` steps (``i < PCG_LANES``) and row
    ``PCG_LANES`` by ``PCG_LANES * length``: each of the :data:`PCG_LANES` chains advanced
    together starts its own stretch of the stream, so their LCG steps and CDF look-ups
    overlap.  The caller advances the generator by ``n_chains * length`` after.
    """
    v = cdf.shape[1]
    n_thr = v - 1
    flat = cdf.ravel()
    n_cell = (v * ctx_prev + 1) * v
    cp = ctx_prev * v
    inc_hi, inc_lo = pcg[2], pcg[3]
    sh, sl = pcg[0], pcg[1]
    cells = np.zeros((PCG_LANES, n_cell), np.int64)
    n0 = 0
    while n0 < n_chains:
        if n0 + PCG_LANES <= n_chains:                         # four chains in registers
            h0, l0 = _lcg_apply(jumps[0], sh, sl)
            h1, l1 = _lcg_apply(jumps[1], sh, sl)
            h2, l2 = _lcg_apply(jumps[2], sh, sl)
            h3, l3 = _lcg_apply(jumps[3], sh, sl)
            b0, b1 = base[n0] * v, base[n0 + 1] * v
            b2, b3 = base[n0 + 2] * v, base[n0 + 3] * v
            s0 = s1 = s2 = s3 = v
            for j in range(length):
                off = j * row_step * v
                l0, h0, u0 = _pcg64_double(l0, h0, inc_lo, inc_hi)
                l1, h1, u1 = _pcg64_double(l1, h1, inc_lo, inc_hi)
                l2, h2, u2 = _pcg64_double(l2, h2, inc_lo, inc_hi)
                l3, h3, u3 = _pcg64_double(l3, h3, inc_lo, inc_hi)
                k0 = _token(flat, b0 + off + s0 * v, n_thr, u0)
                k1 = _token(flat, b1 + off + s1 * v, n_thr, u1)
                k2 = _token(flat, b2 + off + s2 * v, n_thr, u2)
                k3 = _token(flat, b3 + off + s3 * v, n_thr, u3)
                cells[0, cp * s0 + k0] += 1
                cells[1, cp * s1 + k1] += 1
                cells[2, cp * s2 + k2] += 1
                cells[3, cp * s3 + k3] += 1
                s0, s1, s2, s3 = k0, k1, k2, k3
            lanes = PCG_LANES
        else:                                                  # the last chains, one at a time
            lanes = n_chains - n0
            for i in range(lanes):
                hi, lo = _lcg_apply(jumps[i], sh, sl)
                b, s = base[n0 + i] * v, v
                for j in range(length):
                    lo, hi, u = _pcg64_double(lo, hi, inc_lo, inc_hi)
                    k = _token(flat, b + j * row_step * v + s * v, n_thr, u)
                    cells[i, cp * s + k] += 1
                    s = k
        for i in range(lanes):
            n = n0 + i
            c0 = ctx_base[n] * v
            for cell in range(n_cell):
                counts[n // per_row, c0 + cell] += cells[i, cell]
                cells[i, cell] = 0
        sh, sl = _lcg_apply(jumps[PCG_LANES], sh, sl)
        n0 += lanes
