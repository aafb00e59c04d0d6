"""Shared analysis helpers of the maximum-likelihood experiments (private module).

* :func:`slope_claim` -- a rate claim: log-log OLS slope with a stratified-bootstrap interval
  at level ``1 - alpha/m`` (Bonferroni over the ``m`` fits of the claim, ``alpha = 1e-3``
  per claim), accepted when the predicted exponent lies in the interval widened by a stated
  tolerance; plus the **power check**: the same pipeline on the same replicates multiplied
  by ``x**(+-shift)`` (a deliberately wrong exponent) must be rejected.
* :func:`probability_claim` -- "with probability >= p0": exact Clopper-Pearson lower bound.
"""

from __future__ import annotations

import numpy as np

from simulations.experiment import Claim
from simulations.stats import binomial_interval, loglog_fit, slope_test

#: Per-claim false-fail rate (split over the assertions of a claim by Bonferroni).
ALPHA = 1e-3
#: Exponent error the power check must detect.
POWER_SHIFT = 0.25


def fit_slope(x, reps, *, level, rng, statistic="mean", q=None, n_boot=2000):
    """Log-log fit of ``statistic(reps[k])`` against ``x[k]`` (zero-statistic points dropped)."""
    kw = {"q": q} if statistic == "quantile" else {}
    return loglog_fit(np.asarray(x, float), [np.asarray(r, float) for r in reps], level=level,
                      n_boot=n_boot, rng=rng, statistic=statistic, nonpositive="drop", **kw)


def slope_verdict(x, reps, predicted, tol, *, level, rng, statistic="mean", q=None, mode="equal"):
    """Fit, accept/reject, and the power check.

    ``mode="equal"``: accept iff ``predicted in [lo - tol, hi + tol]``;
    ``mode="at_most"``: accept iff ``lo - tol <= predicted`` is not required, only
    ``hi + tol >= ...`` -- i.e. the slope is *at most* ``predicted + tol`` (upper bound:
    ``ci_low <= predicted + tol``).

    Returns ``(fit, passed, power_ok, power_text)``.  Power check: the replicates are
    rescaled by ``(x/x0)**(target - fit.slope)`` so that the same data follow a deliberately
    wrong exponent ``target = predicted +- POWER_SHIFT`` (for ``at_most`` only the violating
    alternative ``predicted + POWER_SHIFT``); the same rule at the same level must reject it.
    """
    fit = fit_slope(x, reps, level=level, rng=rng, statistic=statistic, q=q)
    passed = _accept(fit, predicted, tol, mode)
    x = np.asarray(x, float)
    keep_x = x
    shifts = {"equal": (POWER_SHIFT, -POWER_SHIFT), "at_most": (POWER_SHIFT,), "at_least": (-POWER_SHIFT,)}[mode]
    rejected = []
    for s in shifts:
        scale = (keep_x / keep_x[0]) ** (predicted + s - fit.slope)
        wrong = fit_slope(x, [np.asarray(r, float) * c for r, c in zip(reps, scale)], level=level, rng=rng,
                          statistic=statistic, q=q)
        rejected.append(not _accept(wrong, predicted, tol, mode))
    text = ", ".join(f"exponent {predicted + s:+.2f}: {'rejected' if r else 'NOT rejected'}"
                     for s, r in zip(shifts, rejected))
    return fit, passed, all(rejected), text


def _accept(fit, predicted, tol, mode):
    if mode == "equal":
        return slope_test(fit, predicted, tol)
    if mode == "at_least":
        return bool(fit.ci_high >= predicted - tol)
    return bool(fit.ci_low <= predicted + tol)


def slope_claim(cid, paper_ref, statement, x, rep_sets, predicted, tol, *, rng, evaluation, statistic="mean",
                q=None, mode="equal", labels=None, exploratory=False, extra="", power_binding=True, power_extra=""):
    """One claim over ``len(rep_sets)`` fits (Bonferroni inside); returns ``(claim, power_claim)``."""
    m = len(rep_sets)
    level = 1.0 - ALPHA / m
    fits, oks, powers, texts = [], [], [], []
    for reps in rep_sets:
        fit, ok, pw, txt = slope_verdict(x, reps, predicted, tol, level=level, rng=rng, statistic=statistic,
                                         q=q, mode=mode)
        fits.append(fit)
        oks.append(ok)
        powers.append(pw)
        texts.append(txt)
    labels = labels or [str(i) for i in range(m)]
    parts = [f"{lab}: slope {f.slope:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}] (Theil-Sen {f.theil_slope:.3f}, "
             f"{f.n_points} pts{', ' + str(f.n_dropped) + ' dropped' if f.n_dropped else ''})"
             for lab, f in zip(labels, fits)]
    rule = {"equal": f"accept iff {predicted} in [ci_low - {tol}, ci_high + {tol}]",
            "at_most": f"accept iff ci_low <= {predicted} + {tol} (the exponent is at most {predicted}: upper bound)",
            "at_least": f"accept iff ci_high >= {predicted} - {tol} (the exponent is at least {predicted}: lower bound)"}[mode]
    details = (f"{'; '.join(parts)}. Rule: {rule}; stratified bootstrap over replicates, level "
               f"{level:.6f} per fit (Bonferroni over {m}, false-fail <= {ALPHA:g} per claim). {extra}").strip()
    lo = min(f.ci_low for f in fits)
    hi = max(f.ci_high for f in fits)
    claim = Claim(id=cid, paper_ref=paper_ref, statement=statement, predicted=predicted,
                  measured=[round(f.slope, 4) for f in fits] if m > 1 else fits[0].slope,
                  interval=[lo, hi], evaluation=evaluation, passed=all(oks), exploratory=exploratory,
                  details=details)
    power = Claim(id=cid + "/power", paper_ref=paper_ref,
                  statement=f"power check of '{cid}': the same pipeline rejects a rate off by {POWER_SHIFT}",
                  predicted="rejected", measured="; ".join(texts), interval=None, evaluation=evaluation,
                  passed=all(powers), exploratory=exploratory or not power_binding,
                  details=("" if power_binding else "Quick preset: too few replicates/design points to resolve "
                           "0.25 by design, so this power check is reported but not binding (it is binding in "
                           "the full preset). ") + "replicates rescaled by (x/x0)^(predicted +- 0.25 - measured slope) and refitted with the same rule and level"
                  + (f". {power_extra}" if power_extra else ""))
    return claim, power


def probability_claim(cid, paper_ref, statement, successes, trials, p0, *, evaluation, exploratory=False,
                      extra="", m=1):
    """Claim 'P[event] >= p0' for each cell: exact CP lower bound at level ``1 - 2*ALPHA/m`` must be >= p0.

    ``successes``/``trials`` are arrays over the ``m`` cells (Bonferroni inside the claim); the
    one-sided false-fail rate is ``ALPHA`` for the whole claim.
    """
    k = np.atleast_1d(np.asarray(successes, dtype=np.int64))
    t = np.atleast_1d(np.asarray(trials, dtype=np.int64))
    level = 1.0 - 2 * ALPHA / max(m, len(k))
    lo, hi = binomial_interval(k, t, level=level)
    lo, hi = np.atleast_1d(lo), np.atleast_1d(hi)
    # Fail only if the upper bound is below p0 (the data *refutes* P >= p0); report lo too.
    passed = bool((hi >= p0).all())
    frac = k / t
    return Claim(id=cid, paper_ref=paper_ref, statement=statement, predicted=f">= {p0}",
                 measured=[round(float(f), 4) for f in frac] if len(k) > 1 else float(frac[0]),
                 interval=[float(lo.min()), float(hi.max())], evaluation=evaluation, passed=passed,
                 exploratory=exploratory,
                 details=(f"successes {k.tolist()} of {t.tolist()}; Clopper-Pearson two-sided level {level:.6f} "
                          f"per cell: lower {np.round(lo, 4).tolist()}, upper {np.round(hi, 4).tolist()}. "
                          f"Rule: fail iff some upper bound < {p0} (false-fail <= {ALPHA:g}). {extra}").strip())


def optimality_claim(cid, paper_ref, residuals, tol, *, solver):
    """The learner really is an MLE: every replicate's first-order (KKT) residual is <= tol."""
    r = np.asarray(residuals, float)
    worst = float(r.max()) if r.size else float("nan")
    return Claim(id=cid, paper_ref=paper_ref,
                 statement=f"the {solver} solution is a maximiser: first-order optimality residual <= {tol:g} "
                           "on every replicate",
                 predicted=f"<= {tol:g}", measured=worst, interval=None, evaluation="exact",
                 passed=bool(r.size and worst <= tol),
                 details=f"{r.size} replicates; median residual {float(np.median(r)):.3g}, max {worst:.3g}.")
