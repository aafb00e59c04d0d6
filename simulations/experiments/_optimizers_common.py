"""Shared pieces of the optimizer experiments (topic "optimizers"; not an experiment itself).

* :func:`coverage_metric`: exact/certified coverage and exact KL of every iterate for
  instances with i.i.d. tokens (:class:`theory.iid_tokens.IidTokenLaw`), as an
  ``iterate_metric`` for :func:`simulations.learners.training.train_one_pass`;
* :func:`run_coverage`: one training run, summarised as JSON-ready per-replicate arrays;
* :func:`slope_claim`: a log-log slope with a stratified-bootstrap interval turned into a
  :class:`~simulations.experiment.Claim` with the acceptance rule spelled out.
"""

from __future__ import annotations

import zlib

import numpy as np

from simulations.experiment import Claim, analysis_rng
from simulations.learners.training import train_one_pass
from simulations.stats import loglog_fit, slope_test
from theory.iid_tokens import IidTokenLaw, iid_token_log_probs, iid_token_tables

TOPIC = "optimizers"


def coverage_metric(data, N_values, *, drop=1e-13, with_kl=False):
    """``(metric, law)``: ``metric(thetas (C, R, d)) -> (C, R, 2|N| [+1+|N|])`` = coverage lower
    bounds, upper bounds [, exact KL, exact stopped KL at each N] of every iterate."""
    table = iid_token_tables(data)
    law = IidTokenLaw(iid_token_log_probs(table, data.theta), data.horizon, data.prompt_weights,
                      drop=drop)
    N = np.asarray(N_values, dtype=float)

    def metric(thetas):
        lq = iid_token_log_probs(table, thetas)
        lo, hi = law.coverage(lq, N)
        parts = [lo, hi]
        if with_kl:
            parts.append(law.kl(lq)[..., None])
            parts.append(law.stopped_kl(lq, N))
        return np.concatenate(parts, axis=-1)

    return metric, law


def run_coverage(instance, optimizer, *, T, rng, replicates, N_values, average_at, batch=1,
                 level="sequence", log_every=None, with_kl=False, stream="auto", token_weights=None):
    """Train and return a JSON-ready summary of the average-iterate coverage per replicate."""
    metric, law = coverage_metric(instance.data, N_values, with_kl=with_kl)
    res = train_one_pass(instance.model_class, instance.data, optimizer, T=T, rng=rng,
                         replicates=replicates, batch=batch, level=level, log_every=log_every,
                         average_at=average_at, iterate_metric=metric, stream=stream,
                         token_weights=token_weights)
    n = len(N_values)
    out = {
        "evaluation": law.evaluation,
        "law_points": int(law.counts.shape[1]),
        "law_dropped": float(law.dropped.max()),
        "average_at": [int(a) for a in res.average_at],
        "N": [float(v) for v in N_values],
        # (R, n_avg, |N|)
        "cov_lo": res.metric_means[..., :n].tolist(),
        "cov_hi": res.metric_means[..., n:2 * n].tolist(),
        "min_cov_lo": res.metric_min[..., :n].tolist(),
        "final_theta": res.final_theta.tolist(),
        "stream": res.stream,
    }
    if with_kl:
        out["kl"] = res.metric_means[..., 2 * n].tolist()
        out["stopped_kl"] = res.metric_means[..., 2 * n + 1:].tolist()
    if log_every is not None:
        out["log_steps"] = res.steps.tolist()
        out["logged_cov_lo"] = res.metric_logged[..., :n].tolist()
    return out


def split_replicates(summary, groups):
    """Split the replicate axis of a :func:`run_coverage` summary into ``groups`` equal blocks."""
    out = []
    for g in range(groups):
        part = {}
        for k, v in summary.items():
            if k in ("cov_lo", "cov_hi", "min_cov_lo", "final_theta", "kl", "stopped_kl", "logged_cov_lo"):
                a = np.asarray(v)
                r = a.shape[0] // groups
                part[k] = a[g * r:(g + 1) * r].tolist()
            else:
                part[k] = v
        out.append(part)
    return out


def slope_claim(name, claim_id, paper_ref, statement, x, reps, *, predicted, tol, level, what,
                exploratory=False, max_width=None, evaluation="exact", extra=""):
    """Fit ``mean(reps | x) ~ x^slope`` and accept iff ``predicted`` is within the interval ± ``tol``
    (and, if ``max_width`` is given, the interval is narrower than ``max_width``: the design
    can tell the predicted slope from ``predicted ± max_width``)."""
    fit = loglog_fit(np.asarray(x, float), [np.asarray(r, float) for r in reps], level=level,
                     n_boot=2000, rng=analysis_rng(name, salt=zlib.crc32(claim_id.encode())),
                     nonpositive="drop")
    ok = slope_test(fit, predicted, tol)
    width = fit.ci_high - fit.ci_low
    if max_width is not None:
        ok = ok and width < max_width
    details = (f"{what}; OLS slope of the per-x mean on log-log axes over {fit.n_points} points, "
               f"stratified-bootstrap {level:.4g} interval (B=2000), Theil-Sen {fit.theil_slope:.3f} "
               f"[{fit.theil_low:.3f}, {fit.theil_high:.3f}]; accept iff {predicted:g} in "
               f"[lo - {tol:g}, hi + {tol:g}]"
               + (f" and width < {max_width:g} (power)" if max_width is not None else "")
               + (f"; {fit.n_dropped} point(s) with zero mean dropped" if fit.n_dropped else "")
               + (f"; {extra}" if extra else ""))
    return Claim(id=f"{name}/{claim_id}", paper_ref=paper_ref, statement=statement,
                 predicted=float(predicted), measured=float(fit.slope),
                 interval=[float(fit.ci_low), float(fit.ci_high)], evaluation=evaluation,
                 passed=bool(ok), exploratory=exploratory, details=details), fit


def mean_and_band(reps):
    """Per-point mean and a +-2 standard-error band of replicate arrays."""
    m = np.array([np.mean(r) for r in reps])
    se = np.array([np.std(r, ddof=1) / np.sqrt(len(r)) if len(r) > 1 else 0.0 for r in reps])
    return m, (np.maximum(m - 2 * se, 1e-300), m + 2 * se)
