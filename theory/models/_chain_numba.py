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


@numba.njit(inline="always")
def _float_token(flat, row, n_thr, u):  # pragma: no cover - compiled
    """``#{a < n_thr : flat[row + a] <= u}`` (unsigned indices: no wrap-around checks)."""
    k = 0
    for a in range(n_thr):
        k += flat[row + np.uint64(a)] <= u
    return k


@numba.njit(cache=True, nogil=True)
def chain_kernel(cdf, base, u, y, prev, h0, row_step):  # pragma: no cover - compiled
    """``y[n, j] = #{a < V-1 : cdf[base[n] + (h0+j) row_step + s, a] <= u[n, j]}``, ``s`` the previous token.

    ``cdf`` ``(rows, V)``; ``u``, ``y`` ``(N, L)`` (any strides); ``prev`` ``(N,)`` tokens
    before position ``h0`` (``V`` = begin of sequence).
    """
    n_chains, length = u.shape
    v = cdf.shape[1]
    n_thr = v - 1
    flat = cdf.ravel()
    state = np.empty(_LANES, np.int64)
    for n0 in range(0, n_chains, _LANES):
        lanes = min(_LANES, n_chains - n0)
        for i in range(lanes):
            state[i] = prev[n0 + i]
        for j in range(length):
            off = (h0 + j) * row_step
            for i in range(lanes):
                n = n0 + i
                k = _float_token(flat, np.uint64((base[n] + off + state[i]) * v), n_thr, u[n, j])
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
    flat = cdf.ravel()
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
                k = _float_token(flat, np.uint64((row0[i] + off + s) * v), n_thr, uu)
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
_I128_MULT = 0x2360ED051FC65DA44385DF649FCCF645                 # numpy's PCG64 LCG multiplier


@intrinsic
def _mulhi(typingctx, a, b):  # pragma: no cover - compiled
    """High 64 bits of the 128-bit product of two uint64 (one machine multiply)."""
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        p = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        return builder.trunc(builder.lshr(p, ir.Constant(i128, 64)), ir.IntType(64))

    return sig, codegen


@intrinsic
def _pcg64_next53(typingctx, lo, hi, inc_lo, inc_hi):  # pragma: no cover - compiled
    """One step of numpy's ``PCG64``: ``(lo, hi, next64 >> 11)`` of the advanced state.

    The 128-bit LCG ``state M + inc`` is written in 128-bit LLVM arithmetic (one ``mulx``,
    two ``imul``, ``add``/``adc``), the XSL-RR output as a funnel shift (one ``ror``).
    ``Generator.random`` returns ``(next64 >> 11) 2^-53``.
    """
    u64 = types.uint64
    sig = types.UniTuple(u64, 3)(u64, u64, u64, u64)

    def codegen(context, builder, signature, args):
        i64, i128 = ir.IntType(64), ir.IntType(128)
        c64 = ir.Constant(i128, 64)

        def join(low, high):
            return builder.or_(builder.shl(builder.zext(high, i128), c64), builder.zext(low, i128))

        state = builder.add(builder.mul(join(args[0], args[1]), ir.Constant(i128, _I128_MULT)),
                            join(args[2], args[3]))
        new_lo = builder.trunc(state, i64)
        new_hi = builder.trunc(builder.lshr(state, c64), i64)
        fshr = builder.module.declare_intrinsic("llvm.fshr", [i64],
                                                ir.FunctionType(i64, [i64, i64, i64]))
        val = builder.xor(new_hi, new_lo)
        out = builder.call(fshr, [val, val, builder.lshr(new_hi, ir.Constant(i64, 58))])
        return context.make_tuple(builder, signature.return_type,
                                  [new_lo, new_hi, builder.lshr(out, ir.Constant(i64, 11))])

    return sig, codegen


#: Chains of the PCG64 kernel advanced together (2 to 8 lanes measured alike once the token
#: is specialised: the loop is bound by instruction throughput, not by the chains' latency).
PCG_LANES = 4


@numba.njit(inline="always")
def _lcg_apply(jump, hi, lo):  # pragma: no cover - compiled
    """``A state + C mod 2^128`` for ``jump = (A_hi, A_lo, C_hi, C_lo)``: returns ``(hi, lo)``."""
    plo = jump[1] * lo
    phi = _mulhi(jump[1], lo) + jump[1] * hi + jump[0] * lo
    rlo = plo + jump[3]
    return phi + jump[2] + np.uint64(rlo < plo), rlo


@numba.njit(inline="always")
def _int_token(thr, row, n_thr, m):  # pragma: no cover - compiled
    """``#{a < n_thr : thr[row + a] <= m}`` (unsigned indices: no wrap-around checks)."""
    k = np.uint64(0)
    for a in range(n_thr):
        k += np.uint64(thr[row + np.uint64(a)] <= m)
    return k


@numba.njit(inline="always")
def _flush_cells(cells, n_cell, n0, lanes, v, ctx_base, per_row, counts):  # pragma: no cover - compiled
    """Add the per-chain count tables of chains ``n0 .. n0 + lanes - 1`` to ``counts``; zero them."""
    for i in range(lanes):
        n = n0 + i
        c0 = ctx_base[n] * v
        for cell in range(n_cell):
            counts[n // per_row, c0 + cell] += cells[i * n_cell + cell]
            cells[i * n_cell + cell] = 0


@numba.njit(inline="always")
def _pcg_groups(thr, n_thr, cp, base, row_step, n0, n1, length, pcg, jumps, ctx_base, per_row,
                counts, cells, sh, sl):  # pragma: no cover - compiled
    """Chains ``n0 .. n1 - 1`` (``n1 - n0`` a multiple of :data:`PCG_LANES`), four at a time with
    their states in registers, from the LCG state ``(sh, sl)`` of chain ``n0``; returns the
    state after them.  Inlined, so a caller passing literal ``n_thr`` and ``cp`` gets a copy
    with the token's comparisons unrolled."""
    one, nt, cpu = np.uint64(1), np.uint64(n_thr), np.uint64(cp)
    v = n_thr + 1
    n_cell = (cp + 1) * v
    nc = np.uint64(n_cell)
    step = np.uint64(row_step) * nt
    inc_hi, inc_lo = pcg[2], pcg[3]
    for g in range(n0, n1, PCG_LANES):
        h0, l0 = _lcg_apply(jumps[0], sh, sl)
        h1, l1 = _lcg_apply(jumps[1], sh, sl)
        h2, l2 = _lcg_apply(jumps[2], sh, sl)
        h3, l3 = _lcg_apply(jumps[3], sh, sl)
        r0, r1 = np.uint64(base[g]) * nt, np.uint64(base[g + 1]) * nt
        r2, r3 = np.uint64(base[g + 2]) * nt, np.uint64(base[g + 3]) * nt
        s0 = s1 = s2 = s3 = np.uint64(v)
        for _ in range(length):
            l0, h0, m0 = _pcg64_next53(l0, h0, inc_lo, inc_hi)
            l1, h1, m1 = _pcg64_next53(l1, h1, inc_lo, inc_hi)
            l2, h2, m2 = _pcg64_next53(l2, h2, inc_lo, inc_hi)
            l3, h3, m3 = _pcg64_next53(l3, h3, inc_lo, inc_hi)
            k0 = _int_token(thr, r0 + s0 * nt, n_thr, m0)
            k1 = _int_token(thr, r1 + s1 * nt, n_thr, m1)
            k2 = _int_token(thr, r2 + s2 * nt, n_thr, m2)
            k3 = _int_token(thr, r3 + s3 * nt, n_thr, m3)
            cells[cpu * s0 + k0] += one
            cells[nc + cpu * s1 + k1] += one
            cells[nc + nc + cpu * s2 + k2] += one
            cells[nc + nc + nc + cpu * s3 + k3] += one
            s0, s1, s2, s3 = k0, k1, k2, k3
            r0 += step
            r1 += step
            r2 += step
            r3 += step
        _flush_cells(cells, n_cell, g, PCG_LANES, v, ctx_base, per_row, counts)
        sh, sl = _lcg_apply(jumps[PCG_LANES], sh, sl)
    return sh, sl


@numba.njit(nogil=True)
def _pcg_general(thr, n_thr, cp, base, row_step, n0, n_chains, length, pcg, jumps, ctx_base,
                 per_row, counts, cells, sh, sl):  # pragma: no cover - compiled
    """Chains ``n0 .. n_chains - 1`` for any ``V``: groups of four, then the last chains one at
    a time (one compiled copy, shared by every ``V``)."""
    n1 = n0 + (n_chains - n0) // PCG_LANES * PCG_LANES
    sh, sl = _pcg_groups(thr, n_thr, cp, base, row_step, n0, n1, length, pcg, jumps, ctx_base,
                         per_row, counts, cells, sh, sl)
    one, nt, cpu = np.uint64(1), np.uint64(n_thr), np.uint64(cp)
    v = n_thr + 1
    nc = np.uint64((cp + 1) * v)
    step = np.uint64(row_step) * nt
    inc_hi, inc_lo = pcg[2], pcg[3]
    for i in range(n_chains - n1):
        hi, lo = _lcg_apply(jumps[i], sh, sl)
        r, s, c0 = np.uint64(base[n1 + i]) * nt, np.uint64(v), np.uint64(i) * nc
        for _ in range(length):
            lo, hi, m = _pcg64_next53(lo, hi, inc_lo, inc_hi)
            k = _int_token(thr, r + s * nt, n_thr, m)
            cells[c0 + cpu * s + k] += one
            s = k
            r += step
    _flush_cells(cells, (cp + 1) * v, n1, n_chains - n1, v, ctx_base, per_row, counts)


@numba.njit(cache=True, nogil=True)
def chain_counts_pcg_kernel(thr, base, row_step, n_chains, length, pcg, jumps, ctx_base, ctx_prev,
                            per_row, counts):  # pragma: no cover - compiled
    """:func:`chain_counts_kernel` (``ctx_step = 0``) drawing its uniforms from PCG64 inline.

    ``thr`` ``(rows, V - 1)`` uint64 are the CDF thresholds as integers
    (:func:`theory.models.chain_sampler.integer_thresholds`): with ``m = next64 >> 11`` the
    double is ``u = m 2^-53``, and ``cdf <= u`` exactly when ``thr <= m``, so the tokens are
    those of the float comparison without converting ``m``.
    ``pcg = (state_hi, state_lo, inc_hi, inc_lo)`` (uint64) is the state of numpy's ``PCG64``
    before the call; chain ``n`` position ``j`` uses the stream's ``(n length + j + 1)``-th
    double, as numpy's ``Generator.random`` does.  ``jumps[i] = (A_hi, A_lo, C_hi, C_lo)``
    advance the LCG by ``i * length`` steps (``i < PCG_LANES``) and row ``PCG_LANES`` by
    ``PCG_LANES * length``: each of the :data:`PCG_LANES` chains advanced together starts its
    own stretch of the stream, so their LCG steps and look-ups overlap.  With previous-token
    contexts (``ctx_prev = 1``) and ``V = 2 .. 8`` the groups of four run a copy of the loop
    with ``V`` a constant (the comparisons unrolled: about twice as fast as the general loop
    at ``V = 8``); the general loop does the rest.  The caller advances the generator by
    ``n_chains * length`` after.
    """
    n_thr = thr.shape[1]
    flat = thr.ravel()
    cp = ctx_prev * (n_thr + 1)
    cells = np.zeros(PCG_LANES * (cp + 1) * (n_thr + 1), np.uint64)
    sh, sl = pcg[0], pcg[1]
    n1 = n_chains // PCG_LANES * PCG_LANES if ctx_prev == 1 and 1 <= n_thr <= 7 else 0
    if n1 == 0:
        pass
    elif n_thr == 1:
        sh, sl = _pcg_groups(flat, 1, 2, base, row_step, 0, n1, length, pcg, jumps,
                              ctx_base, per_row, counts, cells, sh, sl)
    elif n_thr == 2:
        sh, sl = _pcg_groups(flat, 2, 3, base, row_step, 0, n1, length, pcg, jumps,
                              ctx_base, per_row, counts, cells, sh, sl)
    elif n_thr == 3:
        sh, sl = _pcg_groups(flat, 3, 4, base, row_step, 0, n1, length, pcg, jumps,
                              ctx_base, per_row, counts, cells, sh, sl)
    elif n_thr == 4:
        sh, sl = _pcg_groups(flat, 4, 5, base, row_step, 0, n1, length, pcg, jumps,
                              ctx_base, per_row, counts, cells, sh, sl)
    elif n_thr == 5:
        sh, sl = _pcg_groups(flat, 5, 6, base, row_step, 0, n1, length, pcg, jumps,
                              ctx_base, per_row, counts, cells, sh, sl)
    elif n_thr == 6:
        sh, sl = _pcg_groups(flat, 6, 7, base, row_step, 0, n1, length, pcg, jumps,
                              ctx_base, per_row, counts, cells, sh, sl)
    else:
        sh, sl = _pcg_groups(flat, 7, 8, base, row_step, 0, n1, length, pcg, jumps,
                              ctx_base, per_row, counts, cells, sh, sl)
    _pcg_general(flat, n_thr, cp, base, row_step, n1, n_chains, length, pcg, jumps, ctx_base,
                 per_row, counts, cells, sh, sl)
