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

Three more claims check the certified bounds of :mod:`theory.certified` (lattice, FFT and
Fourier methods): against exact enumeration (``H = 8``), against Monte Carlo with
Clopper–Pearson intervals at long ``H``, and their gap there (``<= 1e-3``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import log_softmax

from simulations.claims import bound_claim, sanity_claim
from simulations.experiment import Task
from simulations.plots import line_plot
from theory import bounds as B
from theory.instances import witnesses as W
from theory.best_of_n import (best_of_n_expected_reward, best_of_n_success, bon_necessity_bound,
                              bon_necessity_reward, bon_sufficiency_bound, bon_sufficient_n,
                              deterministic_target_sandwich, pass_at_n, pass_at_n_coverage_bound)
from theory.coverage import TIE_ATOL, coverage_profile
from theory.divergences import kl_divergence, squared_hellinger
from theory.log_ratio import (certified_log_ratio, exact_log_ratio, exact_stopped_kl, path_token_hellinger,
                              sampled_log_ratio)
from theory.models import (AutoregressiveLinearModel, CallableFeatures, MarkovModel, TabularFeatures,
                           categorical_model)

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
    """

    n_discrete: int = 60
    n_autoregressive: int = 12
    n_mle: int = 12
    reps: int = 2
    n_thresholds: int = 40
    N_max: float = 1e6
    certified_exact_instances: int = 3
    certified_horizon: int = 200
    certified_bins: int = 4096
    mc_samples: int = 20000
    mc_thresholds: int = 8

    @classmethod
    def quick(cls):
        return cls(n_discrete=30, n_autoregressive=10, n_mle=10, mc_samples=10000)

    @classmethod
    def full(cls):
        return cls(n_discrete=1000, n_autoregressive=200, n_mle=200, reps=10, n_thresholds=200,
                   N_max=1e12, certified_exact_instances=20, certified_horizon=1000,
                   certified_bins=16384, mc_samples=200000, mc_thresholds=16)

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

    def add(self, family, lhs, rhs):
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
        d = self.data.setdefault(family, {"n_checks": 0, "violations": 0, "max_ratio": -np.inf})
        d["n_checks"] += int(lhs.size)
        d["violations"] += int((~ok).sum())
        if np.isfinite(ratio).any():
            d["max_ratio"] = float(max(d["max_ratio"], np.nanmax(ratio)))

    def records(self, group):
        return [{"kind": "tally", "group": group, "family": f, **v} for f, v in self.data.items()]


def _cov(lr, w, N):
    return coverage_profile(np.ravel(lr), N, weights=np.ravel(w))


def _lr(lp, lq):
    with np.errstate(invalid="ignore"):
        lr = lp - lq
    return np.where(np.isneginf(lp), -np.inf, lr)


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
        t.add("prop-3.1", cov, B.kl_to_coverage(kl, N))
        t.add("prop-F.1", cov, B.kl_to_coverage_sharp(kl, N))
        C, logw = B.uniform_coverage_decay(lr.ravel(), weights=wd)
        t.add("prop-F.3", kl, B.coverage_decay_to_kl(C, logw))
        t.add("prop-F.4", cov, B.hellinger_to_coverage(h2, N))
        for p in (0.5, 1.0, 2.0):
            t.add("markov-lp", cov, B.markov_lp_coverage_bound(B.log_density_ratio_moment(lr.ravel(), p, weights=wd),
                                                               N, p))
        for C_clip in (np.log(4.0), 2.0, 5.0):
            t.add("lemma-J.1", B.lemma_j1_clipped_exponential(lp_d, lp_m, C_clip, prompt_weights=mu), 1.0)
        # chain rule with a target: M1, M2 >= 2 (M1/M2 may be below one: direct tail)
        lr_td, lr_tm = _lr(lp_t, lp_d), _lr(lp_t, lp_m)
        for M1, M2 in ((2.0, 2.0), (10.0, 3.0), (4.0, 16.0), (1e3, 30.0)):
            lhs = _cov(lr_tm, wt, M1)
            cov_dm = float(wd[lr.ravel() >= np.log(M1 / M2) - TIE_ATOL].sum())   # M1/M2 may be < 1
            t.add("prop-F.5", lhs, B.coverage_chain_rule(min(cov_dm, 1.0), _cov(lr_td, wt, M2), M2))
        # Best-of-N: reward 1 on the target's support plus random extra responses
        reward = ((np.exp(lp_t) > 0) | (rng.random((X, m)) < 0.3)).astype(float)
        q = (np.exp(lp_m) * reward).sum(-1).clip(0, 1)
        budgets = np.array([1.0, 4.0, 32.0, 256.0])
        fail = 1.0 - pass_at_n(q, budgets, prompt_weights=mu)
        for M in (2.0, 8.0, 64.0):
            t.add("pass-at-n", fail, pass_at_n_coverage_bound(_cov(lr_tm, wt, M), budgets, M))
        for Nb in (1.0, 3.0, 20.0):
            r7 = bon_necessity_reward(lp_t, lp_m, Nb)
            bon = best_of_n_success(lp_m, r7, Nb, prompt_weights=mu)
            subopt = float((mu[:, None] * np.exp(lp_t) * r7).sum()) - bon
            t.add("prop-F.7", bon_necessity_bound(_cov(lr_tm, wt, 2 * Nb)), subopt)
        r6 = rng.random((X, m))
        t6 = float((mu[:, None] * np.exp(lp_t) * r6).sum())
        for M in (2.0, 8.0):
            cm = float(_cov(lr_tm, wt, M))
            for eps in (0.3, 0.05):
                if cm <= 0.5:
                    Nb = bon_sufficient_n(M, eps)
                    subopt = t6 - best_of_n_expected_reward(lp_m, r6, Nb, prompt_weights=mu)
                    t.add("prop-F.6", subopt, bon_sufficiency_bound(cm, eps))
        # deterministic target y*(x)
        ystar = rng.integers(m, size=X)
        qs = np.exp(lp_m[np.arange(X), ystar])
        with np.errstate(divide="ignore"):
            lr_star = -np.log(qs)
        for M in (2.0, 8.0, 64.0):
            cm = _cov(lr_star, mu, M)
            lo, hi = deterministic_target_sandwich(cm, budgets, M)
            f = 1.0 - pass_at_n(qs, budgets, prompt_weights=mu)
            t.add("sandwich", lo, f)
            t.add("sandwich", f, hi)
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
        t.add("prop-F.1", cov, B.kl_to_coverage_sharp(kl, N))
        with np.errstate(invalid="ignore"):
            dseq = exact_stopped_kl(data, model, Ne)
        t.add("prop-F.10", cov[N > np.e], B.stopped_kl_to_coverage(dseq, Ne))
        x, y, log_w = data.enumerate_support()
        w = np.exp(log_w)
        keep = w > 0
        sums = path_token_hellinger(data, model, x[keep], y[keep]).sum(-1)
        for delta in (0.01, 0.1, 0.5):
            bound = B.hellinger_partial_converse(sums, N, delta, weights=w[keep] / w[keep].sum())
            t.add("prop-F.11", bound, cov)
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
        risks = np.unique([0.0] + [float(squared_hellinger(members[0], members[k], prompt_weights=mu))
                                   for k in range(1, K)])
        for delta in (0.05, 0.2, 0.5):
            level = B.finite_class_mle_hellinger_bound(n, K, delta)
            t.add("mle-hellinger", B.finite_class_mle_failure_probability(members, n, level, prompt_weights=mu), delta)
            # exact (1-delta)-quantile of the risk: the smallest risk value r with P[risk > r] <= delta
            tail = [B.finite_class_mle_failure_probability(members, n, r, prompt_weights=mu) for r in risks]
            quantile = next(r for r, pr in zip(risks, tail) if pr <= delta)
            quantiles.append(float(quantile / level))
    return t.records("mle") + [{"kind": "mle-quantile", "ratios": quantiles}]


# ------------------------------------------------------------------------- witnesses
def _witness(family, param, ratio, floor, ceiling=1.0):
    return {"kind": "witness", "family": family, "param": float(param), "ratio": float(ratio),
            "floor": float(floor), "ceiling": float(ceiling)}


def _run_witness(config):
    out = []
    Ns = np.geomspace(1.5, 1e6, 12)
    p = 1e-7
    for N in Ns:
        w = W.bernoulli_witness(p, N)
        cov = coverage_profile(w.log_ratio, N, weights=[p, 1 - p])
        a, fn = 1 - 1 / N, np.log(N) - 1 + 1 / N
        out.append(_witness("prop-F.1", N, cov / B.kl_to_coverage_sharp(w.kl, N),
                            1 - p * a ** 2 / ((1 - p / N) * fn)))
        out.append(_witness("prop-F.4", N, cov / B.hellinger_to_coverage(w.hellinger_sq, N),
                            1 - p / (4 * (1 - p) * (1 - N ** -0.5) ** 2)))
        if N > 20:
            out.append(_witness("prop-3.1", N, cov / B.kl_to_coverage(w.kl, N),
                                (np.log(N) - 1) / (fn + p * a ** 2 / (1 - p / N))))
            d_m = categorical_model(np.exp(w.log_p_data))
            m_m = categorical_model(np.exp(w.log_p_model))
            Nq = N * (1 - 1e-9)
            cov_q = exact_log_ratio(d_m, m_m).coverage(Nq)
            r10 = cov_q / B.stopped_kl_to_coverage(exact_stopped_kl(d_m, m_m, Nq), Nq)
            out.append(_witness("prop-F.10", N, r10,
                                (1 - 1e-6) * (np.log(Nq) - 1) / (2 * (fn + p * a ** 2 / (1 - p / N))), 0.5))
    for N in (2.0, 16.0, 1e3, 1e6):
        for pp in (0.5, 0.1, 1e-4):
            w = W.kl_tightness_instance(pp, N)
            cov = coverage_profile(w.log_ratio, N, weights=[pp, 1 - pp])
            # Cov / F.2-value >= 1 is the claim (ratio reported as value / Cov <= 1)
            out.append(_witness("prop-F.2", N, B.kl_tightness_witness(w.kl, N) / cov, 0.0, 1.0))
    for N in (1e3, 1e6, 1e9):
        # the constant 1/2 is not improvable to 3/4 on the same witness (p = 1/2): the strengthened
        # value KL/(log N - 3/4 + 1/(2N)) exceeds Cov_N
        w = W.kl_tightness_instance(0.5, N)
        out.append({"kind": "witness-violation", "family": "prop-F.2", "param": float(N),
                    "value": float(w.kl / (np.log(N) - 0.75 + 0.5 / N) / 0.5)})
    for K in (100, 1000, 10000):
        C, L = 0.3, 12.0
        w = W.coverage_decay_witness(C, L, K)
        wd = np.exp(w.log_p_data)
        Ch, Lh = B.uniform_coverage_decay(_lr(w.log_p_data, w.log_p_model), weights=wd)
        u = np.log(L / C)
        out.append(_witness("prop-F.3", K, kl_divergence(w.log_p_data, w.log_p_model) / B.coverage_decay_to_kl(Ch, Lh),
                            1 - u ** 2 / (2 * K * (1 + u)) - 1e-9))
    for s in (1e-2, 1e-4, 1e-6):
        w = W.chain_rule_witness(50.0, 5.0, 0.3, s)
        wt = np.exp(w.log_p_target)
        lhs = _cov(_lr(w.log_p_target, w.log_p_model), wt, 50.0)
        rhs = B.coverage_chain_rule(_cov(_lr(w.log_p_data, w.log_p_model), np.exp(w.log_p_data), 10.0),
                                    _cov(_lr(w.log_p_target, w.log_p_data), wt, 5.0), 5.0)
        out.append(_witness("prop-F.5", s, lhs / rhs, 1 / (1 + s) - 1e-12))
    for pexp in (0.5, 1.0, 2.0):
        q = 1e-3
        N = (1e8 / q) ** (1 / pexp)
        w = W.bernoulli_witness(q, N)
        lm = B.log_density_ratio_moment(w.log_ratio, pexp, weights=[q, 1 - q])
        cov = coverage_profile(w.log_ratio, N, weights=[q, 1 - q])
        out.append(_witness("markov-lp", pexp, cov / B.markov_lp_coverage_bound(lm, N, pexp),
                            1 - N ** -pexp / q - 1e-9))
    # Lemma J.1: equality at log 4 (ratio = value), value > 1 below (reported as the excess)
    w = W.lemma_j1_witness(np.log(4.0))
    out.append(_witness("lemma-J.1", np.log(4.0), B.lemma_j1_clipped_exponential(w.log_p_data, w.log_p_model,
                                                                                np.log(4.0)), 1 - 1e-12))
    for C in (np.log(4.0) - 0.5, 0.0):
        w = W.lemma_j1_witness(C)
        val = B.lemma_j1_clipped_exponential(w.log_p_data, w.log_p_model, C)
        out.append({"kind": "witness-violation", "family": "lemma-J.1", "param": float(C), "value": float(val)})
    # F.11: gap exactly delta on the disjoint-support witness
    for H in (3, 6):
        for delta in (0.05, 0.3):
            data, model = W.hellinger_converse_witness(H, 0.4)
            N = np.exp(0.5 * (H + np.log(delta)))
            cov = exact_log_ratio(data, model).coverage(N)
            x, y, lw = data.enumerate_support()
            wts = np.exp(lw)
            keep = wts > 0
            sums = path_token_hellinger(data, model, x[keep], y[keep]).sum(-1)
            bound = B.hellinger_partial_converse(sums, N, delta, weights=wts[keep] / wts[keep].sum())
            # gap over delta (the sharpness), and lhs / rhs of the inequality itself (the power)
            out.append({**_witness("prop-F.11", delta, (cov - bound) / delta, 1 - 1e-9, 1 + 1e-9),
                        "lhs_over_rhs": float(bound / cov)})
    # MLE: a wrong member at risk 3/4 of the level is chosen with probability > delta, so the
    # exact (1-delta)-quantile of the risk is 3/4 of the bound (ratio exactly 0.75 if the tail
    # exceeds delta, else 0)
    for n, delta in ((400, 1e-6), (2000, 1e-8)):
        level = float(B.finite_class_mle_hellinger_bound(n, 2, delta))
        eps = 0.5 * np.sqrt(1 - (1 - 0.75 * level) ** 2)
        tail = float(stats.binom.cdf(n // 2, n, 0.5 + eps))
        out.append(_witness("mle-hellinger", n, 0.75 if tail > delta else 0.0, 0.75 - 1e-12))
    # MLE: halving the constant is violated (exact binomial tail > delta)
    for n, delta in ((400, 1e-6), (2000, 1e-8)):
        half = 0.5 * float(B.finite_class_mle_hellinger_bound(n, 2, delta))
        eps = 0.5 * np.sqrt(1 - (1 - half) ** 2)
        out.append({"kind": "witness-violation", "family": "mle-hellinger", "param": float(n),
                    "value": float(stats.binom.cdf(n // 2, n, 0.5 + eps) / delta)})
    # Best-of-N witnesses
    for Nb in (1, 8, 64):
        s = 1e-4
        lt = np.log([s, 1 - s])
        lm = np.array([np.log(s) - np.log(2 * Nb), np.log1p(-s / (2 * Nb))])
        r = bon_necessity_reward(lt, lm, Nb)
        subopt = float(np.exp(lt) @ r) - best_of_n_success(lm[None], r[None], Nb)
        bound = bon_necessity_bound(_cov(_lr(lt, lm), np.exp(lt), 2 * Nb))
        out.append(_witness("prop-F.7", Nb, bound / subopt, 1 / (1 + s / 4) - 1e-12))
    for M in (1e3, 1e4, 1e5):
        Nb = 2.0 * M
        qv = 1 / M + 1e-7 / M
        fail = 1.0 - pass_at_n([qv], Nb)
        bound = pass_at_n_coverage_bound(0.0, Nb, M)
        out.append(_witness("pass-at-n", M, fail / bound,
                            1 - (np.exp(-Nb / M) * Nb / (M * (M - 1)) + Nb * 1e-7 / M) / bound - 1e-12))
        c = 0.25
        qs = np.array([1 / M, 1.0])
        cm = _cov(-np.log(qs), [c, 1 - c], M)
        lo, _ = deterministic_target_sandwich(cm, Nb / 1e3, M)
        f = 1.0 - pass_at_n(qs, Nb / 1e3, prompt_weights=[c, 1 - c])
        out.append(_witness("sandwich", M, lo / f, 1 - 1e-9))
    for c in (0.05, 0.3):
        with np.errstate(divide="ignore"):
            lt = np.log([[1.0, 0.0], [1.0, 0.0]])
            lmm = np.log([[0.0, 1.0], [1.0, 0.0]])
        mu = np.array([c, 1 - c])
        eps = 1e-3
        cm = _cov(_lr(lt, lmm), mu[:, None] * np.exp(lt), 4.0)
        subopt = 1.0 - best_of_n_success(lmm, np.array([[1, 0], [1, 0]]), bon_sufficient_n(4.0, eps), prompt_weights=mu)
        out.append(_witness("prop-F.6", c, subopt / bon_sufficiency_bound(cm, eps), c / (c + eps) - 1e-12))
    return out


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


def claims(config, records):
    """One bound claim per family (random instances and witnesses), one witness sanity check
    per family, and three sanity checks of the certified bounds."""
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
        if fam not in _NOT_A_RATIO:
            measured += [w["ratio"] for w in wit]
            labels += [f"witness {w['param']:.4g}" for w in wit]
        else:
            measured += [w["lhs_over_rhs"] for w in wit]
            labels += [f"witness {w['param']:.4g}" for w in wit]
        if not measured:
            continue
        finding = ""
        if fam == "prop-F.10":
            finding = (" Finding: no instance reaches half the bound (largest ratio 1/2, attained by the "
                       "Bernoulli witness as N grows; for H = 1, Prop. F.1 applied per prompt gives "
                       "Cov_N <= D_seq,N / (log N - 1 + 1/N), i.e. ratio < 1/2 always), so this check "
                       "cannot tell the stated constant 2 from 1: it is underpowered against the "
                       "factor-2 alternative by construction, not for lack of samples.")
        out.append(bound_claim(
            f"{NAME}/{fam}", ref, statement, bound=1.0,
            constants=f"as stated; the quantity is {quantity} (<= 1 is the inequality)",
            measured=measured, evaluation="exact", power_over="any", labels=labels,
            tolerance=1e-9, tolerance_reason=_ROUNDING,
            details=(extra + " Power: a universal inequality is refuted by one point; random "
                     "instances and witnesses with ratio above 1/2 show the check would detect a "
                     "bound half as large." + finding)))
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
    paths = []
    ws = [r for r in records if r.get("kind") == "witness" and r["family"] in ("prop-F.1", "prop-F.4", "prop-3.1",
                                                                              "prop-F.10")]
    if ws:
        Ns = sorted({r["param"] for r in ws if r["family"] == "prop-F.1"})
        series = {}
        for fam in ("prop-F.1", "prop-F.4", "prop-3.1", "prop-F.10"):
            vals = {r["param"]: r["ratio"] for r in ws if r["family"] == fam}
            series[fam] = np.array([vals.get(n, np.nan) for n in Ns])
        paths.append(line_plot(np.array(Ns), series, xlabel="N", ylabel="Cov_N / bound on the witness",
                               title="Sharpness on Ber(p) vs Ber(p/N), p = 1e-7", path=out_dir / "witness_ratios.png",
                               logx=True))
    cm = [r for r in records if r.get("kind") == "certified-mc"]
    if cm:
        r = cm[0]
        x = np.array(r["grid_logN"])
        paths.append(line_plot(x, {"certified lo": np.array(r["grid_lo"]), "certified hi": np.array(r["grid_hi"]),
                                   "Monte Carlo": np.array(r["grid_mc"])},
                               xlabel="log N", ylabel="Cov_N", styles={"Monte Carlo": ":"},
                               title=f"Certified bounds vs Monte Carlo (H = {r['H']}, {r['n_bins']} bins)",
                               path=out_dir / "certified_vs_mc.png"))
    tal = {}
    for r in records:
        if r.get("kind") == "tally" and np.isfinite(r["max_ratio"]):
            tal[r["family"]] = max(tal.get(r["family"], -np.inf), r["max_ratio"])
    if tal:
        import matplotlib.pyplot as plt

        from simulations.plots import DPI

        fams = sorted(tal)
        fig, ax = plt.subplots(figsize=(6.0, 0.32 * len(fams) + 1.2))
        ax.barh(np.arange(len(fams)), [tal[f] for f in fams], color="C0")
        ax.axvline(1.0, color="k", ls="--", lw=1, label="bound (ratio 1)")
        ax.set_yticks(np.arange(len(fams)), fams, fontsize=8)
        ax.set_xlabel("largest lhs / rhs over random instances (exact)")
        ax.set_title("Every inequality holds on random instances (all bars <= 1)")
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        path = out_dir / "max_ratios.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        paths.append(path)
    return paths
