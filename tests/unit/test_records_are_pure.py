"""Records hold results only: timings live in ``timings.jsonl``, beside the records.

The SGD experiments used to store ``cpu_seconds`` and ``dyck-frontier`` stored ``seconds``
inside each record, so two runs with the same seed never gave the same ``records.jsonl``.
The runner now times every task on its worker and writes the wall-clock and CPU seconds to
``timings.jsonl``; this test runs the first quick-preset task of each experiment that used to
store a timing and checks that no record carries one.
"""

import pytest

from simulations import registry
from simulations.sweep import task_rng

TIMING_KEYS = ("seconds", "elapsed", "cpu_seconds", "wall_seconds", "time")


def _timing_keys(obj, path=""):
    if isinstance(obj, dict):
        out = [f"{path}/{k}" for k in obj if k in TIMING_KEYS or k.endswith("_seconds")]
        return out + [p for k, v in obj.items() for p in _timing_keys(v, f"{path}/{k}")]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _timing_keys(v, f"{path}[{i}]")]
    return []


@pytest.mark.parametrize("name", ["sgd-rates", "sgd-lower-bound", "adaptive-optimizers",
                                  "distillation", "dyck-frontier"])
def test_records_carry_no_timings(name):
    module = registry.get(name)
    config = module.Config.quick()
    task = module.tasks(config)[0]
    records = module.run_task(config, task, rng=task_rng(0, task.cell, task.rep))
    assert records and _timing_keys(records) == []


def test_the_check_finds_a_timing():
    assert _timing_keys([{"a": 1, "b": {"cpu_seconds": 0.1}}, {"seconds": 2}]) == \
        ["[0]/b/cpu_seconds", "[1]/seconds"]
