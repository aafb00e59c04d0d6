r"""Theorem 4.1 / Corollary 4.1: coverage of the finite-class MLE decays like log|Π|/n, improving with N.

Two realizable finite classes of autoregressive (one-hot linear) models, both evaluated
**exactly** (closed-form count laws, :mod:`theory.instances.mle`):

* ``ladder`` (:func:`theory.instances.finite_ladder_class`): ``|Π| = 2^K`` (``K`` rare tokens
  on a geometric ladder), ``H = 16``.  For each ``n`` and ``R`` replicate data sets (one
  vectorised call), the MLE's :math:`\mathrm{Cov}_N` for ``N`` in {2, 8, 64, 1024} and KL.
  Fitting window (pre-registered from the ladder, :math:`[10/(Hq_{max}), 0.1/(Hq_{min})]`).
* ``rare`` (:func:`theory.instances.finite_rare_prompt_class`): a rare prompt whose
  behaviour the MLE gets wrong when unseen; ``H`` varies at fixed ``n``: KL grows
  linearly in ``H``, coverage does not (missing mass, Remark 3.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats as sps

from simulations.experiments.contract import Task, analysis_rng
from simulations.claims import (as_exploratory, as_sanity, comparison_claim, condition, exponent_claim, not_run_in_quick,
                                sanity_claim)
from simulations.learners.mle import finite_class_mle, sample_replicates
from simulations.plots import line_plot, rate_plot
from simulations.stats import loglog_fit
from theory import instances
from theory.instances.mle import finite_ladder_exact, finite_ladder_mle_coverage, grouped_exact_law

NAME = "mle-finite-class"
PAPER_REF = "Theorem 4.1, Corollary 4.1 (both numberings); Remark 3.1"
TITLE = "Finite-class MLE: coverage ~ log|Π|/n, sharper for larger N; KL grows with H on missing mass"
TOPIC = "generalization of maximum likelihood"
#: The rule for slopes of upper bounds, quoted where it decides a claim's class.
SLOPE_RULE = ("a slope read off an upper bound with unstated constants is binding only if a derivation shows, on the "
              "tested grid, that the instance meets the statement's hypotheses and that the bound's tested term "
              "dominates and is tracked by the quantity; exponents derived for the instance itself are binding")
#: Full-preset results (seed 0) of claims whose class changed, kept in their ``revised_from``.
PREVIOUS = {
    "slope-n-large-N/K8": "-1.878 [-1.949, -1.807]", "slope-n-large-N/K10": "-1.950 [-2.002, -1.898]",
    "slope-n-large-N/K12": "-1.993 [-2.044, -1.942]",
    "N-effect/K8": "improvement 0.300 x Cov_8 - Cov_1024 from 9.61e-3 (n = 20) to 2.53e-5 (n = 10000), envelope "
                   "[1.98e-5, 1.08e-2], power 1.0",
    "N-effect/K10": "improvement from 1.79e-2 to 3.67e-5, envelope [3.10e-5, 1.99e-2], power 1.0",
    "N-effect/K12": "improvement from 1.70e-2 to 3.80e-5, envelope [3.14e-5, 1.86e-2], power 1.0",
}


@dataclass(frozen=True)
class Config:
    levels: tuple = (2, 6, 8, 10, 12)      # K: |Π| = 2^K
    ns: tuple = (20, 45, 100, 225, 500, 1120, 2500, 5600, 10000)
    horizon: int = 16
    ratio: float = 10.0
    Ns: tuple = (2.0, 8.0, 64.0, 1024.0)
    replicates: int = 1000
    quantile: float = 0.9                  # 1 - delta
    rare_horizons: tuple = (4, 8, 16, 32, 64, 128, 256)
    rare_n: int = 256
    rare_replicates: int = 4000
    claim_levels: tuple = (8, 10, 12)      # K's whose slopes are claims (ladder dense enough)
    tie_break: str = "first"
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(levels=(8,), ns=(20, 100, 500, 2500), replicates=800, rare_horizons=(32, 64), rare_replicates=1500,
                   claim_levels=(8,), preset="quick")

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    out = []
    cell = 0
    for k in config.levels:
        for n in config.ns:
            out.append(Task(cell, 0, {"kind": "ladder", "K": k, "n": n}))
            cell += 1
    for h in config.rare_horizons:
        out.append(Task(cell, 0, {"kind": "rare", "H": h, "n": config.rare_n}))
        cell += 1
    return out


@lru_cache(maxsize=16)
def _ladder(k, horizon, ratio, Ns):
    inst = instances.finite_ladder_class(n_levels=k, horizon=horizon, ratio=ratio)
    cov, kl = finite_ladder_exact(inst, list(Ns))
    return inst, cov, kl


@lru_cache(maxsize=16)
def _rare(h, n, Ns):
    inst = instances.finite_rare_prompt_class(h, n)
    law = grouped_exact_law(inst, np.asarray(inst.model_class.theta))
    return inst, law.coverage(np.array(Ns)), law.kl()


def run_task(config, task, *, rng):
    p = task.params
    if p["kind"] == "ladder":
        inst, cov, kl = _ladder(p["K"], config.horizon, config.ratio, tuple(config.Ns))
        n, r = p["n"], config.replicates
    else:
        inst, cov, kl = _rare(p["H"], p["n"], tuple(config.Ns))
        n, r = p["n"], config.rare_replicates
    x, y = sample_replicates(inst.data, n, r, rng=rng)
    res = finite_class_mle(inst.model_class, x, y, tie_break=config.tie_break, rng=rng)
    idx = res.index
    return [{"kind": p["kind"], "K": p.get("K"), "H": p.get("H", config.horizon), "n": n, "i": i,
             "index": int(idx[i]), "cov": cov[idx[i]].tolist(), "kl": float(kl[idx[i]]),
             "ties": int(res.n_maximizers[i])} for i in range(r)]


def _select(records, **kw):
    return [r for r in records if all(r.get(k) == v for k, v in kw.items())]


def _ladder_reps(config, records, k, which, j=None):
    ns = [n for n in config.ns]
    out = []
    for n in ns:
        rs = _select(records, kind="ladder", K=k, n=n)
        out.append(np.array([r["cov"][j] if which == "cov" else r["kl"] for r in rs]))
    return np.array(ns, float), out


def _window(config, k):
    inst = _ladder(k, config.horizon, config.ratio, tuple(config.Ns))[0]
    lo, hi = inst.params["window"]
    return lo, hi


def _approx_slope(config, k, x, Ns):
    """Mean over ``Ns`` of the OLS log-log slope in ``x`` of :func:`finite_ladder_mle_coverage` (derived)."""
    inst = _ladder(k, config.horizon, config.ratio, tuple(config.Ns))[0]
    approx = finite_ladder_mle_coverage(inst, np.asarray(x).astype(int), Ns)
    return float(np.mean([np.polyfit(np.log(x), np.log(a), 1)[0] for a in approx.T]))


def _enough(reps, k=10):
    """A point enters a fit iff at least ``k`` replicates are non-zero (rule fixed before the run:
    otherwise bootstrap resamples of its mean are zero and have no logarithm)."""
    return int((np.asarray(reps) > 0).sum()) >= k


def claims(config, records):
    out = []
    Ns = list(config.Ns)
    ref = "Theorem 4.1 / Corollary 4.1(i)"
    quick = config.preset == "quick"
    for k in config.claim_levels:
        lo, hi = _window(config, k)
        ns, _ = _ladder_reps(config, records, k, "cov", 0)
        keep = np.flatnonzero((ns >= lo) & (ns <= hi))
        # N >= 8 (the theorem's range) whose log-ratio scale needs one under-weighted occurrence: slope -1.
        one = [j for j, N in enumerate(Ns) if 8 <= N <= config.ratio]
        series = {f"N={Ns[j]:g}": [_ladder_reps(config, records, k, "cov", j)[1][i] for i in keep] for j in one}
        for stat, q, label in (("mean", None, "mean"), ("quantile", config.quantile, f"{config.quantile:g}-quantile")):
            c = exponent_claim(
                f"{NAME}/slope-n-{label}/K{k}", ref,
                f"|Π| = {2 ** k}: the {label} over replicates of Cov_N(π̂) decays like 1/n "
                f"(N in {[Ns[j] for j in one]}, n in window [{lo}, {hi}])",
                ns[keep], series, predicted=-1.0, tolerance=0.1, evaluation="exact", statistic=stat, q=q,
                conditions=_conditions(config, k, [Ns[j] for j in one]),
                details="Binding as an exponent derived for the instance (not read off Theorem 4.1's upper bound, "
                        "whose constants are not given): on the ladder a rare token unseen in the data is "
                        "under-weighted, and for N <= r one such token suffices, so coverage is the missing mass "
                        "of a geometric ladder, slope -1 in n. Tolerance 0.1: log-periodic modulation of a "
                        "geometric ladder (the Good-Turing proxy sum_k Hq_k exp(-nHq_k) has slope within 0.01 of -1 "
                        "on this window; the independent-levels approximation of the MLE, "
                        "theory.instances.mle.finite_ladder_mle_coverage, has mean slope "
                        f"{_approx_slope(config, k, ns[keep], [Ns[j] for j in one]):.3f} over these n). The N = 2 "
                        "series of earlier versions is not a claim: Theorem 4.1 needs N >= 8.")
            if quick and stat == "quantile":
                c = not_run_in_quick(c, reason="the 0.9-quantile of a discrete coverage law is resolved to 0.25 in "
                                               "slope only with the full grid (9 sizes x 1000 replicates); the quick "
                                               "grid has 4 x 400")
            out.append(c)
        # Larger N: the instance's own exponent (an equality, derived for the instance, not read off the
        # upper bound; exploratory because its rule was written after the data were seen), and Theorem 4.1's "at least like 1/n" kept as a sanity check (it cannot fail on
        # this instance except through a bug: the instance decays like n^-ceil(log N / log r)).
        inst = _ladder(k, config.horizon, config.ratio, tuple(config.Ns))[0]
        big = {}
        for j, N in enumerate(Ns):
            if max(8.0, config.ratio) < N <= config.ratio ** 2:
                reps = [_ladder_reps(config, records, k, "cov", j)[1][i] for i in keep]
                ok = [i for i, v in enumerate(reps) if _enough(v)]
                if len(ok) >= 3:
                    big[N] = (ns[keep][ok], [reps[i] for i in ok])
        for N, (x, reps) in big.items():
            lab = f"N={N:g}"
            m = int(np.ceil(np.log(N) / np.log(config.ratio) - 1e-12))
            approx = finite_ladder_mle_coverage(inst, x.astype(int), [N])[:, 0]
            derived = float(np.polyfit(np.log(x), np.log(approx), 1)[0])
            few = (None if len(x) >= 4 and x.max() / x.min() >= 8 else
                   "points with fewer than 10 non-zero replicates are dropped (rule fixed before the run)")
            conds = _conditions(config, k, [N])
            c = as_exploratory(
                exponent_claim, f"{NAME}/slope-n-large-N-derived/K{k}", "instance rate on the Theorem 4.1 / Corollary 4.1(i) ladder",
                f"|Π| = {2 ** k}, {lab}: the mean Cov_N(π̂) has the ladder's derived slope {derived:.3f} in n "
                f"(asymptotically -{m}; n in {x.astype(int).tolist()})",
                x, reps, predicted=round(derived, 3), tolerance=0.1, evaluation="exact", conditions=conds,
                few_points_reason=few, why=(
                    "class change after a review, not after a failing run: the rule was written after the seed-0 "
                    "slopes it is decided on were known (post hoc), and the approximation's accuracy is checked on "
                    "a smaller ladder, not on this grid (measured/approximation 0.74-1.45 per point at N = 64); a "
                    "binding version needs a fresh seed and a tolerance justified on this grid"),
                details=(f"Derived value (an exponent of the instance, not of the theorem's upper bound): for "
                         f"r^{m - 1} < N <= r^{m}, r = {config.ratio:g}, coverage needs {m} under-weighted rare tokens "
                         f"in one sequence, so the expected coverage falls like n^-{m}, log-periodically modulated by "
                         "the geometric ladder. The value is the OLS slope over the same n of the independent-levels "
                         "approximation theory.instances.mle.finite_ladder_mle_coverage (computed from the instance "
                         f"alone): {np.array2string(approx, precision=3)}. Tolerance 0.1, stated before the run: the "
                         "approximation is checked against the real MLE within 10% of its value per point "
                         "(tests/unit/test_mle_instances.py), and a 10% error that drifts monotonically over a span "
                         "of 500 in n moves a slope by at most log(1.1/0.9)/log(500) = 0.03; the rest is the "
                         "default exponent tolerance. History: this claim replaces the binding 'at most -1' (now "
                         "the sanity check with the old id); the last session's measured slopes (-1.878, -1.950, "
                         "-1.993 at K = 8, 10, 12) were known when this rule was written, the predicted value comes "
                         "from the instance only. A point enters iff >= 10 replicates are non-zero."))
            if quick:
                c = not_run_in_quick(c, reason="an equality at tolerance 0.1 has power against +-0.25 only if the "
                                               "interval's half-width is below 0.15: the full grid (9 sizes x 1000 "
                                               "replicates) gives about 0.07, the quick grid (4 x 800) about 0.15")
            out.append(c)
            cid = f"slope-n-large-N/K{k}"
            c = exponent_claim(
                f"{NAME}/{cid}", ref,
                f"|Π| = {2 ** k}, {lab}: the mean Cov_N(π̂) decays at least like 1/n (n in {x.astype(int).tolist()})",
                x, reps, predicted=-1.0, mode="at_most", evaluation="exact", conditions=conds, few_points_reason=few,
                revised_from=(f"class prediction (binding), rule 'exponent at most -1 (tolerance 0)', verdict PASS, "
                              f"measured {PREVIOUS[cid]} in the full preset; made a sanity check by the rule that "
                              f"{SLOPE_RULE}: the instance's derived slope is -{m}, so 'at most -1' cannot fail "
                              "except through a bug; the equality to the instance's exponent is slope-n-large-N-derived "
                              "(exploratory: its rule was written after the data were seen)"),
                details="Sanity: Theorem 4.1's 1/n shape as an upper bound on the slope; see "
                        f"slope-n-large-N-derived/K{k} for the equality to the instance's exponent (exploratory).")
            if quick and len(x) < 4:
                c = not_run_in_quick(c, reason="the quick grid has fewer than 4 sizes with non-zero coverage at this N")
            elif c.verdict in ("PASS", "FAIL"):
                c = as_sanity(c, reason=f"Fixed by the instance: its derived slope is -{m} < -1.")
            out.append(c)
        # N effect: fine term 1/log N -- E Cov at N = max is below log N0/log N_max times E Cov_N0, every n
        # (N0 = the smallest threshold in the theorem's range N >= 8).
        j0 = min(j for j, N in enumerate(Ns) if N >= 8)
        need = np.log(Ns[j0]) / np.log(Ns[-1])
        _, r2 = _ladder_reps(config, records, k, "cov", j0)
        _, rmax = _ladder_reps(config, records, k, "cov", len(Ns) - 1)
        kl_reps = _ladder_reps(config, records, k, "kl")[1]
        klm = [float(kl_reps[i].mean()) for i in keep]
        cid = f"N-effect/K{k}"
        out.append(comparison_claim(
            f"{NAME}/{cid}", ref,
            f"|Π| = {2 ** k}: E Cov_N(π̂) at N = {Ns[-1]:g} is below E Cov_{Ns[j0]:g}(π̂) times the fine term's "
            f"factor log {Ns[j0]:g}/log {Ns[-1]:g} = {need:.3f}, at every n in the window; KL (N-free) is unchanged",
            [need * r2[i] for i in keep], [rmax[i] for i in keep], better="higher", paired=True,
            names=(f"{need:.3f} x Cov_{Ns[j0]:g}", f"Cov_{Ns[-1]:g}"), evaluation="monte_carlo",
            labels=[f"n={int(ns[i])}" for i in keep], conditions=_conditions(config, k, [Ns[j0], Ns[-1]]),
            exploratory=True,
            revised_from=(f"class prediction (binding), rule 'comparison, tolerance 0', verdict PASS, "
                          f"{PREVIOUS[cid]}, in the full preset; made exploratory by the rule that {SLOPE_RULE}"),
            details="Exploratory: the factor log N0/log N is the N-dependence of Theorem 4.1's fine term, an upper "
                    "bound with unstated constants; no derivation shows that this term dominates the coarse term on "
                    "the ladder, and the ladder's coverage does not track it (it falls like n^-ceil(log N/log r), "
                    "by factors of about 100 to 1000 from N = 8 to 1024, see slope-n-large-N-derived), so the "
                    "comparison holds by the instance's construction, not by the theorem. Exact coverage per "
                    f"replicate; the difference is paired by replicate. E KL per n = {np.round(klm, 5).tolist()}. "
                    "Earlier versions compared with N = 2, below the theorem's N >= 8."))
    # log|Π| dependence (exploratory: the instance family changes its ladder spacing with K).
    ks = [k for k in config.levels if k >= 6]
    if len(ks) >= 2:
        vals = []
        for k in ks:
            lo, hi = _window(config, k)
            ns, reps = _ladder_reps(config, records, k, "cov", 0)
            keep = np.flatnonzero((ns >= lo) & (ns <= hi))
            vals.append(np.mean([ns[i] * reps[i] for i in keep], axis=0))     # per replicate index
        out.append(exponent_claim(
            f"{NAME}/log-class-size", ref, "n·E Cov_2(π̂) (window average) grows at most linearly in log|Π|",
            np.array(ks) * np.log(2), vals, predicted=1.0, mode="at_most", evaluation="exact", exploratory=True,
            few_points_reason="log|Π| = K log 2 spans a factor 2 only: every K doubles the class size",
            details="Exploratory: linear growth in log|Π| is the shape of Theorem 4.1's upper bound, whose constants "
                    "are not given (a slope of an upper bound is binding only where a derivation shows the tested "
                    "term dominates and is tracked); also, the ladder's spacing changes with K, so the instances are "
                    "not one family; replicate "
                    "i of each K averages n·Cov_2 over the window (independent data sets at each n)."))
    # Remark 3.1 on the rare-prompt class: KL grows linearly in H; coverage stays below the rare mass.
    hs = np.array(config.rare_horizons, float)
    inst0 = instances.finite_rare_prompt_class(int(hs[0]), config.rare_n)
    b = inst0.params["b"]
    # Coverage saturates once P_{pi_D}[log-ratio >= log N_max | prompt 1, wrong sign] >= 0.99:
    # Z = b * (2c - H), c ~ Bin(H, sigmoid(b)).
    p1 = 1 / (1 + np.exp(-b))
    hs_sat = np.array([h for h in hs if sps.binom.sf(np.ceil((np.log(max(config.Ns)) / b + h) / 2) - 1,
                                                      int(h), p1) >= 0.99])
    if len(hs_sat) >= 2:
        c = exponent_claim(
            f"{NAME}/kl-grows-with-H", "Remark 3.1; Theorem 4.1",
            f"rare-prompt class, n = {config.rare_n}: E KL(π_D||π̂) grows linearly in H (H in {hs_sat.astype(int).tolist()})",
            hs_sat, [np.array([r["kl"] for r in _select(records, kind="rare", H=int(h))]) for h in hs_sat],
            predicted=1.0, tolerance=0.1, evaluation="exact",
            conditions=[condition("Assumption 2.1 (realizability): pi_D in Pi",
                                  f"member {inst0.params['truth_index']} is pi_D", True),
                        condition("Pi finite", f"|Pi| = {len(np.atleast_2d(inst0.model_class.theta))}", True),
                        condition("pi_hat is an MLE (ties by a fixed rule)", f"tie_break = {config.tie_break!r}", True),
                        condition("a rare prompt (Remark 3.1: heterogeneous prompts)", f"mu(rare) = {inst0.params['rho']:g}",
                                  True)],
            few_points_reason=None if len(hs_sat) >= 4 and hs_sat[-1] / hs_sat[0] >= 8 else
            "evaluated in the full preset only",
            details="Prediction, derived for the instance (binding as an exact exponent of the construction, not "
                    "read off an upper bound): KL = rho H KL(sigma(b)||sigma(-b)) on the runs that miss the rare "
                    "prompt. Window: H "
                    "where one sample of the rare prompt fixes its sign and a wrong sign is covered at every N w.p. "
                    ">= 0.99 (exact binomial); below it a seen rare prompt is still mislearned with H-dependent "
                    "probability.")
        if quick and (len(hs_sat) < 4 or hs_sat[-1] / hs_sat[0] < 8):
            c = not_run_in_quick(c, reason="the quick preset has fewer than 4 horizons in the saturation window")
        out.append(c)
    rho = inst0.params["rho"]
    cov_all = np.array([r["cov"] for r in records if r["kind"] == "rare"])
    out.append(sanity_claim(
        f"{NAME}/rare-coverage-below-mass", "Remark 3.1 (construction)",
        f"rare-prompt class, n = {config.rare_n}: Cov_N(π̂) <= µ(rare prompt) = {rho:g} at every H, N and replicate",
        float(np.maximum(cov_all - rho, 0).max()), 0.0, tolerance=1e-12,
        details="Holds by construction (members differ on the frequent prompt by less than log 2, so only the rare "
                "prompt can be under-covered); replaces the earlier slope claim 'coverage flat in H' on this instance, "
                "which had no power (interval [-0.29, 0.51] in the quick preset) and could only have confirmed the "
                f"construction. Mean coverage per H: "
                + str({int(h): round(float(np.mean([r['cov'][0] for r in _select(records, kind='rare', H=int(h))])), 6)
                       for h in hs})))
    return out


def _conditions(config, k, Ns):
    return [
        condition("Assumption 2.1 (realizability): pi_D in Pi", "member 0 is pi_D", True),
        condition("Pi finite (log N_inf(Pi, eps) <= log|Pi|)", f"|Pi| = {2 ** k}", True),
        condition("N >= 8", f"N in {list(Ns)}", min(Ns) >= 8),
        condition("pi_hat is an MLE (ties by a fixed rule)", f"tie_break = {config.tie_break!r}", True),
        condition("D i.i.d. from mu x pi_D", "sample_replicates", True),
    ]


def plot(config, records, out_dir):
    from simulations.plots import COV, save_figure

    paths = []
    rng = analysis_rng(NAME, 1)
    for k in config.levels:
        series = {}
        for j, N in enumerate(config.Ns):
            ns, reps = _ladder_reps(config, records, k, "cov", j)
            series[f"$E\\,${COV.format(N=f'{N:g}')}$(\\hat\\pi)$"] = np.array([r.mean() for r in reps])
        ns, reps = _ladder_reps(config, records, k, "kl")
        series[r"$E\,\mathrm{KL}(\pi_D\|\hat\pi)$"] = np.array([r.mean() for r in reps])
        series["$1/n$ (shape)"] = 1.0 / ns
        fig = line_plot(ns, series, xlabel="$n$", ylabel="exact coverage / KL of the MLE",
                        title=f"Finite-class MLE, $|\\Pi| = {2 ** k}$, $H = {config.horizon}$",
                        logx=True, logy=True, styles={"$1/n$ (shape)": "k--"})
        paths.append(save_figure(fig, out_dir / f"mle_finite_class_K{k}.png"))
    k = max(config.claim_levels)
    lo, hi = _window(config, k)
    ns, reps = _ladder_reps(config, records, k, "cov", 0)
    keep = (ns >= lo) & (ns <= hi)
    fit = loglog_fit(ns[keep], [reps[i] for i in np.flatnonzero(keep)], level=0.95, rng=rng, nonpositive="drop")
    m = np.array([r.mean() for r in reps])[keep]
    se = np.array([r.std(ddof=1) / np.sqrt(len(r)) for r in reps])[keep]
    fig = rate_plot(ns[keep], m, m - 2 * se, m + 2 * se, fit, -1.0, xlabel="$n$",
                    ylabel=f"$E\\,${COV.format(N='2')}$(\\hat\\pi)$", title=f"Theorem 4.1: $|\\Pi| = {2 ** k}$")
    paths.append(save_figure(fig, out_dir / "mle_finite_class_rate.png"))
    hs = np.array(config.rare_horizons, float)
    series = {r"$E\,\mathrm{KL}(\pi_D\|\hat\pi)$": np.array(
        [np.mean([r["kl"] for r in _select(records, kind="rare", H=int(h))]) for h in hs])}
    for j, N in enumerate(config.Ns):
        series[f"$E\\,${COV.format(N=f'{N:g}')}$(\\hat\\pi)$"] = np.array(
            [np.mean([r["cov"][j] for r in _select(records, kind="rare", H=int(h))]) for h in hs])
    fig = line_plot(hs, series, xlabel="$H$", ylabel="exact value", logx=True, logy=True,
                    title=f"Rare prompt, $n = {config.rare_n}$: KL vs coverage")
    paths.append(save_figure(fig, out_dir / "mle_finite_class_H.png"))
    return paths
