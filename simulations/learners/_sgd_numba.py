"""Compiled step of sequence-level SGD from context-token counts (optional: needs ``numba``).

The twin of :func:`simulations.learners._sgd_loop.numpy_step` followed by
``chain(scale(c), [project_l2_ball(radius)])``: the same floating-point operations in the
same order, so both give the same iterates bit for bit (``tests/unit/test_sgd_loop.py``).
Imported only through :func:`simulations.learners._sgd_loop.compiled_step`; compiled on
first use and cached on disk.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def sgd_step(e, counts, table, n_seq, factor, radius, theta, z):  # pragma: no cover - compiled
    r"""One step for every replicate: ``theta`` updated in place, ``z`` the next shifted logits.

    ``e`` ``(R, C, V)`` is :math:`\exp` of the shifted logits of ``theta``; ``counts``
    ``(R, C V)``; ``table`` ``(C V, d)``; ``factor`` ``(R,)`` (``-lr``); ``radius < 0``:
    no projection.  Score :math:`\sum_{c,v}(N_{cv} - N_c q_{cv})\Phi_{cv}` summed in
    ``(c, v)`` order from ``0``; gradient ``-score / n_seq``; step ``factor * g``;
    projection as :func:`~simulations.learners.optimizers.project_l2_ball` (norm summed in
    coordinate order).
    """
    n_rep, n_ctx, v = e.shape
    d = theta.shape[1]
    score = np.empty(d)
    new = np.empty(d)
    for r in range(n_rep):
        for j in range(d):
            score[j] = 0.0
        for c in range(n_ctx):
            s = e[r, c, 0]
            nc = counts[r, c * v]
            for a in range(1, v):
                s += e[r, c, a]
                nc += counts[r, c * v + a]
            for a in range(v):
                i = c * v + a
                w = counts[r, i] - nc * (e[r, c, a] / s)
                for j in range(d):
                    score[j] += w * table[i, j]
        for j in range(d):
            new[j] = theta[r, j] + factor[r] * (-score[j] / n_seq)
        if radius >= 0.0:
            sq = new[0] * new[0]
            for j in range(1, d):
                sq += new[j] * new[j]
            norm = math.sqrt(sq)
            if norm > radius:
                f = radius / norm
                for j in range(d):
                    new[j] = new[j] * f
            for j in range(d):
                new[j] = theta[r, j] + (new[j] - theta[r, j])
        for j in range(d):
            theta[r, j] = new[j]
        _replicate_logits(theta, r, table, z)


@numba.njit(inline="always")
def _replicate_logits(theta, r, table, z):  # pragma: no cover - compiled
    """``z[r]``: the shifted logits of ``theta[r]`` (coordinates summed in order, minus the max)."""
    n_ctx, v = z.shape[1], z.shape[2]
    d = theta.shape[1]
    for c in range(n_ctx):
        for a in range(v):
            i = c * v + a
            acc = theta[r, 0] * table[i, 0]
            for j in range(1, d):
                acc += theta[r, j] * table[i, j]
            z[r, c, a] = acc
        m = z[r, c, 0]
        for a in range(1, v):
            if z[r, c, a] > m:
                m = z[r, c, a]
        for a in range(v):
            z[r, c, a] = z[r, c, a] - m


@numba.njit(cache=True, nogil=True)
def shifted_logits(theta, table, z):  # pragma: no cover - compiled
    """``z`` ``(R, C, V)``: the shifted logits of every replicate, as :func:`sgd_step` leaves them
    (the twin of :func:`simulations.learners._sgd_loop.shifted_logits`)."""
    for r in range(theta.shape[0]):
        _replicate_logits(theta, r, table, z)
