r"""Prop. G.1 / 4.1: both terms of Theorem 4.1 are tight for the MLE.

* (a) coarse term, :func:`theory.instances.prop_g1a`: box-constrained MLE
  (:func:`simulations.learners.mle.convex_mle`); claim: with probability >= 1/2,
  :math:`\mathrm{Cov}_N(\hat\pi) \ge c\,d/n` for all :math:`N \le e^B` -- tested as the shape
  of the median over replicates of :math:`\min_{N\le e^B}\mathrm{Cov}_N(\hat\pi)`: slope
  ``-1`` in ``n`` and ``+1`` in ``d``.  :math:`B = \log(5n)` and :math:`\theta_\star` depend on
  ``n``, so the slope in ``n`` compares different classes, one per ``n`` (each meets the
  hypotheses): it checks the construction's exponent, not one learner's rate on one class.
* (b) fine term, :func:`theory.instances.prop_g1b` (**[derived]** construction,
  :math:`|\Pi| = 2^d + 1`): with probability >= 0.1 the MLE is a hypercube member, whose
  coverage is :math:`p/2 = c_0^3d/(2n\log N)` (checked exactly against enumeration); the
  probability is tested by an exact binomial test in every ``(n, d, N)`` cell.

Exact evaluation throughout (enumeration of ``d`` categories / ``2(d+1)`` points).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.experiments.contract import Task
from simulations.claims import condition, exponent_claim, not_run_in_quick, probability_claim, sanity_claim
from simulations.learners.mle import convex_mle, finite_class_mle, replicate_token_counts, sample_replicates
from simulations.plots import line_plot
from theory import instances
from theory.log_ratio import exact_log_ratio

NAME = "prop-g1"
PAPER_REF = "Prop. G.1 (ICLR) / Prop. 4.1 (arXiv)"
TITLE = "Tightness of Theorem 4.1 for the MLE: coarse c·d/n and fine c·d/(n log N) lower bounds"
TOPIC = "generalization of maximum likelihood"


@dataclass(frozen=True)
class Config:
    a_ns: tuple = (32, 64, 128, 256, 512, 1024, 2048)
    a_ds: tuple = (2, 4, 8, 16, 32)
    b_ns: tuple = (64, 128, 256, 512, 1024, 2048)
    b_ds: tuple = (2, 4, 8, 12)
    b_Ns: tuple = (4.0, 64.0, 1024.0)
    replicates: int = 1000
    #: Part (b) trials per cell: the probability claim (p0 = 0.1, margin 0.05, exact binomial test at
    #: level 1e-3 / cells) needs about 30 p0 (1 - p0) / margin^2 ~ 1100 to 1600 for a false-fail rate <= 0.01.
    b_replicates: int = 2000
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(a_ns=(32, 64, 128, 512), a_ds=(4, 16), b_ns=(64, 1024), b_ds=(4,), b_Ns=(64.0,), replicates=100,
                   b_replicates=1500, preset="quick")

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    out = [Task(i, 0, {"part": "a", "n": n, "d": d}) for i, (n, d) in
           enumerate((n, d) for n in config.a_ns for d in config.a_ds)]
    base = len(out)
    cells = [(n, d, N) for n in config.b_ns for d in config.b_ds for N in config.b_Ns]
    out += [Task(base + i, 0, {"part": "b", "n": n, "d": d, "N": N}) for i, (n, d, N) in enumerate(cells)]
    return out


def run_task(config, task, *, rng):
    p = task.params
    r = config.replicates
    if p["part"] == "a":
        inst = instances.prop_g1a(p["n"], p["d"])
        x, y = sample_replicates(inst.data, p["n"], r, rng=rng)
        res = convex_mle(inst.data.features, replicate_token_counts(inst.data, x, y), constraint="box",
                         low=-1.0, high=1.0, tol=1e-8)
        Ns = np.geomspace(2.0, np.exp(inst.params["B"]), 8)
        law = exact_log_ratio(inst.data, inst.model_class.replace(theta=res.theta))
        cov_min = law.coverage(Ns).min(axis=-1)
        return [{"part": "a", "n": p["n"], "d": p["d"], "cov_min": float(cov_min[i]),
                 "residual": float(res.residual[i])} for i in range(r)]
    r = config.b_replicates
    inst = instances.prop_g1b(p["n"], p["d"], p["N"])
    x, y = sample_replicates(inst.data, p["n"], r, rng=rng)
    res = finite_class_mle(inst.model_class, x, y, tie_break="first")
    cov = exact_log_ratio(inst.data, inst.model_class).coverage(p["N"])     # (P,)
    # Exact coverage of every hypercube member against its closed form p/2 (sanity).
    dev = float(np.abs(cov[1:] - inst.params["p"] / 2).max()) if cov.size > 1 else 0.0
    return [{"part": "b", "n": p["n"], "d": p["d"], "N": p["N"], "index": int(res.index[i]),
             "cov": float(cov[res.index[i]]), "member_dev": dev} for i in range(r)]


def _get(records, key, **kw):
    return np.array([r[key] for r in records if all(r.get(k) == v for k, v in kw.items())])


def _conditions_a(config):
    return [
        condition("n >= d >= 2 (arXiv; ICLR: n, d >= 1)", f"n in {list(config.a_ns)}, d in {list(config.a_ds)}",
                  min(config.a_ns) >= max(config.a_ds) and min(config.a_ds) >= 2),
        condition("B >= log(5n)", "B = log(5n) (the construction's default)", True),
        condition("Theta = {||theta||_inf <= 1}, phi(y) = B e_y", "box [-1, 1]", True),
        condition("N <= e^B", "N on a geometric grid in [2, e^B]", True),
    ]


def _conditions_b(config):
    return [
        condition("d >= 1, n >= 2d, N >= 2 (arXiv; ICLR: n >= d >= 1, N >= 1)",
                  f"n in {list(config.b_ns)}, d in {list(config.b_ds)}, N in {list(config.b_Ns)}",
                  min(config.b_ns) >= 2 * max(config.b_ds) and min(config.b_Ns) >= 2),
        condition("|Pi| = 2^d + 1, realizable", "member 0 is pi_D (derived construction)", True),
    ]


def claims(config, records):
    out = []
    quick = config.preset == "quick"
    # (a) median of min_N Cov_N: slope -1 in n (largest d) and +1 in d (largest n).
    d0 = max(config.a_ds)
    out.append(exponent_claim(
        f"{NAME}/a-slope-n", "Prop. G.1(a) / 4.1(a)",
        f"d = {d0}: median over replicates of min_(N <= e^B) Cov_N(π̂) scales like d/n (slope -1 in n)",
        np.array(config.a_ns, float), [_get(records, "cov_min", part="a", n=n, d=d0) for n in config.a_ns],
        predicted=-1.0, tolerance=0.1, evaluation="exact", statistic="quantile", q=0.5,
        conditions=_conditions_a(config),
        details="'w.p. >= 1/2' statement -> median. The construction changes with n: B = log(5n) and θ⋆ = "
                "(log(4n)/(2B))(e_1 - Σ_(j>=2) e_j) depend on n, so each n is a different class (allowed: the "
                "proposition is a statement per n, and each class meets its hypotheses); the slope is across these "
                "classes, an exponent of the construction (its rare masses are proportional to 1/n) rather than of "
                "one learner on one class, and it is binding as an equality to that derived exponent. "
                "Finite-size prediction for this instance (computed): each of the "
                "d - 1 rare responses has mass 1/(4n + d - 1) and is unseen w.p. about exp(-n/(4n + d - 1)), so the "
                f"coverage of the unseen ones has slope about -0.96 in n over this grid at d = {d0} (inside the "
                "tolerance 0.1); earlier versions used tolerance 0.15."))
    n0 = max(config.a_ns)
    c = exponent_claim(
        f"{NAME}/a-slope-d", "Prop. G.1(a) / 4.1(a)",
        f"n = {n0}: median of min_(N <= e^B) Cov_N(π̂) grows like d - 1, the number of rare responses "
        "(slope +1 in d - 1; d - 1 is within a factor 2 of d for d >= 2)",
        np.array(config.a_ds, float) - 1, [_get(records, "cov_min", part="a", n=n0, d=d) for d in config.a_ds],
        predicted=1.0, tolerance=0.1, evaluation="exact", statistic="quantile", q=0.5,
        conditions=_conditions_a(config),
        few_points_reason=None if len(config.a_ds) >= 4 and (max(config.a_ds) - 1) / (min(config.a_ds) - 1) >= 8
        else "evaluated in the full preset only",
        details="Exponent of the construction (binding as an equality to it): at fixed n = " + f"{n0}" + " the class "
                "(B = log(5n)) is the same for every d up to its dimension. The construction's coverage is carried "
                "by its d - 1 rare responses (mass 1/(4n + d - 1) each), so "
                "the c d/n shape of the proposition is (d - 1)/n here. Earlier versions fitted against d with "
                "tolerance 0.15 and measured 1.17 [1.13, 1.22] in the full preset, the slope of (d - 1) against d "
                "over d = 2..32 being 1.24.")
    if quick and (len(config.a_ds) < 4 or (max(config.a_ds) - 1) / (min(config.a_ds) - 1) < 8):
        c = not_run_in_quick(c, reason="the quick preset has fewer than 4 dimensions spanning 8x")
    out.append(c)
    res = [r["residual"] for r in records if r["part"] == "a"]
    out.append(sanity_claim(f"{NAME}/a-mle-optimality", "Prop. G.1(a) / 4.1(a)",
                            "the projected-Newton box MLE is a maximiser: first-order residual <= 1e-8 on every replicate",
                            max(res), 0.0, tolerance=1e-8, details=f"{len(res)} replicates."))
    # (b) probability of a hypercube member, every cell.
    succ, trials, labels = [], [], []
    for n in config.b_ns:
        for d in config.b_ds:
            for N in config.b_Ns:
                idx = _get(records, "index", part="b", n=n, d=d, N=N)
                succ.append(int((idx != 0).sum()))
                trials.append(len(idx))
                labels.append(f"n={n},d={d},N={N:g}")
    out.append(probability_claim(
        f"{NAME}/b-probability", "Prop. G.1(b) / 4.1(b)",
        "P[Cov_N(π̂) >= c0^3 d/(2 n log N)] >= 0.1 (the MLE picks a hypercube member) in every cell",
        np.array(succ), np.array(trials), p0=0.1, margin=0.05, evaluation="exact", labels=labels,
        conditions=_conditions_b(config), details="Ties go to the truth (member 0): conservative."))
    # The coverage of a hypercube member is c0^3 d / (2 n log N) by construction (closed form vs exact).
    dev = max(r["member_dev"] for r in records if r["part"] == "b")
    out.append(sanity_claim(
        f"{NAME}/b-member-coverage", "Prop. G.1(b) / 4.1(b)",
        "every hypercube member has Cov_N = p/2 = c0^3 d/(2 n log N) exactly (enumeration vs closed form), every cell",
        dev, 0.0, tolerance=1e-12,
        details="Replaces the earlier slope claim on the 0.9-quantile of Cov_N(π̂) in n: whenever the MLE picks a "
                "hypercube member with probability >= 0.1 that quantile is p/2 exactly, so its slope is -1 by "
                "construction; the prediction of Prop. G.1(b) is the probability claim."))
    return out


def plot(config, records, out_dir):
    from simulations.plots import COV, save_figure

    paths = []
    ns = np.array(config.a_ns, float)
    series = {f"$d = {d}$": np.array([np.median(_get(records, "cov_min", part="a", n=n, d=d)) * n / d
                                      for n in config.a_ns]) for d in config.a_ds}
    fig = line_plot(ns, series, xlabel="$n$", ylabel=f"median $\\mathrm{{min}}_N$ {COV.format(N='N')}$(\\hat\\pi)\\cdot n/d$",
                    logx=True, title=r"Prop. G.1(a): the coarse term $c\,d/n$ is attained")
    paths.append(save_figure(fig, out_dir / "prop_g1a.png"))
    ns = np.array(config.b_ns, float)
    series = {f"$d = {d}$, $N = {N:g}$": np.array([np.mean(_get(records, "index", part="b", n=n, d=d, N=N) != 0)
                                                   for n in config.b_ns]) for d in config.b_ds for N in config.b_Ns}
    fig = line_plot(ns, series, xlabel="$n$", ylabel=r"$P[\hat\pi$ is a hypercube member$]$", logx=True,
                    lower={r"at least 0.1 (Prop. G.1(b))": np.full(len(ns), 0.1)},
                    title=r"Prop. G.1(b): the fine term $c\,d/(n \log N)$ is attained")
    paths.append(save_figure(fig, out_dir / "prop_g1b.png"))
    return paths
