r"""Theorem G.1 / E.1: for a convex class with concave likelihood, coverage decays polynomially in N.

Instance :func:`theory.instances.mixture_convex_class`: :math:`\Pi = \{\sum_j w_j\pi_j\}` over
the simplex, components of ``H`` i.i.d. Bernoulli tokens; well-specified.  MLE of the weights
by EM (:func:`simulations.learners.mle.mixture_mle`, KKT residual reported).  Coverage is
exact over the ``H + 1`` count values.

Prediction (well-specified, :math:`\alpha = c\log N`, :math:`N' = 1`): :math:`\mathrm{Cov}_N(\hat\pi)
\le C\,[\log N_\infty(\Pi, c\log N) + \log(1/\delta)]/n + C N^{-(1-2c)}\inf_\varepsilon\{\log
N_\infty(\Pi,\varepsilon)/n + \varepsilon\}`, valid for :math:`N \ge 2e^{2\alpha}N' = 2N^{2c}`, i.e.
:math:`N \ge 2^{4/3}` at :math:`c = 1/8` (the proof's :math:`c \le 1/8`): the grid starts at
``N = 4``.  For the mixture, :math:`\pi_D/\hat\pi \le \max_j w_{\star,j}/\hat w_j`, so only the
weights the MLE nearly drops can be under-covered.  Claims (exploratory): at fixed ``n``, the
log-log slope of :math:`\mathbb E\,\mathrm{Cov}_N` in ``N`` is at most :math:`-(1 - 2c) = -0.75`.
They are exploratory at every ``n`` because the polynomial decay is the shape of the fine term
only, and on this instance the coarse term (the same unstated ``C``, the same ``1/n``) is the
larger one at every tested ``(n, N)`` under the parametric scaling of the cover numbers
(:func:`_term_ratio`); a slope of an upper bound is a binding prediction only where its tested
term dominates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.claims import condition, exponent_claim, sanity_claim
from simulations.experiments.contract import Task
from simulations.learners.mle import mixture_mle
from simulations.plots import line_plot
from theory import instances
from theory.count_law import count_log_ratio_law

NAME = "convex-class"
PAPER_REF = "Theorem G.1 (ICLR) / Theorem E.1 (arXiv)"
TITLE = "Convex (mixture) class: coverage of the MLE decays polynomially in N"
TOPIC = "generalization of maximum likelihood"
RECORD_AXES = {"cov": "Ns"}  # record["cov"][i] is the coverage at N = config.Ns[i]


@dataclass(frozen=True)
class Config:
    ns: tuple = (4, 8, 16)
    horizon: int = 8
    #: N >= 2 N^(2c) (Theorem G.1's N >= 2 e^(2 alpha) N' at alpha = c log N, c = 1/8, N' = 1) excludes N = 2
    Ns: tuple = (4.0, 8.0, 16.0, 32.0, 64.0)
    #: 4000: the n = 16 fit (coverage positive in few replicates at large N) needs an interval of half-width
    #: below ~0.16 for power against -0.5; 2000 gave 0.18 (power 0.89) in the first full run of this design.
    replicates: int = 4000
    #: EM iteration cap: EM converges sublinearly when a weight goes to 0, and coverage is decided by
    #: exactly those weights; 3000 left 3-5% of replicates above the 1e-6 KKT tolerance, 20000 a few.
    em_iterations: int = 100000

    @classmethod
    def quick(cls):
        return cls(ns=(8,), replicates=1000)

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    return [Task(i, 0, {"n": n}) for i, n in enumerate(config.ns)]


def run_task(config, task, *, rng):
    n, r, h = task.params["n"], config.replicates, config.horizon
    inst = instances.mixture_convex_class(h)
    q, w = np.array(inst.params["q"]), np.array(inst.params["weights"])
    comp = np.array(inst.params["component_log_probs"])                  # (H+1, k)
    lm = np.array(inst.params["log_mult"])
    j = rng.choice(len(q), size=(r, n), p=w)
    c = rng.binomial(h, q[j])                                            # ones per sequence
    mult = np.stack([np.bincount(row, minlength=h + 1) for row in c]).astype(float)   # (R, H+1)
    res = mixture_mle(np.broadcast_to(comp, (r,) + comp.shape), multiplicity=mult, tol=1e-6, max_iter=config.em_iterations, check_every=25)
    from scipy.special import logsumexp
    log_d = logsumexp(comp + np.log(w), axis=-1)[None]                   # (1, H+1)
    with np.errstate(divide="ignore"):
        log_m = logsumexp(comp[None] + np.log(res.weights)[:, None, :], axis=-1)[:, None, :]   # (R, 1, H+1)
    law = count_log_ratio_law(log_d, log_m, lm, [1.0])
    cov = law.coverage(np.array(config.Ns))
    return [{"n": n, "cov": cov[i].tolist(), "kl": float(law.kl()[i]), "residual": float(res.residual[i]),
             "converged": bool(res.converged[i])} for i in range(r)]


#: The proof's c (Theorem G.1 / E.1 with alpha = c log N).
C_PROOF = 0.125
#: Full-preset results (seed 0, N in [2, 64]) of the claims whose class or window changed.
PREVIOUS = {
    4: "class exploratory (made so after the binding rule failed in the first full run, -0.65), verdict "
       "'exploratory: fails', measured -0.673 [-0.705, -0.641]",
    8: "class prediction (binding), verdict PASS, power 1.00, measured -1.048 [-1.109, -0.987]",
    16: "class prediction (binding), verdict PASS, power 0.967, measured -1.604 [-1.757, -1.451] (N in [2, 32])",
}


def _term_ratio(inst, n, N, delta=np.exp(-1)):
    r"""Fine over coarse term of Theorem G.1 at ``alpha = c log N`` under the parametric cover scaling.

    With :math:`\log N_\infty(\Pi, \varepsilon) \approx (k - 1)\log(D/\varepsilon)` (a ``k - 1``
    dimensional class of sup-log-ratio diameter :math:`D`; the constant of the scaling is not
    known), the fine term :math:`N^{-(1-2c)}\inf_\varepsilon\{(k-1)\log(D/\varepsilon)/n + \varepsilon\}`
    (minimised at :math:`\varepsilon = (k-1)/n`) over the coarse term
    :math:`[(k-1)\log(D/(c\log N))_+ + \log(1/\delta)]/n`; both carry the theorem's one ``C``.
    """
    comp = np.array(inst.params["component_log_probs"])
    k = comp.shape[1]
    diam = float((comp.max(1) - comp.min(1)).max())
    eps = (k - 1) / n
    fine = N ** -(1 - 2 * C_PROOF) * ((k - 1) * np.log(diam / eps) / n + eps)
    coarse = ((k - 1) * max(np.log(diam / (C_PROOF * np.log(N))), 0.0) + np.log(1 / delta)) / n
    return fine / coarse


def claims(config, records):
    out = []
    Ns = np.array(config.Ns)
    inst = instances.mixture_convex_class(config.horizon)
    n_min = 2 * Ns ** (2 * C_PROOF)                                      # N >= 2 e^(2 alpha) N', alpha = c log N
    for n in config.ns:
        rs = [r for r in records if r["n"] == n]
        vals = [np.array([r["cov"][j] for r in rs]) for j in range(len(Ns))]
        keep = [j for j in range(len(Ns)) if (vals[j] > 0).sum() >= 30]
        if len(keep) < 2:
            continue
        conv = float(np.mean([r["converged"] for r in rs]))
        res = max(r["residual"] for r in rs)
        ratios = {f"N={Ns[j]:g}": round(float(_term_ratio(inst, n, Ns[j])), 3) for j in keep}
        conds = [condition("Theta convex and compact; theta -> pi_theta(y|x) concave (Assumption G.1)",
                           "simplex weights of a mixture (linear in w)", True),
                 condition("well-specified: pi_D in Pi, so Cov_N'(pi_theta*) = 0 at N' = 1", "w* uniform", True),
                 condition("N >= 2 e^(2 alpha) N' with alpha = c log N (c = 1/8, the decay N^-(1-2c)), N' = 1, "
                           "i.e. N >= 2 N^(1/4), N >= 2^(4/3)",
                           f"N in {Ns[keep].tolist()}", bool((Ns[keep] >= n_min[keep]).all())),
                 condition("pi_hat is the MLE", f"EM, KKT residual <= 1e-6 in {conv:.1%} of replicates (max {res:.2g})",
                           conv == 1.0, note="" if conv == 1.0 else
                           "EM stops at its iteration cap in a few replicates; their KKT residual is reported")]
        out.append(exponent_claim(
            f"{NAME}/poly-decay-in-N/n={n}", PAPER_REF,
            f"n = {n}: E Cov_N(π̂) decays at least like N^(-(1-2c)), c = 1/8, for N in {Ns[keep].tolist()}",
            Ns[keep], [vals[j] for j in keep], predicted=-0.75, mode="at_most", evaluation="exact",
            exploratory=True, conditions=conds,
            few_points_reason=None if len(keep) >= 4 and Ns[keep].max() / Ns[keep].min() >= 8 else
            "N with fewer than 30 non-zero replicates are dropped (rule fixed before the run)",
            revised_from=("reclassified, not after a failure of this claim: " + PREVIOUS[n] + ", rule 'exponent at most -0.75 (tolerance 0)' on N in [2, 64] with the "
                          "condition recorded as alpha = 0; now exploratory at every n by one rule (a slope of an "
                          "upper bound is binding only where a derivation shows its tested term dominates and is "
                          "tracked; the earlier reason for n = 4 alone, the N-free terms, applies at every n, see "
                          "the details), and N = 2 is dropped (it violates N >= 2 N^(1/4))"
                          if n in PREVIOUS else None),
            details="Exploratory at every n (decided by the rule, not by the verdict): the polynomial decay is the "
                    "shape of Theorem G.1's fine term C N^-(1-2c) inf_eps{log N_inf/n + eps}; its coarse term "
                    "C[log N_inf(Π, c log N) + log(1/δ)]/n has the same unstated C and the same 1/n, so no n makes "
                    "the fine term dominate. With the parametric cover scaling log N_inf(Π, eps) ~ (k-1) log(D/eps) "
                    "(k = 5 components, D the class's sup-log-ratio diameter, δ = 1/e) the fine/coarse ratio per "
                    f"N is {ratios}: the coarse term is the larger everywhere, so the bound is nearly flat in N "
                    "and its slope predicts nothing about E Cov_N's. The measured slopes describe the instance. "
                    "Pre-registered rule: N enters the fit iff >= 30 replicates have positive coverage. "
                    f"{len(rs)} replicates (the full preset's 4000 were raised from 2000 after the first full run "
                    "of this design was underpowered at n = 16, power 0.89; rule, thresholds and seeds unchanged)."))
    conv = [r["converged"] for r in records]
    out.append(sanity_claim(
        f"{NAME}/mle-kkt", PAPER_REF, "EM reaches the MLE's first-order (KKT) tolerance 1e-6 in every replicate",
        float(len(conv) - sum(conv)), 0.0, tolerance=0.0,
        details=f"Replicates not converged within {config.em_iterations} EM iterations, out of {len(conv)}; "
                f"max KKT residual {max(r['residual'] for r in records):.3g}."))
    return out


def plot(config, records, out_dir):
    from simulations.plots import COV, save_figure

    Ns = np.array(config.Ns)
    series = {}
    for n in config.ns:
        rs = [r for r in records if r["n"] == n]
        series[f"$E\\,${COV.format(N='N')}$(\\hat\\pi)$, $n = {n}$"] = np.array(
            [np.mean([r["cov"][j] for r in rs]) for j in range(len(Ns))])
    series["$1/N$ (shape)"] = 1.0 / Ns
    series[r"$\log 2/\log N$ (shape)"] = np.log(2) / np.log(Ns)
    fig = line_plot(Ns, series, xlabel="$N$", ylabel=r"exact coverage of the MLE $\hat\pi$", logx=True, logy=True,
                    title="Theorem G.1: convex class, polynomial decay in $N$",
                    styles={"$1/N$ (shape)": "k--", r"$\log 2/\log N$ (shape)": "k:"})
    return [save_figure(fig, out_dir / "convex_class.png")]
