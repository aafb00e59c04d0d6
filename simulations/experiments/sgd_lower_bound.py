r"""Prop. 5.1's lower bound: vanilla SGD needs H-dependent samples; normalized SGD does not.

For every constant step size :math:`\eta = c\cdot 8/(HB)` on a grid spanning both regimes
(:math:`c \ge 1`: Lemma K.6 / I.6; :math:`c < 1`: Lemma K.7 / I.7), vanilla sequence-level
SGD (Eq. (8) ICLR / (14) arXiv) is run on the instance built against that step size
(:func:`theory.instances.sgd_lower_bound_instance`), ``R`` replicates in one array
operation.  The coverage of **every iterate** is evaluated exactly (certified to
``1e-13``: the instances have i.i.d. tokens, :class:`theory.iid_tokens.IidTokenLaw`), so
the average-iterate coverage :math:`\frac1T\sum_{t<T}\mathrm{Cov}_N(\pi_{\theta_t})` has no
evaluation error; the only randomness is the data stream (replicates).

Claims (Prop. 5.1, Eq. (16) arXiv: :math:`\mathrm{Cov}_N \ge c\min\{1, H/(T\log N)\}` for
every constant step, and tight by the upper bound's :math:`B^2H/T`):

* ``vanilla-best-eta-slope-in-H`` / ``-in-logN``: the best-over-:math:`\eta` coverage grows
  like ``H`` and decays like :math:`1/\log N` (exponents 1 and -1, tolerance 0.1).  The grid
  starts at ``H = 128``: the noise-free dynamics of the mechanism
  (:func:`_derived_k7_coverage`) have slope :math:`d\log(H/\log N - 1)/d\log H > 1` at
  small ``H`` — 1.21 on the old quick grid ``H = 16..64`` (the measured 1.21 and 1.26 at
  seeds 7 and 8, against a tolerance of 0.15, were this finite-size correction, not noise
  or selection: the best step factor was 1/2 at every ``H`` and seed), 1.04 on the full grid.
* ``k6-every-iterate-uncovered`` (sanity): on Lemma K.6's instances every iterate has
  :math:`\mathrm{Cov}_N \ge 1 - 1/(2T)` in every run — the lemma's deterministic conclusion on
  its event (all tokens 0), whose probability :math:`\ge 1 - TH\epsilon_1` is 1 to machine
  precision here: a check of the construction, not a statistical claim.
* Normalized SGD (Eq. (10) ICLR / (17) arXiv) with :math:`\lambda = \log N/(16\eta)`,
  minibatch ``K`` and an ``H``-free step :math:`\eta = (\log N/T)^{1/4}` (Theorem 5.1's choice
  with :math:`\sigma_\star^2 \le 1`) **without** the proof's cap :math:`\eta \le 1/(128B)`
  (equivalently :math:`\lambda \ge 8B\log N`): with this class's ``B = 4096`` the cap would
  freeze the iterates (the theorem's rate is vacuous here, :math:`B/(K\log N) \approx 250`).
  The claims say so in their ids (``nsgd-uncapped-...``) and ``conditions``, and they are
  **exploratory**: outside the theorem's hypotheses it makes no prediction, and the average
  is decided by the first iterates (average coverage x ``T`` of 3–4: the uncovered start plus
  one to four normalized steps, identical in every replicate).  The comparison with vanilla
  SGD is per step (``K`` sequences per normalized step); its details also give the
  matched-samples numbers (normalized SGD's average over its first ``T // K`` steps).
  Theorem 5.1 under its own conditions is tested in ``sgd-rates``.

Instance parameters (derived in :mod:`theory.instances.sgd`, checked against the paper text):
``B = 4096`` (step-size threshold :math:`8/(HB)`), :math:`\bar B = 40` (features of the
prompts ``±``; :math:`\sigma_\star^2 \le 0.01` at ``H = 2048``), :math:`\mu(+) = 1/2` and
:math:`\theta_0 = 0` (the lower bound then comes from the dynamics — each prompt needs
:math:`k_\star \approx 1/(\eta\bar B^2\log N)` visits — rather than from the proof's prompt
mass :math:`\mu(+) \propto H/T`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.claims import comparison_claim, condition, exponent_claim, sanity_claim
from simulations.experiments.contract import Task
from simulations.learners.optimizers import chain, normalized_sgd, project_l2_ball, sgd
from simulations.plots import line_plot
from theory.instances import lemma_k6, lemma_k7
from theory.instances.sgd import lemma_k7_mu_plus

from ._optimizers_common import (TOPIC, assumption_conditions, coverage_metric, instance_geometry, mean_and_band,
                                 nsgd_conditions, run_coverage,
                                 split_replicates)

NAME = "sgd-lower-bound"
PAPER_REF = "Prop. 5.1 lower bound (Eq. (16) arXiv), Lemmas K.6/K.7 (ICLR) = I.6/I.7 (arXiv); Theorem 5.1"
TITLE = "Vanilla SGD's coverage grows with H at every step size (normalized SGD without the step cap: exploratory)"
TOPIC = TOPIC


@dataclass(frozen=True)
class Config:
    """Grid and instance parameters.

    Attributes
    ----------
    H_values : tuple of int
        Sequence lengths.
    T : int
        Steps per run.
    replicates : int
        Independent runs per (H, step size, optimizer).
    eta_factors : tuple of float
        Step sizes :math:`\\eta = c\\cdot 8/(HB)`; ``c >= 1`` uses Lemma K.6's instance.
    B, B_bar, mu_plus : float
        Instance parameters (see the module docstring).
    N_values : tuple of float
        Thresholds evaluated (the log N claim spans ``log N`` by a factor >= 8); ``N_main`` is
        the one of the other claims.
    nsgd_batch : int
        ``K`` of normalized SGD.
    average_fractions : tuple of float
        Horizons ``T' = f T`` of the running averages (figure only).
    preset : str
        ``"full"`` or ``"quick"``.
    """

    H_values: tuple = (128, 256, 512, 1024, 2048)
    T: int = 50_000
    replicates: int = 32
    eta_factors: tuple = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0, 2.0, 4.0)
    B: float = 4096.0
    B_bar: float = 40.0
    mu_plus: float = 0.5
    N_values: tuple = (3.0, 8.0, 16.0, 256.0, 65536.0)
    N_main: float = 8.0
    nsgd_batch: int = 8
    average_fractions: tuple = (0.01, 0.03, 0.1, 0.3, 1.0)
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(H_values=(128, 256, 512, 1024), T=3000, replicates=12,
                   average_fractions=(0.125, 0.25, 0.5, 1.0), preset="quick")

    @classmethod
    def full(cls):
        return cls()

    @property
    def average_at(self):
        """Horizons of the running averages: the figure's fractions of ``T``, and ``T // K`` (normalized
        SGD's average over ``T // K`` steps reads ``K (T // K) <= T`` sequences, vanilla's sample count)."""
        return sorted({max(1, int(round(f * self.T))) for f in self.average_fractions} | {self.T // self.nsgd_batch})

    @property
    def nsgd_eta(self):
        return float((np.log(self.N_main) / self.T) ** 0.25)


def _eta(config, H, c):
    return c * 8.0 / (H * config.B)


def tasks(config):
    out, cell = [], 0
    small = [c for c in config.eta_factors if c < 1]
    large = [c for c in config.eta_factors if c >= 1]
    for H in config.H_values:
        specs = [{"optimizer": "sgd", "instance": "K.7", "eta_factors": small}]
        specs += [{"optimizer": "sgd", "instance": "K.6", "eta_factors": [c]} for c in large]
        specs += [{"optimizer": "nsgd", "instance": "K.7", "eta_factors": []}]
        specs += [{"optimizer": "nsgd", "instance": "K.6", "eta_factors": [c]} for c in large]
        for spec in specs:
            out.append(Task(cell=cell, rep=0, params={"H": int(H), **spec}))
            cell += 1
    return out


def _instance(config, H, kind, c):
    if kind == "K.7":
        return lemma_k7(H, config.B, config.B_bar, mu_plus=config.mu_plus)
    return lemma_k6(_eta(config, H, c), H, config.B)


def run_task(config, task, *, rng):
    p = task.params
    H, kind, factors = p["H"], p["instance"], p["eta_factors"]
    R = config.replicates
    common = dict(T=config.T, rng=rng, N_values=config.N_values, average_at=config.average_at)
    base = {"H": H, "instance": kind, "optimizer": p["optimizer"], "T": config.T}
    if p["optimizer"] == "sgd":
        inst = _instance(config, H, kind, factors[0])
        lr = np.repeat([_eta(config, H, c) for c in factors], R)[:, None]
        opt = chain(sgd(lr), project_l2_ball(1.0))
        summary = run_coverage(inst, opt, replicates=R * len(factors), **common)
        return [{**base, **part, "eta_factor": c, "eta": _eta(config, H, c), "batch": 1,
                 "sigma_star_sq": inst.data.sigma_star_sq(), "geometry": instance_geometry(inst)}
                for c, part in zip(factors, split_replicates(summary, len(factors)))]
    eta = config.nsgd_eta
    lam = float(np.log(config.N_main) / (16 * eta))
    inst = _instance(config, H, kind, factors[0] if factors else None)
    opt = chain(normalized_sgd(eta, lam), project_l2_ball(1.0))
    summary = run_coverage(inst, opt, replicates=R, batch=config.nsgd_batch, **common)
    return [{**base, **summary, "eta_factor": factors[0] if factors else None, "eta": eta,
             "lam": lam, "batch": config.nsgd_batch, "sigma_star_sq": inst.data.sigma_star_sq(),
             "geometry": instance_geometry(inst)}]


# ------------------------------------------------------------------------------ analysis
def _derived_k7_coverage(config, H, c):
    """[derived] Noise-free prediction of the average-iterate coverage on Lemma K.7's instance.

    Each prompt's coordinate follows the deterministic recursion of all-ones sequences,
    theta <- theta + eta H B_bar (1 - E_theta[a]), one step per visit; the k-th visit of a
    prompt of mass mu happens after ~k/mu steps, so the average over T iterates is
    sum_x sum_k Cov_x(theta_k) / T (per-prompt coverage exact).
    """
    from theory.iid_tokens import iid_token_log_probs, iid_token_tables

    inst = lemma_k7(H, config.B, config.B_bar, mu_plus=config.mu_plus)
    table = iid_token_tables(inst.data)
    _, law = coverage_metric(inst.data, (config.N_main,))
    eta, bb, total = _eta(config, H, c), config.B_bar, 0.0
    theta = 0.0
    for k in range(config.T):
        th = np.array([theta, theta])
        lo, _ = law.per_prompt_coverage(iid_token_log_probs(table, th), config.N_main)
        total += lo.sum()                                   # both prompts follow the same path
        if lo.max() < 1e-12:
            break
        ea = (np.exp(bb * theta) - np.exp(-bb * theta)) / (np.exp(bb * theta) + 1 + np.exp(-bb * theta))
        theta = theta + eta * H * bb * (1 - ea)
    return total / config.T



def _at(rec, config, key="cov_lo", N=None, T_index=-1):
    j = config.N_values.index(config.N_main if N is None else N)
    return np.asarray(rec[key])[:, T_index, j]


def _best_vanilla(config, records, H, **kw):
    recs = [r for r in records if r["optimizer"] == "sgd" and r["H"] == H]
    means = [(_at(r, config, **kw).mean(), r) for r in recs]
    return min(means, key=lambda m: m[0])[1]


def _worst_nsgd(config, records, H, **kw):
    recs = [r for r in records if r["optimizer"] == "nsgd" and r["H"] == H]
    means = [(_at(r, config, **kw).mean(), r) for r in recs]
    return max(means, key=lambda m: m[0])[1]


def _lower_bound_conditions(config, records):
    Hs, T = np.asarray(config.H_values, float), config.T
    s2 = max(r["sigma_star_sq"] for r in records if r["optimizer"] == "sgd")
    lc = np.log(T * Hs.max()) ** 2
    logn = np.log(max(config.N_values))
    return assumption_conditions([r["geometry"] for r in records], config.B) + [
        condition("B >= c log^2(T H) (Prop. 5.1 lower bound)",
                  f"B = {config.B:g}, log^2(T H_max) = {lc:.4g}, B / log^2(T H_max) = {config.B / lc:.3g}", None,
                  f"unknown: the absolute constant c is not given; the condition holds iff c <= "
                  f"{config.B / lc:.3g}"),
        condition("sigma_* <= 1 on every instance", f"max sigma_*^2 = {s2:.3g}", bool(s2 <= 1)),
        condition("Lemma K.7 / I.7: eta <= 8/(H B)", f"c = eta H B / 8 in {[c for c in config.eta_factors if c < 1]}", True),
        condition("Lemma K.6 / I.6: eta >= 8/(H B)", f"c in {[c for c in config.eta_factors if c >= 1]}", True),
        condition("log N <= H B_bar / 8 (Lemmas K.6, K.7)", f"max log N = {logn:.3g}, min H B_bar / 8 = "
                  f"{Hs.min() * config.B_bar / 8:g}", bool(logn <= Hs.min() * config.B_bar / 8)),
        condition("B >= B_bar (Lemma K.7 / I.7)", f"B = {config.B:g}, B_bar = {config.B_bar:g}", bool(config.B >= config.B_bar)),
        condition("Lemma K.7 / I.7's prompt mass mu(+) = min{1, H B / (512 e T B_bar^2 log N)}",
                  f"mu(+) = {config.mu_plus:g}; the lemma's at (H, T, N) = ({int(Hs.min())}, {T}, {config.N_main:g}): "
                  f"{float(lemma_k7_mu_plus(int(Hs.min()), config.B, config.B_bar, T, config.N_main)):.3g}",
                  False, id_tag="k7-variant",
                  note="replaced by mu(+) = 1/2: the lower bound then comes from the dynamics (each prompt "
                       "needs k* ~ 1/(eta B_bar^2 log N) visits; derived prediction in details) rather than "
                       "from the rare prompt; the id says 'k7-variant'"),
        condition("Lemma K.7 / I.7's start theta_0 = [r - 1/B_bar; 1/4] with e^(r B_bar) = H/(4 log N)",
                  "theta_0 = 0", False, id_tag="k7-variant",
                  note="replaced by theta_0 = 0 (with mu(+) = 1/2, the instance's own dynamics carry the "
                       "lower bound); the id says 'k7-variant'"),
    ]


def claims(config, records):
    Hs = list(config.H_values)
    Hmax = Hs[-1]
    out = []
    lb_cond = _lower_bound_conditions(config, records)
    best = [_best_vanilla(config, records, H) for H in Hs]
    reps = [_at(r, config) for r in best]
    derived = [_derived_k7_coverage(config, H, r["eta_factor"]) if r["instance"] == "K.7" else np.nan
               for H, r in zip(Hs, best)]
    derived_slope = float(np.polyfit(np.log(Hs), np.log(derived), 1)[0]) if np.all(np.isfinite(derived)) else np.nan
    out.append(exponent_claim(
        f"{NAME}/k7-variant/vanilla-best-eta-slope-in-H", PAPER_REF,
        "min over constant step sizes of vanilla SGD's average-iterate Cov_N grows linearly in H "
        "(>= c min{1, H/(T log N)}, tight by the upper bound's B^2 H/T), on a Lemma K.7-style instance with "
        f"mu(+) = {config.mu_plus:g} and theta_0 = 0 (not the lemma's prompt mass and start)", Hs, reps,
        predicted=1.0, mode="equal", tolerance=0.1, evaluation="exact", conditions=lb_cond,
        details=(f"N = {config.N_main:g}, T = {config.T}, {config.replicates} replicates per step size; best step "
                 f"factors c = {[r['eta_factor'] for r in best]} (eta = c 8/(HB)); coverage of every iterate exact "
                 f"(certified to {max(r['law_dropped'] for r in best):.1g}). Finite-size check written with the grid: "
                 f"the noise-free derived dynamics of the mechanism give {', '.join(f'{d:.3g}' for d in derived)} "
                 f"(slope {derived_slope:.3f}) against measured means {', '.join(f'{np.mean(r):.3g}' for r in reps)}."),
        revised_from=("exponent 1 with tolerance 0.15 on H = 16, 32, 64 (quick) and 32..512 (full); it failed at "
                      "quick seed 8 (1.26 [1.17, 1.34]) and measured 1.21 at seed 7: the noise-free derived dynamics "
                      "have slope 1.21 on that grid (the -1 of H/log N - 1), a finite-size correction larger than the "
                      "tolerance; the grid now starts where the derived slope is within 0.05 of 1")))

    rH = best[-1]
    logn = np.log(np.asarray(config.N_values))
    out.append(exponent_claim(
        f"{NAME}/k7-variant/vanilla-best-eta-slope-in-logN", PAPER_REF,
        f"at H = {Hmax}, the best step size's average-iterate Cov_N decays like 1/log N (Lemma K.7-style instance, "
        f"mu(+) = {config.mu_plus:g}, theta_0 = 0: not the lemma's prompt mass and start)",
        logn, [_at(rH, config, N=N) for N in config.N_values], predicted=-1.0, tolerance=0.1,
        evaluation="exact", conditions=lb_cond,
        details=f"N in {list(config.N_values)} (log N spans a factor {logn.max() / logn.min():.3g}), T = {config.T}, "
                f"step factor c = {rH['eta_factor']}"))

    # Lemma K.6: on its event the iterates are deterministic; every run must keep Cov_N >= 1 - 1/(2T)
    k6 = [r for r in records if r["optimizer"] == "sgd" and r["instance"] == "K.6"]
    j = config.N_values.index(config.N_main)
    bad, lines = 0, []
    for r in k6:
        mins = np.asarray(r["min_cov_lo"])[:, j]
        n_bad = int((mins < 1 - 1 / (2 * config.T)).sum())
        bad += n_bad
        lines.append(f"H={r['H']},c={r['eta_factor']:g}: {len(mins) - n_bad}/{len(mins)}")
    out.append(sanity_claim(
        f"{NAME}/k6-every-iterate-uncovered", "Lemma K.6 (ICLR) / I.6 (arXiv)",
        "Lemma K.6's construction: for eta >= 8/(HB) every iterate of every run has Cov_N >= 1 - 1/(2T) "
        "(the lemma's conclusion on its event, all tokens 0, of probability >= 1 - T H eps_1 = 1 to machine precision)",
        bad, 0, tolerance=0, evaluation="exact",
        details=("runs whose minimum over all T iterates of the exact Cov_N (N = "
                 f"{config.N_main:g}) is below 1 - 1/(2T), out of {sum(len(r['min_cov_lo']) for r in k6)}; "
                 "per (H, c), runs above: " + "; ".join(lines))))

    worst = [_worst_nsgd(config, records, H) for H in Hs]
    labels = [r["instance"] + ("" if r["eta_factor"] is None else f"(c={r['eta_factor']:g})") for r in worst]
    nr = [r for r in records if r["optimizer"] == "nsgd"]
    T, K = config.T, config.nsgd_batch
    worst_means = [float(_at(r, config).mean()) for r in worst]
    cond = nsgd_conditions(
        eta=[r["eta"] for r in nr], lam=[r["lam"] for r in nr], B=config.B, N=config.N_main,
        K=K, T=T, sigma_sq=[r["sigma_star_sq"] for r in nr], geometry=[r["geometry"] for r in nr], capped=False,
        cov_T=[m * T for m in worst_means],
        cap_note=("dropped: with the class's B = 4096 the cap eta <= 1/(128 B) = 1.9e-6 would freeze the iterates "
                  "for any feasible T; this claim tests normalization with a larger, H-free step (the id says "
                  "'uncapped'); sgd-rates tests Theorem 5.1 under its own conditions"))
    n_reps = [_at(r, config) for r in worst]
    spread = max(float(np.ptp(v)) for v in n_reps)
    why = (f"Exploratory, why: the step cap is dropped, so Theorem 5.1 makes no prediction here (its bias term "
           f"B/(K log N) = {config.B / (K * np.log(config.N_main)):.3g} and its bound are vacuous on this class); and "
           f"the average is decided by the first iterates: worst-case average coverage x T by H = "
           f"{', '.join(f'{m * T:.3g}' for m in worst_means)} (the uncovered start and the first one to four "
           f"normalized steps; largest spread over replicates {spread:.3g}, so a zero-width bootstrap can report "
           f"power 1 with nothing measured). Earlier this claim was binding with the same rule (review finding, "
           "not a failing run); a redesign with coverage x T >= 100 would need a step cap this class cannot take.")
    out.append(exponent_claim(
        f"{NAME}/nsgd-uncapped-worst-instance-flat-in-H", "Theorem 5.1 (Eq. (11) ICLR / (19) arXiv), step cap dropped",
        "exploratory: normalized SGD (lambda = log N/(16 eta), H-free eta = (log N/T)^(1/4) WITHOUT the proof's cap "
        "eta <= 1/(128 B), minibatch K): does its worst-case average-iterate Cov_N over the same instances grow no "
        "faster than H^0?", Hs, n_reps, predicted=0.0, mode="at_most", tolerance=0.1,
        evaluation="exact", exploratory=True, conditions=cond,
        details=(f"eta = {config.nsgd_eta:.4g}, K = {K}, worst instance per H: {labels}; means "
                 f"{', '.join(f'{m:.4g}' for m in worst_means)}. " + why)))

    v, w = _at(best[-1], config), _at(worst[-1], config)
    m_steps = T // K
    w_match = _at(worst[-1], config, T_index=list(worst[-1]["average_at"]).index(m_steps))
    out.append(comparison_claim(
        f"{NAME}/nsgd-uncapped-beats-best-vanilla-at-largest-H", PAPER_REF + "; step cap of Theorem 5.1 dropped",
        (f"exploratory, per step (NSGD reads K = {K} sequences per step, vanilla one): at H = {Hmax}, is normalized "
         "SGD's worst-case coverage (step cap dropped) after T steps below vanilla SGD's best-over-step-size "
         "coverage after T steps?"), w, v, better="lower", names=("normalized SGD (uncapped)", "vanilla SGD"),
        evaluation="monte_carlo", exploratory=True, conditions=cond,
        details=(f"replicate means: NSGD {w.mean():.4g} ({labels[-1]}), vanilla {v.mean():.4g} "
                 f"(c = {best[-1]['eta_factor']}); ratio {v.mean() / max(w.mean(), 1e-300):.3g}. At matched samples "
                 f"(NSGD over its first T // K = {m_steps} steps, {K * m_steps:,} sequences, against vanilla's {T:,}): "
                 f"NSGD {w_match.mean():.4g}, vanilla {v.mean():.4g}. " + why)))
    return out


def plot(config, records, out_dir):
    from simulations.plots import COV, save_figure

    cov = COV.format(N=f"{config.N_main:g}")
    Hs = np.array(config.H_values, dtype=float)
    best = [_best_vanilla(config, records, int(H)) for H in Hs]
    worst = [_worst_nsgd(config, records, int(H)) for H in Hs]
    mv, bv = mean_and_band([_at(r, config) for r in best])
    mn, bn = mean_and_band([_at(r, config) for r in worst])
    ref = Hs / (config.T * np.log(config.N_main))
    pos = mv > 0
    ref = ref * np.exp(np.mean(np.log(mv[pos])) - np.mean(np.log(ref[pos]))) if pos.any() else ref
    van, nsgd, shape = ("vanilla SGD, best step size", "normalized SGD (step cap dropped), worst instance",
                        r"$H/(T\log N)$ (shape, scaled)")
    fig = line_plot(Hs, {van: mv, nsgd: mn, shape: ref}, bands={van: bv, nsgd: bn}, styles={shape: "k--"},
                    logx=True, logy=True, xlabel="$H$", ylabel=f"average-iterate {cov} (exact)",
                    title=f"Prop. 5.1: coverage vs $H$ ($T = {config.T}$)")
    paths = [save_figure(fig, out_dir / "sgd_lower_bound_vs_H.png")]
    factors = np.array(config.eta_factors, dtype=float)
    series = {}
    for H in config.H_values:
        vals = []
        for c in factors:
            r = [r for r in records if r["optimizer"] == "sgd" and r["H"] == H and r["eta_factor"] == c]
            vals.append(_at(r[0], config).mean() if r else np.nan)
        series[f"$H = {H}$"] = np.array(vals)
    fig = line_plot(factors, series, logx=True, logy=True,
                    xlabel=r"$\eta\,/\,(8/(HB))$  ($\geq 1$: Lemma K.6 instance)",
                    ylabel=f"average-iterate {cov} (exact)", title="Vanilla SGD at every constant step size")
    paths.append(save_figure(fig, out_dir / "sgd_lower_bound_vs_eta.png"))
    avg = np.asarray(best[-1]["average_at"], dtype=float)
    tv = np.asarray(best[-1]["cov_lo"])[:, :, config.N_values.index(config.N_main)].mean(0)
    tn = np.asarray(worst[-1]["cov_lo"])[:, :, config.N_values.index(config.N_main)].mean(0)
    fig = line_plot(avg, {van: tv, nsgd: tn, "$1/T'$ (shape)": tv[-1] * avg[-1] / avg},
                    styles={"$1/T'$ (shape)": "k--"}, logx=True, logy=True, xlabel="$T'$",
                    ylabel=r"$(1/T')\,\sum_{t<T'}$" + cov + " (exact)",
                    title=f"$H = {config.H_values[-1]}$: running averages")
    paths.append(save_figure(fig, out_dir / "sgd_lower_bound_vs_T.png"))
    return paths
