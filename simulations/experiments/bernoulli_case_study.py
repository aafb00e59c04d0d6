r"""The Bernoulli case study (Section 3): infinite KL, yet coverage at rate 1/n.

:math:`\pi_D = \mathrm{Ber}(p_\star)`, :math:`\Pi = \{\mathrm{Ber}(p)\}_{p\le 1/2}`, MLE
:math:`\hat p = \min\{k/n, 1/2\}` with :math:`k\sim\mathrm{Bin}(n, p_\star)` (the number of
ones among ``n`` samples, the MLE's sufficient statistic, is drawn directly).

Two evaluations:

* **Monte Carlo** over replicates at a fixed :math:`p_\star`: the fraction of runs with
  :math:`\hat p = 0`, i.e. :math:`D_{KL}(\pi_D\|\hat\pi) = +\infty`, against its exact
  probability :math:`(1-p_\star)^n` (Clopper–Pearson intervals, Bonferroni over ``n``).
* **Exact** law of :math:`\mathrm{Cov}_N(\hat\pi)` (enumerating ``k = 0..n`` with binomial
  weights): its :math:`(1-\delta)`-quantile.  At a fixed :math:`p_\star` this quantile is
  :math:`p_\star` until :math:`n \approx \log(1/\delta)/p_\star` and then exactly 0 (the
  paper's two-case argument) — a step, not a power law.  The :math:`1/n` rate is the
  statement *uniform over* :math:`p_\star`: the worst case over a fine grid of
  :math:`p_\star` of the exact :math:`(1-\delta)`-quantile has log-log slope :math:`-1` in
  ``n``, for every ``N >= 2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from scipy.optimize import brentq

from simulations.claims import (as_sanity, condition, exponent_claim, law_claim, not_run_in_quick,
                                sanity_claim)
from simulations.experiments.contract import Task
from simulations.plots import line_plot
from simulations.stats import binomial_interval, weighted_quantile
from theory.coverage import per_prompt_coverage
from theory.divergences import categorical_kl
from theory.instances import bernoulli_case_study
from theory.rates import bernoulli_coverage_rate

NAME = "bernoulli-case-study"
PAPER_REF = "Section 3 (Bernoulli case study), both numberings"
TITLE = "Bernoulli MLE: KL is infinite with probability (1-p*)^n, coverage decays like 1/n"
TOPIC = "coverage and Best-of-N"

#: False-fail rate of the Monte Carlo sanity check (Bonferroni over ``n``).
FALSE_FAIL = 1e-3
#: Pre-registered tolerance on the exact worst-case slope (finite-size bound: see claims).
SLOPE_TOL = 0.1
#: Fit window: n >= WINDOW_FACTOR * lambda*_N, i.e. worst-case p* = lambda*_N / n <= 1/20.
WINDOW_FACTOR = 20.0


def poisson_limit(N, delta):
    r"""Large-``n`` limit of ``n x`` the worst-case :math:`(1-\delta)`-quantile of :math:`\mathrm{Cov}_N`.

    On this instance :math:`\mathrm{Cov}_N(\hat\pi) = p_\star\,\mathbf 1\{k \le n p_\star/N\}`
    (the other atom is never under-covered since :math:`\hat p \le 1/2`), so the quantile is
    :math:`p_\star` iff :math:`P[k \le n p_\star/N] > \delta`.  With :math:`n p_\star = \lambda`
    fixed and :math:`n	o\infty`, :math:`k 	o \mathrm{Poisson}(\lambda)`, and
    :math:`n \max_{p_\star} q 	o \lambda^\star_N = \sup\{\lambda : P[\mathrm{Poi}(\lambda) \le
    \lambda/N] > \delta\}`: :math:`\log(1/\delta)` when only :math:`k = 0` counts (large ``N``),
    larger for ``N = 2`` (``k = 1, 2, ...`` count once :math:`\lambda \ge 2, 4, ...`).  The
    finite-``n`` law departs from the limit at first order in :math:`p_\star = \lambda/n`.

    On each piece :math:`[Nj, N(j+1))` the count :math:`\lfloor\lambda/N\rfloor = j` is fixed and
    :math:`P[\mathrm{Poi}(\lambda) \le j]` decreases in :math:`\lambda`, so the supremum on
    the piece is the root of :math:`P[\mathrm{Poi}(\lambda) \le j] = \delta` (Brent), or the
    piece's right end if there is none; pieces with :math:`Nj > 200` are not examined.
    """
    best = 0.0
    for j in range(int(200 // N) + 1):
        lo, hi = N * j, N * (j + 1)
        f = lambda lam, j=j: sps.poisson.cdf(j, lam) - delta    # noqa: E731
        if f(max(lo, 1e-300)) <= 0:
            continue
        best = max(best, hi if f(hi) > 0 else brentq(f, max(lo, 1e-300), hi, xtol=1e-12))
    return float(best)


@dataclass(frozen=True)
class Config:
    """Parameters.

    Attributes
    ----------
    p_star : float
        Fixed :math:`p_\\star` of the Monte Carlo part and of the fixed-:math:`p_\\star` curve.
    n_grid : tuple of int
        Sample sizes (at least 1.5 decades).
    N_values : tuple of float
        Thresholds ``N >= 2``.
    delta : float
        Quantile level :math:`1 - \\delta`.
    replicates : int
        Monte Carlo replicates per ``n``.
    p_grid_size : int
        Log-spaced :math:`p_\\star` values in ``[p_min, 1/2]`` for the worst case.
    p_min : float
    """

    p_star: float = 0.02
    n_grid: tuple = tuple(2 ** k for k in range(4, 17))
    N_values: tuple = (2.0, 8.0, 64.0, 1024.0)
    delta: float = 0.1
    replicates: int = 200000
    p_grid_size: int = 2000
    p_min: float = 1e-6

    @classmethod
    def quick(cls):
        return cls(n_grid=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096), replicates=20000, p_grid_size=400,
                   p_min=1e-5)

    @classmethod
    def full(cls):
        return cls()


def tasks(config):
    return [Task(cell=i, rep=0, params={"n": int(n)}) for i, n in enumerate(config.n_grid)]


def _coverage_given_k(p_star, n, N):
    """Exact Cov_N(Ber(p*) || Ber(p_hat(k))) for k = 0..n and every p* in ``p_star``: (P, n+1, |N|)."""
    p = np.atleast_1d(p_star)[:, None]
    p_hat = np.minimum(np.arange(n + 1) / n, 0.5)[None, :]
    with np.errstate(divide="ignore"):
        lr = np.stack([np.log1p(-p) - np.log1p(-p_hat) + 0 * p_hat,
                       np.log(p) - np.log(p_hat)], axis=-1)                 # (P, n+1, 2)
    w = np.broadcast_to(np.stack([1 - p, p], axis=-1), lr.shape)
    cov = per_prompt_coverage(lr.reshape(-1, 2), np.asarray(N), weights=w.reshape(-1, 2))
    return cov.reshape(lr.shape[0], n + 1, len(N))


def _exact_quantiles(p_star, n, N, q):
    """Exact q-quantile of Cov_N(p_hat) under k ~ Bin(n, p*), for each p* and N: (P, |N|)."""
    p = np.atleast_1d(p_star)
    out = np.empty((p.size, len(N)))
    chunk = max(1, 2 ** 21 // (n + 1))
    for i in range(0, p.size, chunk):  # chunks of the p*-grid bound the memory
        pc = p[i:i + chunk]
        cov = _coverage_given_k(pc, n, N)                                   # (P, n+1, |N|)
        pmf = sps.binom.pmf(np.arange(n + 1)[None, :], n, pc[:, None])      # (P, n+1)
        w = np.broadcast_to(pmf[:, :, None], cov.shape)
        out[i:i + chunk] = weighted_quantile(np.moveaxis(cov, 1, -1), np.moveaxis(w, 1, -1), q)
    return out


def run_task(config, task, *, rng):
    n = task.params["n"]
    N = np.asarray(config.N_values, dtype=float)
    inst = bernoulli_case_study(config.p_star)
    log_d = inst.data.enumerate_log_probs()[0]                               # [log(1-p*), log p*]
    # Monte Carlo: R replicates of the MLE from n samples each, in one vectorised draw.
    k = rng.binomial(n, config.p_star, size=config.replicates)
    p_hat = np.minimum(k / n, 0.5)
    with np.errstate(divide="ignore"):
        log_m = np.log(np.stack([1 - p_hat, p_hat], axis=-1))
    kl = categorical_kl(log_d[None, :], log_m)
    cov_mc = per_prompt_coverage(log_d[None, :] - log_m, N,
                                 weights=np.broadcast_to(np.exp(log_d), log_m.shape))
    # Exact: quantile at the fixed p*, and its worst case over a grid of p*.
    q = 1.0 - config.delta
    grid = np.geomspace(config.p_min, 0.5, config.p_grid_size)
    quant_grid = _exact_quantiles(grid, n, N, q)                             # (P, |N|)
    quant_fixed = _exact_quantiles(config.p_star, n, N, q)[0]
    worst = quant_grid.max(axis=0)
    return [{
        "n": n,
        "replicates": config.replicates,
        "n_infinite_kl": int(np.isinf(kl).sum()),
        "n_p_hat_zero": int((p_hat == 0).sum()),
        "prob_p_hat_zero": float((1 - config.p_star) ** n),
        "mc_quantile": [float(v) for v in np.quantile(cov_mc, q, axis=0, method="inverted_cdf")],
        "exact_quantile_fixed": [float(v) for v in quant_fixed],
        "exact_quantile_worst": [float(v) for v in worst],
        "worst_p_star": [float(grid[i]) for i in quant_grid.argmax(axis=0)],
        "kl_median": float(np.median(kl)),
    }]


def claims(config, records):
    recs = sorted(records, key=lambda r: r["n"])
    n = np.array([r["n"] for r in recs], dtype=float)
    zero = np.array([r["n_p_hat_zero"] for r in recs])
    inf = np.array([r["n_infinite_kl"] for r in recs])
    R = np.array([r["replicates"] for r in recs])
    pred = np.array([r["prob_p_hat_zero"] for r in recs])
    labels = [f"n={int(v)}" for v in n]
    out = [
        law_claim(
            f"{NAME}/infinite-kl-probability", PAPER_REF,
            "the simulated MLE has P[p_hat = 0] = (1 - p*)^n, the probability that "
            "KL(pi_D || pi_hat) = +inf (so E[KL] = +inf for every n)",
            np.stack([zero, R - zero], axis=1), np.stack([pred, 1 - pred], axis=1),
            alpha=FALSE_FAIL, labels=labels,
            details=f"p* = {config.p_star}, {int(R[0])} replicates per n (k ~ Bin(n, p*) drawn directly)."),
        sanity_claim(
            f"{NAME}/infinite-kl-iff-p-hat-zero", PAPER_REF,
            "KL(pi_D || pi_hat) = +inf exactly on the replicates with p_hat = 0",
            inf, zero, tolerance=0.0, details="counts of infinite KL against counts of p_hat = 0, per n."),
    ]
    grid_step = np.log(0.5 / config.p_min) / (config.p_grid_size - 1)      # log-ratio of the p*-grid
    seen = {}                                    # fitted series -> the N that first produced it
    for j, N in enumerate(config.N_values):
        worst_q = np.array([r["exact_quantile_worst"][j] for r in recs])
        scaled = worst_q * n
        lam = poisson_limit(N, config.delta)
        win = n >= WINDOW_FACTOR * lam
        short = win.sum() < 4 or n[win][-1] / n[win][0] < 8 if win.any() else True
        if short:      # the grid does not reach the window: fit its largest sizes, decide nothing
            win = n >= np.sort(n)[max(0, len(n) - 4)]
        lx = np.log(n[win])
        w = (lx - lx.mean()) / ((lx - lx.mean()) ** 2).sum()
        # |slope error| <= sum_i |w_i| * max_i |log-deviation_i| for the OLS slope
        corr = float(np.abs(w).sum() * (1.0 / WINDOW_FACTOR + grid_step))
        out.append(exponent_claim(
            f"{NAME}/coverage-rate-N{N:g}", PAPER_REF,
            (f"(1-delta)-quantile of Cov_{N:g}(pi_hat), worst case over p*, decays like 1/n "
             f"(log-log slope -1; n x quantile -> lambda*_N = {lam:.3f})"),
            n[win], worst_q[win, None], predicted=-1.0, tolerance=SLOPE_TOL, evaluation="exact",
            conditions=_conditions(config, N),
            tolerance_reason=(f"written before the run, computed from the design: the worst-case p* is "
                              f"lambda*_N / n (lambda*_N = {lam:.3f}, Poisson limit); in the window n >= "
                              f"{WINDOW_FACTOR:g} lambda*_N the binomial departs from its Poisson limit at "
                              f"first order in p* <= 1/{WINDOW_FACTOR:g}, and the log-spaced p*-grid "
                              f"resolves the maximiser to a factor exp({grid_step:.4f}); OLS weights on "
                              f"these n give |slope + 1| <= sum|w_i| x (1/{WINDOW_FACTOR:g} + "
                              f"{grid_step:.4f}) = {corr:.3f} <= {SLOPE_TOL:g}"),
            details=(f"delta = {config.delta}; exact law of k ~ Bin(n, p*) for {config.p_grid_size} "
                     f"log-spaced p* in [{config.p_min:g}, 1/2]; fit window n >= {WINDOW_FACTOR * lam:.0f}: "
                     f"n in [{int(n[win][0])}, {int(n[win][-1])}] ({int(win.sum())} sizes); n x quantile "
                     f"over the whole grid: " + ", ".join(f"{v:.3f}" for v in scaled)
                     + f" (lambda*_N = {lam:.3f}; log(1/delta) = {np.log(1 / config.delta):.3f}). "
                     "Rule revised after review of a passing run (not after a failure): the earlier rule "
                     "fitted the whole grid n >= 16 with tolerance 0.1 and the reason 'maximum over a finite "
                     "p*-grid'; that reason was wrong for N = 2, whose slope (-0.965 over n in [16, 4096]) "
                     "was pulled by the small-n cells where the worst-case p* = lambda*_2/n is near the "
                     "class cap 1/2 (n x quantile 4.78 at n = 16 against the limit 6.68); the window "
                     "excludes those cells by a rule computed before this run."),
            few_points_reason="not decided: fewer than 4 sizes in the window" if short else None))
        key = (tuple(n[win]), tuple(worst_q[win]))
        if key in seen and not short and out[-1].verdict in ("PASS", "FAIL"):
            out[-1] = as_sanity(out[-1], reason=(
                f"the fitted series is identical, value for value, to that of coverage-rate-N{seen[key]:g}: "
                "for these thresholds the worst-case (1-delta)-quantile comes from the same event (p_hat = 0), "
                "so this claim repeats that one and is not counted again as a prediction"))
        seen.setdefault(key, N)
        if short:
            out[-1] = not_run_in_quick(out[-1], reason=(
                f"the grid has fewer than 4 sizes spanning a factor 8 in the window n >= "
                f"{WINDOW_FACTOR * lam:.0f} (largest sizes fitted for information only; the bound on "
                "the finite-size correction does not apply outside the window)"))
    fixed = np.array([r["exact_quantile_fixed"][0] for r in recs])
    drop = n[fixed == 0]
    p, L = config.p_star, np.log(1 / config.delta)
    # Window from the two cases: P[k = 0] = (1-p)^n > delta keeps the quantile at p* while
    # n < log(1/delta)/(-log(1-p)); Chernoff P[k <= np/2] <= exp(-np/8) <= delta forces 0
    # once n >= 8 log(1/delta)/p.
    n_lo, n_hi = L / -np.log1p(-p), 8 * L / p
    above = n[n >= n_hi]
    checks = {
        "the quantile reaches 0 on the grid": bool(drop.size),
        "every value is p* or 0": set(np.unique(fixed)) <= {0.0, p},
        "a single step (0 stays 0)": bool(np.all(np.diff((fixed == 0).astype(int)) >= 0)),
        f"first zero above n = {n_lo:.0f}": bool(drop.size and drop[0] > n_lo),
        f"first zero at or before the first grid n >= {n_hi:.0f}":
            bool(above.size == 0 or (drop.size and drop[0] <= above[0])),
    }
    out.append(sanity_claim(
        f"{NAME}/fixed-p-step", PAPER_REF,
        ("at fixed p*, the exact (1-delta)-quantile of Cov_2 is p* for small n and 0 once "
         "n >~ log(1/delta)/p* (the paper's two-case argument, evaluated in closed form)"),
        sum(not v for v in checks.values()), 0, tolerance=0.0,
        details=("conditions (violations counted): " + "; ".join(f"{k}: {'yes' if v else 'NO'}"
                                                              for k, v in checks.items())
                 + ". Window: (1-p*)^n > delta below it, Chernoff exp(-n p*/8) <= delta above it; "
                 "exact quantiles along n: " + ", ".join(f"{v:.3g}" for v in fixed)
                 + (f"; first zero at n = {int(drop[0])}" if drop.size else "; never 0 on the grid"))))
    return out


def _conditions(config, N):
    """Hypotheses of the Section 3 statement on this design (computed from the config)."""
    grid_max = float(np.geomspace(config.p_min, 0.5, config.p_grid_size).max())
    return [
        condition("pi_D = Ber(p*) in Pi = {Ber(p)}_{p <= 1/2} (realizable)",
                  f"p* in [{config.p_min:g}, {grid_max:g}] (worst case), fixed p* = {config.p_star:g}",
                  bool(0 < config.p_min and grid_max <= 0.5 and 0 < config.p_star <= 0.5)),
        condition("N >= 2", f"N = {N:g}", bool(N >= 2)),
        condition("delta in (0, 1)", f"delta = {config.delta:g}", bool(0 < config.delta < 1)),
        condition("pi_hat is the MLE min(k/n, 1/2) from n i.i.d. samples", "k ~ Bin(n, p*) enumerated exactly",
                  True),
    ]


def plot(config, records, out_dir):
    from simulations.plots import COV, save_figure

    recs = sorted(records, key=lambda r: r["n"])
    n = np.array([r["n"] for r in recs], dtype=float)
    series = {f"$N = {N:g}$ (exact, worst $p^\\star$)": np.array([r["exact_quantile_worst"][j] for r in recs])
              for j, N in enumerate(config.N_values)}
    series[f"$N = 2$, fixed $p^\\star = {config.p_star}$ (exact)"] = np.array(
        [r["exact_quantile_fixed"][0] for r in recs])
    series[r"$\log(1/\delta)/n$ (rate shape)"] = bernoulli_coverage_rate(n, delta=config.delta)
    fig = line_plot(n, series, xlabel="$n$", ylabel=f"${1 - config.delta:g}$-quantile of {COV.format(N='N')}",
                    title="Bernoulli MLE: coverage quantile against $n$", logx=True, logy=True,
                    styles={r"$\log(1/\delta)/n$ (rate shape)": "k--"})
    paths = [save_figure(fig, out_dir / "bernoulli_coverage_rate.png")]
    R = np.array([r["replicates"] for r in recs])
    inf = np.array([r["n_infinite_kl"] for r in recs])
    lo, hi = binomial_interval(inf, R, level=0.999)
    mc = r"fraction with $\mathrm{KL} = \infty$ (Monte Carlo, 99.9% interval)"
    fig = line_plot(n, {mc: inf / R, r"$(1 - p^\star)^n$ (exact)": np.array([r["prob_p_hat_zero"] for r in recs])},
                    bands={mc: (lo, hi)}, styles={mc: "s", r"$(1 - p^\star)^n$ (exact)": "-"}, xlabel="$n$",
                    ylabel=r"$P[\mathrm{KL} = +\infty]$", logx=True,
                    title=f"Bernoulli MLE, $p^\\star = {config.p_star}$: infinite KL")
    paths.append(save_figure(fig, out_dir / "bernoulli_infinite_kl.png"))
    return paths
