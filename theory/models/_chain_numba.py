"""Compiled inverse-CDF chain kernels (optional: need ``numba``; see :mod:`theory.models._chain`).

Imported only when numba is installed and the compiled path is enabled; compiled on first
use and cached on disk (``cache=True``), so the cost is paid once per machine.
"""

from __future__ import annotations

import numba
import numpy as np

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
