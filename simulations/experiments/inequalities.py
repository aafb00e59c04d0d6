r"""Every proved inequality on random instances, its sharpness on a witness, and certified coverage.

One claim per inequality family (numbering ICLR / arXiv):

=====================  ======================================================================
family                 statement
=====================  ======================================================================
``prop-3.1``           :math:`\mathrm{Cov}_N \le D_{KL}/\log(N/e)`
``prop-F.1``           :math:`\mathrm{Cov}_N \le D_{KL}/(\log N - 1 + 1/N)` (F.1 / D.1)
``prop-F.2``           witness :math:`\mathrm{Cov}_N \ge D_{KL}/(\log N - 1/2 + 1/(2N))` (F.2 / D.2)
``prop-F.3``           :math:`D_{KL} \le C(1 + \log(\log W_{\max}/C))` (F.3 / D.3)
``prop-F.4``           :math:`\mathrm{Cov}_N \le 2N/(\sqrt N-1)^2\,D_H^2` (F.4 / D.4)
``prop-F.5``           chain rule (F.5 / D.5)
``prop-F.6``           Best-of-N sufficiency (F.6 / D.6)
``prop-F.7``           Best-of-N necessity, witness reward (F.7 / D.7)
``pass-at-n``          derived :math:`1-\mathrm{Pass@}N \le \mathrm{Cov}_M + e^{-N/M}`
``sandwich``           derived deterministic-target sandwich
``prop-F.10``          :math:`\mathrm{Cov}_N \le 2D_{seq,N}/(\log N - 1)` (F.10 / D.10)
``prop-F.11``          Hellinger partial converse (F.11 / D.11)
``markov-lp``          :math:`\mathrm{Cov}_N \le \mathbb E[(\pi/\hat\pi)^p]/N^p`
``lemma-J.1``          :math:`\mathbb E\exp(\tfrac12\max\{\log(\pi/\pi_D),-C\}) \le 1`, :math:`C\ge\log4`
``mle-hellinger``      finite-class MLE: :math:`P[D_H^2(\hat\pi) > \log(|\Pi|/\delta)/n] \le \delta`
=====================  ======================================================================

Every random-instance check is **exact** (enumerated supports, exact multinomial
enumeration for the MLE): a family passes when it has zero violations (beyond
``1e-12 * max(1, |rhs|)`` for floating-point rounding: probabilities such as
``1 - Pass@N`` are computed to about ``1e-16`` absolute) *and* its witness attains the bound up to the slack
derived a priori for the witness parameters (the same derivations as the sharpness tests in
``tests/property/test_bounds_*.py``).  Random instances: prompt mixtures of Dirichlet
distributions (concentration log-uniform in [0.05, 50], some near-degenerate, zeros in the
model), and random autoregressive linear models (``H <= 5``, ``V <= 3``, Markov or fully
prefix-dependent features).

Props. 3.1, F.1 and F.2 are binding predictions of ``kl-vs-coverage`` (the dedicated
experiment); here they are sanity cross-checks on this sweep's instance families, so a statement
is counted once.  Every check stays inside its statement's hypotheses (e.g. F.7 at ``N >= 2``),
and each claim records them as ``conditions`` with their ranges over the checks.  The power of a
binding family (a point above half the bound) is reported separately for the random sweep and
for the witnesses: for F.6 and the finite-class MLE only the witness gives power.

Three more claims check the certified bounds of :mod:`theory.certified` (lattice, FFT and
Fourier methods): against exact enumeration (``H = 8``), against Monte Carlo with
Clopper–Pearson intervals at long ``H``, and their gap there (``<= 1e-3``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from simulations.claims import as_sanity, bound_claim, condition, not_run_in_quick, sanity_claim
from simulations.experiments.contract import Task
from simulations.experiments._inequality_witnesses import coverage_of as _cov
from simulations.experiments._inequality_witnesses import log_ratio_of as _lr
from simulations.experiments._inequality_witnesses import mle_risk_quantile as _mle_risk_quantile
from simulations.experiments._inequality_witnesses import run_witnesses as _run_witness
from simulations.plots import line_plot
from theory import bounds as B
from theory.best_of_n import (best_of_n_expected_reward, best_of_n_success, bon_necessity_bound,
                              bon_necessity_reward, bon_sufficiency_bound, bon_sufficient_n,
                              deterministic_target_sandwich, pass_at_n, pass_at_n_coverage_bound)
from theory.coverage import TIE_ATOL
from theory.divergences import kl_divergence, squared_hellinger
from theory.log_ratio import (certified_log_ratio, exact_log_ratio, exact_stopped_kl, path_token_hellinger,
                              sampled_log_ratio)
from theory.models import (AutoregressiveLinearModel, CallableFeatures, MarkovModel, TabularFeatures)

NAME = "inequalities"
PAPER_REF = ("Props. 3.1, F.1-F.7, F.10, F.11 (ICLR) = D.1-D.7, D.10, D.11 (arXiv); Lemma J.1; "
             "finite-class MLE (F.8 / D.8); certified coverage")
TITLE = "Every proved inequality: zero violations on random instances, attained on its witness"
TOPIC = "coverage and Best-of-N"

RTOL = 1e-12

FAMILIES = {
    "prop-3.1": ("Prop. 3.1", "Cov_N <= KL / log(N/e), N > e"),
    "prop-F.1": ("Prop. F.1 (ICLR) / D.1 (arXiv)", "Cov_N <= KL / (log N - 1 + 1/N)"),
    "prop-F.2": ("Prop. F.2 / D.2", "Ber(p) vs Ber(p/N): Cov_N = p >= KL / (log N - 1/2 + 1/(2N))"),
    "prop-F.3": ("Prop. F.3 / D.3", "KL <= C (1 + log(log W_max / C)), C = sup_N Cov_N log N"),
    "prop-F.4": ("Prop. F.4 / D.4", "Cov_N <= 2N/(sqrt N - 1)^2 D_H^2"),
    "prop-F.5": ("Prop. F.5 / D.5", "Cov_M1(pi_T||pi) <= M2 Cov_{M1/M2}(pi_D||pi) + Cov_M2(pi_T||pi_D)"),
    "prop-F.6": ("Prop. F.6 / D.6", "BoN suboptimality <= Cov_M + eps for N >= 2M log(1/eps), Cov_M <= 1/2"),
    "prop-F.7": ("Prop. F.7 / D.7", "BoN suboptimality for r = 1{pi_T/pi >= 2N} >= Cov_2N / 2"),
    "pass-at-n": ("derived from Prop. F.6 / D.6", "1 - Pass@N <= Cov_M + exp(-N/M)"),
    "sandwich": ("derived (deterministic target)", "(1-1/M)^N Cov_M <= 1 - Pass@N <= Cov_M + (1-1/M)^N"),
    "prop-F.10": ("Prop. F.10 / D.10", "Cov_N <= 2 D_seq,N / (log N - 1), N > e"),
    "prop-F.11": ("Prop. F.11 / D.11", "Cov_N >= P[sum_h D_H^2 >= log(N/delta)] - delta"),
    "markov-lp": ("Related work (Markov), derived form", "Cov_N <= E[(pi/pihat)^p] / N^p"),
    "lemma-J.1": ("Lemma J.1", "E exp(max{log(pi/pi_D), -C}/2) <= 1 for C >= log 4"),
    "mle-hellinger": ("finite-class MLE (Prop. F.8 / D.8 core)",
                      "P[E_mu D_H^2(pi_D, MLE) > log(|Pi|/delta)/n] <= delta"),
}


@dataclass(frozen=True)
class Config:
    """Sizes of the random-instance sweep, the witness grids and the certified checks.

    Attributes
    ----------
    n_discrete, n_autoregressive, n_mle : int
        Random instances per task of each family group.
    reps : int
        Tasks (independent streams) per group.
    n_thresholds : int
        Log-spaced thresholds in ``[1, N_max]``.
    N_max : float
    certified_exact_instances : int
        Random Markov pairs (``H = 8``, ``V = 3``) compared with exact enumeration.
    certified_horizon, certified_bins, mc_samples : int
        Long-horizon certified-vs-Monte-Carlo check (``V = 4``).
    mc_thresholds : int
        Thresholds of that check (Bonferroni over them).
    preset : {"full", "quick"}
        Which preset (the quick one leaves Prop. F.10 to the full preset).
    """

    n_discrete: int = 1000
    n_autoregressive: int = 200
    n_mle: int = 200
    reps: int = 10
    n_thresholds: int = 200
    N_max: float = 1e12
    certified_exact_instances: int = 20
    certified_horizon: int = 1000
    certified_bins: int = 16384
    mc_samples: int = 200000
    mc_thresholds: int = 16
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(n_discrete=30, n_autoregressive=10, n_mle=10, reps=2, n_thresholds=40, N_max=1e6,
                   certified_exact_instances=3, certified_horizon=200, certified_bins=4096,
                   mc_samples=10000, mc_thresholds=8, preset="quick")

    @classmethod
    def full(cls):
        return cls()

    @property
    def thresholds(self):
        return np.geomspace(1.0, self.N_max, self.n_thresholds)


def tasks(config):
    out = []
    for r in range(config.reps):
        out.append(Task(cell=0, rep=r, params={"group": "discrete"}))
        out.append(Task(cell=1, rep=r, params={"group": "autoregressive"}))
        out.append(Task(cell=2, rep=r, params={"group": "mle"}))
    out.append(Task(cell=3, rep=0, params={"group": "witness"}))
    out.append(Task(cell=4, rep=0, params={"group": "certified"}))
    return out


# ------------------------------------------------------------------------ counting
class _Tally:
    """Per-family counts of checks, violations and the largest lhs/rhs ratio."""

    def __init__(self):
        self.data = {}

    def add(self, family, lhs, rhs, **hyp):
        """Count ``lhs <= rhs``; ``hyp`` are the statement's parameters on these checks (their
        ranges become the claim's ``conditions``)."""
        lhs = np.ravel(np.asarray(lhs, dtype=float))
        rhs = np.ravel(np.asarray(rhs, dtype=float))
        lhs, rhs = np.broadcast_arrays(lhs, rhs)
        with np.errstate(invalid="ignore"):
            ok = (lhs <= rhs) | (lhs <= rhs + RTOL * np.maximum(1.0, np.abs(rhs)))
        # ratios are reported only where the right side is resolvable in double precision
        # (quantities like 1 - Pass@N carry an absolute rounding error of about 1e-16)
        finite = np.isfinite(rhs) & (rhs > 1e-9)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(finite, lhs / np.where(finite, rhs, 1.0), np.nan)
        d = self.data.setdefault(family, {"n_checks": 0, "violations": 0, "max_ratio": -np.inf,
                                          "hyp": {}})
        for name, v in hyp.items():
            v = np.asarray(v, dtype=float)
            lo, hi = d["hyp"].get(name, (np.inf, -np.inf))
            d["hyp"][name] = (float(min(lo, v.min())), float(max(hi, v.max())))
        d["n_checks"] += int(lhs.size)
        d["violations"] += int((~ok).sum())
        if np.isfinite(ratio).any():
            d["max_ratio"] = float(max(d["max_ratio"], np.nanmax(ratio)))

    def records(self, group):
        return [{"kind": "tally", "group": group, "family": f, **v} for f, v in self.data.items()]


def _random_mixture(rng, X, m, *, zeros):
    conc = np.exp(rng.uniform(np.log(0.05), np.log(50.0)))
    p = rng.dirichlet(np.full(m, conc), size=X)
    bad = ~np.isfinite(p).all(-1) | (p.sum(-1) <= 0)          # tiny concentrations can underflow
    p[bad] = 1.0 / m
    if rng.random() < 0.2:                                    # near-degenerate
        p = (1 - 1e-9) * np.eye(m)[rng.integers(m, size=X)] + 1e-9 * p
    if zeros and rng.random() < 0.5:                          # disjoint supports
        mask = rng.random((X, m)) < 0.3
        mask[np.arange(X), np.argmax(p, axis=-1)] = False     # keep a point of positive mass
        p = np.where(mask, 0.0, p)
        p = p / p.sum(-1, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.log(p)


# ---------------------------------------------------------------- discrete families
def _run_discrete(config, rng):
    t = _Tally()
    N = config.thresholds
    for _ in range(config.n_discrete):
        X = int(rng.integers(1, 4))
        m = int(rng.integers(2, 9))
        mu = rng.dirichlet(np.ones(X))
        lp_t, lp_d, lp_m = (_random_mixture(rng, X, m, zeros=z) for z in (True, False, True))
        wd = (mu[:, None] * np.exp(lp_d)).ravel()
        wt = (mu[:, None] * np.exp(lp_t)).ravel()
        lr = _lr(lp_d, lp_m)
        cov = _cov(lr, wd, N)
        kl = kl_divergence(lp_d, lp_m, prompt_weights=mu)
        h2 = squared_hellinger(lp_d, lp_m, prompt_weights=mu)
        e3, e2 = N >= np.e, N >= 2                      # the statements' ranges of N
        t.add("prop-3.1", cov[e3], B.kl_to_coverage(kl, N[e3]), N=N[e3])
        t.add("prop-F.1", cov[e2], B.kl_to_coverage_sharp(kl, N[e2]), N=N[e2])
        C, logw = B.uniform_coverage_decay(lr.ravel(), weights=wd)
        t.add("prop-F.3", kl, B.coverage_decay_to_kl(C, logw), log_W_max=logw)
        g1 = N > 1
        t.add("prop-F.4", cov[g1], B.hellinger_to_coverage(h2, N[g1]), N=N[g1])
        for p in (0.5, 1.0, 2.0):
            t.add("markov-lp", cov, B.markov_lp_coverage_bound(B.log_density_ratio_moment(lr.ravel(), p, weights=wd),
                                                               N, p), p=p)
        for C_clip in (np.log(4.0), 2.0, 5.0):
            t.add("lemma-J.1", B.lemma_j1_clipped_exponential(lp_d, lp_m, C_clip, prompt_weights=mu), 1.0, C=C_clip)
        # chain rule with a target: M1, M2 >= 2 (M1/M2 may be below one: direct tail)
        lr_td, lr_tm = _lr(lp_t, lp_d), _lr(lp_t, lp_m)
        for M1, M2 in ((2.0, 2.0), (10.0, 3.0), (4.0, 16.0), (1e3, 30.0)):
            lhs = _cov(lr_tm, wt, M1)
            cov_dm = float(wd[lr.ravel() >= np.log(M1 / M2) - TIE_ATOL].sum())   # M1/M2 may be < 1
            t.add("prop-F.5", lhs, B.coverage_chain_rule(min(cov_dm, 1.0), _cov(lr_td, wt, M2), M2),
                  M=[M1, M2])
        # Best-of-N: reward 1 on the target's support plus random extra responses
        reward = ((np.exp(lp_t) > 0) | (rng.random((X, m)) < 0.3)).astype(float)
        q = (np.exp(lp_m) * reward).sum(-1).clip(0, 1)
        budgets = np.array([1.0, 4.0, 32.0, 256.0])
        fail = 1.0 - pass_at_n(q, budgets, prompt_weights=mu)
        for M in (2.0, 8.0, 64.0):
            t.add("pass-at-n", fail, pass_at_n_coverage_bound(_cov(lr_tm, wt, M), budgets, M), M=M)
        for Nb in (2.0, 3.0, 20.0):                               # Prop. F.7 needs N >= 2
            r7 = bon_necessity_reward(lp_t, lp_m, Nb)
            bon = best_of_n_success(lp_m, r7, Nb, prompt_weights=mu)
            subopt = float((mu[:, None] * np.exp(lp_t) * r7).sum()) - bon
            t.add("prop-F.7", bon_necessity_bound(_cov(lr_tm, wt, 2 * Nb)), subopt, N=Nb)
        r6 = rng.random((X, m))
        t6 = float((mu[:, None] * np.exp(lp_t) * r6).sum())
        for M in (2.0, 8.0):
            cm = float(_cov(lr_tm, wt, M))
            for eps in (0.3, 0.05):
                if cm <= 0.5:
                    Nb = bon_sufficient_n(M, eps)
                    subopt = t6 - best_of_n_expected_reward(lp_m, r6, Nb, prompt_weights=mu)
                    t.add("prop-F.6", subopt, bon_sufficiency_bound(cm, eps), cov_M=cm, M=M,
                          N_over_2M_log_inv_eps=Nb / (2 * M * np.log(1 / eps)))
        # deterministic target y*(x)
        ystar = rng.integers(m, size=X)
        qs = np.exp(lp_m[np.arange(X), ystar])
        with np.errstate(divide="ignore"):
            lr_star = -np.log(qs)
        for M in (2.0, 8.0, 64.0):
            cm = _cov(lr_star, mu, M)
            lo, hi = deterministic_target_sandwich(cm, budgets, M)
            f = 1.0 - pass_at_n(qs, budgets, prompt_weights=mu)
            t.add("sandwich", lo, f, M=M, target_mass=1.0)
            t.add("sandwich", f, hi, M=M, target_mass=1.0)
    return t.records("discrete")


# ------------------------------------------------------------ autoregressive models
def _random_autoregressive_pair(rng):
    H, V, X, d = int(rng.integers(1, 6)), int(rng.integers(2, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
    if rng.random() < 0.5:
        table = rng.normal(size=(X, H, V ** max(H - 1, 0), V, d))
        powers = V ** np.arange(H)

        def fn(x, prefix, h, table=table, powers=powers):
            code = (prefix.astype(np.int64) * powers[:h]).sum(axis=1) if h > 0 else np.zeros(len(x), np.int64)
            return table[x, h, code]

        feats = CallableFeatures(fn, n_prompts=X, horizon=H, vocab_size=V, dim=d)
    else:
        feats = TabularFeatures(rng.normal(size=(X, H, V + 1, V, d)), horizon=H)
    mu = rng.dirichlet(np.ones(X))
    scale = float(np.exp(rng.uniform(np.log(0.1), np.log(6.0))))
    th = scale * rng.normal(size=d)
    th_m = th + rng.uniform(0, 4) * rng.normal(size=d) if rng.random() < 0.5 else scale * rng.normal(size=d)
    return (AutoregressiveLinearModel(feats, th, prompt_weights=mu),
            AutoregressiveLinearModel(feats, th_m, prompt_weights=mu))


def _run_autoregressive(config, rng):
    t = _Tally()
    N = config.thresholds
    Ne = N[N > np.e]
    for _ in range(config.n_autoregressive):
        data, model = _random_autoregressive_pair(rng)
        with np.errstate(invalid="ignore"):
            law = exact_log_ratio(data, model)
        cov = law.coverage(N)
        kl = float(law.kl())
        e2 = N >= 2
        t.add("prop-F.1", cov[e2], B.kl_to_coverage_sharp(kl, N[e2]), N=N[e2])
        with np.errstate(invalid="ignore"):
            dseq = exact_stopped_kl(data, model, Ne)
        t.add("prop-F.10", cov[N > np.e], B.stopped_kl_to_coverage(dseq, Ne), N=Ne)
        x, y, log_w = data.enumerate_support()
        w = np.exp(log_w)
        keep = w > 0
        sums = path_token_hellinger(data, model, x[keep], y[keep]).sum(-1)
        for delta in (0.01, 0.1, 0.5):
            bound = B.hellinger_partial_converse(sums, N, delta, weights=w[keep] / w[keep].sum())
            t.add("prop-F.11", bound, cov, N=N, delta=delta)
    return t.records("autoregressive")


# ------------------------------------------------------------------- finite-class MLE
def _run_mle(config, rng):
    t = _Tally()
    quantiles = []
    for _ in range(config.n_mle):
        K = int(rng.integers(2, 5))
        X = int(rng.integers(1, 3))
        m = int(rng.integers(2, 4))
        n = int(rng.integers(1, 9 if X * m <= 4 else 6))
        mu = rng.dirichlet(np.ones(X))
        members = np.stack([_random_mixture(rng, X, m, zeros=k > 0) for k in range(K)])
        for delta in (0.05, 0.2, 0.5):
            level = B.finite_class_mle_hellinger_bound(n, K, delta)
            t.add("mle-hellinger", B.finite_class_mle_failure_probability(members, n, level, prompt_weights=mu), delta,
                  delta=delta, n=n)
            quantiles.append(_mle_risk_quantile(members, n, delta, mu) / float(level))
    return t.records("mle") + [{"kind": "mle-quantile", "ratios": quantiles}]


# ------------------------------------------------------------------------- certified
def _random_markov(rng, X, H, V, conc):
    p = rng.dirichlet(np.full(V, conc), size=(X, H, V + 1))
    return np.log(p)


def _run_certified(config, rng):
    out = []
    N = np.concatenate([np.geomspace(1.0, 1e6, 60), [np.inf]])
    for i in range(config.certified_exact_instances):
        # cycle through the three methods: lattice DP and Fourier on position-dependent
        # tables, the FFT path on homogeneous ones
        H, V = 8, 3
        method = ("lattice", "fft", "fourier")[i % 3]
        Hd = 1 if method == "fft" else H
        d = MarkovModel(_random_markov(rng, 1, Hd, V, 1.0), H)
        m = MarkovModel(_random_markov(rng, 1, Hd, V, [0.3, 1.0, 5.0][(i // 3) % 3]), H)
        exact = exact_log_ratio(d, m).coverage(N)
        law = certified_log_ratio(d, m, n_bins=config.certified_bins, method=method)
        lo, hi = law.coverage_bounds(N)
        out.append({"kind": "certified-exact", "instance": i, "method": method, "outside": int(((exact < lo - 1e-12) |
                                                                            (exact > hi + 1e-12)).sum()),
                    "n_thresholds": int(N.size), "max_gap": float(np.max(hi - lo))})
    # long horizon: certified vs Monte Carlo
    H, V = config.certified_horizon, 4
    logits = rng.normal(size=(1, H, V + 1, V))
    d = MarkovModel(log_softmax(logits, -1), H)
    m = MarkovModel(log_softmax(logits + 0.3 * rng.normal(size=logits.shape), -1), H)
    law = certified_log_ratio(d, m, n_bins=config.certified_bins)
    mc = sampled_log_ratio(d, m, config.mc_samples, rng=rng)
    # thresholds at Monte Carlo quantiles of log(pi_D/pi) above 0 (N >= 1)
    q = np.linspace(0.05, 0.95, config.mc_thresholds)
    Nm = np.exp(np.maximum(np.quantile(mc.values, q), 0.0))
    level = 1 - 0.001 / config.mc_thresholds                  # Bonferroni: family-wise 1e-3
    lo_mc, hi_mc = mc.coverage_interval(Nm, level=level)
    lo, hi = law.coverage_bounds(Nm)
    Ngrid = np.exp(np.linspace(max(np.quantile(mc.values, 0.001), 0.0),
                               max(np.quantile(mc.values, 0.999), 1.0), 200))
    lo_g, hi_g = law.coverage_bounds(Ngrid)
    out.append({"kind": "certified-mc", "H": H, "n_bins": law.n_bins, "N": Nm.tolist(),
                "lo": lo.tolist(), "hi": hi.tolist(), "mc": mc.coverage(Nm).tolist(),
                "mc_lo": lo_mc.tolist(), "mc_hi": hi_mc.tolist(), "level": level,
                "grid_logN": np.log(Ngrid).tolist(), "grid_lo": lo_g.tolist(), "grid_hi": hi_g.tolist(),
                "grid_mc": mc.coverage(Ngrid).tolist(), "max_gap": float(np.max(hi_g - lo_g)),
                "escaped": float(getattr(law, "escape_mass", np.zeros(0)).sum()), "method": law.method})
    return out


def run_task(config, task, *, rng):
    with np.errstate(divide="ignore", invalid="ignore"):   # -inf - -inf at zero-probability points
        return _run_group(config, task.params["group"], rng)


def _run_group(config, group, rng):
    if group == "discrete":
        return _run_discrete(config, rng)
    if group == "autoregressive":
        return _run_autoregressive(config, rng)
    if group == "mle":
        return _run_mle(config, rng)
    if group == "witness":
        return _run_witness(config)
    if group == "certified":
        return _run_certified(config, rng)
    raise ValueError(f"unknown group {group!r}")


# ---------------------------------------------------------------------------- claims
#: Witness ratios that are not lhs/rhs of the inequality (F.11: the gap over delta); their
#: records carry ``lhs_over_rhs`` as well.
_NOT_A_RATIO = {"prop-F.11"}

_ROUNDING = (f"floating-point rounding: random-instance violations are counted beyond "
             f"{RTOL:g} * max(1, |rhs|), and ratios are formed where rhs > 1e-9")

#: Families tested as binding predictions in ``kl-vs-coverage`` (the dedicated experiment):
#: here they are sanity checks, so one statement is not counted twice in the headline.
TESTED_ELSEWHERE = {"prop-3.1": "kl-vs-coverage/prop-3.1", "prop-F.1": "kl-vs-coverage/prop-F.1",
                    "prop-F.2": "kl-vs-coverage/prop-F.2-tightness"}

_E = float(np.e)
#: Hypotheses of each statement: (hypothesis, parameter, test on its (min, max) over the checks,
#: note when it fails).  The parameters' ranges are recorded by the runs (``hyp``).
HYPOTHESES = {
    "prop-3.1": [("N >= e", "N", lambda lo, hi: lo >= _E, "")],
    "prop-F.1": [("N >= 2", "N", lambda lo, hi: lo >= 2, "")],
    "prop-F.2": [("N >= 2", "N", lambda lo, hi: lo >= 2, ""), ("p <= 1/2", "p", lambda lo, hi: hi <= 0.5, "")],
    # W_max is checked per instance that can decide the claim (see _conditions)
    "prop-F.3": [],
    "prop-F.4": [("N > 1", "N", lambda lo, hi: lo > 1, "")],
    "prop-F.5": [("M1, M2 >= 2", "M", lambda lo, hi: lo >= 2, "")],
    "prop-F.6": [("Cov_M(pi_T||pi) <= 1/2", "cov_M", lambda lo, hi: hi <= 0.5, ""),
                 ("N >= 2 M log(1/eps) (value: N / (2 M log(1/eps)))", "N_over_2M_log_inv_eps",
                  lambda lo, hi: lo >= 1 - 1e-12, ""),
                 ("M >= 1", "M", lambda lo, hi: lo >= 1, "")],
    "prop-F.7": [("N >= 2", "N", lambda lo, hi: lo >= 2, "")],
    "pass-at-n": [("M >= 1", "M", lambda lo, hi: lo >= 1, "")],
    "sandwich": [("deterministic target (the target puts mass 1 on y*(x))", "target_mass",
                  lambda lo, hi: lo == hi == 1.0, ""), ("M >= 1", "M", lambda lo, hi: lo >= 1, "")],
    "prop-F.10": [("N > e", "N", lambda lo, hi: lo > _E, "")],
    "prop-F.11": [("N >= 1", "N", lambda lo, hi: lo >= 1, ""),
                  ("delta in (0, 1)", "delta", lambda lo, hi: 0 < lo and hi < 1, "")],
    "markov-lp": [("p > 0", "p", lambda lo, hi: lo > 0, "")],
    "lemma-J.1": [("C >= log 4", "C", lambda lo, hi: lo >= np.log(4.0) - 1e-12, "")],
    "mle-hellinger": [("delta in (0, 1)", "delta", lambda lo, hi: 0 < lo and hi < 1, ""),
                      ("n >= 1", "n", lambda lo, hi: lo >= 1, "")],
}
#: Inequalities derived by the toolkit, not stated in the papers: sanity checks of the code.
DERIVED = ("pass-at-n", "sandwich", "markov-lp")
_REALIZABLE = ("realizable finite class: pi_D is member 0 (the exact failure probability samples from it)")


def _conditions(fam, tal, wit):
    """``conditions`` of a family: each hypothesis with its range over the checks and witnesses."""
    out = []
    for text, name, test, note in HYPOTHESES.get(fam, []):
        ranges = [r["hyp"][name] for r in tal if name in r.get("hyp", {})]
        ranges += [w["hyp"][name] for w in wit if name in w.get("hyp", {})]
        if not ranges:
            continue
        lo, hi = min(v[0] for v in ranges), max(v[1] for v in ranges)
        holds = bool(test(lo, hi))
        out.append(condition(text, f"{name} in [{lo:.4g}, {hi:.4g}] over {len(ranges)} tasks/witnesses", holds,
                             "" if holds else note))
    if fam == "mle-hellinger":
        out.append(condition(_REALIZABLE, "member 0 = pi_D in every class", True))
    if fam == "prop-F.3":
        out.append(_w_max_condition(tal, wit))
    return out


def _w_max_condition(tal, wit):
    """Prop. F.3's hypothesis W_max < inf, on the instances that can decide the claim.

    A random instance with pi = 0 < pi_D has W_max = inf and bound +inf: it is outside the
    hypothesis, enters no ratio (ratios are formed only where the bound is finite) and cannot
    violate, so it decides nothing; every instance that enters the claim's points (a finite
    bound) has W_max < inf, and so has every witness.
    """
    wr = [w["hyp"]["log_W_max"] for w in wit if "log_W_max" in w.get("hyp", {})]
    tr = [r["hyp"]["log_W_max"] for r in tal if "log_W_max" in r.get("hyp", {})]
    w_ok = all(np.isfinite(v[1]) for v in wr)
    some_inf = sum(not np.isfinite(v[1]) for v in tr)
    value = (f"witnesses: log W_max in [{min((v[0] for v in wr), default=np.nan):.4g}, "
             f"{max((v[1] for v in wr), default=np.nan):.4g}] ({len(wr)}); random instances: finite on "
             f"every instance entering a ratio (a finite bound); {some_inf} of {len(tr)} random tasks also "
             "contain instances with W_max = inf (pi = 0 < pi_D), which are outside the hypothesis, have "
             "bound +inf, enter no ratio and cannot violate (they are counted in the checks only)")
    return condition("W_max = sup pi_D/pi < inf (on every instance that can decide the claim)", value,
                     bool(w_ok))


def _power_split(fam, measured, labels, n_random):
    """Power of the check against 'bound / 2' from the random sweep alone and from the witnesses alone.

    The same rule as the claim (:func:`~simulations.claims.bound_claim`, exact values,
    ``power_over="any"``) applied to each part: 1 iff some point of the part has ratio above 1/2.
    """
    parts = {"random sweep": (measured[:n_random], labels[:n_random]),
             "witnesses": (measured[n_random:], labels[n_random:])}
    out = {}
    for name, (m, lab) in parts.items():
        if not m:
            out[name] = (None, None)
            continue
        c = bound_claim(f"{NAME}/{fam}/{name}", "power split", "part", bound=1.0, constants="as stated",
                        measured=m, evaluation="exact", power_over="any", labels=lab, tolerance=1e-9,
                        tolerance_reason=_ROUNDING)
        out[name] = (c.power, float(np.max(m)))
    return out


def claims(config, records):
    """One bound claim per family (random instances and witnesses), one witness sanity check
    per family, and three sanity checks of the certified bounds.

    The families tested in ``kl-vs-coverage`` (:data:`TESTED_ELSEWHERE`) are sanity checks here.
    """
    quick = config.preset == "quick"
    per_family = {}
    for r in records:
        if r.get("kind") == "tally":
            per_family.setdefault(r["family"], {"tally": [], "witness": []})["tally"].append(r)
        elif r.get("kind") in ("witness", "witness-violation"):
            per_family.setdefault(r["family"], {"tally": [], "witness": []})["witness"].append(r)
    mle_q = [v for r in records if r.get("kind") == "mle-quantile" for v in r["ratios"]]
    out = []
    for fam, (ref, statement) in FAMILIES.items():
        tal = per_family.get(fam, {"tally": [], "witness": []})["tally"]
        ws = per_family.get(fam, {"tally": [], "witness": []})["witness"]
        wit = [w for w in ws if w["kind"] == "witness"]
        n_checks = sum(r["n_checks"] for r in tal)
        violations = sum(r["violations"] for r in tal)
        # one point per task and group: its largest lhs/rhs, or +inf when a violation was counted
        measured = [np.inf if r["violations"] else r["max_ratio"] for r in tal
                    if r["violations"] or np.isfinite(r["max_ratio"])]
        labels = [f"random {r['group']} task {i}" for i, r in enumerate(tal)
                  if r["violations"] or np.isfinite(r["max_ratio"])]
        quantity = "lhs / rhs"
        if fam == "mle-hellinger":   # the bound is the level; the quantity its exact quantile
            measured, labels = list(mle_q), [f"random class #{i}" for i in range(len(mle_q))]
            quantity = "exact (1-delta)-quantile of E_mu D_H^2(pi_D, MLE) / log(|Pi|/delta)/n"
            extra = (f"{n_checks} exact tail checks P[risk > level] <= delta, {violations} violating "
                     f"(the quantile ratio exceeds 1 exactly when the tail check fails).")
        else:
            extra = f"{n_checks} exact checks on random instances, {violations} violating."
        n_random = len(measured)
        key = "lhs_over_rhs" if fam in _NOT_A_RATIO else "ratio"
        measured += [w[key] for w in wit]
        labels += [f"witness {w['param']:.4g}" for w in wit]
        if not measured:
            continue
        conditions = _conditions(fam, tal, wit)
        if fam in TESTED_ELSEWHERE:
            worst = max(measured)
            out.append(sanity_claim(
                f"{NAME}/{fam}", ref,
                f"{statement}: zero violations on this sweep's instance families (cross-check; the binding "
                f"prediction is {TESTED_ELSEWHERE[fam]})",
                violations + sum(v > 1 + 1e-9 for v in measured[n_random:]), 0, tolerance=0.0,
                conditions=conditions,
                details=(extra + f" Witness ratios above 1: {sum(v > 1 + 1e-9 for v in measured[n_random:])}. "
                         f"Largest lhs/rhs {worst:.6g}. A sanity check here, not a prediction: the statement is "
                         f"tested once, as a binding prediction with power, in {TESTED_ELSEWHERE[fam]} (the "
                         "dedicated experiment); this sweep adds instance families (prompt mixtures, disjoint "
                         "supports, autoregressive models with prefix-dependent features) as a cross-check of "
                         "the same code path, and counting it again would double the headline.")))
        else:
            split = _power_split(fam, measured, labels, n_random)
            p_rand, m_rand = split["random sweep"]
            p_wit, m_wit = split["witnesses"]
            power_txt = (f" Power split against 'bound / 2' (same rule on each part): random sweep "
                         + ("none (no random point)" if p_rand is None else f"{p_rand:.0f} (largest ratio {m_rand:.4g})")
                         + "; witnesses "
                         + ("none" if p_wit is None else f"{p_wit:.0f} (largest ratio {m_wit:.4g})") + ".")
            if p_rand is not None and p_rand < 0.9 and p_wit is not None and p_wit >= 0.9:
                power_txt += (" Only the witness gives power: on the random sweep no instance reaches half the "
                              "bound, so the sweep alone could not reject a bound half as large.")
            elif p_rand is not None and p_rand >= 0.9:
                power_txt += " The random sweep alone can reject a bound half as large."
            finding = ""
            if fam == "prop-F.10" and max(measured) <= 0.5:
                finding = (f" No instance of this run reaches half the bound (largest ratio {max(measured):.4g}): "
                           "for H = 1, Prop. F.1 applied per prompt gives Cov_N <= D_seq,N / (log N - 1 + 1/N), "
                           "i.e. ratio < 1/2 always, so only autoregressive instances (H > 1) can give power, "
                           "and this sweep found none above 1/2.")
            c = bound_claim(
                f"{NAME}/{fam}", ref, statement, bound=1.0,
                constants=f"as stated; the quantity is {quantity} (<= 1 is the inequality)",
                measured=measured, evaluation="exact", power_over="any", labels=labels,
                tolerance=1e-9, tolerance_reason=_ROUNDING, conditions=conditions,
                details=(extra + " Power: a universal inequality is refuted by one point; random "
                         "instances and witnesses with ratio above 1/2 show the check would detect a "
                         "bound half as large." + power_txt + finding))
            if fam in DERIVED and c.verdict in ("PASS", "FAIL"):
                c = as_sanity(c, reason="an inequality derived by the toolkit (marked [derived] in the "
                                        "reference notes), not a statement of the papers")
            elif fam == "prop-F.10" and quick:
                c = not_run_in_quick(c, reason=(
                    "only autoregressive instances (H > 1) can exceed half the bound (for H = 1 the ratio "
                    "is below 1/2 by Prop. F.1), and the quick sweep's few autoregressive instances did not "
                    "in a 12-seed calibration; the full preset's sweep (200 x 10 autoregressive "
                    "instances) did (ratio 0.5575)"))
            out.append(c)
        # the witness attains its a-priori value (derived for the witness parameters); a
        # strengthened statement is violated on its witness
        excess = []
        texts = []
        for w in ws:
            if w["kind"] == "witness":
                excess.append(max(0.0, w["floor"] - w["ratio"], w["ratio"] - w["ceiling"]))
                texts.append(f"{w['param']:.4g}: {w['ratio']:.6g} in [{w['floor']:.6g}, {w['ceiling']:.6g}]")
            else:
                excess.append(max(0.0, 1.0 - w["value"]))
                texts.append(f"{w['param']:.4g}: strengthened form's value {w['value']:.4g} > 1")
        if excess:
            out.append(sanity_claim(
                f"{NAME}/{fam}/witness", ref,
                "on its witness the inequality is attained within the slack derived a priori for "
                "the witness parameters (and strengthened forms are violated)",
                excess, 0.0, tolerance=1e-12,
                details="measured: largest excursion outside the derived window; witnesses: "
                        + "; ".join(texts)))
    ce = [r for r in records if r.get("kind") == "certified-exact"]
    if ce:
        outside = sum(r["outside"] for r in ce)
        out.append(sanity_claim(
            f"{NAME}/certified-vs-exact", "Definition 1.1 (certified bounds)",
            "certified lo <= Cov_N <= hi against exact enumeration (H = 8, V = 3)",
            outside, 0, tolerance=0.0, evaluation="certified",
            details=(f"measured: thresholds outside [lo, hi], of {sum(r['n_thresholds'] for r in ce)} over "
                     f"{len(ce)} instances (lattice DP, FFT and Fourier methods); largest gap "
                     f"{max(r['max_gap'] for r in ce):.3g} (at H = 8 the law is discrete: a threshold "
                     "within the rounding error of an atom leaves that atom's mass undecided)")))
    cm = [r for r in records if r.get("kind") == "certified-mc"]
    if cm:
        r = cm[0]
        lo, hi, mlo, mhi = (np.array(r[k]) for k in ("lo", "hi", "mc_lo", "mc_hi"))
        overlap = (lo <= mhi) & (mlo <= hi)
        out.append(sanity_claim(
            f"{NAME}/certified-vs-monte-carlo", "Definition 1.1 (certified bounds)",
            f"certified [lo, hi] overlaps the Monte Carlo Clopper-Pearson interval (H = {r['H']}, V = 4)",
            int((~overlap).sum()), 0, tolerance=0.0, evaluation="monte_carlo", false_fail_rate=0.001,
            details=(f"measured: thresholds without overlap, of {overlap.size}; Clopper-Pearson level "
                     f"{r['level']:.6g} per threshold (family-wise false-fail rate <= 1e-3, Bonferroni "
                     f"over {overlap.size}); largest certified gap {r['max_gap']:.3g} "
                     f"({r.get('method', 'lattice')} method, resolution {r['n_bins']}); escaped mass "
                     f"{r['escaped']:.2g}")))
        out.append(sanity_claim(
            f"{NAME}/certified-gap", "Definition 1.1 (certified bounds)",
            f"certified hi - lo <= 1e-3 at every threshold of the bulk at H = {r['H']} (V = 4)",
            r["max_gap"], 0.0, tolerance=1e-3, evaluation="certified",
            details=(f"{r.get('method', 'lattice')} method (the default at this H), 200 thresholds between "
                     "the 0.1% and 99.9% Monte Carlo quantiles of log(pi_D/pi). The lattice methods round "
                     "every increment and cannot reach this at 4,096 bins (gap ~0.09 at H = 1000, "
                     "simulations/bench/certified.py).")))
    return out


# ----------------------------------------------------------------------------- plots
def plot(config, records, out_dir):
    from simulations.plots import COV, new_figure, save_figure

    paths = []
    ws = [r for r in records if r.get("kind") == "witness" and r["family"] in ("prop-F.1", "prop-F.4", "prop-3.1",
                                                                              "prop-F.10")]
    if ws:
        Ns = sorted({r["param"] for r in ws if r["family"] == "prop-F.1"})
        series = {}
        for fam in ("prop-F.1", "prop-F.4", "prop-3.1", "prop-F.10"):
            vals = {r["param"]: r["ratio"] for r in ws if r["family"] == fam}
            series[fam] = np.array([vals.get(n, np.nan) for n in Ns])
        fig = line_plot(np.array(Ns), series, xlabel="$N$", ylabel=f"{COV.format(N='N')} / bound on the witness",
                        title=r"Sharpness on $\mathrm{Ber}(p)$ vs $\mathrm{Ber}(p/N)$, $p = 10^{-7}$", logx=True)
        paths.append(save_figure(fig, out_dir / "witness_ratios.png"))
    cm = [r for r in records if r.get("kind") == "certified-mc"]
    if cm:
        r = cm[0]
        x = np.array(r["grid_logN"])
        fig = line_plot(x, {"certified lower end": np.array(r["grid_lo"]),
                            "certified upper end": np.array(r["grid_hi"]),
                            "Monte Carlo": np.array(r["grid_mc"])},
                        xlabel=r"$\log N$", ylabel=COV.format(N="N"), styles={"Monte Carlo": ":"},
                        title=f"Certified bounds vs Monte Carlo ($H = {r['H']}$, {r['n_bins']} bins)")
        paths.append(save_figure(fig, out_dir / "certified_vs_mc.png"))
    tal = {}
    for r in records:
        if r.get("kind") == "tally" and np.isfinite(r["max_ratio"]):
            tal[r["family"]] = max(tal.get(r["family"], -np.inf), r["max_ratio"])
    if tal:
        fams = sorted(tal)
        fig, ax = new_figure(figsize=(6.0, 0.32 * len(fams) + 1.4))
        ax.barh(np.arange(len(fams)), [tal[f] for f in fams], color="C0")
        ax.axvline(1.0, color="k", ls="--", lw=1, label="bound (ratio 1)")
        ax.set_yticks(np.arange(len(fams)), fams, fontsize=8)
        ax.set_xlabel("largest lhs / rhs over random instances (exact)")
        ax.set_title(r"Every inequality holds on random instances (all bars $\leq 1$)", fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
        paths.append(save_figure(fig, out_dir / "max_ratios.png"))
    return paths
