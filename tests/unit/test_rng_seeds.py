"""SPEC 7 seeds: every public function with an ``rng`` parameter (in the modules below) accepts
``None``, an int, a ``SeedSequence`` or a ``Generator`` through :func:`theory.validation.check_rng`.

For each function: an int seed gives exactly the result of ``default_rng(seed)`` and of
``default_rng(SeedSequence(seed))``; a different seed gives a different result (negative control:
the comparison can fail); ``None`` runs; a float, a string or a legacy ``RandomState`` raises
``TypeError`` naming ``rng``.  The table is checked against the modules, so a new public function
with an ``rng`` parameter fails :func:`test_every_public_rng_function_is_covered` until added.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import numpy as np
import pytest

MODULES = ("theory.models.linear", "theory.models.markov", "simulations.stats",
           "simulations.learners.distillation", "simulations.learners.ttt",
           "simulations.learners.checkpoints", "simulations.samplers.vgb",
           "simulations.samplers.sinclair_jerrum", "simulations.samplers.value_functions",
           "simulations.samplers.baselines")


def _tree():
    from theory.instances.vgb_trees import random_tree
    return random_tree(2, 4, rng=np.random.default_rng(0), zero_fraction=0.3)


def _values(aut):
    from theory.vgb import optimal_values
    return optimal_values(aut)


def _data():
    from theory.instances import prop_3_2_kl_lower_bound
    return prop_3_2_kl_lower_bound(10, 4).data


def _decoder():
    from simulations.learners.optimizers import projected, sgd
    from simulations.learners.ttt import TTTDecoder
    return TTTDecoder(_data().replace(theta=[0.0]), projected(sgd(0.5), box=(-1, 1)))


def _vgb():
    from simulations.samplers.vgb import VGBSampler
    aut = _tree()
    return VGBSampler(aut, _values(aut))


Y = [[1.0, 2.0, 4.0, 3.0], [0.5, 0.7, 0.2, 0.9], [0.1, 0.3, 0.2, 0.25]]

#: ``qualified name -> call(rng)``: the smallest call whose result depends on ``rng``.
CALLS = {
    "theory.models.linear.AutoregressiveLinearModel.sample": lambda rng: _data().sample(20, rng=rng),
    "theory.models.markov.MarkovModel.sample": lambda rng: _data().as_markov().sample(20, rng=rng),
    "simulations.stats.loglog_fit": lambda rng: simulations_stats().loglog_fit(
        [1, 2, 4], Y, n_boot=100, rng=rng).to_dict(),
    "simulations.stats.loglog_fit_draws": lambda rng: simulations_stats().loglog_fit_draws(
        [1, 2, 4], Y, n_boot=100, rng=rng),
    "simulations.stats.stratified_bootstrap": lambda rng: simulations_stats().stratified_bootstrap(
        Y, n_boot=100, rng=rng),
    "simulations.learners.distillation.prefix_counts": lambda rng: _mod("simulations.learners.distillation")
        .prefix_counts(np.array([[20, 10, 30]] * 5), np.full(5, 25), rng),
    "simulations.learners.distillation.train_distillation": lambda rng: _train_distillation(rng),
    "simulations.learners.ttt.TTTDecoder.sample": lambda rng: _decoder().sample(10, rng=rng),
    "simulations.learners.ttt.TTTDecoder.sampled_log_ratio": lambda rng: _decoder().sampled_log_ratio(
        _data(), 30, rng=rng).kl(),
    "simulations.learners.checkpoints.train_with_checkpoints": lambda rng: _train_with_checkpoints(rng),
    "simulations.samplers.vgb.sample_rows": lambda rng: _mod("simulations.samplers.vgb").sample_rows(
        np.tile([[0.3, 0.6, 1.0]], (30, 1)), rng),
    "simulations.samplers.vgb.VGBSampler.run": lambda rng: _vgb().run(20, 6, rng=rng),
    "simulations.samplers.vgb.VGBSampler.sample_fixed_t": lambda rng: _vgb().sample_fixed_t(20, 6, rng=rng),
    "simulations.samplers.vgb.VGBSampler.sample_first_leaf": lambda rng: _vgb().sample_first_leaf(20, rng=rng),
    "simulations.samplers.vgb.VGBSampler.sample_chain_leaves": lambda rng: _vgb().sample_chain_leaves(
        4, 200, rng=rng, max_steps=300),
    "simulations.samplers.sinclair_jerrum.approximate_counts": lambda rng: _sj().approximate_counts(
        *_sj().dyck_word_automaton(3), 2.0, mode="random", rng=rng),
    "simulations.samplers.sinclair_jerrum.sinclair_jerrum_sampler": lambda rng: _sj().sinclair_jerrum_sampler(
        3, 2.0, mode="random", rng=rng).cdf,
    "simulations.samplers.value_functions.multiplicative_error": lambda rng: _vf().multiplicative_error(
        _tree(), 0.5, mode="random", rng=rng),
    "simulations.samplers.value_functions.average_case_error_values": lambda rng: _vf().average_case_error_values(
        _tree(), 0.3, 20.0, rng=rng),
    "simulations.samplers.value_functions.fit_value_regression": lambda rng: _vf().fit_value_regression(
        _tree(), np.eye(_tree().n_states), 200, rng=rng, link="linear").to_dict(),
    "simulations.samplers.value_functions.fit_tabular_value": lambda rng: _vf().fit_tabular_value(
        _tree(), np.arange(_tree().n_states), 200, rng=rng).to_dict(),
    "simulations.samplers.baselines.reference_rollout": lambda rng: _bl().reference_rollout(
        _tree(), np.zeros(20, np.int64), 4, rng=rng),
    "simulations.samplers.baselines.reference_sample": lambda rng: _bl().reference_sample(_tree(), 20, rng=rng),
    "simulations.samplers.baselines.action_level_rs": lambda rng: _bl().action_level_rs(
        _tree(), _values(_tree()), 20, rng=rng),
    "simulations.samplers.baselines.outcome_level_rs": lambda rng: _bl().outcome_level_rs(_tree(), 20, rng=rng),
    "simulations.samplers.baselines.best_of_n": lambda rng: _bl().best_of_n(_tree(), 20, 3, rng=rng),
    "simulations.samplers.baselines.block_best_of_n": lambda rng: _bl().block_best_of_n(
        _tree(), _values(_tree()), 20, 2, 3, rng=rng),
    "simulations.samplers.baselines.block_rejection_sampling": lambda rng: _bl().block_rejection_sampling(
        _tree(), _values(_tree()), 20, 2, 3, rng=rng),
}


def _mod(name):
    return importlib.import_module(name)


def simulations_stats():
    return _mod("simulations.stats")


def _sj():
    return _mod("simulations.samplers.sinclair_jerrum")


def _vf():
    return _mod("simulations.samplers.value_functions")


def _bl():
    return _mod("simulations.samplers.baselines")


def _train_distillation(rng):
    from simulations.learners.distillation import train_distillation
    from simulations.learners.optimizers import chain, project_l2_ball, sgd
    from theory.instances import lemma_k7
    inst = lemma_k7(16, B=64.0, B_bar=4.0, mu_plus=0.5)
    return train_distillation(inst.data, model=inst.model_class, optimizer=chain(sgd(0.01), project_l2_ball(1.0)),
                              N=8.0, T=20, rng=rng, replicates=2).final_theta


def _train_with_checkpoints(rng):
    from simulations.learners.checkpoints import online_sampler, train_with_checkpoints
    from simulations.learners.optimizers import sgd
    data = _data()
    return train_with_checkpoints(online_sampler(data, buffer=64), data.replace(theta=[0.0]), sgd(0.1), steps=5, batch=4,
                                  checkpoint_steps=[5], rng=rng).thetas


def _flat(obj):
    """Every number in ``obj`` (arrays, tuples, dicts, dataclasses, sampler outputs), in order."""
    if dataclasses.is_dataclass(obj):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    elif hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    if isinstance(obj, dict):
        return [v for k in sorted(obj) for v in _flat(obj[k])]
    if isinstance(obj, (list, tuple)):
        return [v for item in obj for v in _flat(item)]
    if obj is None or isinstance(obj, (str, bool)):
        return [obj]
    return list(np.asarray(obj, dtype=float).ravel())


def _same(a, b):
    fa, fb = _flat(a), _flat(b)
    return len(fa) == len(fb) and all(x == y or (x != x and y != y) for x, y in zip(fa, fb))


def _public_rng_functions():
    out = set()
    for name in MODULES:
        mod = _mod(name)
        for attr in getattr(mod, "__all__", ()):
            obj = getattr(mod, attr)
            members = [(attr, obj)]
            if inspect.isclass(obj):
                members = [(f"{attr}.{m}", f) for m, f in vars(obj).items()
                           if not m.startswith("_") and inspect.isfunction(f)]
            for qual, f in members:
                if inspect.isfunction(f) and "rng" in inspect.signature(f).parameters:
                    out.add(f"{name}.{qual}")
    return out


def test_every_public_rng_function_is_covered():
    assert _public_rng_functions() == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_int_seed_is_default_rng_of_that_seed(name):
    call = CALLS[name]
    by_int = call(7)
    assert _same(by_int, call(np.random.default_rng(7)))
    assert _same(by_int, call(np.random.SeedSequence(7)))
    assert not _same(by_int, call(8)), "negative control: another seed must change the result"
    call(None)


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("bad", [1.5, "7", np.random.RandomState(0)], ids=["float", "str", "RandomState"])
def test_bad_rng_raises_type_error_naming_rng(name, bad):
    with pytest.raises(TypeError, match="`rng`"):
        CALLS[name](bad)
