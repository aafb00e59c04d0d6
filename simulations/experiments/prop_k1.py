r"""Prop. K.1 / I.1: in high dimension, E Cov_N(π̂) >= c·min{1, H/(n log N)} for proper learners.

Instance :func:`theory.instances.prop_k1_high_dim` (``d = H``, Θ = B_2(1), :math:`B^2 = 4\log N`,
:math:`\mu(+) = \min\{1/2, H/(8n\log N)\}`), MLE by
:func:`simulations.learners.mle.convex_mle` (ball).  The learned model has one parameter
per position, so the law of the log-ratio is not count-sufficient: coverage is **Monte
Carlo** (``n_mc`` sequences of the hard prompt per replicate), KL exact.

Claims: the shape of the lower bound in the regime :math:`H/(n\log N) < 1`: coverage decays no
faster than ``1/n`` at fixed ``H`` and grows at least linearly in ``H`` at fixed ``n`` (the
paper gives no value of ``c``; the measured ratios are reported).  Neither is a binding test of
the proposition: the ``n``-dependence is fixed by the construction (:math:`\mu(+)\propto 1/n`
with :math:`n\mu(+) = H/(8\log N)` free of ``n``, so the hard prompt's data, hence its
coverage, does not depend on ``n`` up to the binomial-to-Poisson correction: a sanity check),
and "at least linear in ``H``" is a slope of a lower bound whose constant is not given (the
proposition allows the construction's constant to move with ``H``; it does, upwards):
exploratory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.claims import as_sanity, condition, exponent_claim, not_run_in_quick, sanity_claim
from simulations.experiments.contract import Task
from simulations.learners.mle import convex_mle, replicate_token_counts, sample_replicates
from simulations.plots import line_plot
from theory import instances
from theory.instances.mle import prop_k1_monte_carlo_coverage
from theory.rates import high_dim_coverage_lower_bound

NAME = "prop-k1"
PAPER_REF = "Prop. K.1 (ICLR) / Prop. I.1 (arXiv)"
TITLE = "High-dimensional lower bound: E Cov_N >= c·min{1, H/(n log N)} (σ²⋆ ≍ H needs n ≳ H)"
TOPIC = "generalization of maximum likelihood"


@dataclass(frozen=True)
class Config:
    ns: tuple = (64, 128, 256, 512, 1024, 2048)
    horizons: tuple = (16, 32, 64, 128)
    N: float = 64.0
    replicates: int = 200
    n_mc: int = 1000
    #: Blocks of ``replicates`` at the smallest n (the slope-in-H fit): 3 (600 replicates) since the first
    #: full run of this design (200) left that claim underpowered (power 0.70, interval half-width 0.13);
    #: block 0 keeps the original seeds.
    small_n_blocks: int = 3
    preset: str = "full"

    @classmethod
    def quick(cls):
        return cls(ns=(64, 128, 256, 1024), horizons=(16, 64), replicates=100, n_mc=400, small_n_blocks=1,
                   preset="quick")

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    cells = [(n, h) for n in config.ns for h in config.horizons]
    return [Task(i, b, {"n": n, "H": h}) for i, (n, h) in enumerate(cells)
            for b in range(config.small_n_blocks if n == min(config.ns) else 1)]


def run_task(config, task, *, rng):
    p = task.params
    inst = instances.prop_k1_high_dim(p["n"], p["H"], config.N)
    x, y = sample_replicates(inst.data, p["n"], config.replicates, rng=rng)
    res = convex_mle(inst.data.features, replicate_token_counts(inst.data, x, y), constraint="ball", radius=1.0,
                     tol=1e-8, max_iter=100, inner=100)
    hits, kl = prop_k1_monte_carlo_coverage(inst, res.theta, [config.N], config.n_mc, rng=rng)
    pm = inst.params["p"]
    return [{"n": p["n"], "H": p["H"], "cov": float(pm * hits[i, 0] / config.n_mc), "hits": int(hits[i, 0]),
             "kl": float(kl[i]), "p": pm, "residual": float(res.residual[i])} for i in range(config.replicates)]


def _get(records, n, h, key):
    return np.array([r[key] for r in records if r["n"] == n and r["H"] == h])


def _conditions(config, ns, hs):
    logn = np.log(config.N)
    return [
        condition("log N <= c min{H, B^2} (B^2 = 4 log N here)", f"log N = {logn:.3g}, min H = {min(hs):g}, "
                  f"B^2 = {4 * logn:.3g}", None,
                  note=(f"the proposition's constant c is not given in our sources; the condition holds iff "
                        f"c >= {logn / min(min(hs), 4 * logn):.2g}")),
        condition("d = H, ||phi|| <= B, Theta = B_2(1)", "construction of the notes", True),
        condition("pi_hat proper", "ball-constrained MLE", True),
        condition("H/(n log N) < 1 (the min{1, .} is not saturated)",
                  f"max H/(n log N) = {max(hs) / (min(ns) * logn):.3g}", max(hs) / (min(ns) * logn) < 1),
    ]


def claims(config, records):
    out = []
    ref = PAPER_REF
    quick = config.preset == "quick"
    logn = np.log(config.N)
    h0 = max(config.horizons)
    ns = np.array([n for n in config.ns if h0 / (n * logn) < 0.5], float)      # regime H/(n log N) < 1
    ratios = {f"n={n},H={h}": round(float(_get(records, n, h, "cov").mean()
                                          / float(high_dim_coverage_lower_bound(n, N=config.N, H=h))), 4)
              for n in config.ns for h in config.horizons}
    why_n = ("the instance fixes it: µ(+) = H/(8 n log N) is proportional to 1/n and n µ(+) = H/(8 log N) does not "
             "depend on n, so the hard prompt's sample count, hence its coverage, has an n-free law up to the "
             "binomial-to-Poisson correction O(H/(n log N)), and E Cov_N = µ(+) x (an n-free number)")
    c = exponent_claim(
        f"{NAME}/slope-n", ref,
        f"H = {h0}, N = {config.N:g}: E Cov_N(π̂) decays no faster than H/(n log N) (slope >= -1 in n)", ns,
        [_get(records, int(n), h0, "cov") for n in ns], predicted=-1.0, tolerance=0.1, mode="at_least",
        evaluation="monte_carlo", conditions=_conditions(config, ns, [h0]),
        few_points_reason=None if len(ns) >= 4 and ns[-1] / ns[0] >= 8 else "evaluated in the full preset only",
        revised_from=("reclassified, not after a failure of this claim: class prediction (binding), rule 'exponent at "
                      "least -1 (tolerance 0.1)' against -1.25, verdict PASS, power 1.00, measured -0.9993 "
                      "[-1.019, -0.980] in the full preset; now a sanity check because " + why_n + " (an outcome fixed "
                      "by the construction cannot fail except through a bug)"),
        details="Window: H/(n log N) < 1/2 (where min{1, .} is not saturated). Monte Carlo coverage (sequences from "
                "π_D) enters the bootstrap through the replicates. The paper gives no value of c; the ratios "
                f"E Cov_N / min{{1, H/(n log N)}} per cell are {ratios} (an earlier '> 0' claim on them could not "
                "fail and was removed).")
    if quick and (len(ns) < 4 or ns[-1] / ns[0] < 8):
        c = not_run_in_quick(c, reason="the quick grid has fewer than 4 sizes in the window")
    elif c.verdict in ("PASS", "FAIL"):
        c = as_sanity(c, reason=why_n[0].upper() + why_n[1:] + ".")
    out.append(c)
    n0 = min(config.ns)
    hs = np.array([h for h in config.horizons if h / (n0 * logn) < 0.5 and h >= logn], float)
    if len(hs) >= 2:
        c = exponent_claim(
            f"{NAME}/slope-H", ref,
            f"n = {n0}, N = {config.N:g}: E Cov_N(π̂) grows at least like H (slope >= 1 in H)", hs,
            [_get(records, n0, int(h), "cov") for h in hs], predicted=1.0, tolerance=0.1, mode="at_least",
            evaluation="monte_carlo", conditions=_conditions(config, [n0], hs), exploratory=True,
            revised_from=("reclassified, not after a failure of this claim: class prediction (binding), rule "
                          "'exponent at least 1 (tolerance 0.1)' against +0.75, verdict PASS, power 0.999, measured "
                          "1.655 [1.581, 1.728] in the full preset; now exploratory: a slope of a lower bound with an "
                          "unstated constant is a prediction only where a derivation shows the quantity tracks the "
                          "bound's order, and here µ(+) is proportional to H by construction while the proposition "
                          "lets the per-prompt factor move with H"),
            few_points_reason=None if len(hs) >= 4 and hs[-1] / hs[0] >= 8 else "evaluated in the full preset only",
            details=f"{config.replicates * config.small_n_blocks} replicates per H at n = {n0}"
                    + (" (the full preset's 600 were raised from 200 after the first full run of this design was "
                       "underpowered, power 0.70; rule and seeds unchanged). " if config.small_n_blocks > 1 else ". ")
                    + "Window: log N <= H and H/(n log N) < 1/2 (the proposition's conditions). Finding: the "
                    "construction's constant itself grows with H/log N (measured slope > 1), so only 'at least "
                    "linear' is a prediction of the lower bound.")
        if quick and (len(hs) < 4 or hs[-1] / hs[0] < 8):
            c = not_run_in_quick(c, reason="the quick grid has fewer than 4 horizons in the window")
        out.append(c)
    res = [r["residual"] for r in records]
    out.append(sanity_claim(f"{NAME}/mle-optimality", ref,
                            "the projected-Newton ball MLE is a maximiser: first-order residual <= 1e-8 on every replicate",
                            max(res), 0.0, tolerance=1e-8, details=f"{len(res)} replicates."))
    return out


def plot(config, records, out_dir):
    from simulations.plots import COV, save_figure

    ns = np.array(config.ns, float)
    series, styles = {}, {}
    for j, h in enumerate(config.horizons):  # each horizon's data and shape share a colour
        key = f"$E\\,${COV.format(N=f'{config.N:g}')}, $H = {h}$"
        series[key] = np.array([_get(records, n, h, "cov").mean() for n in config.ns])
        styles[key] = f"C{j}-o"
        key = f"$\\min(1, H/(n\\log N))$ (shape, $c = 1$), $H = {h}$"
        series[key] = high_dim_coverage_lower_bound(ns, N=config.N, H=h)
        styles[key] = f"C{j}--"
    fig = line_plot(ns, series, xlabel="$n$", ylabel="exact coverage", logx=True, logy=True, styles=styles,
                    title=f"Prop. K.1: high-dimensional lower bound ($N = {config.N:g}$)")
    return [save_figure(fig, out_dir / "prop_k1.png")]
