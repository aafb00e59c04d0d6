r"""The VGB walk on an explicit prefix tree: transitions, stationary law, and its output laws.

VGB (arXiv 2510.03149, Algorithm 1) is a lazy random walk on the tree of prefixes.  From the
current node :math:`u = y_{1:h}` it stays with probability :math:`1/2`; otherwise it moves to
a neighbour with probability

.. math::

    p(\text{parent}) \propto \hat V(u), \qquad
    p(u\,a) \propto \pi_{\rm ref}(a \mid u)\,\hat V(u\,a),

with :math:`\hat V = \tau` at the leaves.  With prefix probabilities :math:`\pi_{\rm ref}(u)`
the walk is the weighted random walk with edge weights
:math:`w(u, ua) = \pi_{\rm ref}(ua)\hat V(ua)`, hence reversible with stationary law
:math:`\tilde\pi(u) \propto \sum_{v \sim u} w(u, v)`: on a leaf :math:`y` this is
:math:`\pi_{\rm ref}(y)\tau(y)`, so the law of the walk *conditional on being at a leaf*
converges to :math:`\pi^\star \propto \pi_{\rm ref}\tau` **for any** :math:`\hat V`.

* :func:`transition_matrix`, :func:`stationary_law`, :func:`stationary_from_transitions` --
  the sparse transition matrix and the stationary law (closed form, and recomputed from the
  matrix entries by detailed balance along the tree edges).
* :func:`target_leaf_law`, :func:`leaf_mass`, :func:`total_variation_probs`,
  :func:`kl_probs` -- the target :math:`\pi^\star` and the distances to it.
* :func:`first_leaf_law`, :func:`exact_value_walk_length_law` -- the walk stopped at its
  first leaf (a different stopping rule than the fixed-``T`` sampler of Theorem 4.1, whose
  law is in :mod:`theory.vgb.mixing`).

The first-leaf law was filed with the baselines in the single-file module; it is a law of
this walk (one sparse solve of the same transition matrix), so it lives here and
:mod:`theory.vgb.baselines` keeps only the samplers that do not backtrack.  Imports:
:mod:`theory.vgb.automaton` only.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import linalg as splinalg

from ..validation import as_finite_array, check_allocation, check_int, check_probability_vector
from .automaton import check_node_values, check_tree, docs

__all__ = [
    "edge_log_weights",
    "transition_matrix",
    "stationary_law",
    "stationary_from_transitions",
    "stationarity_residual",
    "target_leaf_law",
    "leaf_mass",
    "total_variation_probs",
    "kl_probs",
    "first_leaf_law",
    "exact_value_walk_length_law",
]

_docs = docs.extended(
    p_q="""
p, q : array_like
    Probability vectors along ``axis`` (broadcast against each other).""",
    axis="""
axis : int, optional
    The support axis (default last).""",
)


@_docs
def edge_log_weights(tree, node_values, *, tau_at_leaves=True):
    r"""Log edge weights :math:`\log w(\text{parent}(v), v) = \log\pi_{\rm ref}(v) + \log\hat V(v)`.

    Parameters
    ----------
    %(tree)s
    %(node_values)s
    %(tau_at_leaves)s

    Returns
    -------
    (N,) ndarray
        Entry ``v`` is the weight of the edge above node ``v`` (``-inf`` for the root).

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> np.round(np.exp(edge_log_weights(expand_tree(aut), [2.0, 1.0, 3.0])), 12).tolist()
    [0.0, 0.5, 1.5]
    """
    tree = check_tree(tree)
    vals = check_node_values(tree, node_values, tau_at_leaves=tau_at_leaves)
    with np.errstate(divide="ignore"):
        lw = tree.log_prefix + np.log(vals)
    lw[0] = -np.inf
    return lw


@_docs
def transition_matrix(tree, node_values, *, lazy=True, tau_at_leaves=True):
    r"""Sparse transition matrix of the VGB walk (Algorithm 1) on the explicit tree.

    .. math::

        P(u, \mathrm{parent}(u)) = \tfrac12\,\frac{\hat V(u)}{Z_u},\quad
        P(u, ua) = \tfrac12\,\frac{\pi_{\rm ref}(a\mid u)\hat V(ua)}{Z_u},\quad
        P(u,u) = \tfrac12,

    with :math:`Z_u = \hat V(u)\,\mathbb 1[u \ne \text{root}] + \sum_a \pi_{\rm ref}(a\mid u)
    \hat V(ua)`.  Nodes with :math:`Z_u = 0` (unreachable under :math:`\hat V`) are made
    absorbing.

    Parameters
    ----------
    %(tree)s
    %(node_values)s
    lazy : bool
        Include the holding probability 1/2 (the algorithm); ``False`` gives the jump chain.
    %(tau_at_leaves)s

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(N, N)``, rows summing to one.

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> P = transition_matrix(expand_tree(aut), [2.0, 1.0, 3.0])
    >>> P.toarray().round(3).tolist()
    [[0.5, 0.125, 0.375], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5]]
    """
    tree = check_tree(tree)
    vals = check_node_values(tree, node_values, tau_at_leaves=tau_at_leaves)
    N = tree.n_nodes
    nodes = np.arange(1, N)
    par = tree.parent[1:]
    cond = np.exp(tree.log_prefix[1:] - tree.log_prefix[par])  # pi_ref(v | parent)
    down = cond * vals[1:]                                       # parent -> v, unnormalised
    up = vals[1:]                                                # v -> parent, unnormalised
    Z = np.bincount(par, weights=down, minlength=N)
    Z[1:] += up
    hold = 0.5 if lazy else 0.0
    move = 1.0 - hold
    safe = np.where(Z > 0, Z, 1.0)
    rows = np.concatenate([par, nodes, np.arange(N)])
    cols = np.concatenate([nodes, par, np.arange(N)])
    diag = np.where(Z > 0, hold, 1.0)
    data = np.concatenate([move * down / safe[par], move * up / safe[1:], diag])
    return sparse.csr_matrix((data, (rows, cols)), shape=(N, N))


@_docs
def stationary_law(tree, node_values, *, tau_at_leaves=True):
    r"""Closed-form stationary law :math:`\tilde\pi(u) \propto \sum_{v\sim u} w(u, v)` of the walk.

    Computed in log space from :func:`edge_log_weights`.  On the leaves it equals
    :math:`\pi_{\rm ref}\tau` up to normalisation: the walk of VGB Algorithm 1 (the closed form is
    [derived, checked] in the reference notes, §A.3).

    Parameters
    ----------
    %(tree)s
    %(node_values)s
    %(tau_at_leaves)s

    Returns
    -------
    (N,) ndarray
        Probability vector over nodes.

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> stationary_law(expand_tree(aut), [2.0, 1.0, 3.0]).tolist()
    [0.5, 0.125, 0.375]
    """
    tree = check_tree(tree)
    lw = edge_log_weights(tree, node_values, tau_at_leaves=tau_at_leaves)
    N = tree.n_nodes
    # node mass = weight of its parent edge + sum of its child edges (log-sum-exp by parent)
    par = tree.parent[1:]
    lw_child = lw[1:]
    m = np.max(np.where(np.isfinite(lw_child), lw_child, -np.inf)) if N > 1 else 0.0
    if not np.isfinite(m):
        raise ValueError("every edge has weight 0: the walk does not move.")
    child_sum = np.bincount(par, weights=np.exp(lw_child - m), minlength=N)
    mass = child_sum.copy()
    mass[1:] += np.exp(lw_child - m)
    total = mass.sum()
    return mass / total


def _transition_iv(P, n, name="P"):
    """``P`` as a CSR matrix of shape ``(n, n)`` with finite entries in ``[0, 1]``."""
    if not sparse.issparse(P):
        P = as_finite_array(P, name, ndim=2)
    elif P.dtype.kind not in "iufb":
        raise TypeError(f"`{name}` must have real entries, got dtype {P.dtype}.")
    P = sparse.csr_matrix(P, dtype=float)
    if P.shape != (n, n):
        raise ValueError(f"`{name}` must have shape {(n, n)}, got {P.shape}.")
    if P.nnz and (not np.isfinite(P.data).all() or P.data.min() < 0 or P.data.max() > 1):
        raise ValueError(f"`{name}` must have finite entries in [0, 1].")
    return P


def stationary_from_transitions(tree, P):
    r"""Stationary law recomputed from the entries of ``P`` by detailed balance on the tree.

    For a reversible chain on a tree, :math:`\tilde\pi(v)/\tilde\pi(\mathrm{parent}(v)) =
    P(\mathrm{parent}(v), v)/P(v, \mathrm{parent}(v))`; propagating from the root (nodes are
    in breadth-first order) and normalising gives :math:`\tilde\pi` without using the closed
    form -- an independent check of :func:`stationary_law`.

    Parameters
    ----------
    tree : PrefixTree
        The explicit prefix tree.
    P : (N, N) sparse matrix
        From :func:`transition_matrix`.

    Returns
    -------
    (N,) ndarray
        The stationary law of the VGB walk (Algorithm 1) over nodes.

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> tree = expand_tree(aut)
    >>> np.allclose(stationary_from_transitions(tree, transition_matrix(tree, [2., 1., 3.])),
    ...             [0.5, 0.125, 0.375])
    True
    """
    tree = check_tree(tree)
    N = tree.n_nodes
    P = _transition_iv(P, N)
    par = tree.parent[1:]
    nodes = np.arange(1, N)
    fwd = np.asarray(P[par, nodes]).ravel()
    bwd = np.asarray(P[nodes, par]).ravel()
    with np.errstate(divide="ignore"):
        step = np.where((fwd > 0) & (bwd > 0), np.log(fwd) - np.log(np.where(bwd > 0, bwd, 1.0)),
                        -np.inf)
    logpi = np.zeros(N)
    # BFS order: parent index < child index, so one ordered pass per depth suffices.
    for h in range(1, tree.horizon + 1):
        sel = np.flatnonzero(tree.depth[1:] == h)
        logpi[sel + 1] = logpi[par[sel]] + step[sel]
    if not np.isfinite(logpi[tree.leaves]).any():
        raise ValueError("`P` does not connect the root to any leaf in both directions "
                         "(not a reversible walk on `tree`).")
    m = logpi[np.isfinite(logpi)].max()
    pi = np.exp(logpi - m)
    return pi / pi.sum()


def stationarity_residual(pi, P):
    r""":math:`\|\tilde\pi P - \tilde\pi\|_1` (zero for a stationary law).

    Checks the stationary law of the VGB walk (Algorithm 1).

    Parameters
    ----------
    pi : (N,) array_like
        A probability vector.
    P : (N, N) sparse matrix or array_like
        A transition matrix (entries in ``[0, 1]``).

    Returns
    -------
    float
        :math:`\|\tilde\pi P - \tilde\pi\|_1`.

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> tree = expand_tree(aut)
    >>> P = transition_matrix(tree, [2.0, 1.0, 3.0])
    >>> stationarity_residual(stationary_law(tree, [2.0, 1.0, 3.0]), P) < 1e-15
    True
    """
    pi = check_probability_vector(pi, "pi", ndim=1)
    P = _transition_iv(P, pi.size)
    return float(np.abs(P.T @ pi - pi).sum())


@_docs
def target_leaf_law(tree):
    r""":math:`\pi^\star(y) = \pi_{\rm ref}(y)\tau(y)/Z` on ``tree.leaves`` (log-space normalised).

    The target of VGB Algorithm 1 and Theorem 4.1 (the tilted distribution
    :math:`\pi^\star \propto \pi_{\rm ref}\tau`).

    Parameters
    ----------
    %(tree)s

    Returns
    -------
    (L,) ndarray
        Probability of each leaf of ``tree.leaves``.

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> target_leaf_law(expand_tree(aut)).tolist()
    [0.25, 0.75]
    """
    tree = check_tree(tree)
    tau = tree.automaton.tau[tree.state[tree.leaves]]
    with np.errstate(divide="ignore"):
        lw = tree.log_prefix[tree.leaves] + np.log(tau)
    if not np.isfinite(lw).any():
        raise ValueError("`tree` has tau = 0 on every leaf: pi* is undefined.")
    w = np.exp(lw - lw.max())
    return w / w.sum()


@_docs
def leaf_mass(tree, node_values, *, tau_at_leaves=True):
    r"""Stationary probability of the leaf set, :math:`\tilde\pi(\text{leaves})`.

    Exactly :math:`1/(2H)` when :math:`\hat V = V^\star`; at least
    :func:`stationary_leaf_mass_bound` under Assumption 4.1.

    Parameters
    ----------
    %(tree)s
    %(node_values)s
    %(tau_at_leaves)s

    Returns
    -------
    float
        :math:`\tilde\pi(\text{leaves})`.

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> leaf_mass(expand_tree(aut), [2.0, 1.0, 3.0])
    0.5
    """
    pi = stationary_law(tree, node_values, tau_at_leaves=tau_at_leaves)
    return float(pi[tree.leaves].sum())


def _prob_pair_iv(p, q, axis):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"`axis` must be an integer, got {type(axis).__name__}.")
    p = as_finite_array(p, "p")
    q = as_finite_array(q, "q")
    try:
        shape = np.broadcast_shapes(p.shape, q.shape)
    except ValueError:
        raise ValueError(f"`p` {p.shape} and `q` {q.shape} do not broadcast.") from None
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"`axis` = {axis} is out of bounds for shape {shape}.")
    p = check_probability_vector(p, "p", axis=axis if p.ndim == len(shape) else -1)
    q = check_probability_vector(q, "q", axis=axis if q.ndim == len(shape) else -1)
    return p, q


@_docs
def total_variation_probs(p, q, axis=-1):
    r""":math:`\tfrac12\sum|p - q|` between probability vectors (broadcast, along ``axis``).

    The distance :math:`D_{TV}(\hat\pi|_{E_{\rm leaf}}, \pi^\star)` of VGB Theorem 4.1.

    Parameters
    ----------
    %(p_q)s
    %(axis)s

    Returns
    -------
    ndarray
        The broadcast shape without ``axis``, values in ``[0, 1]``.

    Examples
    --------
    >>> float(total_variation_probs([0.5, 0.5], [0.25, 0.75]))
    0.25
    """
    p, q = _prob_pair_iv(p, q, axis)
    return 0.5 * np.abs(p - q).sum(axis=axis)


@_docs
def kl_probs(p, q, axis=-1):
    r""":math:`\sum p\log(p/q)` between probability vectors (``inf`` if ``p`` is not ``<< q``).

    Used for the KL between a sampler's output law and :math:`\pi^\star`, the metric of the
    VGB paper's ABC experiment (Example 3.1 instance, Fig. 2 of arXiv 2510.03149, as the
    reference notes report it).

    Parameters
    ----------
    %(p_q)s
    %(axis)s

    Returns
    -------
    ndarray
        The broadcast shape without ``axis``, in nats.

    Examples
    --------
    >>> round(float(kl_probs([0.5, 0.5], [0.25, 0.75])), 6)
    0.143841
    """
    p, q = _prob_pair_iv(p, q, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return terms.sum(axis=axis)


@_docs
def first_leaf_law(tree, node_values, *, tau_at_leaves=True):
    r"""Exact output law of the *first-leaf heuristic* (stop at the first leaf hit).

    Not the sampler of VGB Theorem 4.1: it is exact when :math:`\hat V = V^\star` but biased
    otherwise (reference notes §A.7).  Computed by one sparse solve of the absorbing chain:
    with :math:`Q` the jump-chain transitions among internal nodes and :math:`R` those into
    leaves, the law is :math:`e_{\rm root}^\top (I-Q)^{-1}R` (holding steps do not change it).

    Parameters
    ----------
    %(tree)s
    %(node_values)s
    %(tau_at_leaves)s

    Returns
    -------
    (L,) ndarray
        Law on ``tree.leaves`` (sums to one when a leaf is reached almost surely).

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> first_leaf_law(expand_tree(aut), [9.0, 1.0, 3.0]).tolist()
    [0.25, 0.75]
    """
    tree = check_tree(tree)
    vals = check_node_values(tree, node_values, tau_at_leaves=tau_at_leaves)
    P = transition_matrix(tree, vals, lazy=False, tau_at_leaves=False)
    # nodes the walk can reach: every edge on the root path has positive weight
    reach = np.zeros(tree.n_nodes, dtype=bool)
    reach[0] = True
    par = tree.parent[1:]
    for h in range(1, tree.horizon + 1):
        sel = np.flatnonzero(tree.depth[1:] == h) + 1
        reach[sel] = reach[tree.parent[sel]] & (vals[sel] > 0)
    is_leaf = np.zeros(tree.n_nodes, dtype=bool)
    is_leaf[tree.leaves] = True
    inner = np.flatnonzero(~is_leaf & reach)
    Q = P[inner][:, inner]
    Rm = P[inner][:, tree.leaves]
    A = (sparse.identity(inner.size, format="csc") - Q.T.tocsc())
    e = np.zeros(inner.size)
    e[0] = 1.0  # root is node 0, the first internal node
    visits = np.atleast_1d(splinalg.spsolve(A, e))
    law = Rm.T @ visits
    return np.clip(law, 0.0, None)


#: Largest ``horizon * t_max`` :func:`exact_value_walk_length_law` accepts.
_MAX_WALK_WORK = 10 ** 10


def exact_value_walk_length_law(horizon, t_max):
    r"""Law of the number of steps the lazy VGB walk takes to reach a leaf when :math:`\hat V = V^\star`.

    With the exact value every internal node ``u`` other than the root splits its moving
    probability evenly: the parent has weight :math:`V^\star(u)` and the children
    :math:`\sum_a \pi_{\rm ref}(a\mid u)V^\star(ua) = V^\star(u)`.  The depth of the walk of
    VGB Algorithm 1 (arXiv 2510.03149) is therefore a lazy simple random walk on
    :math:`\{0, \dots, H\}`, reflected at the root (parent weight 0) and stopped at ``H``,
    whatever the tree, :math:`\pi_{\rm ref}` and :math:`\tau`.  Its first-passage time
    :math:`T_H` has :math:`\mathbb E[T_H] = 2H^2` (``H^2`` moves, each taking two steps on
    average) [derived; it is the :math:`H^2` of Theorem 4.1 for the first-leaf stopping rule].

    Parameters
    ----------
    horizon : int
        ``H >= 1``.
    t_max : int
        Last step computed.

    Returns
    -------
    pmf : (t_max + 1,) ndarray
        :math:`P[T_H = t]`, ``t = 0..t_max``.
    tail : float
        :math:`P[T_H > t_{\max}]`.

    Raises
    ------
    ValueError
        ``horizon < 1``, ``t_max < 0``, or ``horizon * t_max`` above ``1e10`` updates.

    Examples
    --------
    >>> pmf, tail = exact_value_walk_length_law(1, 3)     # one lazy coin per step
    >>> pmf.tolist(), tail
    ([0.0, 0.5, 0.25, 0.125], 0.125)
    >>> pmf, tail = exact_value_walk_length_law(4, 4000)
    >>> round(float(pmf @ np.arange(pmf.size)), 6), tail < 1e-12   # E[T_H] = 2 H^2
    (32.0, True)
    """
    H = check_int(horizon, "horizon", low=1)
    t_max = check_int(t_max, "t_max", low=0)
    check_allocation(8 * (H + 1), f"`horizon` = {H}",
                     "a smaller `horizon` (the law's mean is 2 horizon**2 steps)")
    check_allocation(8 * (t_max + 1), f"`t_max` = {t_max}", "a smaller `t_max`")
    if H * (t_max + 1) > _MAX_WALK_WORK:
        raise ValueError(f"`horizon` * `t_max` = {H * (t_max + 1):.3g} elementary updates exceed "
                         f"{_MAX_WALK_WORK:.0e} (hours of work); the law is negligible beyond a "
                         "few multiples of 2 horizon^2 steps.")
    # transient states 0..H-1; one step: hold 1/2, else down (root: always down) or up
    p = np.zeros(H)
    p[0] = 1.0
    pmf = np.zeros(t_max + 1)
    up = np.zeros(H)
    up[1:] = 0.25
    down = np.full(H, 0.25)
    down[0] = 0.5
    stay = 0.5
    for t in range(1, t_max + 1):
        new = stay * p
        new[1:] += down[:-1] * p[:-1]
        new[:-1] += up[1:] * p[1:]
        pmf[t] = down[-1] * p[-1]
        p = new
    return pmf, float(max(p.sum(), 0.0))
