r"""Repeated squaring for time-homogeneous Markov chains: ``O(log H)`` matrix products for ``H`` steps.

A time-homogeneous chain over ``H`` positions needs the ``H``-th power of one transition
matrix (or of a matrix holding a recursion, e.g. the moments of an additive functional).
Computing it by repeated squaring takes :math:`O(S^3\log H)` work for ``S`` states instead of
:math:`O(S^2 H)`, so results "at any ``H``" hold up to ``H = 10**12`` in milliseconds.

* :func:`vector_matrix_power` -- :math:`v P^n`;
* :func:`power_and_sum` -- :math:`(v P^n,\ \sum_{j<n} v P^j)` through the block matrix
  :math:`\begin{pmatrix}P & I\\ 0 & I\end{pmatrix}`;
* :func:`tropical_vector_power` -- the same in the (min, +) or (max, +) semiring (extreme
  values of an additive functional over reachable paths);
* :func:`reach_sets_sum` -- :math:`\sum_{h<n} f(R_h)` over the reachable sets
  :math:`R_{h+1} = \mathrm{succ}(R_h)`, by detecting the (eventual) cycle of the sequence;
* :func:`use_squaring` -- when repeated squaring is cheaper than stepping.

Imported by :mod:`theory.log_ratio` (certified laws, Markov KL) and :mod:`theory.models`
(state visits); it sits below both, so it is a module of :mod:`theory` and not of either
package.  Trusts its inputs (an empty ``__all__``: not part of the public API).
"""

from __future__ import annotations

import numpy as np

__all__ = []        # internal: imported by theory.log_ratio and theory.models

#: Horizons below this are stepped position by position (bit-for-bit the historical results);
#: from it on a time-homogeneous chain is powered by repeated squaring when that is cheaper.
SQUARING_MIN_HORIZON = 4096


def use_squaring(horizon, n_states, homogeneous, *, blocks=2):
    r"""Whether repeated squaring beats ``horizon`` steps for a chain of ``n_states`` states.

    Squaring costs about :math:`2\log_2 H\,(bS)^3` (``b`` = ``blocks``: the size of the
    augmented matrix in units of ``S``) against :math:`H S^2` for stepping.
    """
    if not homogeneous or horizon < SQUARING_MIN_HORIZON:
        return False
    return 2 * np.log2(horizon) * (blocks ** 3) * n_states < horizon


def vector_matrix_power(vec, P, n):
    """``vec @ P**n`` for stacks of row vectors ``(..., 1, S)`` and matrices ``(..., S, S)``."""
    while n:
        if n & 1:
            vec = vec @ P
        n >>= 1
        if n:
            P = P @ P
    return vec


def power_and_sum(vec, P, n):
    r"""``(vec P**n, sum_{j<n} vec P**j)`` for stacks ``vec (..., 1, S)``, ``P (..., S, S)``.

    The row vector :math:`(v, s)` times :math:`\begin{pmatrix}P & I\\0 & I\end{pmatrix}` is
    :math:`(vP, v + s)`, so the ``n``-th power of the block matrix carries both results.
    """
    S = P.shape[-1]
    eye = np.broadcast_to(np.eye(S, dtype=P.dtype), P.shape)
    top = np.concatenate([P, eye], axis=-1)
    bottom = np.concatenate([np.zeros_like(P), eye], axis=-1)
    big = np.concatenate([top, bottom], axis=-2)
    start = np.concatenate([vec, np.zeros_like(vec)], axis=-1)
    out = vector_matrix_power(start, big, n)
    return out[..., :S], out[..., S:]


def _tropical_matmul(A, B, best):
    """``C[..., i, j] = best_k (A[..., i, k] + B[..., k, j])`` (``best`` = ``np.min``/``np.max``)."""
    with np.errstate(invalid="ignore"):
        s = A[..., :, :, None] + B[..., None, :, :]
    return best(s, axis=-2)


def tropical_vector_power(vec, D, n, best):
    """``vec (x) D^(x)n`` in the (``best``, +) semiring, for stacks ``(..., 1, S)``, ``(..., S, S)``.

    Impossible transitions are ``+inf`` for ``best=np.min`` and ``-inf`` for ``np.max``; the
    result holds, per state, the best total of ``n`` steps over the paths that reach it.
    """
    while n:
        if n & 1:
            vec = _tropical_matmul(vec, D, best)
        n >>= 1
        if n:
            D = _tropical_matmul(D, D, best)
    return vec


def _successors(R, adjacency):
    return (R[..., :, None] & adjacency).any(axis=-2)


def reach_sets_sum(start, adjacency, n, value, *, max_distinct=1 << 14):
    r""":math:`\sum_{h<n} f(R_h)` for the reachable sets :math:`R_0 = ` ``start``, :math:`R_{h+1} = \mathrm{succ}(R_h)`.

    Parameters
    ----------
    start : (..., S) bool ndarray
        Leading axes index independent chains (prompts); a set is the tuple of their sets.
    adjacency : (..., S, S) bool ndarray
        ``adjacency[..., p, v]``: ``v`` follows ``p`` with positive probability.
    n : int
    value : callable
        ``value(R) -> float`` for a bool mask ``R`` (``value`` of a superset must bound it
        from the same side, as a max over the set does from above).
    max_distinct : int
        The sequence of sets is eventually periodic; if no set repeats among the first
        ``max_distinct``, the remaining terms are bounded by ``value`` of the set of all
        states reachable from there (a superset of every later :math:`R_h`).

    Returns
    -------
    float
    """
    seen = {}
    values = []
    R = np.asarray(start, dtype=bool)
    h = 0
    while h < n:
        key = R.tobytes()
        if key in seen:
            first = seen[key]
            period = h - first
            cycle = values[first:h]
            remaining = n - h
            full, rest = divmod(remaining, period)
            return float(sum(values) + full * sum(cycle) + sum(cycle[:rest]))
        if h >= max_distinct:
            closure = R.copy()
            while True:
                nxt = closure | _successors(closure, adjacency)
                if (nxt == closure).all():
                    break
                closure = nxt
            return float(sum(values) + (n - h) * value(closure))
        seen[key] = h
        values.append(float(value(R)))
        R = _successors(R, adjacency)
        h += 1
    return float(sum(values))
