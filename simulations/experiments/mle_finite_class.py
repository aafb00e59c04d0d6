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
from simulations.claims import (comparison_claim, condition, exponent_claim, not_run_in_quick,
                                sanity_claim)
from simulations.learners.mle import finite_class_mle, sample_replicates
from simulations.plots import line_plot, rate_plot
from simulations.stats import loglog_fit
from theory import instances
from theory.instances.mle import finite_ladder_exact, grouped_exact_law

NAME = "mle-finite-class"
PAPER_REF = "Theorem 4.1, Corollary 4.1 (both numberings); Remark 3.1"
TITLE = "Finite-class MLE: coverage ~ log|Π|/n, sharper for larger N; KL grows with H on missing mass"
TOPIC = "generalization of maximum likelihood"


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
                details="Tolerance 0.1: log-periodic modulation of a geometric ladder (the Good-Turing proxy "
                        "sum_k Hq_k exp(-nHq_k) has slope within 0.01 of -1 on this window). The N = 2 series of "
                        "earlier versions is not a claim: Theorem 4.1 needs N >= 8.")
            if quick and stat == "quantile":
                c = not_run_in_quick(c, reason="the 0.9-quantile of a discrete coverage law is resolved to 0.25 in "
                                               "slope only with the full grid (9 sizes x 1000 replicates); the quick "
                                               "grid has 4 x 400")
            out.append(c)
        # Larger N: at least as fast (Theorem 4.1 is an upper bound; the instance predicts
        # slope -ceil(log N / log r) because several unseen rare tokens are needed).
        big = {}
        for j, N in enumerate(Ns):
            if max(8.0, config.ratio) < N <= config.ratio ** 2:
                reps = [_ladder_reps(config, records, k, "cov", j)[1][i] for i in keep]
                ok = [i for i, v in enumerate(reps) if _enough(v)]
                if len(ok) >= 3:
                    big[f"N={N:g}"] = (ns[keep][ok], [reps[i] for i in ok])
        for lab, (x, reps) in big.items():
            c = exponent_claim(
                f"{NAME}/slope-n-large-N/K{k}", ref,
                f"|Π| = {2 ** k}, {lab}: the mean Cov_N(π̂) decays at least like 1/n (n in {x.astype(int).tolist()})",
                x, reps, predicted=-1.0, mode="at_most", evaluation="exact", conditions=_conditions(config, k, [N]),
                few_points_reason=None if len(x) >= 4 and x.max() / x.min() >= 8 else
                "points with fewer than 10 non-zero replicates are dropped (rule fixed before the run)",
                details=f"Derived expectation for this instance: slope -ceil(log N/log {config.ratio:g}) (that many "
                        "unseen rare tokens must occur in one sequence). A point enters iff >= 10 replicates are "
                        "non-zero.")
            if quick and len(x) < 4:
                c = not_run_in_quick(c, reason="the quick grid has fewer than 4 sizes with non-zero coverage at this N")
            out.append(c)
        # N effect: fine term 1/log N -- E Cov at N = max is below log N0/log N_max times E Cov_N0, every n
        # (N0 = the smallest threshold in the theorem's range N >= 8).
        j0 = min(j for j, N in enumerate(Ns) if N >= 8)
        need = np.log(Ns[j0]) / np.log(Ns[-1])
        _, r2 = _ladder_reps(config, records, k, "cov", j0)
        _, rmax = _ladder_reps(config, records, k, "cov", len(Ns) - 1)
        kl_reps = _ladder_reps(config, records, k, "kl")[1]
        klm = [float(kl_reps[i].mean()) for i in keep]
        out.append(comparison_claim(
            f"{NAME}/N-effect/K{k}", ref,
            f"|Π| = {2 ** k}: E Cov_N(π̂) at N = {Ns[-1]:g} is below E Cov_{Ns[j0]:g}(π̂) times the fine term's "
            f"factor log {Ns[j0]:g}/log {Ns[-1]:g} = {need:.3f}, at every n in the window; KL (N-free) is unchanged",
            [need * r2[i] for i in keep], [rmax[i] for i in keep], better="higher", paired=True,
            names=(f"{need:.3f} x Cov_{Ns[j0]:g}", f"Cov_{Ns[-1]:g}"), evaluation="monte_carlo",
            labels=[f"n={int(ns[i])}" for i in keep], conditions=_conditions(config, k, [Ns[j0], Ns[-1]]),
            details=f"Exact coverage per replicate; the difference is paired by replicate. E KL per n = "
                    f"{np.round(klm, 5).tolist()}. Earlier versions compared with N = 2, below the theorem's N >= 8."))
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
            details="Exploratory: the ladder's spacing changes with K, so the instances are not one family; replicate "
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
            details="Prediction: KL = rho H KL(sigma(b)||sigma(-b)) on the runs that miss the rare prompt. Window: H "
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
