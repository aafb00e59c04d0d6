"""Compiled inverse-CDF chain kernel (optional: needs ``numba``; see :mod:`theory.models._chain`).

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
