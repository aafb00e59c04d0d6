"""The bound rule: a measured quantity against a predicted bound with stated constants (:func:`bound_claim`)."""

from __future__ import annotations

import numpy as np
from scipy import stats as _sps

from simulations.claims.record import INCONCLUSIVE, ALPHA, POWER_TARGET, BOUND_FACTOR, N_BOOT, Claim
from simulations.claims.shared import (claim_rng, check_real, check_alpha, check_n_boot,
                                       check_text, decide_verdict, join_details, revised_note,
                                       revised_field,
                                       check_labels, fmt, student_deviations, scalar_or_list,
                                       binomial_one_sided, lacks_power, structural_evidence)
from simulations.stats import stratified_bootstrap


# ---------------------------------------------------------------------------------------
# bound
# ---------------------------------------------------------------------------------------

def _binomial_tail_power(n, p, a, side, threshold):
    """P over K ~ Bin(n, p) that the one-sided CP bound of K crosses ``threshold``.

    ``side='lower'``: P[lower(K) > threshold]; ``'upper'``: P[upper(K) < threshold].  The
    bound is monotone in K, so the event is a tail ``K >= k*`` (``K <= k*``), found by
    bisection.
    """
    ks = np.arange(n + 1)
    if n <= 200_000:
        b = binomial_one_sided(ks, n, a, side)
        hit = b > threshold if side == "lower" else b < threshold
        return float(_sps.binom.pmf(ks[hit], n, p).sum())
    lo, hi = 0, n + 1  # smallest k with the event (lower) / largest+1 (upper)
    while lo < hi:
        mid = (lo + hi) // 2
        b = float(binomial_one_sided(mid, n, a, side))
        if (b > threshold) if side == "lower" else not (b < threshold):
            hi = mid
        else:
            lo = mid + 1
    if side == "lower":
        return float(_sps.binom.sf(lo - 1, n, p))
    return float(_sps.binom.cdf(lo - 1, n, p))



def bound_claim(id, paper_ref, statement, *, bound, side="upper", constants, evaluation,
                replicates=None, counts=None, measured=None, interval=None, tolerance=0.0,
                tolerance_reason=None, alpha=ALPHA, n_boot=N_BOOT, rng=None, labels=None,
                power_over="each", exploratory=False, conditions=None, details="",
                revised_from=None, structural_reason=None):
    r"""A measured quantity against a predicted upper (or lower) bound with stated constants.

    Give the measurement in exactly one of three forms: ``replicates`` (Monte Carlo means),
    ``counts`` (Monte Carlo proportions), or ``measured`` (``exact``; with ``interval`` for
    ``certified``).  Several points (a grid of ``n``, ``H``, ...) are tested together: the
    bound must hold at each.

    Parameters
    ----------
    id, paper_ref, statement : str
        As in :class:`Claim`.
    bound : float or (K,) array_like
        The predicted bound at each point, computed from the statement with its constants.
    side : {"upper", "lower"}
        ``upper``: the quantity is at most ``bound``; ``lower``: at least.
    constants : str
        The constants used, in words (e.g. ``"C = 4 (Prop. 5.1), no fitted constant"``).
    evaluation : {"exact", "certified", "monte_carlo"}
        ``monte_carlo`` requires ``replicates`` or ``counts``; ``exact`` requires
        ``measured``; ``certified`` requires ``measured`` and ``interval``.
    replicates : sequence of K 1-D arrays, optional
        Replicates at each point; the quantity is their mean.
    counts : (successes, trials), optional
        Arrays of shape (K,): the quantity is a probability estimated by ``successes/trials``.
    measured : float or (K,) array_like, optional
        Exact values (``exact``), or the point values of certified bounds.
    interval : (2,) or (K, 2) array_like, optional
        Certified ``[lo, hi]`` per point (``certified`` only).
    tolerance : float
        Slack added to the bound (0 by default; a positive value needs ``tolerance_reason``).
    tolerance_reason : str, optional
        Written justification of a positive tolerance.
    alpha : float
        False-fail rate of the claim (Monte Carlo only; Bonferroni over the points).
    n_boot : int
        Bootstrap resamples (``replicates`` only).
    rng : numpy.random.Generator, optional
        Bootstrap generator (default: derived from ``id``).
    labels : sequence of str, optional
        One label per point, for ``details``.
    power_over : {"each", "any"}
        ``"each"`` (default): the points are a design grid, each a prediction of its own;
        the power is the minimum over points, so a point where the bound is vacuous makes the
        claim underpowered.  ``"any"``: the claim is a universal inequality checked on many
        instances (random instances and witnesses searching for a counterexample); the
        tightened bound is rejected as soon as one instance rejects it, so the power is the
        maximum over points (a lower bound on the probability that some point rejects).
    exploratory, conditions, details, revised_from
        As in :func:`exponent_claim`.
    structural_reason : str, optional
        Why the quantity cannot come within the tightened bound on any instance the design can
        build (a derivation or a measurement, with numbers).  Used only when the claim lacks
        power, and accepted only when the estimate itself lies on the tightened bound's side
        at a point that lacks power; otherwise the claim is recorded ``"sample-size"`` with
        the reason marked as contradicted by the data.  The verdict is unchanged
        (``UNDERPOWERED`` is never turned into a pass).

    Returns
    -------
    Claim
        ``underpowered_reason`` / ``underpowered_evidence`` set when the claim lacks power
        (see :data:`~simulations.claims.record.UNDERPOWERED_REASONS`).  With more than 12 points, ``measured`` is the value at the most critical point
        (closest to violating the bound) and ``details`` lists the six most critical points.

    Raises
    ------
    ValueError
        Zero or several measurement forms, mismatched shapes, a positive tolerance without
        a reason.

    Notes
    -----
    **Test** (upper bound :math:`B_k`, slack :math:`\tau`; a lower bound is symmetric), per
    point, at :math:`a = \alpha/K`:

    * ``replicates``: fail iff the one-sided :math:`1-a` lower bound of the mean (the
      :math:`a`-quantile of its stratified bootstrap) exceeds :math:`B_k + \tau`;
    * ``counts``: fail iff the one-sided :math:`1-a` Clopper--Pearson lower bound exceeds
      :math:`B_k + \tau`;
    * ``exact``: fail iff :math:`m_k > B_k + \tau`; ``certified``: pass iff the certified
      upper end is :math:`\le B_k + \tau`, fail iff the certified lower end is above it; a
      certified interval straddling the bound decides nothing (``UNDERPOWERED``).

    The false-fail rate is :math:`\alpha` when the bound holds (Monte Carlo), 0 otherwise.

    **Power** against the tightened bound :math:`B_k / 2` (lower bound: :math:`2 B_k`): the
    probability that the same rule rejects the claim "quantity :math:`\le B_k/2`" on data
    like these, i.e. that the bound is tested where it bites and not in a region where it is
    vacuous.  Replicates: fraction of bootstrap means whose one-sided bound (the resample
    shifted by the observed offset) exceeds :math:`B_k/2 + \tau`; counts: exact, summing the
    binomial law :math:`\mathrm{Bin}(n_k, \hat p_k)` over the counts whose CP bound exceeds
    it; exact and certified: 1 if the (certified) value exceeds :math:`B_k/2 + \tau`, else
    0.  The claim's power is the minimum over points (``power_over="each"``) or the maximum
    (``"any"``).

    Examples
    --------
    >>> c = bound_claim("demo/kl", "Prop. 5.1", "KL <= 4/(eta T) + 2 eta sigma^2",
    ...                 bound=[0.5, 0.25], constants="4 and 2 as stated", evaluation="exact",
    ...                 measured=[0.4, 0.2])
    >>> c.verdict, c.power
    ('PASS', 1.0)
    """
    if side not in ("upper", "lower"):
        raise ValueError(f"`side` must be 'upper' or 'lower', got {side!r}.")
    if power_over not in ("each", "any"):
        raise ValueError(f"`power_over` must be 'each' or 'any', got {power_over!r}.")
    if not isinstance(constants, str) or not constants.strip():
        raise TypeError("`constants` must be a non-empty str stating the constants used.")
    tolerance = check_real(tolerance, "tolerance", low=0)
    tolerance_reason = check_text(tolerance_reason, "tolerance_reason")
    if tolerance > 0 and tolerance_reason is None:
        raise ValueError(f"claim {id!r}: a positive `tolerance` needs `tolerance_reason`.")
    alpha = check_alpha(alpha)
    forms = [name for name, v in (("replicates", replicates), ("counts", counts),
                                  ("measured", measured)) if v is not None]
    if len(forms) != 1:
        raise ValueError("give exactly one of `replicates`, `counts`, `measured`; got "
                         f"{forms or 'none'}.")
    form = forms[0]
    if form == "measured":
        if evaluation not in ("exact", "certified"):
            raise ValueError("`measured` is for evaluation 'exact' or 'certified'; Monte Carlo "
                             "estimates go in `replicates` or `counts`.")
        if (evaluation == "certified") != (interval is not None):
            raise ValueError("`interval` is required with evaluation 'certified' and only then.")
    elif evaluation != "monte_carlo":
        raise ValueError(f"`{form}` is for evaluation 'monte_carlo', got {evaluation!r}.")
    upper = side == "upper"
    sign = 1.0 if upper else -1.0  # work with "quantity <= bound" on sign * values

    if form == "replicates":
        reps = [replicates] if np.ndim(replicates[0]) == 0 else replicates
        if min(len(r) for r in reps) < 2:
            raise ValueError("`replicates` needs at least 2 replicates per point.")
        point, draws = stratified_bootstrap(reps, n_boot=check_n_boot(n_boot), rng=claim_rng(rng, id))
    elif form == "counts":
        try:
            k, n = (np.atleast_1d(np.asarray(v)) for v in counts)
        except (TypeError, ValueError):
            raise TypeError("`counts` must be a pair (successes, trials) of arrays.") from None
        if k.shape != n.shape or (n < 1).any() or (k < 0).any() or (k > n).any() \
                or not (np.issubdtype(k.dtype, np.integer) and np.issubdtype(n.dtype, np.integer)):
            raise ValueError("`counts` must be integer arrays of one shape with 0 <= successes "
                             "<= trials and trials >= 1.")
        point = k / n
    else:
        point = np.atleast_1d(np.asarray(measured, dtype=float))
        if np.isnan(point).any():
            raise ValueError("`measured` must not contain NaN (an infinite value is allowed).")
    K = point.size
    b = np.broadcast_to(np.asarray(bound, dtype=float), (K,)) if np.ndim(bound) == 0 \
        else np.asarray(bound, dtype=float)
    if b.shape != (K,) or not np.isfinite(b).all():
        raise ValueError(f"`bound` must be a finite scalar or have one value per point ({K}).")
    names = check_labels(labels, K, "point")
    a = alpha / K
    alt_b = b / BOUND_FACTOR if upper else b * BOUND_FACTOR
    limit, alt_limit = b + sign * tolerance, alt_b + sign * tolerance

    undecided = np.zeros(K, bool)
    if form == "replicates":
        dev, half = student_deviations(point, draws, a, np.array([len(r) for r in reps]) - 1.0)
        lo, hi = point - half, point + half
        one = lo if upper else hi          # the one-sided confidence bound that can refute
        ok = sign * one <= sign * limit
        powers = np.mean(sign * (point + dev) - half > sign * alt_limit, axis=0)
        ffr = alpha
    elif form == "counts":
        conf = "lower" if upper else "upper"     # the confidence bound that can refute
        lo = binomial_one_sided(k, n, a, "lower")
        hi = binomial_one_sided(k, n, a, "upper")
        one = lo if upper else hi
        ok = sign * one <= sign * limit
        powers = np.array([_binomial_tail_power(int(nn), float(pp), a, conf, float(t))
                           for nn, pp, t in zip(n, point, alt_limit)])
        ffr = alpha
    else:
        if evaluation == "certified":
            iv = np.asarray(interval, dtype=float).reshape(K, 2) if K > 1 or np.ndim(interval) == 1 \
                else np.asarray(interval, dtype=float).reshape(1, 2)
            lo, hi = iv[:, 0], iv[:, 1]
            if (lo > hi).any() or not np.isfinite(iv).all():
                raise ValueError("`interval` must hold finite [lo, hi] with lo <= hi per point.")
        else:
            lo = hi = point
        near, far = (lo, hi) if upper else (hi, lo)   # far end decides a pass, near end a fail
        ok = sign * far <= sign * limit
        undecided = ~ok & (sign * near <= sign * limit)
        powers = (sign * near > sign * alt_limit).astype(float)
        ffr = 0.0
    power = float(np.min(powers) if power_over == "each" else np.max(powers))
    point_ok = bool(ok.all())
    refuted = bool((~ok & ~undecided).any())    # a violation the interval decides: FAIL
    verdict = decide_verdict(point_ok, power, exploratory,
                       underpowered=not refuted and ((power < POWER_TARGET) or bool(undecided.any())))
    if exploratory and undecided.any():
        verdict = INCONCLUSIVE
    structural_reason = check_text(structural_reason, "structural_reason")
    reason = evidence = None
    if lacks_power(verdict):
        weak = (powers < POWER_TARGET) | undecided
        inside = weak & (sign * point <= sign * alt_limit)
        beyond = weak & ~inside
        # "each": one point stuck on the alternative's side caps the claim's power; "any": one
        # point beyond it would reach power with more data
        stuck = bool(inside.any()) if power_over == "each" else not bool(beyond.any())
        pick = np.flatnonzero(inside if stuck else beyond)
        pick = pick[np.argsort(-np.nan_to_num(sign * point[pick] / np.maximum(np.abs(b[pick]), 1e-300),
                                              nan=-np.inf), kind="stable")]
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = point / b
        where = "; ".join(f"{names[i] + ': ' if names[i] else ''}estimate {fmt(point[i])} = "
                          f"{fmt(ratio[i])} x bound {fmt(b[i])}" for i in pick[:4]) \
            + (f"; {pick.size - 4} more points" if pick.size > 4 else "") \
            + f" (tightened bound: {'1/' if upper else ''}{BOUND_FACTOR:g} x bound)"
        reason, evidence = structural_evidence(structural_reason, stuck, where)
    rel = "<=" if upper else ">="
    how = {"replicates": f"one-sided {1 - a:.6g} bound of the mean (Student quantile with "
                         f"R - 1 df, bootstrap standard error, B={n_boot})",
           "counts": f"one-sided {1 - a:.6g} Clopper-Pearson bound",
           "measured": "certified interval (pass iff its far end satisfies the bound, fail iff "
                       "its near end violates it)" if evaluation == "certified" else "exact value"}[form]
    slack = f"{' + ' if upper else ' - '}{tolerance:g}" if tolerance else ""
    rule = (f"bound: quantity {rel} bound{slack} at every point; "
            f"FAIL iff the {how} violates it"
            + (f" (Bonferroni over {K} points)" if K > 1 and form != "measured" else "")
            + f"; false-fail rate {ffr:g}")
    alt = f"bound {'/' if upper else 'x'} {BOUND_FACTOR:g} ({'tightened upper' if upper else 'raised lower'} bound)"
    lo, hi = np.broadcast_to(lo, (K,)), np.broadcast_to(hi, (K,))
    near = lo if upper else hi
    with np.errstate(invalid="ignore", divide="ignore"):   # order: most critical point first
        order = np.argsort(-np.nan_to_num(sign * (near - limit) / np.maximum(np.abs(b), 1e-300),
                                          nan=-np.inf), kind="stable")
    shown = order if K <= 12 else order[:6]
    rows = "; ".join(
        f"{names[i] + ': ' if names[i] else ''}{fmt(point[i])} [{fmt(lo[i])}, {fmt(hi[i])}] vs bound "
        f"{fmt(b[i])}, power {powers[i]:.3f}"
        + (" (certified interval straddles the bound)" if undecided[i] else "") for i in shown)
    if K > 12:
        rows = (f"{K} points, {int((~ok).sum())} violating, {int((powers >= POWER_TARGET).sum())} "
                f"resolving the tightened bound; most critical: " + rows)
    text = join_details(rows + ".", f"Constants: {constants}.",
                 f"Tolerance reason: {tolerance_reason}." if tolerance_reason else "",
                 f"Power: P(rule rejects 'quantity {rel} bound {'/' if upper else 'x'} "
                 f"{BOUND_FACTOR:g}') on data like these "
                 f"({'minimum over points' if power_over == 'each' else 'maximum over points: a universal statement is refuted by one point'}).",
                 f"Lacks power ({reason}): {evidence.rstrip('.')}." if reason else "",
                 revised_note(revised_from), details)
    if K == 1 or np.all(b == b[0]):
        predicted = f"{rel} {fmt(b[0])}"
    elif K <= 12:
        predicted = f"{rel} [" + ", ".join(fmt(v) for v in b) + "]"
    else:
        predicted = f"{rel} bound at {K} points (most critical: {fmt(b[order[0]])})"
    return Claim(
        id=id, paper_ref=paper_ref, statement=statement, predicted=predicted,
        measured=scalar_or_list(point) if K <= 12 else float(point[order[0]]),
        interval=None if evaluation == "exact" else (float(np.min(lo)), float(np.max(hi))),
        evaluation=evaluation, exploratory=exploratory, details=text, kind="prediction",
        verdict=verdict, rule=rule, tolerance=tolerance, power=power, alternative=alt,
        conditions=conditions, false_fail_rate=ffr, underpowered_reason=reason,
        underpowered_evidence=evidence or "", revised_from=revised_field(revised_from))
