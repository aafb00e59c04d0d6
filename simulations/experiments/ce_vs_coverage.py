r"""Figure 1 analogue: coverage, not KL, predicts Pass@N; tournament checkpoint selection.

Task (:mod:`theory.instances.graph_paths`): 8 intermediate layers of 4 nodes; fine-tuning
classes :math:`G_1` (0.9) and :math:`G_2` (0.1), identifiable only through a hidden parity of
node ids; pre-training mixture :math:`G_1, G_2, G_3` (1/3 each, :math:`G_3` uniform over
the 4 valid paths).  Model: softmax-linear over the features ``passable``, ``parity`` (the
:math:`G_1` rule) and a one-hot of (previous slot, candidate slot); it cannot see the hidden
parity, so the cross-entropy optimum puts 0.9/0.1 on the two passable nodes of a
two-passable layer and the rare class :math:`G_2` gets :math:`q_x \approx 0.01`.

Pipeline (one task per seed):

1. pre-train with Adam on a fixed data set of the mixture (a training pool of instances);
2. fine-tune online (fresh samples of a training pool of :math:`G_1/G_2` instances) with
   Adam from the pre-trained parameters, recording checkpoints on a log-spaced grid;
3. evaluate every checkpoint **exactly** on a separate validation pool (its own instances,
   :math:`\mu` giving the classes their weights): KL, :math:`\mathrm{Cov}_N`, Pass@N with
   the reward "the path is :math:`\pi_D`'s target" (enumeration of :math:`\pi_D`'s support);
4. select checkpoints with the simple tournament at threshold ``N/2`` (held-out samples of the
   validation :math:`\pi_D`; only checkpoint likelihoods), min held-out cross-entropy,
   min KL (oracle), best Pass@N (oracle).

Claims (rules of :mod:`simulations.claims`, written before the run; ``N/2`` pairs Pass@N with
:math:`\mathrm{Cov}_{N/2}` as in Figure 1).  Each seed's quantities are exact; every claim
is a paired comparison over seeds (bootstrap over seeds, Student quantile, level
:math:`1-10^{-3}`, Bonferroni inside a claim):

* KL decreases along fine-tuning (last checkpoint against step 0);
* coverage dips then rises: the U depth :math:`\min(\mathrm{Cov}_{first} - \mathrm{Cov}_{min},
  \mathrm{Cov}_{last} - \mathrm{Cov}_{min})`, maximised over Figure 1's thresholds
  ``FIG1_N``, exceeds ``DIP_DEPTH`` on average;
* for ``N`` in ``LARGE_COV_N``, :math:`\mathrm{Cov}_N` ends above its minimum while KL ends
  below its value at that minimum;
* for ``N in {8, 12}``: Spearman(Pass@N, :math:`-\mathrm{Cov}_{N/2}`) exceeds
  Spearman(Pass@N, -KL); the tournament's Pass@N exceeds the min-KL checkpoint's and is
  within ``eps`` of the best checkpoint's (non-inferiority).  The first two at ``N = 4``
  are exploratory: the paper's caption says the predictors are comparable at small ``N``;
  near-best is binding at every ``N`` (the caption says nothing about it).

The quick preset (two seeds) lists the binding claims as not run in quick: an interval over
seeds at this level needs the full preset's sixteen.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from simulations.claims import UNDERPOWERED, comparison_claim, condition, not_run_in_quick, revision
from simulations.experiments.contract import Task
from simulations.learners.checkpoints import dataset_sampler, online_sampler, train_with_checkpoints
from simulations.learners.optimizers import adam
from simulations.learners.selection import best_pass_at_n, min_cross_entropy, min_kl, simple_tournament
from theory.instances.graph_paths import figure1_finetune_task, figure1_pretrain_task

NAME = "ce-vs-coverage"
PAPER_REF = "Figure 1; Thm 6.2 (ICLR) / 6.3 (arXiv) tournament; App. D (ICLR) / C (arXiv)"
TITLE = "Figure 1 analogue: along training KL falls while coverage at large N worsens; Pass@N tracks Cov_{N/2}"
TOPIC = "model selection"

#: Pass@N budgets of Figure 1's scatter plots.
PASS_N = (4, 8, 12)
#: Budgets for which the claims are pre-registered ("large N"); at N = 4 the two KL-against-coverage
#: claims are exploratory, near-best is binding.
CLAIM_N = (8, 12)
#: Thresholds for the "coverage ends worse than its minimum" claim.
LARGE_COV_N = (4.6, 5.7, 8.0, 16.0)
#: Thresholds of Figure 1's coverage panel (the "dips then rises" claim).
FIG1_N = (2.0, 3.0, 4.0, 4.6, 5.7)
#: Minimum U depth of the "dips then rises" claim (fixed before the run).
DIP_DEPTH = 0.02


@dataclass(frozen=True)
class Config:
    """Parameters (see the module docstring).

    Attributes
    ----------
    seeds : int
        Independent replications (instances, data, training noise); the claims' intervals
        are over seeds.
    pre_prompts, train_prompts, eval_prompts : int
        Instances per class of the pre-training pool, the fine-tuning training pool and the
        validation pool.
    pre_samples : int
        Size of the fixed pre-training data set.
    pre_steps, ft_steps : int
        Adam updates (batch ``batch``) of pre-training and fine-tuning.
    pre_lr, ft_lr : float
        Adam learning rates.
    n_checkpoints : int
        Log-spaced checkpoints of fine-tuning (plus step 0).
    n_heldout : int
        Held-out samples for the tournament and min-CE.
    coverage_N : tuple of float
        Thresholds of the coverage curves (Figure 1's 2, 3, 4, 4.6, 5.7 and more).
    eps : float
        Allowed gap between the tournament's Pass@N and the best checkpoint's: half the
        rare-class mass 0.1 (the whole Pass@N loss of sacrificing :math:`G_2` is at most 0.1).
    """

    seeds: int = 48
    pre_prompts: int = 512
    train_prompts: int = 1024
    eval_prompts: int = 256
    pre_samples: int = 64000
    pre_steps: int = 4000
    ft_steps: int = 5000
    pre_lr: float = 0.05
    ft_lr: float = 0.01
    batch: int = 64
    n_checkpoints: int = 100
    n_heldout: int = 10000
    coverage_N: tuple = (2.0, 3.0, 4.0, 4.6, 5.7, 6.0, 8.0, 16.0)
    eps: float = 0.05
    preset: str = "full"

    @classmethod
    def quick(cls):
        """Two seeds at smaller sizes (CI); the claims over seeds are decided in the full preset."""
        return cls(seeds=2, pre_prompts=256, train_prompts=512, eval_prompts=128, pre_samples=20000,
                   pre_steps=1500, ft_steps=1500, n_checkpoints=40, n_heldout=2000, preset="quick")

    @classmethod
    def full(cls):
        """The full preset (the defaults)."""
        return cls()


def tasks(config):
    return [Task(cell=0, rep=r, params={"seed": r}) for r in range(config.seeds)]


def run_task(config, task, *, rng):
    s = [int(v) for v in rng.integers(0, 2**31 - 1, size=3)]
    groups = ("passable", "parity", "prev_cand")
    pre = figure1_pretrain_task(prompts_per_class=config.pre_prompts, seed=s[0], feature_groups=groups)
    ftr = figure1_finetune_task(prompts_per_class=config.train_prompts, seed=s[1], feature_groups=groups)
    val = figure1_finetune_task(prompts_per_class=config.eval_prompts, seed=s[2], feature_groups=groups)

    x, y = pre.data.sample(config.pre_samples, rng=rng)
    pre_traj = train_with_checkpoints(dataset_sampler(x, y), pre.model(np.zeros(pre.dim)),
                                      adam(config.pre_lr), steps=config.pre_steps,
                                      batch=config.batch, checkpoint_steps=[config.pre_steps], rng=rng)
    theta_pre = pre_traj.thetas[-1]
    ck = np.unique(np.r_[0, np.geomspace(1, config.ft_steps, config.n_checkpoints).astype(int)])
    traj = train_with_checkpoints(online_sampler(ftr.data), ftr.model(theta_pre), adam(config.ft_lr),
                                  steps=config.ft_steps, batch=config.batch, checkpoint_steps=ck,
                                  rng=rng)
    models = val.model(traj.thetas)
    cov_N = np.array(config.coverage_N)
    half_N = np.array(PASS_N) / 2.0
    ev = val.evaluate(models, np.r_[cov_N, half_N], pass_N=np.array(PASS_N, dtype=float))
    cov, cov_half = ev["coverage"][:, :cov_N.size], ev["coverage"][:, cov_N.size:]
    xv, yv = val.data.sample(config.n_heldout, rng=rng)
    ll = models.log_prob(xv, yv)                                      # (K, n): only candidates
    tourn = simple_tournament(ll, half_N)
    ce = min_cross_entropy(ll)
    kl_sel = min_kl(ev["kl"])
    sl = val.feature_slices()
    records = []
    for i, step in enumerate(traj.steps):
        records.append({
            "kind": "checkpoint", "seed_index": task.rep, "step": int(step), "kl": float(ev["kl"][i]),
            "coverage": cov[i].tolist(), "coverage_half": cov_half[i].tolist(),
            "class_coverage": ev["class_coverage"][i].tolist(),
            "pass_at_n": ev["pass_at_n"][i].tolist(),
            "theta_passable": float(traj.thetas[i][sl["passable"]][0]),
            "theta_parity": float(traj.thetas[i][sl["parity"]][0])})
    sel = {"kind": "selection", "seed_index": task.rep, "instance_seeds": s,
           "tournament_N": half_N.tolist(), "tournament": np.atleast_1d(tourn.index).tolist(),
           "tournament_tied": np.atleast_1d(tourn.n_tied).tolist(),
           "min_ce": ce.index, "min_kl": kl_sel.index,
           "best_pass": [best_pass_at_n(ev["pass_at_n"][:, j]).index for j in range(len(PASS_N))],
           "pretrain_passable": float(theta_pre[sl["passable"]][0]),
           "pretrain_parity": float(theta_pre[sl["parity"]][0])}
    records.append(sel)
    return records


# ----------------------------------------------------------------------------------------
# analysis
# ----------------------------------------------------------------------------------------

def _by_seed(records):
    seeds = sorted({r["seed_index"] for r in records})
    out = []
    for s in seeds:
        ck = sorted((r for r in records if r["kind"] == "checkpoint" and r["seed_index"] == s),
                    key=lambda r: r["step"])
        sel = next(r for r in records if r["kind"] == "selection" and r["seed_index"] == s)
        out.append((ck, sel))
    return out


def seed_summary(config, ck, sel):
    """Every number the claims use, for one seed."""
    kl = np.array([r["kl"] for r in ck])
    steps = np.array([r["step"] for r in ck])
    cov = np.array([r["coverage"] for r in ck])
    cov_half = np.array([r["coverage_half"] for r in ck])
    pas = np.array([r["pass_at_n"] for r in ck])
    out = {"kl_first": kl[0], "kl_last": kl[-1], "kl_step_rho": spearmanr(steps, kl)[0]}
    worsen = {}
    for N in sorted(set(LARGE_COV_N) | set(FIG1_N)):
        j = list(config.coverage_N).index(N)
        t_min = int(np.argmin(cov[:, j]))
        worsen[N] = {"cov_first": cov[0, j], "cov_min": cov[t_min, j], "cov_last": cov[-1, j],
                     "kl_at_min": kl[t_min]}
    out["worsen"] = worsen
    corr = {}
    for j, N in enumerate(PASS_N):
        rho_cov = spearmanr(pas[:, j], -cov_half[:, j])[0]
        rho_kl = spearmanr(pas[:, j], -kl)[0]
        t, k, b = sel["tournament"][j], sel["min_kl"], sel["best_pass"][j]
        corr[N] = {"rho_cov": float(np.nan_to_num(rho_cov)), "rho_kl": float(rho_kl),
                   "pass_tournament": pas[t, j], "pass_min_kl": pas[k, j], "pass_min_ce": pas[sel["min_ce"], j],
                   "pass_best": pas[b, j], "step_tournament": int(steps[t]), "step_min_kl": int(steps[k]),
                   "step_best": int(steps[b])}
    out["corr"] = corr
    return out


def _seed_arrays(summaries, get):
    return np.array([get(s) for s in summaries], dtype=float)


def claims(config, records):
    """Claims of the Figure 1 analogue (rules of :mod:`simulations.claims`, written before the run).

    Every claim is over seeds: each seed's quantity is exact (enumerated support on the
    validation pool), the seeds are independent replications (instances, data, training
    noise), so the intervals are paired bootstrap intervals over seeds (``monte_carlo``).
    """
    summaries = [seed_summary(config, ck, sel) for ck, sel in _by_seed(records)]
    S = len(summaries)
    ref = "Figure 1; App. D (ICLR) / C (arXiv)"
    t_ref = "Thm 6.2 (ICLR) / 6.3 (arXiv); Figure 1"
    quick = config.preset == "quick"
    quick_reason = (f"{S} seeds: a bootstrap interval over seeds at level 1 - 1e-3 needs the full "
                    f"preset's {Config().seeds} seeds (Student quantile with S - 1 degrees of freedom)")
    seeds_note = (f"{S} seeds; per seed every value is exact (enumerated support of the validation pool), "
                  "the interval is over seeds (instances, data and training noise)")
    out = []

    kl_first = _seed_arrays(summaries, lambda s: s["kl_first"])
    kl_last = _seed_arrays(summaries, lambda s: s["kl_last"])
    c = comparison_claim(
        f"{NAME}/kl-decreases", ref,
        "KL(pi_D || checkpoint) at the last fine-tuning checkpoint is below its value at the start",
        kl_last, kl_first, better="lower", paired=True, names=("KL last", "KL first"),
        evaluation="monte_carlo",
        details=(f"{seeds_note}. Spearman(step, KL) per seed: "
                 + ", ".join(f"{s['kl_step_rho']:.2f}" for s in summaries)))
    out.append(not_run_in_quick(c, reason=quick_reason) if quick else c)

    # dip then rise: per seed and threshold, dip = Cov_first - Cov_min, rise = Cov_last - Cov_min
    dip = {N: _seed_arrays(summaries, lambda s, N=N: s["worsen"][N]["cov_first"] - s["worsen"][N]["cov_min"])
           for N in FIG1_N}
    rise = {N: _seed_arrays(summaries, lambda s, N=N: s["worsen"][N]["cov_last"] - s["worsen"][N]["cov_min"])
            for N in FIG1_N}
    depth_N = {N: np.minimum(dip[N], rise[N]) for N in FIG1_N}
    depth = np.max(np.stack([depth_N[N] for N in FIG1_N]), axis=0)
    per_N = "; ".join(f"N={N:g}: dip {dip[N].mean():.3f}, rise {rise[N].mean():.3f}, depth "
                      f"{depth_N[N].mean():.3f} (> {DIP_DEPTH:g} in {int(np.sum(depth_N[N] > DIP_DEPTH))}/{S} seeds)"
                      for N in FIG1_N)
    c = comparison_claim(
        f"{NAME}/coverage-dips-then-rises", ref,
        (f"along fine-tuning Cov_N first falls then rises again at some threshold N of Figure 1 "
         f"({', '.join(f'{N:g}' for N in FIG1_N)}): the U depth min(Cov_first - Cov_min, Cov_last - Cov_min), "
         f"maximised over these N, exceeds {DIP_DEPTH:g} on average over seeds"),
        depth, np.full(S, DIP_DEPTH), better="higher", paired=True, names=("U depth", f"{DIP_DEPTH:g}"),
        evaluation="monte_carlo",
        details=(f"{seeds_note}. Threshold {DIP_DEPTH:g} fixed before the run: about six quanta of the "
                 "common class's coverage on the validation pool, a fifth of the rare-class mass 0.1 that "
                 f"the late rise is predicted to reach. Mean over seeds per threshold: {per_N}. "
                 "Design revised twice, the rule unchanged: with 8 seeds the full run was inconclusive, "
                 "d = 0.0083 [-0.0146, 0.0312], and the preset went to 16 seeds; with 16 seeds, "
                 "d = 0.0121 [-0.0027, 0.0269] (then reported FAIL, now UNDERPOWERED: the interval "
                 "straddles 0); the per-seed sd 0.016 implied by that interval needs about 34 seeds for "
                 "power 0.9 at d = 0.012, so the preset runs 48. Three looks at the data: the probability "
                 "that a depth of at most 0.02 passes is at most 3 x 0.001 (union bound), not 0.001"))
    out.append(not_run_in_quick(c, reason=quick_reason) if quick else c)

    lab = [f"N={N:g}" for N in LARGE_COV_N]
    last = [_seed_arrays(summaries, lambda s, N=N: s["worsen"][N]["cov_last"]) for N in LARGE_COV_N]
    mins = [_seed_arrays(summaries, lambda s, N=N: s["worsen"][N]["cov_min"]) for N in LARGE_COV_N]
    kl_at_min = [_seed_arrays(summaries, lambda s, N=N: s["worsen"][N]["kl_at_min"]) for N in LARGE_COV_N]
    c = comparison_claim(
        f"{NAME}/coverage-worsens-while-kl-improves", ref,
        ("for N in {4.6, 5.7, 8, 16}: Cov_N at the last checkpoint is above its minimum along training, while "
         "KL at the last checkpoint is below KL at that minimum"),
        last + [-kl_last] * len(LARGE_COV_N), mins + [-v for v in kl_at_min], better="higher", paired=True,
        names=("last checkpoint", "coverage minimum"),
        labels=[f"{v}: Cov_N last - min" for v in lab] + [f"{v}: KL at min - KL last" for v in lab],
        evaluation="monte_carlo",
        details=(f"{seeds_note}. Coverage increases are 'higher is worse'; the KL rows compare -KL. Mean "
                 "Cov_N min -> last: " + ", ".join(f"{l}: {m.mean():.3f} -> {v.mean():.3f}"
                                                   for l, m, v in zip(lab, mins, last))
                 + ". Design revised after the first full run (rule unchanged): with 8 seeds the N=4.6 "
                   "coverage row failed, d = 0.0393 [-0.0002, 0.0789] (every other row passed); the full "
                   "preset then ran 16 seeds (all rows passed) and now runs 48 for the U-depth claim"))
    out.append(not_run_in_quick(c, reason=quick_reason) if quick else c)

    for N in PASS_N:
        v = [s["corr"][N] for s in summaries]
        rho_cov = np.array([x["rho_cov"] for x in v])
        rho_kl = np.array([x["rho_kl"] for x in v])
        small = N not in CLAIM_N
        c = comparison_claim(
            f"{NAME}/rank-correlation-N{N}", ref,
            (f"across checkpoints, Spearman(Pass@{N}, -Cov_{N / 2:g}) exceeds Spearman(Pass@{N}, -KL) on "
             "average over seeds" + (" (N = 4: the paper's caption says the two predictors are comparable "
                                     "at small N, so this one is exploratory)" if small else "")),
            rho_cov, rho_kl, better="higher", paired=True, names=(f"rho(Pass@{N}, -Cov_{N / 2:g})",
                                                                 f"rho(Pass@{N}, -KL)"),
            evaluation="monte_carlo", exploratory=small,
            details=(f"{seeds_note}; Spearman over the {len(_by_seed(records)[0][0])} checkpoints of a seed "
                     "(a constant Cov_{N/2} column counts as rho = 0). Per seed (rho_cov, rho_KL): "
                     + ", ".join(f"({a:.2f}, {b:.2f})" for a, b in zip(rho_cov, rho_kl))))
        out.append(not_run_in_quick(c, reason=quick_reason) if quick and not small else c)

        p_t = np.array([x["pass_tournament"] for x in v])
        p_kl = np.array([x["pass_min_kl"] for x in v])
        p_ce = np.array([x["pass_min_ce"] for x in v])
        p_best = np.array([x["pass_best"] for x in v])
        sel_note = (f"{seeds_note}; held-out n = {config.n_heldout} samples for the tournament and min-CE "
                    "(Monte Carlo input, exact evaluation of the selected checkpoints); tie-break: held-out "
                    "likelihood. Mean Pass@N: tournament {:.4f}, min-KL {:.4f}, min-CE {:.4f}, best {:.4f}; "
                    "steps per seed (tournament / min-KL / best): {}").format(
            p_t.mean(), p_kl.mean(), p_ce.mean(), p_best.mean(),
            ", ".join(f"{x['step_tournament']}/{x['step_min_kl']}/{x['step_best']}" for x in v))
        t_cond = [condition("the selection is the simple tournament over a finite class (any argmin)",
                            f"the {len(_by_seed(records)[0][0])} checkpoints of a seed, threshold N/2 = {N / 2:g}",
                            True),
                  condition("held-out samples i.i.d. from pi_D", f"n = {config.n_heldout} per seed", True)]
        c = comparison_claim(
            f"{NAME}/tournament-beats-min-kl-N{N}", t_ref,
            (f"the tournament at N/2 = {N / 2:g} selects a checkpoint with higher Pass@{N} than the min-KL "
             "checkpoint, on average over seeds" + (" (N = 4: the paper's caption says selection by "
                                                    "coverage and by KL is a wash at small N, so this one "
                                                    "is exploratory)" if small else "")),
            p_t, p_kl, better="higher", paired=True, names=("tournament", "min-KL"),
            evaluation="monte_carlo", exploratory=small, conditions=t_cond, details=sel_note)
        out.append(not_run_in_quick(c, reason=quick_reason) if quick and not small else c)
        nb_id = f"{NAME}/tournament-near-best-N{N}"
        nb_ref = "Figure 1 (empirical message); Theorem 6.2's hypotheses recorded, its bound not informative here"
        nb_text = (f"the tournament at N/2 = {N / 2:g} selects a checkpoint whose Pass@{N} is within eps = "
                   f"{config.eps} of the best checkpoint's, on average over seeds")
        # Theorem 6.2's slack N^-(1-a) at the tournament's threshold N/2 is at least 1/(N/2) for
        # every a in [0, 1): above the whole rare-class mass 0.1 at every N of the grid
        slack = 1 / (N / 2)
        nb_note = (f"Theorem 6.2 alone does not predict this at any N of the grid: at the tournament's "
                   f"threshold N/2 = {N / 2:g} its slack (N/2)^-(1-a) is at least {slack:.3g} for every a in "
                   "[0, 1), above the rare-class mass 0.1 that is the whole Pass@N at stake, so the claim "
                   "tests Figure 1's empirical message (tournament selection is near the best checkpoint), "
                   "binding at every N")
        nb_args = dict(
            better="higher", margin=config.eps,
            margin_reason=("eps = half the rare-class mass 0.1: the whole Pass@N loss of sacrificing G_2 is at "
                           "most 0.1, so a selection within eps keeps at least half of it"),
            paired=True, names=("tournament", "best checkpoint"), evaluation="monte_carlo",
            conditions=t_cond)
        if small:
            reversal = (f"Finding (N = 4 reversal): the tournament's mean Pass@4 {p_t.mean():.3f} is below the "
                        f"min-KL checkpoint's {p_kl.mean():.3f} and the best's {p_best.mean():.3f}: at threshold "
                        "2 the tournament picks an early checkpoint while Pass@4 keeps improving")
            c = comparison_claim(
                nb_id, nb_ref, nb_text, p_t, p_best, details=f"{sel_note}. {nb_note}. {reversal}",
                revised_from=revision(comparison_claim(
                    nb_id, nb_ref, nb_text + " (N = 4: exploratory, as above)", p_t, p_best, exploratory=True,
                    details=sel_note, **nb_args), why=(
                    "binding since the review of the design: N = 4 was exploratory by the caption's 'coverage "
                    "and KL predict equally at small N', which concerns tournament against min-KL, not "
                    "tournament against the best checkpoint; no reason of the theory separates N = 4 from "
                    "N = 8 and 12 (see the slack below)")), **nb_args)
        else:
            c = comparison_claim(nb_id, nb_ref, nb_text, p_t, p_best, details=f"{sel_note}. {nb_note}", **nb_args)
        if small and c.interval is not None and c.verdict == UNDERPOWERED:
            half, gap = (c.interval[1] - c.interval[0]) / 2, abs(c.measured + config.eps)
            c = dataclasses.replace(c, details=(
                f"{c.details} Deciding it needs the interval's half-width ({half:.2g}) below the distance "
                f"of the estimate to the margin ({gap:.2g}): about {(half / gap) ** 2:.3g} x the seeds."))
        out.append(not_run_in_quick(c, reason=quick_reason) if quick else c)
    return out


# ----------------------------------------------------------------------------------------
# figure
# ----------------------------------------------------------------------------------------

def plot(config, records, out_dir):
    from simulations.plots import COV, new_figure, readable_log_axis, save_figure

    seeds = _by_seed(records)
    ck, sel = seeds[0]
    steps = np.array([r["step"] for r in ck], dtype=float)
    kl_all = np.array([[r["kl"] for r in c] for c, _ in seeds])              # (S, K)
    cov_all = np.array([[r["coverage"] for r in c] for c, _ in seeds])       # (S, K, |N|)
    kl = np.array([r["kl"] for r in ck])
    cov_half = np.array([r["coverage_half"] for r in ck])
    pas = np.array([r["pass_at_n"] for r in ck])
    fig, axes = new_figure(1, 1 + len(PASS_N), figsize=(4.3 * (1 + len(PASS_N)), 4.4))
    ax = axes[0]
    x = np.maximum(steps, 0.5)
    ax.plot(x, np.median(kl_all, axis=0), "k-", lw=2, label="KL")
    ax.fill_between(x, kl_all.min(axis=0), kl_all.max(axis=0), color="k", alpha=0.15, lw=0)
    for j, N in enumerate(config.coverage_N):
        if N in (2.0, 3.0, 4.0, 4.6, 5.7, 8.0):
            line, = ax.plot(x, np.median(cov_all[:, :, j], axis=0), "-", lw=1.2, label=COV.format(N=f"{N:g}"))
            ax.fill_between(x, cov_all[:, :, j].min(axis=0), cov_all[:, :, j].max(axis=0),
                            color=line.get_color(), alpha=0.15, lw=0)
    ax.set_xscale("log")
    readable_log_axis(ax, "x", data=x)
    ax.set_xlabel("fine-tuning step (step 0 drawn at 0.5)")
    ax.set_ylabel(f"KL (nats) / {COV.format(N='N')}")
    ax.set_title(f"KL and {COV.format(N='N')} along fine-tuning (median; band: min-max over {len(seeds)} seeds)",
                 fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    for j, N in enumerate(PASS_N):
        ax = axes[j + 1]
        t, k = sel["tournament"][j], sel["min_kl"]
        cov = COV.format(N=f"{N / 2:g}")
        ax.scatter(cov_half[:, j], pas[:, j], c=np.log10(np.maximum(steps, 0.5)), cmap="viridis",
                   s=18, label=f"{cov} (bottom axis)")
        top = ax.twiny()
        top.scatter(kl, pas[:, j], marker="x", s=14, color="0.55", label="KL (top axis)")
        top.set_xlabel("KL (nats)", color="0.4")
        ax.scatter(cov_half[t, j], pas[t, j], marker="D", s=90, facecolor="none", edgecolor="k", lw=1.5,
                   label="tournament", zorder=5)
        ax.scatter(cov_half[k, j], pas[k, j], marker="o", s=70, color="red", label="min KL", zorder=4)
        ax.set_xlabel(cov)
        ax.set_ylabel(f"Pass@{N}")
        ax.set_title(f"Pass@{N} per checkpoint, seed 0 (colour: step, dark = early)", fontsize=9)
        ax.grid(alpha=0.3)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = top.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower left")
    return [save_figure(fig, out_dir / "ce_vs_coverage_figure1.png", caption=(
        f"Figure 1 analogue: KL and Cov_N along fine-tuning (median and min-max over {len(seeds)} seeds), "
        f"and Pass@N against Cov_(N/2) per checkpoint of seed 0 for N = {', '.join(map(str, PASS_N))}."))]
