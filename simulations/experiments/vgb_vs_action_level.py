r"""ActionLevelRS vs VGB on the failure examples of arXiv 2510.03149 (Examples 3.1 and 3.2).

* **Example 3.1** (single-action perturbation): binary tokens, uniform :math:`\pi_{\rm ref}`,
  :math:`\tau \equiv 1`, :math:`\hat V = V^\star(1+\varepsilon)^{\mathbb 1[y_h = 1]}` on internal
  nodes (Assumption 4.1 with :math:`\varepsilon_V = \varepsilon`).  ActionLevelRS's TV to
  :math:`\pi^\star` is a binomial TV (closed form, any ``H``) growing like
  :math:`\min\{\varepsilon\sqrt H, 1\}`; VGB's fixed-``T`` output is computed exactly on the
  explicit tree (``H <= 10``) at the theorem's ``T``, and by Monte Carlo at larger ``H``
  (exploratory; the count of ones is the statistic).
* **Example 3.2** (one-step-delayed value): :math:`\tau = e^{\lambda\sum_h y_h}`
  (:math:`\beta = 1/(\lambda H)`), :math:`\hat V(y_{1:h}) = V^\star(y_{1:h-1})`.  ActionLevelRS
  is :math:`\pi_{\rm ref}` on the first ``H-1`` tokens, so its KL-regularised regret
  :math:`\beta\,\mathrm{KL}(\hat\pi\|\pi^\star)` stays :math:`\Omega(1)`; VGB's is computed
  exactly on the explicit tree of the delayed-value automaton.

The VGB step count is Theorem 4.1's shape with constant 1,
:math:`T = \lceil H^2(1+\varepsilon_V)^4\ln(1/\delta)\rceil`, with :math:`\varepsilon_V` the
exact uniform error of the value used (pre-registered; no tuning).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.claims import (as_sanity, bound_claim, comparison_claim, condition, exponent_claim,
                                sanity_claim)
from simulations.experiments.contract import Task
from simulations.plots import line_plot
from theory.instances.vgb_trees import example_3_1_automaton, example_3_2_automaton
from simulations.samplers.value_functions import delayed_values, single_action_perturbation
from simulations.samplers.vgb import VGBSampler
from theory.vgb import (action_level_law, first_leaf_law, example_3_1_action_level_tv,
                        example_3_2_action_level_regret, expand_tree, kl_probs,
                        target_leaf_law, theorem_4_1_steps_shape,
                        total_variation_probs, transition_matrix, uniform_error)

NAME = "vgb-vs-action-level"
PAPER_REF = "VGB Ex. 3.1, Ex. 3.2, Thm. 4.1 (arXiv 2510.03149)"
TITLE = "ActionLevelRS amplifies value errors (TV ~ eps sqrt(H); delayed value -> pi_ref); VGB does not"
TOPIC = "backtracking samplers"


@dataclass(frozen=True)
class Config:
    alrs_horizons: tuple = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    eps_grid: tuple = (0.01, 0.03, 0.1, 0.3, 1.0)
    small_regime: float = 0.25       # eps*sqrt(H) <= this: the linear regime of the lower bound
    vgb_horizons: tuple = (4, 6, 8, 10)
    vgb_eps: tuple = (0.2, 0.5, 1.0)
    delta: float = 0.05
    lam: float = 1.0
    mc_horizons: tuple = (16, 32, 64)
    mc_eps: float = 0.3
    mc_samples: int = 4000
    sqrt_window: tuple = (4, 8, 16, 32, 64)
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(alrs_horizons=(2, 4, 8, 16, 32, 64, 256, 1024), vgb_horizons=(4, 6, 8),
                   vgb_eps=(0.2, 1.0), mc_horizons=(16,), mc_samples=1000, preset="quick")

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    out = [Task(cell=0, rep=0, params={"part": "closed-form"})]
    c = 1
    for H in config.vgb_horizons:
        out.append(Task(cell=c, rep=0, params={"part": "ex31-vgb", "H": int(H)}))
        c += 1
        out.append(Task(cell=c, rep=0, params={"part": "ex32-vgb", "H": int(H)}))
        c += 1
    for H in config.mc_horizons:
        out.append(Task(cell=c, rep=0, params={"part": "ex31-mc", "H": int(H)}))
        c += 1
    return out


def _t_run(H, eps, delta):
    return int(np.ceil(theorem_4_1_steps_shape(H, eps, delta)))


def _fixed_t_law(tree, v, T):
    """Exact law of the fixed-T output given a leaf, and P(leaf at T)."""
    PT = transition_matrix(tree, v).T.tocsr()
    mu = np.zeros(tree.n_nodes)
    mu[0] = 1.0
    for _ in range(T):
        mu = PT @ mu
    p_leaf = mu[tree.leaves].sum()
    return mu[tree.leaves] / p_leaf, float(p_leaf)


def run_task(config, task, *, rng):
    part = task.params["part"]
    if part == "closed-form":
        recs = []
        for eps in config.eps_grid:
            tv = example_3_1_action_level_tv(np.array(config.alrs_horizons), eps)
            for H, t in zip(config.alrs_horizons, np.atleast_1d(tv)):
                recs.append({"part": "ex31-alrs", "H": int(H), "eps": float(eps), "tv": float(t)})
        reg, tv = example_3_2_action_level_regret(np.array(config.alrs_horizons, float), config.lam)
        for H, r, t in zip(config.alrs_horizons, reg, tv):
            recs.append({"part": "ex32-alrs", "H": int(H), "regret": float(r), "tv": float(t)})
        return recs
    H = task.params["H"]
    if part == "ex31-vgb":
        aut, ones, last = example_3_1_automaton(H)
        tree = expand_tree(aut)
        target = target_leaf_law(tree)
        recs = []
        for eps in config.vgb_eps:
            vals = single_action_perturbation(aut, last, eps)
            eps_v = uniform_error(aut, vals)
            v = tree.node_values(vals)
            T = _t_run(H, eps_v, config.delta)
            law, p_leaf = _fixed_t_law(tree, v, T)
            alrs, _ = action_level_law(tree, v)
            first = first_leaf_law(tree, v)
            recs.append({"part": "ex31-vgb", "H": H, "eps": float(eps), "eps_v": eps_v, "T": T,
                         "tv_vgb": float(total_variation_probs(law, target)),
                         "tv_first_leaf": float(total_variation_probs(first, target)),
                         "tv_alrs_tree": float(total_variation_probs(alrs, target)),
                         "tv_alrs_closed": float(example_3_1_action_level_tv(H, eps)),
                         "p_leaf": p_leaf})
        return recs
    if part == "ex32-vgb":
        aut, ones, last = example_3_2_automaton(H, config.lam)
        eaut, vals, child = delayed_values(aut)
        eps_v = uniform_error(eaut, vals)
        tree = expand_tree(eaut)
        target = target_leaf_law(tree)
        v = tree.node_values(vals)
        T = _t_run(H, eps_v, config.delta)
        law, p_leaf = _fixed_t_law(tree, v, T)
        alrs, _ = action_level_law(tree, v)
        beta = 1.0 / (config.lam * H)
        ref = np.exp(tree.log_prefix[tree.leaves])
        reg_closed, tv_closed = example_3_2_action_level_regret(H, config.lam)
        return [{"part": "ex32-vgb", "H": H, "eps_v": eps_v, "T": T, "beta": beta,
                 "regret_vgb": float(beta * kl_probs(law, target)),
                 "tv_vgb": float(total_variation_probs(law, target)),
                 "regret_alrs_tree": float(beta * kl_probs(alrs, target)),
                 "regret_alrs_closed": float(reg_closed),
                 "tv_alrs_tree": float(total_variation_probs(alrs, target)),
                 "tv_alrs_closed": float(tv_closed),
                 "regret_ref": float(beta * kl_probs(ref, target)), "p_leaf": p_leaf}]
    if part == "ex31-mc":
        eps = config.mc_eps
        aut, ones, last = example_3_1_automaton(H)
        vals = single_action_perturbation(aut, last, eps)
        out = VGBSampler(aut, vals).sample_first_leaf(config.mc_samples, rng=rng,
                                                      max_steps=200 * H * H)
        k = ones[out.state[out.done]]
        hist = np.bincount(k, minlength=H + 1)
        return [{"part": "ex31-mc", "H": H, "eps": eps, "n": int(out.done.sum()),
                 "n_requested": config.mc_samples, "hist": hist.tolist(),
                 "mean_steps": float(out.steps.mean()), "mean_cost": float(out.cost.mean())}]
    raise ValueError(f"unknown part {part!r}")


def _by(records, **kw):
    return [r for r in records if all(r.get(k) == v for k, v in kw.items())]


def claims(config, records):
    out = []
    # --- Example 3.1, ActionLevelRS (closed form)
    a31 = _by(records, part="ex31-alrs")
    win = list(config.sqrt_window)
    eps_lin = [e for e in config.eps_grid if e * np.sqrt(max(win)) <= config.small_regime]
    series = {f"eps={e:g}": [[r["tv"] for r in _by(a31, eps=e, H=H)] for H in win]
              for e in eps_lin}
    out.append(exponent_claim(
        f"{NAME}/alrs-sqrtH", "VGB Ex. 3.1",
        "ActionLevelRS's TV to pi* grows like eps*sqrt(H) while eps*sqrt(H) is small", win, series,
        predicted=0.5, tolerance=0.05, evaluation="exact", details=(
            f"exact binomial TV; pre-registered window H in {win}, every eps with eps*sqrt(H) <= "
            f"{config.small_regime} on the whole window ({eps_lin}); tolerance 0.05 for the "
            "curvature of the TV in eps*sqrt(H) and the H-1 vs H of the closed form. Under the rule "
            "for slopes of upper bounds this exponent is not a slope of a bound: it is derived for the "
            "instance (the exact TV between the two binomial laws of Example 3.1, whose means differ "
            "by O(eps), is a constant times eps*sqrt(H-1) plus O((eps*sqrt H)^2) in this regime), so "
            "the claim stays binding")))
    ratio = [r["tv"] / min(r["eps"] * np.sqrt(max(r["H"] - 1, 1)), 1.0) for r in a31]
    out.append(bound_claim(
        f"{NAME}/alrs-lower-bound-constant", "VGB Ex. 3.1 (constant of the Omega)",
        "TV(ActionLevelRS, pi*) >= 0.1 min(eps sqrt(H-1), 1) over the whole grid",
        bound=0.1, side="lower", constants="c = 0.1 (the example states Omega, no constant; the "
        "normal approximation gives about 0.2 in the linear regime)", evaluation="exact",
        measured=float(min(ratio)), exploratory=True,
        details=f"min over {len(ratio)} grid points (H, eps) of TV / min(eps sqrt(H-1), 1)"))
    sat = [r for r in a31 if r["eps"] * np.sqrt(r["H"]) >= 10]
    if sat:
        out.append(bound_claim(
            f"{NAME}/alrs-saturates", "VGB Ex. 3.1",
            "TV(ActionLevelRS, pi*) -> 1 once eps sqrt(H) is large: >= 0.9 when eps sqrt(H) >= 10",
            bound=0.9, side="lower", constants="0.9 at eps sqrt(H) >= 10 (pre-registered)",
            evaluation="exact", measured=[r["tv"] for r in sat],
            labels=[f"H={r['H']} eps={r['eps']:g}" for r in sat],
            details=f"{len(sat)} grid points with eps sqrt(H) >= 10"))
    # --- Example 3.1, VGB exact
    v31 = _by(records, part="ex31-vgb")
    cond31 = [condition("Assumption 4.1 (uniform error eps_V, tau at the leaves)",
                        f"eps_V = {sorted({round(r['eps_v'], 6) for r in v31})} (exact)", True)]
    out.append(sanity_claim(
        f"{NAME}/alrs-closed-form-check", "VGB Ex. 3.1",
        "ActionLevelRS law on the explicit tree agrees with the binomial closed form",
        [r["tv_alrs_tree"] for r in v31], [r["tv_alrs_closed"] for r in v31], tolerance=1e-10))
    out.append(comparison_claim(
        f"{NAME}/vgb-beats-alrs-ex31", "VGB Ex. 3.1, Thm. 4.1",
        "at Theorem 4.1's T, VGB's output is closer to pi* (TV) than ActionLevelRS's on every "
        "Example 3.1 instance", [r["tv_vgb"] for r in v31], [r["tv_alrs_closed"] for r in v31],
        better="lower", names=("VGB", "ActionLevelRS"), evaluation="exact",
        labels=[f"H={r['H']} eps={r['eps']:g}" for r in v31], conditions=cond31, details=(
            "exact fixed-T law on the explicit binary tree, T = H^2(1+eps_V)^4 ln(1/delta) "
            f"(delta = {config.delta:g}, constant 1)")))
    out.append(bound_claim(
        f"{NAME}/vgb-ex31-tv", "VGB Thm. 4.1 on Ex. 3.1 (constant of T not stated)",
        f"VGB's fixed-T output has TV <= delta = {config.delta:g} to pi* at T = H^2(1+eps)^4 "
        "ln(1/delta), i.e. the theorem's T with constant 1",
        bound=config.delta, side="upper", constants="T with constant 1", evaluation="exact",
        measured=[r["tv_vgb"] for r in v31], labels=[f"H={r['H']} eps={r['eps']:g}" for r in v31],
        exploratory=True, conditions=cond31,
        details="exact law by sparse matrix powers on the explicit binary tree"))
    # --- Example 3.1, Monte Carlo at larger H (first-leaf heuristic; exploratory)
    for r in _by(records, part="ex31-mc"):
        H = r["H"]
        hist = np.asarray(r["hist"])
        ones = np.repeat(np.arange(H + 1), hist).astype(float)
        alrs_mean = H * (1 + config.mc_eps) / (2 + config.mc_eps)
        out.append(bound_claim(
            f"{NAME}/vgb-first-leaf-mc-H{H}", "VGB Ex. 3.1 (first-leaf heuristic)",
            f"H = {H}, eps = {config.mc_eps}: the first-leaf VGB heuristic favours the perturbed "
            "token less than ActionLevelRS (its mean number of ones is below ActionLevelRS's "
            f"H(1+eps)/(2+eps); pi* has H/2 = {H / 2:g})", bound=alrs_mean, side="upper",
            constants="ActionLevelRS mean H(1+eps)/(2+eps) (exact)", evaluation="monte_carlo",
            replicates=[ones], exploratory=True, details=(
                f"{int(hist.sum())} samples (mean {r['mean_steps']:.0f} steps, "
                f"{r['mean_cost']:.0f} queries each); sample mean {ones.mean():.3f}; the "
                "first-leaf rule is not Theorem 4.1's sampler")))
    fl_ratio = max(r["tv_first_leaf"] / r["tv_alrs_closed"] for r in v31)
    out.append(comparison_claim(
        f"{NAME}/first-leaf-biased", "VGB Alg. 1 (stopping rule); reference notes §A.7",
        "the first-leaf heuristic errs less than ActionLevelRS under value errors (it is not "
        "exact: TV > 0)", [r["tv_first_leaf"] for r in v31], [r["tv_alrs_closed"] for r in v31],
        better="lower", names=("first-leaf", "ActionLevelRS"), evaluation="exact",
        labels=[f"H={r['H']} eps={r['eps']:g}" for r in v31], exploratory=True, details=(
            "exact first-leaf law (absorbing-chain solve) on the Example 3.1 trees; min TV "
            f"{min(r['tv_first_leaf'] for r in v31):.3g} (> 0: biased), max TV(first-leaf) / "
            f"TV(ALRS) = {fl_ratio:.3f}")))
    # --- Example 3.2
    a32 = _by(records, part="ex32-alrs")
    big = [r for r in a32 if r["H"] >= 4]
    kl = 0.5 * np.log(0.5 / (1 / (1 + np.exp(-config.lam)))) + \
        0.5 * np.log(0.5 / (1 - 1 / (1 + np.exp(-config.lam))))
    out.append(as_sanity(bound_claim(
        f"{NAME}/alrs-delayed-regret", "VGB Ex. 3.2",
        "with the delayed value ActionLevelRS keeps Omega(1) KL-regularised regret",
        bound=0.75 * kl / config.lam, side="lower",
        constants=f"(3/4) KL(Ber(1/2)||Ber(sigma(lam)))/lam = {0.75 * kl / config.lam:.4f} "
        "for H >= 4 [derived: regret = (H-1)/(lam H) KL]", evaluation="exact",
        measured=[r["regret"] for r in big], labels=[f"H={r['H']}" for r in big], details=(
            f"its TV to pi* reaches {max(r['tv'] for r in a32):.3f}")),
        reason="the measured regret is the closed form (H-1)/(lam H) KL and the bound is the same "
               "closed form at H = 4, so the check reduces to (H-1)/H >= 3/4; the tree against the "
               "closed form is alrs-delayed-closed-form-check, and the Omega(1) regret is shown by "
               "vgb-beats-alrs-ex32"))
    v32 = _by(records, part="ex32-vgb")
    out.append(sanity_claim(
        f"{NAME}/alrs-delayed-closed-form-check", "VGB Ex. 3.2",
        "ActionLevelRS with the delayed value is pi_ref on y_1..y_{H-1} (tree = closed form)",
        [r["regret_alrs_tree"] for r in v32] + [r["tv_alrs_tree"] for r in v32],
        [r["regret_alrs_closed"] for r in v32] + [r["tv_alrs_closed"] for r in v32],
        tolerance=1e-10))
    cond32 = [condition("Assumption 4.1 (uniform error eps_V, tau at the leaves)",
                        f"eps_V = {v32[0]['eps_v']:.3f} (exact uniform error of the delayed value)",
                        True)]
    out.append(comparison_claim(
        f"{NAME}/vgb-beats-alrs-ex32", "VGB Ex. 3.2, Thm. 4.1",
        "with the delayed value, VGB's KL-regularised regret at Theorem 4.1's T is below "
        "ActionLevelRS's on every instance", [r["regret_vgb"] for r in v32],
        [r["regret_alrs_tree"] for r in v32], better="lower", names=("VGB", "ActionLevelRS"),
        evaluation="exact", labels=[f"H={r['H']}" for r in v32], conditions=cond32, details=(
            "exact laws on the explicit tree of the delayed-value automaton; T = "
            f"H^2(1+eps_V)^4 ln(1/delta), delta = {config.delta:g} (constant 1)")))
    out.append(bound_claim(
        f"{NAME}/vgb-delayed-recovers", "VGB Thm. 4.1 on Ex. 3.2 (constant of T not stated)",
        f"VGB with the delayed value has TV <= delta = {config.delta:g} at T = H^2(1+eps_V)^4 "
        "ln(1/delta) (constant 1)", bound=config.delta, side="upper", constants="T with "
        "constant 1", evaluation="exact", measured=[r["tv_vgb"] for r in v32],
        labels=[f"H={r['H']}" for r in v32], exploratory=True, conditions=cond32))
    out.append(bound_claim(
        f"{NAME}/vgb-delayed-regret", "VGB Thm. 4.1 (KL-regularised regret <= beta delta)",
        "VGB's KL-regularised regret is at most beta*delta at T = H^2(1+eps_V)^4 ln(1/delta) "
        "(constant 1)", bound=[r["beta"] * config.delta for r in v32], side="upper",
        constants="beta delta as stated; T with constant 1", evaluation="exact",
        measured=[r["regret_vgb"] for r in v32], labels=[f"H={r['H']}" for r in v32],
        exploratory=True, conditions=cond32, details=(
            "ActionLevelRS's regret on the same instances: "
            f"{[round(r['regret_alrs_tree'], 4) for r in v32]}")))
    return out


def plot(config, records, out_dir):
    from simulations.plots import save_figure

    paths = []
    tv = r"$\mathrm{TV}(\mathrm{output}, \pi^\star)$"
    a31 = _by(records, part="ex31-alrs")
    Hs = np.array(config.alrs_horizons, float)
    series = {f"ActionLevelRS, $\\varepsilon = {e:g}$": [r["tv"] for r in sorted(_by(a31, eps=e), key=lambda r: r["H"])]
              for e in config.eps_grid}
    e0 = config.eps_grid[0]
    shape = f"$0.2\\,\\varepsilon\\sqrt{{H}}$ (linear regime, shape), $\\varepsilon = {e0:g}$"
    series[shape] = list(np.minimum(0.2 * e0 * np.sqrt(Hs), 1.0))
    v31 = _by(records, part="ex31-vgb")
    paths.append(save_figure(line_plot(Hs, series, xlabel="$H$", ylabel=tv, logx=True, logy=True,
                                       styles={shape: "k--"}, title="Example 3.1: ActionLevelRS (exact)"),
                             out_dir / "ex31_alrs_tv.png",
                             caption=("Example 3.1: exact TV distance of ActionLevelRS's output to pi* "
                                      "against H, one curve per eps, with the 0.2 eps sqrt(H) shape of the "
                                      "linear regime.")))
    hv = np.array(config.vgb_horizons, float)
    ser, sty = {}, {}
    for j, e in enumerate(config.vgb_eps):  # one colour per eps: VGB solid, ActionLevelRS dashed
        rs = sorted(_by(v31, eps=e), key=lambda r: r["H"])
        ser[f"VGB, $\\varepsilon = {e:g}$"] = [r["tv_vgb"] for r in rs]
        sty[f"VGB, $\\varepsilon = {e:g}$"] = f"C{j}-o"
        ser[f"ActionLevelRS, $\\varepsilon = {e:g}$"] = [r["tv_alrs_closed"] for r in rs]
        sty[f"ActionLevelRS, $\\varepsilon = {e:g}$"] = f"C{j}--s"
    paths.append(save_figure(line_plot(hv, ser, xlabel="$H$", ylabel=tv, logy=True, styles=sty,
                                       title=(r"Example 3.1: VGB ($T = H^2(1+\varepsilon)^4\ln(1/\delta)$) "
                                              "vs ActionLevelRS (exact)")),
                             out_dir / "ex31_vgb_vs_alrs.png",
                             caption=("Example 3.1: exact TV distance to pi* of VGB at Theorem 4.1's T "
                                      "(solid) and of ActionLevelRS (dashed) against H, one colour per eps.")))
    v32 = sorted(_by(records, part="ex32-vgb"), key=lambda r: r["H"])
    paths.append(save_figure(line_plot(np.array([r["H"] for r in v32], float),
                                       {"ActionLevelRS (delayed value)": [r["regret_alrs_tree"] for r in v32],
                                        "VGB (delayed value)": [r["regret_vgb"] for r in v32],
                                        r"$\pi_{\mathrm{ref}}$": [r["regret_ref"] for r in v32]},
                                       xlabel="$H$", ylabel="KL-regularised regret", logy=True,
                                       title="Example 3.2: delayed value (exact)"),
                             out_dir / "ex32_regret.png",
                             caption=("Example 3.2 (delayed value): exact KL-regularised regret of "
                                      "ActionLevelRS, VGB and pi_ref against H.")))
    return paths
