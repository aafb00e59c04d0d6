r"""Value-guided backtracking (VGB, arXiv 2510.03149 Algorithm 1): many chains, one vectorised step.

The walk lives on the tree of prefixes of a :class:`theory.vgb.TreeAutomaton`.  From a node
``u`` it stays with probability 1/2; otherwise it moves to the parent with weight
:math:`\hat V(u)` or to the child ``u a`` with weight :math:`\pi_{\rm ref}(a\mid u)\hat V(ua)`,
with :math:`\hat V = \tau` at the leaves (Algorithm 1, line 1; switch off with
``tau_at_leaves=False``).  Every chain keeps its path of automaton states, so moving up is
``h -= 1`` and moving down appends a state: one step of ``C`` chains is a handful of numpy
gathers on ``(C,)`` arrays (no Python loop over chains).

Stopping rules
--------------
* :meth:`VGBSampler.sample_fixed_t` -- **the theorem's sampler** (Theorem 4.1): run ``T``
  steps from the root; output the final node if it is a leaf, else restart (independent
  re-runs until a leaf).  Its output law is exactly the fixed-``T`` law conditioned on the
  leaves (:func:`theory.vgb.leaf_conditional_curves`).
* :meth:`VGBSampler.sample_first_leaf` -- the **first-leaf heuristic** ("practical mode"):
  stop at the first leaf reached.  Not covered by the theorem; exact only when
  :math:`\hat V = V^\star` (:func:`theory.vgb.first_leaf_law`).

Query accounting
----------------
A holding step costs nothing.  A move from an internal node ``u`` costs one call of
:math:`\pi_{\rm ref}(\cdot\mid u)`, one value call :math:`\hat V(ua)` for every token with
:math:`\pi_{\rm ref}(a\mid u) > 0` (an outcome-reward call :math:`\tau(ua)` instead when
``ua`` is a leaf and ``tau_at_leaves``), and one value call :math:`\hat V(u)` for the parent
weight (not at the root).  A move from a leaf goes to the parent with probability one and
costs nothing.  No caching across steps (a conservative count for VGB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.validation import as_finite_array, check_int, check_rng, readonly
from theory.vgb import TreeAutomaton

#: Bits per packed query counter (pi_ref, value, tau) in one int64.
_FIELD = 21

#: Odd 64-bit multiplier of the rolling prefix hash (memoised query counts).
_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)

__all__ = ["VGBSampler", "SamplerOutput", "move_tables", "categorical_cdf", "sample_rows"]

#: Label of each stopping rule, carried by :class:`SamplerOutput`.
STOPPING_RULES = {
    "fixed_t": "fixed-T with restarts until a leaf (Theorem 4.1's sampler)",
    "first_leaf": "first-leaf heuristic (practical stopping rule; not covered by Theorem 4.1)",
}


@dataclass(frozen=True)
class SamplerOutput:
    r"""Outputs of a sampler run, one row per requested sample.

    Samples and query costs of VGB Algorithm 1 (:class:`VGBSampler`) and of its baselines
    (:mod:`simulations.samplers.baselines`).

    Attributes
    ----------
    tokens : (n, H) ndarray of int
        The responses (rows of unfinished samples are meaningless; see ``done``).
    state : (n,) ndarray of int
        Automaton state of the output (a leaf state when ``done``).
    done : (n,) ndarray of bool
        Whether a complete response was produced within the caps.
    cost_pi, cost_value, cost_tau : (n,) ndarray of int
        Calls to :math:`\pi_{\rm ref}(\cdot\mid u)`, to :math:`\hat V` and to :math:`\tau`
        spent on each sample (including its failed restarts / rejected candidates).
    steps : (n,) ndarray of int
        Walk steps (holding steps included) or tokens generated.
    restarts : (n,) ndarray of int
        Failed runs before the output (fixed-``T`` sampler, rejection samplers).
    method : str
        Sampler name and stopping rule.
    params : dict
        Sampler parameters.
    cost_memo : (n,) ndarray of int or None
        Queries under *memoisation* (each prefix's :math:`\pi_{\rm ref}(\cdot\mid u)` and child
        values computed once per chain; a node's own value comes with its parent's
        expansion), when requested.
    """

    tokens: np.ndarray
    state: np.ndarray
    done: np.ndarray
    cost_pi: np.ndarray
    cost_value: np.ndarray
    cost_tau: np.ndarray
    steps: np.ndarray
    restarts: np.ndarray
    method: str
    params: dict
    cost_memo: object = None

    @property
    def cost(self):
        """Total queries per sample (``cost_pi + cost_value + cost_tau``)."""
        return self.cost_pi + self.cost_value + self.cost_tau

    def to_dict(self):
        """Summary statistics (the arrays are summarised, not dumped)."""
        c = self.cost
        return {"method": self.method, "params": dict(self.params), "n": int(self.done.size),
                "n_done": int(self.done.sum()), "mean_cost": float(c.mean()),
                "mean_cost_pi": float(self.cost_pi.mean()),
                "mean_cost_value": float(self.cost_value.mean()),
                "mean_cost_tau": float(self.cost_tau.mean()),
                "mean_steps": float(self.steps.mean()),
                "mean_restarts": float(self.restarts.mean()),
                "mean_cost_memo": None if self.cost_memo is None else float(np.mean(self.cost_memo))}


def categorical_cdf(weights):
    r"""Row-wise CDFs of non-negative weights, safe for exact zero-weight options.

    The last positive option of each row and everything after it get CDF exactly 1.0, and a
    zero-weight option repeats the previous CDF value exactly, so
    ``(u[:, None] >= cdf).sum(1)`` with ``u ~ U[0, 1)`` never selects a zero-weight option.

    Parameters
    ----------
    weights : (M, K) ndarray
        Non-negative option weights per row.

    Returns
    -------
    cdf : (M, K) ndarray
        Row CDFs.
    ok : (M,) ndarray of bool
        Rows with positive total weight (other rows are all ones, i.e. option 0).

    Examples
    --------
    >>> cdf, ok = categorical_cdf(np.array([[1.0, 0.0, 3.0, 0.0]]))
    >>> cdf.tolist(), ok.tolist()
    ([[0.25, 0.25, 1.0, 1.0]], [True])
    """
    w = np.asarray(weights, dtype=float)
    tot = w.sum(axis=1)
    ok = tot > 0
    cdf = np.cumsum(w, axis=1) / np.where(ok, tot, 1.0)[:, None]
    K = w.shape[1]
    last = K - 1 - np.argmax((w > 0)[:, ::-1], axis=1)
    cdf[np.arange(K)[None, :] >= last[:, None]] = 1.0
    cdf[~ok] = 1.0
    return cdf, ok


def sample_rows(cdf_rows, rng):
    """One draw per row from row CDFs (as returned by :func:`categorical_cdf`).

    Parameters
    ----------
    cdf_rows : (M, K) ndarray
        Row CDFs.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness (one uniform per row).

    Returns
    -------
    (M,) ndarray of int
        The sampled option of each row.
    """
    u = check_rng(rng).random(cdf_rows.shape[0])
    return (u[:, None] >= cdf_rows).sum(axis=1)


def move_tables(automaton, values, *, tau_at_leaves=True):
    r"""Per-state move CDFs and query costs of the VGB walk.

    The step rule of VGB Algorithm 1 (non-holding moves), tabulated per automaton state.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    values : (S,) array_like
        :math:`\hat V` per state (non-negative).
    tau_at_leaves : bool
        Use :math:`\tau` as the value of the leaves (Algorithm 1, line 1).

    Returns
    -------
    cdf : (S, V + 1) ndarray
        Option 0 = parent (weight :math:`\hat V(u)`, 0 at the root), option ``1 + a`` = child
        ``u a`` (weight :math:`\pi_{\rm ref}(a\mid u)\hat V(ua)`).
    cost_pi, cost_value, cost_tau : (S,) ndarray of int
        Queries of one (non-holding) move from each state.
    """
    if not isinstance(automaton, TreeAutomaton):
        raise TypeError(f"`automaton` must be a TreeAutomaton, got {type(automaton).__name__}.")
    S, V = automaton.n_states, automaton.vocab_size
    vals = as_finite_array(values, "values", ndim=1).copy()
    if vals.shape != (S,):
        raise ValueError(f"`values` must have shape {(S,)}, got {vals.shape}.")
    if (vals < 0).any():
        raise ValueError("`values` must be non-negative.")
    leaf = automaton.is_leaf
    if tau_at_leaves:
        vals[leaf] = automaton.tau[leaf]
    nxt = automaton.next_state
    probs = np.exp(automaton.log_probs)
    child_v = np.where(nxt >= 0, vals[np.maximum(nxt, 0)], 0.0)
    w = np.zeros((S, V + 1))
    w[:, 0] = vals
    w[0, 0] = 0.0
    w[:, 1:] = np.where(leaf[:, None], 0.0, probs * child_v)
    w[leaf, 0] = 1.0  # from a leaf the only move is up
    cdf, ok = categorical_cdf(w)
    if not ok[0]:
        raise ValueError("every child of the root has weight 0: the walk cannot start.")
    queried = (probs > 0) & ~leaf[:, None]
    child_leaf = np.where(nxt >= 0, leaf[np.maximum(nxt, 0)], False)
    n_leaf_children = (queried & child_leaf).sum(axis=1)
    n_children = queried.sum(axis=1)
    cost_pi = (~leaf).astype(np.int64)
    if tau_at_leaves:
        cost_tau = n_leaf_children.astype(np.int64)
        cost_value = (n_children - n_leaf_children).astype(np.int64)
    else:
        cost_tau = np.zeros(S, dtype=np.int64)
        cost_value = n_children.astype(np.int64)
    cost_value = cost_value + ((~leaf) & (np.arange(S) != 0)).astype(np.int64)
    return cdf, cost_pi, cost_value, cost_tau


class VGBSampler:
    r"""The VGB walk on an automaton's prefix tree, advancing many chains per step.

    Parameters
    ----------
    automaton : TreeAutomaton
        Reference model and outcome reward.
    values : (S,) array_like
        :math:`\hat V` per automaton state.
    tau_at_leaves : bool, default True
        Use :math:`\tau` as the value of the leaves (Algorithm 1).

    Examples
    --------
    >>> from theory.vgb import TreeAutomaton
    >>> aut = TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.5)),
    ...                     [0, 1, 1], [0.0, 1.0, 3.0], 1)
    >>> out = VGBSampler(aut, [2.0, 1.0, 3.0]).sample_fixed_t(4000, 5, rng=np.random.default_rng(0))
    >>> bool(abs((out.tokens[:, 0] == 1).mean() - 0.75) < 0.03)
    True
    """

    def __init__(self, automaton, values, *, tau_at_leaves=True):
        self.automaton = automaton
        self.tau_at_leaves = bool(tau_at_leaves)
        cdf, cpi, cv, ct = move_tables(automaton, values, tau_at_leaves=tau_at_leaves)
        self.cdf = readonly(cdf)
        self.cost_pi_table = readonly(cpi)
        self.cost_value_table = readonly(cv)
        self.cost_tau_table = readonly(ct)
        not_root = (np.arange(automaton.n_states) != 0) & ~automaton.is_leaf
        self.cost_memo_table = readonly(cpi + cv - not_root.astype(np.int64) + ct)
        # the three per-move costs packed in one int64 (21 bits each): one scatter per step
        self._packed_table = readonly(cpi + (cv << _FIELD) + (ct << (2 * _FIELD)))
        per_step = int(max(cpi.max(), cv.max(), ct.max(), 1))
        self._flush_every = max(1, (1 << _FIELD) // per_step - 1)
        self.next_state = automaton.next_state
        self.is_leaf = automaton.is_leaf
        self.H = automaton.horizon
        idx_dtype = np.int32 if automaton.n_states < 2 ** 31 else np.int64
        self._idx_dtype = idx_dtype

    # -- state of a batch of chains -------------------------------------------------------
    def _init(self, n):
        path = np.zeros((n, self.H + 1), dtype=self._idx_dtype)
        tokens = np.zeros((n, self.H), dtype=np.int16 if self.automaton.vocab_size < 2 ** 15
                          else np.int64)
        h = np.zeros(n, dtype=np.int64)
        cur = np.zeros(n, dtype=self._idx_dtype)
        return path, tokens, h, cur

    @staticmethod
    def _unpack(packed):
        mask = (1 << _FIELD) - 1
        return np.stack([packed & mask, (packed >> _FIELD) & mask, packed >> (2 * _FIELD)])

    def _step(self, idx, path, tokens, h, cur, packed, rng, hpath=None, log=None, run_of=None):
        """Advance chains ``idx`` by one lazy step (in place).

        One uniform ``r`` per chain decides both the holding coin (``r >= 1/2``) and, through
        ``2r ~ U[0, 1)`` given ``r < 1/2``, the move.
        """
        if idx.size == 0:
            return
        r = rng.random(idx.size)
        move = r < 0.5
        i2 = idx[move]
        if i2.size == 0:
            return
        u2 = cur[i2]
        choice = ((2.0 * r[move])[:, None] >= self.cdf[u2]).sum(axis=1)
        packed[i2] += self._packed_table[u2]
        if log is not None:
            inner = ~self.is_leaf[u2]
            who = i2[inner] if run_of is None else run_of[i2[inner]]
            log.append((who, hpath[i2[inner], h[i2[inner]]], u2[inner]))
        up = choice == 0
        iu = i2[up]
        if iu.size:
            hu = h[iu] - 1
            h[iu] = hu
            cur[iu] = path[iu, hu]
        dn = ~up
        i3 = i2[dn]
        if i3.size:
            a = choice[dn] - 1
            h3 = h[i3]
            new = self.next_state[u2[dn], a]
            tokens[i3, h3] = a
            path[i3, h3 + 1] = new
            cur[i3] = new
            h[i3] = h3 + 1
            if hpath is not None:
                hpath[i3, h3 + 1] = hpath[i3, h3] * _HASH_MULT + (a + 1).astype(np.uint64)

    def run(self, n_chains, T, *, rng):
        r"""Run ``n_chains`` independent walks for ``T`` steps from the root.

        Returns
        -------
        state : (n,) ndarray
            Final automaton state.
        depth : (n,) ndarray
            Final depth ``h``.
        tokens : (n, H) ndarray
            Final prefixes (entries at positions ``>= depth`` are stale).
        cost : (3, n) ndarray
            ``pi_ref``, value and ``tau`` calls.
        """
        n = check_int(n_chains, "n_chains", low=1)
        T = check_int(T, "T", low=0)
        rng = check_rng(rng)
        path, tokens, h, cur = self._init(n)
        packed = np.zeros(n, dtype=np.int64)
        costs = np.zeros((3, n), dtype=np.int64)
        idx = np.arange(n)
        for t in range(T):
            self._step(idx, path, tokens, h, cur, packed, rng)
            if (t + 1) % self._flush_every == 0:
                costs += self._unpack(packed)
                packed[:] = 0
        costs += self._unpack(packed)
        return cur.astype(np.int64), h, tokens, costs

    def sample_fixed_t(self, n, T, *, rng, max_rounds=100_000, batch=4096):
        r"""Theorem 4.1's sampler: ``T`` steps from the root, restart until the output is a leaf.

        The runs are i.i.d.; they are simulated ``batch`` at a time (at least the number of
        outputs still missing) and consumed *in order*: output ``j`` takes the runs after
        output ``j-1``'s successful run up to and including its own, so every output's
        restarts and queries are exactly those of the sequential algorithm.  Runs simulated
        after the last needed success are discarded (not charged).

        Parameters
        ----------
        n : int
            Number of outputs.
        T : int
            Steps per run.
        rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        max_rounds : int
            Give up on a sample after this many runs (``done = False``).
        batch : int
            Runs simulated together.

        Returns
        -------
        SamplerOutput
        """
        n = check_int(n, "n", low=1)
        T = check_int(T, "T", low=1)
        max_rounds = check_int(max_rounds, "max_rounds", low=1)
        batch = check_int(batch, "batch", low=1)
        rng = check_rng(rng)
        out_tokens = np.zeros((n, self.H), dtype=np.int64)
        out_state = np.zeros(n, dtype=np.int64)
        done = np.zeros(n, dtype=bool)
        costs = np.zeros((3, n), dtype=np.int64)
        runs = np.zeros(n, dtype=np.int64)
        j = 0                                   # next output to fill
        while j < n:
            m = max(batch, n - j)
            state, depth, tokens, c = self.run(m, T, rng=rng)
            hit = self.is_leaf[state]
            # output index of each run: j + number of successes strictly before it
            owner = j + np.concatenate([[0], np.cumsum(hit)[:-1]])
            keep = owner < n
            o = owner[keep]
            np.add.at(runs, o, 1)
            for q in range(3):
                np.add.at(costs[q], o, c[q][keep])
            fin = np.flatnonzero(hit & keep)
            out_tokens[owner[fin]] = tokens[fin]
            out_state[owner[fin]] = state[fin]
            done[owner[fin]] = True
            j = int(min(n, j + hit.sum()))
            # a sample that reached max_rounds runs without success is abandoned
            while j < n and runs[j] >= max_rounds:
                j += 1
        restarts = runs - done
        return SamplerOutput(tokens=out_tokens, state=out_state, done=done, cost_pi=costs[0],
                             cost_value=costs[1], cost_tau=costs[2], steps=runs * T,
                             restarts=restarts, method="VGB " + STOPPING_RULES["fixed_t"],
                             params={"T": T, "tau_at_leaves": self.tau_at_leaves})

    def sample_first_leaf(self, n, *, rng, max_steps=1_000_000, memo=False, pool=4096):
        r"""The first-leaf heuristic: walk from the root and stop at the first leaf reached.

        Labelled as a heuristic: its output law differs from :math:`\pi^\star` unless
        :math:`\hat V = V^\star` (:func:`theory.vgb.first_leaf_law`).

        ``n`` independent runs are executed on ``pool`` chain slots; a slot whose run ends
        starts the next run, so hitting times with a heavy tail do not leave the vector
        nearly empty.

        Parameters
        ----------
        n : int
            Number of runs (outputs).
        rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        max_steps : int
            A run still walking after this many steps (holding steps included) is stopped
            and reported with ``done = False`` (its queries are counted).
        memo : bool
            Also count queries under memoisation (``cost_memo``): every distinct prefix a run
            moves from is expanded once (prefixes identified by a 64-bit rolling hash of their
            tokens).  Logs one entry per non-holding move, so keep ``n`` moderate.
        pool : int
            Number of chain slots advanced together.

        Returns
        -------
        SamplerOutput
        """
        n = check_int(n, "n", low=1)
        max_steps = check_int(max_steps, "max_steps", low=1)
        C = min(check_int(pool, "pool", low=1), n)
        rng = check_rng(rng)
        H = self.H
        path, tokens, h, cur = self._init(C)
        packed = np.zeros(C, dtype=np.int64)
        costs = np.zeros((3, C), dtype=np.int64)
        start = np.zeros(C, dtype=np.int64)
        run_of = np.arange(C)
        next_run = C
        out_tokens = np.zeros((n, H), dtype=np.int64)
        out_state = np.zeros(n, dtype=np.int64)
        out_done = np.zeros(n, dtype=bool)
        out_cost = np.zeros((3, n), dtype=np.int64)
        out_steps = np.zeros(n, dtype=np.int64)
        hpath = np.zeros((C, H + 1), dtype=np.uint64) if memo else None
        log = [] if memo else None
        slots = np.arange(C)
        active = slots.copy()
        t = 0
        while active.size:
            self._step(active, path, tokens, h, cur, packed, rng, hpath=hpath, log=log,
                       run_of=run_of)
            t += 1
            if t % self._flush_every == 0:
                costs += self._unpack(packed)
                packed[:] = 0
            end = active[(h[active] == H) | (t - start[active] >= max_steps)]
            if end.size:
                runs = run_of[end]
                out_done[runs] = h[end] == H
                out_tokens[runs] = tokens[end]
                out_state[runs] = cur[end]
                out_cost[:, runs] = costs[:, end] + self._unpack(packed[end])
                out_steps[runs] = t - start[end]
                k = min(end.size, n - next_run)
                fresh, idle = end[:k], end[k:]
                run_of[fresh] = next_run + np.arange(k)
                next_run += k
                run_of[idle] = -1
                h[end] = 0
                cur[end] = 0
                costs[:, end] = 0
                packed[end] = 0
                start[end] = t
                if memo:
                    hpath[end, 0] = 0
                active = slots[run_of >= 0]
        cost_memo = None
        if memo:
            cost_memo = np.zeros(n, dtype=np.int64)
            if log:
                rid = np.concatenate([x[0] for x in log])
                key = np.concatenate([x[1] for x in log])
                st = np.concatenate([x[2] for x in log])
                key = key ^ (rid.astype(np.uint64) * np.uint64(0xD1B54A32D192ED03))
                _, first = np.unique(key, return_index=True)
                cost_memo = np.bincount(rid[first], weights=self.cost_memo_table[st[first]],
                                        minlength=n).astype(np.int64)
        return SamplerOutput(tokens=out_tokens, state=out_state, done=out_done,
                             cost_pi=out_cost[0], cost_value=out_cost[1], cost_tau=out_cost[2],
                             steps=out_steps, restarts=np.zeros(n, np.int64),
                             method="VGB " + STOPPING_RULES["first_leaf"],
                             params={"max_steps": max_steps,
                                     "tau_at_leaves": self.tau_at_leaves},
                             cost_memo=cost_memo)

    def sample_chain_leaves(self, n_chains, budget, *, rng, chunk=4096, max_steps=1_000_000):
        r"""Long chains that never restart; every arrival at a leaf is an output.

        The most query-frugal reading of the walk: ``n_chains`` chains start at the root and
        keep walking; each step onto a leaf emits that leaf.  Each chain has one memo cache
        for its whole run (a prefix it moves from is expanded once: one
        :math:`\pi_{\rm ref}` call and the child values) and walks until its memoised cost
        exceeds ``budget / n_chains`` or it has taken ``max_steps`` steps (on a small tree the
        cache may cover every prefix, and further arrivals are free).  Successive outputs of a
        chain are dependent (often the same leaf); this stopping rule is not covered by
        Theorem 4.1.

        Parameters
        ----------
        n_chains : int
            Independent chains.
        budget : int
            Total memoised queries over all chains.
        rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        chunk : int
            Steps simulated between budget checks.
        max_steps : int
            Cap on the steps of every chain.

        Returns
        -------
        SamplerOutput
            One row per leaf arrival, chains concatenated (chain 0's arrivals first, each in
            time order); ``cost_memo`` and ``cost_pi``/``cost_value``/``cost_tau`` hold the
            queries spent since the same chain's previous arrival (memoised and uncached),
            ``steps`` the steps since then, ``restarts`` the chain index.  Arrivals after a
            chain's memoised cost exceeds its share of the budget are dropped.
        """
        C = check_int(n_chains, "n_chains", low=1)
        budget = check_int(budget, "budget", low=1)
        chunk = check_int(chunk, "chunk", low=1)
        max_steps = check_int(max_steps, "max_steps", low=1)
        rng = check_rng(rng)
        H = self.H
        share = budget / C
        path, tokens, h, cur = self._init(C)
        hpath = np.zeros((C, H + 1), dtype=np.uint64)
        packed = np.zeros(C, dtype=np.int64)
        idx = np.arange(C)
        seen = np.zeros(0, dtype=np.uint64)        # (chain, prefix) keys already expanded
        spent = np.zeros((4, C))                   # memoised, pi, value, tau so far
        rows = []                                  # per arrival: t, chain, state, costs (4,)
        toks = []
        t = 0
        while t < max_steps and (spent[0] <= share).any():
            moves, arrivals = [], []
            for _ in range(min(chunk, max_steps - t)):
                log = []
                self._step(idx, path, tokens, h, cur, packed, rng, hpath=hpath, log=log,
                           run_of=idx)
                if log:
                    who, key, st = log[0]
                    moves.append((np.full(who.size, t), who, key, st))
                at = np.flatnonzero(h == H)
                if at.size:
                    arrivals.append((np.full(at.size, t), at, tokens[at].copy(), cur[at].copy()))
                t += 1
            packed[:] = 0                          # costs are recomputed from the moves
            if moves:
                tt, who, key, st = (np.concatenate(x) for x in zip(*moves))
                key = key ^ (who.astype(np.uint64) * np.uint64(0xD1B54A32D192ED03))
                uniq, first = np.unique(key, return_index=True)   # moves are in time order
                new = np.zeros(tt.size, dtype=bool)
                new[first[~np.isin(uniq, seen)]] = True
                seen = np.union1d(seen, uniq)
                inc = np.stack([np.where(new, self.cost_memo_table[st], 0),
                                self.cost_pi_table[st], self.cost_value_table[st],
                                self.cost_tau_table[st]]).astype(float)
            else:
                tt = who = np.zeros(0, dtype=np.int64)
                inc = np.zeros((4, 0))
            if arrivals:
                a_t, a_c, a_tok, a_st = (np.concatenate(x) for x in zip(*arrivals))
                # cost of chain c by the end of step a_t: moves of c at times <= a_t
                cum = np.zeros((4, a_t.size))
                for c in np.unique(a_c):
                    mc = who == c
                    ccum = np.cumsum(inc[:, mc], axis=1)
                    sel = a_c == c
                    j = np.searchsorted(tt[mc], a_t[sel], side="right")
                    cum[:, sel] = np.where(j > 0, ccum[:, np.maximum(j - 1, 0)], 0.0)
                cum += spent[:, a_c]
                keep = cum[0] <= share
                rows.append(np.column_stack([a_t[keep], a_c[keep], a_st[keep], cum[:, keep].T]))
                toks.append(a_tok[keep])
            spent += np.stack([np.bincount(who, weights=inc[k], minlength=C) for k in range(4)])
        if not rows or not sum(r.shape[0] for r in rows):
            z = np.zeros(0, np.int64)
            return self._chain_output(np.zeros((0, H), np.int64), z, z, z, z, z, z, z, C, budget)
        R = np.concatenate(rows)
        T_ = np.concatenate(toks)
        order = np.lexsort((R[:, 0], R[:, 1]))
        R, T_ = R[order], T_[order]
        chain = R[:, 1].astype(np.int64)
        first = np.r_[True, chain[1:] != chain[:-1]]
        cum = R[:, 3:].T
        costs = np.where(first, cum, cum - np.roll(cum, 1, axis=1)).round().astype(np.int64)
        steps = np.where(first, R[:, 0] + 1, R[:, 0] - np.roll(R[:, 0], 1)).astype(np.int64)
        return self._chain_output(T_.astype(np.int64), R[:, 2].astype(np.int64), costs[0],
                                  costs[1], costs[2], costs[3], steps, chain, C, budget)

    def _chain_output(self, tokens, state, memo, c_pi, c_v, c_t, steps, chain, C, budget):
        return SamplerOutput(tokens=tokens, state=state, done=np.ones(state.size, dtype=bool),
                             cost_pi=c_pi, cost_value=c_v, cost_tau=c_t, steps=steps,
                             restarts=chain,
                             method="VGB long chains, every leaf arrival an output",
                             params={"n_chains": C, "budget": budget,
                                     "tau_at_leaves": self.tau_at_leaves},
                             cost_memo=memo)
