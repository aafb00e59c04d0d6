r"""The reference model and reward as a finite-state automaton, and its explicit prefix tree.

Value-guided backtracking (VGB, arXiv 2510.03149, Algorithm 1) walks on the tree of prefixes
:math:`y_{1:h}` of a response of length :math:`H`.  This module holds the objects the walk is
defined on and the value functions of Section 3:

* :class:`TreeAutomaton` -- :math:`\pi_{\rm ref}` and :math:`\tau` in finite-state form (every
  prefix carries a state; :math:`\pi_{\rm ref}(\cdot\mid u)`, :math:`\tau` and value functions
  depend on the prefix only through its state).  An explicit tree is the special case "one
  state per node".
* :func:`optimal_values` -- :math:`V^\star(u) = \mathbb E_{\pi_{\rm ref}}[\tau \mid u]` by
  backward dynamic programming; :func:`prefix_state_mass`, :func:`target_state_marginals`,
  :func:`uniform_error`, :func:`average_case_error` (the errors of Assumption 4.1 and
  Theorem 4.2).
* :func:`expand_tree` -- the explicit prefix tree (:class:`PrefixTree`, up to ~10^5 nodes).

Layout of :mod:`theory.vgb`: this module is the bottom of the package; :mod:`theory.vgb.walk`,
:mod:`theory.vgb.mixing` and :mod:`theory.vgb.baselines` import from it, never the reverse.  The two input checks
every walk function needs, :func:`check_tree` and :func:`check_node_values`, are public here
(not in ``__all__``: they are plumbing of the package, not results) because this module owns
:class:`PrefixTree`, the object they validate.

Numbering: the VGB paper's statements are cited as in arXiv 2510.03149 v1 (the ICLR 2026
version uses the same numbers as far as our sources show; see
``../shared/reference/vgb-and-sampling.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ..docstrings import DocTemplate
from ..validation import as_finite_array, as_float_array, as_int_array, check_int, readonly

__all__ = [
    "TreeAutomaton",
    "PrefixTree",
    "optimal_values",
    "prefix_state_mass",
    "target_state_marginals",
    "uniform_error",
    "average_case_error",
    "expand_tree",
]

#: Parameter descriptions shared by the modules of :mod:`theory.vgb` (filled with ``@docs``;
#: see :mod:`theory.docstrings`): each parameter's meaning is stated here once.
docs = DocTemplate(
    automaton=r"""
automaton : TreeAutomaton
    Reference model and outcome reward.""",
    v_star=r"""
v_star : (S,) array_like, optional
    :math:`V^\star` per state if already computed (:func:`~theory.vgb.automaton.optimal_values`).""",
    tree=r"""
tree : PrefixTree
    The explicit prefix tree (:func:`~theory.vgb.automaton.expand_tree`).""",
    node_values=r"""
node_values : (N,) array_like
    :math:`\hat V` per node (non-negative).""",
    tau_at_leaves=r"""
tau_at_leaves : bool, optional
    Replace the leaf values by :math:`\tau` (Algorithm 1, line 1); default ``True``."""
)

#: Largest explicit tree :func:`expand_tree` builds by default.
MAX_TREE_NODES = 400_000


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


@docs
def prefix_state_mass(automaton):
    r"""Total prefix probability :math:`\rho(s) = \sum_{u:\,s(u)=s}\pi_{\rm ref}(u)` of each state.

    Forward dynamic programming (excluded children drop their mass).  The prefix
    probabilities :math:`\pi_{\rm ref}(u)` enter the edge weights of VGB Algorithm 1.

    Parameters
    ----------
    %(automaton)s

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


@docs
def target_state_marginals(automaton, v_star=None):
    r"""Marginal law of the state of :math:`y_{1:h}` under :math:`y \sim \pi^\star`, for every ``h``.

    .. math:: \pi^\star(s) = \rho(s)\,V^\star(s)/Z

    The marginals under which Assumption 4.2 (VGB) averages the value errors.

    Parameters
    ----------
    %(automaton)s
    %(v_star)s

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


@docs
def uniform_error(automaton, values, *, v_star=None):
    r"""The smallest :math:`\varepsilon_V` for which ``values`` satisfies Assumption 4.1.

    .. math:: \frac{1}{1+\varepsilon_V} \le \frac{\hat V(u)}{V^\star(u)} \le 1 + \varepsilon_V

    over every reachable internal prefix (states with positive prefix mass).  States with
    :math:`V^\star = 0` require :math:`\hat V = 0` (else the error is infinite).  Assumption
    4.1 also asks :math:`\hat V = \tau` at the leaves; a mismatch there gives ``inf``.

    Parameters
    ----------
    %(automaton)s
    values : (S,) array_like
        :math:`\hat V` per state.
    %(v_star)s

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


@docs
def average_case_error(automaton, values, *, v_star=None):
    r"""Per-depth average-case errors of Assumption 4.2 and the resulting :math:`\varepsilon_V`.

    .. math:: \mathbb E_{y\sim\pi^\star}\Big[\frac{\hat V(y_{1:h})}{V^\star(y_{1:h})}\Big]
              \le 1+\varepsilon_V,\qquad
              \mathbb E_{y\sim\pi^\star}\Big[\frac{V^\star(y_{1:h})}{\hat V(y_{1:h})}\Big]
              \le 1+\varepsilon_V, \qquad h = 1, \dots, H.

    Parameters
    ----------
    %(automaton)s
    values : (S,) array_like
        :math:`\hat V` per state (any non-negative values; leaves need not equal ``tau``).
    %(v_star)s

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


@docs
def expand_tree(automaton, *, max_nodes=MAX_TREE_NODES):
    r"""Expand an automaton into its explicit prefix tree (breadth-first).

    The tree of prefixes on which VGB Algorithm 1 walks.

    Parameters
    ----------
    %(automaton)s
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


def check_tree(tree, name="tree"):
    """Return ``tree`` if it is a :class:`PrefixTree`, else raise ``TypeError`` naming ``name``."""
    if not isinstance(tree, PrefixTree):
        raise TypeError(f"`{name}` must be a PrefixTree, got {type(tree).__name__}.")
    return tree


def check_node_values(tree, node_values, *, tau_at_leaves):
    r"""``node_values`` as a fresh ``(n_nodes,)`` array of :math:`\hat V`, with :math:`\tau` on the leaves if asked.

    ``ValueError`` naming ``node_values`` on a wrong shape, a negative or a non-finite value.
    """
    vals = _check_values(node_values, tree.n_nodes, "node_values").copy()
    if tau_at_leaves:
        vals[tree.leaves] = tree.automaton.tau[tree.state[tree.leaves]]
    return vals
