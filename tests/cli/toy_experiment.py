"""A tiny test-only experiment (not in the registry unless a test registers it).

Power law ``y = x^{-1/2} * LogNormal(0, 0.2)`` on a 4-point grid spanning 8x; one exponent
claim on the slope (16 replicates per x give it power ~1 against +-0.25).
Module-level counters let tests see how many tasks actually ran in this process.
"""

from dataclasses import dataclass

import numpy as np

from simulations.claims import exponent_claim
from simulations.runner import Task, analysis_rng
from simulations.plots import rate_plot, save_figure
from simulations.stats import loglog_fit

NAME = "toy-power-law"
PAPER_REF = "test only"
TITLE = "toy power law y ~ x^-1/2"
TOPIC = "zz test"

CALLS = []


@dataclass(frozen=True)
class Config:
    xs: tuple = (16, 32, 64, 128)
    reps: int = 16
    exponent: float = -0.5

    @classmethod
    def quick(cls):
        return cls()

    @classmethod
    def full(cls):
        return cls(reps=24)


def tasks(config):
    return [Task(cell=i, rep=r, params={"x": x})
            for i, x in enumerate(config.xs) for r in range(config.reps)]


def run_task(config, task, *, rng):
    CALLS.append((task.cell, task.rep))
    x = task.params["x"]
    y = x ** config.exponent * rng.lognormal(0.0, 0.2)
    return [{"x": x, "y": float(y), "u": float(rng.random())}]


def claims(config, records):
    xs = np.array(config.xs, dtype=float)
    ys = [np.array([r["y"] for r in records if r["x"] == x]) for x in config.xs]
    return [exponent_claim(f"{NAME}/slope", PAPER_REF, "slope of E[y] in x is -1/2", xs, ys,
                           predicted=-0.5, tolerance=0.05, evaluation="monte_carlo")]


def plot(config, records, out_dir):
    xs = np.array(config.xs, dtype=float)
    means = np.array([np.mean([r["y"] for r in records if r["x"] == x]) for x in config.xs])
    fit = loglog_fit(xs, [np.array([r["y"] for r in records if r["x"] == x]) for x in config.xs],
                     n_boot=200, rng=analysis_rng(NAME))
    return [save_figure(rate_plot(xs, means, None, None, fit, -0.5, xlabel="x", ylabel="E[y]", title=TITLE),
                        out_dir / "toy_rate.png")]
