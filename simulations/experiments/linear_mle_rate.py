r"""Theorem 4.2 / Corollary 4.2: coverage of the autoregressive linear MLE is governed by σ²⋆, not H.

Instances :func:`theory.instances.linear_pivotal_family` (``K`` prompts on a geometric mass
ladder, ``d = 2K``, Θ = B_2(1)): the *fixed* family (``m = 4`` pivotal tokens, the other
``H - m`` near-deterministic, σ²⋆ essentially constant in ``H``) and the *dense* family
(every token pivotal, σ²⋆ ≍ H).  MLE by :func:`simulations.learners.mle.convex_mle`
(ball, min-norm start); coverage and KL exact (two-group count law).

Claims.  Theorem 4.2 is an **upper bound**, :math:`\sqrt{\sigma_\star^2/(n\log N)} + B^2/n`:
binding claims test that the coverage decays at least like :math:`n^{-1/2}`, is flat in
``H`` when σ²⋆ is fixed, and that KL of the same runs grows with ``H``.  Whether the
:math:`n^{-1/2}` and :math:`(\log N)^{-1/2}` shapes are *attained* is not a theorem of the
paper; those claims are exploratory from the start.

Replicate design (full preset).  A task is one block of ``replicates`` replicates; fixed-family
cells at the sample sizes listed in ``Config.blocks`` run several blocks (task ``rep`` =
0, 1, ...; block 0 is the original task, so its seed ``(cell, 0)`` and its data are unchanged).
At ``n = 2048`` the coverage is ~3e-4 to 6e-4 with coefficient of variation 1.1-1.7 across
replicates (25% of replicates have zero coverage), so 300 replicates per ``H`` could not resolve
an exponent error of 0.25 in ``no-growth-in-H`` (the first full run failed that binding power
check at ``N = 1024``).  The counts below come from a power analysis made *after* that run, on
its replicates (resampling ``R`` replicates per cell from the measured 300 and rerunning the
claim's pipeline; normal approximation: the power check rejects iff the lower half-width of the
Bonferroni interval, ``z_{1-1e-3/8} SE(slope) = 3.66 SE``, is below ``0.25 - 0.1``): smallest
multiple of 300 whose resampled rejection rate is >= 0.99.  ``n = 2048``: ``N = 1024`` 0/100 at
300, 89/100 at 600, 100/100 at 900 replicates (``N = 64``: 60/100 at 300, 100/100 at 600);
``n = 1024, N = 1024``: 98/100 at 300, 100/100 at 600; ``n = 512, N = 1024``: 100/100 at 300,
and every other (n, N) of the claim has ``3.66 SE <= 0.105`` at 300 (normal approximation).
Seeds, thresholds, fitting windows and rules are those of the first run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulations.experiment import Claim, Task, analysis_rng
from simulations.experiments._mle_common import optimality_claim, fit_slope, slope_claim
from simulations.learners.mle import convex_mle, replicate_token_counts, sample_replicates
from simulations.plots import line_plot
from theory import instances
from theory.instances.mle import grouped_exact_law

NAME = "linear-mle-rate"
PAPER_REF = "Theorem 4.2, Corollary 4.2 (arXiv)"
TITLE = "Linear MLE: coverage decays at least like sqrt(σ²⋆/(n log N)), flat in H at fixed σ²⋆; KL grows with H"
TOPIC = "generalization of maximum likelihood"


@dataclass(frozen=True)
class Config:
    ns: tuple = (16, 128, 1024)
    horizons: tuple = (32, 128)
    families: tuple = ("fixed",)
    n_prompts: int = 10
    pivotal: int = 4
    Ns: tuple = (2.0, 8.0, 64.0, 1024.0)
    replicates: int = 100
    power_binding: bool = False
    #: ``((n, b), ...)``: fixed-family cells at sample size ``n`` run ``b`` blocks of ``replicates``.
    blocks: tuple = ()

    @classmethod
    def quick(cls):
        return cls()

    @classmethod
    def full(cls):
        return cls(ns=(16, 32, 64, 128, 256, 512, 1024, 2048), horizons=(8, 16, 32, 64, 128, 256),
                   families=("fixed", "dense"), replicates=300, power_binding=True,
                   blocks=((1024, 2), (2048, 3)))


def _blocks(config, family, n):
    """Number of replicate blocks (tasks) of a cell."""
    return dict(config.blocks).get(n, 1) if family == "fixed" else 1


def tasks(config):
    cells = [(f, n, h) for f in config.families for n in config.ns for h in config.horizons]
    return [Task(i, b, {"family": f, "n": n, "H": h}) for i, (f, n, h) in enumerate(cells)
            for b in range(_blocks(config, f, n))]


@lru_cache(maxsize=64)
def _instance(family, h, k, m, hmax):
    return instances.linear_pivotal_family(h, n_prompts=k, pivotal=m if family == "fixed" else None,
                                           horizon_max=hmax)


def run_task(config, task, *, rng):
    p = task.params
    inst = _instance(p["family"], p["H"], config.n_prompts, config.pivotal, max(config.horizons))
    x, y = sample_replicates(inst.data, p["n"], config.replicates, rng=rng)
    res = convex_mle(inst.data.features, replicate_token_counts(inst.data, x, y), constraint="ball", radius=1.0,
                     tol=1e-8, max_iter=100, inner=100)
    law = grouped_exact_law(inst, res.theta)
    cov, kl = law.coverage(np.array(config.Ns)), law.kl()
    s2 = float(inst.data.sigma_star_sq())
    return [{"family": p["family"], "n": p["n"], "H": p["H"], "cov": cov[i].tolist(), "kl": float(kl[i]),
             "residual": float(res.residual[i]), "sigma2": s2, "B": inst.params["B"]}
            for i in range(config.replicates)]


def _get(records, family, n, h, key, j=None):
    rs = [r for r in records if r["family"] == family and r["n"] == n and r["H"] == h]
    return np.array([r[key][j] if j is not None else r[key] for r in rs])


def claims(config, records):
    rng = analysis_rng(NAME)
    out = []
    ref = "Theorem 4.2 (Eq. (7) ICLR / (9) arXiv)"
    ns = np.array(config.ns, float)
    fam = "fixed"
    hmax = max(config.horizons)
    sets = [[_get(records, fam, n, hmax, "cov", j) for n in config.ns] for j in range(len(config.Ns))]
    labels = [f"N={N:g}" for N in config.Ns]
    usable = [i for i, s in enumerate(sets) if sum(np.mean(v) > 0 for v in s) >= 2]
    c, pw = slope_claim(f"{NAME}/decay-at-least-sqrt", ref,
                        f"fixed σ²⋆, H = {hmax}: E Cov_N(π̂) decays at least like n^(-1/2)", ns,
                        [sets[i] for i in usable], -0.5, 0.0, rng=rng, evaluation="exact", mode="at_most",
                        labels=[labels[i] for i in usable], power_binding=config.power_binding)
    out += [c, pw]
    fits = [fit_slope(ns, sets[i], level=0.999, rng=rng) for i in usable]
    out.append(Claim(id=f"{NAME}/slope-is-minus-half", paper_ref=ref,
                     statement=f"fixed σ²⋆, H = {hmax}: the slope of E Cov_N(π̂) in n is -1/2 (tightness of the sqrt term)",
                     predicted=-0.5, measured=[round(f.slope, 3) for f in fits],
                     interval=[min(f.ci_low for f in fits), max(f.ci_high for f in fits)], evaluation="exact",
                     passed=all(f.ci_low - 0.1 <= -0.5 <= f.ci_high + 0.1 for f in fits), exploratory=True,
                     details="Exploratory by design: Theorem 4.2 is an upper bound and the paper proves no matching "
                             "lower bound for the sqrt term; on instances whose hard part is missing mass (rare "
                             "prompts) coverage decays like 1/n (Good-Turing). Measured slopes per N: "
                             + ", ".join(f"{labels[i]}: {f.slope:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}]"
                                         for i, f in zip(usable, fits))))
    out.append(optimality_claim(f"{NAME}/mle-optimality", ref, [r["residual"] for r in records], 1e-8,
                                solver="projected-Newton ball MLE"))
    # Flat in H at fixed sigma_star^2 (every n, Bonferroni inside the claim).
    hs_all = np.array(config.horizons, float)
    # Pre-registered window for flatness: an unseen prompt's log-ratio, about (H - m) log 2, must
    # exceed log max(N) with margin (factor 2), else its coverage still grows with H.
    hs = np.array([h for h in hs_all if (h - config.pivotal) * np.log(2) >= 2 * np.log(max(config.Ns))], float)
    for n in config.ns:
        csets = [[_get(records, fam, n, int(h), "cov", j) for h in hs] for j in range(len(config.Ns))]
        csets = [s for s in csets if all(np.mean(v) > 0 for v in s)]
        if len(hs) >= 2 and csets:
            s2 = [round(float(_get(records, fam, n, int(h), 'sigma2')[0]), 3) for h in hs]
            reps = [int(_get(records, fam, n, int(h), "kl").size) for h in hs]
            design = f"Replicates per H: {reps}."
            if _blocks(config, fam, n) > 1:
                design += (f" {_blocks(config, fam, n)} blocks of {config.replicates} replicates at this n: raised "
                           "after the first full run (300 per H) failed this power check at n = 2048, N = 1024; "
                           "the count is the smallest multiple of 300 with resampled power-check rejection rate "
                           ">= 0.99 in a power analysis on that run's replicates (see the module docstring); "
                           "seeds, thresholds, window and rule unchanged.")
            c, pw = slope_claim(f"{NAME}/no-growth-in-H/n={n}", ref,
                                f"fixed σ²⋆, n = {n}: E Cov_N(π̂) does not grow with H (H in {hs.astype(int).tolist()})",
                                hs, csets, 0.0, 0.1, rng=rng, evaluation="exact", mode="at_most",
                                power_binding=config.power_binding, power_extra=design,
                                extra=f"σ²⋆ per H: {s2}. The bound is H-free, so the theorem predicts no growth "
                                      f"(slope <= 0 + 0.1). {design}")
            out += [c, pw]
            c, _ = slope_claim(f"{NAME}/flat-in-H/n={n}", ref, f"fixed σ²⋆, n = {n}: E Cov_N(π̂) flat in H "
                               f"(H in {hs.astype(int).tolist()})", hs, csets, 0.0, 0.1, rng=rng, evaluation="exact",
                               exploratory=True,
                               extra="Exploratory (stronger than the theorem, which only bounds coverage above): in "
                                     "the first full run this failed at n = 512 and 2048, where coverage at large N "
                                     "*decreases* with H (slopes down to -0.32); with the replicate blocks at n = 1024 "
                                     "(600) and 2048 (900) it also fails at n = 1024 (seed 0).")
            out.append(c)
    # KL grows with H on the same runs (at the smallest n: the most missing mass).
    n0 = min(config.ns)
    klm = [float(_get(records, fam, n0, int(h), "kl").mean()) for h in hs_all]
    if len(hs_all) >= 2:
        f = fit_slope(hs_all, [_get(records, fam, n0, int(h), "kl") for h in hs_all], level=0.999, rng=rng)
        out.append(Claim(id=f"{NAME}/kl-grows-with-H", paper_ref="Theorem 4.2; Remark 3.1",
                         statement=f"fixed σ²⋆, n = {n0}: E KL(π_D||π̂) increases with H (slope > 0.5)",
                         predicted="> 0.5", measured=f.slope, interval=[f.ci_low, f.ci_high], evaluation="exact",
                         passed=bool(f.ci_high > 0.5 and f.ci_low > 0.0),
                         details=f"E KL per H {dict(zip(config.horizons, np.round(klm, 4).tolist()))}; slope CI at level "
                                 "0.999; pass iff the CI excludes 0 and reaches 0.5 (KL on unseen prompts is "
                                 "(H - m) log 2 per unit mass)."))
    # sqrt(log N) scaling (exploratory).
    nmid = config.ns[len(config.ns) // 2]
    logn = np.log(np.array(config.Ns))
    m = np.array([_get(records, fam, nmid, hmax, "cov", j).mean() for j in range(len(config.Ns))])
    pos = m > 0
    slope_logn = float(np.polyfit(np.log(logn[pos]), np.log(m[pos]), 1)[0]) if pos.sum() >= 2 else float("nan")
    out.append(Claim(id=f"{NAME}/sqrt-log-N", paper_ref=ref,
                     statement=f"fixed σ²⋆, n = {nmid}, H = {hmax}: E Cov_N·sqrt(log N) roughly constant across N",
                     predicted=-0.5, measured=slope_logn, interval=None, evaluation="exact",
                     passed=bool(abs(slope_logn + 0.5) <= 0.25), exploratory=True,
                     details=f"Descriptive log-log slope of E Cov_N against log N; E Cov_N = {np.round(m, 5).tolist()}. "
                             "Exploratory: the (log N)^(-1/2) factor is an upper-bound shape."))
    return out


def plot(config, records, out_dir):
    paths = []
    ns = np.array(config.ns, float)
    for fam in config.families:
        series = {}
        for h in config.horizons:
            series[f"E Cov_8, H={h}"] = np.array([_get(records, fam, n, h, "cov", 1).mean() for n in config.ns])
            series[f"E KL, H={h}"] = np.array([_get(records, fam, n, h, "kl").mean() for n in config.ns])
        series["n^-1/2 (Thm 4.2 shape)"] = ns ** -0.5
        paths.append(line_plot(ns, series, xlabel="n", ylabel="exact value", logx=True, logy=True,
                               title=f"Linear MLE, {fam} family (σ²⋆ {'fixed' if fam == 'fixed' else '≍ H'})",
                               path=out_dir / f"linear_mle_{fam}.png", styles={"n^-1/2 (Thm 4.2 shape)": "k--"}))
    return paths
