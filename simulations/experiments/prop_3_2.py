r"""Prop. 3.2: the (proper) MLE's KL grows like H/n while its coverage stays O(1/n) and flat in H.

Instance :func:`theory.instances.prop_3_2_kl_lower_bound` (d = 1, Θ = [-1, 1],
:math:`\theta_\star = 1`), MLE by :func:`simulations.learners.mle.convex_mle` (box, started at
0: when the rare prompt is unseen every θ is a maximiser and the solver returns the
minimum-norm one, θ̂ = 0).  KL and coverage are exact (binomial count law, any ``H``).

Two values of the rare prompt's mass: ``1/(2n)`` as transcribed in the reference notes, and
``1/n``.  Analytic note (made before running): with θ̂ = 0 on the unseen prompt the KL is
:math:`H\mu(1)\,\mathrm{KL}(\sigma(2)\|1/2) = 0.328\,H\mu(1)`, i.e. ``0.164 H/n`` for
:math:`\mu(1) = 1/(2n)`, below the stated ``H/(4n)``; with :math:`\mu(1) = 1/n` it is
``0.328 H/n >= H/(4n)`` on an event of probability :math:`\approx e^{-1} \ge 1/4`.  The
transcribed-constant claim is therefore exploratory.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats as sps

from simulations.experiment import Task, analysis_rng
from simulations.experiments._mle_common import optimality_claim, probability_claim, slope_claim
from simulations.learners.mle import convex_mle, replicate_token_counts, sample_replicates
from simulations.plots import line_plot
from theory import instances
from theory.instances.mle import grouped_exact_law

NAME = "prop-3-2"
PAPER_REF = "Prop. 3.2 (both numberings), App. I"
TITLE = "Prop. 3.2: KL of the proper MLE >= H/(4n) w.p. >= 1/4, coverage O(1/n) and flat in H"
TOPIC = "generalization of maximum likelihood"


@dataclass(frozen=True)
class Config:
    ns: tuple = (16, 64)
    horizons: tuple = (64, 256)
    masses: tuple = ("1/(2n)", "1/n")
    Ns: tuple = (2.0, 8.0, 64.0, 1024.0)
    replicates: int = 400
    power_binding: bool = False

    @classmethod
    def quick(cls):
        return cls()

    @classmethod
    def full(cls):
        return cls(ns=(16, 64, 256), horizons=(4, 16, 64, 256, 1024), replicates=1000, power_binding=True)


def _mass(label, n):
    return 1.0 / (2 * n) if label == "1/(2n)" else 1.0 / n


def tasks(config):
    cells = [(m, n, h) for m in config.masses for n in config.ns for h in config.horizons]
    return [Task(i, 0, {"mass": m, "n": n, "H": h}) for i, (m, n, h) in enumerate(cells)]


@lru_cache(maxsize=64)
def _instance(n, h, mass):
    return instances.prop_3_2_kl_lower_bound(n, h, 1.0, rare_mass=_mass(mass, n))


def run_task(config, task, *, rng):
    p = task.params
    inst = _instance(p["n"], p["H"], p["mass"])
    x, y = sample_replicates(inst.data, p["n"], config.replicates, rng=rng)
    counts = replicate_token_counts(inst.data, x, y)
    res = convex_mle(inst.data.features, counts, constraint="box", low=-1.0, high=1.0, tol=1e-8)
    law = grouped_exact_law(inst, res.theta)
    cov = law.coverage(np.array(config.Ns))
    kl = law.kl()
    seen = (x == 1).any(axis=1)
    return [{"mass": p["mass"], "n": p["n"], "H": p["H"], "theta": float(res.theta[i, 0]), "kl": float(kl[i]),
             "cov": cov[i].tolist(), "seen": bool(seen[i]), "residual": float(res.residual[i])}
            for i in range(config.replicates)]


def _get(records, mass, n, h, key, j=None):
    rs = [r for r in records if r["mass"] == mass and r["n"] == n and r["H"] == h]
    return np.array([r[key][j] if j is not None else r[key] for r in rs])


def _saturated(h, N):
    """P[log-ratio >= log N | prompt 1, theta_hat = 0] >= 0.99 (exact binomial, theta_star = 1)."""
    a, b = np.log(2 / (1 + np.exp(-2.0))), np.log(2 / (1 + np.exp(2.0)))      # per-token log-ratios
    c = np.arange(h + 1)
    ok = c * a + (h - c) * b >= np.log(N)
    return sps.binom.pmf(c, h, 1 / (1 + np.exp(-2.0)))[ok].sum() >= 0.99


def claims(config, records):
    rng = analysis_rng(NAME)
    out = []
    ref = "Prop. 3.2 (both numberings)"
    for mass in config.masses:
        succ, trials, labels = [], [], []
        for n in config.ns:
            for h in config.horizons:
                kl = _get(records, mass, n, h, "kl")
                succ.append(int((kl >= h / (4 * n)).sum()))
                trials.append(len(kl))
                labels.append(f"n={n},H={h}")
        out.append(probability_claim(
            f"{NAME}/kl-lower-bound/mu={mass}", ref,
            f"mu(1) = {mass}: P[KL(π_D||π̂) >= H/(4n)] >= 1/4 for the min-norm MLE, every (n, H) in {labels}",
            succ, trials, 0.25, evaluation="exact", exploratory=(mass == "1/(2n)"),
            extra=("Exploratory: with the transcribed mass the min-norm MLE's KL on the unseen-prompt event is "
                   "0.164 H/n < H/(4n) (analytic, see module docstring)." if mass == "1/(2n)" else
                   "KL exact (binomial count law).")))
    out.append(optimality_claim(f"{NAME}/mle-optimality", ref, [r["residual"] for r in records], 1e-8,
                                solver="projected-Newton box MLE"))
    mass = "1/n"
    # KL linear in H, coverage flat in H (window: saturation of the unseen-prompt log-ratio at the largest N).
    hs = np.array([h for h in config.horizons if _saturated(h, max(config.Ns))], float)
    for n in config.ns:
        if len(hs) >= 2:
            c, pw = slope_claim(f"{NAME}/kl-linear-in-H/n={n}", ref, f"n = {n}: E KL grows linearly in H (H >= {hs[0]:g})",
                                hs, [[_get(records, mass, n, int(h), "kl") for h in hs]], 1.0, 0.1, rng=rng,
                                evaluation="exact", labels=["KL"], power_binding=config.power_binding,
                                extra="Window: H where the unseen-prompt log-ratio exceeds log max(N) w.p. >= 0.99.")
            out += [c, pw]
            c, pw = slope_claim(f"{NAME}/coverage-flat-in-H/n={n}", ref,
                                f"n = {n}: E Cov_N(π̂) flat in H (H >= {hs[0]:g})", hs,
                                [[_get(records, mass, n, int(h), "cov", j) for h in hs] for j in range(len(config.Ns))],
                                0.0, 0.1, rng=rng, evaluation="exact", labels=[f"N={N:g}" for N in config.Ns],
                                power_binding=config.power_binding, extra="Same window as the KL claim.")
            out += [c, pw]
    if len(config.ns) >= 2:
        h = int(max(config.horizons))
        c, pw = slope_claim(f"{NAME}/coverage-1/n/H={h}", ref, f"H = {h}: E Cov_N(π̂) = O(1/n): slope -1 in n",
                            np.array(config.ns, float),
                            [[_get(records, mass, n, h, "cov", j) for n in config.ns] for j in range(len(config.Ns))],
                            -1.0, 0.1, rng=rng, evaluation="exact", labels=[f"N={N:g}" for N in config.Ns],
                            power_binding=config.power_binding)
        out += [c, pw]
    return out


def plot(config, records, out_dir):
    paths = []
    hs = np.array(config.horizons, float)
    for mass in config.masses:
        series = {}
        for n in config.ns:
            series[f"n·E KL, n={n}"] = np.array([n * _get(records, mass, n, int(h), "kl").mean() for h in hs])
            series[f"n·E Cov_8, n={n}"] = np.array([n * _get(records, mass, n, int(h), "cov", 1).mean() for h in hs])
        series["H/4 (Prop. 3.2 bound)"] = hs / 4
        paths.append(line_plot(hs, series, xlabel="H", ylabel="n x exact value", logx=True, logy=True,
                               title=f"Prop. 3.2, mu(1) = {mass}: KL vs coverage",
                               path=out_dir / f"prop_3_2_{'half' if mass == '1/(2n)' else 'one'}.png"))
    return paths
