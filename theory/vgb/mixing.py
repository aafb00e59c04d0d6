r"""The fixed-``T`` VGB output law and mixing times, exactly (Theorem 4.1's sampler).

* :func:`leaf_conditional_curves` -- the exact law of the walk after ``T`` steps by sparse
  matrix powers, hence :math:`\mathrm{TV}(\text{output}\mid\text{leaf}, \pi^\star)` as a
  function of ``T`` (:class:`CurveResult`).
* :func:`mixing_times` -- the smallest ``T`` after which that distance stays below
  :math:`\delta` (certified; :class:`MixingResult`).
* :func:`relaxation_time` -- the spectral gap of the lazy walk.

Several trees are stacked block-diagonally so that each step is one sparse matrix-vector
product for all of them.  Imports: :mod:`theory.vgb.automaton` and :mod:`theory.vgb.walk`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import linalg as splinalg

from ..validation import as_finite_array, as_int_array, check_allocation, check_int, readonly
from .automaton import PrefixTree, check_tree, docs
from .walk import stationary_law, target_leaf_law, transition_matrix

__all__ = [
    "leaf_conditional_curves",
    "CurveResult",
    "mixing_times",
    "MixingResult",
    "relaxation_time",
]

_docs = docs.extended(
    trees="""
trees : PrefixTree or sequence of PrefixTree
    One explicit prefix tree, or several analysed together (one sparse product per step).""",
    node_values_per_tree=r"""
node_values : (N,) array_like or sequence of them
    :math:`\hat V` per node of each tree (one array per tree when ``trees`` is a sequence).""",
)


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
        trees = [check_tree(t, "trees") for t in trees]
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

    def laws(self):
        r"""``(t, tv_leaf, p_leaf, tv_full)`` of :math:`\mu_t = \delta_{\rm root}P^t` for ``t = 0, 1, ...``.

        Unbounded: the caller stops iterating.  :math:`\mu_{t+1}` is computed only when the
        next item is requested, so stopping after step ``t`` costs no extra product.
        """
        mu = self.start()
        t = 0
        while True:
            yield (t, *self.measures(mu))
            mu = self.PT @ mu
            t += 1

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


@_docs
def leaf_conditional_curves(trees, node_values, T_max, *, tau_at_leaves=True):
    r"""Exact law of the fixed-``T`` VGB output for ``T = 0..T_max`` (Theorem 4.1's sampler).

    The walk starts at the root; :math:`\mu_T = \delta_{\rm root}P^T` is computed by ``T_max``
    sparse matrix-vector products (all trees stacked block-diagonally, one product per
    step).  The theorem's sampler re-runs until the output is a leaf, so its output law is
    exactly :math:`\mu_T` conditioned on the leaves.

    Parameters
    ----------
    %(trees)s
    %(node_values_per_tree)s
    T_max : int
    %(tau_at_leaves)s

    Returns
    -------
    CurveResult

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
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
    K = T_max + 1
    tv_leaf = np.empty((st.R, K))
    p_leaf = np.empty((st.R, K))
    tv_full = np.empty((st.R, K))
    for _, (t, *measures) in zip(range(K), st.laws()):    # range first: no product after T_max
        tv_leaf[:, t], p_leaf[:, t], tv_full[:, t] = measures
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
    tv_full_at_eval : (R,) ndarray
        :math:`d_T = \mathrm{TV}(\mu_T, \tilde\pi)` at ``T = T_eval``: exact where
        ``p_leaf_eval_exact``, otherwise the certified upper bound :math:`d_{\rm cert}`
        (:math:`d_T` never increases); ``nan`` without ``T_eval``.  With it,
        :math:`\Pr[X_T \in L] \ge \tilde\pi(L) - d_T`.
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
    tv_full_at_eval: np.ndarray
    stationary_leaf_mass: np.ndarray
    delta: float

    def to_dict(self):
        out = {k: np.asarray(getattr(self, k)).tolist() for k in
               ("t_mix", "certified_at", "tv_full_at_certified", "p_leaf_at_mix",
                "min_p_leaf_after", "p_leaf_at_eval", "p_leaf_eval_exact",
                "tv_full_at_eval", "stationary_leaf_mass")}
        out["delta"] = self.delta
        return out


@_docs
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
    %(trees)s
    %(node_values_per_tree)s
    delta : float in (0, 1), or sequence of them
        With a sequence, all levels are tracked in one pass and every per-level field of the
        result gains a trailing axis of length ``len(delta)``.
    T_cap : int
        Give up (``inf``) after this many steps.
    T_eval : array_like of int, optional
        Steps at which to report :math:`\Pr[X_T\in L]` (e.g. Theorem 4.1's ``T``), shape
        ``(R,)`` or ``(R, len(delta))``.
    %(tau_at_leaves)s

    Returns
    -------
    MixingResult

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
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
    last_bad = np.full((R, D), -1.0)
    certified = np.full((R, D), np.inf)
    d_cert = np.full((R, D), np.nan)
    p_eval = np.full((R, D), np.nan)
    d_eval = np.full((R, D), np.nan)
    p_hist = []
    b = st.leaf_mass[:, None]
    for t, tv_leaf, p_leaf, tv_full in st.laws():
        p_hist.append(p_leaf)
        hit = t_eval == t
        p_eval[hit] = np.broadcast_to(p_leaf[:, None], (R, D))[hit]
        d_eval[hit] = np.broadcast_to(tv_full[:, None], (R, D))[hit]
        open_ = ~np.isfinite(certified)
        bad = open_ & ~(tv_leaf[:, None] <= dl[None, :])  # nan (no leaf yet) counts as bad
        last_bad[bad] = t
        tf = tv_full[:, None]
        cert = open_ & (tf < b) & (2 * tf <= dl[None, :] * (b - tf))
        certified[cert] = t
        d_cert[cert] = np.broadcast_to(tf, (R, D))[cert]
        if np.isfinite(certified).all() or t >= T_cap:
            break
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
    d_eval[late] = d_cert[late]

    def fmt(a):
        return readonly(a[:, 0] if scalar else a)

    return MixingResult(t_mix=fmt(t_mix), certified_at=fmt(certified),
                        tv_full_at_certified=fmt(d_cert), p_leaf_at_mix=fmt(p_at),
                        min_p_leaf_after=fmt(p_min), p_leaf_at_eval=fmt(p_eval),
                        p_leaf_eval_exact=fmt(exact_eval), tv_full_at_eval=fmt(d_eval),
                        stationary_leaf_mass=readonly(st.leaf_mass),
                        delta=float(dl[0]) if scalar else tuple(float(x) for x in dl))


@_docs
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
    %(tree)s
    %(node_values)s
    %(tau_at_leaves)s

    Returns
    -------
    float
        :math:`t_{\rm rel}`.

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton, expand_tree
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> round(relaxation_time(expand_tree(aut), [2.0, 1.0, 3.0]), 6)
    2.0
    """
    tree = check_tree(tree)
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
