"""The simple tournament on 512 checkpoints x ``10^4`` held-out samples.

``tournament/simple``
    :func:`~simulations.learners.selection.simple_tournament` at ``N = 4``: the all-pairs
    counts of :func:`~simulations.learners.selection.pairwise_coverage_counts` (``K^2 n``
    comparisons of float64 log-likelihoods, blocked and threaded), then the min-max
    selection.  Reference (:func:`reference_simple_tournament`): one vectorised comparison
    of every rival against each candidate in turn (single-threaded numpy); the selected
    index and scores must be equal.  Target: under 10 s on wall time (``--quick``:
    ``K = 128``, no verdict).
"""

from __future__ import annotations

import numpy as np

from simulations.bench import workload
from simulations.learners.selection import simple_tournament
from theory.coverage import comparison_log_thresholds

__all__ = ["reference_simple_tournament"]

#: Wall-time target (seconds) for K = 512, n = 10^4.
TARGET_SECONDS = 10.0


def reference_simple_tournament(ll, N):
    """``(index, scores)`` of the simple tournament by a loop over candidates."""
    K, n = ll.shape
    cut = float(comparison_log_thresholds(N))
    worst = np.empty(K, dtype=np.int64)
    for k in range(K):
        worst[k] = np.count_nonzero(ll - ll[k] >= cut, axis=1).max()
    key = ll.sum(axis=1)
    tied = worst == worst.min()
    index = int(np.flatnonzero(tied & (key >= key[tied].max()))[0])
    return index, worst / n


@workload("tournament/simple")
def tournament_512(ctx):
    K, n, N = (128 if ctx.quick else 512), 10_000, 4.0
    ll = -np.abs(np.random.default_rng(0).normal(3.0, 2.0, size=(K, n)))
    out = {}

    def toolkit():
        out["sel"] = simple_tournament(ll, N)

    def reference():
        out["ref"] = reference_simple_tournament(ll, N)

    times = ctx.race(toolkit, reference, repeat=min(ctx.repeat, 2))
    index, scores = out["ref"]
    if int(out["sel"].index) != index or not np.array_equal(out["sel"].scores, scores):
        raise AssertionError("tournament selection differs from the reference")
    return {"params": {"K": K, "n": n, "N": N}, **times, "work": (K * K * n, "pair-sample"),
            "reference": "numpy loop over candidates (single thread)",
            "target": f"< {TARGET_SECONDS:g} s wall",
            "passed": times["seconds"] < TARGET_SECONDS}
