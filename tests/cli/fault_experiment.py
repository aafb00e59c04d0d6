"""A test-only experiment for fault tolerance (never in the registry unless a test adds it).

Each task draws a few numbers from its own stream (so results are checkable bit for bit),
optionally sleeps (so a test can kill a sweep midway), and can misbehave on purpose:

* ``raise_cell``: every task of that cell raises ``RuntimeError``;
* ``kill_cell``: the *first* attempt of task ``(kill_cell, 0)`` kills its own process with
  ``SIGKILL`` (a worker lost mid-task).  A marker file in ``marker_dir`` makes later
  attempts run normally; the retry appends its pid to ``marker_dir/retried``.
"""

import os
import pathlib
import signal
import time
from dataclasses import dataclass

import numpy as np

from simulations.runner import Claim, Task

NAME = "fault-toy"
PAPER_REF = "test only"
TITLE = "fault-tolerance toy"
TOPIC = "zz test"


@dataclass(frozen=True)
class Config:
    cells: int = 4
    reps: int = 3
    sleep: float = 0.0
    raise_cell: int = -1
    kill_cell: int = -1
    marker_dir: str = ""

    @classmethod
    def quick(cls):
        return cls()

    @classmethod
    def full(cls):
        return cls(cells=8)


def tasks(config):
    return [Task(cell=c, rep=r, params={"c": c}) for c in range(config.cells)
            for r in range(config.reps)]


def run_task(config, task, *, rng):
    if task.cell == config.kill_cell and task.rep == 0:
        marker = pathlib.Path(config.marker_dir) / f"killed-{task.cell}"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        with open(pathlib.Path(config.marker_dir) / "retried", "a") as fh:
            fh.write(f"{os.getpid()}\n")
    if task.cell == config.raise_cell:
        raise RuntimeError(f"deliberate failure in cell {task.cell}")
    if config.sleep:
        time.sleep(config.sleep)
    draws = rng.standard_normal(3)
    return [{"c": task.params["c"], "label": f"cell {task.cell}", "draws": draws.tolist(),
             "log_sum": float(np.log(np.abs(draws)).sum())}]


def claims(config, records):
    n = config.cells * config.reps
    return [Claim(f"{NAME}/complete", PAPER_REF, "every task produced one record", n,
                  len(records), None, "exact", len(records) == n)]


def plot(config, records, out_dir):
    return []
