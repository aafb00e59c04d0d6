r"""Cost model of one-pass SGD with sampling: fixed + per token + per token-candidate.

Runs W1 (:mod:`simulations.bench.sgd`) over a grid of replicates ``R`` and vocabulary sizes
``V`` (``H``, ``K``, ``T`` fixed) and fits, by least squares on the best-of-``k`` wall times,

.. math:: t \approx t_0 + a\,n_{\mathrm{tok}} + b\,n_{\mathrm{tok}}V,
          \qquad n_{\mathrm{tok}} = R K H T,

where :math:`t_0` is the per-call cost (set-up and the ``T`` steps' Python overhead),
:math:`a` the cost per sampled token (uniform, inverse-CDF position loop, counting) and
:math:`b` the cost per token-candidate.  ``python -m simulations.bench._scaling`` prints the
runs and the fit as Markdown (``python -m simulations.bench._scaling cpu_seconds`` fits
the CPU times instead, the better measure on a loaded machine).
"""

from __future__ import annotations

import time

import numpy as np

from simulations.bench.sgd import K, w1_problem, w1_toolkit
from theory.models import chain_sampler

__all__ = ["scaling_runs", "fit_cost_model"]


def scaling_runs(*, replicates=(1, 4, 16, 64, 256), vocabs=(2, 3, 4, 8), horizon=256, T=20,
                 repeat=3):
    """Best-of-``repeat`` wall and CPU time of W1 for every ``(R, V)``: list of dicts."""
    runs = []
    for v in vocabs:
        data, model = w1_problem(horizon, vocab=v)
        for r in replicates:
            best, cpu = float("inf"), float("nan")
            for _ in range(repeat):
                w0, c0 = time.perf_counter(), time.process_time()
                w1_toolkit(data, model, R=r, T=T, seed=1)
                wall = time.perf_counter() - w0
                if wall < best:
                    best, cpu = wall, time.process_time() - c0
            tokens = r * K * horizon * T
            path = "compiled" if chain_sampler.compiled_module(tokens) is not None else "numpy"
            runs.append({"R": r, "V": v, "tokens": tokens, "candidates": tokens * v,
                         "seconds": best, "cpu_seconds": cpu, "path": path})
    return runs


def fit_cost_model(runs, *, key="seconds"):
    """Non-negative least-squares ``(t0, a, b)`` of ``t = t0 + a tokens + b candidates``.

    Each run is weighted by ``1 / t`` so that short and long runs count alike (the fit
    minimises relative residuals).  Only the runs on the path of the largest run are fitted
    (calls below :data:`theory.models.chain_sampler.MIN_COMPILED_TOKENS` tokens take the numpy
    path even when numba is installed).  ``key`` selects wall (``"seconds"``) or CPU
    (``"cpu_seconds"``) time.  Returns a dict with ``fixed_s``, ``per_token_s``,
    ``per_candidate_s`` and ``max_rel_residual``.
    """
    from scipy.optimize import nnls

    main = max(runs, key=lambda r: r["tokens"]).get("path")
    runs = [r for r in runs if r.get("path") == main]
    t = np.array([r[key] for r in runs])
    a = np.column_stack([np.ones(t.size), [r["tokens"] for r in runs],
                         [r["candidates"] for r in runs]]).astype(float)
    scale = a.max(axis=0)                                  # conditioning: columns of order 1
    coef, _ = nnls(a / t[:, None] / scale, np.ones(t.size))
    coef = coef / scale
    rel = a @ coef / t - 1.0
    return {"fixed_s": float(coef[0]), "per_token_s": float(coef[1]),
            "per_candidate_s": float(coef[2]), "max_rel_residual": float(np.abs(rel).max())}


def _markdown(runs, fit, key="seconds"):
    lines = [f"| R | V | tokens | path | wall s | CPU s | model ({key}) | ns/token |",
             "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        pred = fit["fixed_s"] + fit["per_token_s"] * r["tokens"] + fit["per_candidate_s"] * r["candidates"]
        lines.append(f"| {r['R']} | {r['V']} | {r['tokens']:,} | {r.get('path', '')} | "
                     f"{r['seconds']:.4g} | {r['cpu_seconds']:.4g} | {pred:.4g} | "
                     f"{1e9 * r[key] / r['tokens']:.1f} |")
    lines.append("")
    lines.append(f"fit: t0 = {1e3 * fit['fixed_s']:.3g} ms, a = {1e9 * fit['per_token_s']:.3g} ns/token, "
                 f"b = {1e9 * fit['per_candidate_s']:.3g} ns/token-candidate "
                 f"(largest relative residual {fit['max_rel_residual']:.2f})")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    key = sys.argv[1] if len(sys.argv) > 1 else "seconds"
    runs = scaling_runs()
    print(_markdown(runs, fit_cost_model(runs, key=key), key))
