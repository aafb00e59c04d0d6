r"""Parts C and D of ``sgd-rates`` (see :mod:`simulations.experiments.sgd_rates`): Theorem 5.1 on
the rare-event family (:func:`theory.instances.rare_event_instance`), trained on class counts.

* :func:`run_rare_event`: one optimizer at one ``H``, exact coverage and KL of every iterate;
* :func:`rare_event_claims` (part C, start rate 11) and :func:`growing_start_claims` (part D,
  start rate ``H/2``: ``H`` enters the dynamics);
* small record helpers shared with :mod:`~simulations.experiments.sgd_rates`.
"""

from __future__ import annotations

import numpy as np

from simulations.claims import as_exploratory, as_sanity, bound_claim, comparison_claim, condition, exponent_claim, not_run_in_quick, revision
from simulations.learners.optimizers import chain, normalized_sgd, project_box, sgd
from simulations.learners.pooled import TokenClasses, train_lumped
from theory.iid_tokens import IidTokenLaw
from theory.instances import rare_event_instance
from theory.rates import (normalized_sgd_coverage_rate, normalized_sgd_explicit_bound,
                          normalized_sgd_parameters, sgd_step_size)

from ._optimizers_common import instance_geometry, nsgd_conditions, sgd_upper_conditions

NAME = "sgd-rates"


def cov(rec):
    """Per-replicate average-iterate coverage (lower end) over all ``T`` iterates of a record."""
    return np.asarray(rec["cov_lo"])[:, -1, 0]


def kl(rec):
    """Per-replicate average-iterate KL over all ``T`` iterates of a record."""
    return np.asarray(rec["kl"])[:, -1]


def local_slope(x, y):
    """OLS slope of ``log y`` on ``log x`` (the local exponent of a curve on the grid)."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def fmt_values(values):
    """Comma-separated 4-significant-digit values (claim details)."""
    return ", ".join(f"{float(v):.4g}" for v in values)


def part_records(records, part):
    """The records of one part (``"nsgd"``, ``"re-sgd"``, ``"gs-nsgd"``, ...), sorted by ``H``."""
    return sorted([r for r in records if r["part"] == part], key=lambda r: r["H"])


def cov_at(rec, steps):
    """Per-replicate average-iterate coverage over the first ``steps`` iterates (a recorded horizon)."""
    return np.asarray(rec["cov_lo"])[:, list(rec["average_at"]).index(int(steps)), 0]



def re_instance(config, H):
    """Part C: the rare-event family started at a rare-token rate ``re_start_rate``."""
    return rare_event_instance(H, rate=config.re_rate, start_rate=config.re_start_rate, B=config.re_B)


def gs_instance(config, H):
    """Part D: the rare-event family started at a rare-token rate ``a_0 = gs_start_fraction * H``."""
    return rare_event_instance(H, rate=config.gs_rate, start_rate=config.gs_start_fraction * H, B=config.gs_B)


def run_rare_event(config, p, rng):
    """Parts C and D: one optimizer at one ``H`` on the class counts; exact coverage and KL of every iterate."""
    H = p["H"]
    if p["part"].startswith("gs-"):
        T, B, N, K_n, R = config.gs_T, config.gs_B, config.gs_N, config.gs_K, config.gs_replicates
        inst = gs_instance(config, H)
    else:
        T, B, N, K_n, R = config.re_T, config.re_B, config.re_N, config.re_K, config.re_replicates
        inst = re_instance(config, H)
    data = TokenClasses(inst.data)
    s2 = inst.params["sigma_sq"]
    law = IidTokenLaw(data.data_log_probs(), H, data.prompt_weights, drop=1e-13)

    def metric(thetas):
        lq = data.log_probs(thetas)
        lo, hi = law.coverage(lq, [N])
        return np.concatenate([lo, hi, law.kl(lq)[..., None]], axis=-1)

    if p["part"].endswith("-sgd"):
        eta, lam, K = float(sgd_step_size(T, H=H, sigma_sq=s2, B=B)), None, 1
        opt = chain(sgd(eta), project_box(-1.0, 1.0))
    else:
        eta, lam = (float(v) for v in normalized_sgd_parameters(T, N=N, sigma_sq=s2, B=B))
        lam = lam * p.get("lam_factor", 1.0)          # != 1 only in tests (negative controls)
        K = K_n
        opt = chain(normalized_sgd(eta, lam), project_box(-1.0, 1.0))
    avg = sorted({max(1, T // K_n), T})
    res = train_lumped(data, inst.model_class.theta, opt, T=T, rng=rng, batch=K,
                       replicates=R, average_at=avg, iterate_metric=metric)
    start = metric(np.asarray(inst.model_class.theta, float)[None, None])[0, 0]
    return [{"part": p["part"], "H": H, "T": T, "eta": eta, "lam": lam, "batch": K,
             "sigma_star_sq": s2, "m": inst.params["m"], "theta_star": inst.params["theta_star"],
             "theta_init": inst.params["theta_init"], "start_cov": [float(start[0]), float(start[1])],
             "start_kl": float(start[2]), "evaluation": law.evaluation, "law_points": int(law.counts.shape[1]),
             "average_at": [int(a) for a in res.average_at],
             "cov_lo": res.metric_means[..., :1].tolist(), "cov_hi": res.metric_means[..., 1:2].tolist(),
             "kl": res.metric_means[..., 2].tolist(),
             "final_cov_hi": res.metric_logged[:, -1, 1:2].tolist(),
             "final_theta": res.final_theta.tolist(), "stream": "class-counts",
             "start_rate": inst.params["start_rate"], "geometry": instance_geometry(inst)}]



def _rare_event_conditions(config, ns, means):
    """Theorem 5.1's hypotheses on part C's instances, and the design checks of a level test."""
    T, K, B, N = config.re_T, config.re_K, config.re_B, config.re_N
    s2 = [r["sigma_star_sq"] for r in ns]
    cond = nsgd_conditions(eta=[r["eta"] for r in ns], lam=[r["lam"] for r in ns], B=B, N=N, K=K, T=T,
                           sigma_sq=s2, geometry=[r["geometry"] for r in ns], cov_T=[m * T for m in means],
                           measured=means)
    start = [r["start_cov"][0] for r in ns]
    cond += [
        condition("design: sigma_*^2 nearly fixed over the H grid (Theorem 5.1's bound the same at every H)",
                  f"sigma_*^2 = {min(s2):.6g}..{max(s2):.6g}", bool(max(s2) / min(s2) <= 1.01)),
        condition("design: Cov_N(pi_theta_0) >= 0.9 (something to learn; exact)", f"min {min(start):.4f}",
                  bool(min(start) >= 0.9)),
    ]
    return cond


def _t_term(bound, T, **kw):
    """The ``1/T`` term of Theorem 5.1's explicit bound at ``T``: ``2 (bound(T) - bound(2T))``."""
    return 2.0 * (bound - float(normalized_sgd_explicit_bound(2 * T, **kw)))


def rare_event_claims(config, records):
    """Part C: Theorem 5.1 where its bound with the proof's constants is below 1."""
    ns, vs = part_records(records, "re-nsgd"), part_records(records, "re-sgd")
    if not ns:
        return []
    Hs = [r["H"] for r in ns]
    T, K, B, N = config.re_T, config.re_K, config.re_B, config.re_N
    s2 = [r["sigma_star_sq"] for r in ns]
    rate = [float(normalized_sgd_coverage_rate(T, N=N, sigma_sq=v, B=B, K=K)) for v in s2]
    explicit = [float(normalized_sgd_explicit_bound(T, N=N, sigma_sq=v, B=B, K=K, eta=r["eta"]))
                for v, r in zip(s2, ns)]
    means = [float(np.mean(cov(r))) for r in ns]
    cond = _rare_event_conditions(config, ns, means)
    inst_text = (f"rare-event instance (theory.instances.rare_event_instance: one rare token of feature +B among m "
                 f"common ones of feature -B, rate c = {config.re_rate:g} rare tokens per sequence under pi_D and "
                 f"a_0 = {config.re_start_rate:g} under pi_theta_0, B = {B:g}), N = {N:g}, T = {T}, K = {K}, "
                 f"eta = 1/(128 B) = {ns[0]['eta']:.4g}, lambda = 8 B log N = {ns[0]['lam']:.4g}, "
                 f"{config.re_replicates} replicates; minibatches drawn as class counts (exact in law), coverage "
                 f"of every iterate exact (certified to 1e-13, {ns[0]['law_points']} count vectors)")
    flat = exponent_claim(
        f"{NAME}/nsgd-flat-in-H-nonvacuous", "Theorem 5.1 (Eq. (11) ICLR / (19) arXiv)",
        "normalized SGD with the proof's eta = 1/(128 B), lambda = 8 B log N and minibatch K, on a family where "
        "sigma_*^2 is fixed while H grows and the theorem's bound with the proof's constants is below 1: the "
        "average-iterate Cov_N grows no faster in H than the H-free rate",
        Hs, [cov(r) for r in ns], predicted=local_slope(Hs, rate), mode="at_most", tolerance=0.1,
        evaluation="monte_carlo", conditions=cond,
        details=(inst_text + f". Predicted = local slope of the rate (unit constants) on the grid; rate by H: "
                 f"{fmt_values(rate)}; measured means {fmt_values(means)}; average coverage x T {fmt_values(m * T for m in means)}; "
                 f"explicit bound (proof's constants) {fmt_values(explicit)}; Cov_N at theta_0 (exact) "
                 f"{fmt_values(r['start_cov'][0] for r in ns)}; KL at theta_0 {fmt_values(r['start_kl'] for r in ns)}. "
                 "[derived] The rare-token counts are Bin(H, c/H) under pi_D and Bin(H, a_0/H) at the start, so the "
                 "instance is the same at every H up to O(1/H): the shape is the theorem's H-free prediction on a "
                 "family that pins everything but H; vanilla SGD on the same instances "
                 "(sgd-step-limited-in-H-nonvacuous) shows the design sees H-growth where there is some. "
                 f"Spread of the per-replicate averages (max - min) by H: "
                 f"{fmt_values(float(np.ptp(cov(r))) for r in ns)}: the minibatches are random, but at this K the "
                 "normalized step's noise is far below its drift and the exact coverage of an iterate is a step "
                 "function of theta, so the replicates cross each step at the same iterate (the bootstrap "
                 "interval has no width)."))
    out = [as_sanity(flat, revised_from=revision(flat, why=(
        "class change after a review, not after a failing run: the family is H-invariant by construction")),
        reason=(
        "the instance is the same process at every H up to O(1/H) by construction (rare-token counts "
        "Bin(H, c/H) ~ Poisson(c) under pi_D and at the start; the per-sequence score, drift and noise do not "
        "depend on H), so any learner with H-free settings is flat here: the curve checks the code (H-free "
        "parameters, lumped training, exact coverage), not a mechanism of Theorem 5.1. A real test needs H to "
        "enter the dynamics (a start whose rare-token rate grows with H) at a non-vacuous bound: part D, the "
        "growing-start family. Was a binding prediction before a review; the old "
        "rule (exponent at most the rate's local slope, tolerance 0.1) is the rule still applied"))]
    out.append(bound_claim(
        f"{NAME}/nsgd-explicit-bound-nonvacuous", "Theorem 5.1 (Eq. (11) ICLR / (19) arXiv) with the proof's constants "
        "(App. K.5 ICLR / I.5 arXiv)",
        "normalized SGD with eta = 1/(128 B), lambda = 8 B log N: E (1/T) sum_t Cov_N(pi_theta_t) <= 4/(log N - 1) "
        "(240 B/K + 2304 eta^2 sigma_*^2 + log N/(T eta^2) + 4 eta sigma_*/sqrt K)",
        bound=explicit, constants="the proof's constants, tracked through Lemmas K.8/I.8, K.9/I.9 and Eq. (81) "
                                  "(theory.rates.normalized_sgd_explicit_bound); sigma_*^2 exact; no fitted constant",
        replicates=[cov(r) for r in ns], evaluation="monte_carlo", labels=[f"H={h}" for h in Hs], conditions=cond,
        details=(inst_text + f"; measured/bound by H: {fmt_values(m / b for m, b in zip(means, explicit))}. The proof's "
                 "constants (128, 16, 240, 2304) are loose."),
        structural_reason=(
            "on this design the bound's T-term alone, 4 log N/((log N - 1) T eta^2), is "
            f"{fmt_values(_t_term(b, T, N=N, sigma_sq=v, B=B, K=K, eta=r['eta']) for b, v, r in zip(explicit, s2, ns))} "
            "by H, while the average "
            "coverage is the transient spread over T steps: coverage x T = "
            f"{fmt_values(m * T for m in means)} (the start is uncovered for a few hundred normalized steps of length "
            "<= eta, then coverage is ~0); half the bound would need a transient of about "
            f"{fmt_values(0.5 * b * T for b in explicit)} steps, 3 orders of magnitude longer; the T-term scales like "
            "1/(T eta^2) and the transient like 1/eta, so on this family no T or eta under the cap closes the gap [derived]")))
    if vs:
        eta_v = [r["eta"] for r in vs]
        means_v = [float(np.mean(cov(r))) for r in vs]
        inv = [1.0 / e for e in eta_v]
        out.append(exponent_claim(
            f"{NAME}/sgd-step-limited-in-H-nonvacuous", "Prop. 5.1 (Eq. (9) ICLR / (15) arXiv); [derived] transient "
            "proportional to 1/eta on this instance",
            "exploratory: vanilla SGD with Prop. 5.1's eta = min{1/(2HB^2), sqrt(2/(sigma^2 T))} on the same "
            "instances and start: does its average-iterate Cov_N grow like 1/eta (the local slope of 1/eta on the "
            "grid)?", Hs, [cov(r) for r in vs], predicted=local_slope(Hs, inv), tolerance=0.1,
            evaluation="monte_carlo", exploratory=True,
            conditions=sgd_upper_conditions(eta=eta_v, H=Hs, B=B, geometry=[r["geometry"] for r in vs]),
            details=(f"eta by H: {fmt_values(eta_v)}; measured means {fmt_values(means_v)}; average coverage x T "
                     f"{fmt_values(m * T for m in means_v)}. [derived] The score of a sequence is 2B(n - H q_theta), of "
                     "order B a_0 whatever H, so in the small-step limit the transient is (1/eta) times an "
                     "H-free integral. Exploratory, why: Prop. 5.1's lower bound needs B >= c log^2(TH) and does "
                     f"not apply at B = {B:g}; vanilla's H-dependence here comes from the step its upper bound "
                     "allows (eta <= 1/(2HB^2), the worst-case smoothness HB^2 that this instance never reaches "
                     "along the path), not from the instance; and where the sqrt branch binds the transient is "
                     "a few steps, decided by the first iterates.")))
        n_last, v_last = cov(ns[-1]), cov(vs[-1])
        # the drift 2B(a - c) along the transient: from the start (a = a_0) to the exit (a - c ~ log N)
        g0, g1 = 2 * B * (config.re_start_rate - config.re_rate), 2 * B * np.log(N)
        out.append(comparison_claim(
            f"{NAME}/nsgd-below-vanilla-per-step-nonvacuous", "Theorem 5.1; Prop. 5.1",
            f"exploratory: per step, at H = {Hs[-1]}: is normalized SGD's average-iterate Cov_N (K = {K} sequences "
            "per step) below vanilla SGD's (one sequence per step) after the same T steps?",
            n_last, v_last, better="lower", names=("normalized SGD", "vanilla SGD"), evaluation="monte_carlo",
            exploratory=True, conditions=cond,
            details=(f"means: NSGD {float(np.mean(n_last)):.4g}, vanilla {float(np.mean(v_last)):.4g}. [derived] "
                     "Along the path the normalized step is about eta |g|/(lambda + |g|) with eta = 1/(128 B), "
                     "lambda = 8 B log N, and vanilla's is eta_v |g| with eta_v = 1/(2 H B^2): their ratio is "
                     f"H B/(64 (lambda + |g|)), |g| ~ 2B(a - c) = {g1:.3g}..{g0:.3g} here (exit to start), so "
                     f"normalized SGD is faster per step only from H ~ 64 (lambda + |g|)/B ~ "
                     f"{64 * (ns[0]['lam'] + g1) / B:.0f}..{64 * (ns[0]['lam'] + g0) / B:.0f} on. Exploratory: "
                     "Theorem 5.1 makes no ordering prediction; the crossing is set by the proof's constants "
                     "(128 and 16), not by the theorem's rate.")))
        m_steps = T // K
        n_match = cov_at(ns[-1], m_steps)
        out.append(comparison_claim(
            f"{NAME}/nsgd-below-vanilla-matched-samples-nonvacuous", "Theorem 5.1 (n = T K samples); Prop. 5.1",
            f"exploratory: at matched samples, at H = {Hs[-1]}: is normalized SGD's average-iterate Cov_N over its "
            f"first T // K = {m_steps} steps ({K * m_steps:,} sequences) below vanilla SGD's over T = {T:,} steps?",
            n_match, v_last, better="lower", names=("normalized SGD", "vanilla SGD"), evaluation="monte_carlo",
            exploratory=True, conditions=cond,
            details=(f"means: NSGD {float(np.mean(n_match)):.4g}, vanilla {float(np.mean(v_last)):.4g}. The bias "
                     f"term 240 B/K of the explicit bound forces K in the thousands (here {K}), so T // K steps are "
                     "fewer than normalized SGD's H-free transient: at matched samples it has not left the start.")))
    return out


def _gs_conditions(config, ns, vs, means=None):
    """Part D: Theorem 5.1's hypotheses, Prop. 5.1's step condition and the design checks.

    In the quick preset (a smoke run at ``gs_T = 2e4``) the conditions are those of the full
    preset's design (``T`` and the step sizes at the full ``gs_T``), where the claims are decided.
    """
    full = type(config).full() if config.preset == "quick" else config
    T, K, B, N = full.gs_T, full.gs_K, full.gs_B, full.gs_N
    s2 = [r["sigma_star_sq"] for r in ns]
    eta, lam = (np.array(v, float) for v in zip(*(normalized_sgd_parameters(T, N=N, sigma_sq=v, B=B) for v in s2)))
    cond = nsgd_conditions(eta=eta, lam=lam, B=B, N=N, K=K, T=T, sigma_sq=s2, geometry=[r["geometry"] for r in ns],
                           cov_T=None if means is None else [m * T for m in means], measured=means)
    q0 = [r["start_rate"] / r["H"] for r in ns]
    curv = [4 * q * (1 - q) for q in q0]                       # H (2B)^2 q0 (1 - q0) / (H B^2)
    start = [r["start_cov"][0] for r in ns]
    cond += [
        condition("design: sigma_*^2 nearly fixed over the H grid (Theorem 5.1's bound the same at every H)",
                  f"sigma_*^2 = {min(s2):.6g}..{max(s2):.6g}", bool(max(s2) / min(s2) <= 1.01)),
        condition("design: Cov_N(pi_theta_0) >= 0.9 (something to learn; exact)", f"min {min(start):.6f}",
                  bool(min(start) >= 0.9)),
        condition("design: H enters the dynamics: at theta_0 the sequence score's curvature H (2B)^2 q_0 (1 - q_0) "
                  "is the worst case H B^2 of Assumption 2.2 (ratio >= 0.9), and the mean score 2B(c - H q_0) is "
                  "of order H B", f"curvature / (H B^2) = {min(curv):.4g}..{max(curv):.4g}; mean score at theta_0 "
                  f"{fmt_values(2 * B * (full.gs_rate - r['start_rate']) for r in ns)} by H", bool(min(curv) >= 0.9)),
    ]
    vs_eta = [float(sgd_step_size(T, H=r["H"], sigma_sq=r["sigma_star_sq"], B=B)) for r in vs]
    cond += [c for c in sgd_upper_conditions(eta=vs_eta, H=[r["H"] for r in vs], B=B,
                                             geometry=[r["geometry"] for r in vs])
             if c["hypothesis"].startswith("eta")]
    return cond


GS_WHY = ("class change after a review, not after a failing run: the ratio's growth is set by Prop. 5.1's step recipe eta = 1/(2HB^2) (slope of 1/eta 0.98 of the ratio's 0.87); with an H-free step vanilla SGD is H-free on this family (review check, seed 0, T = 5000: coverage x T 11.7 at H = 128, 1.0 at H = 4096 with eta = 6.25e-4, against 371 at the capped step), and the statement that predicts vanilla's H-growth for every step, Prop. 5.1's lower bound, needs B >= c log^2(TH), not met (B = 2.5 against log^2(TH) ~ 490)")


def _lower_bound_condition(B, T, Hs):
    """Prop. 5.1's lower bound's hypothesis B >= c log^2(TH), c unstated: which c it needs."""
    need = B / np.log(T * np.asarray(Hs, float)) ** 2
    return condition("Prop. 5.1 lower bound (Eq. (16) arXiv): B >= c log^2(T H), c an unstated absolute constant",
                     f"B = {B:g}, log^2(TH) = {fmt_values(np.log(T * np.asarray(Hs, float)) ** 2)}: holds only if "
                     f"c <= {need.min():.3g}", None,
                     note="c is not given; the vanilla H-growth here is the upper bound's step recipe, not this bound")


def growing_start_claims(config, records):
    """Part D: Theorem 5.1 against vanilla SGD where H enters the dynamics, at a non-vacuous bound."""
    ns, vs = part_records(records, "gs-nsgd"), part_records(records, "gs-sgd")
    if not ns or not vs:
        return []
    quick = config.preset == "quick"
    Hs = [r["H"] for r in ns]
    T, K, B, N = config.gs_T, config.gs_K, config.gs_B, config.gs_N
    s2 = [r["sigma_star_sq"] for r in ns]
    explicit = [float(normalized_sgd_explicit_bound(T, N=N, sigma_sq=v, B=B, K=K, eta=r["eta"]))
                for v, r in zip(s2, ns)]
    n_reps, v_reps = [cov(r) for r in ns], [cov(r) for r in vs]
    means_n = [float(np.mean(v)) for v in n_reps]
    means_v = [float(np.mean(v)) for v in v_reps]
    cond = _gs_conditions(config, ns, vs, None if quick else means_n)
    tau_n, tau_v = [m * T for m in means_n], [m * T for m in means_v]
    eta_v = [r["eta"] for r in vs]
    slope_inv_eta = local_slope(Hs, [1.0 / e for e in eta_v])
    a_exit = float(np.log(N))                                  # the start is uncovered down to H q ~ log N
    k_steps = 1.0 / (2 * B * ns[0]["eta"])                     # normalized steps per unit of the rare-token logit
    nsgd_slope_max = float(np.mean([1.0 / np.log(config.gs_start_fraction * h / a_exit) for h in Hs]))
    inst_text = (f"growing-start family (theory.instances.rare_event_instance with start_rate a_0 = "
                 f"{config.gs_start_fraction:g} H: one rare token of feature +B among m common ones of feature -B, "
                 f"c = {config.gs_rate:g} rare tokens per sequence under pi_D, a_0 = H/2 under pi_theta_0, "
                 f"B = {B:g}, m = {ns[0]['m']}..{ns[-1]['m']}), N = {N:g}, T = {T:,}, K = {K}, eta = 1/(128 B) = "
                 f"{ns[0]['eta']:.4g}, lambda = 8 B log N = {ns[0]['lam']:.4g}; vanilla SGD one sequence per step "
                 f"with eta = min{{1/(2HB^2), sqrt(2/(sigma^2 T))}}; {config.gs_replicates} replicates each; minibatches "
                 f"drawn as class counts (exact in law); coverage of every iterate exact (certified to 1e-13, "
                 f"{ns[0]['law_points']} count vectors)")
    out = []
    quick_reason = (f"the quick preset is a smoke run at T = {T:,}, where Theorem 5.1's bound with the proof's constants "
                    f"is {min(explicit):.3g} (vacuous); the bound needs T of about 6e5 (theory.rates."
                    "normalized_sgd_min_steps), about 25 CPU-s per task; the claim is decided in the full preset")
    c = bound_claim(
        f"{NAME}/nsgd-explicit-bound-growing-start", "Theorem 5.1 (Eq. (11) ICLR / (19) arXiv) with the proof's "
        "constants (App. K.5 ICLR / I.5 arXiv)",
        "normalized SGD with eta = 1/(128 B), lambda = 8 B log N, on a family where H enters the dynamics (score "
        "Theta(HB) and worst-case curvature H B^2 at theta_0): E (1/T) sum_t Cov_N(pi_theta_t) <= 4/(log N - 1) "
        "(240 B/K + 2304 eta^2 sigma_*^2 + log N/(T eta^2) + 4 eta sigma_*/sqrt K) at every H",
        bound=explicit, constants="the proof's constants (theory.rates.normalized_sgd_explicit_bound); sigma_*^2 "
                                  "exact; no fitted constant",
        replicates=n_reps, evaluation="monte_carlo", labels=[f"H={h}" for h in Hs], conditions=cond,
        details=(inst_text + f"; measured/bound by H: {fmt_values(m / b for m, b in zip(means_n, explicit))}; average "
                 f"coverage x T {fmt_values(tau_n)}."),
        structural_reason=(
            "[derived] on this family the bound's T-term alone, 4 log N/((log N - 1) T eta^2), is "
            f"{fmt_values(_t_term(b, T, N=N, sigma_sq=v, B=B, K=K, eta=r['eta']) for b, v, r in zip(explicit, s2, ns))} by H, "
            "while the average coverage is the transient spread over T: the start is covered until the rare-token "
            f"rate H q falls to about log N, and while the minibatch score 2B(Hq - c) exceeds lambda the "
            f"normalized step moves the rare-token logit by about 2 B eta = 1/{k_steps:.0f} per step, so the transient "
            f"is about {k_steps:.0f} log(a_0/log N) steps plus an H-free exit phase (|g| < lambda), i.e. hundreds of "
            "steps, against the "
            f"{fmt_values(0.5 * b * T for b in explicit)} steps half the bound would need; the T-term scales like 1/(T "
            "eta^2) and the transient like log(H)/eta, so no T or eta under the cap closes the gap. Beyond this "
            "family [heuristic, one-dimensional mean-gradient picture, docs/optimizers.md]: with lambda = log N/"
            "(16 eta) a step moves at least eta|g|/(lambda + |g|), and Cov_N <= KL/(log N - 1) (Prop. 3.1 / F.1) "
            "with KL at most the integral of |g| along a path of length D <= 2, so the coverage summed over the "
            "iterates is at most D/eta + log N D^2/(16 eta^2 (log N - 1)), at most about 1/16 of the bound's "
            "T-term (4 log N/((log N - 1) eta^2)): no instance is expected to come within a factor 2"))
    out.append(not_run_in_quick(c, reason=quick_reason) if quick else c)
    ratio = [v / n for v, n in zip(v_reps, n_reps)]
    c = as_exploratory(
        exponent_claim, f"{NAME}/sgd-over-nsgd-grows-in-H-growing-start",
        "Theorem 5.1 (Eq. (11) ICLR / (19) arXiv) against Prop. 5.1 (Eq. (9) ICLR / (15) arXiv); [derived] "
        "transients on this instance",
        "on a family where H enters the dynamics (score Theta(HB) and worst-case curvature HB^2 at theta_0) and "
        "every hypothesis of both upper bounds holds, vanilla SGD at Prop. 5.1's step recipe has an average-iterate Cov_N "
        "that grows faster in H than normalized SGD's under Theorem 5.1's conditions: the ratio vanilla / "
        f"normalized grows at least like H^{config.gs_ratio_exponent:g}",
        Hs, ratio, predicted=config.gs_ratio_exponent, mode="at_least", tolerance=0.0,
        evaluation="monte_carlo", conditions=cond + [_lower_bound_condition(B, T, Hs)], why=GS_WHY,
        details=(inst_text + f". Per-replicate ratios (independent runs, replicate i of each). Means: normalized "
                 f"{fmt_values(means_n)}, vanilla {fmt_values(means_v)}; average coverage x T: normalized {fmt_values(tau_n)}, vanilla "
                 f"{fmt_values(tau_v)}; fitted slopes: normalized {local_slope(Hs, means_n):.4g}, vanilla "
                 f"{local_slope(Hs, means_v):.4g}. Rule written before the run, from the derivation: [derived] "
                 "in the rare-token logit u the vanilla step is 4B^2 eta (n - H q), so while H q >> c the rate "
                 "A = H q follows dA/dt ~ -4 B^2 eta A^2 and leaves the covering region A > log N after about "
                 "1/(4 B^2 eta log N) steps, proportional to 1/eta = 2 H B^2 where the cap binds (local slope of "
                 f"1/eta on the grid {slope_inv_eta:.3g}); the normalized step moves u by at most 2 B eta = "
                 f"1/{k_steps:.0f} whatever H, so its transient is about {k_steps:.0f} log(a_0/log N) plus an H-free "
                 f"exit phase, whose local slope in H is at most 1/log(a_0/log N), {nsgd_slope_max:.3g} averaged over "
                 f"the grid. Derived ratio exponent >= {slope_inv_eta - nsgd_slope_max:.3g}; the rule asks for "
                 f"{config.gs_ratio_exponent:g} (power against {config.gs_ratio_exponent - 0.25:g}: normalized SGD "
                 "growing nearly as fast as vanilla, what an H-scaled normalisation would give; tests/statistical/"
                 "test_sgd_experiments.py runs that negative control). What the statements predict: Theorem 5.1 "
                 "bounds normalized SGD by an H-free quantity and Prop. 5.1 bounds vanilla by B^2 H/(T log N); "
                 "neither is tight here (measured/bound about 1e-3), so the exponents are the instance's "
                 "[derived] (slope rule R2), and the claim tests the mechanism behind Theorem 5.1's H-freeness (the "
                 "normalized step's length does not grow with the score HB) against Prop. 5.1's step cap (the "
                 "curvature at theta_0 is HB^2, but the cap is not needed for vanilla SGD to be fast here: an "
                 "H-free step overshoots to the boundary, where Cov_N is 0). Disclosed: a 5 000-step pilot on seed 0 at "
                 "H = 128, 512, 4096 (the same runs' prefixes: the transients end within 5 000 steps) was seen "
                 "before the rule was written (vanilla coverage x T 12.6, 46, 371; normalized 438, 519, 646); the "
                 "threshold is the derivation's."))
    out.append(not_run_in_quick(c, reason=quick_reason) if quick else c)
    rate = [float(normalized_sgd_coverage_rate(T, N=N, sigma_sq=v, B=B, K=K)) for v in s2]
    out.append(exponent_claim(
        f"{NAME}/nsgd-flat-in-H-growing-start", "Theorem 5.1 (Eq. (11) ICLR / (19) arXiv), the H-free shape only",
        "exploratory: on the growing-start family, does normalized SGD's average-iterate Cov_N grow no faster in H "
        "than the H-free rate (its local slope, tolerance 0.1)? (the rule the earlier shape claims used)",
        Hs, n_reps, predicted=local_slope(Hs, rate), mode="at_most", tolerance=0.1, evaluation="monte_carlo",
        exploratory=True, conditions=cond,
        details=(f"means {fmt_values(means_n)}; average coverage x T {fmt_values(tau_n)}. Exploratory under the slope rule for "
                 "upper bounds (R1): measured/bound is about 1e-3, so the bound's H-free shape does not track the "
                 f"quantity. [derived] The normalized transient is about {k_steps:.0f} log(a_0/log N) + an H-free "
                 f"exit phase, i.e. it grows like log H ({k_steps:.0f} log 2 = {k_steps * np.log(2):.1f} steps per "
                 "doubling of H): allowed by Theorem 5.1, because the family exists only while log(4H) <= 4B "
                 "(theta_0 and theta* in Theta), so the log H it adds is at most a multiple of B and is absorbed "
                 "by the bound's B^2/T term. A failure of this rule here is not a failure of the theorem.")))
    out.append(comparison_claim(
        f"{NAME}/nsgd-below-vanilla-per-step-growing-start", "Theorem 5.1; Prop. 5.1",
        f"exploratory: per step, at H = {Hs[-1]}: is normalized SGD's average-iterate Cov_N (K = {K} sequences per "
        "step) below vanilla SGD's (one sequence per step) after the same T steps?",
        n_reps[-1], v_reps[-1], better="lower", names=("normalized SGD", "vanilla SGD"), evaluation="monte_carlo",
        exploratory=True, conditions=cond,
        details=(f"average coverage x T at H = {Hs[-1]}: normalized {tau_n[-1]:.4g}, vanilla {tau_v[-1]:.4g}. "
                 f"[derived] vanilla's transient ~ 1/(4 B^2 eta log N) = H/(2 log N) grows linearly, normalized "
                 f"SGD's ~ {k_steps:.0f} log(H/(2 log N)) + an H-free exit phase, so per step normalized SGD wins only "
                 "beyond the H where the two cross; the proof's constants (128 in the step cap, 16 in lambda) put "
                 "it beyond this grid. Exploratory: Theorem 5.1 predicts no ordering at a given H.")))
    return out
