r"""Theorem 4.2: coverage of the autoregressive linear MLE against :math:`\sqrt{\sigma_\star^2/(n\log N)} + B^2/n`.

Instances :func:`theory.instances.linear_variance_family`: ``K = 2`` prompts of equal mass
(no rare prompt: every prompt is seen about ``n/2`` times), binary tokens, ``p`` untied
*pivotal* positions of feature norm ``B`` and uniform truth, optionally ``w`` *weak*
positions whose features shrink like :math:`1/\sqrt w` and carry as much of
:math:`\sigma_\star^2` as the pivotal block (feature norm :math:`B\sqrt{p/w}`), either
untied, each its own coordinate (the *fixed* family: ``H`` and ``d = KH`` grow at fixed
:math:`\sigma_\star^2` and ``B``), or split into ``g`` tied groups (the *width* family:
dimension at fixed ``B``, :math:`\sigma_\star^2` and ``H``).  :math:`\Theta = B_2(1)`, realizable
(:math:`\theta_\star = 0`, or :math:`\|\theta_\star\| = 1` in the ``-sphere`` families).  MLE: :func:`simulations.learners.mle.separable_ball_mle` (the
exact ball-constrained maximiser, KKT residual recorded).  KL exact; coverage Monte Carlo
(``mc_samples`` fresh pairs per replicate: an unbiased estimate of each replicate's
coverage, so replicate means estimate :math:`\mathbb E\,\mathrm{Cov}_N(\hat\pi)` and the
stratified bootstrap over replicates carries both sources of noise).

Why these instances, and what the theorem can be expected to show on them (analysis made
before the full run).  Each pivotal logit is estimated from :math:`\approx n/K` tokens, so the
unconstrained MLE has squared-logit "energy" :math:`E = 4K^2p/n` against the budget
:math:`B^2` of the ball (:math:`\sum_j (B\theta_j)^2 \le B^2`).  While :math:`E < B^2`,
:math:`Z = \log\pi_D/\hat\pi` on a prompt is close to :math:`\mathcal N(\rho/2, \rho)`,
:math:`\rho = Kp/n`, so :math:`\mathrm{Cov}_N` is a Gaussian tail in
:math:`(\log N)^2/\rho`: it falls faster than any power of ``n`` and rises faster than any
power of :math:`\sigma_\star^2 = pB^2/4` at the onset.  Once :math:`E > B^2` the ball caps
the logits and coverage and KL stop depending on ``p`` (a plateau set by ``B``).  Hence:

* the :math:`n^{-1/2}` and :math:`\sqrt{\sigma_\star^2}` *shapes* of the bound are not
  attained by parameter-estimation error on any of these instances (a power law would need
  a continuum of scales, e.g. prompts whose mass and dimension form a ladder); the
  theorem's content that can be tested is the **bound itself** with one constant: the ratio
  :math:`\mathbb E\,\mathrm{Cov}_N/(\sqrt{\sigma_\star^2/(n\log N)} + B^2/n)` is largest at
  the onset of the norm constraint (:math:`E\approx B^2`), about 0.4 at ``N = 2`` and
  ``B = 2`` in prototypes, and smaller elsewhere.  The constant ``C`` is fitted on a pilot
  family (:math:`\sigma_\star^2 \asymp H`, ``B = 2``: every ``(n, H, N)``) and the bound with
  that ``C`` is checked at every point of the other families (one universal inequality, so
  the power is that of its tightest points);
* at fixed :math:`\sigma_\star^2` and ``B`` with untied weak positions (``d = KH`` up to
  :math:`\gg n`), each weak coordinate is estimated like a pivotal one while the ball is
  slack (the classical count: variance of ``Z`` about ``KH/n``, coverage and KL rise with
  ``H``); once the unconstrained squared norm :math:`\frac{4K^2}{n}\sum_g 1/(s_g b_g^2)`
  (:func:`_free_norm_sq`) exceeds 1, the ball shrinks them: their squared norm stays bounded
  while their logits shrink like :math:`1/\sqrt H`.  The theorem's bound does not involve
  ``H``; "no growth in H" (one-sided) and "flat in H" are both exploratory: the bound is an
  upper bound with an unstated constant that is flat here while coverage is predicted to fall
  once the ball binds, so no slope on this family can show a wrong exponent of the theorem
  (the H-free content is tested as a level, by the pilot constant);
* at fixed ``B``, :math:`\sigma_\star^2` and ``H``, with ``n`` large enough that the pivotal
  block leaves the ball slack (:math:`4K^2p/(nB^2)\le 1/2`), more groups raise the classical
  count ``K(p + g)/n`` until the ball binds: "no growth in d" is exploratory for the same
  reason (coverage rises while the ball is slack and falls once it binds, within the bound);
* both families also run with :math:`\theta_\star` on the unit sphere (pivotal truth logit
  :math:`B/\sqrt{Kp}`, families ``fixed-sphere`` and ``width-sphere``): at
  :math:`\theta_\star = 0` the ball's shrinkage is towards the truth, on the sphere any norm
  the weak coordinates take biases the pivotal ones away from it, so coverage can grow with
  ``H`` or ``d`` there (no sign predicted beyond the theorem's); their slopes are exploratory
  too, with the slack and binding windows reported separately, and their binding tests are
  the pilot-constant levels (the width-sphere family carries the replicates its power needs,
  :data:`WIDTH_SPHERE_DESIGN`);
* KL equals the classical count ``d/(2n)`` while the ball is slack (a sanity check: a
  textbook fact, not a statement of the papers).

Earlier instance (geometric prompt masses, near-deterministic tokens): there coverage was
rare-prompt missing mass (:math:`\sim 1/n`), :math:`\sigma_\star^2\approx 494` and
:math:`B^2\approx 387` made the bound exceed 1 on most of the grid, "flat in H" failed at
``n = 512, 1024, 2048`` (coverage at large ``N`` decreased with ``H``) and was replaced by
"no growth in H" after that failing run, and "decay at least like n^-1/2" held only because
missing mass falls like ``1/n``.  Those claims are retired with that instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import expit

from simulations.claims import (ALPHA, POWER_TARGET, bound_claim, condition, exponent_claim, not_run_in_quick,
                                sanity_claim)
from simulations.experiments.contract import Task, analysis_rng
from simulations.learners.mle import sample_group_counts, separable_ball_mle
from simulations.plots import line_plot
from simulations.stats import stratified_bootstrap
from theory import instances
from theory.instances.mle import linear_variance_kl, linear_variance_monte_carlo_coverage
from theory.rates import linear_mle_coverage_rate

NAME = "linear-mle-rate"
PAPER_REF = "Theorem 4.2 (Eq. (7) ICLR / (9) arXiv)"
TITLE = ("Linear MLE: coverage below C(sqrt(σ²⋆/(n log N)) + B²/n) with one constant fitted on a pilot, held "
         "at fixed σ²⋆ and B as H and d grow (d up to >> n)")
TOPIC = "generalization of maximum likelihood"
REF = "Theorem 4.2 (Eq. (7) ICLR / (9) arXiv)"
#: Residual below which the solver's point is accepted as the MLE.
KKT_TOL = 1e-8
#: A slope uses a series (or point) only if its mean coverage is at least this everywhere
#: (rule fixed before the full run: below it the Monte Carlo mean of a few hundred hits per
#: cell is too noisy for a logarithm with power against 0.25).
FLOOR = 0.01


def replicates_for_power(sd, margin, *, alpha, power):
    r"""Replicates ``R`` for which a one-sided level-``alpha`` test of a mean rejects at ``power``.

    The bound rule rejects "quantity <= bound / 2" at a point iff the mean's lower confidence
    bound :math:`\bar x - z_{1-\alpha}\,s/\sqrt R` exceeds bound / 2; if the true mean lies
    ``margin`` above bound / 2 this happens with probability ``power`` when
    :math:`(z_{1-\alpha} + z_{power})\,s/\sqrt R \le` ``margin`` (normal quantiles; the
    Student correction at ``R`` in the thousands is below 0.3%).

    Parameters
    ----------
    sd : float
        Standard deviation of one replicate's estimate (from a pilot, not the tested data).
    margin : float
        Distance of the mean above the alternative's threshold.
    alpha : float
        One-sided level of the test at the point (after any Bonferroni split).
    power : float
        Target power.

    Returns
    -------
    int
        The smallest such ``R``.

    Examples
    --------
    >>> replicates_for_power(1.0, 1.0, alpha=0.05, power=0.5)
    3
    """
    from scipy.stats import norm

    return int(np.ceil(((norm.isf(alpha) + norm.isf(1 - power)) * sd / margin) ** 2))


#: Design of the width-sphere family's replicates, fixed before its run from the previous full run (seed 0, 300
#: replicates): at its most critical point (n = 256, g = 64, N = 2) the mean coverage was 0.1419 against the
#: pilot-constant bound 0.2763 (ratio 0.5136), the per-replicate standard deviation 0.03458; the bound rule tests
#: 36 points at false-fail rate 1e-3 (one-sided 1e-3/36 per point) and asks power 0.9 against bound / 2.
WIDTH_SPHERE_DESIGN = {"estimate": 0.1419, "bound": 0.2763, "sd": 0.03458, "replicates": 300, "points": 36,
                       "alpha": 1e-3, "power": 0.9}


def _width_sphere_replicates(d=WIDTH_SPHERE_DESIGN):
    return replicates_for_power(d["sd"], d["estimate"] - d["bound"] / 2, alpha=d["alpha"] / d["points"],
                                power=d["power"])


@dataclass(frozen=True)
class Config:
    preset: str = "full"
    n_prompts: int = 2
    B: float = 2.0                        # pivotal feature norm of the pilot, fixed and width families
    Ns: tuple = (2.0, 4.0, 8.0)
    replicates: int = 300
    mc_samples: int = 200
    # sigma_star^2 ~ H family (pivotal = H): the pilot (B = B) and the other norms
    dense_ns: tuple = (32, 128, 512, 2048)
    dense_horizons: tuple = (8, 16, 32, 64, 128, 256, 512)
    dense_Bs: tuple = (1.0, 2.0, 4.0)
    # fixed sigma_star^2 and B: `pivotal` pivotal + H - pivotal UNTIED weak positions (d = K H), whose
    # feature norm B sqrt(pivotal / (H - pivotal)) gives the weak block the pivotal block's variance
    pivotal: int = 32
    fixed_ns: tuple = (256, 512)
    fixed_horizons: tuple = (64, 128, 256, 512, 1024, 2048)
    # fixed B, sigma_star^2 and H; the weak positions split into g tied groups (d = K (pivotal + g))
    width_ns: tuple = (256, 512)
    width_weak: int = 1024
    width_groups: tuple = (1, 4, 16, 64, 256, 1024)
    #: replicates of the width-sphere cells (power of pilot-constant/width-sphere; WIDTH_SPHERE_DESIGN)
    width_sphere_replicates: int = _width_sphere_replicates()

    @classmethod
    def quick(cls):
        return cls(preset="quick", replicates=200, width_sphere_replicates=200, dense_ns=(128, 512), dense_Bs=(2.0,),
                   fixed_ns=(256,), fixed_horizons=(64, 128, 256, 512), width_ns=(256,))

    @property
    def weak_scale(self):
        """``weak_scale`` of the fixed and width families: the weak block's variance
        ``weak_scale**2 / 4`` equals the pivotal block's ``pivotal * B**2 / 4``."""
        return self.B * float(np.sqrt(self.pivotal))

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    cells = [{"family": "dense", "B": b, "n": n, "H": h, "groups": 0}
             for b in config.dense_Bs for n in config.dense_ns for h in config.dense_horizons]
    cells += [{"family": "fixed", "B": config.B, "n": n, "H": h, "groups": h - config.pivotal}
              for n in config.fixed_ns for h in config.fixed_horizons]
    cells += [{"family": "width", "B": config.B, "n": n, "H": config.pivotal + config.width_weak, "groups": g}
              for n in config.width_ns for g in config.width_groups]
    cells += [{**c, "family": c["family"] + "-sphere"} for c in cells if c["family"] in ("fixed", "width")]
    return [Task(i, 0, c) for i, c in enumerate(cells)]


@lru_cache(maxsize=256)
def _instance(config, family, B, H, groups):
    if family == "dense":
        return instances.linear_variance_family(H, n_prompts=config.n_prompts, B=B)
    u = B / np.sqrt(config.n_prompts * config.pivotal) if family.endswith("-sphere") else 0.0   # ||theta_star|| = 1
    return instances.linear_variance_family(config.pivotal, n_prompts=config.n_prompts, B=B, weak=H - config.pivotal,
                                            weak_groups=groups, weak_scale=config.weak_scale, pivotal_logit=u)


def run_task(config, task, *, rng):
    p = task.params
    inst = _instance(config, p["family"], p["B"], p["H"], p["groups"])
    q = inst.params
    k = q["n_prompts"]
    r = config.width_sphere_replicates if p["family"] == "width-sphere" else config.replicates
    ones, trials = sample_group_counts(q["group_sizes"], expit(np.asarray(q["group_logits"])), k, p["n"], r, rng=rng)
    res = separable_ball_mle(ones, trials, np.tile(q["group_norms"], k), p["n"], tol=1e-10)
    hits = linear_variance_monte_carlo_coverage(inst, res.theta, config.Ns, config.mc_samples, rng=rng)
    return [{**p, "dim": q["dim"], "sigma2": q["sigma_star_sq"], "Bsup": q["B"], "pivotal": q["pivotal"],
             "cov": (hits / config.mc_samples).tolist(), "kl": linear_variance_kl(inst, res.theta).tolist(),
             "residual": float(res.residual.max()), "theta_norm": float(np.linalg.norm(res.theta, axis=1).max())}]


# ----------------------------------------------------------------------------- analysis
def _cell(records, **kw):
    rs = [r for r in records if all(r[k] == v for k, v in kw.items())]
    if len(rs) != 1:
        raise KeyError(f"expected one record for {kw}, found {len(rs)}")
    return rs[0]


def _cov(rec, j):
    return np.asarray(rec["cov"])[:, j]


def _bound(rec, N):
    return float(linear_mle_coverage_rate(rec["n"], N=N, sigma_sq=rec["sigma2"], B=rec["Bsup"]))


def _free_norm_sq(config, rec):
    r"""Expected :math:`\|\hat\theta\|^2` of the *unconstrained* MLE on ``rec``'s instance (module docstring).

    A coordinate driving ``s_g`` positions of one prompt at feature norm ``b_g`` is estimated
    from about :math:`s_g n/K` fair tokens: logit variance :math:`4K/(n s_g)`, squared norm
    :math:`4K/(n s_g b_g^2)`; summed over the ``K`` prompts and the groups.  The ball
    :math:`\|\theta\|\le1` is slack while this is well below 1 (for the pivotal block alone it is
    :math:`4K^2p/(nB^2)`, the squared-logit energy over :math:`B^2`).
    """
    q = _instance(config, rec["family"], rec["B"], rec["H"], rec["groups"]).params
    k = q["n_prompts"]
    sizes, norms = np.asarray(q["group_sizes"], float), np.asarray(q["group_norms"], float)
    return float(4.0 * k * k / rec["n"] * np.sum(1.0 / (sizes * norms ** 2)))


def _pivotal_norm_sq(config, rec):
    """The pivotal block's share of :func:`_free_norm_sq`, :math:`4K^2p/(nB^2)`."""
    return 4.0 * config.n_prompts ** 2 * rec["pivotal"] / (rec["n"] * rec["B"] ** 2)


def _usable(x, reps, floor=FLOOR):
    """Points whose mean coverage is at least ``floor`` (rule fixed before the run: below it a
    Monte Carlo mean of a few hits has no usable logarithm)."""
    keep = [i for i, v in enumerate(reps) if v.mean() >= floor]
    return np.asarray(x, float)[keep], [reps[i] for i in keep]


def _few(x, reason):
    """``reason`` when ``x`` has fewer than 4 points or spans less than 8 (exploratory shape fits only)."""
    x = np.asarray(x, float)
    return reason if x.size < 4 or x.max() / x.min() < 8 else None


#: Full-preset results (seed 0) of the "no growth" claims before they became exploratory.
PREVIOUS = {
    "no-growth-in-H": "-0.857 [-0.890, -0.825] (n = 256, N = 2)",
    "no-growth-in-d": "-0.633 [-0.662, -0.604] (n = 256, N = 2)",
    "no-growth-in-H-sphere": "-0.183 and -0.229 (n = 256, 512; N = 2), envelope [-0.255, -0.163]",
    "no-growth-in-d-sphere": "-0.063 and +0.075 (n = 256, 512; N = 2), envelope [-0.085, 0.105]",
}
#: The quick-window revision of the width family (made after a failing quick run).
QUICK_WINDOW = ("the quick width window was first d <= 576 (256 weak positions), where no-growth-in-d-sphere FAILED "
                "(slope +0.282 [0.228, 0.335], n = 512); the quick window was then made the full one")


def _revised(cid, suffix):
    """``revised_from`` of a no-growth claim: its previous class, rule, verdict and values, and why it changed."""
    why = ("an upper bound's slope is binding only where a derivation shows, on the tested grid, that the bound's "
           "tested term dominates and that the quantity tracks its order; Theorem 4.2's bound is flat in H and d "
           "here while the analysis made before the run predicts coverage to fall once the ball binds"
           + (" (at theta* = 0 the ball's shrinkage is towards the truth, so the fall is mechanical)" if not suffix
              else " and gives no sign on the sphere")
           + ", so the slope cannot show a wrong exponent of the theorem; the binding tests of the bound are the "
             "pilot-constant level claims")
    text = (f"reclassified, not after a failure of this claim: class prediction (binding), rule 'exponent at most 0 "
            f"(tolerance 0.1)' against +0.25, verdict PASS, power 1.00, measured {PREVIOUS[cid + suffix]} in the "
            f"full preset; now exploratory because {why}")
    return text + ("; earlier, " + QUICK_WINDOW if cid == "no-growth-in-d" else "")


def _window_slopes(config, sel, x_of):
    """Descriptive OLS slopes of log E Cov_N (N = the first threshold) in log x over the cells where the
    unconstrained MLE's squared norm is <= 1 (ball slack) and > 1 (ball binding), per n."""
    out = {}
    for n in sorted({r["n"] for r in sel}):
        rs = [r for r in sel if r["n"] == n]
        for name, part in (("slack", [r for r in rs if _free_norm_sq(config, r) <= 1]),
                           ("binding", [r for r in rs if _free_norm_sq(config, r) > 1])):
            m = np.array([_cov(r, 0).mean() for r in part])
            if len(part) >= 2 and (m > 0).all():
                x = np.array([x_of(r) for r in part], float)
                out[f"n={n},{name} ({int(x.min())}..{int(x.max())})"] = round(float(np.polyfit(np.log(x), np.log(m), 1)[0]), 3)
    return out


def _conditions(config, recs):
    res = max(r["residual"] for r in recs)
    bsup = max(r["Bsup"] for r in recs)
    k = config.n_prompts
    n0 = min(r["n"] for r in recs)
    star = max(_instance(config, r["family"], r["B"], r["H"], r["groups"]).params["theta_star_norm"] for r in recs)
    return [
        condition("Assumption 2.1 (realizability): pi_D in Pi", f"theta_star in the family, ||theta_star|| <= "
                  f"{star:.6g}", star <= 1.0 + 1e-12),
        condition("Assumption 2.2: Theta convex, Theta within {||theta|| <= 1}", "Theta = unit ball", True),
        condition("Assumption 2.2: sup ||phi|| <= B, B >= 1 (arXiv)", f"B = {bsup:g}", bsup >= 1),
        condition("N >= 2", f"N in {list(config.Ns)}", min(config.Ns) >= 2),
        condition("pi_hat is the MLE over Theta", f"max first-order residual {res:.2g} (tolerance {KKT_TOL:g})",
                  res <= KKT_TOL),
        condition("D i.i.d. from mu x pi_D", f"n in {sorted({r['n'] for r in recs})}; prompts of mass 1/{k}: "
                  f"P[some prompt unseen] <= {k * (1 - 1 / k) ** n0:.2g}", True),
    ]


def _bound_text(recs, N):
    b = np.array([_bound(r, N) for r in recs])
    return f"bound (C = 1) at the cells: {np.round(b, 3).tolist()}, below 1 at {int((b < 1).sum())}/{b.size}"


def _pilot_constant(config, records, rng):
    """C = max over the pilot's cells and thresholds of the one-sided (1 - ALPHA/K) bootstrap upper bound of
    E Cov_N / (sqrt(σ²⋆/(n log N)) + B²/n)."""
    recs = [r for r in records if r["family"] == "dense" and r["B"] == config.B]
    reps = [_cov(r, j) for r in recs for j in range(len(config.Ns))]
    b = np.array([_bound(r, N) for r in recs for N in config.Ns])
    point, draws = stratified_bootstrap(reps, rng=rng)
    upper = np.quantile(draws, 1 - ALPHA / len(reps), axis=0) / b
    i = int(np.argmax(upper))
    return float(upper[i]), recs[i // len(config.Ns)], config.Ns[i % len(config.Ns)], float(point[i] / b[i])


def _series(config, sel, label):
    """``{"<label>, N=..": replicates}`` for the thresholds whose mean coverage is >= FLOOR at every cell."""
    out = {}
    for j, N in enumerate(config.Ns):
        reps = [_cov(r, j) for r in sel]
        if min(v.mean() for v in reps) >= FLOOR:
            out[f"{label}, N={N:g}"] = reps
    return out


def _theta_txt(config, suffix):
    if not suffix:
        return ("θ⋆ = 0 (uniform tokens): the ball's centre, so the ball's shrinkage is towards the truth.")
    u = config.B / np.sqrt(config.n_prompts * config.pivotal)
    return (f"θ⋆ on the unit sphere (||θ⋆|| = 1: pivotal truth logit u = B/sqrt(K p) = {u:.3g}, the largest "
            "realizable): whatever norm the weak coordinates' noise takes must come from the pivotal coordinates, "
            "which the ball then biases away from the truth. Analysis before the first run of this variant: that "
            "bias grows with the weak block's norm use, so coverage may grow with H or d; no prediction of its "
            "sign was made beyond the theorem's.")


def _fixed_claims(config, records, suffix):
    """(b) Fixed σ²⋆ and B, untied weak positions: H and d = K H grow (binding no growth, exploratory flat)."""
    fam = "fixed" + suffix
    series, sel_all, kl_txt = {}, [], {}
    for n in config.fixed_ns:
        sel = [_cell(records, family=fam, n=n, H=h) for h in config.fixed_horizons]
        sel_all += sel
        kl_txt[n] = {r["H"]: (round(float(np.mean(r["kl"])), 4), round(_free_norm_sq(config, r), 2),
                              np.round(np.mean(r["cov"], axis=0), 4).tolist()) for r in sel}
        series.update(_series(config, sel, f"n={n}"))
    s2, hs = sel_all[0]["sigma2"], np.array(config.fixed_horizons, float)
    dims = [r["dim"] for r in sel_all[:len(hs)]]
    txt = (f"Instance: {config.pivotal} pivotal positions (feature norm B = {config.B:g}) and H - {config.pivotal} "
           f"untied weak positions of feature norm B sqrt({config.pivotal}/(H - {config.pivotal})), each its own "
           f"coordinate, carrying half of σ²⋆: σ²⋆ = {s2:g} and sup||ϕ|| = B at every H, d = K·H in {dims} "
           f"(n in {list(config.fixed_ns)}). " + _theta_txt(config, suffix) + " Analysis before the first run "
           "of this design: while the ball is slack each weak coordinate is estimated like a pivotal one "
           "(classical count: log-ratio variance about K·H/n, coverage and KL rise with H); once the unconstrained "
           "squared norm 4K²/n·Σ 1/(s b²) exceeds 1 the ball shrinks the weak coordinates, whose squared norm then "
           "stays bounded while their logits shrink like 1/sqrt(H). Mean KL, the unconstrained squared norm and "
           f"the mean coverage at each N per (n: {{H: (KL, ||θ||², E Cov_N)}}): {kl_txt}. Series kept iff every H "
           f"has mean coverage >= {FLOOR:g} (fixed before the run).")
    history = ("" if suffix else
               " Earlier design (the H - 32 weak positions tied to one coordinate per prompt, carrying 1/33 of "
               "σ²⋆): the weak block was a one-parameter model whose information did not depend on H, so coverage "
               "could not move with H; its binding two-sided rule passed by construction (slopes +0.008, -0.007).")
    what = f"fixed σ²⋆ = {s2:g}, B = {config.B:g}, {'||θ⋆|| = 1' if suffix else 'θ⋆ = 0'}, d = K·H up to {max(dims)}"
    return [
        exponent_claim(
            f"{NAME}/no-growth-in-H{suffix}", REF,
            f"{what}: E Cov_N(π̂) does not grow with H (H in {list(config.fixed_horizons)})", hs, series,
            predicted=0.0, mode="at_most", tolerance=0.1, evaluation="monte_carlo", exploratory=True,
            conditions=_conditions(config, sel_all), revised_from=_revised("no-growth-in-H", suffix),
            details="Exploratory: Theorem 4.2's bound does not involve H or d, but it is an upper bound with an "
                    "unstated constant, and nothing shows coverage tracks it here (see the revision note); the "
                    "theorem's H-free content is tested by pilot-constant/fixed" + suffix + ". Descriptive slopes "
                    "of the mean (N = " + f"{config.Ns[0]:g}" + ") where the ball is slack and where it binds: "
                    + str(_window_slopes(config, sel_all, lambda r: r["H"])) + ". " + txt + history),
        exponent_claim(
            f"{NAME}/coverage-flat-in-H{suffix}", REF,
            f"{what}: E Cov_N(π̂) does not depend on H (H in {list(config.fixed_horizons)})", hs, series,
            predicted=0.0, tolerance=0.1, evaluation="monte_carlo", exploratory=True,
            conditions=_conditions(config, sel_all),
            details="Exploratory (decided before the first run of this design): two-sided independence of H is "
                    "stronger than an upper bound. " + txt + history
                    + (" That earlier two-sided rule was binding." if not suffix else "")),
    ]


def _width_claims(config, records, suffix):
    """(c) Fixed B, σ²⋆ and H; the weak positions in g tied groups, d = K (p + g) up to >> n."""
    fam = "width" + suffix
    series, sel_all = {}, []
    for n in config.width_ns:
        sel = [_cell(records, family=fam, n=n, groups=g) for g in config.width_groups]
        sel_all += sel
        series.update(_series(config, sel, f"n={n}"))
    ds = np.array([r["dim"] for r in sel_all[:len(config.width_groups)]], float)
    free = {n: {r["groups"]: (round(_free_norm_sq(config, r), 2), np.round(np.mean(r["cov"], axis=0), 4).tolist())
                for r in sel_all if r["n"] == n} for n in config.width_ns}
    piv = {n: round(_pivotal_norm_sq(config, _cell(sel_all, n=n, groups=config.width_groups[0])), 3)
           for n in config.width_ns}
    txt = (f"Instance: {config.pivotal} pivotal positions and {config.width_weak} weak positions carrying half of "
           f"σ²⋆, split into g tied groups; n in {list(config.width_ns)}, so d/n reaches "
           f"{ds.max() / min(config.width_ns):.2g}. " + _theta_txt(config, suffix) + " The pivotal block's "
           f"unconstrained squared norm 4K²p/(nB²) is {piv} (<= 1/2: the ball is slack at small d, rule fixed "
           "before the run); the whole model's, and the mean coverage at each N, per (n: {g: (||θ||², E Cov_N)}): "
           f"{free}. Series kept iff every d has mean coverage >= {FLOOR:g}. Quick design revised after a failing "
           "quick run: the quick width window was first d <= 576 (256 weak positions), where no-growth-in-d-sphere "
           "FAILED (slope +0.282 [0.228, 0.335], n = 512): coverage rises with d while the classical count dominates "
           "(d <= 192) and falls once the ball binds harder, so the slope depends on the window; the quick window "
           "is now the full one (d up to 2112, the statement's d >> n) at n = 256 (at n = 512 the θ⋆ = 0 family's "
           "coverage falls below the floor at d = 2112)."
           + ("" if suffix else " Earlier design (n = 32, 128, weak block 1/33 of σ²⋆): the pivotal block alone "
              "used the whole norm budget (4K²p/n = 4 = B² at n = 128), so added groups could only share it and "
              "'no growth' was close to forced."))
    what = (f"fixed B = {config.B:g}, σ²⋆ = {sel_all[0]['sigma2']:g}, H = {sel_all[0]['H']}, "
            f"{'||θ⋆|| = 1' if suffix else 'θ⋆ = 0'}")
    windows = str(_window_slopes(config, sel_all, lambda r: r["dim"]))
    return [exponent_claim(
        f"{NAME}/{cid}{suffix}", REF,
        f"{what}: E Cov_N(π̂) {text} (d in {ds.astype(int).tolist()}, n in {list(config.width_ns)})", ds, series,
        predicted=0.0, mode=mode, tolerance=0.1, evaluation="monte_carlo", exploratory=True,
        conditions=_conditions(config, sel_all), revised_from=_revised(cid, suffix) if one_sided else None,
        details=("Exploratory: the bound does not involve d, but it is an upper bound with an unstated constant and "
                 "nothing shows coverage tracks it here (see the revision note); the classical count K(p + g)/n "
                 "makes coverage grow while the ball is slack and the ball makes it fall once it binds, so the "
                 "slope over the whole window depends on the window. The theorem's d-free content is tested by "
                 "pilot-constant/width" + suffix + ". " if one_sided else
                 "Exploratory: the theorem is an upper bound; two-sided independence of d is stronger. ")
                + f"Descriptive slopes of the mean (N = {config.Ns[0]:g}) where the ball is slack and where it binds: "
                + windows + ". " + txt)
        for cid, mode, one_sided, text in (("no-growth-in-d", "at_most", True, "does not grow with d"),
                                           ("flat-in-d", "equal", False, "does not depend on d"))]



def _width_sphere_power_note(config, claim, pts, c_hat):
    """Add the replicate design (computed before the run) and, if the claim lacks power, the replicate count
    this run's spread and margin would need, to ``claim``'s details and evidence."""
    import dataclasses

    d = WIDTH_SPHERE_DESIGN
    design = (f"Replicates in this family: {config.width_sphere_replicates} in this run; the full preset's "
              f"{_width_sphere_replicates()} were computed before its run from the previous full run ({d['replicates']} replicates) at its most critical point (n = 256, "
              f"g = 64, N = 2): estimate {d['estimate']} against bound {d['bound']} (ratio "
              f"{d['estimate'] / d['bound']:.4f}), per-replicate standard deviation {d['sd']}; the rule rejects "
              f"bound/2 when the mean's one-sided lower bound at level {d['alpha']:g}/{d['points']} exceeds it, so "
              f"power {d['power']} needs (z_(1-{d['alpha']:g}/{d['points']}) + z_{d['power']})·sd/sqrt(R) <= "
              f"estimate - bound/2 = {d['estimate'] - d['bound'] / 2:.5f}: R >= {_width_sphere_replicates()} "
              f"(factor {_width_sphere_replicates() / d['replicates']:.1f}; replicates_for_power). If the true "
              "ratio is nearer 0.5 than that estimate, no affordable R gives power.")
    need = []
    for (r, j, N), b in zip(pts, np.asarray([c_hat * _bound(r, N) for r, j, N in pts])):
        v = _cov(r, j)
        margin = v.mean() - b / 2
        if margin > 0:
            need.append((replicates_for_power(v.std(ddof=1), margin, alpha=ALPHA / len(pts), power=POWER_TARGET),
                         f"n={r['n']},g={r['groups']},N={N:g}", len(v)))
    if need:
        rn, where, have = min(need)
        now = (f"On this run's data the point nearest to power is {where}: {rn} replicates (a factor "
               f"{rn / have:.1f} on the {have} used) would give power {POWER_TARGET} if its mean and spread stay.")
    else:
        now = "On this run's data no point lies above bound/2: no replicate count gives power."
    evidence = claim.underpowered_evidence
    if claim.underpowered_reason == "sample-size":
        evidence = f"{evidence} {now}"
    return dataclasses.replace(claim, details=f"{design} {now} {claim.details}", underpowered_evidence=evidence)


def claims(config, records):
    out = []
    rng = analysis_rng(NAME, 1)
    n_top = max(config.dense_ns)
    dense = [r for r in records if r["family"] == "dense" and r["B"] == config.B]
    c_hat, top, top_n, top_ratio = _pilot_constant(config, records, rng)
    n_pilot = len(dense) * len(config.Ns)
    pilot_txt = (f"Pilot constant C = {c_hat:.4f}: the largest one-sided (1 - {ALPHA:g}/{n_pilot}) bootstrap upper "
                 f"bound of E Cov_N/(sqrt(σ²⋆/(n log N)) + B²/n) over the {n_pilot} (n, H, N) points of the pilot "
                 f"family (σ²⋆ ≍ H, B = {config.B:g}), attained at n = {top['n']}, H = {top['H']}, N = {top_n:g} "
                 f"(measured ratio {top_ratio:.4f}).")

    # (a) sigma_star^2 ~ H: KL against the classical parameter count while the ball is slack.
    win = sorted(r["H"] for r in dense if r["n"] == n_top and _free_norm_sq(config, r) <= 0.5)
    sel = [_cell(dense, n=n_top, H=h) for h in win]
    kl = np.array([np.mean(r["kl"]) for r in sel])
    count = np.array([r["dim"] / (2.0 * r["n"]) for r in sel])
    out.append(sanity_claim(
        f"{NAME}/kl-classical-count", "classical MLE asymptotics (E KL ≈ d/(2n)); setting of Theorem 4.2",
        f"σ²⋆ ≍ H family (B = {config.B:g}), n = {n_top}: the mean KL(π_D||π̂) over replicates equals the "
        f"classical parameter count d/(2n), d = K·H, within 10% while the ball is slack (H in {win})",
        kl, count, tolerance=0.1, relative=True, evaluation="monte_carlo", false_fail_rate=1e-3,
        conditions=_conditions(config, sel),
        details="A textbook fact, not a statement of the papers: each of the d untied coordinates is a Bernoulli "
                "logit estimated from about n/K tokens (E KL ≈ K/(2n) per coordinate, summed over the K·H "
                "coordinates and averaged over the K prompts), so KL is linear in H by construction. Window fixed "
                "before the run: expected squared norm of the unconstrained MLE 4K²p/(nB²) <= 1/2. Tolerance "
                "(written before the run): the relative standard error of a mean of R replicates of a "
                "χ²_d-like KL is sqrt(2/(dR)) <= 0.025 at d = 16, R = 200, and the O(K/n) correction is "
                "below 0.01, so 0.1 is at least 4 standard errors (false-fail rate below 1e-3 over the cells). "
                f"Mean KL / (d/(2n)) per H: {dict(zip(win, np.round(kl / count, 4).tolist()))}. "
                "Replaces 'kl-grows-like-H' (exponent 1 ± 0.1, a prediction citing Prop. 3.2 and Remark 3.1): "
                "those statements' mechanism is missing mass on rare prompts, absent here, and the slope is the "
                "parameter count, true by construction."))
    # Local growth of coverage in sigma_star^2 (not a consequence of an upper bound).
    hs = sorted(r["H"] for r in dense if r["n"] == n_top)
    sel = [_cell(dense, n=n_top, H=h) for h in hs]
    x, reps = _usable([r["sigma2"] for r in sel], [_cov(r, 0) for r in sel])
    out.append(exponent_claim(
        f"{NAME}/coverage-growth-vs-sqrt-sigma", REF,
        f"σ²⋆ ≍ H family (B = {config.B:g}), n = {n_top}: E Cov_{config.Ns[0]:g}(π̂) grows no faster than sqrt(σ²⋆) "
        f"(σ²⋆ in {x.tolist()}, where mean coverage >= {FLOOR:g})", x, reps, predicted=0.5, mode="at_most",
        evaluation="monte_carlo", exploratory=True, conditions=_conditions(config, sel),
        few_points_reason=_few(x, "points with mean coverage below the floor are dropped (the Gaussian tail)"),
        details="Exploratory: Theorem 4.2 bounds the level of coverage, not its local growth. Analysis: at the onset "
                "of the Gaussian tail coverage rises faster than any power of σ²⋆, then stops at the norm cap; "
                "the bound with one constant (the pilot-constant claims) is what the theorem predicts."))

    # (b) fixed sigma_star^2 and B; H and d = K H grow, untied weak positions (the ball controls them);
    # (c) fixed B, sigma_star^2, H: d up to >> n, n large enough that the pivotal block leaves the ball slack.
    # Each at theta_star = 0 (the ball's centre) and on the sphere ||theta_star|| = 1.
    for suffix in ("", "-sphere"):
        out += _fixed_claims(config, records, suffix) + _width_claims(config, records, suffix)

    # (d) the bound with the pilot constant, held on the other families at every (n, H or d, N).
    held = [(fam, False, [r for r in records if r["family"] == fam])
            for fam in ("fixed", "width", "fixed-sphere", "width-sphere")]
    held += [(f"dense-B{b:g}", True, [r for r in records if r["family"] == "dense" and r["B"] == b])
             for b in config.dense_Bs if b != config.B]
    for label, expl, recs in held:
        pts = [(r, j, N) for r in recs for j, N in enumerate(config.Ns)]
        ratios = {f"n={r['n']},H={r['H']},g={r['groups']},N={N:g}": round(float(_cov(r, j).mean() / _bound(r, N)), 4)
                  for r, j, N in pts}
        claim = bound_claim(
            f"{NAME}/pilot-constant/{label}", REF,
            f"{label} family: E Cov_N(π̂) <= C (sqrt(σ²⋆/(n log N)) + B²/n) with the pilot family's C, at every "
            "(n, H, d, N) of the family", bound=[c_hat * _bound(r, N) for r, j, N in pts],
            constants=f"C = {c_hat:.4f} fitted on the pilot family; σ²⋆ exact (closed form), B the feature-norm bound",
            replicates=[_cov(r, j) for r, j, N in pts], evaluation="monte_carlo", power_over="any",
            labels=list(ratios), exploratory=expl, conditions=_conditions(config, recs),
            details=pilot_txt + " " + _bound_text(recs, config.Ns[0]) + f" (N = {config.Ns[0]:g}). Theorem 4.2 is a "
                    "universal inequality with one constant, so the points are instances of one statement (power: "
                    "maximum over points). Ratio E Cov/bound (C = 1) per point: " + str(ratios) + "."
                    + (" Exploratory: at this B the largest ratio is about half the pilot's in prototypes, so no "
                       "point can reject C/2 (how tight the bound is across B is not stated by the paper)."
                       if expl else ""))
        if label == "width-sphere":
            claim = _width_sphere_power_note(config, claim, pts, c_hat)
        if config.preset == "quick" and label == "width-sphere":
            claim = not_run_in_quick(claim, reason=(
                "its most critical point lies only a few per cent above half the pilot's bound, which takes the "
                "full preset's replicates to resolve (the design computation is in the details; the quick preset "
                "has 200)"))
        out.append(claim)

    # Shapes the bound does not attain (exploratory, analysis in the module docstring).
    if len(config.dense_ns) >= 4:
        h0 = 128 if 128 in config.dense_horizons else max(config.dense_horizons)
        sel = [_cell(dense, n=n, H=h0) for n in config.dense_ns]
        x, reps = _usable(config.dense_ns, [_cov(r, 0) for r in sel])
        out.append(exponent_claim(
            f"{NAME}/decay-in-n", REF, f"σ²⋆ ≍ H family, H = {h0}: E Cov_{config.Ns[0]:g}(π̂) decays like n^(-1/2) "
            f"(n in {x.astype(int).tolist()}, where mean coverage >= {FLOOR:g})", x, reps, predicted=-0.5,
            evaluation="monte_carlo", exploratory=True, conditions=_conditions(config, sel),
            few_points_reason=_few(x, "points with mean coverage below the floor are dropped (the Gaussian tail)"),
            details="Exploratory: tightness of the sqrt term is not a theorem. Analysis: a plateau capped by B while "
                    "the ball binds, then a Gaussian tail faster than any power of n."))
    rec = top
    x, reps = _usable(np.log(np.array(config.Ns)), [_cov(rec, j) for j in range(len(config.Ns))])
    out.append(exponent_claim(
        f"{NAME}/sqrt-log-N", REF, f"the pilot's tightest cell, n = {rec['n']}, H = {rec['H']}: E Cov_N(π̂) ∝ "
        "(log N)^(-1/2)",
        x, reps, predicted=-0.5, evaluation="monte_carlo", exploratory=True,
        few_points_reason="three thresholds: coverage at N >= 16 is below the Monte Carlo resolution on this instance",
        conditions=_conditions(config, [rec]),
        details="Exploratory: the (log N)^(-1/2) factor is an upper-bound shape; a Gaussian tail in log N falls faster."))

    residuals = [r["residual"] for r in records]
    out.append(sanity_claim(f"{NAME}/mle-kkt", REF,
                            "the separable ball MLE is a maximiser: first-order residual <= 1e-8 in every replicate",
                            max(residuals), 0.0, tolerance=KKT_TOL,
                            details=f"{len(records)} cells x {config.replicates} replicates; max residual "
                                    f"{max(residuals):.3g}; max ||θ̂|| {max(r['theta_norm'] for r in records):.6f}."))
    return out


def plot(config, records, out_dir):
    from simulations.plots import COV, save_figure

    paths = []
    dense = [r for r in records if r["family"] == "dense" and r["B"] == config.B]
    hs = np.array(config.dense_horizons, float)
    series, styles = {}, {}
    for j, n in enumerate(config.dense_ns):  # each n's data and rate share a colour
        sel = [_cell(dense, n=n, H=int(h)) for h in hs]
        key = f"$E\\,${COV.format(N='2')}, $n = {n}$"
        series[key], styles[key] = np.array([_cov(r, 0).mean() for r in sel]), f"C{j}-o"
        key = f"Theorem 4.2 rate, $C = 1$ (shape), $n = {n}$"
        series[key], styles[key] = np.array([_bound(r, 2.0) for r in sel]), f"C{j}--"
    fig = line_plot(hs, series, xlabel=r"$H$  ($\sigma_\star^2 = H B^2/4$)", ylabel="exact coverage", logx=True,
                    logy=True, styles=styles,
                    title=(f"Theorem 4.2, $\\sigma_\\star^2 \\asymp H$ family ($B = {config.B:g}$, "
                           f"$K = {config.n_prompts}$)"))
    paths.append(save_figure(fig, out_dir / "linear_mle_dense.png"))
    series, styles = {}, {}
    for i, n in enumerate(config.fixed_ns):
        for suffix, star, mark in (("", "0", "o-"), ("-sphere", "1", "s--")):
            key = f"$E\\,${COV.format(N=f'{config.Ns[0]:g}')}, $n = {n}$, $\\|\\theta_\\star\\| = {star}$"
            series[key] = np.array([_cov(_cell(records, family="fixed" + suffix, n=n, H=h), 0).mean()
                                    for h in config.fixed_horizons])
            styles[key] = f"C{i}{mark}"
    fig = line_plot(np.array(config.fixed_horizons, float), series, xlabel="$H$  ($d = KH$)",
                    ylabel="coverage (Monte Carlo)", logx=True, logy=True, styles=styles,
                    title=r"Theorem 4.2 at fixed $\sigma_\star^2$ and $B$ (untied weak positions)")
    paths.append(save_figure(fig, out_dir / "linear_mle_fixed.png"))
    return paths
