"""Full presets of the optimizer experiments (slow): every binding claim must PASS.

The explicit-constant KL bounds are expected UNDERPOWERED (see ``test_sgd_experiments.py``).

Run with ``pytest -m slow tests/statistical/test_sgd_full_presets.py``.  Each claim carries its own false-fail rate (1e-3 by default, see ``simulations.claims``); the
seed is fixed.  ``sgd-lower-bound``'s full preset is the one whose
time is tracked by the benchmark (target: under 10 minutes on 2 idle cores).
"""

import pytest

from simulations.runner import run_experiment
from simulations.experiments import (adaptive_optimizers, distillation, sgd_lower_bound, sgd_rates,
                                     test_time_training)
from simulations.sweep import make_executor

pytestmark = [pytest.mark.slow, pytest.mark.statistical]

#: Binding claims that hold but cannot reach the factor-2 power of a bound claim (as in the quick test).
UNDERPOWERED_BY_CONSTRUCTION = {"sgd-rates/sgd-kl-bound", "test-time-training/prop-3.2/ttt-kl-bound",
                                "test-time-training/lemma-k7/ttt-kl-bound",
                                "sgd-rates/nsgd-explicit-bound-nonvacuous", "sgd-rates/nsgd-explicit-bound-growing-start"}


@pytest.mark.parametrize("module", [sgd_lower_bound, sgd_rates, test_time_training, distillation,
                                    adaptive_optimizers], ids=lambda m: m.NAME)
def test_full_preset(module, tmp_path):
    with make_executor("process", jobs=2) as ex:
        res = run_experiment(module, module.Config.full(), seed=0, out_dir=tmp_path, executor=ex)
    failed = [(c.id, c.verdict, c.measured, c.interval) for c in res.claims
              if not c.exploratory and c.verdict != "PASS" and c.id not in UNDERPOWERED_BY_CONSTRUCTION]
    assert not failed, failed
    assert all(p.exists() for p in res.figures)
