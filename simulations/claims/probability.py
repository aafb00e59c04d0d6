"""The probability rule: ``P[event] >= p0`` by an exact one-sided binomial test (:func:`probability_claim`)."""

from __future__ import annotations

import numpy as np
from scipy import stats as _sps

from simulations.claims.record import ALPHA, POWER_TARGET, PROBABILITY_SHIFT, MAX_FALSE_FAIL, Claim
from simulations.claims.shared import (check_real, check_alpha, decide_verdict, join_details,
                                       revised_note, revised_field, check_labels, scalar_or_list,
                                       binomial_one_sided, lacks_power, structural_evidence)


# ---------------------------------------------------------------------------------------
# probability at least p0
# ---------------------------------------------------------------------------------------

def probability_claim(id, paper_ref, statement, successes, trials, *, p0, margin,
                      evaluation="monte_carlo", alpha=ALPHA, labels=None, exploratory=False,
                      conditions=None, details="", revised_from=None):
    r"""``P[event] >= p0``, shown by an exact one-sided binomial test with a stated margin.

    Parameters
    ----------
    id, paper_ref, statement : str
        As in :class:`Claim`.
    successes, trials : int or (K,) array_like of int
        Events observed in independent trials, per cell (all cells must pass).
    p0 : float
        The predicted lower bound on the probability, in (0, 1].
    margin : float
        In (0, p0]: the claim passes only when the data show the probability is above
        ``p0 - margin``.  Smaller margins need more trials (see Notes).
    evaluation : {"monte_carlo", "exact"}
        How each trial's outcome was obtained (the count itself is always Monte Carlo).
    alpha : float
        Level of the test: a probability at or below ``p0 - margin`` passes with
        probability at most ``alpha`` (Bonferroni over the cells).
    labels : sequence of str, optional
        One per cell, for ``details``.
    exploratory, conditions, details, revised_from
        As in :func:`exponent_claim`.

    Returns
    -------
    Claim
        ``tolerance = margin``; ``false_fail_rate`` the exact probability of failing when
        every cell's probability equals ``p0`` (union bound over cells).

    Raises
    ------
    ValueError
        Bad counts, ``p0`` or ``margin`` out of range.

    Notes
    -----
    **Test.**  Per cell, at :math:`a = \alpha/K`: PASS iff
    ``scipy.stats.binomtest(k, n, p0 - margin, alternative="greater").pvalue`` :math:`\le a`,
    i.e. the exact test rejects :math:`p \le p_0 - \delta`.  Equivalently
    :math:`k \ge c`, with :math:`c` the smallest count with
    :math:`P[\mathrm{Bin}(n, p_0 - \delta) \ge c] \le a`.  A probability at most
    :math:`p_0 - \delta` passes with probability :math:`\le a` (the test can fail: it does
    not pass merely for lack of a refutation).

    **False-fail rate** (exact): :math:`P[\mathrm{Bin}(n, p_0) < c]`, the probability that a
    true claim (probability exactly :math:`p_0`, the worst case) fails.  Above
    :data:`MAX_FALSE_FAIL` (0.01) the design cannot separate :math:`p_0` from
    :math:`p_0 - \delta`; a binding claim is then ``UNDERPOWERED``.

    **Power** (exact) against :math:`p_1 = p_0 - 0.1`: :math:`P[\mathrm{Bin}(n, p_1) < c]`,
    minimum over cells.  Below :data:`POWER_TARGET` a binding claim is ``UNDERPOWERED``.

    Examples
    --------
    >>> c = probability_claim("demo/p", "Prop. F.6", "P[success] >= 1/4", 300, 1000,
    ...                       p0=0.25, margin=0.09)
    >>> c.verdict, c.false_fail_rate < 0.01, c.power > 0.9
    ('PASS', True, True)
    >>> probability_claim("demo/p", "Prop. F.6", "P[success] >= 1/4", 300, 1000,
    ...                   p0=0.25, margin=0.05).verdict   # false-fail rate 0.2 at p = 1/4
    'UNDERPOWERED'
    """
    k = np.atleast_1d(np.asarray(successes))
    n = np.atleast_1d(np.asarray(trials))
    if k.shape != n.shape or k.ndim != 1 or not (np.issubdtype(k.dtype, np.integer)
                                                  and np.issubdtype(n.dtype, np.integer)):
        raise ValueError("`successes` and `trials` must be integers (or 1-D integer arrays) of one shape.")
    if (n < 1).any() or (k < 0).any() or (k > n).any():
        raise ValueError("need 0 <= successes <= trials and trials >= 1.")
    p0 = check_real(p0, "p0")
    if not 0 < p0 <= 1:
        raise ValueError(f"`p0` must be in (0, 1], got {p0}.")
    margin = check_real(margin, "margin")
    if not 0 < margin <= p0:
        raise ValueError(f"`margin` must be in (0, p0] = (0, {p0}], got {margin}.")
    alpha = check_alpha(alpha)
    K = k.size
    a = alpha / K
    names = check_labels(labels, K, "cell")
    pnull = p0 - margin
    pvals = np.array([_sps.binomtest(int(kk), int(nn), pnull, alternative="greater").pvalue
                      for kk, nn in zip(k, n)])
    ok = pvals <= a
    # critical count: smallest c with P[Bin(n, pnull) >= c] <= a
    c = (_sps.binom.isf(a, n, pnull) + 1).astype(np.int64) if pnull > 0 else np.ones(K, np.int64)
    c = np.where(_sps.binom.sf(c - 2, n, pnull) <= a, c - 1, c)  # guard isf's discreteness
    ffr_cells = _sps.binom.cdf(c - 1, n, p0)
    ffr = float(min(1.0, ffr_cells.sum()))
    p1 = max(p0 - PROBABILITY_SHIFT, 0.0)
    powers = _sps.binom.cdf(c - 1, n, p1)
    power = float(powers.min())
    underpowered = power < POWER_TARGET or ffr > MAX_FALSE_FAIL
    lo = binomial_one_sided(k, n, a, "lower")
    hi = binomial_one_sided(k, n, a, "upper")
    rows = "; ".join(f"{nm + ': ' if nm else ''}{int(kk)}/{int(nn)} = {kk / nn:.4g} "
                     f"(one-sided {1 - a:.6g} CP [{l:.4g}, {h:.4g}]; p-value {pv:.3g}; pass needs "
                     f">= {int(cc)}; false-fail {ff:.3g}; power {pw:.3f})"
                     for nm, kk, nn, l, h, pv, cc, ff, pw in zip(names, k, n, lo, hi, pvals, c,
                                                                 ffr_cells, powers))
    rule = (f"probability at least {p0:g} (margin {margin:g}): PASS iff the exact one-sided binomial "
            f"test rejects p <= {pnull:g} at level {a:.6g}"
            + (f" in each of {K} cells (Bonferroni)" if K > 1 else "")
            + f"; false-fail rate at p = {p0:g}: {ffr:.3g} (exact)")
    below = lo < p0
    against_p0 = (f"Against p0 = {p0:g} itself: the one-sided CP lower bound is "
                  f"{lo.min():.4g} (smallest over cells), "
                  + ("at or above p0 in every cell: the data show P >= p0 without the margin."
                     if not below.any() else
                     f"below p0 in {int(below.sum())} of {K} cell(s): the data show P > "
                     f"{pnull:g} (p0 - margin), not P >= {p0:g}."))
    verdict = decide_verdict(bool(ok.all()), power, exploratory, underpowered=underpowered)
    reason = evidence = None
    if lacks_power(verdict):
        reason, evidence = structural_evidence(
            None, False, f"{int(n.min())} trials in the smallest cell, power {power:.3f} against "
                         f"p = {p1:g}, false-fail rate {ffr:.3g} at p0")
    text = join_details(rows + ".", against_p0,
                 f"Power: exact P(fail | p = {p1:g}) from the binomial law (minimum over cells).",
                 f"UNDERPOWERED: the false-fail rate {ffr:.3g} at p = {p0:g} exceeds "
                 f"{MAX_FALSE_FAIL:g}; more trials or a larger margin are needed."
                 if ffr > MAX_FALSE_FAIL and not exploratory else "",
                 f"Lacks power ({reason}): {evidence.rstrip('.')}." if reason else "",
                 revised_note(revised_from), details)
    return Claim(
        id=id, paper_ref=paper_ref, statement=statement, predicted=f">= {p0:g}",
        measured=scalar_or_list(k / n), interval=(float(lo.min()), float(hi.max())),
        evaluation=evaluation, exploratory=exploratory, details=text, kind="prediction",
        verdict=verdict,
        rule=rule, tolerance=margin, power=power, alternative=f"p = {p1:g} (p0 - {PROBABILITY_SHIFT:g})",
        conditions=conditions, false_fail_rate=ffr, underpowered_reason=reason,
        underpowered_evidence=evidence or "", revised_from=revised_field(revised_from))
