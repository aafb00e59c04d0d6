r"""Exact output laws of the samplers VGB is compared with, and the coverage tail of Theorem 4.2.

* :func:`action_level_law` -- ActionLevelRS: token-by-token rejection sampling with
  :math:`\hat V`, no backtracking (Example 3.1 and 3.2 of arXiv 2510.03149).
* :func:`best_of_n_law` -- the output law of Best-of-N on an explicit support.
* :func:`block_sampler_law` -- the block-wise baselines (Best-of-N and rejection per block).
* :func:`coverage_tail` -- :math:`\Pr_{\pi^\star}[\pi^\star/\hat\pi > N]`, the quantity
  Theorem 4.2 bounds, for any of these laws.

Imports: :mod:`theory.vgb.automaton` (the tree checks) and :mod:`theory.vgb.constants` (the
domain check of Theorem 4.2's threshold, shared with the closed form of Example 3.1).
"""

from __future__ import annotations

import numpy as np

from ..validation import as_finite_array, check_int, check_probability_vector
from .automaton import check_node_values, check_tree, docs
from .constants import check_threshold

__all__ = [
    "action_level_law",
    "best_of_n_law",
    "block_sampler_law",
    "coverage_tail",
]


@docs
def action_level_law(tree, node_values, *, tau_at_leaves=True):
    r"""Exact output law of ActionLevelRS (no backtracking) on the leaves.

    .. math:: \hat\pi(y) = \prod_{h=1}^{H}\frac{\pi_{\rm ref}(y_h\mid y_{<h})\hat V(y_{1:h})}
              {\sum_a \pi_{\rm ref}(a\mid y_{<h})\hat V(y_{<h}a)}

    With :math:`\hat V = V^\star` this is :math:`\pi^\star` (Section 3).

    Parameters
    ----------
    %(tree)s
    %(node_values)s
    %(tau_at_leaves)s

    Returns
    -------
    law : (L,) ndarray
        Probability of each leaf of ``tree.leaves``.
    dead_end : float
        Probability of reaching an internal node whose children all have value 0 (the
        sampler then fails); ``law.sum() + dead_end == 1``.

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> law, dead = action_level_law(expand_tree(aut), [2.0, 1.0, 3.0])
    >>> law.tolist(), dead
    ([0.25, 0.75], 0.0)
    """
    tree = check_tree(tree)
    vals = check_node_values(tree, node_values, tau_at_leaves=tau_at_leaves)
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


@docs
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
    %(tree)s
    %(node_values)s
    block_length : int
        Block length ``b >= 1``.
    n_candidates : int
        Candidates per block ``K >= 1``.
    kind : {"bon", "rs"}
        Block Best-of-N or block rejection sampling.
    %(tau_at_leaves)s

    Returns
    -------
    (L,) ndarray
        Law on ``tree.leaves``.

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> block_sampler_law(expand_tree(aut), [2.0, 1.0, 3.0], 1, 2, "bon").tolist()
    [0.25, 0.75]
    """
    tree = check_tree(tree)
    vals = check_node_values(tree, node_values, tau_at_leaves=tau_at_leaves)
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
    thr = check_threshold(threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(p > 0, p / q, 0.0)
    out = (p[:, None] * (ratio[:, None] > thr.ravel()[None, :])).sum(axis=0).reshape(thr.shape)
    return float(out) if out.ndim == 0 else out
