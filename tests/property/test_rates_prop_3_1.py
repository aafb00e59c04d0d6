"""Prop. 3.1 on the models the learners produce, exactly: ``Cov_N <= KL / (log N - 1 + 1/N)``.

Prop. F.1 (ICLR) / D.1 (arXiv), the sharp form of Prop. 3.1, holds for every pair of
models, so on every learner's output (finite-class MLE, linear MLE, SGD, normalized SGD and
the test-time-training decoder) the exactly evaluated coverage and KL must satisfy it, replicate
by replicate; for the one-pass learners the averages over all iterates do (the inequality is
linear in both sides).  No statistics: false-fail probability 0 (a float tolerance of
``1e-9`` relative).  Negative control: the bound divided by 4 fails on some drawn example;
the failures come from near-extremal models (Prop. F.2 / D.2: a member under-weighting one
rare transition by exactly ``N``, which the finite-class MLE picks when it has not seen it).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulations.testing.instance_runs import fit_finite_mle, fit_linear_mle, run_normalized_sgd, run_sgd, run_ttt
from simulations.learners.optimizers import chain, project_l2_ball, sgd
from simulations.learners.ttt import TTTDecoder
from simulations.random_instances import NormalizedSGDSettings
from simulations.testing.strategies import (coverage_thresholds, finite_classes, linear_models, sample_sizes, sgd_settings,
                                    ttt_settings)
from theory.bounds import kl_to_coverage_sharp

from rate_support import RATE_SETTINGS, fails_somewhere, rng_for

pytestmark = pytest.mark.rates

LEARNERS = ("finite_mle", "linear_mle", "sgd", "normalized_sgd", "ttt")
R = 16
SEEDS = st.integers(0, 2 ** 32 - 1)
SMALL_LINEAR = linear_models(features=("iid",), vocab=(2, 4), horizon=(1, 6), dim=(1, 512), B=(0.5, 8.0),
                             n_prompts=(1, 3), max_exact_points=256)
SMALL_FINITE = finite_classes(size=(2, 64), vocab=(2, 4), horizon=(1, 2), n_prompts=(1, 3), ratio=(1.5, 32.0),
                              levels=(1, 4), max_distorted=(1, 2))


@st.composite
def learner_cases(draw, learners=LEARNERS):
    """``(learner, spec, settings, n, N)``; for finite classes, half of the draws take ``N`` on the ratio ladder."""
    learner = draw(st.sampled_from(learners))
    if learner == "finite_mle":
        spec = draw(SMALL_FINITE)
        if draw(st.booleans()):
            N = float(spec.ratio ** draw(st.integers(1, spec.levels)))
        else:
            N = draw(coverage_thresholds(2.0, 1e3))
        return learner, spec, None, draw(sample_sizes(4, 256)), max(N, 2.0)
    spec = draw(SMALL_LINEAR)
    N = draw(coverage_thresholds(2.0, 1e3))
    if learner == "linear_mle":
        return learner, spec, None, draw(sample_sizes(4, 256)), N
    if learner == "sgd":
        return learner, spec, draw(sgd_settings(T=(16, 128), N=N)), None, N
    if learner == "normalized_sgd":
        return learner, spec, NormalizedSGDSettings(T=draw(st.sampled_from((128, 256))),
                                                    batch=draw(st.integers(1, 4)), N=N), None, N
    return learner, spec, draw(ttt_settings(T=(8, 64), N=N)), None, N


def coverage_and_kl(case, seed):
    """Exact coverage and KL of every replicate's learned model (average over iterates for one-pass SGD)."""
    learner, spec, run, n, N = case
    inst, rng = spec.build(), rng_for(seed)
    if learner == "finite_mle":
        cov, kl = inst.exact(N)
        picked = fit_finite_mle(inst, n, replicates=R, rng=rng)
        return cov[picked], kl[picked]
    if learner == "linear_mle":
        out = fit_linear_mle(inst, n, replicates=R, rng=rng, N=N)
        return out["coverage"], out["kl"]
    if learner == "sgd":
        out = run_sgd(inst, run, replicates=R, rng=rng, coverage=True)
        return out["coverage"][0], out["kl"][0]
    if learner == "normalized_sgd":
        out = run_normalized_sgd(inst, run, replicates=R, rng=rng, kl=True)
        return out["coverage"], out["kl"]
    out = run_ttt(inst, run, replicates=R, rng=rng)
    red = out["reduced"]
    decoder = TTTDecoder(red.model(out["reduced_theta"][0]), chain(sgd(out["eta"][0]), project_l2_ball(1.0)))
    law = decoder.exact_log_ratio(red.data)
    return law.coverage(N), law.kl()


def check_prop_3_1(case, seed, *, factor=1.0):
    cov, kl = coverage_and_kl(case, seed)
    bound = factor * kl_to_coverage_sharp(np.maximum(kl, 0.0), case[-1])
    bad = cov > bound * (1 + 1e-9) + 1e-12
    assert not bad.any(), (
        f"Prop. 3.1 (F.1 / D.1){' / ' + str(round(1 / factor)) if factor != 1 else ''} violated by {case[0]}: "
        f"Cov_N = {cov[bad][:3]} > {factor:g} * KL/(log N - 1 + 1/N) = {bound[bad][:3]} (N = {case[-1]:.4g})")


@pytest.mark.parametrize("learner", LEARNERS)
def test_prop_3_1_on_learned_models(learner):
    """Prop. 3.1 / F.1 (D.1 arXiv) on every learner's output: Cov_N <= KL/(log N - 1 + 1/N), exactly."""

    @RATE_SETTINGS
    @given(case=learner_cases((learner,)), seed=SEEDS)
    def prop(case, seed):
        check_prop_3_1(case, seed)

    prop()


def test_prop_3_1_negative_control_bound_over_4():
    """Negative control of Prop. 3.1 on learners: KL/(4 (log N - 1 + 1/N)) is violated on some drawn model."""
    fails_somewhere(lambda case, seed: check_prop_3_1(case, seed, factor=0.25), case=learner_cases(), seed=SEEDS)


def test_rate_battery_error_budget():
    """The stated error budget of the rate properties: 10 examples and total false-fail <= 1e-4 per property in dev/ci, one tenth of max_examples in thorough."""
    from hypothesis import settings as hsettings

    from rate_support import ALPHA_PER_EXAMPLE, EXAMPLES, total_false_fail

    profile_examples = hsettings.default.max_examples
    assert EXAMPLES == (10 if profile_examples <= 100 else profile_examples // 10)
    assert total_false_fail() == pytest.approx(EXAMPLES * ALPHA_PER_EXAMPLE)
    if profile_examples <= 100:
        assert total_false_fail() <= 1e-4
