"""The exponent rule: a fitted log-log slope against a predicted exponent (:func:`exponent_claim`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from simulations.claims.record import (PASS, HOLDS, ALPHA, EXPONENT_SHIFT, MAX_UNREASONED_TOLERANCE,
                                       MIN_SLOPE_POINTS, MIN_SLOPE_SPAN, N_BOOT, Claim)
from simulations.claims.shared import (claim_rng, check_real, check_alpha, check_n_boot,
                                       check_text, decide_verdict, join_details, revised_note, revised_field,
                                       student_deviations, replicate_rows, slope_df,
                                       scalar_or_list, lacks_power, structural_evidence)
from simulations.stats import loglog_fit_draws


# ---------------------------------------------------------------------------------------
# exponent
# ---------------------------------------------------------------------------------------

_EXPONENT_MODES = ("equal", "at_most", "at_least")


def exponent_claim(id, paper_ref, statement, x, replicates, *, predicted, mode="equal",
                   tolerance=0.0, tolerance_reason=None, few_points_reason=None,
                   evaluation, statistic="mean", q=None, nonpositive="raise", alpha=ALPHA,
                   n_boot=N_BOOT, rng=None, exploratory=False, conditions=None, details="",
                   revised_from=None):
    r"""A predicted exponent against the fitted log-log slope of replicated measurements.

    Parameters
    ----------
    id, paper_ref, statement : str
        As in :class:`Claim`.
    x : (K,) array_like
        Positive, distinct design points (``n``, ``H``, ``T``, ...).  At least
        :data:`MIN_SLOPE_POINTS` (4) values spanning a factor :data:`MIN_SLOPE_SPAN` (8),
        unless ``few_points_reason`` says why fewer suffice.
    replicates : sequence of K 1-D arrays, (K, R) array, or dict {label: such a series}
        Independent replicates of the measured quantity at each ``x`` (ragged allowed).  A
        dict tests several series (e.g. one per ``N``) in one claim: each must pass.  For an
        exactly computed curve give one value per ``x`` (shape (K, 1)): the slope is then
        exact, the rule is ``|slope - predicted| <= tolerance`` and the power is 0 or 1.
    predicted : float
        The predicted exponent.
    mode : {"equal", "at_most", "at_least"}
        ``equal``: the slope equals ``predicted``; ``at_most``: the quantity grows no faster
        (falls at least as fast) as ``x**predicted``; ``at_least``: the converse.
    tolerance : float
        Non-negative slack written before the run (a finite-size correction).  Above
        :data:`MAX_UNREASONED_TOLERANCE` (0.1) it needs ``tolerance_reason``.
    tolerance_reason, few_points_reason : str, optional
        Written justifications, copied into ``details``.
    evaluation : {"exact", "certified", "monte_carlo"}
        How each replicate's value was obtained.
    statistic : {"mean", "quantile"}
        Per-``x`` summary whose slope is fitted; ``q`` the quantile level.
    q : float, optional
        Quantile level in (0, 1) when ``statistic="quantile"``.
    nonpositive : {"raise", "drop"}
        Points whose statistic is ``<= 0`` (no logarithm): raise, or drop them from the fit
        (reported in ``details``).
    alpha : float
        False-fail rate of the claim (split over the series by Bonferroni).
    n_boot : int
        Bootstrap resamples per series (>= 200).
    rng : numpy.random.Generator, optional
        Bootstrap generator (default: derived from ``id``).
    exploratory : bool
        Report the outcome without deciding the exit status.
    conditions : list of dict, optional
        Hypotheses of the cited statement (see :func:`condition`).
    details : str
        Extra text appended to the generated details.
    revised_from : str or dict, optional
        The earlier rule: a str note when the rule or class was revised after a run had been
        seen (kept in ``details``; the note says whether that run failed), or a :func:`~simulations.claims.revision` dict when the claim changed
        class or rule (kept in :attr:`Claim.revised_from` and summarised in ``details``).

    Returns
    -------
    Claim
        ``predicted`` the exponent, ``measured`` the slope (a list for several series),
        ``interval`` the bootstrap interval (the envelope for several series),
        ``tolerance``, ``power``, ``alternative``, ``false_fail_rate = alpha``;
        ``underpowered_reason`` when power is missing (``"sample-size"`` for replicated data,
        ``"design"`` for exact values, whose power only the tolerance decides); ``loose_by``
        for a one-sided claim that passes with every series' interval beyond
        ``predicted -/+ 0.25`` (the bound is not exceeded and not attained: the smallest gap
        between slope and bound).

    Raises
    ------
    ValueError
        Bad arguments, a tolerance above 0.1 without a reason, or a design with fewer than
        4 x-values or a span below 8 without ``few_points_reason``.

    Notes
    -----
    **Estimator.**  The slope :math:`\hat s` is the OLS coefficient of :math:`\log S_k` on
    :math:`\log x_k`, :math:`S_k` the mean (or ``q``-quantile) of the replicates at
    :math:`x_k` (:func:`simulations.stats.loglog_fit_draws`).  Its sampling law is
    estimated by the stratified bootstrap: ``n_boot`` resamples, replicates drawn with
    replacement within each :math:`x_k`, slope refitted; :math:`Q(u)` denotes the
    :math:`u`-quantile of the resampled slopes.

    **Test and level.**  With :math:`a = \alpha/m` (:math:`m` series):
    ``equal`` passes iff :math:`Q(a/2) - \tau \le s_0 \le Q(1-a/2) + \tau`;
    ``at_most`` passes iff :math:`Q(a) \le s_0 + \tau`;
    ``at_least`` passes iff :math:`Q(1-a) \ge s_0 - \tau`
    (:math:`s_0` = ``predicted``, :math:`\tau` = ``tolerance``).  If the true exponent of
    the fitted statistic is within :math:`\tau` of :math:`s_0` (on the wrong side for the
    one-sided modes), the claim fails with probability at most :math:`\alpha` (up to the
    bootstrap's approximation): that is its false-fail rate.

    **Power** against the alternative exponent :math:`s_1 = s_0 \pm 0.25` (both for
    ``equal``, :math:`s_0 + 0.25` for ``at_most``, :math:`s_0 - 0.25` for ``at_least``):
    the probability that the same rule fails when the true exponent is :math:`s_1`.  It is
    computed from the same resamples, shifted to the alternative (the basic bootstrap):
    a dataset whose exponent is :math:`s_1` has estimates :math:`s_1 + (s^*_b - \hat s)`,
    each with the interval offsets :math:`Q(\cdot) - \hat s` observed on the data, judged by
    the same rule; the power is the fraction of the ``n_boot`` shifted resamples that fail,
    minimised over the alternatives and the series.  (Rescaling replicates by
    :math:`x^{s_1 - \hat s}` shifts every resampled slope by exactly
    :math:`s_1 - \hat s`, so no refit is needed.)  Power below :data:`POWER_TARGET` makes a
    binding claim ``UNDERPOWERED``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> n = np.array([64, 128, 256, 512, 1024])
    >>> reps = n[:, None] ** -1.0 * rng.lognormal(0, 0.2, size=(5, 40))
    >>> c = exponent_claim("demo/rate", "Theorem 4.2", "coverage ~ 1/n", n, reps,
    ...                    predicted=-1.0, evaluation="exact")
    >>> c.verdict, c.power > 0.9
    ('PASS', True)
    """
    if mode not in _EXPONENT_MODES:
        raise ValueError(f"`mode` must be one of {_EXPONENT_MODES}, got {mode!r}.")
    predicted = check_real(predicted, "predicted")
    tolerance = check_real(tolerance, "tolerance", low=0)
    tolerance_reason = check_text(tolerance_reason, "tolerance_reason")
    few_points_reason = check_text(few_points_reason, "few_points_reason")
    if tolerance > MAX_UNREASONED_TOLERANCE and tolerance_reason is None:
        raise ValueError(f"claim {id!r}: `tolerance` {tolerance} > {MAX_UNREASONED_TOLERANCE} "
                         "needs a written `tolerance_reason` (a computed finite-size correction, "
                         "a reference).")
    alpha = check_alpha(alpha)
    n_boot = check_n_boot(n_boot)
    rng = claim_rng(rng, id)
    xs = np.asarray(x, dtype=float)
    if xs.ndim != 1:
        raise ValueError(f"`x` must be 1-D, got shape {xs.shape}.")
    if xs.size and (xs <= 0).any():
        raise ValueError("`x` must be positive for a log-log fit.")
    span = float(xs.max() / xs.min()) if xs.size else 0.0
    if (xs.size < MIN_SLOPE_POINTS or span < MIN_SLOPE_SPAN) and few_points_reason is None:
        raise ValueError(f"claim {id!r}: a slope needs at least {MIN_SLOPE_POINTS} x-values "
                         f"spanning a factor >= {MIN_SLOPE_SPAN:g} (got {xs.size} spanning "
                         f"{span:.3g}); pass `few_points_reason` saying why fewer suffice.")
    series = dict(replicates) if isinstance(replicates, Mapping) else {"": replicates}
    if not series:
        raise ValueError("`replicates` must not be an empty dict.")
    m = len(series)
    a = alpha / m
    lo_q, hi_q = (a / 2, 1 - a / 2) if mode == "equal" else (a, 1 - a)
    shifts = {"equal": (EXPONENT_SHIFT, -EXPONENT_SHIFT), "at_most": (EXPONENT_SHIFT,),
              "at_least": (-EXPONENT_SHIFT,)}[mode]

    def fails(est, lo, hi):
        if mode == "equal":
            return (predicted < lo - tolerance) | (predicted > hi + tolerance)
        if mode == "at_most":
            return lo > predicted + tolerance
        return hi < predicted - tolerance

    slopes, los, his, powers, oks, parts = [], [], [], [], [], []
    for label, reps in series.items():
        fit, draws = loglog_fit_draws(xs, reps, level=1 - a, n_boot=n_boot, rng=rng,
                                      statistic=statistic, q=q, nonpositive=nonpositive)
        df = slope_df(xs, replicate_rows(reps), statistic)
        dev, half = student_deviations(fit.slope, draws, lo_q, df)
        lo, hi = fit.slope - half, fit.slope + half
        ok = not bool(fails(fit.slope, lo, hi))
        power = min(float(np.mean(fails(predicted + s + dev, predicted + s + dev - half,
                                         predicted + s + dev + half)))
                    for s in shifts)
        slopes.append(fit.slope)
        los.append(lo)
        his.append(hi)
        powers.append(power)
        oks.append(ok)
        if all(len(np.atleast_1d(r)) == 1 for r in replicate_rows(reps)):
            parts.append(f"{label + ': ' if label else ''}slope {fit.slope:.4g} (exact; Theil-Sen "
                         f"{fit.theil_slope:.4g}; {fit.n_points} points), power {power:.0f}")
            continue
        parts.append(
            f"{label + ': ' if label else ''}slope {fit.slope:.4g} [{lo:.4g}, {hi:.4g}] "
            f"(Theil-Sen {fit.theil_slope:.4g}; {fit.n_points} points"
            + (f", {fit.n_dropped} dropped (statistic <= 0)" if fit.n_dropped else "")
            + (f", {fit.n_boot_invalid} invalid resamples" if fit.n_boot_invalid else "")
            + f"; {df:.3g} effective df), power {power:.3f}")
    power = min(powers)
    if mode == "equal":
        loose = []
    else:
        sgn = 1.0 if mode == "at_most" else -1.0
        far = [h if mode == "at_most" else l for l, h in zip(los, his)]
        loose = [sgn * (predicted - sl) for sl, f in zip(slopes, far)
                 if sgn * (predicted - f) > EXPONENT_SHIFT]
        loose = loose if len(loose) == len(slopes) else []
    exact_values = all(min(len(np.atleast_1d(r)) for r in replicate_rows(reps)) == 1 for reps in series.values())
    if exact_values and (evaluation == "monte_carlo" or any(
            max(len(np.atleast_1d(r)) for r in replicate_rows(reps)) > 1 for reps in series.values())):
        raise ValueError("one value per x is only for exact (or certified) values: give at least "
                         "2 replicates per x for Monte Carlo data, and the same design throughout.")
    stat_name = "mean" if statistic == "mean" else f"{q:g}-quantile"
    bound_txt = {"equal": f"{predicted:g} in [lo - {tolerance:g}, hi + {tolerance:g}], [lo, hi] the "
                          f"two-sided {1 - a:.6g} interval",
                 "at_most": f"lo <= {predicted:g} + {tolerance:g}, lo the one-sided {1 - a:.6g} "
                            "lower bound",
                 "at_least": f"hi >= {predicted:g} - {tolerance:g}, hi the one-sided {1 - a:.6g} "
                             "upper bound"}[mode]
    if exact_values:
        cmp_txt = {"equal": f"|slope - ({predicted:g})| <= {tolerance:g}",
                   "at_most": f"slope <= {predicted:g} + {tolerance:g}",
                   "at_least": f"slope >= {predicted:g} - {tolerance:g}"}[mode]
        rule = (f"exponent {mode.replace('_', ' ')} {predicted:g} (tolerance {tolerance:g}): PASS iff "
                f"{cmp_txt}, slope the OLS log-log slope of exact values (one per x: no sampling "
                f"error){' for each of ' + str(m) + ' series' if m > 1 else ''}; false-fail rate 0")
        alpha = 0.0
    else:
        rule = (f"exponent {mode.replace('_', ' ')} {predicted:g} (tolerance {tolerance:g}): PASS iff "
                f"{bound_txt} of the OLS log-log slope of the per-x {stat_name} (stratified bootstrap "
                f"over replicates, B={n_boot}{', Bonferroni over ' + str(m) + ' series' if m > 1 else ''}); "
                f"false-fail rate {alpha:g}")
    alt = " and ".join(f"exponent {predicted + s:+g}" for s in shifts)
    text = join_details(
        "; ".join(parts) + ".",
        f"x = {np.array2string(xs, separator=', ')} (span {span:.3g}).",
        f"Tolerance reason: {tolerance_reason}." if tolerance_reason else "",
        f"Fewer than {MIN_SLOPE_POINTS} points / span below {MIN_SLOPE_SPAN:g}: {few_points_reason}."
        if (xs.size < MIN_SLOPE_POINTS or span < MIN_SLOPE_SPAN) else "",
        f"Power: 1 iff the rule rejects every alternative ({alt}) given exact values, else 0."
        if exact_values else
        f"Power: P(rule fails | true {alt}), basic bootstrap of the same resamples shifted to "
        "the alternative with the observed interval offsets (minimum over alternatives and series).",
        revised_note(revised_from), details)
    if exact_values and span < MIN_SLOPE_SPAN and xs.size >= 3:
        finite = []
        for (label, reps), sl in zip(series.items(), slopes):
            y = np.array([float(np.mean(r)) for r in replicate_rows(reps)])
            if (y > 0).all():
                order = np.argsort(xs)
                loc = np.diff(np.log(y[order])) / np.diff(np.log(xs[order]))
                last_ok = not bool(fails(loc[-1], loc[-1], loc[-1]))
                finite.append(f"{label + ': ' if label else ''}local slopes "
                              f"{', '.join(f'{v:.3g}' for v in loc)} (drift {loc[-1] - loc[0]:+.3g} across "
                              f"the window; the last, {loc[-1]:.3g}, {'meets' if last_ok else 'violates'} the "
                              "rule)")
        if finite:
            text = join_details(text, f"Finite-size check (exact values, span {span:.3g} < "
                                      f"{MIN_SLOPE_SPAN:g}): " + "; ".join(finite) + ".")
    verdict = decide_verdict(all(oks), power, exploratory)
    reason = evidence = None
    if lacks_power(verdict):
        swallowed = tolerance >= EXPONENT_SHIFT      # no sample size rejects an alternative inside the slack
        if exact_values or swallowed:
            where = (f"{'exact ' if exact_values else ''}slope(s) {', '.join(f'{v:.4g}' for v in slopes)}: "
                     f"with tolerance {tolerance:g} the rule cannot reject {alt}")
        else:
            where = (f"slope(s) {', '.join(f'{v:.4g}' for v in slopes)}, interval half-widths "
                     f"{', '.join(f'{(h - l) / 2:.3g}' for l, h in zip(los, his))}")
        reason, evidence = structural_evidence(None, exact_values or swallowed, where)
        text = join_details(text, f"Lacks power ({reason}): {evidence.rstrip('.')}.")
    loose_by = None
    if loose and verdict in (PASS, HOLDS):
        loose_by = float(min(loose))
        text = join_details(text, f"Bound not attained: the {'upper' if mode == 'at_most' else 'lower'} "
                            f"end of the interval is beyond {predicted:g} "
                            f"{'-' if mode == 'at_most' else '+'} {EXPONENT_SHIFT:g}; the slope is "
                            f"{loose_by:.3g} {'below' if mode == 'at_most' else 'above'} the bound "
                            "(not exceeded, not confirmed as the rate).")
    return Claim(
        id=id, paper_ref=paper_ref, statement=statement, predicted=predicted,
        measured=scalar_or_list(slopes, 4 if m > 1 else None),
        interval=None if exact_values else (min(los), max(his)), evaluation=evaluation, exploratory=exploratory,
        details=text, kind="prediction", verdict=verdict,
        rule=rule, tolerance=tolerance, power=power, alternative=alt, conditions=conditions,
        false_fail_rate=alpha, underpowered_reason=reason, underpowered_evidence=evidence or "",
        revised_from=revised_field(revised_from),
        loose_by=loose_by)
