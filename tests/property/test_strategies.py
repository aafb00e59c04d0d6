"""The public strategies (:mod:`simulations.testing.strategies`) and the random instances they build.

Every drawn spec must build an instance meeting the assumptions it claims (Assumption 2.2:
:math:`\\max\\|\\phi\\| = B`, :math:`\\|\\theta_\\star\\| \\le 1`; realizability or its
failure for finite classes), rebuild from its ``repr`` (failing examples paste back), and the
learner settings must meet (or violate) the conditions they are drawn for.  The reduction to
the span of the features used by the learners is an isometry that leaves the iterates unchanged.
"""

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.testing.instance_runs import run_sgd
from simulations.learners.optimizers import chain, project_l2_ball, sgd
from simulations.learners.training import train_one_pass
from simulations.random_instances import (DimensionLadderSpec, FiniteClassSpec, LinearModelSpec,  # noqa: F401
                                          NormalizedSGDSettings, SGDSettings, TTTSettings, initial_theta)
from simulations.testing.strategies import (dimension_ladders, finite_classes, linear_models, normalized_sgd_settings,
                                    sgd_settings, ttt_settings, violating_normalized_sgd_settings,
                                    violating_sgd_settings, violating_ttt_settings)
from theory.models import CallableFeatures

SMALL = dict(vocab=(2, 4), horizon=(1, 4), dim=(1, 512), n_prompts=(1, 3))


@given(spec=linear_models(**SMALL))
def test_linear_models_meet_assumption_2_2(spec):
    """Drawn models have max ||phi|| = B exactly, ||theta*|| <= 1, a normalised prompt law with the drawn rare mass, and the drawn sizes."""
    inst = spec.build()
    assert (inst.data.vocab_size, inst.horizon, inst.data.dim, inst.data.n_prompts) == (
        spec.vocab, spec.horizon, spec.dim, spec.n_prompts)
    assert np.linalg.norm(inst.theta_star) <= 1 + 1e-12
    assert abs(np.linalg.norm(inst.theta_star) - spec.theta_norm) <= 1e-12
    mu = inst.data.prompt_weights
    assert abs(mu.sum() - 1) < 1e-12 and (spec.rare_mass == 0 or abs(mu[-1] - spec.rare_mass) < 1e-15)
    if isinstance(inst.features, CallableFeatures):
        x, y, _ = inst.data.enumerate_support()
        norms = np.linalg.norm(inst.features.path_candidates(x, y), axis=-1)
        assert norms.max() <= spec.B * (1 + 1e-12)
    else:
        assert abs(inst.features.bound - spec.B) <= 1e-12 * spec.B
    assert inst.sigma_star_sq >= 0


@given(spec=linear_models(**SMALL))
def test_specs_and_instances_paste_back(spec):
    """repr(spec) and repr(instance) are Python expressions that rebuild the same objects."""
    assert eval(repr(spec)) == spec
    inst = spec.build()
    again = eval(repr(inst))
    np.testing.assert_array_equal(again.theta_star, inst.theta_star)
    np.testing.assert_array_equal(again.data.prompt_weights, inst.data.prompt_weights)


@given(spec=linear_models(features=("iid", "markov"), vocab=(2, 4), horizon=(1, 4), dim=(1, 64), n_prompts=(1, 3)),
       seed=st.integers(0, 2 ** 32 - 1))
def test_reduction_is_an_isometry(spec, seed):
    """The reduced instance gives the same KL and coverage for every theta (via its basis) and keeps B and sigma*^2."""
    inst = spec.build()
    red = inst.reduced()
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(4, inst.data.dim))
    theta /= np.maximum(1.0, np.linalg.norm(theta, axis=1, keepdims=True))
    np.testing.assert_allclose(red.kl(theta @ red.basis), inst.kl(theta), rtol=1e-9, atol=1e-12)
    if inst.exact_points() <= 4096:
        np.testing.assert_allclose(red.coverage(theta @ red.basis, 4.0), inst.coverage(theta, 4.0), atol=1e-12)
    assert abs(red.sigma_star_sq - inst.sigma_star_sq) <= 1e-9 * max(1.0, inst.sigma_star_sq)
    assert abs(red.features.bound - inst.B) <= 1e-9 * inst.B


@settings(max_examples=10, deadline=None)
@given(spec=linear_models(features=("iid", "markov"), vocab=(2, 3), horizon=(1, 3), dim=(1, 6), n_prompts=(1, 2)),
       seed=st.integers(0, 2 ** 32 - 1))
def test_training_in_the_reduced_span_gives_the_full_iterates(spec, seed):
    """One-pass SGD run in the reduced coordinates and mapped back equals SGD run in R^d on the same stream."""
    inst = spec.build()
    run = SGDSettings(T=32, eta_fraction=1.0, init="random")
    theta0 = initial_theta(inst, "random")
    eta = run.eta(inst)
    opt = chain(sgd(eta), project_l2_ball(1.0))
    full = train_one_pass(data=inst.data, model=inst.model(theta0), optimizer=opt, T=run.T, rng=np.random.default_rng(seed),
                          replicates=3)
    red = inst.reduced(theta0)
    small = train_one_pass(data=red.data, model=red.model(red.basis.T @ theta0), optimizer=opt, T=run.T,
                           rng=np.random.default_rng(seed), replicates=3)
    np.testing.assert_allclose(small.final_theta @ red.basis.T, full.final_theta, atol=1e-10)
    out = run_sgd(inst, run, replicates=3, rng=np.random.default_rng(seed))
    assert out["kl"].shape == (1, 3)


@given(spec=finite_classes(size=(2, 16), well_specified=(True, False)))
def test_finite_classes(spec):
    """Well-specified classes contain pi_D (KL 0) at truth_index; misspecified ones do not; every member is normalised."""
    inst = spec.build()
    assert inst.size == spec.size
    _, kl = inst.exact([2.0])
    if spec.well_specified:
        assert kl[inst.truth_index] <= 1e-12
        assert np.array_equal(inst.members.log_probs[inst.truth_index], inst.data.log_probs)
    else:
        assert inst.truth_index is None and kl.min() > 0
    np.testing.assert_allclose(np.exp(inst.members.log_probs).sum(-1), 1.0, atol=1e-12)
    assert eval(repr(spec)) == spec


@given(spec=finite_classes(size=(2, 8), horizon=(1, 1), iid=(True,), max_distorted=(1, 1)))
def test_finite_class_ratios_lie_on_the_ladder(spec):
    """The distorted token of each member is under-weighted by ratio**k exactly, k in 1..levels."""
    inst = spec.build()
    lp_d = inst.data.log_probs[:, 0, -1]                   # (X, V)
    ladder = spec.ratio ** np.arange(1, spec.levels + 1)
    for j in range(inst.size):
        r = np.exp(lp_d - inst.members.log_probs[j][:, 0, -1])
        above = r[r > 1 + 1e-12]
        assert above.size <= 1 and (above.size == 0 or np.isclose(ladder, above[0], rtol=1e-10).any())


@given(spec=dimension_ladders(n_prompts=(2, 4), horizon=(1, 4)))
def test_dimension_ladder_fixes_pi_d_b_and_sigma(spec):
    """Every rung of a dimension ladder has the same B, sigma*^2 and token laws, and reaches d = 512."""
    dims = spec.dims()
    assert dims[-1] == 512 and dims == sorted(dims)
    insts = [spec.build(d) for d in dims]
    for inst in insts:
        assert abs(inst.B - spec.B) < 1e-12 and abs(inst.features.bound - spec.B) < 1e-9 * spec.B
        assert abs(inst.sigma_star_sq - insts[0].sigma_star_sq) <= 1e-12 * max(1.0, insts[0].sigma_star_sq)
        np.testing.assert_allclose(inst.data.as_markov().log_probs, insts[0].data.as_markov().log_probs, atol=1e-12)


@given(ok=sgd_settings(), bad=violating_sgd_settings(), tok=ttt_settings(), tbad=violating_ttt_settings(),
       nok=normalized_sgd_settings(), nbad=violating_normalized_sgd_settings(), spec=linear_models(**SMALL))
def test_settings_meet_or_violate_their_conditions(ok, bad, tok, tbad, nok, nbad, spec):
    """Settings strategies satisfy (or, separately, violate) the step-size and lambda conditions on any instance."""
    inst = spec.build()
    H, B = inst.horizon, inst.B
    assert ok.eta(inst) <= 1 / (2 * H * B ** 2) * (1 + 1e-12) < bad.eta(inst)
    assert tok.eta(inst) <= 1 / (2 * B ** 2) * (1 + 1e-12) < tbad.eta(inst)
    eta, lam = nok.parameters(inst)
    assert eta <= 1 / (128 * B) * (1 + 1e-12) and lam >= 8 * B * np.log(nok.N) * (1 - 1e-12)
    assert abs(eta * lam - np.log(nok.N) / 16) <= 1e-12 * lam
    eta, lam = nbad.parameters(inst)
    assert eta > 1 / (128 * B) or lam < 8 * B * np.log(nbad.N)
    assert ok.satisfies_conditions and tok.satisfies_conditions and nok.satisfies_conditions
    assert not (bad.satisfies_conditions or tbad.satisfies_conditions or nbad.satisfies_conditions)


def test_missing_hypothesis_gives_a_clear_import_error():
    """Without hypothesis, importing simulations.testing.strategies raises ImportError naming the package and the extra."""
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "try:\n    import simulations.testing.strategies\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "hypothesis" in out and "pip install" in out
