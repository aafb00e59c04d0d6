r"""VGB mixing (Theorem 4.1): exact stationary laws, leaf mass, and how T grows with H and ε_V.

Instances: random *sparse-branching* trees (3-way branching at depths 0, H/3, 2H/3, paths in
between; random Dirichlet next-token laws and uniform rewards), so exact analysis reaches
``H = 64``; the value :math:`\hat V = V^\star(1+\varepsilon)^{s}` has the "sawtooth" sign
pattern (alternating with depth, times a sibling bias), which satisfies Assumption 4.1 with
:math:`\varepsilon_V = \varepsilon` and both biases sibling choices and slows the depth
diffusion.  Everything is exact (sparse transition matrices, certified :math:`T_\delta`);
intervals are over random tree instances (stratified bootstrap of the per-``H`` mean).

Pre-registered (from theory): fit windows ``H >= 8`` (``H = 4`` is pre-asymptotic: a leaf is
not even reachable before ``T = H``) and ``ε ∈ {0.5, 1, 2, 4}``; the ``H^2`` of Theorem 4.1
multiplies ``log(1/δ)``, so the exponent-2 claims are on the relaxation time and on the
growth of :math:`T_\delta` per unit of :math:`\log(1/\delta)`; the exponent of
:math:`T_\delta` at a *fixed moderate* δ is reported as exploratory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.claims import (as_sanity, bound_claim, condition, exponent_claim, not_run_in_quick,
                                revision, sanity_claim)
from simulations.experiments.contract import Task, analysis_rng
from simulations.plots import line_plot, rate_plot
from theory.instances.vgb_trees import sparse_branching_tree
from simulations.samplers.value_functions import multiplicative_error
from simulations.stats import loglog_fit
from theory.vgb import (expand_tree, leaf_conditional_curves, leaf_mass, mixing_times,
                        optimal_values, relaxation_time, relaxation_time_lower_bound,
                        stationary_law, stationary_leaf_mass_bound, target_leaf_law,
                        theorem_4_1_leaf_probability_bound, theorem_4_1_steps_shape)

NAME = "vgb-mixing"
PAPER_REF = "VGB Thm. 4.1 (arXiv 2510.03149)"
TITLE = "VGB walk: exact stationary law, leaf mass, T_delta ~ H^2 (1+eps)^{<=4}"
TOPIC = "backtracking samplers"


@dataclass(frozen=True)
class Config:
    horizons: tuple = (4, 8, 16, 32, 64)
    eps_h: float = 0.5
    deltas: tuple = (0.05, 1e-2, 1e-3, 1e-4, 1e-6)
    rate_deltas: tuple = (1e-4, 1e-6)
    eps_grid: tuple = (0.25, 0.5, 1.0, 2.0, 5.0, 11.0)
    horizon_eps: int = 16
    delta_eps: float = 1e-3
    n_trees: int = 6
    n_trees_rel: int = 12
    n_trees_eps: int = 16
    n_branch: int = 3
    branching: int = 3
    pattern: str = "sawtooth"
    h_window_min: int = 8
    eps_window_min: float = 0.5
    curve_points: int = 120
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(deltas=(0.05, 1e-4, 1e-6), horizon_eps=8, n_trees=3, n_trees_eps=10,
                   preset="quick")

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    out = [Task(cell=i, rep=0, params={"scan": "H", "H": int(H), "eps": config.eps_h})
           for i, H in enumerate(config.horizons)]
    k = len(out)
    out += [Task(cell=k + j, rep=0, params={"scan": "eps", "H": config.horizon_eps, "eps": float(e)})
            for j, e in enumerate(config.eps_grid)]
    return out


def run_task(config, task, *, rng):
    H, eps, scan = task.params["H"], task.params["eps"], task.params["scan"]
    deltas = config.deltas if scan == "H" else (config.delta_eps,)
    trees, vals, vstar = [], [], []
    records = []
    for r in range(config.n_trees if scan == "H" else config.n_trees_eps):
        aut = sparse_branching_tree(H, n_branch=config.n_branch, branching=config.branching, rng=rng)
        v = multiplicative_error(aut, eps, mode="adversarial", pattern=config.pattern)
        vs = optimal_values(aut)
        tree = expand_tree(aut)
        trees.append(tree)
        vals.append(tree.node_values(v))
        vstar.append(tree.node_values(vs))
    base = []
    for tree, v, vs in zip(trees, vals, vstar):
        pi = stationary_law(tree, v)
        cond = pi[tree.leaves] / pi[tree.leaves].sum()
        base.append({"stat_err": float(np.abs(cond - target_leaf_law(tree)).max()),
                     "leaf_mass": leaf_mass(tree, v), "leaf_mass_vstar": leaf_mass(tree, vs),
                     "t_rel": relaxation_time(tree, v), "n_nodes": int(tree.n_nodes)})
    t_thm = np.array([np.ceil(theorem_4_1_steps_shape(H, eps, d)) for d in deltas], dtype=int)
    res = mixing_times(trees, vals, list(deltas), T_eval=np.tile(t_thm, (len(trees), 1)))
    for k, delta in enumerate(deltas):
        for r in range(len(trees)):
            records.append({"scan": scan, "H": H, "eps": eps, "delta": delta, "tree": r,
                            **base[r], "t_mix": float(res.t_mix[r, k]),
                            "certified_at": float(res.certified_at[r, k]),
                            "T_thm": int(t_thm[k]),
                            "p_leaf_at_T_thm": float(res.p_leaf_at_eval[r, k]),
                            "p_leaf_exact": bool(res.p_leaf_eval_exact[r, k]),
                            "tv_at_T_thm": float(res.tv_full_at_eval[r, k]),
                            "min_p_leaf_after_mix": float(res.min_p_leaf_after[r, k])})
    if scan == "H":
        # more trees for the relaxation time alone (an eigenvalue: cheap at every H)
        t_rel = [b["t_rel"] for b in base]
        for _ in range(config.n_trees_rel - config.n_trees):
            aut = sparse_branching_tree(H, n_branch=config.n_branch, branching=config.branching,
                                        rng=rng)
            tree = expand_tree(aut)
            v = tree.node_values(multiplicative_error(aut, eps, mode="adversarial",
                                                      pattern=config.pattern))
            t_rel.append(relaxation_time(tree, v))
        records.append({"scan": "rel", "H": H, "eps": eps, "t_rel": t_rel})
        T_max = int(3 * H * H)
        curve = leaf_conditional_curves(trees[0], vals[0], T_max)
        idx = np.unique(np.linspace(H, T_max, config.curve_points).astype(int))
        records.append({"scan": "curve", "H": H, "eps": eps, "T": idx.tolist(),
                        "tv_leaf": curve.tv_leaf[0, idx].tolist(),
                        "p_leaf": curve.p_leaf[0, idx].tolist()})
    return records


#: Why the H-exponent claims are binding under the rule for slopes of upper bounds: the
#: relaxation time tracks H^2 by derivation (not from the tested data).
TRACKS_H2 = (
    "Binding under the rule for slopes of upper bounds: (a) Assumption 4.1 holds with eps_V = "
    "{eps:g} on every tree (sawtooth V-hat, tau at the leaves); (b) [derived] the relaxation time "
    "is Theta(H^2) on these trees, so the H^2 term is the bound's order and a +0.25 exponent would "
    "show: with V* the depth of the walk is the lazy simple walk on the path 0..H (up and down 1/4 "
    "each, V*(u) = sum_a pi_ref(a|u) V*(ua)), whose eigenvalues lift to the walk, and Assumption "
    "4.1 moves edge flows and stationary law by at most (1+eps_V)^(+-2), so t_rel >= "
    "(1+eps_V)^-4 / sin^2(pi/(2H)) >= 4H^2/(pi^2 (1+eps_V)^4) (sanity claim relaxation-lower-bound "
    "checks it on every tree) while Theorem 4.1 bounds it by O(H^2)")
#: ... and the T_delta claims, from a pilot that is not the tested data.
PILOT_TDELTA = (
    "(b) for T_delta [derivation sketch and pilot]: with V* the leaf law is pi* as soon as a leaf "
    "is reached (tv = 0), so T_delta is the decay of the O(eps_V) sibling bias, carried by the "
    "slowest mode (antisymmetric across the root's subtrees, visible in the leaf law), so "
    "T_delta ~ t_rel log(c eps_V / delta) at small delta. Pilot (root seed 1, full preset, not the "
    "tested data; docs/vgb.md): increment per unit ln(1/delta) / t_rel = 0.994, 0.971, 0.990, 0.999 "
    "and T_delta(1e-6) / (t_rel ln 1e6) = 0.79, 0.68, 0.65, 0.63 at H = 8, 16, 32, 64, slopes "
    "2.09 (increment) and 1.98 (T_delta(1e-6)): both track t_rel, so the tested term dominates "
    "the log factors hidden in O-tilde")


def leaf_probability_reason(leaf_mass, tv_at_T, bound, what):
    """The structural reason of a leaf-probability claim, restricted to the instances tested.

    ``P[leaf at T] >= pi(L) - TV(mu_T, pi)`` with ``TV`` at the tested ``T`` (exact, or the
    certified upper bound after certification) and ``pi(L) >= 4 x bound`` [derived].  Returns
    ``(reason, note)``: ``reason`` None (the claim then records ``design``) when that lower
    bound does not clear twice the theorem's bound on every instance; ``note`` the numbers.
    """
    lm, tv, b = (np.asarray(v, float) for v in (leaf_mass, tv_at_T, bound))
    low = (lm - tv) / b
    note = (f"TV(mu_T, pi_tilde) at the tested T (exact before certification, else the certified "
            f"upper bound): max {tv.max():.3g}; stationary leaf mass pi_tilde(L) / bound in "
            f"[{(lm / b).min():.4g}, {(lm / b).max():.4g}]; (pi_tilde(L) - TV) / bound >= "
            f"{low.min():.4g} over {low.size} {what}")
    if not (low > 2).all():
        return None, (f"{note}: on {int((low <= 2).sum())} of them pi_tilde(L) - TV does not clear "
                      "2 x bound, so no structural reason is stated")
    return ("P[leaf at T] >= pi_tilde(L) - TV(mu_T, pi_tilde), pi_tilde(L) >= 1/(2(1+eps_V)H) = "
            "4 x bound [derived; sanity claim vgb-mixing/leaf-mass-bound], and on the instances "
            f"tested the walk has mixed at the tested T: {note} > 2, so the theorem's constant 8 "
            "cannot be brought within the factor 2 on them. Restricted to these instances: mixing "
            "at the theorem's T (constant 1) is measured here, not derived (the theorem gives TV <= "
            "delta with an unstated constant, and delta up to 0.05 exceeds 2 x bound)"), note


def _by(records, **kw):
    return [r for r in records if all(r.get(k) == v for k, v in kw.items())]


def _assumption_41(eps, what):
    return condition("Assumption 4.1: 1/(1+eps_V) <= V-hat/V* <= 1+eps_V at every internal "
                     "node, V-hat = tau at the leaves", f"eps_V = {what} (sawtooth pattern; "
                     "tau at the leaves)", True)


def claims(config, records):
    main = [r for r in records if r["scan"] in ("H", "eps")]
    hrec = [r for r in main if r["scan"] == "H"]
    erec = [r for r in main if r["scan"] == "eps"]
    d0 = config.deltas[0]
    first = [r for r in main if r["delta"] == (d0 if r["scan"] == "H" else config.delta_eps)]
    cond_h = [_assumption_41(config.eps_h, f"{config.eps_h:g}")]
    cond_all = [_assumption_41(None, f"{config.eps_h:g} (H scan) and {list(config.eps_grid)} "
                                     "(eps scan)")]
    out = []
    out.append(sanity_claim(
        f"{NAME}/stationary-law", "VGB §4 (stationary law of Algorithm 1)",
        "for every V-hat, the walk's stationary law conditioned on the leaves is pi_ref*tau "
        "normalised", [r["stat_err"] for r in first], 0.0, tolerance=1e-12, details=(
            f"max |pi_tilde(.|L) - pi*| over {len(first)} (tree, V-hat) pairs (closed-form "
            "stationary law of the reversible walk against the target); float64 tolerance")))
    out.append(sanity_claim(
        f"{NAME}/leaf-mass-vstar", "VGB §4 (leaf mass with V*)",
        "with V-hat = V*, the stationary leaf mass is exactly 1/(2H)",
        [r["leaf_mass_vstar"] for r in first], [1 / (2 * r["H"]) for r in first],
        tolerance=1e-12, details="every tree of both scans"))
    out.append(as_sanity(bound_claim(
        f"{NAME}/leaf-mass-bound", "VGB Thm. 4.1 (leaf mass; stationary form, derived)",
        "under Assumption 4.1 the stationary leaf mass is at least 1/(2(1+eps_V)H)",
        bound=[float(stationary_leaf_mass_bound(r["H"], r["eps"])) for r in first],
        side="lower", constants="1/(2(1+eps_V)H): leaves carry Z, each internal level at most "
        "2(1+eps_V)Z [derived]", evaluation="exact", measured=[r["leaf_mass"] for r in first],
        labels=[f"{r['scan']} scan H={r['H']} eps={r['eps']:g} tree {r['tree']}" for r in first],
        power_over="any", conditions=cond_all, details=(
            "a universal inequality checked on every tree of both scans; leaf mass / bound "
            f"{_ratio_range(first)} (within a factor 2 on the H scan, up to about 2.2 at large "
            "eps)")),
        reason="an algebraic consequence of the closed-form stationary law (leaves carry Z, each "
               "internal level at most 2(1+eps_V)Z under Assumption 4.1), evaluated on that closed "
               "form; it checks the stationary-law code, not a statement of the papers"))
    pr = [r for r in main]
    exact = all(r["p_leaf_exact"] for r in pr)
    lp_bound = [float(theorem_4_1_leaf_probability_bound(r["H"], r["eps"])) for r in pr]
    lp_reason, lp_note = leaf_probability_reason([r["leaf_mass"] for r in pr],
                                                 [r["tv_at_T_thm"] for r in pr], lp_bound,
                                                 "(tree, eps, delta) runs")
    out.append(bound_claim(
        f"{NAME}/leaf-probability", "VGB Thm. 4.1",
        "P[output is a leaf] >= 1/(8(1+eps_V)H) at T = H^2(1+eps_V)^4 ln(1/delta)",
        bound=lp_bound,
        side="lower", constants="8 as printed by the secondary sources (reference notes §A.4); "
        "T with constant 1", evaluation="exact" if exact else "certified",
        measured=[r["p_leaf_at_T_thm"] for r in pr],
        **({} if exact else {"interval": [[r["p_leaf_at_T_thm"], 1.0] for r in pr]}),
        labels=[f"{r['scan']} scan H={r['H']} eps={r['eps']:g} delta={r['delta']:g} tree {r['tree']}"
                for r in pr],
        power_over="any", conditions=cond_all, details=(
            f"{sum(r['p_leaf_exact'] for r in pr)} of {len(pr)} values exact, the rest the "
            "certified lower bound pi_tilde(L) - TV(mu_T, pi_tilde) at the certification step"
            + ("" if lp_reason else f". {lp_note}")),
        structural_reason=lp_reason))
    Hs = [H for H in config.horizons if H >= config.h_window_min]
    trel = [next(r["t_rel"] for r in records if r["scan"] == "rel" and r["H"] == H) for H in Hs]
    rel_text = (f"t_rel = 1/(1 - lambda_2) exact per tree; {config.n_trees_rel} random "
                f"sparse-branching trees per H (the replicates); H window >= {config.h_window_min} (pre-registered: "
                "at H = 4 a leaf is reachable only from T = H)")
    out.append(exponent_claim(
        f"{NAME}/relaxation-H2", "VGB Thm. 4.1 (T = O-tilde(H^2): an upper bound)",
        "the relaxation time of the walk grows no faster than H^2", Hs, trel, predicted=2.0,
        mode="at_most", tolerance=0.1, evaluation="exact", conditions=cond_h, details=(
            rel_text + ". Earlier rule (changed after review, not after a failing run): exponent equal 2 "
                       "(tolerance 0.1), 'grows like H^2', stronger than the theorem's upper bound; the "
                       "equality is now the exploratory claim relaxation-H2-equal. "
            + TRACKS_H2.format(eps=config.eps_h))))
    out.append(exponent_claim(
        f"{NAME}/relaxation-H2-equal", "VGB Thm. 4.1 (not a prediction: the theorem is an upper bound)",
        "exploratory: does the relaxation time grow like H^2 (the upper bound attained)?", Hs, trel,
        predicted=2.0, tolerance=0.1, evaluation="exact", exploratory=True, conditions=cond_h,
        details=rel_text + ". The sources give no matching lower bound, so equality is a finding about "
                           "these instances, not a prediction"))
    # the H scan's trees are the first n_trees of the relaxation-time trees: count them once
    rel_runs = [r for r in first if r["scan"] == "eps"] + [
        {"H": H, "eps": config.eps_h, "t_rel": t, "scan": "rel", "tree": i}
        for H in config.horizons
        for i, t in enumerate(next(r["t_rel"] for r in records if r["scan"] == "rel" and r["H"] == H))]
    rel_lb = np.array([float(relaxation_time_lower_bound(r["H"], r["eps"])) for r in rel_runs])
    rel_t = np.array([r["t_rel"] for r in rel_runs])
    out.append(sanity_claim(
        f"{NAME}/relaxation-lower-bound", "VGB §4 (relaxation time; lower bound, derived)",
        "t_rel >= (1+eps_V)^-4 / sin^2(pi/(2H)) (depth walk of V*, compared under Assumption 4.1)",
        np.maximum(rel_lb - rel_t, 0.0) / rel_lb, 0.0, tolerance=1e-9, details=(
            "measured: the relative shortfall max(0, bound - t_rel) / bound on every tree of both "
            "scans and the extra relaxation-time trees, each once (exact spectral gap); t_rel / bound in "
            f"[{(rel_t / rel_lb).min():.3g}, {(rel_t / rel_lb).max():.3g}]. A derived lower bound "
            "(theory.vgb.relaxation_time_lower_bound): it checks the derivation the H-exponent "
            "claims rest on and the eigenvalue code, not a statement of the papers"),
        conditions=cond_all))
    lo_d, hi_d = sorted(config.rate_deltas, reverse=True)
    inc = []
    for H in Hs:
        a = {r["tree"]: r["t_mix"] for r in _by(hrec, H=H, delta=hi_d)}
        b = {r["tree"]: r["t_mix"] for r in _by(hrec, H=H, delta=lo_d)}
        inc.append([(a[k] - b[k]) / np.log(lo_d / hi_d) for k in a])
    ratio = [np.mean(i) / np.mean([r["t_rel"] for r in _by(hrec, H=H, delta=d0)])
             for i, H in zip(inc, Hs)]
    rate = exponent_claim(
        f"{NAME}/log-delta-rate-H2", "VGB Thm. 4.1 (H^2 log(1/delta): an upper bound)",
        "the extra steps per unit of log(1/delta) grow no faster than H^2", Hs, inc, predicted=2.0,
        mode="at_most", tolerance=0.1, evaluation="exact", conditions=cond_h, details=(
            f"(T_delta({hi_d:g}) - T_delta({lo_d:g})) / ln({lo_d:g}/{hi_d:g}) per tree, T_delta "
            f"certified exactly; at these delta the increment is the relaxation time (ratio "
            f"increment / t_rel per H: {', '.join(f'{x:.3f}' for x in ratio)}). Earlier rule (changed "
            "after review, not after a failing run): exponent equal 2 (tolerance 0.1), 'grow like H^2', "
            "stronger than the theorem's upper bound. " + TRACKS_H2.format(eps=config.eps_h) + "; "
            + PILOT_TDELTA),
        revised_from=(
            "delta pair (1e-3, 1e-4) in full and (1e-2, 1e-3) in quick with tolerance 0.3; it "
            "passed only through the tolerance (quick slope 1.66, 95% interval [1.32, 1.95]): "
            "for H >= 32 that pair is not yet in the asymptotic regime, where the increment "
            "per unit of log(1/delta) equals t_rel"))
    if config.preset == "quick":
        rate = not_run_in_quick(rate, reason=(
            f"a difference of two certified T_delta per tree; power needs {Config().n_trees} "
            f"trees per H up to H = 64 (the full preset); quick runs {config.n_trees}"))
    out.append(rate)
    dmin = min(config.deltas)
    tsmall = [[r["t_mix"] for r in _by(hrec, H=H, delta=dmin)] for H in Hs]
    tdelta = exponent_claim(
        f"{NAME}/tdelta-H-exponent", "VGB Thm. 4.1",
        f"T_delta at delta = {dmin:g} grows at most like H^2", Hs, tsmall, predicted=2.0,
        mode="at_most", tolerance=0.1, evaluation="exact", conditions=cond_h, details=(
            "certified T_delta; Theorem 4.1 hides log factors in O-tilde, none allowed here. "
            + TRACKS_H2.format(eps=config.eps_h) + "; " + PILOT_TDELTA))
    if config.preset == "quick":
        tdelta = not_run_in_quick(tdelta, reason=(
            f"T_delta at delta = {dmin:g} varies across random trees; the full preset's "
            f"{Config().n_trees} trees per H up to H = 64 decide it, quick's {config.n_trees} "
            "do not (over seeds 0-19 the quick fit fails in some seeds)"))
    out.append(tdelta)
    dmax = max(config.deltas)
    tmod = [[r["t_mix"] for r in _by(hrec, H=H, delta=dmax)] for H in Hs]
    out.append(exponent_claim(
        f"{NAME}/tdelta-H-exponent-moderate-delta", "VGB Thm. 4.1 (not attained)",
        f"at a moderate delta = {dmax:g}, T_delta grows only about linearly in H (the H^2 of the "
        "bound is not attained)", Hs, tmod, predicted=1.0, tolerance=0.1,
        evaluation="exact", exploratory=True, details=(
            "Theorem 4.1 is an upper bound; how T_delta grows at moderate delta is left open. "
            "Finding: the leaf-conditioned law is already close to pi* when the first leaves are "
            "reached (the walk re-samples early choices during its excursions), so T_delta at "
            "delta = 0.05 grows about linearly in H; the H^2 shows in the relaxation time and "
            "in the log(1/delta) rate")))
    shape = [r["t_mix"] / float(theorem_4_1_steps_shape(r["H"], r["eps"], r["delta"]))
             for r in main]
    out.append(bound_claim(
        f"{NAME}/t-below-theorem-shape", "VGB Thm. 4.1 (constant not stated)",
        "T_delta <= H^2 (1+eps_V)^4 ln(1/delta), i.e. the theorem's shape with constant 1",
        bound=1.0, side="upper", constants="constant 1 (the theorem's O-tilde leaves it open)",
        evaluation="exact", measured=float(max(shape)), exploratory=True, details=(
            f"max over {len(main)} runs of T_delta / (H^2 (1+eps_V)^4 ln(1/delta)); T_delta "
            "certified exactly")))
    es = [e for e in config.eps_grid if e >= config.eps_window_min]
    te = [[r["t_mix"] for r in _by(erec, eps=e)] for e in es]
    eps_args = dict(
        x=[1 + e for e in es], replicates=te, predicted=4.0, mode="at_most", tolerance=0.0,
        evaluation="exact", conditions=[_assumption_41(None, f"{list(es)}")], details=(
            f"H = {config.horizon_eps}, delta = {config.delta_eps:g}, sawtooth adversarial "
            f"V-hat; fit of the mean certified T_delta on 1 + eps_V over eps_V in {es} "
            f"(window >= {config.eps_window_min:g} pre-registered: below it T_delta is "
            f"dominated by the eps-free part); {config.n_trees_eps} random trees per eps. Design "
            "revised, rule unchanged: the full preset ran 6 trees until the slope interval's degrees "
            "of freedom became min R - 1 (5 instead of the Welch value 17.5); with 6 trees the claim "
            "was then UNDERPOWERED (slope 1.79, the +4.25 alternative not rejectable), so it runs 16"))
    eps_id, eps_ref = f"{NAME}/eps-exponent", "VGB Thm. 4.1 ((1+eps_V)^4; worst case)"
    eps_text = "T_delta grows at most like (1+eps_V)^4"
    out.append(exponent_claim(
        eps_id, eps_ref, eps_text, exploratory=True,
        revised_from=revision(exponent_claim(eps_id, eps_ref, eps_text, **eps_args), why=(
            "exploratory under the rule for slopes of upper bounds: (1+eps_V)^4 is a worst case "
            "(the comparison of Dirichlet forms allows any factor between (1+eps_V)^-4 and "
            "(1+eps_V)^4), and no derivation or pilot shows that the sawtooth instances attain it, "
            "so a slope above 4 + 0.25 has no mechanism to show; the level of T_delta is the "
            "binding kind of test of this bound")), **eps_args))
    return out


def _ratio_range(runs):
    rs = [r["leaf_mass"] / float(stationary_leaf_mass_bound(r["H"], r["eps"])) for r in runs]
    return f"in [{min(rs):.3f}, {max(rs):.3f}]"


def plot(config, records, out_dir):
    from simulations.plots import new_figure, readable_log_axis, save_figure

    rng = analysis_rng(NAME, 1)
    main = [r for r in records if r["scan"] == "H"]
    paths = []
    Hs = np.array(config.horizons, float)
    series = {}
    for d in config.deltas:
        series[f"$T_\\delta$, $\\delta = {d:g}$"] = [np.mean([r["t_mix"] for r in _by(main, H=int(H), delta=d)])
                                                   for H in Hs]
    series["relaxation time"] = [np.mean([r["t_rel"] for r in _by(main, H=int(H), delta=config.deltas[0])])
                                 for H in Hs]
    ref = series["relaxation time"][len(Hs) // 2] / Hs[len(Hs) // 2] ** 2
    series["$H^2$ (shape)"] = list(ref * Hs ** 2)
    paths.append(save_figure(line_plot(Hs, series, xlabel="$H$", ylabel="steps", logx=True, logy=True,
                                       title=r"VGB: $T_\delta$ and relaxation time vs $H$ (exact)",
                                       styles={"$H^2$ (shape)": "k--"}),
                             out_dir / "vgb_mixing_vs_H.png",
                             caption=(f"Certified T_delta at each delta and the relaxation time of the VGB walk "
                                      f"against the horizon H (means over {config.n_trees} random sparse-branching "
                                      f"trees, eps_V = {config.eps_h:g}, exact), with an H^2 reference line.")))
    erec = [r for r in records if r["scan"] == "eps"]
    es = np.array(config.eps_grid, float)
    te = [[r["t_mix"] for r in _by(erec, eps=float(e))] for e in es]
    fit = loglog_fit(1 + es, te, n_boot=500, rng=rng)
    means = np.array([np.mean(t) for t in te])
    paths.append(save_figure(rate_plot(1 + es, means, np.array([np.min(t) for t in te]),
                                       np.array([np.max(t) for t in te]), fit, 4.0,
                                       xlabel=r"$1 + \varepsilon_V$", ylabel=r"$T_\delta$", slope_bound="upper",
                                       title=f"VGB: $T_\\delta$ vs $1 + \\varepsilon_V$, $H = {config.horizon_eps}$"),
                             out_dir / "vgb_mixing_vs_eps.png",
                             caption=(f"Certified T_delta (delta = {config.delta_eps:g}) against 1 + eps_V at "
                                      f"H = {config.horizon_eps} (mean and min-max over {config.n_trees_eps} trees), "
                                      "with the fitted log-log slope and Theorem 4.1's worst-case exponent 4.")))
    curves = [r for r in records if r["scan"] == "curve"]
    if curves:
        fig, ax = new_figure()
        for c in curves:
            T = np.array(c["T"], float)
            tv = np.asarray(c["tv_leaf"], float)
            ax.plot(T / c["H"] ** 2, np.where(tv > 0, tv, np.nan), label=f"$H = {c['H']}$")
        ax.set_yscale("log")
        readable_log_axis(ax, "y")
        ax.set_xlabel("$T / H^2$")
        ax.set_ylabel(r"$\mathrm{TV}(\mathrm{output} \mid \mathrm{leaf}, \pi^\star)$")
        ax.set_title("VGB fixed-$T$ output (exact)", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
        paths.append(save_figure(fig, out_dir / "vgb_mixing_tv_curves.png", caption=(
            "Exact TV distance between the fixed-T output conditioned on being a leaf and pi*, "
            "against T / H^2, one tree per horizon H.")))
    return paths
