r"""The Sinclair–Jerrum (1989) tree walk: uniform generation from approximate counts.

Self-reducible family: Dyck words with ``n`` pairs of one bracket type (length ``H = 2n``).
A prefix of length ``h`` with depth ``d`` has

.. math:: N(h, d) = \binom{m}{(m-d)/2} - \binom{m}{(m-d)/2 - 1}, \qquad m = H - h,

completions (ballot numbers).  With uniform :math:`\pi_{\rm ref}` over ``{(, )}`` and
:math:`\tau = \mathbb 1[\text{Dyck word}]`, :math:`V^\star(u) = N(u)/2^{H-h}` and the VGB walk
is exactly the Sinclair–Jerrum walk: each edge is weighted by the count at its lower endpoint
(reference notes §A.5).  An approximate counter :math:`f` within ratio ``r``
(:math:`N/r \le f \le rN`, exact at the leaves) gives the value
:math:`\hat V(u) = f(u)/2^{H-h}`, i.e. Assumption 4.1 with :math:`1+\varepsilon_V = r`.
The walk's leaf law at stationarity is uniform over Dyck words for every such ``f``.

Invalid prefixes are excluded children (their count is 0), so the tree holds only the
prefixes of Dyck words; it has 82 499 nodes at ``H = 20``.
"""

from __future__ import annotations

from math import comb

import numpy as np

from theory._validation import check_int, check_real
from theory.vgb import TreeAutomaton

from .vgb import VGBSampler

__all__ = ["completion_count", "dyck_word_automaton", "approximate_counts",
           "counts_to_values", "sinclair_jerrum_sampler", "catalan"]


def completion_count(m, d):
    r"""Number of ways to complete a prefix of depth ``d`` with ``m`` tokens left (exact int).

    >>> completion_count(4, 0), completion_count(3, 1)
    (2, 2)
    """
    m = check_int(m, "m", low=0)
    d = check_int(d, "d", low=0)
    if d > m or (m - d) % 2:
        return 0
    k = (m - d) // 2
    return comb(m, k) - (comb(m, k - 1) if k >= 1 else 0)


def catalan(n):
    """Number of Dyck words with ``n`` pairs.

    >>> [catalan(n) for n in range(6)]
    [1, 1, 2, 5, 14, 42]
    """
    n = check_int(n, "n", low=0)
    return comb(2 * n, n) // (n + 1)


def dyck_word_automaton(n_pairs):
    r"""Automaton of prefixes of one-type Dyck words: states ``(h, d)``, uniform :math:`\pi_{\rm ref}`.

    Returns
    -------
    automaton : TreeAutomaton
        Tokens ``0 = (`` and ``1 = )``; children that cannot be completed are excluded.
    counts : (S,) ndarray of float
        Exact completion counts :math:`N(h, d)` per state.

    Examples
    --------
    >>> aut, counts = dyck_word_automaton(3)
    >>> float(counts[0])
    5.0
    """
    n = check_int(n_pairs, "n_pairs", low=1)
    H = 2 * n
    ids = {}
    rows = []
    for h in range(H + 1):
        for d in range(0, min(h, H - h) + 1):
            if (h - d) % 2 == 0 and completion_count(H - h, d) > 0:
                ids[(h, d)] = len(rows)
                rows.append((h, d))
    S = len(rows)
    nxt = -np.ones((S, 2), dtype=np.int64)
    for s, (h, d) in enumerate(rows):
        if h < H:
            nxt[s, 0] = ids.get((h + 1, d + 1), -1)
            nxt[s, 1] = ids.get((h + 1, d - 1), -1) if d > 0 else -1
    depth = np.array([r[0] for r in rows], dtype=np.int64)
    counts = np.array([float(completion_count(H - h, d)) for h, d in rows])
    tau = np.where(depth == H, 1.0, 0.0)
    aut = TreeAutomaton(next_state=nxt, log_probs=np.full((S, 2), np.log(0.5)), depth=depth,
                        tau=tau, horizon=H)
    return aut, counts


def approximate_counts(automaton, counts, ratio, *, mode="adversarial", rng=None):
    r"""Approximate counts :math:`f = N\,r^{s}` with :math:`|s| \le 1` (exact at the leaves).

    Parameters
    ----------
    automaton : TreeAutomaton
    counts : (S,) array_like
        Exact counts per state.
    ratio : float
        :math:`r \ge 1`.
    mode : {"adversarial", "random"}
        ``"adversarial"``: the "sawtooth" pattern :math:`s = (-1)^h\sigma`, with
        :math:`\sigma = +1` on states entered by ``(`` and :math:`-1` by ``)`` (biases every
        choice between siblings and slows the depth diffusion; on the compact ``(h, d)``
        automaton a state may be entered both ways and takes the larger token);
        ``"random"``: ``s ~ U[-1, 1]`` i.i.d. per state (per node on an explicit tree).

    Examples
    --------
    >>> aut, N = dyck_word_automaton(2)
    >>> f = approximate_counts(aut, N, 2.0)
    >>> bool(np.all((f >= N / 2) & (f <= 2 * N)))
    True
    """
    r = check_real(ratio, "ratio", low=1)
    N = np.asarray(counts, dtype=float)
    if mode == "adversarial":
        from .value_functions import incoming_token
        sib = np.where(incoming_token(automaton) <= 0, 1.0, -1.0)
        s = np.where(automaton.depth % 2 == 0, 1.0, -1.0) * sib
    elif mode == "random":
        if not isinstance(rng, np.random.Generator):
            raise TypeError("`rng` is required for mode='random'.")
        s = rng.uniform(-1, 1, size=N.size)
    else:
        raise ValueError(f"`mode` must be 'adversarial' or 'random', got {mode!r}.")
    f = N * np.exp(s * np.log(r))
    leaf = automaton.is_leaf
    f[leaf] = N[leaf]
    return f


def counts_to_values(automaton, f):
    r""":math:`\hat V(u) = f(u)/2^{H-h}` (uniform :math:`\pi_{\rm ref}` over two tokens)."""
    return np.asarray(f, dtype=float) * np.exp2(-(automaton.horizon - automaton.depth))


def sinclair_jerrum_sampler(n_pairs, ratio=1.0, *, mode="adversarial", rng=None):
    r"""The Sinclair–Jerrum walk for Dyck words with counts within ratio ``r`` (a :class:`VGBSampler`).

    Examples
    --------
    >>> s = sinclair_jerrum_sampler(3)
    >>> out = s.sample_first_leaf(100, rng=np.random.default_rng(0))
    >>> bool(out.done.all())
    True
    """
    aut, N = dyck_word_automaton(n_pairs)
    f = approximate_counts(aut, N, ratio, mode=mode, rng=rng)
    return VGBSampler(aut, counts_to_values(aut, f))
