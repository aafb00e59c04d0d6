r"""Distillation with truncated token weights (Theorem G.2 ICLR / Theorem 6.2 arXiv) against vanilla SGD.

The student sees the teacher's next-token probabilities, so the per-token KLs
:math:`\varepsilon_h` along each sampled sequence are known and the gradient keeps a token
only until :math:`\sum_h\varepsilon_h` reaches :math:`A = \log N`
(:mod:`simulations.learners.distillation`).  Theorem G.2: with
:math:`\eta = \min\{1/((64\log N+2)B^2), (T\sigma_\star^2\log N)^{-1/2}\}`
(:func:`theory.rates.distillation_step_size`) the average-iterate coverage is
:math:`\lesssim \sqrt{\sigma_\star^2/(T\log N)} + B^2/T` — Theorem 4.2's rate, with no ``H``;
vanilla SGD's (Prop. 5.1) has :math:`B^2H/(T\log N)`.

Design.  Lemma K.7 (ICLR) / I.7 (arXiv)'s instance with one scale :math:`B = \bar B = 24`
(prompts ``±`` of mass 1/2), both prompts started at the proof's initialisation
:math:`r - 1/\bar B` (:func:`theory.instances.lemma_k7_start`, uncovered).  Every method reads
**the same sequences** (same generator, one sequence per step: matched samples): vanilla SGD
with Prop. 5.1's step, distillation with the theorem's step, with the step its proof needs
(``proof``, :math:`1/(256\log N B^2)`, see :func:`theory.rates.distillation_step_size`) and
with the per-token step :math:`1/(2B^2)` (``practical``).  Distillation runs on the
i.i.d.-token counts path (``train_distillation(method="counts")``: the same update in law at
a cost independent of ``H``), so ``H`` reaches 2048.  Coverage of every iterate is exact.

Mechanism [derived] (:func:`theory.instances.lemma_k7_distillation_visits`,
:func:`theory.instances.lemma_k7_visits`): from this start distillation covers a prompt
after :math:`\log(4e)\,(64 + 2/A) \approx 155` visits at every ``H`` (the truncation keeps
about :math:`Au` tokens, so a step moves :math:`\log u` by :math:`\eta A\bar B^2`), vanilla
after :math:`(2 - 1/(2e))H/\log N` visits.  Distillation is ahead for ``H`` above the
crossing of the two (about 180 at ``N = 8``): that is the regime where the theorem says it
helps, and where the binding comparison is made; below it vanilla is ahead (reported as an
exploratory claim).  From :math:`\theta_0 = 0` distillation pays :math:`64\log(H/A)`
visits and the crossing moves to about 340 (the earlier finding "distillation is worse at
every ``H`` up to 256": at ``H = 256``, 0.0307 against 0.0237).

Finding on the constant.  The last step of the proof (App. K.7 ICLR / I.7 arXiv) needs
:math:`\eta \le 1/(256AB^2)`; the theorem states :math:`1/((64A+2)B^2)`, about four times
larger.  The binding claims use the stated step and say so in their ids (``-stated-step``)
and ``conditions`` (the proof-step condition is recorded as not met); the ``proof`` runs,
whose conditions all hold, show the crossing moving to ``H`` of about 700
(``proof-step-below-vanilla-above-crossing``, exploratory).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.claims import as_exploratory, comparison_claim, condition, exponent_claim, revision
from simulations.experiments.contract import Task
from simulations.learners.optimizers import chain, project_l2_ball, sgd
from simulations.plots import line_plot
from theory.instances import lemma_k7, lemma_k7_distillation_visits, lemma_k7_start, lemma_k7_visits
from theory.rates import (distillation_coverage_rate, distillation_step_size, sgd_coverage_rate,
                          sgd_step_size)

from ._optimizers_common import (TOPIC, assumption_conditions, instance_geometry, mean_and_band, run_coverage,
                                 sgd_upper_conditions, SEPARATION_WHY)

NAME = "distillation"
PAPER_REF = "Theorem G.2 (ICLR) / Theorem 6.2 (arXiv); Lemma K.4 (ICLR) / I.4 (arXiv); Prop. 5.1"
TITLE = "Truncated token-weighted distillation: H-free coverage, below vanilla SGD's at matched samples"
TOPIC = TOPIC

METHODS = ("distill", "vanilla", "proof", "practical")
LABELS = {"distill": "distillation (theorem's step)", "vanilla": "vanilla SGD (Prop. 5.1 step)",
          "proof": "distillation (step the proof needs)", "practical": "distillation, eta = 1/(2B^2)"}


@dataclass(frozen=True)
class Config:
    """Grid and instance parameters.

    Attributes
    ----------
    H_values : tuple of int
    T : int
        Steps (= sequences read) of every method.
    replicates : int
    B : float
        :math:`B = \\bar B` of Lemma K.7's instance.
    N : float
        Threshold (:math:`A = \\log N`) and the initialisation's ``N``.
    preset : str
        ``"full"`` or ``"quick"``.
    """

    H_values: tuple = (64, 128, 256, 512, 1024, 2048)
    T: int = 20_000
    replicates: int = 32
    B: float = 24.0
    N: float = 8.0
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(H_values=(128, 256, 512, 1024), T=3000, replicates=10, preset="quick")

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    return [Task(cell=i * len(METHODS) + j, rep=0, params={"H": int(H), "method": m})
            for i, H in enumerate(config.H_values) for j, m in enumerate(METHODS)]


def _instance(config, H):
    s = lemma_k7_start(H, config.B, config.N)
    return lemma_k7(H, config.B, config.B, mu_plus=0.5, theta_init=[s, s])


def _eta(config, method, H, s2):
    if method == "vanilla":
        return float(sgd_step_size(config.T, H=H, sigma_sq=s2, B=config.B))
    if method == "practical":
        return 1.0 / (2 * config.B ** 2)
    return float(distillation_step_size(config.T, N=config.N, sigma_sq=s2, B=config.B, proof=method == "proof"))


def run_task(config, task, *, rng):
    H, method = task.params["H"], task.params["method"]
    inst = _instance(config, H)
    s2 = inst.data.sigma_star_sq()
    eta = _eta(config, method, H, s2)
    # every method reads the same sequences: same generator, R, one sequence per step, counts stream
    summary = run_coverage(inst, chain(sgd(eta), project_l2_ball(1.0)), T=config.T, rng=rng,
                           replicates=config.replicates, N_values=(config.N,), average_at=[config.T],
                           stream="counts", distill_N=None if method == "vanilla" else config.N)
    return [{"H": H, "method": method, "eta": eta, "sigma_star_sq": s2, "T": config.T,
             "start": inst.params["theta_init"][0], "geometry": instance_geometry(inst), **summary}]


def _cov(rec):
    return np.asarray(rec["cov_lo"])[:, -1, 0]


def _recs(records, method):
    return sorted([r for r in records if r["method"] == method], key=lambda r: r["H"])


def _fmt(values):
    return ", ".join(f"{float(v):.4g}" for v in values)


def crossing(config, method="distill"):
    """[derived] ``H`` above which distillation's transient is shorter than vanilla's (module notes)."""
    H = np.unique(np.round(np.geomspace(8, 2 ** 16, 2000)).astype(int))
    s2 = H * lemma_k7(1, config.B, config.B, mu_plus=0.5).data.sigma_star_sq()   # i.i.d. tokens
    s0 = np.array([lemma_k7_start(int(h), config.B, config.N) for h in H])
    eta_d = np.array([_eta(config, method, h, v) for h, v in zip(H, s2)])
    eta_v = np.array([_eta(config, "vanilla", h, v) for h, v in zip(H, s2)])
    kd = lemma_k7_distillation_visits(eta_d, H, config.B, config.N, start=s0)
    kv = lemma_k7_visits(eta_v, H, config.B, config.N, start=s0)
    above = np.flatnonzero(kv > kd)
    return float(H[above[0]]) if above.size else float("inf")


def _conditions(config, recs, step="stated"):
    """Hypotheses of Theorem G.2 / 6.2 on the runs ``recs``; ``step`` names the step they use
    (``"stated"``: the theorem's; ``"proof"``: the one its proof's last step needs)."""
    A = np.log(config.N)
    eta = max(r["eta"] for r in recs)
    s2 = max(r["sigma_star_sq"] for r in recs)
    stated = float(distillation_step_size(config.T, N=config.N, sigma_sq=s2, B=config.B))
    proof = 1 / (256 * A * config.B ** 2)
    out = assumption_conditions([r["geometry"] for r in recs], config.B) + [
        condition("T, N >= 2", f"T = {config.T}, N = {config.N:g}", bool(config.T >= 2 and config.N >= 2)),
    ]
    if step == "stated":
        out.append(condition("eta = min{1/((64 log N + 2) B^2), (T sigma^2 log N)^(-1/2)} (the theorem's step)",
                             f"eta = {eta:.4g} (stated {stated:.4g})", bool(np.isclose(eta, stated))))
    ok = bool(eta <= proof * (1 + 1e-12))
    out.append(condition(
        "eta <= 1/(256 log N B^2) (the proof's last step, App. K.7 ICLR / I.7 arXiv, absorbs "
        "128 eta A B^2 sum_t D_seq,N only then)", f"eta = {eta:.4g}, 1/(256 A B^2) = {proof:.4g}", ok,
        "" if ok else ("the theorem's stated step is about 4x larger than the step its proof covers; the claim tests "
                       "the theorem as stated (the id says 'stated-step'); the runs at the proof's step are "
                       "proof-step-below-vanilla-above-crossing"), id_tag="stated-step" if not ok else ""))
    out.append(condition("teacher's next-token probabilities available (distillation setting)", "exact pi_D", True))
    return out


def claims(config, records):
    out = []
    d, v = _recs(records, "distill"), _recs(records, "vanilla")
    Hs = [r["H"] for r in d]
    T, B, N = config.T, config.B, config.N
    cond = _conditions(config, d)
    rate = [float(distillation_coverage_rate(T, N=N, sigma_sq=r["sigma_star_sq"], B=B)) for r in d]
    dm, vm = [float(np.mean(_cov(r))) for r in d], [float(np.mean(_cov(r))) for r in v]
    pred = float(np.polyfit(np.log(Hs), np.log(rate), 1)[0])
    visits = [float(lemma_k7_distillation_visits(r["eta"], r["H"], B, N, start=r["start"])) for r in d]
    flat_args = (
        f"{NAME}/distill-flat-in-H-stated-step", "Theorem G.2 (ICLR) / 6.2 (arXiv), Eq. (27) arXiv; step the proof does not cover",
        "exploratory: does truncated token-weighted SGD with the theorem's stated step (about 4x the step its proof "
        "covers) have an average-iterate Cov_N that grows no faster in H than the H-free rate sqrt(sigma^2/(T log N)) "
        "+ B^2/T?", Hs, [_cov(r) for r in d])
    flat_rule = dict(predicted=pred, mode="at_most", tolerance=0.1, evaluation="exact", conditions=cond)
    out.append(exponent_claim(
        *flat_args, **flat_rule, exploratory=True,
        revised_from=revision(exponent_claim(*flat_args, **flat_rule), why=(
            "class change under the slope rule for upper bounds (R1, decided before this run), not after a "
            "failing run: the stated step is outside what the proof covers and the H-free curve is fixed by "
            "the instance")),
        details=(f"T = {T}, B = B_bar = {B:g}, N = {N:g}, {config.replicates} replicates, start r - 1/B_bar by H "
                 f"{_fmt(r['start'] for r in d)}; predicted = local slope of theory.rates.distillation_coverage_rate "
                 f"(unit constants) on the grid; rate by H {_fmt(rate)}; measured means {_fmt(dm)}; derived "
                 f"visits per prompt to cover {_fmt(visits)} (theory.instances.lemma_k7_distillation_visits). "
                 "Exploratory under the slope rule for upper bounds (R1, decided before this run): a slope read off "
                 "an upper bound with an unstated constant is binding only if the instance meets the statement's "
                 "hypotheses and the bound's tested term tracks the quantity; here the stated step is outside what "
                 "the proof covers (conditions), the measured coverage is 0.36-0.48 of the unit-constant rate with "
                 "no stated constant, and the H-free curve is fixed by the instance (derived: the same number of "
                 "visits at every H), so a wrong exponent of the bound could not show")))
    rate_v = [float(sgd_coverage_rate(T, N=N, H=r["H"], sigma_sq=r["sigma_star_sq"], B=B)) for r in v]
    out.append(exponent_claim(
        f"{NAME}/vanilla-linear-in-H-same-stream",
        "Prop. 5.1 (Eq. (9) ICLR / (15) arXiv; lower bound Eq. (16) arXiv); [derived] visits on this instance",
        "vanilla SGD (Prop. 5.1's step) on the same sequences: average-iterate Cov_N is linear in H, at the B^2 H/T "
        "term of the upper bound (the slope comes from the derived mechanism of this instance; the upper bound alone "
        "allows any slower growth)",
        Hs, [_cov(r) for r in v], predicted=float(np.polyfit(np.log(Hs), np.log(rate_v), 1)[0]), tolerance=0.1,
        evaluation="exact", conditions=sgd_upper_conditions(eta=[r["eta"] for r in v], H=Hs, B=B,
                                                                geometry=[r["geometry"] for r in v]),
        details=(f"measured means {_fmt(vm)}; eta = 1/(2 H B^2); predicted = local slope of "
                 "theory.rates.sgd_coverage_rate on the grid (derived: (2 - 1/(2e)) H/log N visits per prompt, "
                 "theory.instances.lemma_k7_visits)")))

    h_cross = crossing(config)
    above = [i for i, H in enumerate(Hs) if H > h_cross]
    below = [i for i, H in enumerate(Hs) if H <= h_cross]
    common = (f"same sequences for both (paired by replicate); derived crossing H = {h_cross:.0f} "
              "(theory.instances.lemma_k7_distillation_visits = lemma_k7_visits); means distillation / vanilla by H: "
              + "; ".join(f"H={H}: {a:.4g} / {b:.4g}" for H, a, b in zip(Hs, dm, vm)))
    out.append(as_exploratory(
        comparison_claim, f"{NAME}/distill-below-vanilla-above-crossing-stated-step",
        "Theorem G.2 (ICLR) / 6.2 (arXiv) against Prop. 5.1; step the proof does not cover",
        "at matched samples (one sequence per step, the same sequences), distillation with the theorem's stated "
        "step (about 4x the step its proof covers) has "
        "lower average-iterate Cov_N than vanilla SGD at every grid H above the derived crossing, where the "
        "theorem's H-free rate undercuts vanilla's B^2 H/(T log N)",
        [_cov(d[i]) for i in above], [_cov(v[i]) for i in above], better="lower", paired=True,
        names=("distillation", "vanilla SGD"), evaluation="monte_carlo", labels=[f"H={Hs[i]}" for i in above],
        conditions=cond, why=SEPARATION_WHY,
        details=common + (". Earlier id: distill-below-vanilla-above-crossing, whose conditions did "
                                           "not record that the proof does not cover the stated step")))
    if below:
        out.append(comparison_claim(
            f"{NAME}/vanilla-ahead-below-crossing", "Theorem G.2 (ICLR) / 6.2 (arXiv) against Prop. 5.1",
            "exploratory: below the derived crossing, is vanilla SGD ahead of distillation with the theorem's step "
            "(the proof's constant 64 in the step)?", [_cov(v[i]) for i in below], [_cov(d[i]) for i in below],
            better="lower", paired=True, names=("vanilla SGD", "distillation"), evaluation="monte_carlo",
            labels=[f"H={Hs[i]}" for i in below], exploratory=True, conditions=cond, details=common))
    for method in ("proof", "practical"):
        rs = _recs(records, method)
        hc = crossing(config, method)
        idx = [i for i, H in enumerate(Hs) if H > hc]
        if not idx:
            continue
        what = ("the step the proof's last inequality needs, 1/(256 log N B^2) (4x below the stated one)"
                if method == "proof" else "the per-token step 1/(2B^2) (no proof)")
        out.append(comparison_claim(
            f"{NAME}/{method}-step-below-vanilla-above-crossing", "Theorem G.2 (ICLR) / 6.2 (arXiv) against Prop. 5.1",
            f"exploratory: with {what}, is distillation below vanilla SGD at matched samples above its own derived "
            f"crossing (H = {hc:.0f})?", [_cov(rs[i]) for i in idx], [_cov(v[i]) for i in idx], better="lower",
            paired=True, names=(f"distillation ({method} step)", "vanilla SGD"), evaluation="monte_carlo",
            labels=[f"H={Hs[i]}" for i in idx], exploratory=True,
            conditions=_conditions(config, rs, step="proof") if method == "proof" else None,
            details=f"eta = {rs[0]['eta']:.4g}; means by H: {_fmt(np.mean(_cov(r)) for r in rs)}"))
    return out


def plot(config, records, out_dir):
    from simulations.plots import COV, save_figure

    H = np.array(config.H_values, dtype=float)
    series, bands = {}, {}
    for m in METHODS:
        series[LABELS[m]], bands[LABELS[m]] = mean_and_band([_cov(r) for r in _recs(records, m)])
    fig = line_plot(H, series, bands=bands, logx=True, logy=True, xlabel="$H$",
                    ylabel=f"average-iterate {COV.format(N=f'{config.N:g}')} (exact)",
                    title=f"Distillation vs vanilla SGD ($T = {config.T}$)")
    return [save_figure(fig, out_dir / "distillation_vs_H.png")]
