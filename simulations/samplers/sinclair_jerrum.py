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

from theory.validation import check_int, check_real, check_rng
from theory.vgb import TreeAutomaton

from .vgb import VGBSampler

__all__ = ["completion_count", "dyck_word_automaton", "approximate_counts",
           "counts_to_values", "sinclair_jerrum_sampler", "catalan"]


def completion_count(m, d):
    r"""Number of ways to complete a prefix of depth ``d`` with ``m`` tokens left (exact int).

    The count :math:`N(u)` with :math:`V^\star(u) = N(u)/2^{H-h}`: the ideal verifier of
    Assumption 4.1 (VGB) for one-type Dyck words under uniform :math:`\pi_{\rm ref}`.

    Parameters
    ----------
    m : int
        Tokens left, ``>= 0``.
    d : int
        Current depth, ``>= 0``.

    Returns
    -------
    int
        The ballot number (0 when ``d > m`` or the parity is wrong).

    Examples
    --------
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
    r"""Number of Dyck words with ``n`` pairs.

    Parameters
    ----------
    n : int
        Number of pairs, ``>= 0``.

    Returns
    -------
    int
        The Catalan number :math:`\binom{2n}{n}/(n+1)`.

    Examples
    --------
    >>> [catalan(n) for n in range(6)]
    [1, 1, 2, 5, 14, 42]
    """
    n = check_int(n, "n", low=0)
    return comb(2 * n, n) // (n + 1)


def dyck_word_automaton(n_pairs):
    r"""Automaton of prefixes of one-type Dyck words: states ``(h, d)``, uniform :math:`\pi_{\rm ref}`.

    The self-reducibility tree on which VGB Algorithm 1 is the Sinclair–Jerrum walk.

    Parameters
    ----------
    n_pairs : int
        Number of pairs ``n >= 1`` (``H = 2n``).

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

    Values :math:`f/2^{H-h}` then satisfy Assumption 4.1 (VGB) with :math:`1+\varepsilon_V = r`.

    Parameters
    ----------
    automaton : TreeAutomaton
        From :func:`dyck_word_automaton`.
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
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Required for ``mode="random"``.

    Returns
    -------
    (S,) ndarray
        :math:`f` per state.

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
        s = check_rng(rng).uniform(-1, 1, size=N.size)
    else:
        raise ValueError(f"`mode` must be 'adversarial' or 'random', got {mode!r}.")
    f = N * np.exp(s * np.log(r))
    leaf = automaton.is_leaf
    f[leaf] = N[leaf]
    return f


def counts_to_values(automaton, f):
    r""":math:`\hat V(u) = f(u)/2^{H-h}` (uniform :math:`\pi_{\rm ref}` over two tokens).

    Counts within ratio ``r`` give values satisfying Assumption 4.1 (VGB) with
    :math:`1+\varepsilon_V = r`.

    Parameters
    ----------
    automaton : TreeAutomaton
        From :func:`dyck_word_automaton`.
    f : (S,) array_like
        (Approximate) counts per state.

    Returns
    -------
    (S,) ndarray
        :math:`\hat V` per state.

    Examples
    --------
    >>> aut, N = dyck_word_automaton(2)
    >>> float(counts_to_values(aut, N)[0])      # 2 Dyck words of length 4 out of 16
    0.125
    """
    return np.asarray(f, dtype=float) * np.exp2(-(automaton.horizon - automaton.depth))


def sinclair_jerrum_sampler(n_pairs, ratio=1.0, *, mode="adversarial", rng=None):
    r"""The Sinclair–Jerrum walk for Dyck words with counts within ratio ``r`` (a :class:`VGBSampler`).

    VGB Algorithm 1 with uniform :math:`\pi_{\rm ref}` and counting-oracle values (Sinclair &
    Jerrum 1989; the reduction of the reference notes), i.e. Assumption 4.1 with
    :math:`1+\varepsilon_V = r`.

    Parameters
    ----------
    n_pairs : int
        Dyck words with ``n_pairs`` pairs (``H = 2 n_pairs``).
    ratio : float, optional
        :math:`r \ge 1` of the approximate counter.
    mode : {"adversarial", "random"}, optional
        Error pattern of the counter (see :func:`approximate_counts`).
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Required for ``mode="random"``.

    Returns
    -------
    VGBSampler
        The walk on :func:`dyck_word_automaton`.

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
