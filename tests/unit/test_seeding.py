"""Task streams depend only on (root seed, cell, rep): not on order, executor or resume."""

import dataclasses
import sys
import types
from concurrent.futures import Future

import numpy as np
import pytest

from simulations.runner import Claim, Task, run
from simulations.sweep import SerialExecutor, task_rng


class DeferredReversedExecutor:
    """Collects submissions and runs them in reverse order when the first result is asked.

    ``parallelism`` is large enough for the runner's submission window (twice it) to take
    every task of the toy at once.
    """

    parallelism = 8

    def __init__(self):
        self.pending = []

    def submit(self, fn, *args):
        fut = Future()
        self.pending.append((fut, fn, args))
        return _Lazy(self, fut)

    def flush(self):
        for fut, fn, args in reversed(self.pending):
            fut.set_result(fn(*args))
        self.pending = []


class _Lazy:
    def __init__(self, ex, fut):
        self.ex, self.fut = ex, fut

    def result(self):
        if not self.fut.done():
            self.ex.flush()
        return self.fut.result()


@pytest.fixture
def toy(monkeypatch):
    name = "seeding_toy_mod"
    mod = types.ModuleType(name)

    @dataclasses.dataclass(frozen=True)
    class Config:
        cells: int = 3
        reps: int = 3

        @classmethod
        def quick(cls):
            return cls()

        @classmethod
        def full(cls):
            return cls()

    order = []

    def tasks(config):
        return [Task(c, r, {}) for c in range(config.cells) for r in range(config.reps)]

    def run_task(config, task, *, rng):
        order.append((task.cell, task.rep))
        return [{"draws": rng.standard_normal(3).tolist()}]

    mod.__dict__.update(NAME="seeding-toy", PAPER_REF="-", TITLE="-", TOPIC="-", Config=Config,
                        tasks=tasks, run_task=run_task, order=order,
                        claims=lambda config, records: [Claim("x", "-", "-", 0, 0, None, "exact", True)],
                        plot=lambda config, records, out_dir: [])
    monkeypatch.setitem(sys.modules, name, mod)
    return mod


def test_task_rng_matches_seedsequence_spawn():
    expected = np.random.default_rng(np.random.SeedSequence(7).spawn(3)[2]).random(4)
    assert np.array_equal(np.random.default_rng(np.random.SeedSequence(7, spawn_key=(2,))).random(4),
                          expected)
    a = task_rng(7, 1, 2).random(4)
    assert np.array_equal(a, task_rng(7, 1, 2).random(4))
    assert not np.array_equal(a, task_rng(7, 2, 1).random(4))
    assert not np.array_equal(a, task_rng(8, 1, 2).random(4))


def test_streams_independent_of_execution_order(toy):
    serial = run(toy, toy.Config(), seed=11, executor=SerialExecutor())
    serial_order = list(toy.order)
    toy.order.clear()
    reversed_ = run(toy, toy.Config(), seed=11, executor=DeferredReversedExecutor())
    assert toy.order == serial_order[::-1]  # really ran in another order
    assert reversed_ == serial  # records identical and returned in task order


def test_streams_independent_of_grid_size(toy):
    small = run(toy, toy.Config(cells=2, reps=2), seed=5)
    big = run(toy, toy.Config(cells=3, reps=3), seed=5)
    by_key = {(r["cell"], r["rep"]): r["draws"] for r in big}
    assert all(by_key[(r["cell"], r["rep"])] == r["draws"] for r in small)


def test_seed_changes_streams(toy):
    assert run(toy, toy.Config(), seed=1) != run(toy, toy.Config(), seed=2)


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_bad_seed_rejected(toy, seed, exc):
    with pytest.raises(exc, match="`seed`"):
        run(toy, toy.Config(), seed=seed)
