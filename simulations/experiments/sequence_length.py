r"""Figure 2 analogue: at convergence KL grows linearly in the sequence length, coverage does not.

Task (:func:`theory.instances.graph_paths.figure2_task`): ``H`` intermediate layers of 4
nodes; classes :math:`G_{H,1}` (0.94, one valid path), :math:`G_{H,2}` (0.05, ``H/2``
two-passable layers, :math:`\pi_D` deterministic through the global parity of the passable
nodes: not learnable by the linear model) and :math:`G_{H,3}` (0.01, 4 two-passable layers,
uniform over 16 paths).  Model: softmax-linear over ``passable``, ``parity`` and a one-hot of
(previous slot, candidate slot).  Training: Adam on a fixed data set from a training pool of
instances; evaluation **exact** on a separate validation pool (:math:`\mu` gives the classes
their weights), at checkpoints along training and at the end ("convergence").

Mechanism (the reference notes' rough check): the best the model can do on
:math:`G_{H,2}` is 1/2 at each of its ``H/2`` hard layers, which costs
:math:`0.05\cdot(H/2)\log 2` nats of KL — linear in ``H`` — while it leaves at most the
class mass 0.05 uncovered at ``N = 16`` once :math:`2^{H/2} \ge 16`.

Claims (rules of :mod:`simulations.claims`, written before the run): the log-log slope of the
median final KL against ``H`` equals 1 (tolerance 0.1 for the small-``H`` curvature);
:math:`\mathrm{Cov}_{16}` does not grow with ``H`` (slope at most 0, tolerance 0.1, power
against +0.25); the KL / :math:`\mathrm{Cov}_{16}` ratio grows with ``H`` (exploratory).  The
quick preset runs 2 seeds per ``H`` and lists the binding claims as not run in quick.  Bands: the 1/16 and 15/16 quantiles over seeds, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.claims import exponent_claim, not_run_in_quick
from simulations.experiments.contract import Task
from simulations.learners.checkpoints import dataset_sampler, train_with_checkpoints
from simulations.learners.optimizers import adam
from theory.instances.graph_paths import figure2_task

NAME = "sequence-length"
PAPER_REF = "Figure 2; App. D (ICLR) / C (arXiv)"
TITLE = "Figure 2 analogue: KL at convergence grows linearly in H, Cov_16 does not"
TOPIC = "model selection"

#: Slack added to the bootstrap CI of the KL slope (finite-training leakage adds a term
#: growing like H too, so it does not bend the slope; the slack covers the small-H curvature).
KL_SLOPE_TOL = 0.1
#: Slack on the "no growth in H" exponent of the final coverage (median over seeds).
COV_SLOPE_TOL = 0.1


@dataclass(frozen=True)
class Config:
    """Parameters.

    Attributes
    ----------
    H_values : tuple of int
        Sequence lengths (numbers of intermediate layers).
    seeds : int
        Replications per ``H`` (instances, data set, training noise).
    train_prompts, eval_prompts : int
        Instances per class of the training and validation pools.
    n_train : int
        Size of the fixed training data set.
    steps, batch, lr : int, int, float
        Adam updates, batch size, learning rate.
    n_checkpoints : int
        Log-spaced checkpoints (plus step 0) for the training curves.
    N : float
        Coverage threshold (16 in the paper).
    """

    H_values: tuple = (16, 24, 32, 48, 64, 128)
    seeds: int = 16
    train_prompts: int = 256
    eval_prompts: int = 128
    n_train: int = 64000
    steps: int = 4000
    batch: int = 64
    lr: float = 0.05
    n_checkpoints: int = 20
    N: float = 16.0
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(H_values=(16, 32, 64, 128), seeds=2, train_prompts=32, eval_prompts=16, n_train=8000,
                   steps=300, batch=32, n_checkpoints=8, preset="quick")

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    return [Task(cell=i, rep=r, params={"H": int(H)})
            for i, H in enumerate(config.H_values) for r in range(config.seeds)]


def run_task(config, task, *, rng):
    H = task.params["H"]
    s = [int(v) for v in rng.integers(0, 2**31 - 1, size=2)]
    train = figure2_task(H, prompts_per_class=config.train_prompts, seed=s[0])
    val = figure2_task(H, prompts_per_class=config.eval_prompts, seed=s[1])
    x, y = train.data.sample(config.n_train, rng=rng)
    ck = np.unique(np.r_[0, np.geomspace(1, config.steps, config.n_checkpoints).astype(int)])
    traj = train_with_checkpoints(dataset_sampler(x, y), train.model(np.zeros(train.dim)),
                                  adam(config.lr), steps=config.steps, batch=config.batch,
                                  checkpoint_steps=ck, rng=rng)
    ev = val.evaluate(val.model(traj.thetas), [config.N])
    sl = val.feature_slices()
    return [{"H": H, "seed_index": task.rep, "instance_seeds": s, "steps": traj.steps.tolist(),
             "kl": ev["kl"].tolist(), "coverage": ev["coverage"][:, 0].tolist(),
             "class_coverage": ev["class_coverage"][:, :, 0].tolist(),
             "theta_passable": float(traj.thetas[-1][sl["passable"]][0]),
             "theta_parity": float(traj.thetas[-1][sl["parity"]][0])}]


def _final(config, records, key):
    H = np.array(config.H_values)
    rows = [np.array([r[key][-1] for r in records if r["H"] == h]) for h in H]
    return H, rows


def claims(config, records):
    H, kl = _final(config, records, "kl")
    _, cov = _final(config, records, "coverage")
    med_kl = [float(np.median(v)) for v in kl]
    med_cov = [float(np.median(v)) for v in cov]
    quick_reason = (f"the quick preset runs {config.seeds} seeds per H: a median slope over so few seeds "
                    "cannot resolve an exponent 0.25 away; decided in the full preset")
    out = []
    c = exponent_claim(
        f"{NAME}/kl-linear-in-H", "Figure 2; App. D (ICLR) / C (arXiv)",
        "at convergence KL(pi_D || model) grows linearly in H (log-log slope 1)",
        H, kl, predicted=1.0, mode="equal", tolerance=KL_SLOPE_TOL, evaluation="monte_carlo",
        statistic="quantile", q=0.5,
        details=(f"median over {config.seeds} seeds of the exact final KL at H = {H.tolist()}: "
                 f"{[round(v, 4) for v in med_kl]}")
        + " Earlier rule (replaced by this one before its run, not after a failure): " + ("accept iff 1 in the 95% bootstrap CI +- 0.1 and the CI excludes 0, with no power "
                      "computation (rule of the first version; it passed in the full preset with slope 0.991)"))
    out.append(not_run_in_quick(c, reason=quick_reason) if config.preset == "quick" else c)
    c = exponent_claim(
        f"{NAME}/coverage-flat-in-H", "Figure 2; App. D (ICLR) / C (arXiv)",
        f"at convergence Cov_{config.N:g} does not grow with H (log-log slope at most 0)",
        H, cov, predicted=0.0, mode="at_most", tolerance=COV_SLOPE_TOL, evaluation="monte_carlo",
        statistic="quantile", q=0.5, nonpositive="drop",
        details=(f"median exact final Cov_{config.N:g} at H = {H.tolist()}: {[round(v, 4) for v in med_cov]} "
                 "(the unlearnable class G_H2 has mass 0.05). The grid starts at H = 16: at H = 8 the best "
                 "ratio 2^(H/2) = 16 of G_H2 sits exactly on the threshold N = 16 and finite training decides "
                 "which side it falls. Not a test of Theorem 4.1: its realizability assumption fails by design "
                 "(G_H2 is not learnable by the linear model); this is the Figure 2 mechanism.")
        + " Earlier rule (replaced by this one before its run, not after a failure): " + (
            "'the slope CI excludes 1 and the slope is below 0.5' on H = 8..48 (first version: it only "
            "rejected linear growth; it passed in the full preset with slope 0.331, which the H = 8 tie "
            "drives). The figure shows flat coverage, so the rule now tests 'no growth' with power "
            "against +0.25, on H >= 16 chosen from the mechanism above"))
    out.append(not_run_in_quick(c, reason=quick_reason) if config.preset == "quick" else c)
    ratio = [np.asarray(k, float) / np.asarray(v, float) for k, v in zip(kl, cov)]
    ratio = [r[np.isfinite(r)] for r in ratio]
    c = exponent_claim(
        f"{NAME}/kl-coverage-ratio", "Figure 2 (right panel)",
        f"KL / Cov_{config.N:g} at convergence grows with H (log-log slope at least 0.5)",
        H, ratio, predicted=0.5, mode="at_least", evaluation="monte_carlo", statistic="quantile", q=0.5,
        nonpositive="drop", exploratory=True,
        details=(f"per-seed ratio of the exact final KL and Cov_{config.N:g} (seeds with zero coverage dropped); "
                 "the paper reports ratios up to about 200 for a transformer; the size of the growth is not "
                 "predicted, hence exploratory"))
    out.append(c)
    return out


def plot(config, records, out_dir):
    from simulations.plots import COV, new_figure, readable_log_axis, save_figure

    H = np.array(config.H_values)
    cov = COV.format(N=f"{config.N:g}")
    fig, axes = new_figure(1, 4, figsize=(17, 4.2))
    lo_q, hi_q = 1 / 16, 15 / 16
    for i, h in enumerate(H):
        recs = [r for r in records if r["H"] == h]
        steps = np.maximum(np.array(recs[0]["steps"], dtype=float), 0.5)
        for ax, key in ((axes[0], "kl"), (axes[1], "coverage")):
            vals = np.array([r[key] for r in recs])
            ax.plot(steps, np.median(vals, 0), "-", color=f"C{i}", label=f"$H = {h}$")
            ax.fill_between(steps, np.quantile(vals, lo_q, 0), np.quantile(vals, hi_q, 0), color=f"C{i}",
                            alpha=0.2, lw=0)
    axes[0].set_yscale("log")
    readable_log_axis(axes[0], "y")
    axes[0].set_title("KL during training (median, 1/16-15/16 band)", fontsize=10)
    axes[1].set_title(f"{cov} during training", fontsize=10)
    for ax in axes[:2]:
        ax.set_xscale("log")
        readable_log_axis(ax, "x", data=steps)
        ax.set_xlabel("step (step 0 drawn at 0.5)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    _, kl = _final(config, records, "kl")
    _, cov_v = _final(config, records, "coverage")
    ratio = [np.where(c > 0, k / np.where(c > 0, c, 1.0), np.nan) for k, c in zip(kl, cov_v)]
    for ax, vals, name in ((axes[2], kl, "KL"), (axes[2], cov_v, cov), (axes[3], ratio, f"KL / {cov}")):
        med = np.array([np.nanmedian(v) for v in vals])
        lo = np.array([np.nanquantile(v, lo_q) for v in vals])
        hi = np.array([np.nanquantile(v, hi_q) for v in vals])
        line = ax.plot(H, med, "-o", ms=4, label=f"{name} (final)")[0]
        ax.fill_between(H, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    axes[2].plot(H, 0.05 * (H / 2) * np.log(2), "k--", lw=1, label=r"$0.05\,(H/2)\log 2$ (shape)")
    axes[2].set_title("At convergence: KL linear in $H$, coverage flat", fontsize=10)
    axes[3].set_title(f"KL / {cov} at convergence", fontsize=10)
    for ax in axes[2:]:
        ax.set_xlabel("$H$ (intermediate layers)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return [save_figure(fig, out_dir / "sequence_length_figure2.png")]
