r"""Prop. G.2 / E.2: under misspecification the MLE returns the badly-covering π2 w.p. >= 1/4.

Instance :func:`theory.instances.prop_g2_misspecified` (``Π = {π1, π2}``, π1 within α of
π_D everywhere so Cov_N(π1) = 0 for N > e^α; π2 exact on the frequent prompt and off by M on
the rare one).  The MLE is :func:`simulations.learners.mle.finite_class_mle` with ties to π1
(``tie_break="first"``: conservative for the claim).  Coverage values are exact
(enumeration); the probability of returning π2 gets an exact binomial interval over
replicates, for every ``n`` (the statement is "for any n").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.claims import condition, probability_claim, sanity_claim
from simulations.experiments.contract import Task
from simulations.learners.mle import finite_class_mle, sample_replicates
from simulations.plots import line_plot
from theory import instances
from theory.log_ratio import exact_log_ratio

NAME = "prop-g2"
PAPER_REF = "Prop. G.2 (ICLR) / Prop. E.2 (arXiv)"
TITLE = "Misspecification: the MLE returns π2 (Cov_N >= c α²/log M) w.p. >= 1/4 though Cov_N(π1) = 0"
TOPIC = "generalization of maximum likelihood"


@dataclass(frozen=True)
class Config:
    alphas: tuple = (0.25, 0.5, 1.0)
    Ms: tuple = (8.0, 64.0, 1024.0)
    ns: tuple = (1, 10, 100, 1000, 10000)
    replicates: int = 2000

    @classmethod
    def quick(cls):
        return cls(alphas=(0.5, 1.0), Ms=(16.0, 256.0), ns=(10, 100, 1000), replicates=1000)

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    cells = [(a, M, n) for a in config.alphas for M in config.Ms for n in config.ns]
    return [Task(i, 0, {"alpha": a, "M": M, "n": n}) for i, (a, M, n) in enumerate(cells)]


def run_task(config, task, *, rng):
    p = task.params
    inst = instances.prop_g2_misspecified(p["alpha"], p["M"])
    x, y = sample_replicates(inst.data, p["n"], config.replicates, rng=rng)
    res = finite_class_mle(inst.model_class, x, y, tie_break="first")
    return [{"alpha": p["alpha"], "M": p["M"], "n": p["n"], "picked_pi2": int(res.index.sum()),
             "replicates": config.replicates}]


def _thresholds(alpha, M):
    """N strictly between e^alpha and M (where the statement bites), on a log grid."""
    return np.geomspace(np.exp(alpha) * 1.01, M * 0.99, 4)


def claims(config, records):
    out = []
    ref = PAPER_REF
    k = np.array([r["picked_pi2"] for r in records])
    t = np.array([r["replicates"] for r in records])
    labels = [f"a={r['alpha']},M={r['M']:g},n={r['n']}" for r in records]
    conds = [condition("alpha in [0, 1], M > e^alpha", f"alpha in {list(config.alphas)}, M in {list(config.Ms)}",
                       max(config.alphas) <= 1 and min(config.Ms) > np.exp(max(config.alphas))),
             condition("for any n", f"n in {list(config.ns)}", True),
             condition("pi_hat is an MLE over Pi = {pi_1, pi_2}", "ties go to pi_1 (conservative)", True)]
    out.append(probability_claim(f"{NAME}/returns-pi2", ref, "P[MLE = π2] >= 1/4 in every (α, M, n) cell", k, t,
                                 p0=0.25, margin=0.09, evaluation="exact", labels=labels, conditions=conds,
                                 details="Ties go to π1."))
    # Exact coverage of the two members (closed form of the construction, checked by enumeration).
    vals, dev = [], 0.0
    for a in config.alphas:
        for M in config.Ms:
            inst = instances.prop_g2_misspecified(a, M)
            N = _thresholds(a, M)
            cov = exact_log_ratio(inst.data, inst.model_class).coverage(N)     # (2, len N)
            vals.append(float((cov[1] * np.log(M) / a ** 2).min()))
            dev = max(dev, float(np.abs(cov[0]).max()), float(np.abs(cov[1] - inst.params["p"] / 2).max()))
    out.append(sanity_claim(
        f"{NAME}/coverage-gap", ref,
        "Cov_N(π1) = 0 and Cov_N(π2) = p/2 = α²/(64 log M) for e^α < N < M, every (α, M) (enumeration vs closed form)",
        dev, 0.0, tolerance=1e-12,
        details=f"Cov_N(π2)·log M/α² = {np.round(vals, 6).tolist()} (= 1/64, the construction's c). Holds by "
                "construction: the prediction of Prop. G.2 is the probability claim."))
    return out


def plot(config, records, out_dir):
    from simulations.plots import save_figure

    ns = np.array(config.ns, float)
    series = {}
    for a in config.alphas:
        for M in config.Ms:
            rs = {r["n"]: r["picked_pi2"] / r["replicates"] for r in records if r["alpha"] == a and r["M"] == M}
            series[f"$\\alpha = {a}$, $M = {M:g}$"] = np.array([rs[n] for n in config.ns])
    fig = line_plot(ns, series, xlabel="$n$", ylabel=r"$P[\hat\pi = \pi_2]$", logx=True,
                    lower={"at least 1/4 (Prop. G.2)": np.full(len(ns), 0.25)},
                    title=r"Prop. G.2: the misspecified MLE picks $\pi_2$")
    return [save_figure(fig, out_dir / "prop_g2.png")]
