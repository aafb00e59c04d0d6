r"""Test-time training improves coverage (Section 6.1, Theorem 6.1).

Token-level SGD (Eq. (12) ICLR / (21) arXiv) with Theorem 6.1's step
:math:`\eta = \min\{1/(2B^2), (\sigma_\star^2T)^{-1/2}\}` (:func:`theory.rates.ttt_step_size`)
trains ``R`` replicates; at random iterates :math:`\theta_t` (per replicate, one uniform draw
in each doubling stratum ``[0,1), [1,2), [2,4), ...`` of ``0..T-1``; weighted by the
stratum widths they give an unbiased, stratified estimate of the average over iterates) both
the trained model :math:`\pi_{\theta_t}` and the test-time-training decoder
:math:`\pi^{TTT}_{\theta_t}` (Eqs. (22)–(23) arXiv, same :math:`\eta`) are evaluated:

* the trained (proper) model **exactly** (i.i.d. tokens: :class:`theory.iid_tokens.IidTokenLaw`);
* the TTT decoder by **Monte Carlo stratified by prompt** (``n_mc`` sequences of
  :math:`\pi_D(\cdot|x)` per prompt and iterate; its parameter path is exact).  Prompts with
  zero features (Prop. 3.2's ``x = 0``) have :math:`\pi^{TTT} = \pi_\theta = \pi_D` exactly;
* the training path's per-token KLs :math:`\frac1T\sum_t\sum_h\varepsilon_{t,h}` (exact per
  step, ``track_token_kl``): by Section 6.1's identity
  :math:`\theta_{t,h} = \vartheta^{TTT}(x_t, y^t_{<h}; \theta_t)` an unbiased estimate of
  :math:`\frac1T\sum_t D_{KL}(\pi_D\|\pi^{TTT}_{\theta_t})` over **every** iterate — the quantity
  of Theorem 6.1's explicit bound (Eq. (86) arXiv): :math:`\le 4/(\eta T) + 2\eta\sigma_\star^2`
  (:func:`theory.rates.sgd_kl_bound`).

Instances: Prop. 3.2 (:func:`theory.instances.prop_3_2_kl_lower_bound`, :math:`\mu(1) = 1/(2T)`,
started at :math:`\theta_0 = 0`; :math:`\sigma_\star^2 \propto H`) and Lemma K.7 (ICLR) / I.7
(arXiv)'s (:func:`theory.instances.lemma_k7`, single scale :math:`B = \bar B`, rare prompt ``+``
of mass :math:`1/(2T)`, both coordinates started at the proof's :math:`r - 1/\bar B`,
:func:`theory.instances.lemma_k7_start`).  Binding claims: Theorem 6.1's explicit bound
(``ttt-kl-bound``, the level; UNDERPOWERED by construction, see ``docs/optimizers.md``), the
proper model's KL linear in ``H`` on Prop. 3.2 (:math:`\ge H/(4n)`; linear by construction of
the i.i.d.-token instance), and :math:`\pi^{TTT}`'s coverage below the trained model's at large
``N`` (it is improper, so it escapes the proper-estimator lower bounds).  Exploratory: whether
the TTT KL grows no faster in ``H`` than :func:`theory.rates.ttt_kl_rate`
:math:`\sqrt{\sigma_\star^2/T} + B^2/T` (``ttt-kl-slope-in-H``).  Theorem 6.1 is an upper bound
with an unstated constant and predicts no growth exponent; on Prop. 3.2 the KL grows faster
than the rate's local slope on the grid (measured/rate rises from 0.17 to 0.26 in the quick
preset — allowed by the bound, which is far above), and on Lemma K.7's instance the rate is
about 50 times the measured KL, so its flat shape predicts nothing.

From :math:`\theta_0 = 0` on Lemma K.7's instance the decoder pays its regret on the first
sequence, :math:`\approx 2\log H` nats (one token step moves :math:`u = e^{\bar B\theta}` by
about 1): the TTT KL then grows like :math:`\log H` (local slope about 0.12 on the old grid,
which passed only through a tolerance of 0.25); from the proof's start the regret is
:math:`2\log(1 + 4e\log N)`, ``H``-free.  Theorem 6.1's bound allows either.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from simulations.claims import bound_claim, comparison_claim, condition, exponent_claim
from simulations.experiments.contract import Task
from simulations.learners.optimizers import chain, project_box, project_l2_ball, sgd
from simulations.learners.training import train_one_pass
from simulations.learners.ttt import TTTDecoder
from simulations.plots import line_plot
from theory.iid_tokens import IidTokenLaw, iid_token_log_probs, iid_token_tables
from theory.instances import lemma_k7, lemma_k7_start, prop_3_2_kl_lower_bound
from theory.rates import sgd_kl_bound, ttt_kl_rate, ttt_step_size

from ._optimizers_common import TOPIC, assumption_conditions, instance_geometry, mean_and_band

NAME = "test-time-training"
PAPER_REF = "Theorem 6.1 (Section 6.1; Eqs. (12), (22)-(23) arXiv); Prop. 3.2"
TITLE = "Test-time training: H-free KL rate and better coverage than the trained (proper) model"
TOPIC = TOPIC

INSTANCES = ("prop-3.2", "lemma-k7")


@dataclass(frozen=True)
class Config:
    """Grid and evaluation sizes.

    Attributes
    ----------
    H_values : tuple of int
    T : int
        Training sequences (token-level steps: ``T*H``).
    replicates : int
    (iterates: one per doubling stratum ``[0,1), [1,2), [2,4), ...`` of ``0..T-1`` and replicate)
    n_mc : int
        Monte Carlo sequences per prompt and iterate for the TTT decoder.
    k7_B : float
        Scale of Lemma K.7's instance (:math:`B = \\bar B`).
    N_values : tuple of float
        Thresholds of the coverage profile; ``N_cmp`` is the one of the comparison claim.
    k7_start_N : float
        The ``N`` of the proof's initialisation on Lemma K.7's instance.
    preset : str
        ``"full"`` or ``"quick"``.
    """

    H_values: tuple = (8, 16, 32, 64, 128, 256)
    T: int = 1000
    replicates: int = 64
    n_mc: int = 400
    k7_B: float = 30.0
    N_values: tuple = (2.0, 8.0, 64.0, 1024.0, 2.0 ** 20, 2.0 ** 40)
    N_cmp: float = 2.0 ** 20
    k7_start_N: float = 8.0
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(H_values=(8, 16, 32, 64), T=300, replicates=128, n_mc=60, preset="quick")

    @classmethod
    def full(cls):
        return cls()


def _strata(T):
    """Stratum edges 0, 1, 2, 4, ..., T (doubling widths)."""
    return np.unique(np.concatenate([[0], 2 ** np.arange(int(np.log2(T)) + 1), [T]])).astype(np.int64)


def tasks(config):
    return [Task(cell=i * len(config.H_values) + j, rep=0, params={"instance": inst, "H": int(H)})
            for i, inst in enumerate(INSTANCES) for j, H in enumerate(config.H_values)]


def _instance(config, name, H):
    if name == "prop-3.2":
        inst = prop_3_2_kl_lower_bound(config.T, H, theta_star=1.0)
        # training starts at theta_0 = 0 (the construction's model_class holds theta_*)
        inst = dataclasses.replace(inst, model_class=inst.data.replace(theta=np.zeros(1)))
        return inst, project_box(-1.0, 1.0), 1.0
    st = lemma_k7_start(H, config.k7_B, config.k7_start_N)
    inst = lemma_k7(H, config.k7_B, config.k7_B, mu_plus=1.0 / (2 * config.T), theta_init=[st, st])
    return inst, project_l2_ball(1.0), config.k7_B


def run_task(config, task, *, rng):
    name, H = task.params["instance"], task.params["H"]
    inst, proj, B = _instance(config, name, H)
    s2 = inst.data.sigma_star_sq()
    eta = float(ttt_step_size(config.T, sigma_sq=s2, B=B))
    opt = chain(sgd(eta), proj)
    rng_train, rng_t, rng_mc = rng.spawn(3)
    R = config.replicates
    edges = _strata(config.T)
    n = edges.size - 1
    # one uniformly random iterate per stratum [e_k, e_{k+1}) and replicate (doubling strata: the
    # early iterates, where the quantities change fastest, are sampled densely); weights = widths/T
    steps = (edges[:-1] + rng_t.random((R, n)) * np.diff(edges)).astype(np.int64)
    logged = np.unique(steps)
    res = train_one_pass(data=inst.data, model=inst.model_class, optimizer=opt, T=config.T, rng=rng_train,
                         replicates=R, level="token", log_steps=logged, track_token_kl=True)
    idx = np.searchsorted(res.steps, steps)                                # (R, n)
    thetas = res.thetas[np.arange(R)[:, None], idx].reshape(R * n, -1)    # (R*n, d)
    N = np.asarray(config.N_values)
    # trained (proper) model: exact
    table = iid_token_tables(inst.data)
    law = IidTokenLaw(iid_token_log_probs(table, inst.data.theta), H, inst.data.prompt_weights)
    lq = iid_token_log_probs(table, thetas)
    proper_kl = law.kl(lq)
    proper_cov = law.coverage(lq, N)[1]                                    # certified upper end
    proper_cov_x = law.per_prompt_coverage(lq, N)[1]                       # (P, X, |N|)
    # TTT decoder: stratified Monte Carlo on the distinct iterates
    uniq, inv = np.unique(np.round(thetas, 15), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    dec = TTTDecoder(inst.model_class.replace(theta=uniq), opt)
    mu = inst.data.prompt_weights
    kl_x = np.zeros((inst.data.n_prompts, uniq.shape[0]))
    var_x = np.zeros_like(kl_x)
    hits = np.zeros((inst.data.n_prompts, uniq.shape[0], N.size), dtype=np.int64)
    trivial = []
    for x in range(inst.data.n_prompts):
        if not np.any(inst.data.features.table[x]):                        # zero features: pi^TTT = pi_D
            trivial.append(x)
            continue
        mc = dec.sampled_log_ratio(inst.data, config.n_mc, rng=rng_mc, prompt=x)
        z = mc.values                                                      # (U, n_mc)
        kl_x[x] = z.mean(-1)
        var_x[x] = z.var(-1, ddof=1) / config.n_mc
        hits[x] = np.rint(mc.coverage(N) * config.n_mc).astype(np.int64)
    ttt_kl = (mu[:, None] * kl_x).sum(0)[inv]
    ttt_kl_se2 = ((mu[:, None] ** 2) * var_x).sum(0)[inv]
    return [{
        "instance": name, "H": H, "T": config.T, "eta": eta, "sigma_star_sq": s2, "B": B,
        "prompt_weights": mu.tolist(), "trivial_prompts": trivial, "n_mc": config.n_mc,
        "steps": steps.tolist(), "weights": (np.diff(edges) / config.T).tolist(), "N": N.tolist(),
        "proper_kl": proper_kl.tolist(), "proper_cov": proper_cov.tolist(),
        "proper_cov_x": proper_cov_x.tolist(),
        "ttt_kl": ttt_kl.tolist(), "ttt_kl_se2": ttt_kl_se2.tolist(),
        # per iterate, per prompt, per N: Monte Carlo hit counts out of n_mc
        "ttt_hits": hits[:, inv].transpose(1, 0, 2).tolist(),
        "proper_evaluation": law.evaluation,
        # (1/T) sum_t sum_h eps_{t,h} on the training path, per replicate (every iterate)
        "path_kl": res.path_token_kl[:, -1].tolist(),
        "theta_init": np.asarray(inst.model_class.theta, float).reshape(-1).tolist(),
        "geometry": instance_geometry(inst),
    }]


def _by_instance(records, name):
    return sorted([r for r in records if r["instance"] == name], key=lambda r: r["H"])


def _replicate_means(rec, key, config):
    """Per-replicate stratified estimate of the average over t (unbiased)."""
    w = np.asarray(rec["weights"])
    v = np.asarray(rec[key], dtype=float).reshape(config.replicates, w.size, *np.shape(rec[key])[1:])
    return np.tensordot(w, v, axes=(0, 1))


def _ttt_coverage_means(rec, j):
    """Per-replicate stratified estimate of the average-iterate Cov_N(pi^TTT) (Monte Carlo) and of
    the trained model's (exact), at threshold index ``j``."""
    hits = np.asarray(rec["ttt_hits"])[:, :, j]                           # (R*S, X)
    mu = np.asarray(rec["prompt_weights"])
    triv = np.isin(np.arange(mu.size), rec["trivial_prompts"])
    ttt = (np.where(triv, 0.0, hits / rec["n_mc"]) @ mu)                  # (R*S,)
    proper = np.asarray(rec["proper_cov"])[:, j]                          # (R*S,)
    w = np.asarray(rec["weights"])
    R = ttt.size // w.size
    return ttt.reshape(R, w.size) @ w, proper.reshape(R, w.size) @ w


def _conditions(recs):
    ratio = max(r["eta"] * 2 * r["B"] ** 2 for r in recs)
    return assumption_conditions([r["geometry"] for r in recs], recs[0]["B"]) + [
        condition("eta <= 1/(2 B^2) (Theorem 6.1's proof, App. K.6 ICLR / I.6 arXiv)",
                  f"max eta 2 B^2 = {ratio:.4g}", bool(ratio <= 1 + 1e-12)),
        condition("test-time decoder uses the training step eta (Eqs. (22)-(23) arXiv)", "same eta", True),
    ]


def claims(config, records):
    out = []
    j = list(config.N_values).index(config.N_cmp)
    for name in INSTANCES:
        recs = _by_instance(records, name)
        Hs = [r["H"] for r in recs]
        cond = _conditions(recs)
        rate = [float(ttt_kl_rate(r["T"], sigma_sq=r["sigma_star_sq"], B=r["B"])) for r in recs]
        pred = float(np.polyfit(np.log(Hs), np.log(rate), 1)[0])
        ttt_kl = [_replicate_means(r, "ttt_kl", config) for r in recs]
        start = ("theta_0 = 0" if name == "prop-3.2" else
                 "theta_0 = (r - 1/B_bar)[1; 1], the proof's start (r - 1/B_bar by H: "
                 + ", ".join(f"{r['theta_init'][0]:.3g}" for r in recs) + ")")
        s2 = [r["sigma_star_sq"] for r in recs]
        kl_means = [float(np.mean(v)) for v in ttt_kl]
        explicit = [float(sgd_kl_bound(T=r["T"], eta=r["eta"], sigma_sq=r["sigma_star_sq"])) for r in recs]
        common = (f"T = {config.T}, eta = min(1/(2B^2), 1/sqrt(sigma^2 T)), {start}; stratified random iterates "
                  f"(doubling strata) x {config.replicates} replicates; TTT KL by Monte Carlo stratified by prompt "
                  f"({config.n_mc} sequences per prompt and iterate); sigma_*^2 by H: "
                  f"{', '.join(f'{v:.3g}' for v in s2)}; rate sqrt(sigma^2/T) + B^2/T by H: "
                  f"{', '.join(f'{v:.3g}' for v in rate)} (local slope {pred:.3f}); explicit bound 4/(eta T) + "
                  f"2 eta sigma_*^2 by H: {', '.join(f'{v:.3g}' for v in explicit)}; measured means: "
                  f"{', '.join(f'{v:.3g}' for v in kl_means)}; measured/rate: "
                  f"{', '.join(f'{m / v:.3g}' for m, v in zip(kl_means, rate))}. Exploratory, why: Theorem 6.1 "
                  "is an upper bound, KL <= C (sqrt(sigma^2/T) + B^2/T) with an unstated C; it predicts no growth "
                  "exponent, and a local slope of the rate is a prediction only where the bound is tight. The "
                  "level is tested by ttt-kl-bound (the proof's explicit constants)")
        if name == "prop-3.2":
            out.append(exponent_claim(
                f"{NAME}/{name}/ttt-kl-slope-in-H", "Theorem 6.1",
                "exploratory: does the average-iterate KL(pi_D || pi^TTT) grow no faster in H than Theorem 6.1's "
                "rate sqrt(sigma_*^2/T) + B^2/T (its local slope on the grid; sigma_*^2 is proportional to H here)?",
                Hs, ttt_kl, predicted=pred, mode="at_most", tolerance=0.1, evaluation="monte_carlo",
                exploratory=True, conditions=cond,
                details=common + ". Finding: on this grid the TTT KL grows faster than the rate's local slope "
                                 "(measured/rate grows along the grid, above); the rate's B^2/T term is an additive "
                                 "constant that flattens its slope at small H, and the decoder's KL does not track "
                                 "it. Theorem 6.1 allows this (the ratio stays far below 1); as H grows the sqrt "
                                 "term dominates and the rate's slope tends to 1/2",
                revised_from=("'equal to the rate's local slope, tolerance 0.25' (binding), which passed only "
                              "through its tolerance and fails at the tolerance standard of 0.1 (measured slope "
                              "above the local slope + 0.1); it was then replaced, after the data were seen, by "
                              "'grows like H^(1/2), the sqrt(sigma_*^2/T) term' (equal 0.5, tolerance 0.1, binding). "
                              "An upper bound predicts no growth exponent: the slope is now exploratory, at most "
                              "the rate's local slope (tolerance 0.1)")))
        else:
            out.append(exponent_claim(
                f"{NAME}/{name}/ttt-kl-slope-in-H", "Theorem 6.1",
                "exploratory: does the average-iterate KL(pi_D || pi^TTT) grow no faster in H than "
                "sqrt(sigma^2/T) + B^2/T (H-free here: sigma_*^2 is negligible)? The predicted slope is the "
                f"local slope of a rate that is vacuous on this instance (rate {min(rate):.2g}-{max(rate):.2g} "
                f"nats against a measured KL of {min(kl_means):.2g}-{max(kl_means):.2g}): not a prediction of "
                "the theorem", Hs, ttt_kl, predicted=pred,
                mode="at_most", tolerance=0.1, evaluation="monte_carlo", exploratory=True, conditions=cond,
                details=common + ". On this instance the rate (unit constants) is far above the measured KL and "
                                 "the explicit bound further still: the rate is vacuous as a description of the "
                                 "measured KL, so its flat shape predicts nothing about the KL's. Earlier rules: "
                                 "binding with the same rule (made exploratory after a review, not after a failing "
                                 "run); before that 'equal to the rate's local slope, tolerance 0.25' from "
                                 "theta_0 = 0, which measured 0.12 and passed only through its tolerance (the "
                                 "decoder's log H regret on the first sequence)"))
        if name == "prop-3.2":
            out.append(exponent_claim(
                f"{NAME}/{name}/proper-kl-slope-in-H",
                "Prop. 3.2 (the H-dependence of KL >= H/(4n) for proper estimators; its level is not tested)",
                "the trained (proper) model's average-iterate KL grows linearly in H (the H-dependence of Prop. "
                "3.2's lower bound, on its construction as transcribed)",
                Hs, [_replicate_means(r, "proper_kl", config) for r in recs], predicted=1.0, tolerance=0.1,
                evaluation="exact",
                conditions=[condition("Prop. 3.2's construction as transcribed (theta* = 1, Theta = [-1, 1], "
                                      "mu(1) = 1/(2n) with n = T)",
                                      f"prop_3_2_kl_lower_bound(T = {config.T}, H, theta_star = 1)", True,
                                      note="met as transcribed; on this construction the level H/(4n) is "
                                           "never reached (prop-3-2/kl-lower-bound/mu=1/(2n) fails: KL = "
                                           "0.164 H/n for every proper estimator), so only the linear "
                                           "H-dependence, which holds for any mu(1), is claimed here"),
                            condition("proper estimator (pi_theta with theta in Theta)", "SGD iterates, projected", True)],
                details=("same runs and iterates; KL exact (H sum_x mu(x) KL(p_x || q_x)); it is "
                         "mu(1) H KL(Ber(p*) || Ber(p_theta)) with p_theta = 1/2 until prompt 1 is first seen: "
                         "linear in H by construction of the i.i.d.-token instance, so the claim checks that the "
                         "H-dependence of Prop. 3.2's lower bound H/(4n) is what the trained model shows")))
        bound = [float(sgd_kl_bound(T=r["T"], eta=r["eta"], sigma_sq=r["sigma_star_sq"])) for r in recs]
        path = [np.asarray(r["path_kl"]) for r in recs]
        out.append(bound_claim(
            f"{NAME}/{name}/ttt-kl-bound", "Theorem 6.1 (Eq. (86) of its proof, App. K.6 ICLR / I.6 arXiv)",
            "token-level SGD with eta <= 1/(2B^2): E (1/T) sum_t KL(pi_D || pi^TTT_theta_t) = E (1/T) sum_t sum_h "
            "eps_{t,h} <= 4/(eta T) + 2 eta sigma_*^2",
            bound=bound, constants="4 and 2 as printed in the proof (the 4 is 2 ||theta* - theta_0||^2 at its worst "
                                   "case 2^2); sigma_*^2 exact", replicates=path, evaluation="monte_carlo",
            labels=[f"H={h}" for h in Hs], conditions=cond,
            details=(f"per replicate, the training path's per-token KLs averaged over all T = {config.T} sequences "
                     "(exact per step; unbiased for the TTT KL average by Section 6.1's identity); measured/bound by H: "
                     + ", ".join(f"{np.mean(p) / b:.3g}" for p, b in zip(path, bound))),
            structural_reason=(
                "the argument is Prop. 5.1's, transplanted to the token-level OGD of Theorem 6.1 (no search "
                "over TTT instances was run) [derived, docs/optimizers.md 'Explicit constants']: by the OGD "
                "identity sum_t G = (||theta_0 - theta*||^2 - ||theta_T - theta*||^2)/(2 eta) + (eta/2) sum "
                "||g_t||^2 the transient part is at most D^2/(2 eta) <= 2/eta, half of 4/eta, and KL <= G and "
                "E||g||^2 <= 2 sigma_*^2 + 2B^2 G lose more; in the quadratic regime the KL sum is at most a third "
                "of 4/eta; in the saturated linear-KL regime (KL = G ~ a|theta - theta*| along the path, D = 2) it "
                "tends to 2/eta, so quantity/bound tends to 1/2: the halved bound is reached at best as a limit "
                "(not a proof for every instance); a search over 1-D vanilla-SGD instances found at most 0.27 of "
                "the bound")))
        r = recs[-1]
        ttt, proper = _ttt_coverage_means(r, j)
        out.append(comparison_claim(
            f"{NAME}/{name}/ttt-coverage-below-proper", "Theorem 6.1; Section 6.1",
            (f"at H = {r['H']}, N = {config.N_cmp:g}: pi^TTT_theta's average-iterate coverage is below the trained "
             "pi_theta's at the same iterates (the improper decoder escapes the proper lower bounds)"),
            ttt, proper, better="lower", paired=True, names=("pi^TTT", "trained pi_theta"),
            evaluation="monte_carlo", conditions=cond,
            details=(f"per replicate, stratified averages over the same random iterates: TTT by Monte Carlo "
                     f"({r['n_mc']} sequences per prompt and iterate), trained model exact; means {ttt.mean():.4g} vs "
                     f"{proper.mean():.4g}")))
    return out


def plot(config, records, out_dir):
    from simulations.plots import COV, save_figure

    paths = []
    ttt_kl = r"$\mathrm{KL}(\pi_D\|\pi^{\mathrm{TTT}})$ (Monte Carlo)"
    prop_kl = r"$\mathrm{KL}(\pi_D\|\pi_\theta)$, trained (exact)"
    shape = r"$\sqrt{\sigma_\star^2/T} + B^2/T$ (shape, scaled)"
    for name in INSTANCES:
        recs = _by_instance(records, name)
        H = np.array([r["H"] for r in recs], float)
        mt, bt = mean_and_band([_replicate_means(r, "ttt_kl", config) for r in recs])
        mp, bp = mean_and_band([_replicate_means(r, "proper_kl", config) for r in recs])
        rate = np.array([float(ttt_kl_rate(r["T"], sigma_sq=r["sigma_star_sq"], B=r["B"])) for r in recs])
        pos = mt > 0
        if pos.any():
            rate *= np.exp(np.mean(np.log(mt[pos])) - np.mean(np.log(rate[pos])))
        fig = line_plot(H, {ttt_kl: mt, prop_kl: mp, shape: rate}, bands={ttt_kl: bt, prop_kl: bp},
                        styles={shape: "k--"}, logx=True, logy=True, xlabel="$H$", ylabel="average-iterate KL",
                        title=f"{name}: TTT decoder vs trained model")
        paths.append(save_figure(fig, out_dir / f"ttt_{name}_kl_vs_H.png"))
        r = recs[-1]
        N = np.asarray(config.N_values)
        ttt = np.array([_ttt_coverage_means(r, j)[0].mean() for j in range(N.size)])
        proper = np.array([_ttt_coverage_means(r, j)[1].mean() for j in range(N.size)])
        fig = line_plot(N, {r"$\pi^{\mathrm{TTT}}$ (Monte Carlo)": ttt, r"trained $\pi_\theta$ (exact)": proper},
                        logx=True, logy=True, xlabel="$N$", ylabel=f"average-iterate {COV.format(N='N')}",
                        zero_label=f"0: no Monte Carlo hit in {r['n_mc']} sequences per prompt and iterate",
                        title=f"{name}, $H = {r['H']}$: coverage profiles")
        paths.append(save_figure(fig, out_dir / f"ttt_{name}_coverage_profile.png"))
    return paths
