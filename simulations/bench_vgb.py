"""Benchmarks of the VGB walker (issue 7): aggregate walk steps per second on the Dyck task, and
the dyck-frontier preset's wall time.

* ``vgb-walk-dyck`` -- ``VGBSampler.run`` on the default Dyck model (about 5e4 automaton
  states, 4 tokens) with a tabular (type-blind, regression-fitted) value function; many
  chains advance in one vectorised step.  Target: >= 1e6 chain-steps/s (holding steps
  included) on one core.
* ``vgb-first-leaf-dyck`` -- the pooled first-leaf sampler on the same task (informational).
* ``dyck-frontier-preset`` -- wall time of the ``dyck-frontier`` preset (``full``, or
  ``quick`` under ``--quick``) on a 2-process pool.  Target (full): < 600 s on 2 cores.
"""

from __future__ import annotations

import time

import numpy as np

from simulations.bench import workload

__all__ = []


def _dyck_sampler():
    from simulations.samplers.dyck import dyck_model, type_blind_groups
    from simulations.samplers.value_functions import fit_tabular_value
    from simulations.samplers.vgb import VGBSampler

    model = dyck_model()
    fit = fit_tabular_value(model.automaton, type_blind_groups(model), 20000,
                            rng=np.random.default_rng(0))
    return VGBSampler(model.automaton, fit.values)


@workload("vgb-walk-dyck", issue="#7")
def _walk(ctx):
    sampler = _dyck_sampler()
    chains, T = (20_000, 50) if ctx.quick else (100_000, 100)
    rng = np.random.default_rng(1)
    sampler.run(1000, 5, rng=rng)  # warm-up
    seconds = ctx.best_of(lambda: sampler.run(chains, T, rng=rng), repeat=3)
    rate = chains * T / seconds
    return {"seconds": seconds, "throughput": (rate, "steps/s"),
            "target": ">= 1e6 chain-steps/s (Dyck, tabular value)", "passed": rate >= 1e6}


@workload("vgb-first-leaf-dyck", issue="#7")
def _first_leaf(ctx):
    sampler = _dyck_sampler()
    n = 1000 if ctx.quick else 4000
    rng = np.random.default_rng(2)
    t0 = time.perf_counter()
    out = sampler.sample_first_leaf(n, rng=rng, max_steps=32 * 32 * 32)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "throughput": (out.steps.sum() / seconds, "steps/s"),
            "target": "informational (pooled first-leaf runs, heavy-tailed hitting times)"}


@workload("dyck-frontier-preset", issue="#7")
def _frontier(ctx):
    from simulations.experiment import run_experiment
    from simulations.experiments import dyck_frontier
    from simulations.sweep import make_executor

    config = dyck_frontier.Config.quick() if ctx.quick else dyck_frontier.Config.full()
    t0 = time.perf_counter()
    with make_executor("process", jobs=2) as ex:
        res = run_experiment(dyck_frontier, config, seed=0, executor=ex)
    seconds = time.perf_counter() - t0
    limit = 600.0
    return {"seconds": seconds, "throughput": (len(res.records) / seconds, "tasks/s"),
            "target": f"{'quick' if ctx.quick else 'full'} preset, 2 processes; full < {limit:.0f} s",
            "passed": None if ctx.quick else seconds < limit}
