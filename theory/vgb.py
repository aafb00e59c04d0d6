r"""Exact analysis of value-guided backtracking (VGB) and its baselines on prefix trees.

VGB (arXiv 2510.03149, Algorithm 1) is a lazy random walk on the tree of prefixes
:math:`y_{1:h}` of a response of length :math:`H`.  From the current node :math:`u = y_{1:h}`
it stays with probability :math:`1/2`; otherwise it moves to a neighbour with probability

.. math::

    p(\text{parent}) \propto \hat V(u), \qquad
    p(u\,a) \propto \pi_{\rm ref}(a \mid u)\,\hat V(u\,a),

with :math:`\hat V = \tau` at the leaves.  With prefix probabilities :math:`\pi_{\rm ref}(u)`
the walk is the weighted random walk with edge weights
:math:`w(u, ua) = \pi_{\rm ref}(ua)\hat V(ua)`, hence reversible with stationary law
:math:`\tilde\pi(u) \propto \sum_{v \sim u} w(u, v)`: on a leaf :math:`y` this is
:math:`\pi_{\rm ref}(y)\tau(y)`, so the law of the walk *conditional on being at a leaf*
converges to :math:`\pi^\star \propto \pi_{\rm ref}\tau` **for any** :math:`\hat V`.

Everything here is deterministic and exact:

* :class:`TreeAutomaton` -- a reference model and outcome reward in finite-state form (every
  prefix carries a state; :math:`\pi_{\rm ref}(\cdot\mid u)`, :math:`\tau` and value
  functions depend on the prefix only through its state).  An explicit tree is the special
  case "one state per node".
* :func:`optimal_values` -- :math:`V^\star(u) = \mathbb E_{\pi_{\rm ref}}[\tau \mid u]` by
  backward dynamic programming over the automaton.
* :func:`expand_tree` -- the explicit prefix tree (:class:`PrefixTree`, up to ~10^5 nodes).
* :func:`transition_matrix`, :func:`stationary_law`, :func:`stationary_from_transitions` --
  the walk's sparse transition matrix and its stationary law (closed form, and recomputed
  from the matrix entries by detailed balance along the tree edges).
* :func:`leaf_conditional_curves`, :func:`mixing_times` -- the exact law of the fixed-``T``
  output by sparse matrix powers, hence :math:`\mathrm{TV}(\text{output}\mid\text{leaf},
  \pi^\star)` as a function of ``T``, and the smallest ``T`` after which it stays below
  :math:`\delta` (certified).
* :func:`first_leaf_law`, :func:`action_level_law`, :func:`block_sampler_law`,
  :func:`best_of_n_law` -- exact output laws of the first-leaf heuristic and of the
  baselines.
* Theorem constants (:func:`theorem_4_1_leaf_probability_bound`, ...) and the closed forms of
  Examples 3.1 and 3.2.

Numbering: the VGB paper's statements are cited as in arXiv 2510.03149 v1 (the ICLR 2026
version uses the same numbers as far as our sources show; see
``../shared/reference/vgb-and-sampling.md``).  Constants quoted from secondary sources are
marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, special
from scipy.sparse import linalg as splinalg

from .validation import (as_finite_array, as_float_array, as_int_array, check_int, check_real,
                          check_allocation, check_probability_vector, readonly)

__all__ = [
    "TreeAutomaton",
    "PrefixTree",
    "optimal_values",
    "prefix_state_mass",
    "target_state_marginals",
    "uniform_error",
    "average_case_error",
    "expand_tree",
    "edge_log_weights",
    "transition_matrix",
    "stationary_law",
    "stationary_from_transitions",
    "stationarity_residual",
    "target_leaf_law",
    "leaf_mass",
    "leaf_conditional_curves",
    "CurveResult",
    "mixing_times",
    "MixingResult",
    "relaxation_time",
    "first_leaf_law",
    "exact_value_walk_length_law",
    "action_level_law",
    "best_of_n_law",
    "block_sampler_law",
    "total_variation_probs",
    "kl_probs",
    "coverage_tail",
    "theorem_4_1_leaf_probability_bound",
    "stationary_leaf_mass_bound",
    "theorem_4_1_steps_shape",
    "theorem_4_2_threshold",
    "example_3_1_action_level_tv",
    "example_3_2_action_level_regret",
    "example_3_1_action_level_coverage_tail",
]

#: Largest explicit tree :func:`expand_tree` builds by default.
MAX_TREE_NODES = 400_000


# --------------------------------------------------------------------------------------
# The automaton and the explicit tree
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TreeAutomaton:
    r"""Reference model :math:`\pi_{\rm ref}` and outcome reward :math:`\tau` in finite-state form.

    Every prefix :math:`u` of the tree carries a state :math:`s(u)` (the root has state 0);
    the next-token law, the reward and every value function used with the automaton depend
    on :math:`u` only through :math:`s(u)`.  An explicit tree is the special case of one
    state per node (:meth:`PrefixTree.as_automaton`).

    Parameters
    ----------
    next_state : (S, V) array_like of int
        State of the child :math:`u\,a` of a prefix in state ``s``; ``-1`` marks an
        *excluded* child: one with :math:`\pi_{\rm ref}(a \mid u) = 0` or with
        :math:`\tau \equiv 0` below it, which no sampler that respects Assumption 4.1 enters
        (its value is 0).  Leaf states (``depth == horizon``) have no children.
    log_probs : (S, V) array_like
        :math:`\log\pi_{\rm ref}(a \mid s)`; each internal row must be normalised over all
        ``V`` tokens (excluded children keep their probability mass).  Leaf rows are ignored.
    depth : (S,) array_like of int
        Length ``h`` of the prefixes in each state (``depth[next] == depth + 1``).
    tau : (S,) array_like
        :math:`\tau \ge 0` on leaf states; must be 0 on internal states.
    horizon : int
        Response length ``H >= 1``.

    Attributes
    ----------
    n_states, vocab_size : int
    is_leaf : (S,) bool ndarray

    Examples
    --------
    A two-token, one-step model with :math:`\tau = (1, 3)`:

    >>> aut = TreeAutomaton(next_state=[[1, 2], [-1, -1], [-1, -1]],
    ...                     log_probs=np.log([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]),
    ...                     depth=[0, 1, 1], tau=[0.0, 1.0, 3.0], horizon=1)
    >>> optimal_values(aut).tolist()
    [2.0, 1.0, 3.0]
    """

    next_state: np.ndarray
    log_probs: np.ndarray
    depth: np.ndarray
    tau: np.ndarray
    horizon: int

    def __post_init__(self):
        horizon = check_int(self.horizon, "horizon", low=1)
        nxt = as_int_array(self.next_state, "next_state", ndim=2, low=-1)
        S, V = nxt.shape
        if V < 1:
            raise ValueError("`next_state` must have at least one token column.")
        if nxt.max() >= S:
            raise ValueError(f"`next_state` entries must be < n_states = {S}, got {nxt.max()}.")
        lp = as_float_array(self.log_probs, "log_probs", ndim=2, allow_posinf=False)
        if lp.shape != (S, V):
            raise ValueError(f"`log_probs` must have shape {(S, V)}, got {lp.shape}.")
        if (lp > 1e-12).any():
            raise ValueError(f"`log_probs` must be <= 0, got maximum {lp.max()}.")
        depth = as_int_array(self.depth, "depth", ndim=1, low=0, high=horizon + 1)
        if depth.shape != (S,):
            raise ValueError(f"`depth` must have shape {(S,)}, got {depth.shape}.")
        if depth[0] != 0:
            raise ValueError("`depth[0]` (the root state) must be 0.")
        tau = as_finite_array(self.tau, "tau", ndim=1)
        if tau.shape != (S,):
            raise ValueError(f"`tau` must have shape {(S,)}, got {tau.shape}.")
        if (tau < 0).any():
            raise ValueError(f"`tau` must be non-negative, got minimum {tau.min()}.")
        leaf = depth == horizon
        if (tau[~leaf] != 0).any():
            raise ValueError("`tau` must be 0 on internal states (it is an outcome reward).")
        if (nxt[leaf] >= 0).any():
            raise ValueError("leaf states (depth == horizon) must have no children in `next_state`.")
        has = nxt >= 0
        rows, cols = np.nonzero(has)
        if (depth[nxt[rows, cols]] != depth[rows] + 1).any():
            raise ValueError("`next_state` must map a state of depth h to a state of depth h + 1.")
        internal = ~leaf
        if internal.any():
            lpi = lp[internal]
            if (lpi > 1e-12).any():
                raise ValueError("`log_probs` must be <= 0.")
            tot = special.logsumexp(lpi, axis=1)
            if not np.allclose(tot, 0.0, atol=1e-8):
                raise ValueError(f"`log_probs` rows of internal states must be normalised "
                                 f"(max |log-sum| {np.max(np.abs(tot)):.3g}).")
        lp = np.where(leaf[:, None], 0.0, lp)
        object.__setattr__(self, "horizon", horizon)
        object.__setattr__(self, "next_state", readonly(nxt))
        object.__setattr__(self, "log_probs", readonly(lp))
        object.__setattr__(self, "depth", readonly(depth))
        object.__setattr__(self, "tau", readonly(tau))

    @property
    def n_states(self):
        return self.next_state.shape[0]

    @property
    def vocab_size(self):
        return self.next_state.shape[1]

    @property
    def is_leaf(self):
        return self.depth == self.horizon

    def to_dict(self):
        """Sizes only (the tables are not JSON material)."""
        return {"n_states": int(self.n_states), "vocab_size": int(self.vocab_size),
                "horizon": int(self.horizon)}


def _check_automaton(aut, name="automaton"):
    if not isinstance(aut, TreeAutomaton):
        raise TypeError(f"`{name}` must be a TreeAutomaton, got {type(aut).__name__}.")
    return aut


def _check_values(values, n, name="values"):
    arr = as_finite_array(values, name, ndim=1)
    if arr.shape != (n,):
        raise ValueError(f"`{name}` must have shape {(n,)}, got {arr.shape}.")
    if (arr < 0).any():
        raise ValueError(f"`{name}` must be non-negative, got minimum {arr.min()}.")
    return arr


def _v_star_iv(aut, v_star):
    """``V*`` per state: computed, or the caller's ``v_star`` (which must give ``E_ref[tau] > 0``)."""
    if v_star is None:
        return optimal_values(aut)
    v = _check_values(v_star, aut.n_states, "v_star")
    if v[0] <= 0:
        raise ValueError(f"`v_star`[0] = E_ref[tau] must be > 0 (pi* is undefined otherwise), "
                         f"got {v[0]}.")
    return v


def _levels(depth, horizon):
    order = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[order], np.arange(horizon + 2))
    return [order[bounds[h]:bounds[h + 1]] for h in range(horizon + 1)]


def optimal_values(automaton):
    r"""The tilted value :math:`V^\star(u) = \mathbb E_{\pi_{\rm ref}}[\tau(y_{1:H}) \mid y_{1:h} = u]` per state.

    Backward dynamic programming over the automaton (Section 3, definition of
    :math:`V^\star_{\rm tilt}`):

    .. math:: V^\star(s) = \tau(s) \text{ at leaves},\qquad
              V^\star(s) = \sum_a \pi_{\rm ref}(a\mid s)\,V^\star(\mathrm{next}(s, a)),

    excluded children contributing 0.

    Parameters
    ----------
    automaton : TreeAutomaton

    Returns
    -------
    (S,) ndarray
        ``V*`` per state; ``V*[0]`` is the partition function :math:`Z = \mathbb E_{\pi_{\rm ref}}\tau`.

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 0.0, 1.0], 1)
    >>> float(optimal_values(aut)[0])
    0.5
    """
    aut = _check_automaton(automaton)
    V = np.zeros(aut.n_states)
    levels = _levels(aut.depth, aut.horizon)
    V[levels[aut.horizon]] = aut.tau[levels[aut.horizon]]
    probs = np.exp(aut.log_probs)
    for h in range(aut.horizon - 1, -1, -1):
        s = levels[h]
        if s.size == 0:
            continue
        nxt = aut.next_state[s]
        child = np.where(nxt >= 0, V[np.maximum(nxt, 0)], 0.0)
        V[s] = (probs[s] * child).sum(axis=1)
    return V


def prefix_state_mass(automaton):
    r"""Total prefix probability :math:`\rho(s) = \sum_{u:\,s(u)=s}\pi_{\rm ref}(u)` of each state.

    Forward dynamic programming (excluded children drop their mass).  The prefix
    probabilities :math:`\pi_{\rm ref}(u)` enter the edge weights of VGB Algorithm 1.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.

    Returns
    -------
    (S,) ndarray
        :math:`\rho(\text{root}) = 1`; at each depth the masses sum to at most 1.

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 1], [-1, -1]], np.log(np.full((2, 2), 0.5)), [0, 1], [0.0, 1.0], 1)
    >>> prefix_state_mass(aut).tolist()
    [1.0, 1.0]
    """
    aut = _check_automaton(automaton)
    rho = np.zeros(aut.n_states)
    rho[0] = 1.0
    probs = np.exp(aut.log_probs)
    for s in _levels(aut.depth, aut.horizon)[:-1]:
        if s.size == 0:
            continue
        nxt = aut.next_state[s]
        ok = nxt >= 0
        contrib = (rho[s][:, None] * probs[s])[ok]
        rho += np.bincount(nxt[ok], weights=contrib, minlength=aut.n_states)
    return rho


def target_state_marginals(automaton, v_star=None):
    r"""Marginal law of the state of :math:`y_{1:h}` under :math:`y \sim \pi^\star`, for every ``h``.

    .. math:: \pi^\star(s) = \rho(s)\,V^\star(s)/Z

    The marginals under which Assumption 4.2 (VGB) averages the value errors.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    v_star : (S,) array_like, optional
        :math:`V^\star` per state if already computed (:func:`optimal_values`).

    Returns
    -------
    (S,) ndarray
        Sums to one over the states of each depth.

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> target_state_marginals(aut).tolist()
    [1.0, 0.25, 0.75]
    """
    aut = _check_automaton(automaton)
    v = _v_star_iv(aut, v_star)
    if v[0] <= 0:
        raise ValueError("`automaton` has E_ref[tau] = 0: pi* is undefined.")
    return prefix_state_mass(aut) * v / v[0]


def uniform_error(automaton, values, *, v_star=None):
    r"""The smallest :math:`\varepsilon_V` for which ``values`` satisfies Assumption 4.1.

    .. math:: \frac{1}{1+\varepsilon_V} \le \frac{\hat V(u)}{V^\star(u)} \le 1 + \varepsilon_V

    over every reachable internal prefix (states with positive prefix mass).  States with
    :math:`V^\star = 0` require :math:`\hat V = 0` (else the error is infinite).  Assumption
    4.1 also asks :math:`\hat V = \tau` at the leaves; a mismatch there gives ``inf``.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    values : (S,) array_like
        :math:`\hat V` per state.
    v_star : (S,) array_like, optional
        :math:`V^\star` per state if already computed (:func:`optimal_values`).

    Returns
    -------
    float
        :math:`\varepsilon_V \ge 0` (``inf`` when the assumption fails for every finite value).

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> round(uniform_error(aut, [3.0, 1.0, 3.0]), 12)
    0.5
    """
    aut = _check_automaton(automaton)
    vhat = _check_values(values, aut.n_states)
    v = _v_star_iv(aut, v_star)
    reach = prefix_state_mass(aut) > 0
    leaf = aut.is_leaf & reach
    if not np.allclose(vhat[leaf], aut.tau[leaf], rtol=1e-12, atol=0):
        return float("inf")
    internal = reach & ~aut.is_leaf
    zero = internal & (v == 0)
    if (vhat[zero] != 0).any():
        return float("inf")
    pos = internal & (v > 0)
    if not pos.any():
        return 0.0
    if (vhat[pos] == 0).any():
        return float("inf")
    logr = np.abs(np.log(vhat[pos]) - np.log(v[pos]))
    return float(np.expm1(logr.max()))


def average_case_error(automaton, values, *, v_star=None):
    r"""Per-depth average-case errors of Assumption 4.2 and the resulting :math:`\varepsilon_V`.

    .. math:: \mathbb E_{y\sim\pi^\star}\Big[\frac{\hat V(y_{1:h})}{V^\star(y_{1:h})}\Big]
              \le 1+\varepsilon_V,\qquad
              \mathbb E_{y\sim\pi^\star}\Big[\frac{V^\star(y_{1:h})}{\hat V(y_{1:h})}\Big]
              \le 1+\varepsilon_V, \qquad h = 1, \dots, H.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    values : (S,) array_like
        :math:`\hat V` per state (any non-negative values; leaves need not equal ``tau``).
    v_star : (S,) array_like, optional
        :math:`V^\star` per state if already computed (:func:`optimal_values`).

    Returns
    -------
    over, under : (H,) ndarray
        :math:`\mathbb E[\hat V/V^\star]` and :math:`\mathbb E[V^\star/\hat V]` at depths
        ``1..H`` (``inf`` when :math:`\hat V = 0` on a prefix of positive
        :math:`\pi^\star`-mass).
    eps : float
        :math:`\max_h \max(\text{over}_h, \text{under}_h) - 1`, clipped at 0.

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> over, under, eps = average_case_error(aut, [2.0, 1.0, 3.0])
    >>> float(eps)
    0.0
    """
    aut = _check_automaton(automaton)
    vhat = _check_values(values, aut.n_states)
    v = _v_star_iv(aut, v_star)
    m = target_state_marginals(aut, v)
    over = np.zeros(aut.horizon)
    under = np.zeros(aut.horizon)
    pos = m > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(pos, vhat / np.where(v > 0, v, 1.0), 0.0)
        inv = np.where(pos, v / vhat, 0.0)
    inv = np.where(pos & (vhat == 0), np.inf, inv)
    for h in range(1, aut.horizon + 1):
        sel = pos & (aut.depth == h)
        over[h - 1] = (m[sel] * r[sel]).sum()
        under[h - 1] = (m[sel] * inv[sel]).sum() if np.isfinite(inv[sel]).all() else np.inf
    eps = max(float(np.max(over)), float(np.max(under))) - 1.0
    return readonly(over), readonly(under), max(eps, 0.0)


@dataclass(frozen=True, eq=False)
class PrefixTree:
    r"""The explicit tree of prefixes of a :class:`TreeAutomaton` (nodes in breadth-first order).

    The tree of prefixes on which VGB Algorithm 1 walks.

    Attributes
    ----------
    automaton : TreeAutomaton
        The model the tree was expanded from.
    state : (N,) ndarray of int
        Automaton state of each node (node 0 is the root).
    parent : (N,) ndarray of int
        Parent node (``-1`` for the root); ``parent[i] < i``.
    token : (N,) ndarray of int
        Last token of the prefix (``-1`` for the root).
    depth : (N,) ndarray of int
        Length ``h`` of the prefix.
    log_prefix : (N,) ndarray
        :math:`\log\pi_{\rm ref}(y_{1:h})`.
    children : (N, V) ndarray of int
        Child node for each token, ``-1`` when excluded or at leaves.
    leaves : (L,) ndarray of int
        Node indices of the leaves (depth ``H``), in breadth-first order.
    """

    automaton: TreeAutomaton
    state: np.ndarray
    parent: np.ndarray
    token: np.ndarray
    depth: np.ndarray
    log_prefix: np.ndarray
    children: np.ndarray
    leaves: np.ndarray

    @property
    def n_nodes(self):
        return self.state.size

    @property
    def horizon(self):
        return self.automaton.horizon

    def node_values(self, values):
        """Lift a per-state value array ``(S,)`` to the nodes ``(N,)``."""
        return _check_values(values, self.automaton.n_states)[self.state]

    def leaf_tokens(self):
        """Return the ``(L, H)`` token sequences of the leaves."""
        H = self.horizon
        out = np.empty((self.leaves.size, H), dtype=np.int64)
        cur = self.leaves.copy()
        for h in range(H - 1, -1, -1):
            out[:, h] = self.token[cur]
            cur = self.parent[cur]
        return out

    def as_automaton(self):
        """The tree as an automaton with one state per node (for per-node value functions)."""
        aut = self.automaton
        tau = np.where(self.depth == aut.horizon, aut.tau[self.state], 0.0)
        return TreeAutomaton(next_state=self.children, log_probs=aut.log_probs[self.state],
                             depth=self.depth, tau=tau, horizon=aut.horizon)

    def to_dict(self):
        return {"n_nodes": int(self.n_nodes), "n_leaves": int(self.leaves.size),
                "horizon": int(self.horizon)}


def expand_tree(automaton, *, max_nodes=MAX_TREE_NODES):
    r"""Expand an automaton into its explicit prefix tree (breadth-first).

    The tree of prefixes on which VGB Algorithm 1 walks.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    max_nodes : int
        Refuse (``ValueError``) to build a tree with more nodes.

    Returns
    -------
    PrefixTree
        Nodes in breadth-first order.

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 1], [2, 2], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 2], [0.0, 0.0, 1.0], 2)
    >>> tree = expand_tree(aut)
    >>> tree.n_nodes, tree.leaves.size
    (7, 4)
    """
    aut = _check_automaton(automaton)
    max_nodes = check_int(max_nodes, "max_nodes", low=1)
    V = aut.vocab_size
    states = [np.array([0])]
    parents = [np.array([-1])]
    tokens = [np.array([-1])]
    logp = [np.array([0.0])]
    child_tables = []
    total = 1
    offset = 0
    for h in range(aut.horizon):
        s = states[-1]
        nxt = aut.next_state[s]
        ok = nxt >= 0
        n_new = int(ok.sum())
        if total + n_new > max_nodes:
            raise ValueError(f"the tree has more than `max_nodes` = {max_nodes} nodes "
                             f"(reached {total + n_new} at depth {h + 1}).")
        rows, cols = np.nonzero(ok)
        table = np.full((s.size, V), -1, dtype=np.int64)
        table[rows, cols] = total + np.arange(n_new)
        child_tables.append(table)
        states.append(nxt[rows, cols])
        parents.append(offset + rows)
        tokens.append(cols)
        logp.append(logp[-1][rows] + aut.log_probs[s[rows], cols])
        offset = total
        total += n_new
    child_tables.append(np.full((states[-1].size, V), -1, dtype=np.int64))
    depth = np.concatenate([np.full(x.size, h) for h, x in enumerate(states)])
    tree = PrefixTree(
        automaton=aut,
        state=readonly(np.concatenate(states).astype(np.int64)),
        parent=readonly(np.concatenate(parents).astype(np.int64)),
        token=readonly(np.concatenate(tokens).astype(np.int64)),
        depth=readonly(depth.astype(np.int64)),
        log_prefix=readonly(np.concatenate(logp)),
        children=readonly(np.concatenate(child_tables)),
        leaves=readonly(np.flatnonzero(depth == aut.horizon)))
    return tree


def _check_tree(tree, name="tree"):
    if not isinstance(tree, PrefixTree):
        raise TypeError(f"`{name}` must be a PrefixTree, got {type(tree).__name__}.")
    return tree


def _node_values_iv(tree, node_values, *, tau_at_leaves):
    vals = _check_values(node_values, tree.n_nodes, "node_values").copy()
    if tau_at_leaves:
        vals[tree.leaves] = tree.automaton.tau[tree.state[tree.leaves]]
    return vals


# --------------------------------------------------------------------------------------
# The walk: transition matrix and stationary law
# --------------------------------------------------------------------------------------


def edge_log_weights(tree, node_values, *, tau_at_leaves=True):
    r"""Log edge weights :math:`\log w(\text{parent}(v), v) = \log\pi_{\rm ref}(v) + \log\hat V(v)`.

    Parameters
    ----------
    tree : PrefixTree
    node_values : (N,) array_like
        :math:`\hat V` per node.
    tau_at_leaves : bool
        Replace the leaf values by :math:`\tau` (Algorithm 1, line 1).

    Returns
    -------
    (N,) ndarray
        Entry ``v`` is the weight of the edge above node ``v`` (``-inf`` for the root).

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> np.round(np.exp(edge_log_weights(expand_tree(aut), [2.0, 1.0, 3.0])), 12).tolist()
    [0.0, 0.5, 1.5]
    """
    tree = _check_tree(tree)
    vals = _node_values_iv(tree, node_values, tau_at_leaves=tau_at_leaves)
    with np.errstate(divide="ignore"):
        lw = tree.log_prefix + np.log(vals)
    lw[0] = -np.inf
    return lw


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
    tree : PrefixTree
    node_values : (N,) array_like
    lazy : bool
        Include the holding probability 1/2 (the algorithm); ``False`` gives the jump chain.
    tau_at_leaves : bool

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(N, N)``, rows summing to one.

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> P = transition_matrix(expand_tree(aut), [2.0, 1.0, 3.0])
    >>> P.toarray().round(3).tolist()
    [[0.5, 0.125, 0.375], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5]]
    """
    tree = _check_tree(tree)
    vals = _node_values_iv(tree, node_values, tau_at_leaves=tau_at_leaves)
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


def stationary_law(tree, node_values, *, tau_at_leaves=True):
    r"""Closed-form stationary law :math:`\tilde\pi(u) \propto \sum_{v\sim u} w(u, v)` of the walk.

    Computed in log space from :func:`edge_log_weights`.  On the leaves it equals
    :math:`\pi_{\rm ref}\tau` up to normalisation: the walk of VGB Algorithm 1 (the closed form is
    [derived, checked] in the reference notes, §A.3).

    Parameters
    ----------
    tree : PrefixTree
        The explicit prefix tree (:func:`expand_tree`).
    node_values : (N,) array_like
        :math:`\hat V` per node (non-negative).
    tau_at_leaves : bool, optional
        Replace the leaf values by :math:`\tau` (Algorithm 1, line 1).

    Returns
    -------
    (N,) ndarray
        Probability vector over nodes.

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> stationary_law(expand_tree(aut), [2.0, 1.0, 3.0]).tolist()
    [0.5, 0.125, 0.375]
    """
    tree = _check_tree(tree)
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
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> tree = expand_tree(aut)
    >>> np.allclose(stationary_from_transitions(tree, transition_matrix(tree, [2., 1., 3.])),
    ...             [0.5, 0.125, 0.375])
    True
    """
    tree = _check_tree(tree)
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


def target_leaf_law(tree):
    r""":math:`\pi^\star(y) = \pi_{\rm ref}(y)\tau(y)/Z` on ``tree.leaves`` (log-space normalised).

    The target of VGB Algorithm 1 and Theorem 4.1 (the tilted distribution
    :math:`\pi^\star \propto \pi_{\rm ref}\tau`).

    Parameters
    ----------
    tree : PrefixTree
        The explicit prefix tree (:func:`expand_tree`).

    Returns
    -------
    (L,) ndarray
        Probability of each leaf of ``tree.leaves``.

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> target_leaf_law(expand_tree(aut)).tolist()
    [0.25, 0.75]
    """
    tree = _check_tree(tree)
    tau = tree.automaton.tau[tree.state[tree.leaves]]
    with np.errstate(divide="ignore"):
        lw = tree.log_prefix[tree.leaves] + np.log(tau)
    if not np.isfinite(lw).any():
        raise ValueError("`tree` has tau = 0 on every leaf: pi* is undefined.")
    w = np.exp(lw - lw.max())
    return w / w.sum()


def leaf_mass(tree, node_values, *, tau_at_leaves=True):
    r"""Stationary probability of the leaf set, :math:`\tilde\pi(\text{leaves})`.

    Exactly :math:`1/(2H)` when :math:`\hat V = V^\star`; at least
    :func:`stationary_leaf_mass_bound` under Assumption 4.1.

    Parameters
    ----------
    tree : PrefixTree
        The explicit prefix tree (:func:`expand_tree`).
    node_values : (N,) array_like
        :math:`\hat V` per node (non-negative).
    tau_at_leaves : bool, optional
        Replace the leaf values by :math:`\tau` (Algorithm 1, line 1).

    Returns
    -------
    float
        :math:`\tilde\pi(\text{leaves})`.

    Examples
    --------
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


def total_variation_probs(p, q, axis=-1):
    r""":math:`\tfrac12\sum|p - q|` between probability vectors (broadcast, along ``axis``).

    The distance :math:`D_{TV}(\hat\pi|_{E_{\rm leaf}}, \pi^\star)` of VGB Theorem 4.1.

    Parameters
    ----------
    p, q : array_like
        Probability vectors along ``axis`` (broadcast against each other).
    axis : int, optional
        The support axis (default last).

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


def kl_probs(p, q, axis=-1):
    r""":math:`\sum p\log(p/q)` between probability vectors (``inf`` if ``p`` is not ``<< q``).

    Used for the KL between a sampler's output law and :math:`\pi^\star`, the metric of the
    VGB paper's ABC experiment (Example 3.1 instance, Fig. 2 of arXiv 2510.03149, as the
    reference notes report it).

    Parameters
    ----------
    p, q : array_like
        Probability vectors along ``axis`` (broadcast against each other).
    axis : int, optional
        The support axis (default last).

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


# --------------------------------------------------------------------------------------
# Fixed-T output law, mixing times
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurveResult:
    r"""Exact fixed-``T`` curves of :func:`leaf_conditional_curves`.

    The fixed-``T`` sampler of VGB Theorem 4.1, exactly.

    Attributes
    ----------
    T : (K,) ndarray of int
        Step counts ``0..T_max``.
    tv_leaf : (R, K) ndarray
        :math:`\mathrm{TV}(\mathrm{Law}(X_T \mid X_T \in \text{leaves}), \pi^\star)`
        (``nan`` while no leaf is reachable).
    p_leaf : (R, K) ndarray
        :math:`\Pr[X_T \in \text{leaves}]`.
    tv_full : (R, K) ndarray
        :math:`\mathrm{TV}(\mathrm{Law}(X_T), \tilde\pi)` (non-increasing in ``T``).
    stationary_leaf_mass : (R,) ndarray
        :math:`\tilde\pi(\text{leaves})`.
    """

    T: np.ndarray
    tv_leaf: np.ndarray
    p_leaf: np.ndarray
    tv_full: np.ndarray
    stationary_leaf_mass: np.ndarray

    def to_dict(self):
        return {k: np.asarray(getattr(self, k)).tolist() for k in
                ("T", "tv_leaf", "p_leaf", "tv_full", "stationary_leaf_mass")}


class _Stack:
    """Block-diagonal stack of several trees' walks, for one sparse matvec per step."""

    def __init__(self, trees, values_list, tau_at_leaves):
        if isinstance(trees, PrefixTree):
            trees, values_list = [trees], [values_list]
        if not isinstance(trees, (list, tuple)) or not trees:
            raise TypeError("`trees` must be a PrefixTree or a non-empty sequence of PrefixTree, "
                            f"got {type(trees).__name__}.")
        trees = [_check_tree(t, "trees") for t in trees]
        if isinstance(values_list, (str, bytes)) or not hasattr(values_list, "__len__"):
            raise TypeError("`node_values` must be a sequence with one entry per tree, "
                            f"got {type(values_list).__name__}.")
        if len(values_list) != len(trees):
            raise ValueError("`node_values` must have one entry per tree.")
        mats, pis, targets, offs, leaf_idx = [], [], [], [0], []
        for t, v in zip(trees, values_list):
            mats.append(transition_matrix(t, v, tau_at_leaves=tau_at_leaves))
            pis.append(stationary_law(t, v, tau_at_leaves=tau_at_leaves))
            targets.append(target_leaf_law(t))
            leaf_idx.append(offs[-1] + t.leaves)
            offs.append(offs[-1] + t.n_nodes)
        self.PT = sparse.block_diag(mats, format="csr").T.tocsr()
        self.pi = np.concatenate(pis)
        self.offsets = np.array(offs)
        self.leaf_idx = leaf_idx
        self.targets = targets
        self.R = len(trees)
        self.owner = np.repeat(np.arange(self.R), np.diff(self.offsets))
        self.leaf_mass = np.array([self.pi[li].sum() for li in leaf_idx])
        self.L_idx = np.concatenate(leaf_idx)
        self.L_owner = np.repeat(np.arange(self.R), [li.size for li in leaf_idx])
        self.L_target = np.concatenate(targets)

    def start(self):
        mu = np.zeros(self.offsets[-1])
        mu[self.offsets[:-1]] = 1.0
        return mu

    def measures(self, mu):
        tv_full = 0.5 * np.bincount(self.owner, weights=np.abs(mu - self.pi), minlength=self.R)
        ml = mu[self.L_idx]
        p_leaf = np.bincount(self.L_owner, weights=ml, minlength=self.R)
        with np.errstate(invalid="ignore", divide="ignore"):
            cond = ml / p_leaf[self.L_owner]
            tv_leaf = 0.5 * np.bincount(self.L_owner, weights=np.abs(cond - self.L_target),
                                        minlength=self.R)
        tv_leaf[p_leaf <= 0] = np.nan
        return tv_leaf, p_leaf, tv_full


def leaf_conditional_curves(trees, node_values, T_max, *, tau_at_leaves=True):
    r"""Exact law of the fixed-``T`` VGB output for ``T = 0..T_max`` (Theorem 4.1's sampler).

    The walk starts at the root; :math:`\mu_T = \delta_{\rm root}P^T` is computed by ``T_max``
    sparse matrix-vector products (all trees stacked block-diagonally, one product per
    step).  The theorem's sampler re-runs until the output is a leaf, so its output law is
    exactly :math:`\mu_T` conditioned on the leaves.

    Parameters
    ----------
    trees : PrefixTree or sequence of PrefixTree
    node_values : (N,) array_like or sequence of them
        :math:`\hat V` per node of each tree.
    T_max : int
    tau_at_leaves : bool

    Returns
    -------
    CurveResult

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> res = leaf_conditional_curves(expand_tree(aut), [5.0, 1.0, 3.0], 3)
    >>> float(res.tv_leaf[0, 1])   # one step: leaves in proportion pi_ref * tau -> exact
    0.0
    """
    T_max = check_int(T_max, "T_max", low=0)
    st = _Stack(trees, node_values, tau_at_leaves)
    check_allocation(24 * st.R * (T_max + 1), f"curves of {st.R} tree(s) up to `T_max` = {T_max}",
                     "use a smaller `T_max` or mixing_times")
    mu = st.start()
    K = T_max + 1
    tv_leaf = np.empty((st.R, K))
    p_leaf = np.empty((st.R, K))
    tv_full = np.empty((st.R, K))
    for t in range(K):
        tv_leaf[:, t], p_leaf[:, t], tv_full[:, t] = st.measures(mu)
        if t < T_max:
            mu = st.PT @ mu
    return CurveResult(T=readonly(np.arange(K)), tv_leaf=readonly(tv_leaf),
                       p_leaf=readonly(p_leaf), tv_full=readonly(tv_full),
                       stationary_leaf_mass=readonly(st.leaf_mass))


@dataclass(frozen=True)
class MixingResult:
    r"""Result of :func:`mixing_times`.

    The smallest step count :math:`T_\delta` of VGB Theorem 4.1's fixed-``T`` sampler, certified.

    Attributes
    ----------
    t_mix : (R,) ndarray of float
        Smallest ``T`` with :math:`\mathrm{TV}(\text{output}_{T'}\mid\text{leaf}, \pi^\star)
        \le \delta` for **every** :math:`T' \ge T` (``inf`` if not certified by ``T_cap``).
    certified_at : (R,) ndarray of float
        Step at which :math:`2d_T/(\tilde\pi(L) - d_T) \le \delta` first held
        (:math:`d_T` the full-law TV, non-increasing), which bounds the conditional TV for
        all later steps.
    tv_full_at_certified : (R,) ndarray
        :math:`d_T` at ``certified_at``.
    p_leaf_at_mix : (R,) ndarray
        :math:`\Pr[X_T \in L]` at ``T = t_mix``.
    min_p_leaf_after : (R,) ndarray
        A lower bound on :math:`\inf_{T \ge t_{\rm mix}}\Pr[X_T\in L]`: the exact minimum
        over ``[t_mix, certified_at]``, combined with :math:`\tilde\pi(L) - d_{\rm cert}`
        for later steps.
    p_leaf_at_eval : (R,) ndarray
        :math:`\Pr[X_T \in L]` at ``T = T_eval`` (exact when ``T_eval <= certified_at``,
        otherwise the certified lower bound :math:`\tilde\pi(L) - d_{\rm cert}`); ``nan``
        without ``T_eval``.
    p_leaf_eval_exact : (R,) ndarray of bool
        Whether ``p_leaf_at_eval`` is exact (else the certified lower bound).
    stationary_leaf_mass : (R,) ndarray
        :math:`\tilde\pi(L)`.
    delta : float
        The TV target :math:`\delta`.
    """

    t_mix: np.ndarray
    certified_at: np.ndarray
    tv_full_at_certified: np.ndarray
    p_leaf_at_mix: np.ndarray
    min_p_leaf_after: np.ndarray
    p_leaf_at_eval: np.ndarray
    p_leaf_eval_exact: np.ndarray
    stationary_leaf_mass: np.ndarray
    delta: float

    def to_dict(self):
        out = {k: np.asarray(getattr(self, k)).tolist() for k in
               ("t_mix", "certified_at", "tv_full_at_certified", "p_leaf_at_mix",
                "min_p_leaf_after", "p_leaf_at_eval", "p_leaf_eval_exact",
                "stationary_leaf_mass")}
        out["delta"] = self.delta
        return out


def mixing_times(trees, node_values, delta, *, T_cap=1_000_000, T_eval=None,
                 tau_at_leaves=True):
    r"""Exact, certified :math:`T_\delta` of the fixed-``T`` sampler on each tree.

    Iterates :math:`\mu_{T+1} = \mu_T P` and records the last step at which
    :math:`\mathrm{TV}(\mu_T|_L, \pi^\star) > \delta`.  It stops once
    :math:`2 d_T / (\tilde\pi(L) - d_T) \le \delta` with :math:`d_T = \mathrm{TV}(\mu_T,
    \tilde\pi)`: since :math:`d_T` never increases and, for every :math:`A \subseteq L`,
    :math:`|\mu(A)/\mu(L) - \tilde\pi(A)/\tilde\pi(L)| \le 2d/\mu(L)`, the conditional TV
    stays below :math:`\delta` afterwards.  Hence ``t_mix`` is exact, not a first-passage
    estimate.

    Parameters
    ----------
    trees : PrefixTree or sequence of PrefixTree
    node_values : array_like or sequence
    delta : float in (0, 1), or sequence of them
        With a sequence, all levels are tracked in one pass and every per-level field of the
        result gains a trailing axis of length ``len(delta)``.
    T_cap : int
        Give up (``inf``) after this many steps.
    T_eval : array_like of int, optional
        Steps at which to report :math:`\Pr[X_T\in L]` (e.g. Theorem 4.1's ``T``), shape
        ``(R,)`` or ``(R, len(delta))``.
    tau_at_leaves : bool

    Returns
    -------
    MixingResult

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> mixing_times(expand_tree(aut), [2.0, 1.0, 3.0], 0.1).t_mix.tolist()
    [1.0]
    """
    scalar = np.ndim(delta) == 0
    dl = np.atleast_1d(as_finite_array(delta, "delta"))
    if dl.ndim != 1 or (dl <= 0).any() or (dl >= 1).any():
        raise ValueError(f"`delta` must be a level in (0, 1) or a 1-d sequence of them, got {delta!r}.")
    T_cap = check_int(T_cap, "T_cap", low=1)
    st = _Stack(trees, node_values, tau_at_leaves)
    R, D = st.R, dl.size
    if T_eval is None:
        t_eval = np.full((R, D), -1)
    else:
        t_eval = as_int_array(T_eval, "T_eval", low=0)
        if t_eval.shape == (R,):
            t_eval = np.repeat(t_eval[:, None], D, axis=1)
        if t_eval.shape != (R, D):
            raise ValueError(f"`T_eval` must have shape {(R,)} or {(R, D)}, got {t_eval.shape}.")
    mu = st.start()
    last_bad = np.full((R, D), -1.0)
    certified = np.full((R, D), np.inf)
    d_cert = np.full((R, D), np.nan)
    p_eval = np.full((R, D), np.nan)
    p_hist = []
    t = 0
    b = st.leaf_mass[:, None]
    while True:
        tv_leaf, p_leaf, tv_full = st.measures(mu)
        p_hist.append(p_leaf)
        hit = t_eval == t
        p_eval[hit] = np.broadcast_to(p_leaf[:, None], (R, D))[hit]
        open_ = ~np.isfinite(certified)
        bad = open_ & ~(tv_leaf[:, None] <= dl[None, :])  # nan (no leaf yet) counts as bad
        last_bad[bad] = t
        tf = tv_full[:, None]
        cert = open_ & (tf < b) & (2 * tf <= dl[None, :] * (b - tf))
        certified[cert] = t
        d_cert[cert] = np.broadcast_to(tf, (R, D))[cert]
        if np.isfinite(certified).all() or t >= T_cap:
            break
        mu = st.PT @ mu
        t += 1
    t_mix = np.where(np.isfinite(certified), last_bad + 1, np.inf)
    P = np.array(p_hist)  # (t+1, R)
    p_at = np.full((R, D), np.nan)
    p_min = np.full((R, D), np.nan)
    for r in range(R):
        for k in range(D):
            if np.isfinite(t_mix[r, k]):
                lo, hi = int(t_mix[r, k]), int(certified[r, k])
                p_at[r, k] = P[lo, r]
                p_min[r, k] = min(P[lo:hi + 1, r].min(), st.leaf_mass[r] - d_cert[r, k])
    exact_eval = np.isfinite(p_eval)
    late = ~exact_eval & (t_eval >= 0) & np.isfinite(certified) & (t_eval > certified)
    p_eval[late] = np.broadcast_to(b, (R, D))[late] - d_cert[late]

    def fmt(a):
        return readonly(a[:, 0] if scalar else a)

    return MixingResult(t_mix=fmt(t_mix), certified_at=fmt(certified),
                        tv_full_at_certified=fmt(d_cert), p_leaf_at_mix=fmt(p_at),
                        min_p_leaf_after=fmt(p_min), p_leaf_at_eval=fmt(p_eval),
                        p_leaf_eval_exact=fmt(exact_eval),
                        stationary_leaf_mass=readonly(st.leaf_mass),
                        delta=float(dl[0]) if scalar else tuple(float(x) for x in dl))


def relaxation_time(tree, node_values, *, tau_at_leaves=True):
    r"""Relaxation time :math:`t_{\rm rel} = 1/(1-\lambda_2)` of the lazy VGB walk (exact).

    The walk is reversible, so :math:`A = D^{1/2}PD^{-1/2}` (:math:`D = \mathrm{diag}(\tilde\pi)`)
    is symmetric with the spectrum of :math:`P`; :math:`\lambda_2` is its second largest
    eigenvalue, found by sparse shift-invert ``eigsh`` around 1 (a sparse LU of a
    tree-structured matrix; no dense LAPACK, whose threads oversubscribe small machines).
    By the standard bounds,
    :math:`(t_{\rm rel}-1)\log(1/2\delta) \le t_{\rm mix}(\delta) \le
    t_{\rm rel}\log(1/(\delta\min\tilde\pi))`: the :math:`H^2` of Theorem 4.1 is a statement
    about :math:`t_{\rm rel}`.

    Parameters
    ----------
    tree : PrefixTree
        The explicit prefix tree (:func:`expand_tree`).
    node_values : (N,) array_like
        :math:`\hat V` per node (non-negative).
    tau_at_leaves : bool, optional
        Replace the leaf values by :math:`\tau` (Algorithm 1, line 1).

    Returns
    -------
    float
        :math:`t_{\rm rel}`.

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> round(relaxation_time(expand_tree(aut), [2.0, 1.0, 3.0]), 6)
    2.0
    """
    tree = _check_tree(tree)
    P = transition_matrix(tree, node_values, tau_at_leaves=tau_at_leaves)
    pi = stationary_law(tree, node_values, tau_at_leaves=tau_at_leaves)
    if (pi <= 0).any():
        keep = np.flatnonzero(pi > 0)
        P = P[keep][:, keep]
        pi = pi[keep]
    d = np.sqrt(pi)
    A = sparse.diags(d) @ P @ sparse.diags(1.0 / d)
    A = (A + A.T) * 0.5
    n = A.shape[0]
    if n <= 3:
        ev = np.linalg.eigvalsh(A.toarray())
    else:
        # A fixed start vector: ARPACK's default is drawn from a generator whose state persists
        # across calls, which made t_rel differ in the last bits between runs and executors.
        ev = splinalg.eigsh(A.tocsc(), k=2, sigma=1.0 + 1e-7, which="LM",
                            v0=np.full(n, 1.0 / np.sqrt(n)), return_eigenvectors=False)
    ev = np.sort(ev)
    return float(1.0 / (1.0 - ev[-2]))


# --------------------------------------------------------------------------------------
# Other stopping rules and the baselines
# --------------------------------------------------------------------------------------


def first_leaf_law(tree, node_values, *, tau_at_leaves=True):
    r"""Exact output law of the *first-leaf heuristic* (stop at the first leaf hit).

    Not the sampler of VGB Theorem 4.1: it is exact when :math:`\hat V = V^\star` but biased
    otherwise (reference notes §A.7).  Computed by one sparse solve of the absorbing chain:
    with :math:`Q` the jump-chain transitions among internal nodes and :math:`R` those into
    leaves, the law is :math:`e_{\rm root}^\top (I-Q)^{-1}R` (holding steps do not change it).

    Parameters
    ----------
    tree : PrefixTree
        The explicit prefix tree (:func:`expand_tree`).
    node_values : (N,) array_like
        :math:`\hat V` per node (non-negative).
    tau_at_leaves : bool, optional
        Replace the leaf values by :math:`\tau` (Algorithm 1, line 1).

    Returns
    -------
    (L,) ndarray
        Law on ``tree.leaves`` (sums to one when a leaf is reached almost surely).

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> first_leaf_law(expand_tree(aut), [9.0, 1.0, 3.0]).tolist()
    [0.25, 0.75]
    """
    tree = _check_tree(tree)
    vals = _node_values_iv(tree, node_values, tau_at_leaves=tau_at_leaves)
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


def action_level_law(tree, node_values, *, tau_at_leaves=True):
    r"""Exact output law of ActionLevelRS (no backtracking) on the leaves.

    .. math:: \hat\pi(y) = \prod_{h=1}^{H}\frac{\pi_{\rm ref}(y_h\mid y_{<h})\hat V(y_{1:h})}
              {\sum_a \pi_{\rm ref}(a\mid y_{<h})\hat V(y_{<h}a)}

    With :math:`\hat V = V^\star` this is :math:`\pi^\star` (Section 3).

    Parameters
    ----------
    tree : PrefixTree
        The explicit prefix tree (:func:`expand_tree`).
    node_values : (N,) array_like
        :math:`\hat V` per node (non-negative).
    tau_at_leaves : bool, optional
        Replace the leaf values by :math:`\tau` (Algorithm 1, line 1).

    Returns
    -------
    law : (L,) ndarray
        Probability of each leaf of ``tree.leaves``.
    dead_end : float
        Probability of reaching an internal node whose children all have value 0 (the
        sampler then fails); ``law.sum() + dead_end == 1``.

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> law, dead = action_level_law(expand_tree(aut), [2.0, 1.0, 3.0])
    >>> law.tolist(), dead
    ([0.25, 0.75], 0.0)
    """
    tree = _check_tree(tree)
    vals = _node_values_iv(tree, node_values, tau_at_leaves=tau_at_leaves)
    N = tree.n_nodes
    par = tree.parent[1:]
    w = np.exp(tree.log_prefix[1:] - tree.log_prefix[par]) * vals[1:]
    Z = np.bincount(par, weights=w, minlength=N)
    edge = np.where(Z[par] > 0, w / np.where(Z[par] > 0, Z[par], 1.0), 0.0)
    mass = np.zeros(N)
    mass[0] = 1.0
    for h in range(1, tree.horizon + 1):
        sel = np.flatnonzero(tree.depth[1:] == h)
        mass[sel + 1] = mass[par[sel]] * edge[sel]
    internal = tree.depth < tree.horizon
    dead = float(mass[internal & (Z == 0)].sum())
    return mass[tree.leaves], dead


def best_of_n_law(probs, scores, n_candidates):
    r"""Exact law of Best-of-N selection on a finite support (uniform tie-breaking).

    The :math:`\hat\pi^{\rm BoN}_N` of Sec. 2 of the coverage paper, and the Best-of-N baseline
    of the VGB experiments (Fig. 1 of arXiv 2510.03149, as the reference notes report it).

    Draw ``N`` i.i.d. candidates from ``probs`` (a possibly sub-probability measure: missing
    mass means "no candidate") and output the one with the largest score:

    .. math:: \Pr[\text{out} = y] = \big(F(\le s_y)^N - F(< s_y)^N\big)\,
              \frac{p(y)}{p(\{z: s_z = s_y\})},

    with :math:`F(\le s) = p(\{z: s_z \le s\}) + (1 - p(\text{support}))` counting the missing
    mass as a score below every score.

    Parameters
    ----------
    probs : (M,) array_like
        Non-negative, total at most one.
    scores : (M,) array_like
        Score of each support point (higher is better).
    n_candidates : int
        Number ``N`` of i.i.d. candidates.

    Returns
    -------
    (M,) ndarray
        Output law; its deficit is the probability that all ``N`` draws were missing.

    Examples
    --------
    >>> best_of_n_law([0.5, 0.5], [0.0, 1.0], 2).tolist()
    [0.25, 0.75]
    """
    p = as_finite_array(probs, "probs", ndim=1)
    s = as_finite_array(scores, "scores", ndim=1)
    if s.shape != p.shape:
        raise ValueError(f"`scores` must have shape {p.shape}, got {s.shape}.")
    if (p < 0).any() or p.sum() > 1 + 1e-9:
        raise ValueError("`probs` must be non-negative with total at most one.")
    N = check_int(n_candidates, "n_candidates", low=1)
    miss = max(0.0, 1.0 - p.sum())
    uniq, inv = np.unique(s, return_inverse=True)
    group = np.bincount(inv, weights=p, minlength=uniq.size)
    cdf = miss + np.cumsum(group)
    below = cdf - group
    win = np.clip(cdf, 0, 1) ** N - np.clip(below, 0, 1) ** N
    share = np.where(group[inv] > 0, p / np.where(group[inv] > 0, group[inv], 1.0), 0.0)
    return win[inv] * share


def block_sampler_law(tree, node_values, block_length, n_candidates, kind, *,
                      tau_at_leaves=True):
    r"""Exact output law of block Best-of-N or block rejection sampling on a small tree.

    The Block Best-of-N and Block Rejection Sampling baselines of the VGB Dyck experiment
    (Fig. 1 of arXiv 2510.03149, as the reference notes report it).

    Both samplers grow the response block by block: from the current prefix ``u`` at depth
    ``h`` they draw ``K`` i.i.d. continuations ``z`` of ``b' = min(b, H - h)`` tokens from
    :math:`\pi_{\rm ref}` and

    * ``kind="bon"`` (block Best-of-N): keep the candidate with the largest
      :math:`\hat V(uz)` (uniform tie-breaking);
    * ``kind="rs"`` (block rejection sampling): accept candidate ``i`` with probability
      :math:`a(z) = \min\{1, \hat V(uz)/\hat V(u)\}` (candidates tried in order; the first
      acceptance wins); if all ``K`` are rejected, keep the rejected candidate with the
      largest :math:`\hat V(uz)`.  (Our definition: the sources do not fix the acceptance
      rule; this is the block analogue of the tokenwise verifier-ratio test.)

    With :math:`\hat V = \tau` at the leaves the last block is scored by the outcome reward.

    Parameters
    ----------
    tree : PrefixTree
        The explicit prefix tree (:func:`expand_tree`).
    node_values : (N,) array_like
        :math:`\hat V` per node (non-negative).
    block_length : int
        Block length ``b >= 1``.
    n_candidates : int
        Candidates per block ``K >= 1``.
    kind : {"bon", "rs"}
        Block Best-of-N or block rejection sampling.
    tau_at_leaves : bool, optional
        Replace the leaf values by :math:`\tau` (Algorithm 1, line 1).

    Returns
    -------
    (L,) ndarray
        Law on ``tree.leaves``.

    Examples
    --------
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> block_sampler_law(expand_tree(aut), [2.0, 1.0, 3.0], 1, 2, "bon").tolist()
    [0.25, 0.75]
    """
    tree = _check_tree(tree)
    vals = _node_values_iv(tree, node_values, tau_at_leaves=tau_at_leaves)
    b = check_int(block_length, "block_length", low=1)
    K = check_int(n_candidates, "n_candidates", low=1)
    if kind not in ("bon", "rs"):
        raise ValueError(f"`kind` must be 'bon' or 'rs', got {kind!r}.")
    H = tree.horizon
    # descendants of each node at a given relative depth, with conditional probabilities
    mass = np.zeros(tree.n_nodes)
    mass[0] = 1.0
    frontier = {0: 1.0}
    # recursion over blocks, node by node (small trees only)
    par = tree.parent
    for h0 in range(0, H, b):
        bb = min(b, H - h0)
        new = {}
        for u, pu in frontier.items():
            nodes = np.array([u])
            probs = np.array([1.0])
            for _ in range(bb):
                ch = tree.children[nodes]
                ok = ch >= 0
                rows, cols = np.nonzero(ok)
                kids = ch[rows, cols]
                cond = np.exp(tree.log_prefix[kids] - tree.log_prefix[par[kids]])
                nodes, probs = kids, probs[rows] * cond
            sc = vals[nodes]
            if kind == "bon":
                law = best_of_n_law(probs, sc, K)
            else:
                a = np.minimum(1.0, sc / vals[u]) if vals[u] > 0 else np.ones_like(sc)
                acc = probs * a
                A = acc.sum()
                first = acc * (1.0 - (1.0 - A) ** K) / A if A > 0 else np.zeros_like(acc)
                fall = _all_rejected_argmax(probs, a, sc, K)
                law = first + fall
            for node, q in zip(nodes, law):
                if q > 0:
                    new[int(node)] = new.get(int(node), 0.0) + pu * q
        frontier = new
    out = np.zeros(tree.leaves.size)
    pos = {int(v): i for i, v in enumerate(tree.leaves)}
    for node, q in frontier.items():
        out[pos[node]] += q
    return out


def _all_rejected_argmax(probs, accept, scores, K):
    r"""P(all K draws rejected and the argmax of the rejected draws is z), per z."""
    q = probs * (1.0 - accept)               # sub-probability of "drawn and rejected"
    uniq, inv = np.unique(scores, return_inverse=True)
    group = np.bincount(inv, weights=q, minlength=uniq.size)
    cdf = np.cumsum(group)
    below = cdf - group
    win = cdf ** K - below ** K
    share = np.where(group[inv] > 0, q / np.where(group[inv] > 0, group[inv], 1.0), 0.0)
    return win[inv] * share


def coverage_tail(pi_star, pi_hat, threshold):
    r""":math:`\Pr_{y\sim\pi^\star}[\pi^\star(y)/\hat\pi(y) > N]` from two laws on the same support.

    The coverage event of VGB Theorem 4.2 (strict ``>``, as that theorem is printed).

    Parameters
    ----------
    pi_star : (M,) array_like
        A probability vector (non-negative, summing to one).
    pi_hat : (M,) array_like
        Non-negative with total at most one: a sampler's output law on the leaves, which
        may miss mass when the sampler can fail to output a leaf.  It may vanish (ratio
        ``inf``).
    threshold : float or (K,) array_like
        :math:`N \ge 1` (``inf`` allowed), the domain of Theorem 4.2.

    Returns
    -------
    float or (K,) ndarray
        The tail probability at each threshold.

    Examples
    --------
    >>> coverage_tail([0.5, 0.5], [0.9, 0.1], 4.0)
    0.5
    """
    p = check_probability_vector(pi_star, "pi_star", ndim=1)
    q = as_finite_array(pi_hat, "pi_hat", ndim=1)
    if p.shape != q.shape:
        raise ValueError(f"`pi_hat` must have shape {p.shape}, got {q.shape}.")
    if (q < 0).any() or q.sum() > 1 + 1e-9:
        raise ValueError("`pi_hat` must be non-negative with total at most one, got minimum "
                         f"{q.min()} and total {q.sum()}.")
    thr = _threshold_iv(threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(p > 0, p / q, 0.0)
    out = (p[:, None] * (ratio[:, None] > thr.ravel()[None, :])).sum(axis=0).reshape(thr.shape)
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------
# Theorem constants and the closed forms of the examples
# --------------------------------------------------------------------------------------


_NO_DELTA = object()


def _threshold_iv(threshold):
    """Coverage thresholds :math:`N \\ge 1` (``inf`` allowed), as a float array."""
    thr = as_float_array(threshold, "threshold", allow_neginf=False)
    if (thr < 1).any():
        raise ValueError(f"`threshold` must be >= 1 (the domain of Theorem 4.2), got minimum {thr.min()}.")
    return thr


def _binomial_tv(n, q, r):
    r""":math:`\mathrm{TV}(\mathrm{Bin}(n, q), \mathrm{Bin}(n, r))` in :math:`O(1)` time and memory per element.

    The likelihood ratio is monotone in the count, so the set where the first law is larger
    is :math:`\{k \ge k^*\}` (for :math:`q > r`) and the distance is
    :math:`P_q[K \ge k^*] - P_r[K \ge k^*]` (two binomial survival functions).  Broadcasts.
    """
    from scipy import stats as _stats

    n, q, r = np.broadcast_arrays(np.asarray(n, dtype=np.float64), np.asarray(q, dtype=np.float64),
                                  np.asarray(r, dtype=np.float64))
    hi, lo = np.maximum(q, r), np.minimum(q, r)
    out = np.zeros(n.shape)
    on = (hi > lo) & (n > 0)
    if on.any():
        a = np.log(hi[on]) - np.log(lo[on])                     # > 0
        b = np.log1p(-hi[on]) - np.log1p(-lo[on])               # < 0 (or -inf when hi = 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cut = np.where(np.isfinite(b), np.floor(-n[on] * b / (a - b)), n[on])
        cut = np.clip(cut, -1.0, n[on])                         # the first law wins on k > cut
        out[on] = _stats.binom.sf(cut, n[on], hi[on]) - _stats.binom.sf(cut, n[on], lo[on])
    return np.clip(out, 0.0, 1.0)


def _h_eps_iv(H, eps, delta=_NO_DELTA):
    """``H >= 1`` (array of integers), ``eps >= 0`` and ``delta`` in (0, 1), broadcast."""
    Ha = as_finite_array(H, "H")
    if (Ha < 1).any() or (Ha != np.round(Ha)).any() or (Ha > 2.0 ** 53).any():
        raise ValueError(f"`H` must be a positive integer up to 2**53 (or an array of them), got {H!r}.")
    ea = as_finite_array(eps, "eps")
    if (ea < 0).any():
        raise ValueError(f"`eps` must be >= 0, got minimum {ea.min()}.")
    out = [Ha, ea]
    if delta is not _NO_DELTA:
        da = as_finite_array(delta, "delta")
        if (da <= 0).any() or (da >= 1).any():
            raise ValueError(f"`delta` must lie in (0, 1), got {delta!r}.")
        out.append(da)
    try:
        np.broadcast_shapes(*(a.shape for a in out))
    except ValueError:
        raise ValueError("`H`, `eps`" + (" and `delta`" if delta is not _NO_DELTA else "")
                         + " do not broadcast.") from None
    return out


def theorem_4_1_leaf_probability_bound(H, eps):
    r"""Theorem 4.1: :math:`\Pr[\text{output is a leaf}] \ge 1/(8(1+\varepsilon_V)H)`.

    VGB Theorem 4.1 (arXiv 2510.03149).  The constant 8 is as the paper note and OpenReview
    reviewer print it (not checked against the PDF).

    Parameters
    ----------
    H : int or array_like of int
        Horizon ``H >= 1``.
    eps : float or array_like
        :math:`\varepsilon_V \ge 0` of Assumption 4.1.

    Returns
    -------
    ndarray
        :math:`1/(8(1+\varepsilon_V)H)`, broadcast over the arguments.

    Examples
    --------
    >>> float(theorem_4_1_leaf_probability_bound(4, 0.0))
    0.03125
    """
    H, eps = _h_eps_iv(H, eps)
    return 1.0 / (8.0 * (1.0 + eps) * H)


def stationary_leaf_mass_bound(H, eps):
    r"""Stationary leaf mass under Assumption 4.1: :math:`\tilde\pi(L) \ge 1/(2(1+\varepsilon_V)H)`.

    [derived] Each internal depth carries weight at most :math:`2(1+\varepsilon_V)Z`, the
    root at most :math:`(1+\varepsilon_V)Z` and the leaves exactly :math:`Z`; equality
    :math:`1/(2H)` holds for :math:`\hat V = V^\star`.  (The stationary-law counterpart of
    VGB Theorem 4.1's leaf probability, :func:`theorem_4_1_leaf_probability_bound`.)

    Parameters
    ----------
    H : int or array_like of int
        Horizon ``H >= 1``.
    eps : float or array_like
        :math:`\varepsilon_V \ge 0` of Assumption 4.1.

    Returns
    -------
    ndarray
        :math:`1/(2(1+\varepsilon_V)H)`, broadcast over the arguments.

    Examples
    --------
    >>> float(stationary_leaf_mass_bound(4, 0.0))
    0.125
    """
    H, eps = _h_eps_iv(H, eps)
    return 1.0 / (2.0 * (1.0 + eps) * H)


def theorem_4_1_steps_shape(H, eps, delta):
    r"""Theorem 4.1's step count shape :math:`H^2(1+\varepsilon_V)^4\log(1/\delta)` (constant 1, no log factors).

    VGB Theorem 4.1 (arXiv 2510.03149): :math:`T = \tilde O(H^2(1+\varepsilon_V)^4\log(1/\delta))`.

    Parameters
    ----------
    H : int or array_like of int
        Horizon ``H >= 1``.
    eps : float or array_like
        :math:`\varepsilon_V \ge 0` of Assumption 4.1.
    delta : float or array_like
        Target TV :math:`\delta \in (0, 1)`.

    Returns
    -------
    ndarray
        :math:`H^2(1+\varepsilon_V)^4\log(1/\delta)`, broadcast over the arguments.

    Examples
    --------
    >>> float(theorem_4_1_steps_shape(2, 0.0, np.exp(-1)))
    4.0
    """
    H, eps, delta = _h_eps_iv(H, eps, delta)
    return H ** 2 * (1.0 + eps) ** 4 * np.log(1.0 / delta)


def theorem_4_2_threshold(H, eps, delta):
    r"""Theorem 4.2's coverage threshold :math:`48H(1+\varepsilon_V)^2/\delta` (constant as printed by the secondary sources).

    VGB Theorem 4.2 (arXiv 2510.03149):
    :math:`\Pr_{y\sim\pi^\star}[\pi^\star(y)/\hat\pi(y) > 48H(1+\varepsilon_V)^2/\delta] \le \delta`
    under Assumption 4.2.

    Parameters
    ----------
    H : int or array_like of int
        Horizon ``H >= 1``.
    eps : float or array_like
        :math:`\varepsilon_V \ge 0` of Assumption 4.1.
    delta : float or array_like
        :math:`\delta \in (0, 1)`.

    Returns
    -------
    ndarray
        :math:`48H(1+\varepsilon_V)^2/\delta`, broadcast over the arguments.

    Examples
    --------
    >>> float(theorem_4_2_threshold(1, 0.0, 0.5))
    96.0
    """
    H, eps, delta = _h_eps_iv(H, eps, delta)
    return 48.0 * H * (1.0 + eps) ** 2 / delta


def example_3_1_action_level_tv(H, eps):
    r"""Example 3.1: exact TV between ActionLevelRS and :math:`\pi^\star` under a single-action perturbation.

    Instance: binary tokens, uniform :math:`\pi_{\rm ref}`, :math:`\tau \equiv 1` (so
    :math:`\pi^\star = \pi_{\rm ref}` and :math:`V^\star \equiv 1`), and
    :math:`\hat V(y_{1:h}) = (1+\varepsilon)^{\mathbb 1[y_h = 1]}` for :math:`h < H` (every
    internal child reached by action 1 over-valued by :math:`1+\varepsilon`) and
    :math:`\hat V = \tau` at the leaves, so Assumption 4.1 holds with
    :math:`\varepsilon_V = \varepsilon`.  ActionLevelRS draws :math:`y_1, \dots, y_{H-1}`
    i.i.d. with :math:`\Pr[y_h = 1] = q = (1+\varepsilon)/(2+\varepsilon)` and :math:`y_H`
    uniformly; the laws depend on :math:`y_{1:H-1}` only through its number of ones, so

    .. math:: \mathrm{TV} = \mathrm{TV}(\mathrm{Bin}(H-1, q), \mathrm{Bin}(H-1, 1/2))
              = \Omega(\min\{\varepsilon\sqrt H, 1\}).

    The likelihood ratio of the two binomials is monotone in the count, so the distance is
    a difference of two binomial survival functions (:math:`O(1)` time and memory per
    element, any ``H`` up to :math:`2^{53}`).

    Parameters
    ----------
    H : int or array_like of int
        Horizon ``H >= 1``.
    eps : float or array_like
        :math:`\varepsilon \ge 0`, broadcast against ``H``.

    Returns
    -------
    ndarray or float
        The broadcast shape of ``H`` and ``eps`` (a float for scalars).

    Examples
    --------
    >>> round(float(example_3_1_action_level_tv(2, 1.0)), 4)   # |2/3 - 1/2|
    0.1667
    """
    Hs, es = _h_eps_iv(H, eps)
    out = _binomial_tv(Hs - 1, (1.0 + es) / (2.0 + es), 0.5)
    return float(out) if out.ndim == 0 else out


def example_3_2_action_level_regret(H, lam):
    r"""Example 3.2: exact KL-regularised regret of ActionLevelRS with the one-step-delayed value.

    Instance: binary tokens, uniform :math:`\pi_{\rm ref}`, :math:`r^\star(y) = \frac1H\sum_h
    y_h`, :math:`\tau = e^{r^\star/\beta}` with :math:`\beta = 1/(\lambda H)` (so
    :math:`\tau = e^{\lambda\sum_h y_h}` and :math:`\pi^\star` is i.i.d.
    :math:`\mathrm{Ber}(\sigma(\lambda))`).  The delayed value
    :math:`\hat V(y_{1:h}) = V^\star(y_{1:h-1})` does not depend on :math:`y_h`, so
    ActionLevelRS draws :math:`y_1..y_{H-1}` uniformly; with :math:`\hat V = \tau` at the
    leaves the last token follows :math:`\pi^\star`.  Using
    :math:`J_\beta(\pi^\star) - J_\beta(\pi) = \beta\,\mathrm{KL}(\pi\|\pi^\star)`:

    .. math:: \text{regret} = \beta(H-1)\,\mathrm{KL}(\mathrm{Ber}(\tfrac12)\|\mathrm{Ber}(\sigma(\lambda)))
              = \frac{H-1}{\lambda H}\mathrm{KL}(\cdot) = \Omega(1).

    Parameters
    ----------
    H : int or array_like of int
        Horizon ``H >= 1``.
    lam : float or array_like
        :math:`\lambda > 0` (:math:`\beta = 1/(\lambda H)`).

    Returns
    -------
    regret, tv : float or ndarray
        The regret and :math:`\mathrm{TV}(\hat\pi, \pi^\star)`.

    Examples
    --------
    >>> r, tv = example_3_2_action_level_regret(1, 1.0)
    >>> float(r), float(tv)
    (0.0, 0.0)
    """
    Hs = as_finite_array(H, "H")
    if (Hs < 1).any() or (Hs != np.round(Hs)).any() or (Hs > 2.0 ** 53).any():
        raise ValueError(f"`H` must be a positive integer up to 2**53 (or an array of them), got {H!r}.")
    lam = as_finite_array(lam, "lam")
    if (lam <= 0).any():
        raise ValueError(f"`lam` must be > 0, got minimum {lam.min()}.")
    try:
        np.broadcast_shapes(Hs.shape, lam.shape)
    except ValueError:
        raise ValueError("`H` and `lam` do not broadcast.") from None
    p = special.expit(lam)
    kl = 0.5 * np.log(0.5 / p) + 0.5 * np.log(0.5 / (1 - p))
    regret = (Hs - 1) / (lam * Hs) * kl
    tv = _binomial_tv(Hs - 1, p, 0.5)
    if np.ndim(regret) == 0:
        return float(regret), float(tv)
    return regret, tv


def example_3_1_action_level_coverage_tail(H, eps, threshold):
    r"""Example 3.1: exact :math:`\Pr_{y\sim\pi^\star}[\pi^\star(y)/\hat\pi_{\rm ALRS}(y) > N]`.

    With :math:`k'` the number of ones among :math:`y_1..y_{H-1}` (:math:`\sim\mathrm{Bin}(H-1,
    1/2)` under :math:`\pi^\star`) and :math:`q = (1+\varepsilon)/(2+\varepsilon)` (see
    :func:`example_3_1_action_level_tv`),

    .. math:: \log\frac{\pi^\star}{\hat\pi} = -(H-1)\log 2 - k'\log q - (H-1-k')\log(1-q)
              = (H-1-k')\log\big(1+\tfrac\varepsilon2\big)
                - k'\log\big(1+\tfrac{\varepsilon}{2+\varepsilon}\big),

    evaluated in the second form: exactly 0 at :math:`\varepsilon = 0` and monotone in
    :math:`k'` in floating point (the first form leaves rounding noise of either sign, which
    made :math:`\varepsilon = 0`, :math:`N = 1` count a spurious tail).

    The log-ratio decreases in :math:`k'`, so the event is :math:`\{k' < k_c\}` and the tail
    is one binomial CDF per threshold (:math:`O(1)` time and memory in ``H``).

    Parameters
    ----------
    H : int
        Horizon ``H >= 1`` (up to :math:`2^{53}`).
    eps : float
        :math:`\varepsilon \ge 0`.
    threshold : float or array_like
        :math:`N \ge 1` (``inf`` allowed), the domain of Theorem 4.2; smaller values are
        refused (for :math:`N < 1` the tail is not the coverage event of the theorem).

    Returns
    -------
    float or ndarray
        The tail at each threshold, shape ``np.shape(threshold)``.

    Examples
    --------
    >>> float(example_3_1_action_level_coverage_tail(1, 1.0, 2.0))
    0.0
    """
    from scipy import stats as _stats
    H = check_int(H, "H", low=1, high=2 ** 53)
    eps = check_real(eps, "eps", low=0)
    thr = _threshold_iv(threshold)
    n = H - 1
    log_n = np.log(thr.ravel())
    up, down = np.log1p(eps / 2.0), np.log1p(eps / (2.0 + eps))

    def log_ratio(k):
        return (n - k) * up - k * down

    # k_c = #{k in [0, n] : log_ratio(k) > log N}, a prefix of 0..n: bisection on the
    # integers with the log-ratio itself as the predicate (about 55 steps at most).
    lo = np.zeros(log_n.shape)                                     # count >= lo
    hi = np.full(log_n.shape, n + 1.0)                             # count <= hi
    while np.any(hi > lo):
        mid = np.ceil((lo + hi) / 2)
        ok = log_ratio(mid - 1) > log_n
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid - 1)
    out = np.where(lo > 0, _stats.binom.cdf(lo - 1, n, 0.5), 0.0).reshape(thr.shape)
    return float(out) if out.ndim == 0 else out
