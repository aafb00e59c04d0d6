"""The value-guided backtracking walk (:class:`~simulations.samplers.vgb.VGBSampler`).

``vgb/walk-dyck``
    ``VGBSampler.run`` on the default Dyck model (about ``5 10^4`` automaton states, 4
    tokens) with a tabular (type-blind, regression-fitted) value function; ``10^5`` chains
    advance ``100`` steps in vectorised steps (``--quick``: ``2 10^4`` chains, 50 steps).
    Target: at least ``10^6`` chain-steps/s (holding steps included).  The walk has no
    plain-numpy counterpart outside the toolkit, so the row has an absolute target and no
    reference ratio.
"""

from __future__ import annotations

import numpy as np

from simulations.bench import workload

__all__ = []


def _dyck_sampler():
    from theory.instances.dyck import dyck_model, type_blind_groups
    from simulations.samplers.value_functions import fit_tabular_value
    from simulations.samplers.vgb import VGBSampler

    model = dyck_model()
    fit = fit_tabular_value(model.automaton, type_blind_groups(model), 20000,
                            rng=np.random.default_rng(0))
    return VGBSampler(model.automaton, fit.values)


@workload("vgb/walk-dyck")
def walk(ctx):
    sampler = _dyck_sampler()
    chains, T = (20_000, 50) if ctx.quick else (100_000, 100)
    rng = np.random.default_rng(1)
    sampler.run(1000, 5, rng=rng)  # warm-up
    times = ctx.race(lambda: sampler.run(chains, T, rng=rng), repeat=min(ctx.repeat, 3))
    rate = chains * T / times["seconds"]
    return {"params": {"chains": chains, "steps": T}, **times, "work": (chains * T, "chain-step"),
            "target": ">= 1e6 chain-steps/s", "passed": rate >= 1e6}
