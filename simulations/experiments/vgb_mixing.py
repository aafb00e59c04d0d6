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

from simulations.experiment import Claim, Task, analysis_rng
from simulations.plots import line_plot, rate_plot
from simulations.samplers.trees import sparse_branching_tree
from simulations.samplers.value_functions import multiplicative_error
from simulations.stats import loglog_fit, slope_test
from theory.vgb import (expand_tree, leaf_conditional_curves, leaf_mass, mixing_times,
                        optimal_values, relaxation_time, stationary_law,
                        stationary_leaf_mass_bound, target_leaf_law,
                        theorem_4_1_leaf_probability_bound, theorem_4_1_steps_shape)

NAME = "vgb-mixing"
PAPER_REF = "VGB Thm. 4.1 (arXiv 2510.03149)"
TITLE = "VGB walk: exact stationary law, leaf mass, T_delta ~ H^2 (1+eps)^{<=4}"
TOPIC = "backtracking samplers"


@dataclass(frozen=True)
class Config:
    horizons: tuple = (4, 8, 16, 32, 64)
    eps_h: float = 0.5
    deltas: tuple = (0.05, 1e-2, 1e-3, 1e-4)
    eps_grid: tuple = (0.25, 0.5, 1.0, 2.0, 4.0)
    horizon_eps: int = 16
    delta_eps: float = 1e-3
    n_trees: int = 6
    n_branch: int = 3
    branching: int = 3
    pattern: str = "sawtooth"
    h_window_min: int = 8
    eps_window_min: float = 0.5
    curve_points: int = 120
    level: float = 0.95

    @classmethod
    def quick(cls):
        return cls(horizons=(4, 8, 16, 32), deltas=(0.05, 1e-2, 1e-3),
                   eps_grid=(0.25, 0.5, 1.0, 2.0, 4.0), horizon_eps=8, n_trees=2)

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
    for r in range(config.n_trees):
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
                            "min_p_leaf_after_mix": float(res.min_p_leaf_after[r, k])})
    if scan == "H":
        T_max = int(3 * H * H)
        curve = leaf_conditional_curves(trees[0], vals[0], T_max)
        idx = np.unique(np.linspace(H, T_max, config.curve_points).astype(int))
        records.append({"scan": "curve", "H": H, "eps": eps, "T": idx.tolist(),
                        "tv_leaf": curve.tv_leaf[0, idx].tolist(),
                        "p_leaf": curve.p_leaf[0, idx].tolist()})
    return records


def _by(records, **kw):
    return [r for r in records if all(r.get(k) == v for k, v in kw.items())]


def _fit(xs, groups, level, rng):
    return loglog_fit(np.asarray(xs, float), [np.asarray(g, float) for g in groups], level=level,
                      n_boot=2000, rng=rng)


def claims(config, records):
    rng = analysis_rng(NAME)
    main = [r for r in records if r["scan"] in ("H", "eps")]
    out = []
    err = max(r["stat_err"] for r in main)
    out.append(Claim(
        id=f"{NAME}/stationary-law", paper_ref="VGB §4 (stationary law of Alg. 1)",
        statement="for every V-hat, the walk's stationary law conditioned on the leaves is pi_ref*tau normalised",
        predicted=0.0, measured=err, interval=None, evaluation="exact", passed=bool(err <= 1e-12),
        details=f"max |pi_tilde(.|L) - pi*| over {len(main)} (tree, delta) runs; tolerance 1e-12 (float64)"))
    dev = max(abs(r["leaf_mass_vstar"] - 1 / (2 * r["H"])) for r in main)
    out.append(Claim(
        id=f"{NAME}/leaf-mass-vstar", paper_ref="VGB §4 (leaf mass with V*)",
        statement="with V-hat = V*, the stationary leaf mass is exactly 1/(2H)", predicted=0.0,
        measured=dev, interval=None, evaluation="exact", passed=bool(dev <= 1e-12),
        details="max |pi_tilde(leaves) - 1/(2H)|"))
    ratio = min(r["leaf_mass"] / float(stationary_leaf_mass_bound(r["H"], r["eps"])) for r in main)
    out.append(Claim(
        id=f"{NAME}/leaf-mass-bound", paper_ref="VGB Thm. 4.1 (leaf mass, derived stationary form)",
        statement="under Assumption 4.1 the stationary leaf mass is >= 1/(2(1+eps)H)",
        predicted=">= 1", measured=ratio, interval=None, evaluation="exact",
        passed=bool(ratio >= 1 - 1e-12), details="min over runs of leaf mass * 2(1+eps)H"))
    pr = [r["p_leaf_at_T_thm"] / float(theorem_4_1_leaf_probability_bound(r["H"], r["eps"]))
          for r in main]
    kinds = sum(r["p_leaf_exact"] for r in main)
    out.append(Claim(
        id=f"{NAME}/leaf-probability", paper_ref="VGB Thm. 4.1",
        statement="P[output is a leaf] >= 1/(8(1+eps)H) at T = H^2(1+eps)^4 ln(1/delta)",
        predicted=">= 1", measured=float(min(pr)), interval=None,
        evaluation="exact" if kinds == len(main) else "certified",
        passed=bool(min(pr) >= 1), details=(
            f"min over {len(main)} runs of P(leaf at T)*8(1+eps)H; {kinds} exact, the rest the "
            "certified lower bound pi_tilde(L) - TV(mu_T, pi_tilde) at the certification step")))
    rt = max(r["t_mix"] / float(theorem_4_1_steps_shape(r["H"], r["eps"], r["delta"])) for r in main)
    out.append(Claim(
        id=f"{NAME}/t-below-theorem-shape", paper_ref="VGB Thm. 4.1",
        statement="T_delta <= H^2 (1+eps)^4 ln(1/delta) (theorem's shape, constant 1)",
        predicted="<= 1", measured=rt, interval=None, evaluation="exact", passed=bool(rt <= 1),
        details="max over runs of T_delta / (H^2 (1+eps)^4 ln(1/delta)); T_delta certified exactly"))

    Hs = [H for H in config.horizons if H >= config.h_window_min]
    hrec = [r for r in main if r["scan"] == "H"]
    trel = [[r["t_rel"] for r in _by(hrec, H=H, delta=config.deltas[0])] for H in Hs]
    fit = _fit(Hs, trel, config.level, rng)
    out.append(Claim(
        id=f"{NAME}/relaxation-H2", paper_ref="VGB Thm. 4.1 (T ~ H^2)",
        statement="the relaxation time of the walk grows like H^2", predicted=2.0,
        measured=fit.slope, interval=[fit.ci_low, fit.ci_high], evaluation="exact",
        passed=slope_test(fit, 2.0, tol=0.15), details=(
            f"t_rel = 1/(1-lambda_2) exact per tree; {fit.method}; H window {Hs}; tol 0.15; "
            f"interval over {config.n_trees} random trees per H")))
    ds = sorted(config.deltas)
    dmin, dmax, dnext = ds[0], ds[-1], ds[1]
    tsmall = [[r["t_mix"] for r in _by(hrec, H=H, delta=dmin)] for H in Hs]
    fit_s = _fit(Hs, tsmall, config.level, rng)
    out.append(Claim(
        id=f"{NAME}/tdelta-H-exponent", paper_ref="VGB Thm. 4.1",
        statement=f"T_delta at delta={dmin:g} grows at most like H^2 (up to log factors)",
        predicted="<= 2 (+0.5 for logs)", measured=fit_s.slope,
        interval=[fit_s.ci_low, fit_s.ci_high], evaluation="exact",
        passed=bool(fit_s.ci_high <= 2.5), details=(
            f"{fit_s.method}; pass iff the upper CI end <= 2.5 (H^2 log H has local slope "
            f"<= 2.5 on this window); H window {Hs}")))
    inc = []
    for H in Hs:
        a = {r["tree"]: r["t_mix"] for r in _by(hrec, H=H, delta=dmin)}
        b = {r["tree"]: r["t_mix"] for r in _by(hrec, H=H, delta=dnext)}
        inc.append([(a[k] - b[k]) / np.log(dnext / dmin) for k in a])
    fit_i = _fit(Hs, inc, config.level, rng)
    out.append(Claim(
        id=f"{NAME}/log-delta-rate-H2", paper_ref="VGB Thm. 4.1 (H^2 log(1/delta))",
        statement="the extra steps per unit of log(1/delta) grow like H^2",
        predicted=2.0, measured=fit_i.slope, interval=[fit_i.ci_low, fit_i.ci_high],
        evaluation="exact", passed=slope_test(fit_i, 2.0, tol=0.3), details=(
            f"(T_delta({dmin:g}) - T_delta({dnext:g})) / ln({dnext:g}/{dmin:g}) per tree (the two "
            f"smallest deltas: the asymptotic regime); "
            f"{fit_i.method}; tol 0.3; H window {Hs}")))
    tmod = [[r["t_mix"] for r in _by(hrec, H=H, delta=dmax)] for H in Hs]
    fit_m = _fit(Hs, tmod, config.level, rng)
    out.append(Claim(
        id=f"{NAME}/tdelta-H-exponent-moderate-delta", paper_ref="VGB Thm. 4.1",
        statement=f"exponent of T_delta in H at a moderate delta={dmax:g}",
        predicted="2 (if T ~ H^2 held at every delta)", measured=fit_m.slope,
        interval=[fit_m.ci_low, fit_m.ci_high], evaluation="exact",
        passed=slope_test(fit_m, 2.0, tol=0.15), exploratory=True, details=(
            "Finding: at moderate delta the leaf-conditioned law is already close to pi* when "
            "the first leaves are reached (the walk re-samples early choices during its "
            "excursions), so T_delta grows roughly linearly in H; the H^2 shows up in the "
            f"relaxation time and in the log(1/delta) rate. {fit_m.method}")))
    erec = [r for r in main if r["scan"] == "eps"]
    es = [e for e in config.eps_grid if e >= config.eps_window_min]
    te = [[r["t_mix"] for r in _by(erec, eps=e)] for e in es]
    fit_e = _fit([1 + e for e in es], te, config.level, rng)
    out.append(Claim(
        id=f"{NAME}/eps-exponent", paper_ref="VGB Thm. 4.1 ((1+eps)^4)",
        statement="T_delta grows at most like (1+eps_V)^4", predicted="<= 4",
        measured=fit_e.slope, interval=[fit_e.ci_low, fit_e.ci_high], evaluation="exact",
        passed=bool(fit_e.ci_high <= 4.0), details=(
            f"H={config.horizon_eps}, delta={config.delta_eps:g}, sawtooth adversarial V-hat; "
            f"fit of mean T_delta on 1+eps over eps in {es}; pass iff upper CI end <= 4; "
            f"{fit_e.method}")))
    return out


def plot(config, records, out_dir):
    rng = analysis_rng(NAME, 1)
    main = [r for r in records if r["scan"] == "H"]
    paths = []
    Hs = np.array(config.horizons, float)
    series, styles = {}, {}
    for d in config.deltas:
        series[f"T_delta, delta={d:g}"] = [np.mean([r["t_mix"] for r in _by(main, H=int(H), delta=d)])
                                           for H in Hs]
    series["relaxation time"] = [np.mean([r["t_rel"] for r in _by(main, H=int(H), delta=config.deltas[0])])
                                 for H in Hs]
    ref = series["relaxation time"][len(Hs) // 2] / Hs[len(Hs) // 2] ** 2
    series["H^2 (reference)"] = list(ref * Hs ** 2)
    styles["H^2 (reference)"] = "--"
    paths.append(line_plot(Hs, series, xlabel="H", ylabel="steps", logx=True, logy=True,
                           title="VGB: T_delta and relaxation time vs H (exact)", styles=styles,
                           path=out_dir / "vgb_mixing_vs_H.png"))
    erec = [r for r in records if r["scan"] == "eps"]
    es = np.array(config.eps_grid, float)
    te = [[r["t_mix"] for r in _by(erec, eps=float(e))] for e in es]
    fit = loglog_fit(1 + es, te, n_boot=500, rng=rng)
    means = np.array([np.mean(t) for t in te])
    paths.append(rate_plot(1 + es, means, np.array([np.min(t) for t in te]),
                           np.array([np.max(t) for t in te]), fit, 4.0, xlabel="1 + eps_V",
                           ylabel="T_delta", title=f"VGB: T_delta vs (1+eps), H={config.horizon_eps}",
                           path=out_dir / "vgb_mixing_vs_eps.png"))
    curves = [r for r in records if r["scan"] == "curve"]
    if curves:
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5.2, 3.9))
        for c in curves:
            T = np.array(c["T"], float)
            ax.plot(T / c["H"] ** 2, c["tv_leaf"], label=f"H={c['H']}")
        ax.set_yscale("log")
        ax.set_xlabel("T / H^2")
        ax.set_ylabel("TV(output | leaf, pi*)")
        ax.set_title("VGB fixed-T output (exact)")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        p = out_dir / "vgb_mixing_tv_curves.png"
        fig.savefig(p, dpi=120)
        plt.close(fig)
        paths.append(p)
    return paths
