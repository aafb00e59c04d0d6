r"""Samplers without (or with only blockwise) value guidance, for comparison with VGB.

All of them draw ``n`` responses at once (vectorised over samples and candidates) from a
:class:`theory.vgb.TreeAutomaton` and return a :class:`~simulations.samplers.vgb.SamplerOutput`
with every query counted:

* :func:`reference_sample` -- plain sampling from :math:`\pi_{\rm ref}`.
* :func:`action_level_rs` -- ActionLevelRS (no backtracking): next token
  :math:`\propto \pi_{\rm ref}(a\mid u)\hat V(ua)` (exact for :math:`\pi^\star` when
  :math:`\hat V = V^\star`).
* :func:`outcome_level_rs` -- OutcomeLevelRS: propose :math:`y\sim\pi_{\rm ref}`, accept with
  probability :math:`\tau(y)/\tau_{\max}`; exact, with expected cost
  :math:`\propto C_{\rm seq} = \tau_{\max}/\mathbb E_{\pi_{\rm ref}}\tau`.
* :func:`best_of_n` -- ``N`` full responses, keep the best score.
* :func:`block_best_of_n`, :func:`block_rejection_sampling` -- blockwise versions with block
  length ``b`` and ``K`` candidates per block (the Dyck experiment's baselines; exact laws in
  :func:`theory.vgb.block_sampler_law`).

Costs: generating one token is one :math:`\pi_{\rm ref}` call; scoring a prefix is one value
call (one :math:`\tau` call at a leaf when ``tau_at_leaves``).
"""

from __future__ import annotations

import weakref

import numpy as np

from theory.validation import as_finite_array, check_int, check_real, check_rng
from theory.vgb import TreeAutomaton

from .vgb import SamplerOutput, categorical_cdf, sample_rows

__all__ = ["reference_sample", "reference_rollout", "action_level_rs", "outcome_level_rs",
           "best_of_n", "block_best_of_n", "block_rejection_sampling"]


_TABLES = weakref.WeakKeyDictionary()


def automaton_tables(aut):
    """Cached :class:`_Tables` of an automaton (automata are immutable)."""
    if not isinstance(aut, TreeAutomaton):
        raise TypeError(f"`automaton` must be a TreeAutomaton, got {type(aut).__name__}.")
    tab = _TABLES.get(aut)
    if tab is None:
        tab = _TABLES[aut] = _Tables(aut)
    return tab


class _Tables:
    """Next-token CDFs with an absorbing 'dead' sink for excluded children."""

    def __init__(self, aut):
        if not isinstance(aut, TreeAutomaton):
            raise TypeError(f"`automaton` must be a TreeAutomaton, got {type(aut).__name__}.")
        S, V = aut.n_states, aut.vocab_size
        self.aut = aut
        self.sink = S
        nxt = np.where(aut.next_state >= 0, aut.next_state, S)
        self.next = np.vstack([nxt, np.full((1, V), S)])
        probs = np.exp(aut.log_probs)
        probs = np.where(aut.is_leaf[:, None], 1.0 / V, probs)
        self.probs = np.vstack([probs, np.full((1, V), 1.0 / V)])
        self.cdf, _ = categorical_cdf(self.probs)
        self.tau = np.append(aut.tau, 0.0)
        self.is_leaf = np.append(aut.is_leaf, False)
        self.n_pos = np.append(((probs > 0) & ~aut.is_leaf[:, None]).sum(axis=1), 0)
        self.H = aut.horizon

    def values(self, values, tau_at_leaves):
        S = self.aut.n_states
        v = as_finite_array(values, "values", ndim=1)
        if v.shape != (S,):
            raise ValueError(f"`values` must have shape {(S,)}, got {v.shape}.")
        if (v < 0).any():
            raise ValueError("`values` must be non-negative.")
        v = np.append(v, 0.0)
        if tau_at_leaves:
            v = np.where(self.is_leaf, self.tau, v)
        return v


def _rng_iv(rng):
    return check_rng(rng)


def reference_rollout(automaton, states, n_tokens, *, rng, tables=None):
    r"""Extend prefixes in ``states`` by ``n_tokens`` tokens drawn from :math:`\pi_{\rm ref}`.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model :math:`\pi_{\rm ref}`.
    states : (m,) array_like of int
        Current states (all of the same depth ``h``, with ``h + n_tokens <= H``); the sink
        index ``n_states`` marks a dead prefix (an excluded child was drawn).
    n_tokens : int
        Tokens to draw.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.
    tables : optional
        Cached next-token tables of ``automaton`` (internal; built when omitted).

    Returns
    -------
    end : (m,) ndarray
        States after the rollout.
    tokens : (m, n_tokens) ndarray
        The drawn tokens.
    """
    rng = check_rng(rng)
    tab = automaton_tables(automaton) if tables is None else tables
    s = np.asarray(states, dtype=np.int64).copy()
    toks = np.empty((s.size, n_tokens), dtype=np.int64)
    for j in range(n_tokens):
        a = sample_rows(tab.cdf[s], rng)
        toks[:, j] = a
        s = tab.next[s, a]
    return s, toks


_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)


def _distinct_per_row(keys, drawn):
    """Number of distinct keys per row among drawn entries (``keys``, ``drawn``: (n, K))."""
    k = np.where(drawn, keys, keys[:, :1])          # undrawn entries copy candidate 0 (drawn)
    k = np.sort(k, axis=1)
    return 1 + (np.diff(k, axis=1) != 0).sum(axis=1)


def _block_memo_cost(cand_tokens, drawn):
    r"""Memoised queries of one block: distinct prefixes expanded and distinct ends scored.

    ``cand_tokens`` (n, K, b): the candidate continuations; ``drawn`` (n, K): which were
    drawn.  Returns ``(pi_calls, end_calls)`` per row: one :math:`\pi_{\rm ref}` call per
    distinct prefix ``u z_{<i}`` (``i = 0..b-1``) and one value call per distinct ``u z``.
    """
    n, K, b = cand_tokens.shape
    keys = np.zeros((n, K), dtype=np.uint64)
    pi_calls = np.ones(n, dtype=np.int64)            # i = 0: the block's root prefix
    for i in range(b):
        keys = keys * _HASH_MULT + (cand_tokens[:, :, i] + 1).astype(np.uint64)
        d = _distinct_per_row(keys, drawn)
        if i < b - 1:
            pi_calls += d
    return pi_calls, d


def _output(tokens, state, tab, cost_pi, cost_value, cost_tau, steps, restarts, method, params,
            done=None, cost_memo=None):
    n = state.size
    if done is None:
        done = state != tab.sink
    return SamplerOutput(tokens=tokens, state=np.where(state == tab.sink, -1, state),
                         done=np.asarray(done, dtype=bool),
                         cost_pi=np.broadcast_to(np.asarray(cost_pi, np.int64), (n,)).copy(),
                         cost_value=np.broadcast_to(np.asarray(cost_value, np.int64), (n,)).copy(),
                         cost_tau=np.broadcast_to(np.asarray(cost_tau, np.int64), (n,)).copy(),
                         steps=np.broadcast_to(np.asarray(steps, np.int64), (n,)).copy(),
                         restarts=np.broadcast_to(np.asarray(restarts, np.int64), (n,)).copy(),
                         method=method, params=params,
                         cost_memo=None if cost_memo is None else
                         np.broadcast_to(np.asarray(cost_memo, np.int64), (n,)).copy())


def reference_sample(automaton, n, *, rng):
    r"""``n`` responses from :math:`\pi_{\rm ref}` (``H`` calls each).

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model :math:`\pi_{\rm ref}` and outcome reward :math:`\tau`.
    n : int
        Number of samples.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    SamplerOutput
        One row per sample, with the query costs.

    Examples
    --------
    >>> from theory.instances.vgb_trees import random_tree
    >>> aut = random_tree(2, 3, rng=np.random.default_rng(0))
    >>> reference_sample(aut, 5, rng=np.random.default_rng(1)).tokens.shape
    (5, 3)
    """
    n = check_int(n, "n", low=1)
    rng = _rng_iv(rng)
    tab = automaton_tables(automaton)
    end, toks = reference_rollout(automaton, np.zeros(n, np.int64), tab.H, rng=rng, tables=tab)
    return _output(toks, end, tab, tab.H, 0, 0, tab.H, 0, "reference model", {}, cost_memo=tab.H)


def action_level_rs(automaton, values, n, *, rng, tau_at_leaves=True):
    r"""ActionLevelRS: :math:`y_{h+1} \sim \pi_{\rm ref}(a\mid y_{1:h})\hat V(y_{1:h}a)` (no backtracking).

    A prefix whose children all have value 0 is a dead end: the sample fails
    (``done = False``).  The baseline whose failures VGB Examples 3.1 and 3.2
    (arXiv 2510.03149) exhibit; exact for :math:`\pi^\star` when :math:`\hat V = V^\star`.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model :math:`\pi_{\rm ref}` and outcome reward :math:`\tau`.
    values : (S,) array_like
        :math:`\hat V` per state (non-negative).
    n : int
        Number of samples.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.
    tau_at_leaves : bool, optional
        Score complete responses by :math:`\tau` instead of :math:`\hat V`.

    Returns
    -------
    SamplerOutput
        One row per sample, with the query costs.

    Examples
    --------
    >>> from theory.instances.vgb_trees import random_tree
    >>> from theory.vgb import optimal_values
    >>> aut = random_tree(2, 3, rng=np.random.default_rng(0))
    >>> out = action_level_rs(aut, optimal_values(aut), 10, rng=np.random.default_rng(1))
    >>> bool(out.done.all())
    True
    """
    n = check_int(n, "n", low=1)
    rng = _rng_iv(rng)
    tab = automaton_tables(automaton)
    v = tab.values(values, tau_at_leaves)
    s = np.zeros(n, dtype=np.int64)
    toks = np.zeros((n, tab.H), dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    c_pi = np.zeros(n, np.int64)
    c_v = np.zeros(n, np.int64)
    c_t = np.zeros(n, np.int64)
    for h in range(tab.H):
        w = tab.probs[s] * v[tab.next[s]]
        cdf, ok = categorical_cdf(w)
        a = sample_rows(cdf, rng)
        live = alive.copy()
        c_pi += live
        if tau_at_leaves and h == tab.H - 1:
            c_t += np.where(live, tab.n_pos[s], 0)
        else:
            c_v += np.where(live, tab.n_pos[s], 0)
        alive &= ok
        toks[:, h] = a
        s = np.where(alive, tab.next[s, a], tab.sink)
    return _output(toks, s, tab, c_pi, c_v, c_t, tab.H, 0, "ActionLevelRS (no backtracking)",
                   {"tau_at_leaves": bool(tau_at_leaves)}, done=alive, cost_memo=c_pi + c_v + c_t)


def outcome_level_rs(automaton, n, *, rng, tau_max=None, max_rounds=1_000_000):
    r"""OutcomeLevelRS: propose :math:`y\sim\pi_{\rm ref}`, accept w.p. :math:`\tau(y)/\tau_{\max}`.

    Exact for :math:`\pi^\star`; the expected number of proposals is
    :math:`\tau_{\max}/\mathbb E_{\pi_{\rm ref}}\tau` (the sequence-level coverage
    coefficient when :math:`\tau_{\max} = \|\tau\|_\infty`), the cost VGB Theorem 4.1 avoids.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model :math:`\pi_{\rm ref}` and outcome reward :math:`\tau`.
    n : int
        Number of samples.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.
    tau_max : float, optional
        Default: the largest leaf reward of the automaton.
    max_rounds : int, optional
        Cap on proposal rounds (unfinished samples have ``done = False``).

    Returns
    -------
    SamplerOutput
        One row per sample, with the query costs.
    """
    n = check_int(n, "n", low=1)
    rng = _rng_iv(rng)
    tab = automaton_tables(automaton)
    tmax = float(automaton.tau.max()) if tau_max is None else check_real(tau_max, "tau_max",
                                                                         low=0, low_open=True)
    toks = np.zeros((n, tab.H), dtype=np.int64)
    state = np.full(n, tab.sink, dtype=np.int64)
    rounds = np.zeros(n, np.int64)
    todo = np.arange(n)
    for _ in range(max_rounds):
        if todo.size == 0:
            break
        end, t = reference_rollout(automaton, np.zeros(todo.size, np.int64), tab.H, rng=rng,
                                   tables=tab)
        rounds[todo] += 1
        acc = rng.random(todo.size) * tmax < tab.tau[end]
        toks[todo[acc]] = t[acc]
        state[todo[acc]] = end[acc]
        todo = todo[~acc]
    done = state != tab.sink
    return _output(toks, state, tab, rounds * tab.H, 0, rounds, rounds * tab.H, rounds - 1,
                   "OutcomeLevelRS", {"tau_max": tmax}, done=done)


def _argmax_random_ties(scores, rng):
    """Row-wise argmax with uniform tie-breaking."""
    best = scores.max(axis=1, keepdims=True)
    r = rng.random(scores.shape)
    r[scores < best] = -1.0
    return r.argmax(axis=1)


def best_of_n(automaton, n, n_candidates, *, rng, scores=None):
    r"""Best-of-N: ``N`` responses from :math:`\pi_{\rm ref}`, output the highest-scoring one.

    The :math:`\hat\pi^{\rm BoN}_N` of Sec. 2 of the coverage paper with :math:`\pi_{\rm ref}` as
    the base model (ties broken uniformly at random).

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model :math:`\pi_{\rm ref}` and outcome reward :math:`\tau`.
    n : int
        Number of samples.
    n_candidates : int
        ``N``, candidates per sample.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.
    scores : (S,) array_like, optional
        Score per leaf state (default :math:`\tau`, counted as ``tau`` calls; otherwise
        value calls).

    Returns
    -------
    SamplerOutput
        One row per sample, with the query costs.
    """
    n = check_int(n, "n", low=1)
    N = check_int(n_candidates, "n_candidates", low=1)
    rng = _rng_iv(rng)
    tab = automaton_tables(automaton)
    sc = tab.tau if scores is None else tab.values(scores, False)
    end, toks = reference_rollout(automaton, np.zeros(n * N, np.int64), tab.H, rng=rng, tables=tab)
    end = end.reshape(n, N)
    pick = _argmax_random_ties(sc[end], rng)
    rows = np.arange(n)
    out = toks.reshape(n, N, tab.H)[rows, pick]
    st = end[rows, pick]
    ct = N if scores is None else 0
    cv = 0 if scores is None else N
    return _output(out, st, tab, N * tab.H, cv, ct, N * tab.H, 0, "Best-of-N",
                   {"n_candidates": N, "score": "tau" if scores is None else "values"})


def _block_iv(automaton, values, n, block_length, n_candidates, rng, tau_at_leaves):
    n = check_int(n, "n", low=1)
    b = check_int(block_length, "block_length", low=1)
    K = check_int(n_candidates, "n_candidates", low=1)
    rng = _rng_iv(rng)
    tab = automaton_tables(automaton)
    v = tab.values(values, tau_at_leaves)
    return n, b, K, rng, tab, v


def block_best_of_n(automaton, values, n, block_length, n_candidates, *, rng,
                    tau_at_leaves=True):
    r"""Block Best-of-N: per block, ``K`` continuations of ``b`` tokens; keep the best :math:`\hat V`.

    A baseline of the VGB Dyck experiment (Fig. 1 of arXiv 2510.03149, as the reference
    notes report it); exact law: :func:`theory.vgb.block_sampler_law`.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model :math:`\pi_{\rm ref}` and outcome reward :math:`\tau`.
    values : (S,) array_like
        :math:`\hat V` per state (non-negative).
    n : int
        Number of samples.
    block_length : int
        Block length ``b >= 1``.
    n_candidates : int
        Candidates per block ``K >= 1``.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.
    tau_at_leaves : bool, optional
        Score complete responses by :math:`\tau` instead of :math:`\hat V`.

    Returns
    -------
    SamplerOutput
        One row per sample, with the query costs.

    Examples
    --------
    >>> from theory.instances.vgb_trees import random_tree
    >>> from theory.vgb import optimal_values
    >>> aut = random_tree(2, 4, rng=np.random.default_rng(0))
    >>> out = block_best_of_n(aut, optimal_values(aut), 6, 2, 4, rng=np.random.default_rng(1))
    >>> out.cost_pi.tolist()[0], out.cost_value.tolist()[0], out.cost_tau.tolist()[0]
    (16, 4, 4)
    """
    n, b, K, rng, tab, v = _block_iv(automaton, values, n, block_length, n_candidates, rng,
                                     tau_at_leaves)
    H = tab.H
    s = np.zeros(n, dtype=np.int64)
    toks = np.zeros((n, H), dtype=np.int64)
    c_v = 0
    c_t = 0
    memo = np.zeros(n, dtype=np.int64)
    rows = np.arange(n)
    all_drawn = np.ones((n, K), dtype=bool)
    for h0 in range(0, H, b):
        bb = min(b, H - h0)
        end, t = reference_rollout(automaton, np.repeat(s, K), bb, rng=rng, tables=tab)
        end = end.reshape(n, K)
        cand = t.reshape(n, K, bb)
        pick = _argmax_random_ties(v[end], rng)
        toks[:, h0:h0 + bb] = cand[rows, pick]
        s = end[rows, pick]
        mp, me = _block_memo_cost(cand, all_drawn)
        memo += mp + me
        if tau_at_leaves and h0 + bb == H:
            c_t += K
        else:
            c_v += K
    return _output(toks, s, tab, K * H, c_v, c_t, K * H, 0, "block Best-of-N",
                   {"block_length": b, "n_candidates": K, "tau_at_leaves": bool(tau_at_leaves)},
                   cost_memo=memo)


def block_rejection_sampling(automaton, values, n, block_length, n_candidates, *, rng,
                             tau_at_leaves=True):
    r"""Block rejection sampling: per block, up to ``K`` proposals of ``b`` tokens from :math:`\pi_{\rm ref}`.

    Proposal ``z`` is accepted with probability :math:`\min\{1, \hat V(uz)/\hat V(u)\}` (1 when
    :math:`\hat V(u) = 0`); the first accepted proposal is kept; if all ``K`` are rejected
    the one with the largest :math:`\hat V(uz)` is kept.  Only the proposals actually drawn
    are charged (plus one value call for :math:`\hat V(u)` per block).  A baseline of the VGB Dyck
    experiment (Fig. 1 of arXiv 2510.03149, as the reference notes report it); exact law:
    :func:`theory.vgb.block_sampler_law`.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model :math:`\pi_{\rm ref}` and outcome reward :math:`\tau`.
    values : (S,) array_like
        :math:`\hat V` per state (non-negative).
    n : int
        Number of samples.
    block_length : int
        Block length ``b >= 1``.
    n_candidates : int
        Candidates per block ``K >= 1``.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.
    tau_at_leaves : bool, optional
        Score complete responses by :math:`\tau` instead of :math:`\hat V`.

    Returns
    -------
    SamplerOutput
        One row per sample, with the query costs.
    """
    n, b, K, rng, tab, v = _block_iv(automaton, values, n, block_length, n_candidates, rng,
                                     tau_at_leaves)
    H = tab.H
    s = np.zeros(n, dtype=np.int64)
    toks = np.zeros((n, H), dtype=np.int64)
    c_pi = np.zeros(n, np.int64)
    c_v = np.zeros(n, np.int64)
    c_t = np.zeros(n, np.int64)
    rej = np.zeros(n, np.int64)
    memo = np.zeros(n, np.int64)
    rows = np.arange(n)
    for h0 in range(0, H, b):
        bb = min(b, H - h0)
        end, t = reference_rollout(automaton, np.repeat(s, K), bb, rng=rng, tables=tab)
        end = end.reshape(n, K)
        sc = v[end]
        vu = v[s][:, None]
        a = np.where(vu > 0, np.minimum(1.0, sc / np.where(vu > 0, vu, 1.0)), 1.0)
        acc = rng.random((n, K)) < a
        any_acc = acc.any(axis=1)
        first = np.argmax(acc, axis=1)
        fall = _argmax_random_ties(sc, rng)
        pick = np.where(any_acc, first, fall)
        drawn = np.where(any_acc, first + 1, K)
        rej += drawn - any_acc
        c_pi += drawn * bb
        c_v += 1  # V(u) for the acceptance ratio
        mp, me = _block_memo_cost(t.reshape(n, K, bb), np.arange(K)[None, :] < drawn[:, None])
        memo += mp + me + (1 if h0 == 0 else 0)   # V(u) is known from the previous block
        if tau_at_leaves and h0 + bb == H:
            c_t += drawn
        else:
            c_v += drawn
        toks[:, h0:h0 + bb] = t.reshape(n, K, bb)[rows, pick]
        s = end[rows, pick]
    return _output(toks, s, tab, c_pi, c_v, c_t, c_pi, rej, "block rejection sampling",
                   {"block_length": b, "n_candidates": K, "tau_at_leaves": bool(tau_at_leaves)},
                   cost_memo=memo)
