r"""Value functions :math:`\hat V` for VGB and its baselines (arrays over automaton states).

* :func:`exact_values` -- :math:`V^\star` by dynamic programming
  (:func:`theory.vgb.optimal_values`).
* :func:`multiplicative_error` -- :math:`\hat V = V^\star(1+\varepsilon)^{s(u)}` with
  :math:`s \in [-1, 1]`: **random** (i.i.d. uniform exponent per state) or **adversarial**
  (a fixed sign pattern, by default alternating with depth, which makes every edge of the
  walk biased in turn); satisfies Assumption 4.1 with :math:`\varepsilon_V = \varepsilon`.
* :func:`single_action_perturbation` -- Example 3.1's :math:`\hat V = V^\star(1+\varepsilon)^{\mathbb 1[y_h=1]}`.
* :func:`average_case_error_values` -- large errors (factor ``M``) on a random set of
  prefixes of small :math:`\pi^\star`-mass, so that Assumption 4.2 holds with a given
  :math:`\varepsilon_V` while Assumption 4.1 only holds with :math:`\varepsilon_V = M - 1`.
* :func:`delayed_values` -- Example 3.2's one-step-delayed value
  :math:`\hat V(y_{1:h}) = V^\star(y_{1:h-1})`, on the "edge" automaton whose states remember
  the parent's state.
* :func:`fit_value_regression` -- a value function learned by regression of the outcome on
  features of the prefix, from rollouts of :math:`\pi_{\rm ref}` (logistic or least squares).

Leaves always get :math:`\hat V = \tau` unless stated otherwise (Algorithm 1); the value of
the root is never used by the walk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from theory.validation import as_finite_array, check_int, check_real, check_rng, readonly
from theory.vgb import (TreeAutomaton, average_case_error, optimal_values,
                        target_state_marginals, uniform_error)

from .baselines import automaton_tables, reference_rollout

__all__ = ["exact_values", "multiplicative_error", "single_action_perturbation",
           "average_case_error_values", "delayed_values", "fit_value_regression",
           "fit_tabular_value", "incoming_token", "ValueFit", "uniform_error", "average_case_error"]


def _aut_iv(aut):
    if not isinstance(aut, TreeAutomaton):
        raise TypeError(f"`automaton` must be a TreeAutomaton, got {type(aut).__name__}.")
    return aut


def exact_values(automaton):
    r""":math:`V^\star` per state (see :func:`theory.vgb.optimal_values`).

    The ideal verifier :math:`V^\star_{\rm tilt}` of Assumption 4.1 (VGB).

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.

    Returns
    -------
    (S,) ndarray
        :math:`V^\star` per state.
    """
    return optimal_values(_aut_iv(automaton))


def multiplicative_error(automaton, eps, *, mode="adversarial", pattern="sawtooth", rng=None,
                         v_star=None):
    r"""Value with uniform multiplicative error: :math:`\hat V = V^\star(1+\varepsilon)^{s}`, :math:`|s| \le 1`.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    eps : float
        :math:`\varepsilon \ge 0`.
    mode : {"adversarial", "random"}
        ``"random"``: :math:`s \sim U[-1, 1]` i.i.d. per state (needs ``rng``);
        ``"adversarial"``: the sign pattern ``pattern``.
    pattern : {"sawtooth", "sibling", "alternating", "over", "under"}
        ``"sibling"``: :math:`s = +1` on children reached by token 0 and :math:`-1` otherwise
        (biases every choice among siblings, so ActionLevelRS errs);
        ``"alternating"``: :math:`s = (-1)^h` -- a *depth-uniform* error, which cancels in
        every choice among siblings (ActionLevelRS stays exact) but slows the walk's depth
        diffusion; ``"sawtooth"``: the product of the two (both effects, the default);
        ``"over"`` / ``"under"``: :math:`s = \pm 1` (a constant factor: harmless).
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Required for ``mode="random"``.
    v_star : (S,) array_like, optional
        :math:`V^\star` per state if already computed (:func:`theory.vgb.optimal_values`).

    Returns
    -------
    (S,) ndarray
        Satisfies Assumption 4.1 with :math:`\varepsilon_V = \varepsilon` (:math:`\hat V = \tau`
        at leaves, 0 where :math:`V^\star = 0`).

    Examples
    --------
    >>> from theory.instances.vgb_trees import random_tree
    >>> aut = random_tree(2, 3, rng=np.random.default_rng(0))
    >>> v = multiplicative_error(aut, 0.5)
    >>> round(uniform_error(aut, v), 12)
    0.5
    """
    aut = _aut_iv(automaton)
    eps = check_real(eps, "eps", low=0)
    v = optimal_values(aut) if v_star is None else as_finite_array(v_star, "v_star", ndim=1)
    if mode == "random":
        s = check_rng(rng).uniform(-1.0, 1.0, size=aut.n_states)
    elif mode == "adversarial":
        sib = np.where(incoming_token(aut) <= 0, 1.0, -1.0)
        alt = np.where(aut.depth % 2 == 0, 1.0, -1.0)
        if pattern == "alternating":
            s = alt
        elif pattern == "sibling":
            s = sib
        elif pattern == "sawtooth":
            s = alt * sib
        elif pattern == "over":
            s = np.ones(aut.n_states)
        elif pattern == "under":
            s = -np.ones(aut.n_states)
        else:
            raise ValueError("`pattern` must be 'alternating', 'sibling', 'sawtooth', 'over' or "
                             f"'under', got {pattern!r}.")
    else:
        raise ValueError(f"`mode` must be 'adversarial' or 'random', got {mode!r}.")
    out = v * np.exp(s * np.log1p(eps))
    out[aut.is_leaf] = aut.tau[aut.is_leaf]
    return out


def incoming_token(automaton):
    """Token on an edge into each state (the largest one if several; ``-1`` for the root).

    For an explicit tree (one state per node) this is the last token of the prefix.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.

    Returns
    -------
    (S,) ndarray of int
        The token (``-1`` for the root).
    """
    aut = _aut_iv(automaton)
    rows, cols = np.nonzero(aut.next_state >= 0)
    out = np.full(aut.n_states, -1, dtype=np.int64)
    np.maximum.at(out, aut.next_state[rows, cols], cols)
    return out


def single_action_perturbation(automaton, last, eps, *, v_star=None):
    r"""Example 3.1: :math:`\hat V(y_{1:h}) = V^\star(y_{1:h})(1+\varepsilon)^{\mathbb 1[y_h = 1]}` (internal nodes).

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    last : (S,) array_like of int
        Last token of each state (e.g. from :func:`~theory.instances.vgb_trees.example_3_1_automaton`).
    eps : float
        :math:`\varepsilon \ge 0`.
    v_star : (S,) array_like, optional
        :math:`V^\star` per state if already computed (:func:`theory.vgb.optimal_values`).

    Returns
    -------
    (S,) ndarray
        :math:`\hat V` per state (:math:`\tau` at the leaves).

    Examples
    --------
    >>> from theory.instances.vgb_trees import example_3_1_automaton
    >>> aut, ones, last = example_3_1_automaton(4)
    >>> round(uniform_error(aut, single_action_perturbation(aut, last, 0.3)), 12)
    0.3
    """
    aut = _aut_iv(automaton)
    eps = check_real(eps, "eps", low=0)
    last = np.asarray(last)
    v = optimal_values(aut) if v_star is None else as_finite_array(v_star, "v_star", ndim=1)
    out = v * np.where(last == 1, 1.0 + eps, 1.0)
    out[aut.is_leaf] = aut.tau[aut.is_leaf]
    return out


def average_case_error_values(automaton, eps, factor, *, rng, kind="both"):
    r"""Value with large errors on a small-:math:`\pi^\star`-mass set (Assumption 4.2 only).

    At each internal depth ``h`` a random set :math:`B_h` of states is corrupted, with
    :math:`\pi^\star(B_h) \le \varepsilon/(M-1)` (``M = factor``); on :math:`B_h` the value
    is :math:`V^\star/M` (``kind="under"``), :math:`M V^\star` (``"over"``) or either with
    probability 1/2 (``"both"``).  Then
    :math:`\mathbb E_{\pi^\star}[\hat V/V^\star] \le 1 + \varepsilon` and
    :math:`\mathbb E_{\pi^\star}[V^\star/\hat V] \le 1 + \varepsilon` at every depth, while
    the uniform error of Assumption 4.1 is :math:`M - 1` (when :math:`B \ne \emptyset`).

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    eps : float
        Target average-case error :math:`\varepsilon \ge 0`.
    factor : float
        Corruption factor :math:`M > 1`.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.
    kind : {"both", "under", "over"}, optional
        Direction of the corruption.

    Returns
    -------
    values : (S,) ndarray
    eps_avg : float
        The realised average-case error (:func:`theory.vgb.average_case_error`).
    eps_unif : float
        The realised uniform error (:func:`theory.vgb.uniform_error`).

    Examples
    --------
    >>> from theory.instances.vgb_trees import random_tree
    >>> aut = random_tree(2, 6, rng=np.random.default_rng(0))
    >>> v, ea, eu = average_case_error_values(aut, 0.2, 50.0, rng=np.random.default_rng(1))
    >>> bool(ea <= 0.2 + 1e-12)
    True
    """
    aut = _aut_iv(automaton)
    eps = check_real(eps, "eps", low=0, low_open=True)
    rng = check_rng(rng)
    M = check_real(factor, "factor", low=1, low_open=True)
    if kind not in ("under", "over", "both"):
        raise ValueError(f"`kind` must be 'under', 'over' or 'both', got {kind!r}.")
    v = optimal_values(aut)
    m = target_state_marginals(aut, v)
    budget = eps / (M - 1.0)
    out = v.copy()
    for h in range(1, aut.horizon):
        cand = np.flatnonzero((aut.depth == h) & (m > 0))
        if cand.size == 0:
            continue
        cand = cand[rng.permutation(cand.size)]
        picked, used = [], 0.0
        for c in cand:                      # greedy fill of the mass budget, random order
            if used + m[c] <= budget * (1 - 1e-12):
                picked.append(c)
                used += m[c]
        if not picked:
            continue
        chosen = np.array(picked)
        if kind == "under":
            up = np.zeros(chosen.size, dtype=bool)
        elif kind == "over":
            up = np.ones(chosen.size, dtype=bool)
        else:
            up = rng.random(chosen.size) < 0.5
        out[chosen] = np.where(up, v[chosen] * M, v[chosen] / M)
    out[aut.is_leaf] = aut.tau[aut.is_leaf]
    _, _, eps_avg = average_case_error(aut, out, v_star=v)
    return out, float(eps_avg), float(uniform_error(aut, out, v_star=v))


def delayed_values(automaton, *, v_star=None):
    r"""Example 3.2's one-step-delayed value :math:`\hat V(y_{1:h}) = V^\star(y_{1:h-1})`.

    The delayed value depends on the parent's state, so it lives on the *edge automaton*:
    one state per pair (parent state ``s``, token ``a``) with ``next(s, a) >= 0``, carrying the
    model and reward of ``next(s, a)``.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    v_star : (S,) array_like, optional
        :math:`V^\star` per state if already computed (:func:`theory.vgb.optimal_values`).

    Returns
    -------
    edge_automaton : TreeAutomaton
    values : (S',) ndarray
        :math:`V^\star` of the parent state; :math:`\tau` at the leaves (Algorithm 1).
    child_state : (S',) ndarray
        State of the original automaton each edge state stands for (root: 0).

    Examples
    --------
    >>> from theory.instances.vgb_trees import example_3_2_automaton
    >>> aut, _, _ = example_3_2_automaton(3)
    >>> eaut, vals, child = delayed_values(aut)
    >>> bool(np.isclose(optimal_values(eaut)[0], optimal_values(aut)[0]))
    True
    """
    aut = _aut_iv(automaton)
    v = optimal_values(aut) if v_star is None else as_finite_array(v_star, "v_star", ndim=1)
    S, V = aut.n_states, aut.vocab_size
    nxt = aut.next_state
    rows, cols = np.nonzero(nxt >= 0)
    E = rows.size
    # edge state ids: 0 = root, 1 + e for edge e = (rows[e], cols[e])
    edge_id = -np.ones((S, V), dtype=np.int64)
    edge_id[rows, cols] = 1 + np.arange(E)
    child = np.concatenate([[0], nxt[rows, cols]])
    parent_state = np.concatenate([[-1], rows])
    new_next = edge_id[child]                      # edges out of the child state
    new_next[aut.is_leaf[child]] = -1
    eaut = TreeAutomaton(next_state=new_next, log_probs=aut.log_probs[child],
                         depth=aut.depth[child], tau=aut.tau[child], horizon=aut.horizon)
    vals = np.where(parent_state >= 0, v[np.maximum(parent_state, 0)], v[0])
    leaf = eaut.is_leaf
    vals[leaf] = eaut.tau[leaf]
    return eaut, vals, child


@dataclass(frozen=True)
class ValueFit:
    r"""A value function fitted by regression (:func:`fit_value_regression`).

    A learned process verifier :math:`\hat V`, whose errors Assumptions 4.1/4.2 (VGB) quantify.

    Attributes
    ----------
    values : (S,) ndarray
        :math:`\hat V` per state (leaves: the fitted value, *not* :math:`\tau`; the samplers
        substitute :math:`\tau` when ``tau_at_leaves``).
    theta : (d,) ndarray
        Regression coefficients.
    link : str
        ``"logistic"``, ``"linear"`` or ``"tabular"``.
    n_rollouts : int
        Rollouts of :math:`\pi_{\rm ref}` used.
    n_pairs : int
        Number of (prefix, outcome) pairs in the regression.
    train_loss : float
        Final training loss.
    """

    values: np.ndarray
    theta: np.ndarray
    link: str
    n_rollouts: int
    n_pairs: int
    train_loss: float

    def to_dict(self):
        return {"theta": np.asarray(self.theta).tolist(), "link": self.link,
                "n_rollouts": self.n_rollouts, "n_pairs": self.n_pairs,
                "train_loss": self.train_loss}


def fit_value_regression(automaton, features, n_rollouts, *, rng, link="logistic", ridge=1e-3,
                         floor=1e-6):
    r"""Learn :math:`\hat V(u) = g(\langle\theta, \phi(s(u))\rangle)` by regressing outcomes on features.

    A learned verifier :math:`\hat V` as in the VGB experiments (errors measured against
    Assumptions 4.1/4.2).

    ``n_rollouts`` responses are drawn from :math:`\pi_{\rm ref}`; every prefix
    :math:`y_{1:h}` (``h = 1..H``) of a rollout with outcome :math:`\tau(y)` is a training
    pair :math:`(\phi(s(y_{1:h})), \tau(y))` -- the Monte Carlo regression target of
    :math:`V^\star` (the root is never a training prefix; its value is unused by the walk).  Pairs are aggregated per state (sufficient statistics), and

    * ``link="logistic"`` (:math:`\tau \in [0, 1]`): maximise the Bernoulli log-likelihood with
      :math:`g = \sigma` (plus ``ridge`` :math:`\|\theta\|^2`);
    * ``link="linear"``: ridge least squares with :math:`g(z) = \max(z, \text{floor})`.

    With one-hot features of a grouping of states this is the per-group mean outcome
    (a tabular value function).

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    features : (S, d) array_like
        Features :math:`\phi` of each state.
    n_rollouts : int
        Responses drawn from :math:`\pi_{\rm ref}`.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.
    link : {"logistic", "linear"}
        Link function ``g``.
    ridge : float
        Ridge penalty on :math:`\|\theta\|^2`.
    floor : float
        Lower clip of the fitted values (keeps the walk irreducible).

    Returns
    -------
    ValueFit
        Fitted values and coefficients.

    Examples
    --------
    >>> from theory.instances.vgb_trees import random_tree
    >>> aut = random_tree(2, 3, rng=np.random.default_rng(0), zero_fraction=0.5)
    >>> phi = np.eye(aut.n_states)            # tabular: recovers V* as n grows
    >>> fit = fit_value_regression(aut, phi, 20000, rng=np.random.default_rng(1), link="linear")
    >>> bool(np.abs(fit.values - optimal_values(aut))[1:].max() < 0.05)   # root: never a target
    True
    """
    aut = _aut_iv(automaton)
    phi = as_finite_array(features, "features", ndim=2)
    if phi.shape[0] != aut.n_states:
        raise ValueError(f"`features` must have {aut.n_states} rows, got {phi.shape[0]}.")
    n = check_int(n_rollouts, "n_rollouts", low=1)
    ridge = check_real(ridge, "ridge", low=0)
    floor = check_real(floor, "floor", low=0)
    if link not in ("logistic", "linear"):
        raise ValueError(f"`link` must be 'logistic' or 'linear', got {link!r}.")
    rng = check_rng(rng)
    tab = automaton_tables(aut)
    S = aut.n_states
    H = aut.horizon
    states = np.empty((n, H), dtype=np.int64)
    s = np.zeros(n, dtype=np.int64)
    for h in range(H):
        s, _ = reference_rollout(aut, s, 1, rng=rng, tables=tab)
        states[:, h] = s
    y = tab.tau[s]
    if link == "logistic" and ((y < 0) | (y > 1)).any():
        raise ValueError("`link='logistic'` needs rewards in [0, 1]; use link='linear'.")
    flat = states.ravel()
    yy = np.repeat(y, H)
    keep = flat < S                                  # drop dead (sink) prefixes
    cnt = np.bincount(flat[keep], minlength=S).astype(float)
    tot = np.bincount(flat[keep], weights=yy[keep], minlength=S)
    used = cnt > 0
    X, c, t = phi[used], cnt[used], tot[used]
    d = phi.shape[1]
    if link == "linear":
        A = X.T @ (c[:, None] * X) + ridge * np.eye(d)
        theta = np.linalg.solve(A, X.T @ t)
        pred = X @ theta
        loss = float(((c * pred ** 2 - 2 * t * pred).sum() + (yy[keep] ** 2).sum()) / c.sum())
        values = np.maximum(phi @ theta, floor)
    else:
        def f(th):
            z = X @ th
            ll = t * special.log_expit(z) + (c - t) * special.log_expit(-z)
            g = X.T @ (t - c * special.expit(z))
            return (-ll.sum() + ridge * th @ th) / c.sum(), (-g + 2 * ridge * th) / c.sum()
        res = optimize.minimize(f, np.zeros(d), jac=True, method="L-BFGS-B",
                                options={"maxiter": 2000})
        theta = res.x
        loss = float(res.fun)
        values = np.maximum(special.expit(phi @ theta), floor)
    return ValueFit(values=readonly(values), theta=readonly(theta), link=link, n_rollouts=n,
                    n_pairs=int(keep.sum()), train_loss=loss)


def _rollout_states(aut, n, rng):
    """States of every prefix of ``n`` rollouts from the root, ``(n, H)``, and outcomes ``(n,)``."""
    tab = automaton_tables(aut)
    H = aut.horizon
    states = np.empty((n, H), dtype=np.int64)
    s = np.zeros(n, dtype=np.int64)
    for h in range(H):
        s, _ = reference_rollout(aut, s, 1, rng=rng, tables=tab)
        states[:, h] = s
    return states, tab.tau[s], tab.sink


def fit_tabular_value(automaton, groups, n_rollouts, *, rng, prior=(0.5, 0.5), chunk=20000):
    r"""Tabular value learned by regression on one-hot group features: smoothed group means.

    A learned verifier :math:`\hat V` (its errors measured against Assumptions 4.1/4.2, VGB).

    Equivalent to :func:`fit_value_regression` with one-hot features of ``groups`` and a
    Beta(``a``, ``b``) prior per group (for outcomes in [0, 1]):

    .. math:: \hat V(g) = \frac{\sum_{(u, y):\,g(u) = g}\tau(y) + a}{\#\{(u, y): g(u) = g\} + a + b}.

    Every prefix ``y_{1:h}``, ``h = 1..H``, of each of ``n_rollouts`` responses from
    :math:`\pi_{\rm ref}` is one training pair.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    groups : (S,) array_like of int
        Group of each state (e.g. :func:`theory.instances.dyck.type_blind_groups`).
    n_rollouts : int
        Responses drawn from :math:`\pi_{\rm ref}`.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.
    prior : (float, float)
        Beta prior pseudo-counts ``(a, b)``; groups never visited get ``a / (a + b)``.
    chunk : int
        Rollouts simulated at once (memory).

    Returns
    -------
    ValueFit
        ``theta`` holds the per-group values.

    Examples
    --------
    >>> from theory.instances.vgb_trees import random_tree
    >>> aut = random_tree(2, 3, rng=np.random.default_rng(0), zero_fraction=0.5)
    >>> fit = fit_tabular_value(aut, np.arange(aut.n_states), 20000, rng=np.random.default_rng(1))
    >>> bool(np.abs(fit.values - optimal_values(aut))[1:].max() < 0.05)
    True
    """
    aut = _aut_iv(automaton)
    g = np.asarray(groups)
    if g.shape != (aut.n_states,) or not np.issubdtype(g.dtype, np.integer) or g.min() < 0:
        raise ValueError("`groups` must be non-negative integers, one per state.")
    n = check_int(n_rollouts, "n_rollouts", low=1)
    a, b = (check_real(x, "prior", low=0) for x in prior)
    rng = check_rng(rng)
    if ((aut.tau < 0) | (aut.tau > 1)).any():
        raise ValueError("fit_tabular_value needs rewards in [0, 1].")
    G = int(g.max()) + 1
    cnt = np.zeros(G)
    tot = np.zeros(G)
    done = 0
    n_pairs = 0
    while done < n:
        m = min(chunk, n - done)
        states, y, sink = _rollout_states(aut, m, rng)
        flat = states.ravel()
        yy = np.repeat(y, aut.horizon)
        keep = flat < sink
        gg = g[flat[keep]]
        cnt += np.bincount(gg, minlength=G)
        tot += np.bincount(gg, weights=yy[keep], minlength=G)
        n_pairs += int(keep.sum())
        done += m
    theta = (tot + a) / (cnt + a + b) if a + b > 0 else np.where(cnt > 0, tot / np.maximum(cnt, 1), 0.0)
    vals = theta[g]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(cnt > 0, tot / np.maximum(cnt, 1), 0.0)
        ll = np.where(cnt > 0, tot * np.log(np.clip(theta, 1e-300, 1)) +
                      (cnt - tot) * np.log(np.clip(1 - theta, 1e-300, 1)), 0.0)
    del mean
    return ValueFit(values=readonly(vals), theta=readonly(theta), link="tabular", n_rollouts=n,
                    n_pairs=n_pairs, train_loss=float(-ll.sum() / max(n_pairs, 1)))
