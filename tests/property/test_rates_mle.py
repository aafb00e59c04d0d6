"""Rate properties of maximum likelihood (Theorems 4.1 and 4.2), each with a negative control.

* Theorem 4.1 with the constants of its proof (:func:`theory.rates.finite_class_mle_coverage_bound`)
  on drawn finite classes, at every ``n`` of the geometric grid ``16, 64, ..., 4096``: the
  probability that the MLE's coverage exceeds the bound is at most ``delta``, tested with a
  one-sided Clopper--Pearson bound on the fraction of replicates that exceed it.  Negative
  control: the same check on misspecified classes (Assumption 2.1 removed).
* Theorem 4.2, ``E Cov_N(MLE) <= C (sqrt(sigma*^2/(n log N)) + B^2/n)`` with one constant
  ``C_MLE`` fitted on a stated pilot family and held fixed, on drawn models with ``d >= 4n``;
  negative control: the learner with the likelihood gradient's sign flipped.
* Dimension-free coverage: along a ladder of dimensions up to 512 at fixed ``pi_D``, ``B``,
  ``sigma*^2`` and ``n``, where the class gets richer with ``d``, the coverage stays below the
  same ``d``-free bound at every ``d`` (KL recorded in the example's notes); negative control:
  the learner with the gradient sign flipped.

Evaluation: coverage and KL of every fitted model exact (enumeration for finite classes,
count-vector law for i.i.d.-token linear models); the only randomness is the training data.
False-fail rates: ``rate_support``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from simulations.testing.instance_runs import fit_finite_mle, fit_linear_mle
from simulations.stats import binomial_interval, exceeds_bound
from simulations.testing.strategies import (coverage_thresholds, dimension_ladders, finite_classes, linear_models,
                                    log_uniform, sample_sizes)
from theory.rates import finite_class_mle_coverage_bound, linear_mle_coverage_rate

from rate_support import ALPHA_PER_EXAMPLE, RATE_SETTINGS, fails_somewhere, rng_for

pytestmark = pytest.mark.rates

SEEDS = st.integers(0, 2 ** 32 - 1)


# ---------------------------------------------------------------------------------- Theorem 4.1
#: Geometric grid of sample sizes and replicates per size.
FINITE_NS = (16, 64, 256, 1024, 4096)
R_FINITE = 64

FINITE = finite_classes(size=(2, 64), vocab=(2, 4), horizon=(1, 3), n_prompts=(1, 3), ratio=(1.5, 32.0),
                        levels=(1, 4), max_distorted=(1, 3), well_specified=(True,))
MISSPECIFIED = finite_classes(size=(2, 64), vocab=(2, 4), horizon=(1, 3), n_prompts=(1, 3), ratio=(1.5, 32.0),
                              levels=(1, 4), max_distorted=(1, 3), well_specified=(False,))


def check_finite_mle(spec, N, delta, seed):
    """P[Cov_N(MLE) > bound(n)] <= delta at every n of the grid (one-sided Clopper-Pearson, Bonferroni over the grid)."""
    inst = spec.build()
    cov, _ = inst.exact(N)
    rng = rng_for(seed)
    alpha = ALPHA_PER_EXAMPLE / len(FINITE_NS)
    for n in FINITE_NS:
        bound = float(finite_class_mle_coverage_bound(n=n, N=N, class_size=inst.size, delta=delta))
        picked = fit_finite_mle(inst, n, replicates=R_FINITE, rng=rng)
        k = int((cov[picked] > bound).sum())
        lower, _ = binomial_interval(k, R_FINITE, level=1 - 2 * alpha)       # one-sided 1 - alpha
        assert lower <= delta, (
            f"Theorem 4.1 rejected at n={n}: {k}/{R_FINITE} replicates have Cov_N(MLE) > {bound:.4g} "
            f"(N={N:.4g}, |Pi|={inst.size}, delta={delta:.3g}); Clopper-Pearson lower bound {lower:.3g} > delta")


@RATE_SETTINGS
@given(spec=FINITE, N=coverage_thresholds(8.0, 1e3), delta=log_uniform(0.01, 0.5), seed=SEEDS)
def test_finite_class_mle_theorem_4_1(spec, N, delta, seed):
    """Theorem 4.1 (finite class, proof constants): w.p. >= 1 - delta, Cov_N(MLE) <= 4 log(2|Pi|/delta)/((log N - log 4) n) + 16 log(4|Pi|/delta)/n.

    False-fail probability <= ALPHA_PER_EXAMPLE = 1e-5 per example, total_false_fail() per run
    (1e-4 in the ci profile; rate_support).
    """
    check_finite_mle(spec, N, delta, seed)


def test_finite_class_mle_negative_control_misspecified():
    """Negative control of Theorem 4.1: without realizability (every member shares a defect) the bound fails."""
    fails_somewhere(check_finite_mle, spec=MISSPECIFIED, N=coverage_thresholds(8.0, 1e3),
                    delta=log_uniform(0.01, 0.5), seed=SEEDS)


# ---------------------------------------------------------------------------------- Theorem 4.2
#: Replicates (data sets) per instance.
R_LINEAR = 64

#: Theorem 4.2's constant for sqrt(sigma^2/(n log N)) + B^2/n (the paper gives none): 2 x the
#: largest mean-coverage / rate ratio on :func:`pilot_cases` (96 instances of the two
#: families below, drawn by numpy with seed 20251015), held fixed.  Recomputed by
#: ``tests/statistical/test_rate_pilots.py::test_linear_mle_pilot_constant`` (slow).
C_MLE = 0.32489341252679865

LINEAR_RANGES = dict(vocab=(2, 4), horizon=(1, 16), B=(0.5, 16.0), n_prompts=(1, 4))


@st.composite
def overparameterized_problems(draw):
    """``(spec, n, N)`` with ``n`` in 8..128 (geometric) and ``d`` in ``[4n, 512]``: d >> n."""
    n = draw(sample_sizes(8, 128))
    spec = draw(linear_models(features=("iid",), dim=(1, 512), min_dim=4 * n, max_exact_points=4096,
                              **LINEAR_RANGES))
    return spec, n, draw(coverage_thresholds(2.0, 64.0))


def linear_ratio(inst, n, N, seed, replicates=R_LINEAR, flip=False):
    """Exact coverage of the MLE per replicate, and Theorem 4.2's rate shape."""
    out = fit_linear_mle(inst, n, replicates=replicates, rng=rng_for(seed), N=N, flip=flip)
    rate = float(linear_mle_coverage_rate(n=n, N=N, sigma_sq=inst.sigma_star_sq, B=inst.B))
    return out, rate


def check_linear_mle(problem, seed, *, flip=False):
    spec, n, N = problem
    assert spec.dim >= 4 * n
    out, rate = linear_ratio(spec.build(), n, N, seed, flip=flip)
    assert out["converged"].all(), f"MLE residuals {out['residual'].max():.3g}"
    bound = C_MLE * rate
    assert not exceeds_bound(out["coverage"], bound, alpha=ALPHA_PER_EXAMPLE), (
        f"Theorem 4.2 rejected: mean Cov_N(MLE) {out['coverage'].mean():.4g} (R={R_LINEAR}) > "
        f"C_MLE * rate = {bound:.4g} (rate {rate:.4g}, n={n}, d={spec.dim}, N={N:.4g})")


@RATE_SETTINGS
@given(problem=overparameterized_problems(), seed=SEEDS)
def test_linear_mle_theorem_4_2_overparameterized(problem, seed):
    """Theorem 4.2 with d >= 4n: E Cov_N(MLE) <= C_MLE (sqrt(sigma*^2/(n log N)) + B^2/n), C_MLE fitted on the pilot family.

    False-fail probability <= ALPHA_PER_EXAMPLE = 1e-5 per example, total_false_fail() per run
    (1e-4 in the ci profile; rate_support).
    """
    check_linear_mle(problem, seed)


def test_linear_mle_negative_control_sign_flipped():
    """Negative control of Theorem 4.2: the likelihood's gradient sign flipped (projected descent on the log-likelihood) is rejected."""
    fails_somewhere(lambda problem, seed: check_linear_mle(problem, seed, flip=True),
                    problem=overparameterized_problems(), seed=SEEDS)


# ----------------------------------------------------------------- dimension-free (d up to 512)
LADDERS = dimension_ladders(vocab=(2, 4), horizon=(1, 16), n_prompts=(2, 8), B=(0.5, 8.0), max_exact_points=1024)
#: Replicates per rung of a ladder.
R_LADDER = 32


def ladder_dims(spec):
    """At most four rungs of ``spec.dims()``: the smallest, one in between, the saturation and 512."""
    dims = spec.dims()
    return dims if len(dims) <= 4 else [dims[0], dims[len(dims) // 2 - 1], dims[-2], dims[-1]]


def check_dimension_ladder(spec, n, N, seed, *, flip=False):
    """E Cov_N(MLE; d) <= C_MLE rate(n, N, sigma^2, B) at every d of the ladder (Bonferroni)."""
    dims = ladder_dims(spec)
    insts = [spec.build(d) for d in dims]
    s2 = insts[0].sigma_star_sq
    assert all(abs(i.sigma_star_sq - s2) <= 1e-12 * max(1.0, s2) for i in insts)
    rate = float(linear_mle_coverage_rate(n=n, N=N, sigma_sq=s2, B=spec.B))
    alpha = ALPHA_PER_EXAMPLE / len(dims)
    means = []
    for d, inst in zip(dims, insts):
        out, _ = linear_ratio(inst, n, N, seed, replicates=R_LADDER, flip=flip)
        means.append((d, float(out["coverage"].mean()), float(out["kl"].mean())))
        bound = C_MLE * rate
        assert not exceeds_bound(out["coverage"], bound, alpha=alpha), (
            f"dimension ladder rejected at d={d}: mean Cov_N {out['coverage'].mean():.4g} > {bound:.4g}; "
            f"(d, mean Cov_N, mean KL) = {means}")
    note(f"(d, mean Cov_N, mean KL) along the ladder: {means}")


@RATE_SETTINGS
@given(spec=LADDERS, n=sample_sizes(8, 64), N=coverage_thresholds(2.0, 64.0), seed=SEEDS)
def test_linear_mle_coverage_dimension_free(spec, n, N, seed):
    """Theorem 4.2 is d-free: at fixed pi_D, B, sigma*^2 and n, the coverage stays below the same bound for every d up to 512 (>= 4n).

    False-fail probability <= ALPHA_PER_EXAMPLE = 1e-5 per example, total_false_fail() per run
    (1e-4 in the ci profile; rate_support).
    """
    assert spec.dims()[-1] >= 4 * n
    check_dimension_ladder(spec, n, N, seed)


def test_linear_mle_dimension_negative_control_sign_flipped():
    """Negative control of the dimension-free property: the same ladder check on the learner with the gradient sign flipped is rejected."""
    fails_somewhere(lambda spec, n, N, seed: check_dimension_ladder(spec, n, N, seed, flip=True),
                    spec=LADDERS, n=sample_sizes(8, 64), N=coverage_thresholds(2.0, 64.0), seed=SEEDS)


# ------------------------------------------------------------------------------ pilot constant
def pilot_cases():
    """The pilot family of ``C_MLE``: 96 cases drawn by numpy (seed 20251015), alternating the
    two families of this module (``(instance, n, N)``; a uniformly drawn rung of each ladder)."""
    from simulations.random_instances import DimensionLadderSpec, LinearModelSpec

    rng = np.random.default_rng(20251015)
    out = []
    for i in range(96):
        V, H = int(rng.integers(2, 5)), int(rng.integers(1, 17))
        N = float(np.exp(rng.uniform(np.log(2.0), np.log(64.0))))
        B = float(np.exp(rng.uniform(np.log(0.5), np.log(16.0 if i % 2 == 0 else 8.0))))
        if i % 2 == 0:
            n, X = int(2 ** rng.integers(3, 8)), int(rng.integers(1, 5))
            while X * math.comb(H + V - 1, V - 1) > 4096:
                H -= 1
            rare = float(np.exp(rng.uniform(np.log(1e-3), np.log(0.2)))) if X > 1 and rng.random() < 0.5 else 0.0
            spec = LinearModelSpec(vocab=V, horizon=H, dim=int(rng.integers(4 * n, 513)), B=B, features="iid",
                                   n_prompts=X, rare_mass=rare, theta_norm=float(rng.uniform(0, 1)),
                                   seed=int(rng.integers(2 ** 31)))
            inst = spec.build()
        else:
            n, X = int(2 ** rng.integers(3, 7)), int(rng.integers(2, 17))
            while X * math.comb(H + V - 1, V - 1) > 4096:
                H -= 1
            rare = float(np.exp(rng.uniform(np.log(1e-3), np.log(0.2)))) if rng.random() < 0.5 else 0.0
            spec = DimensionLadderSpec(vocab=V, horizon=H, n_prompts=X, B=B, shared=float(rng.uniform(0.1, 0.9)),
                                       rare_mass=rare, theta_norm=float(rng.uniform(0, 1)),
                                       seed=int(rng.integers(2 ** 31)))
            dims = ladder_dims(spec)
            inst = spec.build(dims[int(rng.integers(len(dims)))])
        out.append((inst, n, N, i))
    return out


def pilot_mle_constant():
    """2 x the largest mean-coverage / rate ratio of the MLE over :func:`pilot_cases`."""
    ratios = []
    for inst, n, N, i in pilot_cases():
        out, rate = linear_ratio(inst, n, N, 10_000 + i)
        ratios.append(float(out["coverage"].mean()) / rate)
    return float(2.0 * max(ratios)), ratios
