r"""The Dyck accuracy–diversity comparison of the VGB paper (§5.2, Fig. 1) at matched query budgets.

Reference model: the noisy Dyck generator of :mod:`theory.instances.dyck` (2 types
(0.2, 0.8), pop 0.5, max depth 12, length ``H = 32``, per-token noise :math:`\eta = 0.1`;
about 31% of its responses are valid), whose exact likelihoods give
:math:`\tau = \mathbb 1[\text{valid and complete}]` and :math:`V^\star` by dynamic programming.

Value function (the paper's kind: learned by Monte Carlo regression of the outcome on a
representation of the prefix, here a tabular regression on the type-blind representation
``(h, #open - #close)`` fitted on rollouts of :math:`\pi_{\rm ref}`, one fit per replicate).
It cannot see bracket types, so it errs on every prefix with a type mismatch, *also on complete
responses*: no method sees :math:`\tau` (the VGB paper's Assumption 4.2 setting, which does not
require :math:`\tau` at the leaves), so every method's accuracy is a measured quantity.  Its
errors are computed exactly against :math:`V^\star` and recorded (average-case
:math:`\varepsilon_V` of Assumption 4.2; Assumption 4.1 fails: :math:`\hat V > 0` on invalid
balanced responses, where :math:`V^\star = 0`).

Methods: VGB (first-leaf stopping rule) with :math:`\hat V`; two controls, VGB with the exact
:math:`V^\star` (isolates the cost of the walk from the value error) and VGB run as long chains
that never restart, every arrival at a leaf an output, one memo cache per chain (the most
query-frugal reading of the walk); block Best-of-N and block rejection sampling over block
length ``{1, 2, 4, 8, 16}`` × candidates ``{2, 4, 8, 16, 32}`` (the paper's grid);
ActionLevelRS and plain sampling.  Accuracy = fraction of valid outputs; diversity = number of
distinct valid outputs.

Query accounting, written down before the runs.  Sources: the secondary accounts of the paper
(reference notes §A.6) say only that the comparison is at a matched query budget; its
predecessor on the same Dyck generator and the same baselines (Botta et al. 2025, arXiv
2502.12123) measures query complexity as the number of oracle calls.  Hence:

* one **query** is one call of :math:`\pi_{\rm ref}(\cdot\mid u)` (the next-token distribution
  at a prefix ``u``) or one call of :math:`\hat V(u)`;
* **memoised** (the binding accounting, the one most favourable to VGB among per-output
  accountings): within one output's run a repeated call on the same prefix is free (a cache
  keyed by the prefix); runs do not share caches.  VGB pays, per distinct prefix it moves
  from, one :math:`\pi_{\rm ref}` call and one value call per child (its own value arrives with
  its parent's expansion); block samplers pay one :math:`\pi_{\rm ref}` call per distinct
  prefix they extend and one value call per distinct block end (rejection sampling: plus
  :math:`\hat V` of the first block's root); plain sampling ``H`` calls;
* **uncached** (exploratory): every call counts
  (:mod:`simulations.samplers.vgb`, :mod:`simulations.samplers.baselines`).

Every method draws outputs in order until its budget ``B`` is spent; an output is counted if the
cumulative cost up to and including it is at most ``B``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from simulations.claims import comparison_claim, condition, law_claim, not_run_in_quick
from simulations.experiments.contract import Task
from simulations.samplers.baselines import (action_level_rs, block_best_of_n,
                                            block_rejection_sampling, reference_sample)
from theory.instances.dyck import DyckSpec, dyck_model, type_blind_groups
from simulations.samplers.value_functions import fit_tabular_value
from simulations.samplers.vgb import VGBSampler
from theory.vgb import average_case_error, optimal_values, exact_value_walk_length_law

NAME = "dyck-frontier"
PAPER_REF = "VGB §5.2, Fig. 1 (arXiv 2510.03149)"
TITLE = "Dyck grammar: accuracy and diversity of VGB vs block Best-of-N / rejection sampling at matched query budgets"
TOPIC = "backtracking samplers"

#: The accountings, by record key.
VIEWS = ("budget_memo", "budget_uncached", "matched_n")


@dataclass(frozen=True)
class Config:
    noise: float = 0.1
    length: int = 32
    max_depth: int = 12
    fit_rollouts: int = 20000
    fit_seed: int = 20251003
    budget: int = 150_000
    n_outputs: int = 200
    block_lengths: tuple = (1, 2, 4, 8, 16)
    candidates: tuple = (2, 4, 8, 16, 32)
    vgb_max_steps_factor: int = 32      # first-leaf cap: factor * H^2 steps
    chains: int = 8                     # long-chain reading: chains per replicate
    reps: int = 8
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(budget=60_000, n_outputs=60, block_lengths=(1, 16), candidates=(2, 32),
                   reps=3, preset="quick")

    @classmethod
    def full(cls):
        return cls()


def _methods(config):
    out = [("vgb", {}), ("vgb-vstar", {}), ("vgb-chain", {"chains": int(config.chains)})]
    out += [("block-bon", {"b": int(b), "K": int(K)}) for b in config.block_lengths
            for K in config.candidates]
    out += [("block-rs", {"b": int(b), "K": int(K)}) for b in config.block_lengths
            for K in config.candidates]
    out += [("alrs", {}), ("reference", {})]
    return out


def tasks(config):
    return [Task(cell=i, rep=r, params={"method": m, **p})
            for i, (m, p) in enumerate(_methods(config)) for r in range(config.reps)]


@functools.lru_cache(maxsize=8)
def _setup(config, rep):
    spec = DyckSpec(length=config.length, max_depth=config.max_depth, noise=config.noise)
    model = dyck_model(spec)
    fit = fit_tabular_value(model.automaton, type_blind_groups(model), config.fit_rollouts,
                            rng=np.random.default_rng([config.fit_seed, rep]))
    return model, fit, optimal_values(model.automaton)


def _sample(config, aut, values, v_star, method, params, n, rng):
    H = aut.horizon
    if method in ("vgb", "vgb-vstar"):
        v = v_star if method == "vgb-vstar" else values
        return VGBSampler(aut, v, tau_at_leaves=False).sample_first_leaf(
            n, rng=rng, max_steps=config.vgb_max_steps_factor * H * H, memo=True)
    if method == "block-bon":
        return block_best_of_n(aut, values, n, params["b"], params["K"], rng=rng,
                               tau_at_leaves=False)
    if method == "block-rs":
        return block_rejection_sampling(aut, values, n, params["b"], params["K"], rng=rng,
                                        tau_at_leaves=False)
    if method == "alrs":
        return action_level_rs(aut, values, n, rng=rng, tau_at_leaves=False)
    if method == "reference":
        return reference_sample(aut, n, rng=rng)
    raise ValueError(f"unknown method {method!r}")


#: Equiprobable bins of the exact walk-length law used by the walk-length check.
WALK_LENGTH_BINS = 20


@functools.lru_cache(maxsize=4)
def _walk_length_law(config):
    """Exact law of the first-leaf walk length with V* (capped at the run cap), and bin edges."""
    H = config.length
    t_cap = config.vgb_max_steps_factor * H * H
    pmf, tail = exact_value_walk_length_law(H, t_cap)
    cdf = np.cumsum(pmf)
    edges = np.searchsorted(cdf, np.arange(1, WALK_LENGTH_BINS) / WALK_LENGTH_BINS) + 1
    edges = np.unique(edges)
    probs = np.diff(np.concatenate([[0.0], cdf[edges - 1], [1.0]]))
    return edges, probs, tail


def _walk_length_bins(config):
    return _walk_length_law(config)[0]


def _concat(outs):
    def cat(name):
        return np.concatenate([getattr(o, name) for o in outs])
    return (cat("tokens"), cat("state"), cat("done"), cat("cost"), cat("cost_memo"), cat("steps"))


def _view(valid, tokens, cost, budget=None, n=None):
    """Accuracy and diversity of the outputs taken in order within a budget or a count."""
    if budget is not None:
        k = int(np.searchsorted(np.cumsum(cost), budget, side="right"))
    else:
        k = min(n, valid.size)
    v = valid[:k]
    distinct = int(np.unique(tokens[:k][v], axis=0).shape[0]) if v.any() else 0
    return {"n": k, "n_valid": int(v.sum()), "distinct_valid": distinct,
            "queries": int(cost[:k].sum()), "budget_exhausted": bool(k < valid.size)}


def run_task(config, task, *, rng):
    p = dict(task.params)
    method = p.pop("method")
    model, fit, v_star = _setup(config, task.rep)
    aut = model.automaton
    values = np.asarray(fit.values)
    if method == "vgb-chain":
        outs = [VGBSampler(aut, values, tau_at_leaves=False).sample_chain_leaves(
            p["chains"], config.budget, rng=rng)]
        tokens, state, done, cost, memo, steps = _concat(outs)
    else:
        outs = [_sample(config, aut, values, v_star, method, p, config.n_outputs, rng)]
        tokens, state, done, cost, memo, steps = _concat(outs)
        # extend until both budgets are spent: every output costs at least H memoised queries
        cap = int(1.05 * config.budget / config.length) + config.n_outputs
        for c_name in ("memo", "plain"):
            c = memo if c_name == "memo" else cost
            while c.sum() <= config.budget and tokens.shape[0] < cap:
                need = int(np.ceil((config.budget - c.sum()) / max(c.mean(), 1.0) * 1.1)) + 16
                need = min(need, cap - tokens.shape[0])
                outs.append(_sample(config, aut, values, v_star, method, p, need, rng))
                tokens, state, done, cost, memo, steps = _concat(outs)
                c = memo if c_name == "memo" else cost
    valid = done & (state >= 0) & (aut.tau[np.maximum(state, 0)] == 1)
    rec = {"method": method, "params": p, "rep": task.rep, "n_generated": int(valid.size),
           "mean_cost": float(cost.mean()), "mean_cost_memo": float(memo.mean()),
           "fraction_done": float(done.mean()),
           "budget_memo": _view(valid, tokens, memo, budget=config.budget),
           "budget_uncached": _view(valid, tokens, cost, budget=config.budget),
           "matched_n": _view(valid, tokens, memo, n=config.n_outputs)}
    if method in ("vgb", "vgb-vstar"):
        s = steps[done].astype(float)
        rec["steps"] = {"n": int(s.size), "mean": float(s.mean()), "var": float(s.var(ddof=1))}
        # histogram of the first-leaf walk lengths, on the exact law's quantile bins
        edges = _walk_length_bins(config)
        rec["steps"]["hist"] = np.bincount(np.searchsorted(edges, steps[done], side="right"),
                                           minlength=edges.size + 1).tolist()
        rec["steps"]["capped"] = int((~done).sum())

    if task.cell == 0:
        _, _, eps_avg = average_case_error(aut, values, v_star=v_star)
        leaf = aut.is_leaf
        bad = leaf & (aut.tau == 0) & (values > 0)
        rec["value_error"] = {
            "eps_avg": float(eps_avg),
            "max_value_on_invalid_leaf": float(values[leaf & (aut.tau == 0)].max()),
            "value_on_valid_leaf": float(values[leaf & (aut.tau == 1)].mean()),
            "n_invalid_leaf_states_with_positive_value": int(bad.sum()),
            "fit_rollouts": int(fit.n_rollouts), "fit_loss": float(fit.train_loss)}
    return [rec]


def _label(r):
    p = r["params"]
    if r["method"] in ("block-bon", "block-rs"):
        return f"{r['method']} b={p['b']} K={p['K']}"
    return r["method"]


def _pooled(records, view):
    """Per method configuration: pooled counts and per-replicate diversity for one view."""
    out = {}
    for r in sorted(records, key=lambda r: r["rep"]):
        v = r[view]
        d = out.setdefault(_label(r), {"n": 0, "n_valid": 0, "distinct": [], "method": r["method"],
                                       "params": r["params"], "cost_memo": [], "cost": []})
        d["n"] += v["n"]
        d["n_valid"] += v["n_valid"]
        d["distinct"].append(v["distinct_valid"])
        d["cost_memo"].append(r["mean_cost_memo"])
        d["cost"].append(r["mean_cost"])
    for d in out.values():
        d["accuracy"] = d["n_valid"] / max(d["n"], 1)
        d["diversity"] = float(np.mean(d["distinct"]))
    return out


def _series(arrays):
    """Ragged per-comparison samples as a 1-D object array (one sample per comparison)."""
    out = np.empty(len(arrays), dtype=object)
    out[:] = [np.asarray(a, dtype=float) for a in arrays]
    return out


def _flags(d):
    """0/1 validity of the pooled outputs (the bootstrap unit of the accuracy comparison)."""
    return np.r_[np.ones(d["n_valid"]), np.zeros(d["n"] - d["n_valid"])]


BASELINES = ("block-bon", "block-rs")
REF = "VGB §5.2, Fig. 1 (arXiv 2510.03149)"


def _baselines(pooled):
    return {k: v for k, v in pooled.items() if v["method"] in BASELINES}


def claims(config, records):
    value = next(r["value_error"] for r in records if "value_error" in r)
    vtxt = (f"Value function: type-blind tabular regression on {value['fit_rollouts']:,} rollouts "
            f"per replicate, used at every prefix including complete responses; exact errors: "
            f"average-case eps_V = {value['eps_avg']:.3f} (Assumption 4.2); V-hat up to "
            f"{value['max_value_on_invalid_leaf']:.3f} on invalid responses, where V* = 0 "
            f"(Assumption 4.1 fails), {value['value_on_valid_leaf']:.3f} on valid ones.")
    cond = [
        condition("Algorithm 1, line 1: V-hat = tau at the leaves (complete responses)",
                  "V-hat (the learned value) at every prefix, complete responses included", False,
                  id_tag="vhat-leaves",
                  note="dropped on purpose: with tau at the leaves invalid outputs get weight 0 and VGB's "
                       "accuracy is 1 by construction; the learned value is used there too, so accuracy is "
                       "measured (the control diversity-matched-budget-exact-value runs V-hat = V*); the id "
                       "says 'vhat-leaves'"),
        condition("Assumption 4.1: 1/(1+eps_V) <= V-hat/V* <= 1+eps_V at every node (uniform error)",
                  f"V-hat up to {value['max_value_on_invalid_leaf']:.3f} on invalid responses, where V* = 0",
                  False, id_tag="vhat-leaves",
                  note="fails with V-hat at the leaves (no finite eps_V); Theorem 4.1 then gives nothing and the "
                       "comparison is the paper's empirical one (section 5.2), not a theorem's prediction"),
        condition("Assumption 4.2: average-case error E_pi*[V-hat/V*], E_pi*[V*/V-hat] <= 1+eps_V",
                  f"eps_V = {value['eps_avg']:.3f} (exact)", True),
    ]
    grid = (f"{config.reps} replicates; baselines: block length {list(config.block_lengths)} x "
            f"candidates {list(config.candidates)}")
    out = []
    for view, tag, acct in (("budget_memo", "", "memoised"), ("budget_uncached", "-uncached",
                                                                  "uncached")):
        pb = _pooled(records, view)
        base = _baselines(pb)
        names = sorted(base)
        K = len(names)
        vgb = pb["vgb"]
        best_div = max(names, key=lambda k: base[k]["diversity"])
        best_acc = max(names, key=lambda k: base[k]["accuracy"])
        budget = (f"Budget B = {config.budget:,} {acct} queries per replicate; {grid}.")
        binding = view == "budget_memo"
        if binding:
            acc = comparison_claim(
                f"{NAME}/vhat-leaves/accuracy-matched-budget", REF,
                "at a matched query budget VGB's outputs are valid more often than those of every "
                "block Best-of-N and block rejection-sampling configuration (the learned V-hat replaces "
                "tau at the leaves: Algorithm 1's leaf rule and Assumption 4.1 dropped)",
                _series([_flags(vgb)] * K), _series([_flags(base[k]) for k in names]),
                names=("VGB", "baseline"), conditions=cond,
                evaluation="monte_carlo", labels=names, details=" ".join([
                    budget, "Outputs within the budget pooled over replicates (bootstrap unit: "
                    f"one output). VGB: {vgb['n']} outputs, accuracy {vgb['accuracy']:.3f}; "
                    f"most accurate baseline {best_acc}: {base[best_acc]['accuracy']:.3f}.",
                    vtxt]))
            if config.preset == "quick":
                acc = not_run_in_quick(acc, reason=(
                    "the closest baselines are about 0.13 less accurate than VGB; resolving that "
                    "at level 1e-3 over the configurations needs about 700 VGB outputs (the full "
                    "preset: 8 replicates at B = 150,000); quick has about 100, and over seeds "
                    "0-19 it fails a true gap in most seeds"))
            out.append(acc)
        div = comparison_claim(
            f"{NAME}/vhat-leaves/diversity-matched-budget{tag}", REF,
            f"at a matched query budget ({acct} accounting) VGB produces more distinct valid "
            "outputs than every block Best-of-N and block rejection-sampling configuration (the learned "
            "V-hat replaces tau at the leaves: Algorithm 1's leaf rule and Assumption 4.1 dropped)",
            _series([vgb["distinct"]] * K), _series([base[k]["distinct"] for k in names]),
            names=("VGB", "baseline"), conditions=cond,
            evaluation="monte_carlo", labels=names, exploratory=not binding, details=" ".join([
                budget, "Diversity = distinct valid outputs within the budget, one value per "
                f"replicate (bootstrap unit: one replicate). VGB {vgb['diversity']:.1f} "
                f"(accuracy {vgb['accuracy']:.3f}, {np.mean(vgb['cost_memo']):.0f} memoised / "
                f"{np.mean(vgb['cost']):.0f} uncached queries per output); most diverse baseline "
                f"{best_div}: {base[best_div]['diversity']:.1f} (accuracy "
                f"{base[best_div]['accuracy']:.3f}, {np.mean(base[best_div]['cost_memo']):.0f} / "
                f"{np.mean(base[best_div]['cost']):.0f}); "
                f"{_explain(pb, best_div, 'cost_memo' if binding else 'cost', acct)}",
                vtxt]))
        out.append(div)
    pb = _pooled(records, "budget_memo")
    base = _baselines(pb)
    names = sorted(base)
    for method, tag, what in (("vgb-chain", "chain", f"VGB run as {config.chains} long chains per "
                               "replicate that never restart, each with one memo cache, every "
                               "arrival at a leaf an output (the most query-frugal reading)"),
                              ("vgb-vstar", "exact-value", "VGB with the exact V* (no value "
                               "error; isolates the cost of the walk)")):
        d = pb[method]
        out.append(comparison_claim(
            f"{NAME}/diversity-matched-budget-{tag}", REF,
            f"at a matched (memoised) query budget, {what.split(' (')[0]} produces more distinct "
            "valid outputs than every baseline configuration",
            _series([d["distinct"]] * len(names)), _series([base[k]["distinct"] for k in names]),
            names=(method, "baseline"), evaluation="monte_carlo", labels=names,
            exploratory=True, details=(
                f"{what}: {d['diversity']:.1f} distinct valid outputs per replicate (accuracy "
                f"{d['accuracy']:.3f}, {d['n']} outputs, {np.mean(d['cost_memo']):.0f} memoised "
                f"queries per output); most diverse baseline "
                f"{max(names, key=lambda k: base[k]['diversity'])}: "
                f"{max(base[k]['diversity'] for k in names):.1f}.")))
    # the walk length behind the cost: exact law with V* (derived) against the sampler
    edges, probs, tail = _walk_length_law(config)
    hist = np.zeros(probs.size, dtype=np.int64)
    n_steps = 0
    for r in records:
        if r["method"] == "vgb-vstar":
            h = np.asarray(r["steps"]["hist"], dtype=np.int64)
            h[-1] += r["steps"]["capped"]
            hist += h
            n_steps += r["steps"]["n"]
    H = config.length
    mean_v = np.mean([r["steps"]["mean"] for r in records if r["method"] == "vgb-vstar"])
    mean_hat = np.mean([r["steps"]["mean"] for r in records if r["method"] == "vgb"])
    out.append(law_claim(
        f"{NAME}/walk-length-exact-value", "VGB Alg. 1 (first-leaf stopping rule); derived",
        f"with V-hat = V* the first-leaf walk's length has the law of a lazy simple random walk "
        f"from 0 to H = {H} reflected at 0 (mean 2H^2 = {2 * H * H})",
        hist, probs, details=(
            f"{WALK_LENGTH_BINS} equiprobable bins of the exact law (theory.vgb."
            f"exact_value_walk_length_law; P[T > cap] = {tail:.2g} folded into the last bin); "
            f"{n_steps} walks; mean {mean_v:.0f} steps with V* and {mean_hat:.0f} with the learned "
            "V-hat. This is the cost driver: a forward sampler takes H token steps per output, the "
            f"walk about 2H^2 = {2 * H * H}.")))
    return out


def _explain(pooled, best, key, acct):
    """Diversity ratio predicted from per-output cost and accuracy (valid words rarely repeat)."""
    v, b = pooled["vgb"], pooled[best]
    pred = (v["accuracy"] / max(b["accuracy"], 1e-12)) * (np.mean(b[key]) / np.mean(v[key]))
    return (f"diversity ratio VGB/{best} = {v['diversity'] / max(b['diversity'], 1e-12):.3f}, "
            f"predicted by (accuracy ratio) x (inverse {acct} cost-per-output ratio) = "
            f"{pred:.3f}.")


def plot(config, records, out_dir):
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    from simulations.plots import new_figure, readable_log_axis, save_figure

    paths = []
    views = [("budget_memo", "budget", f"matched budget {config.budget:,} queries (memoised)"),
             ("budget_uncached", "budget_uncached",
              f"matched budget {config.budget:,} queries (uncached)"),
             ("matched_n", "matched_n", f"matched number of outputs ({config.n_outputs})")]
    cmap = colormaps["Reds"]
    bls = list(config.block_lengths)
    mk = {"vgb": "*", "vgb-vstar": "P", "vgb-chain": "X", "alrs": "^", "reference": "v"}
    for view, fname, title in views:
        pb = _pooled(records, view)
        fig, ax = new_figure(figsize=(6.2, 4.6))
        divs = []
        for k, d in pb.items():
            divs.append(d["diversity"])
            if d["method"] in BASELINES:
                c = cmap(0.3 + 0.7 * bls.index(d["params"]["b"]) / max(len(bls) - 1, 1))
                ax.scatter(d["accuracy"], d["diversity"], color=c, s=10 + 3 * d["params"]["K"],
                           marker="o" if d["method"] == "block-bon" else "s", alpha=0.8,
                           edgecolor="k", linewidth=0.3)
            else:
                ax.scatter(d["accuracy"], d["diversity"], marker=mk.get(d["method"], "x"), s=120,
                           color="C0" if d["method"].startswith("vgb") else "C2", label=k,
                           edgecolor="k", linewidth=0.4)
        handles, _ = ax.get_legend_handles_labels()
        handles += [Line2D([], [], ls="", marker="o", color=cmap(0.7), label="block BoN (darker = longer block)"),
                    Line2D([], [], ls="", marker="s", color=cmap(0.7), label="block RS (size ~ candidates)")]
        ax.set_xlabel("accuracy (fraction valid)")
        ax.set_ylabel("diversity (distinct valid outputs)")
        divs = np.asarray(divs, float)
        if divs.size and divs.min() > 0:
            ax.set_yscale("log")
            lo, hi = divs.min(), divs.max()
            ax.set_ylim(lo / 1.3, hi * 1.3)
            readable_log_axis(ax, "y")
        else:  # a method with no valid output: 0 is a real value, a symlog axis keeps it
            ax.set_yscale("symlog", linthresh=10)
        ax.set_title(f"Dyck: {title}", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(handles=handles, fontsize=7, loc="best")
        paths.append(save_figure(fig, out_dir / f"dyck_frontier_{fname}.png", caption=(
            f"Dyck task at a {title}: diversity (distinct valid outputs) against accuracy (fraction "
            "valid) of VGB, its variants and every block Best-of-N and block rejection-sampling "
            "configuration (pooled over replicates).")))
    return paths
