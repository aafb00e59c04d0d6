"""Full presets of the optimizer experiments (slow): every non-exploratory claim must hold.

Run with ``pytest -m slow tests/statistical/test_sgd_full_presets.py``.  Each experiment's
claims carry their own calibrated levels (family-wise false-fail 1e-3 per experiment,
Bonferroni-split); the seed is fixed.  ``sgd-lower-bound``'s full preset is the one whose
time is tracked by the benchmark (target: under 10 minutes on 2 idle cores).
"""

import pytest

from simulations.experiment import run_experiment
from simulations.experiments import (adaptive_optimizers, distillation, sgd_lower_bound, sgd_rates,
                                     test_time_training)
from simulations.sweep import make_executor

pytestmark = [pytest.mark.slow, pytest.mark.statistical]


@pytest.mark.parametrize("module", [sgd_lower_bound, sgd_rates, test_time_training, distillation,
                                    adaptive_optimizers], ids=lambda m: m.NAME)
def test_full_preset(module, tmp_path):
    with make_executor("process", jobs=2) as ex:
        res = run_experiment(module, module.Config.full(), seed=0, out_dir=tmp_path, executor=ex)
    failed = [(c.id, c.measured, c.interval) for c in res.claims if not c.exploratory and not c.passed]
    assert not failed, failed
    assert all(p.exists() for p in res.figures)
