r"""Tournament guarantees (Theorem 6.2 ICLR / 6.3 arXiv; Theorem G.3 ICLR / 6.4 arXiv).

Simple tournament: w.p. :math:`\ge 1-\delta`,

.. math::

    \mathrm{Cov}_{N^{1+a}}(\hat\pi) \le C\Big(\min_{\pi\in\Pi}\mathrm{Cov}_{N^a}(\pi)
      + N^{-(1-a)} + \frac{\log(|\Pi|/\delta)}{n}\Big)

with one absolute constant :math:`C`.  Offset tournament: if some candidate satisfies
:math:`|\log\pi_D - \log\pi| \le a\log N` everywhere, then
:math:`\mathrm{Cov}_{2N^{1+a}}(\hat\pi) \lesssim \log(|\Pi|/\delta)/n`.

Settings (every coverage of a selected model is **exact**; the held-out samples are the only
randomness, ``replicates`` draws per cell, and the statistic is the :math:`(1-\delta)`-quantile
over replicates with an upper 97.5% order-statistic confidence bound):

* ``random``: finite classes of categorical models around a random :math:`\pi_D`
  (log-normal perturbations of random scale and random "holes" dividing atoms by
  :math:`10^3`), several ``|Pi|``, ``n``, ``N``, ``a``;
* ``checkpoints``: the checkpoints of a fine-tuning trajectory on the Figure 1 graph task
  (:mod:`simulations.experiments.ce_vs_coverage`'s pipeline, small sizes);
* ``missing`` (:func:`theory.instances.tournament.missing_mass_class`): :math:`\pi_D` plus models :math:`\pi_j` that each divide one atom of mass
  :math:`\epsilon_j` (a geometric grid) by :math:`4N^{1+a}`.  Unobserved atoms make
  :math:`\pi_j` tie with :math:`\pi_D` at score 0, and the likelihood tie-break then prefers
  the model that dropped the most unobserved mass: the theorem's worst case, where the
  :math:`\log(|\Pi|/\delta)/n` term is attained.  ``N = 10^6``, ``a = 1/2`` make
  :math:`N^{-(1-a)} = 10^{-3}` negligible, so the quantile should decay like ``1/n``;
* ``offset`` (:func:`theory.instances.tournament.offset_trap_class`): a candidate uniformly close to :math:`\pi_D` (tilted by at most
  :math:`N^{\pm a/2}`), a rival that over-covers a region :math:`Z` of mass
  :math:`1/(2N)` by a factor > ``N`` (and misses the bulk), and trap models each missing
  its own atom of mass :math:`|Z|/2` by a factor :math:`8N^{1+a}` while putting
  :math:`3|Z|` on :math:`Z`.  The simple tournament picks a trap whenever its atom is rarer
  than :math:`Z` in the sample (almost always, whatever ``n``: a floor of the
  :math:`N^{-(1-a)}` kind); the offset tournament discounts the rival and recovers the good
  candidate once every trap atom has been seen.  Its on-policy term is computed both exactly
  (enumerated support) and from ``n`` generations of each candidate.

Claims (rules of :mod:`simulations.claims`, written before the run): (1) in every
``random``/``checkpoints``/``missing`` cell, the probability that the exact coverage of the
selected model is at most ``C_MAX`` times the rate shape of
:func:`theory.rates.tournament_coverage_rate` is at least :math:`1-\delta` (exact binomial test,
margin 0.09, Bonferroni over cells; a uniformly random selection is the negative control, its
shortfall reported in the details); (2) on ``missing`` the :math:`(1-\delta)`-quantile's
log-log slope in ``n`` is -1 (tolerance 0.1); (3) on ``offset`` the same probability rule for
the offset tournament against ``C_MAX log(|Pi|/delta)/n`` at every ``n``, and (4) at the
largest ``n`` the offset tournament's coverage is below the simple tournament's (paired
comparison); (5) tournament against min cross-entropy (exploratory); (6) at ``n = 65536``
(``offset-large``: the offset class again, both tournaments computed from multinomial atom
counts by :func:`count_tournaments`, 1,200 draws in both presets) the offset tournament meets
``C_MAX log(|Pi|/delta)/n`` with probability >= 1 - delta, and (7) the simple tournament exceeds
that bound with probability >= 1 - delta.  At the grid's ``n`` the offset bound is above the trap
mass ``1/(4N)`` the simple tournament keeps, so (3) and (4) cannot show the separation; the
large-``n`` cell is where :func:`large_n_design` predicts it (bound 6.5x below the trap mass).
The quick preset lists (1) and (3) as not run in quick: they need about 1,000 draws per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from simulations.claims import (comparison_claim, condition, exponent_claim, not_run_in_quick,
                                probability_claim)
from simulations.experiments.contract import Task
from simulations.learners.selection import (TIE_TOL, argmin_tie_break, min_cross_entropy, offset_tournament,
                                            onpolicy_coverage_matrix, simple_tournament)
from theory.coverage import comparison_log_thresholds, coverage_profile
from theory.instances.tournament import missing_mass_class, offset_trap_class, perturbed_class
from theory.rates import offset_tournament_coverage_rate, tournament_coverage_rate

NAME = "tournament-guarantee"
PAPER_REF = "Thm 6.2 (ICLR) / 6.3 (arXiv); Thm G.3 (ICLR) / 6.4 (arXiv)"
TITLE = "Tournament selection: Cov_{N^(1+a)} <= C (min Cov_{N^a} + N^-(1-a) + log(|Pi|/delta)/n); offset removes N^-(1-a)"
TOPIC = "model selection"

#: Pre-registered bound on the single fitted constant (the proofs' constants are of order 10).
C_MAX = 8.0
#: Tolerance on the 1/n slope of the missing-mass quantile.
SLOPE_TOL = 0.1
#: Margin of the "probability >= 1 - delta" rules (below the 0.1 alternative, so the rule has power).
PROB_MARGIN = 0.09
#: Level of the order-statistic upper confidence bound on each quantile.
QUANTILE_UCB = 0.975


@dataclass(frozen=True)
class Config:
    """Parameters.

    Attributes
    ----------
    replicates : int
        Held-out draws per cell.
    delta : float
        The theorem's failure probability: the statistic is the (1 - delta)-quantile.
    n_values : tuple of int
        Held-out sizes.
    random_K : tuple of int
        Class sizes of the random finite classes.
    random_Na : tuple of (float, float)
        ``(N, a)`` pairs for the random classes and the checkpoints.
    random_support : int
        Support size of the random categorical classes.
    missing_grid : int
        Number of atoms (bad models) of the missing-mass class.
    missing_replicates : int
        Held-out draws of the missing-mass cells (the 1/n slope of a quantile of a discrete
        coverage law: with 400 draws, 2 of 11 calibration seeds of the quick preset had power
        0.75 and 0.84 against the exponent -1 +- 0.25; the rule is unchanged).
    checkpoint_steps : int
        Fine-tuning steps of the checkpoint trajectory (0 disables the setting).
    offset_traps : int
        Trap models of the offset instance.
    offset_large_n : int
        Held-out size of the large-``n`` offset cell, chosen so that the offset bound
        ``C_MAX log(|Pi|/delta)/n`` is far below the trap mass ``1/(4N)`` that the simple
        tournament keeps (see :func:`large_n_design`).
    offset_large_replicates : int
        Held-out draws of that cell (count-based, vectorised: cheap in both presets).
    """

    replicates: int = 1200
    delta: float = 0.1
    n_values: tuple = (32, 64, 128, 256, 512, 1024, 2048, 4096)
    random_K: tuple = (4, 16, 64)
    random_Na: tuple = ((16.0, 0.5), (4.0, 0.5), (64.0, 0.25), (256.0, 0.75))
    random_support: int = 30
    missing_grid: int = 24
    missing_replicates: int = 1200
    checkpoint_steps: int = 1500
    offset_traps: int = 12
    offset_large_n: int = 65536
    offset_large_replicates: int = 1200
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(replicates=400, n_values=(32, 128, 512, 2048), random_K=(8, 32),
                   random_Na=((16.0, 0.5), (4.0, 0.5)), checkpoint_steps=200, preset="quick")

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    out = []
    cell = 0
    for K in config.random_K:
        for N, a in config.random_Na:
            out.append(Task(cell=cell, rep=0, params={"setting": "random", "K": int(K), "N": N, "a": a}))
            cell += 1
    if config.checkpoint_steps:
        for N, a in config.random_Na:
            out.append(Task(cell=cell, rep=0, params={"setting": "checkpoints", "N": N, "a": a}))
            cell += 1
    out.append(Task(cell=cell, rep=0, params={"setting": "missing", "N": 1e6, "a": 0.5}))
    out.append(Task(cell=cell + 1, rep=0, params={"setting": "offset", "N": 64.0, "a": 0.25}))
    if config.offset_large_n:
        out.append(Task(cell=cell + 2, rep=0, params={"setting": "offset-large", "N": 64.0, "a": 0.25}))
    return out


# ----------------------------------------------------------------------------------------
# exact coverage (the classes are in theory.instances.tournament)
# ----------------------------------------------------------------------------------------

def _exact_coverage(log_p, lp, M):
    """Exact Cov_M(pi_D || pi_k) for every candidate, (K,) per threshold M."""
    w = np.exp(log_p)
    return np.array([coverage_profile(log_p - row, M, weights=w / w.sum()) for row in lp])


# ----------------------------------------------------------------------------------------
# tasks
# ----------------------------------------------------------------------------------------

def _run_categorical(config, log_p, lp, N, a, rng, *, offset=False, replicates=None):
    K = lp.shape[0]
    n_max = max(config.n_values)
    replicates = config.replicates if replicates is None else replicates
    atoms = rng.choice(log_p.size, size=(replicates, n_max), p=np.exp(log_p) / np.exp(log_p).sum())
    target = 2 * N ** (1 + a) if offset else N ** (1 + a)
    cov_target = _exact_coverage(log_p, lp, target)
    best = float(_exact_coverage(log_p, lp, N ** a).min())
    w_on = np.exp(lp)[:, None, :]
    cdf = np.cumsum(np.exp(lp), axis=1)
    out = []
    for n in config.n_values:
        sel_t, sel_ce, sel_off, sel_smp = [], [], [], []
        for r in range(replicates):
            ll = lp[:, atoms[r, :n]]
            sel_t.append(int(simple_tournament(ll, N).index))
            sel_ce.append(min_cross_entropy(ll).index)
            if offset:
                sel_off.append(int(offset_tournament(ll, N, a, onpolicy_loglik=lp[None, :, None, :],
                                                     onpolicy_weights=w_on).index))
                # sampled on-policy term: n generations of each candidate (inverse CDF)
                u = rng.random((K, n))
                gen = np.minimum((u[..., None] > cdf[:, None, :]).sum(-1), lp.shape[1] - 1)   # (K, n)
                on = np.swapaxes(lp[:, gen], 0, 1)[:, :, None, :]                            # [k, j, 1, n]
                sel_smp.append(int(offset_tournament(ll, N, a, onpolicy_loglik=on).index))
        rand = rng.integers(0, K, size=replicates)
        rec = {"n": int(n), "K": int(K), "N": N, "a": a, "best_cov_Na": best,
               "cov_tournament": cov_target[sel_t].tolist(), "cov_min_ce": cov_target[sel_ce].tolist(),
               "cov_random": cov_target[rand].tolist(),
               "disagree": int(np.sum(np.array(sel_t) != np.array(sel_ce)))}
        if offset:
            rec["cov_offset"] = cov_target[sel_off].tolist()
            rec["cov_offset_sampled"] = cov_target[sel_smp].tolist()
        out.append(rec)
    return out


def count_tournaments(counts, lp, N, a):
    r"""Simple and offset tournaments of a categorical class from held-out atom *counts*.

    On a finite support every held-out statistic of both tournaments is a function of the atom
    counts: :math:`n\,\widehat{\mathrm{Cov}}_N(\pi_j\|\pi_k) = \sum_y c_y
    \mathbf 1\{\log\pi_j(y) - \log\pi_k(y) \ge \log N\}` and the tie-break key is
    :math:`\sum_y c_y\log\pi_k(y)`.  So ``R`` replicates of size ``n`` cost ``O(R K^2 m)``,
    not ``O(R K^2 n)``: the same selections as :func:`simple_tournament` and
    :func:`offset_tournament` (exact on-policy term) on the expanded samples (tested), up to
    exact ties of the tie-break key, which the two summation orders may round apart (the tied
    candidates then have equal scores and log-likelihoods: interchangeable for the rule).

    Parameters
    ----------
    counts : (R, m) array_like of int
        Atom counts of ``R`` held-out samples of one size ``n``.
    lp : (K, m) array_like
        Finite log-probabilities of the candidates.
    N, a : float
        Tournament threshold and offset exponent.

    Returns
    -------
    (simple, offset) : two (R,) int arrays
        Selected indices.
    """
    c = np.asarray(counts, dtype=float)
    lp = np.asarray(lp, dtype=float)
    n = c.sum(axis=1)[:, None]
    hit = (lp[:, None, :] - lp[None, :, :] >= comparison_log_thresholds(N)).astype(float)   # [j, k, y]
    held = np.einsum("ry,jky->rjk", c, hit)                                                 # counts
    key = c @ lp.T
    simple, _ = argmin_tie_break(held.max(axis=1), key, "loglik", 0)
    onp = onpolicy_coverage_matrix(lp[None, :, None, :], N, weights=np.exp(lp)[:, None, :])  # [j, k]
    total = held / n[:, :, None] - 2.0 * N ** a * onp[None]
    offset, _ = argmin_tie_break(total.max(axis=1), key, "loglik", TIE_TOL)
    return simple, offset


def large_n_design(K, N, a, delta, n):
    r"""Predicted separation of the large-``n`` offset cell from the rate functions of :mod:`theory.rates`.

    Returns ``(offset_bound, rate_gap, trap_mass)``: ``C_MAX x`` the offset rate
    :math:`\log(|\Pi|/\delta)/n` (Theorem G.3 ICLR / 6.4 arXiv); the gap between the simple
    tournament's rate (Theorem 6.2 ICLR / 6.3 arXiv, ``best_coverage = 0``) and the offset
    rate, both with unit constants, i.e. the ``n``-free term :math:`N^{-(1-a)}` the offset
    removes; and the coverage the simple tournament keeps on this instance (a trap's missing
    atom, mass :math:`1/(4N)`).  The separation is visible when ``offset_bound`` is well below
    ``trap_mass``.
    """
    rate_offset = float(offset_tournament_coverage_rate(n, class_size=K, delta=delta))
    gap = float(tournament_coverage_rate(n, N=N, a=a, class_size=K, best_coverage=0.0,
                                         delta=delta)) - rate_offset
    return C_MAX * rate_offset, gap, 1.0 / (4.0 * N)


def _run_offset_large(config, N, a, rng):
    log_p, lp = offset_trap_class(config.offset_traps, N=N, a=a, rng=rng)
    p = np.exp(log_p) / np.exp(log_p).sum()
    n, R = config.offset_large_n, config.offset_large_replicates
    counts = rng.multinomial(n, p, size=R)
    simple, offset = count_tournaments(counts, lp, N, a)
    cov = _exact_coverage(log_p, lp, 2 * N ** (1 + a))
    return [{"n": int(n), "K": int(lp.shape[0]), "N": N, "a": a, "cov_tournament": cov[simple].tolist(),
             "cov_offset": cov[offset].tolist(), "trap_mass": float(p[2])}]


def _run_checkpoints(config, N, a, rng):
    from simulations.learners.checkpoints import dataset_sampler, online_sampler, train_with_checkpoints
    from simulations.learners.optimizers import adam
    from theory.instances.graph_paths import figure1_finetune_task, figure1_pretrain_task

    s = [int(v) for v in rng.integers(0, 2**31 - 1, size=3)]
    g = ("passable", "parity", "prev_cand")
    pre = figure1_pretrain_task(prompts_per_class=64, seed=s[0], feature_groups=g)
    ftr = figure1_finetune_task(prompts_per_class=128, seed=s[1], feature_groups=g)
    val = figure1_finetune_task(prompts_per_class=64, seed=s[2], feature_groups=g)
    x, y = pre.data.sample(8000, rng=rng)
    th = train_with_checkpoints(dataset_sampler(x, y), pre.model(np.zeros(pre.dim)), adam(0.05),
                                steps=config.checkpoint_steps, batch=64,
                                checkpoint_steps=[config.checkpoint_steps], rng=rng).thetas[-1]
    ck = np.unique(np.r_[0, np.geomspace(1, config.checkpoint_steps, 24).astype(int)])
    traj = train_with_checkpoints(online_sampler(ftr.data), ftr.model(th), adam(0.01),
                                  steps=config.checkpoint_steps, batch=64, checkpoint_steps=ck, rng=rng)
    models = val.model(traj.thetas)
    cov = val.evaluate(models, [N ** (1 + a), N ** a])["coverage"]
    cov_target, best = cov[:, 0], float(cov[:, 1].min())
    n_max = max(config.n_values)
    xv, yv = val.data.sample(config.replicates * n_max, rng=rng)
    ll_all = models.log_prob(xv, yv).reshape(len(ck), config.replicates, n_max)
    out = []
    for n in config.n_values:
        sel_t = [int(simple_tournament(ll_all[:, r, :n], N).index) for r in range(config.replicates)]
        sel_ce = [min_cross_entropy(ll_all[:, r, :n]).index for r in range(config.replicates)]
        rand = rng.integers(0, len(ck), size=config.replicates)
        out.append({"n": int(n), "K": int(len(ck)), "N": N, "a": a, "best_cov_Na": best,
                    "cov_tournament": cov_target[sel_t].tolist(), "cov_min_ce": cov_target[sel_ce].tolist(),
                    "cov_random": cov_target[rand].tolist(),
                    "disagree": int(np.sum(np.array(sel_t) != np.array(sel_ce)))})
    return out


def run_task(config, task, *, rng):
    p = task.params
    N, a = float(p["N"]), float(p["a"])
    if p["setting"] == "random":
        log_p, lp = perturbed_class(p["K"], config.random_support, rng=rng)
        recs = _run_categorical(config, log_p, lp, N, a, rng)
    elif p["setting"] == "missing":
        log_p, lp = missing_mass_class(config.missing_grid, N=N, a=a)
        recs = _run_categorical(config, log_p, lp, N, a, rng, replicates=config.missing_replicates)
    elif p["setting"] == "offset-large":
        recs = _run_offset_large(config, N, a, rng)
    elif p["setting"] == "offset":
        log_p, lp = offset_trap_class(config.offset_traps, N=N, a=a, rng=rng)
        recs = _run_categorical(config, log_p, lp, N, a, rng, offset=True)
    else:
        recs = _run_checkpoints(config, N, a, rng)
    return [{"setting": p["setting"], **r} for r in recs]


# ----------------------------------------------------------------------------------------
# analysis
# ----------------------------------------------------------------------------------------

def quantile_ucb(values, q, level=QUANTILE_UCB):
    """Upper confidence bound on the q-quantile from R i.i.d. values (order statistic)."""
    v = np.sort(np.asarray(values, dtype=float))
    R = v.size
    k = int(binom.ppf(level, R, q))                    # P[#{X_i <= x_q} <= k] >= level
    return float(v[min(k, R - 1)])


def _cell_label(r):
    return f"{r['setting']} K={r['K']} N={r['N']:g} a={r['a']} n={r['n']}"


def _within(values, bound):
    """``(successes, trials)``: replicates whose exact coverage is at most ``bound``."""
    v = np.asarray(values, dtype=float)
    return int(np.count_nonzero(v <= bound)), int(v.size)


def claims(config, records):
    """Claims of the tournament guarantees (rules of :mod:`simulations.claims`)."""
    conf = 1 - config.delta
    bound_recs = [r for r in records if r["setting"] in ("random", "checkpoints", "missing")]
    rates = [float(tournament_coverage_rate(r["n"], N=r["N"], a=r["a"], class_size=r["K"],
                                            best_coverage=r["best_cov_Na"], delta=config.delta)) for r in bound_recs]
    rnd = [_within(r["cov_random"], C_MAX * rt) for r, rt in zip(bound_recs, rates)]
    # A cell can refute the bound only if C_MAX x rate < 1 and the class holds candidates that break
    # it: decided by the data-blind control (a uniformly random pick), never by the tournament.
    informative = [i for i, (rt, (k, n)) in enumerate(zip(rates, rnd)) if C_MAX * rt < 1 and k < conf * n]
    keep = informative or list(range(len(bound_recs)))
    ok = [_within(bound_recs[i]["cov_tournament"], C_MAX * rates[i]) for i in keep]
    rnd_short = sum(k < conf * n for k, n in rnd)
    c_hat = max(quantile_ucb(r["cov_tournament"], conf) / rt for r, rt in zip(bound_recs, rates))
    c_rand = max(quantile_ucb(r["cov_random"], conf) / rt for r, rt in zip(bound_recs, rates))
    quick_reason = (f"{config.replicates} held-out draws per cell: the exact binomial rule needs about 1,000 "
                    "per cell (Bonferroni over the cells) for a false-fail rate <= 0.01 at p = 1 - delta; "
                    "decided in the full preset (1,200 draws per cell)")
    out = [probability_claim(
        f"{NAME}/one-constant", "Thm 6.2 (ICLR) / 6.3 (arXiv)",
        ("with probability >= 1 - delta, Cov_{N^(1+a)}(tournament) <= C (min_pi Cov_{N^a}(pi) + N^-(1-a) + "
         f"log(|Pi|/delta)/n) with one constant C = {C_MAX:g} in each of the {len(keep)} informative cells"),
        [k for k, _ in ok], [n for _, n in ok], p0=conf, margin=PROB_MARGIN,
        labels=[_cell_label(bound_recs[i]) for i in keep],
        conditions=[condition("the selection is the simple tournament over a finite class (any argmin)",
                              "simple tournament, ties broken by held-out likelihood", True),
                    condition("held-out samples i.i.d. from pi_D", f"n in {sorted({r['n'] for r in bound_recs})}",
                              True)],
        details=(f"per cell: replicates (held-out draws) whose exact coverage of the selected model is at most "
                 f"C_MAX x rate, C_MAX = {C_MAX:g} fixed before the run (the proofs' constants are of order 10). "
                 f"Smallest constant that would do at every cell (order-statistic UCB of the quantile): "
                 f"{c_hat:.3f}. Negative control: a uniformly random selection needs C = {c_rand:.2f}, and its "
                 f"empirical probability is below 1 - delta in {rnd_short} of {len(rnd)} cells. Informative "
                 f"cells (C_MAX x rate < 1 and the random pick falls short of 1 - delta): {len(informative)} of "
                 f"{len(bound_recs)}; in the others every selection meets the bound, so they cannot refute it"
                 + ("." if informative else "; NO informative cell: judged on all cells, it cannot fail."))
        + " Earlier rule (replaced by this one before its run, not after a failure): " + (f"'max over cells of the UCB_{QUANTILE_UCB} of the (1-delta)-quantile / rate <= {C_MAX:g}, "
                      "and a random selection exceeds it' (first version: no margin, no power; passed with "
                      "C = 0.637 in the full preset)"))]
    if config.preset == "quick":
        out[-1] = not_run_in_quick(out[-1], reason=quick_reason)

    miss = sorted((r for r in records if r["setting"] == "missing"), key=lambda r: r["n"])
    n = np.array([r["n"] for r in miss], dtype=float)
    ys = [np.array(r["cov_tournament"]) for r in miss]
    q = [float(np.quantile(y, conf)) for y in ys]
    out.append(exponent_claim(
        f"{NAME}/held-out-term-1-over-n", "Thm 6.2 (ICLR) / 6.3 (arXiv): log(|Pi|/delta)/n term",
        "on the missing-mass class the (1-delta)-quantile of Cov_{N^(1+a)}(tournament) decays like 1/n",
        n, ys, predicted=-1.0, mode="equal", tolerance=SLOPE_TOL, evaluation="exact",
        statistic="quantile", q=conf, nonpositive="drop",
        conditions=[condition("the selection is the simple tournament over a finite class (any argmin)",
                              f"simple tournament over the {miss[0]['K']} models of the missing-mass class", True),
                    condition("held-out samples i.i.d. from pi_D", f"n in {n.astype(int).tolist()}", True)],
        details=f"quantiles at n = {n.astype(int).tolist()}: {[f'{v:.2e}' for v in q]};"
        + " the exponent is derived for the instance, not the slope of an upper bound (so the rule"
        + " for slopes of upper bounds leaves it binding): the tie-break selects the model that"
        + " dropped the most unobserved mass, and on the geometric grid of atom masses the"
        + " (1-delta)-quantile of the largest unobserved atom is about log(1/delta)/n;"
        + f" {len(ys[0])} held-out draws per n (the quick preset used 400 until a 12-seed calibration"
        + " found power 0.75 and 0.84 at 2 seeds: the design, not the rule, was changed)."
        + " Earlier rule (replaced by this one before its run, not after a failure): " + ("accept iff -1 in the bootstrap CI +- 0.15 and the CI's upper end < -0.5 (first "
                      "version, no power computation; passed with slope -0.960 in the full preset)")))

    off = sorted((r for r in records if r["setting"] == "offset"), key=lambda r: r["n"])
    rate = [float(offset_tournament_coverage_rate(r["n"], class_size=r["K"], delta=config.delta)) for r in off]
    labels = [f"n={r['n']} ({kind})" for kind in ("exact on-policy term", "sampled on-policy term") for r in off]
    counts = ([_within(r["cov_offset"], C_MAX * rt) for r, rt in zip(off, rate)]
              + [_within(r["cov_offset_sampled"], C_MAX * rt) for r, rt in zip(off, rate)])
    a_ = off[0]["a"]
    N_ = off[0]["N"]
    out.append(probability_claim(
        f"{NAME}/offset-tournament", "Thm G.3 (ICLR) / 6.4 (arXiv)",
        ("with a candidate uniformly within a log N of pi_D, with probability >= 1 - delta "
         f"Cov_{{2N^(1+a)}}(offset tournament) <= C log(|Pi|/delta)/n at every n (C = {C_MAX:g})"),
        [k for k, _ in counts], [m for _, m in counts], p0=conf, margin=PROB_MARGIN, labels=labels,
        conditions=[condition("some candidate has |log pi_D - log pi| <= a log N everywhere",
                              f"the planted candidate, tilted by at most N^(a/2), N = {N_:g}, a = {a_}", True),
                    condition("N^(1-2a) >= 8 (arXiv; >= 4 in the ICLR version)",
                              f"N^(1-2a) = {N_ ** (1 - 2 * a_):g}", N_ ** (1 - 2 * a_) >= 8)],
        details=(f"|Pi| = {off[0]['K']}; on-policy term exact (enumerated support) or from n generations of each "
                 "candidate. Limitation: the trap mass 1/(4N) is below C_MAX log(|Pi|/delta)/n at every n of the "
                 "grid, so the simple tournament would meet this bound too; only the rival (coverage ~0.8) "
                 "breaks it. The separation of offset from simple is the claim offset-beats-simple")))
    if config.preset == "quick":
        out[-1] = not_run_in_quick(out[-1], reason=quick_reason)
    out.append(comparison_claim(
        f"{NAME}/offset-beats-simple", "Thm G.3 (ICLR) / 6.4 (arXiv) vs Thm 6.2 (ICLR) / 6.3 (arXiv)",
        (f"at the largest n = {off[-1]['n']} the offset tournament's exact coverage is lower than the simple "
         "tournament's, which stays at the trap mass"),
        np.asarray(off[-1]["cov_offset"], float), np.asarray(off[-1]["cov_tournament"], float),
        better="lower", paired=True, names=("offset tournament", "simple tournament"),
        evaluation="monte_carlo",
        conditions=[condition("some candidate has |log pi_D - log pi| <= a log N everywhere",
                              f"the planted candidate, tilted by at most N^(a/2), N = {N_:g}, a = {a_}", True),
                    condition("N^(1-2a) >= 8 (arXiv; >= 4 in the ICLR version)",
                              f"N^(1-2a) = {N_ ** (1 - 2 * a_):g}", N_ ** (1 - 2 * a_) >= 8),
                    condition("held-out samples i.i.d. from pi_D", f"n = {off[-1]['n']}", True)],
        details=("replicate r of both tournaments uses the same held-out sample; the simple tournament's "
                 f"(1-delta)-quantiles over n = {[r['n'] for r in off]}: "
                 f"{[format(float(np.quantile(r['cov_tournament'], conf)), '.2e') for r in off]}")))

    big = [r for r in records if r["setting"] == "offset-large"]
    if big:
        r = big[0]
        bound, gap, trap = large_n_design(r["K"], r["N"], r["a"], config.delta, r["n"])
        design = (f"Large-n cell: n = {r['n']}, {len(r['cov_offset'])} held-out draws (atom counts, count-based "
                  f"tournaments: every held-out statistic is a function of the counts). Predicted from theory.rates "
                  f"before the run: offset bound C_MAX log(|Pi|/delta)/n = {bound:.3g}; the simple tournament's rate "
                  f"exceeds the offset rate by N^-(1-a) = {gap:.3g} (unit constants, the term the offset removes); on "
                  f"this instance the simple tournament keeps a trap's missing atom, mass 1/(4N) = {trap:.3g} = "
                  f"{trap / bound:.1f} x the offset bound, so the separation is predicted visible at this n (at the "
                  f"grid's largest n = {max(config.n_values)} the offset bound is "
                  f"{C_MAX * float(offset_tournament_coverage_rate(max(config.n_values), class_size=r['K'], delta=config.delta)):.3g}, "
                  "above the trap mass: no separation can show there).")
        conds = [condition("some candidate has |log pi_D - log pi| <= a log N everywhere",
                           f"the planted candidate, tilted by at most N^(a/2), N = {r['N']:g}, a = {r['a']}", True),
                 condition("N^(1-2a) >= 8 (arXiv; >= 4 in the ICLR version)",
                           f"N^(1-2a) = {r['N'] ** (1 - 2 * r['a']):g}", r["N"] ** (1 - 2 * r["a"]) >= 8),
                 condition("held-out samples i.i.d. from pi_D", f"n = {r['n']} (multinomial atom counts)", True)]
        k_off = _within(r["cov_offset"], bound)
        out.append(probability_claim(
            f"{NAME}/offset-tournament-large-n", "Thm G.3 (ICLR) / 6.4 (arXiv)",
            (f"at n = {r['n']}, with probability >= 1 - delta, Cov_{{2N^(1+a)}}(offset tournament) <= C "
             f"log(|Pi|/delta)/n (C = {C_MAX:g}), a bound {trap / bound:.1f} x below the trap mass"),
            [k_off[0]], [k_off[1]], p0=conf, margin=PROB_MARGIN, conditions=conds,
            details=design + " Exact on-policy term (enumerated support)."))
        simple = np.asarray(r["cov_tournament"], float)
        k_sep = int(np.count_nonzero(simple > bound))
        out.append(probability_claim(
            f"{NAME}/offset-separates-from-simple", "Thm G.3 (ICLR) / 6.4 (arXiv) vs Thm 6.2 (ICLR) / 6.3 (arXiv)",
            (f"at n = {r['n']}, with probability >= 1 - delta the simple tournament's exact coverage exceeds the "
             f"offset tournament's bound C log(|Pi|/delta)/n = {bound:.3g}: the N^-(1-a)-type floor the offset "
             "removes is visible"),
            [k_sep], [int(simple.size)], p0=conf, margin=PROB_MARGIN, conditions=conds, exploratory=True,
            details="Exploratory (an instance demonstration, not a prediction): the papers prove no lower bound "
                    "for the simple tournament, and on this instance its failure is built in (the traps are "
                    "designed to win it, so its coverage is the trap mass 1/(4N) in every draw); the offset "
                    "tournament's side is the binding claim offset-tournament-large-n. "
                    + design + f" Simple tournament's coverage: median {np.median(simple):.3g}, (1-delta)-quantile "
                             f"{np.quantile(simple, conf):.3g}; offset tournament's (1-delta)-quantile "
                             f"{np.quantile(r['cov_offset'], conf):.3g}."))

    out.append(comparison_claim(
        f"{NAME}/tournament-vs-min-ce", "Section 6.2 (ICLR) / 6.3 (arXiv) discussion",
        "the tournament selects models with lower coverage than min held-out cross-entropy (pooled over cells)",
        np.concatenate([np.asarray(r["cov_tournament"], float) for r in records if "cov_min_ce" in r]),
        np.concatenate([np.asarray(r["cov_min_ce"], float) for r in records if "cov_min_ce" in r]),
        better="lower", paired=True, names=("tournament", "min cross-entropy"), evaluation="monte_carlo",
        exploratory=True,
        details=(f"{sum(r['disagree'] for r in records if 'disagree' in r)} disagreements over "
                 f"{sum(len(r['cov_tournament']) for r in records if 'disagree' in r)} selections; the papers do not predict a winner here")))
    return out


def plot(config, records, out_dir):
    from simulations.plots import COV, line_plot, save_figure

    paths = []
    miss = sorted((r for r in records if r["setting"] == "missing"), key=lambda r: r["n"])
    n = np.array([r["n"] for r in miss], dtype=float)
    q = lambda key, rs: np.array([np.quantile(r[key], 1 - config.delta) for r in rs])  # noqa: E731
    rate = np.array([float(tournament_coverage_rate(r["n"], N=r["N"], a=r["a"], class_size=r["K"],
                                                    best_coverage=r["best_cov_Na"], delta=config.delta))
                     for r in miss])
    shape = r"rate shape, $C = 1$"
    ylab = f"${1 - config.delta:g}$-quantile of " + COV.format(N="M") + ", $M = N^{1+a}$"
    fig = line_plot(n, {"tournament": q("cov_tournament", miss), "min cross-entropy": q("cov_min_ce", miss),
                        shape: rate}, styles={shape: "k--"}, xlabel="held-out $n$", ylabel=ylab,
                    title=r"Missing-mass class: the $\log(|\Pi|/\delta)/n$ term", logx=True, logy=True)
    paths.append(save_figure(fig, out_dir / "tournament_missing_mass.png", caption=(
        f"Missing-mass class: the {1 - config.delta:g}-quantile over held-out draws of the exact coverage "
        "of the tournament's and min cross-entropy's selections against n, with the theorem's rate "
        "shape (C = 1).")))
    off = sorted((r for r in records if r["setting"] == "offset"), key=lambda r: r["n"])
    n = np.array([r["n"] for r in off], dtype=float)
    rate = np.array([float(offset_tournament_coverage_rate(r["n"], class_size=r["K"], delta=config.delta)) for r in off])
    shape = r"$\log(|\Pi|/\delta)/n$ (shape)"
    fig = line_plot(n, {"simple tournament": q("cov_tournament", off), "offset tournament": q("cov_offset", off),
                        shape: rate}, styles={shape: "k--"}, xlabel="held-out $n$",
                    ylabel=f"${1 - config.delta:g}$-quantile of " + COV.format(N="M") + ", $M = 2N^{1+a}$",
                    title="Offset vs simple tournament", logx=True, logy=True)
    paths.append(save_figure(fig, out_dir / "tournament_offset.png", caption=(
        f"Offset-trap class: the {1 - config.delta:g}-quantile of the exact coverage of the simple and "
        "offset tournaments' selections against n, with the offset bound's log(|Pi|/delta)/n shape.")))
    return paths
