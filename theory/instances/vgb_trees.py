r"""Tree instances for the VGB experiments, as :class:`theory.vgb.TreeAutomaton` objects.

Moved from ``simulations.samplers.trees`` (that path still resolves, with a
``DeprecationWarning``): the examples are constructions of the VGB paper and the random trees
are deterministic given their ``rng``, so they belong with the other instances in
:mod:`theory`, which imports nothing from :mod:`simulations`.

* :func:`random_tree` -- a complete ``V``-ary tree of depth ``H`` with random next-token laws
  (Dirichlet) and random rewards; one state per node.
* :func:`sparse_branching_tree` -- a tree that branches (``V`` ways) only at ``n_branch``
  equally spaced depths and is a path in between: the depth ``H`` grows while the number of
  leaves stays ``V**n_branch``, so exact analysis reaches ``H = 64`` and beyond.  Mixing still
  needs the walk to diffuse over distance ``H`` to move mass between the top-level subtrees.
* :func:`example_3_1_automaton` / :func:`example_3_2_automaton` -- the binary, uniform-``π_ref``
  instances of Examples 3.1 and 3.2 in counting form (states ``(h, number of ones, last
  token)``), valid at any ``H``; expand them for exact analysis at small ``H``.
"""

from __future__ import annotations

import numpy as np

from ..docstrings import DocTemplate
from ..validation import check_allocation, check_int, check_real, check_rng
from ..vgb import TreeAutomaton

__all__ = ["random_tree", "sparse_branching_tree", "example_3_1_automaton",
           "example_3_2_automaton", "tree_from_levels"]

#: Most levels of an explicit tree (its nodes are built level by level, one numpy pass each).
MAX_LEVELS = 100_000

#: Largest horizon of the Examples 3.1/3.2 automata: ``H (H + 1) + 1`` states (about 10**6),
#: enumerated in Python; the exact laws of those examples at larger ``H`` have closed forms.
MAX_COUNTING_HORIZON = 1024

#: The randomness and reward parameters shared by the random-tree constructors.
_docs = DocTemplate(random_tree_params=r"""
rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
    Source of randomness (SPEC 7; a ``Generator`` is used as is, so its stream advances).
reward : {"uniform", "lognormal"}, optional
    Leaf rewards :math:`\tau \sim U(0.05, 1)` or :math:`\tau = e^{Z}`, :math:`Z \sim N(0, 1)`.
zero_fraction : float, optional
    Probability that a leaf gets :math:`\tau = 0` (at least one leaf keeps a positive reward).
concentration : float, optional
    Dirichlet concentration of the next-token laws.
""")


@_docs
def tree_from_levels(branching, *, rng, reward="uniform", zero_fraction=0.0, concentration=1.0):
    r"""Explicit tree with branching factor ``branching[h]`` at depth ``h`` (one state per node).

    Synthetic instance (not a construction of the paper) for checking VGB Algorithm 1's
    stationary law and the mixing of Theorem 4.1 exactly.

    Parameters
    ----------
    branching : sequence of int
        Children per node at each depth ``0..H-1`` (``1`` = a path step).
    %(random_tree_params)s

    Returns
    -------
    TreeAutomaton
        One state per node.

    Examples
    --------
    >>> aut = tree_from_levels([2, 1, 3], rng=np.random.default_rng(0))
    >>> aut.n_states, int(aut.is_leaf.sum())
    (11, 6)
    """
    rng = check_rng(rng)
    if isinstance(branching, (str, bytes)) or not hasattr(branching, "__iter__"):
        raise TypeError(f"`branching` must be a sequence of ints, got {type(branching).__name__}.")
    branching = [check_int(b, "branching", low=1) for b in branching]
    H = len(branching)
    if H < 1:
        raise ValueError("`branching` must have at least one level.")
    zero_fraction = check_real(zero_fraction, "zero_fraction", low=0, high=1, high_open=True)
    concentration = check_real(concentration, "concentration", low=0, low_open=True)
    if reward not in ("uniform", "lognormal"):
        raise ValueError(f"`reward` must be 'uniform' or 'lognormal', got {reward!r}.")
    if H > MAX_LEVELS:
        raise ValueError(f"`branching` has {H} levels; explicit trees (one state per node, built "
                         f"level by level) take at most {MAX_LEVELS}: use the automaton of a "
                         f"construction with shared states instead.")
    V = max(branching)
    counts = [1]
    for b in branching:
        counts.append(counts[-1] * b)
        if counts[-1] > 1 << 40:  # already far beyond any budget: stop before the ints grow
            break
    check_allocation(sum(counts) * (16 * V + 16),
                     f"an explicit tree with `branching` = {branching[:4]}{'...' if H > 4 else ''} "
                     f"({H} levels, {sum(counts)}{'+' if counts[-1] > 1 << 40 else ''} nodes)",
                     "use a smaller branching or horizon")
    offs = np.concatenate([[0], np.cumsum(counts)])
    S = int(offs[-1])
    nxt = -np.ones((S, V), dtype=np.int64)
    lp = np.zeros((S, V))
    depth = np.zeros(S, dtype=np.int64)
    tau = np.zeros(S)
    for h in range(H + 1):
        idx = np.arange(offs[h], offs[h + 1])
        depth[idx] = h
        if h < H:
            b = branching[h]
            loc = np.arange(counts[h])
            nxt[idx, :b] = offs[h + 1] + loc[:, None] * b + np.arange(b)
            p = rng.dirichlet(np.full(b, float(concentration)), size=counts[h]) if b > 1 \
                else np.ones((counts[h], 1))
            p = np.maximum(p, 1e-300)
            lp[idx, :b] = np.log(p / p.sum(axis=1, keepdims=True))
            lp[idx, b:] = -np.inf
    leaves = np.arange(offs[H], offs[H + 1])
    if reward == "uniform":
        t = rng.uniform(0.05, 1.0, size=leaves.size)
    else:                                                   # "lognormal", checked above
        t = np.exp(rng.standard_normal(leaves.size))
    if zero_fraction > 0:
        kill = rng.random(leaves.size) < zero_fraction
        if kill.all():
            kill[rng.integers(leaves.size)] = False
        t[kill] = 0.0
    tau[leaves] = t
    # tokens beyond the branching factor have probability 0: they are excluded children
    return TreeAutomaton(next_state=nxt, log_probs=lp, depth=depth, tau=tau, horizon=H)


@_docs
def random_tree(vocab_size, horizon, *, rng, reward="uniform", zero_fraction=0.0,
                concentration=1.0):
    r"""Complete ``vocab_size``-ary tree of depth ``horizon`` (see :func:`tree_from_levels`).

    Synthetic instance (not a construction of the paper) for checking VGB Algorithm 1's
    stationary law and the mixing of Theorem 4.1 exactly.

    Parameters
    ----------
    vocab_size : int
        Children per internal node ``V``.
    horizon : int
        Depth ``H``.
    %(random_tree_params)s

    Returns
    -------
    TreeAutomaton
        One state per node.

    Examples
    --------
    >>> aut = random_tree(2, 3, rng=np.random.default_rng(0))
    >>> aut.n_states
    15
    """
    rng = check_rng(rng)
    V = check_int(vocab_size, "vocab_size", low=1)
    H = check_int(horizon, "horizon", low=1, high=MAX_LEVELS)
    nodes = (V ** (H + 1) - 1) // (V - 1) if V > 1 and H * np.log2(V) < 62 else (H + 1 if V == 1 else 1 << 62)
    check_allocation(nodes * (16 * V + 16), f"a complete tree with `vocab_size` = {V} and `horizon` = {H}",
                     "use a smaller vocab_size or horizon")
    return tree_from_levels([V] * H, rng=rng, reward=reward, zero_fraction=zero_fraction,
                            concentration=concentration)


@_docs
def sparse_branching_tree(horizon, *, n_branch=3, branching=3, rng, reward="uniform",
                          zero_fraction=0.0, concentration=1.0):
    r"""Tree branching ``branching`` ways at depths :math:`\lfloor kH/n_{\rm branch}\rfloor`, ``k = 0..n_branch-1``.

    Synthetic instance (not a construction of the paper) for checking VGB Algorithm 1's
    stationary law and the mixing of Theorem 4.1 exactly.
    The depth grows while the number of leaves stays ``branching**n_branch``.

    Parameters
    ----------
    horizon : int
        Depth ``H``.
    n_branch : int, optional
        Number of branching depths, in ``[1, H]``.
    branching : int, optional
        Children at a branching depth, ``>= 2``.
    %(random_tree_params)s

    Returns
    -------
    TreeAutomaton
        One state per node.

    Examples
    --------
    >>> aut = sparse_branching_tree(8, n_branch=2, branching=2, rng=np.random.default_rng(0))
    >>> int(aut.is_leaf.sum())
    4
    """
    rng = check_rng(rng)
    H = check_int(horizon, "horizon", low=1, high=MAX_LEVELS)
    n_branch = check_int(n_branch, "n_branch", low=1, high=H)
    b = check_int(branching, "branching", low=2)
    levels = [1] * H
    for k in range(n_branch):
        levels[(k * H) // n_branch] = b
    return tree_from_levels(levels, rng=rng, reward=reward, zero_fraction=zero_fraction,
                            concentration=concentration)


def _counting_automaton(H, log_tau_of_count):
    """Binary uniform model with states (h, k ones, last token); tau = f(k) at leaves."""
    # state id: root 0; then for h >= 1, k in 0..h, last in {0,1} (last=1 needs k>=1,
    # last=0 needs k<=h-1).
    ids = {(0, 0, -1): 0}
    rows = [(0, 0, -1)]
    for h in range(1, H + 1):
        for k in range(h + 1):
            for last in (0, 1):
                if (last == 1 and k == 0) or (last == 0 and k == h):
                    continue
                ids[(h, k, last)] = len(rows)
                rows.append((h, k, last))
    S = len(rows)
    nxt = -np.ones((S, 2), dtype=np.int64)
    depth = np.array([r[0] for r in rows], dtype=np.int64)
    ones = np.array([r[1] for r in rows], dtype=np.int64)
    last = np.array([r[2] for r in rows], dtype=np.int64)
    for s, (h, k, _) in enumerate(rows):
        if h < H:
            nxt[s, 0] = ids[(h + 1, k, 0)]
            nxt[s, 1] = ids[(h + 1, k + 1, 1)]
    lp = np.full((S, 2), np.log(0.5))
    tau = np.where(depth == H, np.exp(log_tau_of_count(ones)), 0.0)
    aut = TreeAutomaton(next_state=nxt, log_probs=lp, depth=depth, tau=tau, horizon=H)
    return aut, ones, last


def example_3_1_automaton(horizon):
    r"""Example 3.1's instance: binary tokens, uniform :math:`\pi_{\rm ref}`, :math:`\tau \equiv 1`.

    Parameters
    ----------
    horizon : int
        ``H >= 1``.

    Returns
    -------
    automaton : TreeAutomaton
        States ``(h, k, last token)``.
    ones, last : (S,) ndarray
        Number of ones and last token (``-1`` at the root) of each state; the perturbed value
        of Example 3.1 is :math:`(1+\varepsilon)^{\mathbb 1[\text{last} = 1]}`
        (:func:`simulations.samplers.value_functions.single_action_perturbation`).

    Examples
    --------
    >>> aut, ones, last = example_3_1_automaton(3)
    >>> float(aut.tau.max())
    1.0
    """
    H = check_int(horizon, "horizon", low=1, high=MAX_COUNTING_HORIZON)
    return _counting_automaton(H, lambda k: np.zeros_like(k, dtype=float))


def example_3_2_automaton(horizon, lam=1.0):
    r"""Example 3.2's instance: binary uniform :math:`\pi_{\rm ref}`, :math:`\tau = e^{\lambda\sum_h y_h}`.

    This is :math:`\tau = e^{r^\star/\beta}` with :math:`r^\star = \frac1H\sum_h y_h` and
    :math:`\beta = 1/(\lambda H)`.

    Parameters
    ----------
    horizon : int
        ``H >= 1``.
    lam : float, optional
        :math:`\lambda > 0`.

    Returns
    -------
    automaton, ones, last
        As in :func:`example_3_1_automaton`.

    Examples
    --------
    >>> aut, ones, last = example_3_2_automaton(2, lam=1.0)
    >>> round(float(aut.tau.max()), 4)
    7.3891
    """
    H = check_int(horizon, "horizon", low=1, high=MAX_COUNTING_HORIZON)
    lam = check_real(lam, "lam", low=0, low_open=True)
    return _counting_automaton(H, lambda k: lam * k.astype(float))
