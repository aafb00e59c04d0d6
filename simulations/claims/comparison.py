"""The comparison rule: A better than B, with a bootstrap interval on the difference (:func:`comparison_claim`)."""

from __future__ import annotations

import numpy as np

from simulations.claims.record import EVALUATIONS, INCONCLUSIVE, ALPHA, N_BOOT, POWER_TARGET, Claim
from simulations.claims.shared import (claim_rng, check_real, check_alpha, check_n_boot,
                                       check_text, decide_verdict, join_details, revised_note,
                                       revised_field,
                                       check_labels, fmt, student_deviations, scalar_or_list,
                                       lacks_power, structural_evidence)


# ---------------------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------------------

def comparison_claim(id, paper_ref, statement, a, b, *, better="higher", margin=0.0,
                     margin_reason=None, names=("A", "B"), paired=False, evaluation,
                     alpha=ALPHA, n_boot=N_BOOT, rng=None, labels=None, exploratory=False,
                     conditions=None, details="", revised_from=None):
    r"""A is better than B: an interval on the difference of their means excludes "not better".

    Parameters
    ----------
    id, paper_ref, statement : str
        As in :class:`Claim`.
    a, b : array_like
        ``monte_carlo``: replicates of A and of B, as 1-D arrays (one comparison) or
        sequences of K 1-D arrays (K comparisons, each must pass).  ``exact``/``certified``:
        values, scalar or (K,); for ``certified`` pass the conservative ends (A's worst and
        B's best certified bound).
    better : {"higher", "lower"}
        Which direction is better.
    margin : float
        Non-negative: A may be worse than B by at most ``margin`` (non-inferiority); 0 asks
        that A be strictly better.  A positive margin needs ``margin_reason``.
    margin_reason : str, optional
        Written justification of a positive margin.
    names : (str, str)
        Names of A and B for the texts.
    paired : bool
        Replicate ``r`` of A and of B share randomness (resampled jointly); needs equal sizes.
    evaluation : {"exact", "certified", "monte_carlo"}
    alpha : float
        Level: a pair in which A is no better than B (by more than ``margin``) passes with
        probability at most ``alpha`` (Bonferroni over the K comparisons).
    n_boot : int
        Bootstrap resamples (Monte Carlo only).
    rng : numpy.random.Generator, optional
        Bootstrap generator (default: derived from ``id``).
    labels : sequence of str, optional
        One per comparison.
    exploratory, conditions, details, revised_from
        As in :func:`exponent_claim`.

    Returns
    -------
    Claim
        ``measured`` the improvement :math:`d` (positive when A is better), ``interval`` its
        bootstrap interval, ``tolerance = margin``.

    Raises
    ------
    ValueError
        Bad shapes, a positive margin without a reason, ``paired`` with unequal sizes.

    Notes
    -----
    **Test.**  :math:`d = \bar A - \bar B` (``better="higher"``) or
    :math:`\bar B - \bar A`; its law is estimated by the bootstrap (independent resampling
    of A and B, or joint if ``paired``), and :math:`[L, U]` are its one-sided :math:`1-a`
    bounds, :math:`a = \alpha/K` (Student quantile with :math:`\min(n_A, n_B) - 1` degrees
    of freedom, Hsu's conservative choice, times the bootstrap standard error; the
    Welch--Satterthwaite value was anti-conservative on skewed replicates, see
    :func:`simulations.claims.shared.slope_df`).  Three outcomes, per comparison:

    * ``PASS`` iff :math:`L > -\mathrm{margin}` (the data show A better);
    * ``FAIL`` iff :math:`U < -\mathrm{margin}` (the data show A *not* better: B better, or
      A worse by more than the margin);
    * otherwise the interval straddles :math:`-\mathrm{margin}`: the design cannot decide,
      and the claim is ``UNDERPOWERED`` (inconclusive is not a pass, and not a refutation).

    A claim with several comparisons FAILs if one fails, else is UNDERPOWERED if one is
    inconclusive.  Exact values: PASS iff :math:`d > -\mathrm{margin}`, else FAIL.

    **False-fail rate**: if A is better (beyond the margin) in every comparison, the claim
    FAILs with probability at most :math:`\alpha` (Bonferroni over the K comparisons; 0 for
    exact values): that is the stated rate, which calibration over seeds checks.

    **Power**: the probability that the same rule reaches PASS at the observed improvement
    (the bootstrap law of :math:`d` around :math:`\hat d`, judged by the rule; minimum over
    comparisons).  Below :data:`POWER_TARGET` a binding claim is ``UNDERPOWERED`` even when
    this run passed: the improvement is too close to the margin for the design to reproduce
    the pass.  (The power against the alternative :math:`d = -\mathrm{margin}` itself is
    :math:`1-a` by construction and says nothing about the design.)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> c = comparison_claim("demo/cmp", "Theorem 6.1", "TTT beats the base model",
    ...                      rng.normal(1.0, 0.1, 200), rng.normal(0.8, 0.1, 200),
    ...                      evaluation="monte_carlo")
    >>> c.verdict
    'PASS'
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"`better` must be 'higher' or 'lower', got {better!r}.")
    margin = check_real(margin, "margin", low=0)
    margin_reason = check_text(margin_reason, "margin_reason")
    if margin > 0 and margin_reason is None:
        raise ValueError(f"claim {id!r}: a positive `margin` needs `margin_reason`.")
    if len(names) != 2 or not all(isinstance(v, str) for v in names):
        raise TypeError("`names` must be a pair of str.")
    alpha = check_alpha(alpha)
    sgn = 1.0 if better == "higher" else -1.0
    if evaluation in ("exact", "certified"):
        av = np.atleast_1d(np.asarray(a, dtype=float))
        bv = np.atleast_1d(np.asarray(b, dtype=float))
        if av.shape != bv.shape or av.ndim != 1 or not (np.isfinite(av).all() and np.isfinite(bv).all()):
            raise ValueError("exact `a` and `b` must be finite scalars or 1-D arrays of one shape.")
        d = sgn * (av - bv)
        lo = hi = d
        ok = d > -margin
        refuted = ~ok
        powers = np.ones_like(d)
        K = d.size
        how = "exact difference"
        q = None
    elif evaluation == "monte_carlo":
        def series(v):
            if np.ndim(v) == 1 and np.ndim(np.asarray(v, dtype=object)[0]) == 0:
                return [np.asarray(v, dtype=float)]
            return [np.asarray(r, dtype=float) for r in v]
        sa, sb = series(a), series(b)
        if len(sa) != len(sb):
            raise ValueError(f"`a` and `b` must have the same number of comparisons, got "
                             f"{len(sa)} and {len(sb)}.")
        K = len(sa)
        q = alpha / K
        n_boot = check_n_boot(n_boot)
        rng = claim_rng(rng, id)
        d, lo, hi, powers = (np.empty(K) for _ in range(4))
        for i, (ra, rb) in enumerate(zip(sa, sb)):
            if ra.size < 2 or rb.size < 2 or not (np.isfinite(ra).all() and np.isfinite(rb).all()):
                raise ValueError("each Monte Carlo sample of `a` and `b` needs >= 2 finite replicates.")
            if paired:
                if ra.size != rb.size:
                    raise ValueError("`paired=True` needs equal replicate counts in `a` and `b`.")
                idx = rng.integers(0, ra.size, size=(n_boot, ra.size))
                draws = sgn * (ra[idx].mean(axis=1) - rb[idx].mean(axis=1))
            else:
                ia = rng.integers(0, ra.size, size=(n_boot, ra.size))
                ib = rng.integers(0, rb.size, size=(n_boot, rb.size))
                draws = sgn * (ra[ia].mean(axis=1) - rb[ib].mean(axis=1))
            d[i] = sgn * (ra.mean() - rb.mean())
            df = min(ra.size, rb.size) - 1.0          # Hsu's conservative choice (see Notes)
            dev, half = student_deviations(d[i], draws, q, df)
            lo[i], hi[i] = d[i] - half, d[i] + half
            powers[i] = np.mean(d[i] + dev - half > -margin)
        ok = lo > -margin
        refuted = hi < -margin
        how = (f"one-sided {1 - q:.6g} lower bound of the improvement (Student quantile, "
               f"df = min sample size - 1, {'paired ' if paired else ''}bootstrap standard error, B={n_boot})")
    else:
        raise ValueError(f"`evaluation` must be one of {EVALUATIONS}, got {evaluation!r}.")
    labs = check_labels(labels, K, "comparison")
    power = float(powers.min())
    ffr = alpha if evaluation == "monte_carlo" else 0.0
    A, B = names
    word = "higher" if better == "higher" else "lower"
    rule = (f"comparison: {A} better ({word}) than {B}"
            + (f" up to margin {margin:g}" if margin else "")
            + f": PASS iff the {how} of d = {'mean ' + A + ' - mean ' + B if sgn > 0 else 'mean ' + B + ' - mean ' + A}"
            f" is > {-margin:g}" + (f" for each of {K} comparisons" if K > 1 else "")
            + (f"; FAIL iff the one-sided {1 - q:.6g} upper bound is < {-margin:g} (the data show {A} "
               f"not better), else UNDERPOWERED (inconclusive); a {A} no better than {B} passes, and a "
               f"better {A} fails, with probability <= {alpha:g} each" if evaluation == "monte_carlo" else
               "; else FAIL"))
    outcome = np.where(ok, "pass", np.where(refuted, "fail", "inconclusive"))
    rows = "; ".join(f"{lab + ': ' if lab else ''}d = {fmt(dd)} [{fmt(l)}, {fmt(h)}], power {pw:.3f}"
                     + (f" ({oc})" if evaluation == "monte_carlo" else "")
                     for lab, dd, l, h, pw, oc in zip(labs, d, np.atleast_1d(lo), np.atleast_1d(hi),
                                                     powers, outcome))
    text = join_details(rows + ".", f"Margin reason: {margin_reason}." if margin_reason else "",
                 "Power: P(rule passes | d = observed d), the bootstrap law of d judged by the same rule "
                 "(minimum over comparisons); below "
                 f"{POWER_TARGET:g} the verdict is UNDERPOWERED (the observed improvement is too close to "
                 "the margin for the design to reproduce a pass)." if evaluation == "monte_carlo" else
                 "Power: n/a for exact values (recorded as 1: an exact difference has no sampling "
                 "error, so the verdict cannot be a chance outcome).",
                 revised_note(revised_from), details)
    straddles = not bool(np.all(ok)) and not bool(np.any(refuted))
    verdict = decide_verdict(bool(np.all(ok)), power, exploratory, underpowered=straddles or None)
    if exploratory and straddles:
        verdict = INCONCLUSIVE
    reason = evidence = None
    if lacks_power(verdict):
        # Monte Carlo only (exact differences always decide): more replicates narrow the interval
        where = "; ".join(f"{lab + ': ' if lab else ''}d = {fmt(dd)} [{fmt(l)}, {fmt(h)}]"
                          for lab, dd, l, h, pw in zip(labs, d, lo, hi, powers) if pw < POWER_TARGET
                          or not l > -margin)
        reason, evidence = structural_evidence(None, False, where)
        text = join_details(text, f"Lacks power ({reason}): {evidence.rstrip('.')}.")
    return Claim(
        id=id, paper_ref=paper_ref, statement=statement,
        predicted=f"{A} better than {B}" + (f" (margin {margin:g})" if margin else ""),
        measured=scalar_or_list(d), interval=(float(np.min(lo)), float(np.max(hi))),
        evaluation=evaluation, exploratory=exploratory, details=text, kind="prediction",
        verdict=verdict, rule=rule, tolerance=margin,
        power=power, alternative=f"{A} no better than {B} beyond the margin (d <= {-margin:g})",
        conditions=conditions, false_fail_rate=ffr, underpowered_reason=reason,
        underpowered_evidence=evidence or "", revised_from=revised_field(revised_from))
