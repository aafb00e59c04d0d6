"""The experiment contract: what a module of :mod:`simulations.experiments` provides.

An *experiment* is a module in :mod:`simulations.experiments` that defines

``NAME : str``
    Stable identifier used on the command line, e.g. ``"kl-vs-coverage"``.
``PAPER_REF : str``
    Statement(s) checked, e.g. ``"Prop. 3.1 (arXiv v1: Prop. 2)"``.
``TITLE : str``
    One-line description.
``TOPIC : str``
    Section of the report, e.g. ``"coverage and Best-of-N"``.
``Config``
    A frozen dataclass (JSON-serialisable through :func:`dataclasses.asdict`) with
    classmethods ``quick()`` (runs in seconds; tests and CI) and ``full()`` (the figure).
``tasks(config) -> list[Task]``
    The grid x replicates, with unique ``(cell, rep)`` pairs.
``run_task(config, task, *, rng) -> list[dict]``
    Runs one task with its own generator and returns JSON-serialisable records.  The runner
    adds ``cell`` and ``rep`` to each record.  Must be a module-level function: the runner
    sends the function itself to the executor, and worker processes unpickle it by its
    qualified name (so its module must be importable there).
``claims(config, records) -> list[Claim]``
    Evaluates the paper's predictions on all records.  Must be a deterministic function of
    its inputs: for a bootstrap use ``rng=analysis_rng(NAME)``.
``plot(config, records, out_dir) -> list[pathlib.Path]``
    Writes figures (PNG) into ``out_dir`` and returns their paths.
``record_schema(config) -> dict`` (optional)
    The records' declared schema, ``{"records_per_task": int or None, "fields": {name:
    kind or [kinds]}}`` with kinds among number, integer, string, boolean, array, object,
    null and any (:func:`simulations.store.normalize_schema`).  A task whose records break
    it fails; every stored task is checked against it on resume and on reading.  Without
    it, the schema every experiment has applies: each record a JSON object carrying its
    task's ``cell`` and ``rep`` (and the store's checksums and record counts).

This module sits below everything that handles experiments: the experiment modules import
:class:`Task` and :func:`analysis_rng` from here, :mod:`simulations.registry` checks modules
with :func:`check_experiment`, and :mod:`simulations.runner` (which re-exports all of them)
runs them.  Keeping the contract out of the runner is what lets the runner look experiments
up in the registry without an import cycle.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field

import numpy as np

from simulations.store import normalize_schema, to_jsonable

__all__ = ["REQUIRED_ATTRIBUTES", "check_experiment", "Task", "analysis_rng", "record_schema"]

#: Names every experiment module must define.
REQUIRED_ATTRIBUTES = ("NAME", "PAPER_REF", "TITLE", "TOPIC", "Config", "tasks", "run_task",
                       "claims", "plot")


def check_experiment(module):
    """Raise ``TypeError`` unless ``module`` follows the experiment contract."""
    missing = [a for a in REQUIRED_ATTRIBUTES if not hasattr(module, a)]
    if missing:
        raise TypeError(f"experiment module {module.__name__} lacks {', '.join(missing)}.")
    for attr in ("NAME", "PAPER_REF", "TITLE", "TOPIC"):
        if not isinstance(getattr(module, attr), str) or not getattr(module, attr):
            raise TypeError(f"{module.__name__}.{attr} must be a non-empty str.")
    cfg = module.Config
    if not (dataclasses.is_dataclass(cfg) and cfg.__dataclass_params__.frozen):
        raise TypeError(f"{module.__name__}.Config must be a frozen dataclass.")
    for preset in ("quick", "full"):
        if not callable(getattr(cfg, preset, None)):
            raise TypeError(f"{module.__name__}.Config must define classmethod {preset}().")
    return module


@dataclass(frozen=True)
class Task:
    """One unit of work: grid cell ``cell``, replicate ``rep``, parameters ``params``.

    Attributes
    ----------
    cell : int
        Index of the grid cell (non-negative).
    rep : int
        Replicate index within the cell (non-negative).
    params : dict
        JSON-serialisable parameters of the cell (e.g. ``{"n": 256}``).
    """

    cell: int
    rep: int
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("cell", "rep"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"`{name}` must be an integer, got {type(value).__name__}.")
            if value < 0:
                raise ValueError(f"`{name}` must be >= 0, got {value}.")
            object.__setattr__(self, name, int(value))
        if not isinstance(self.params, dict):
            raise TypeError(f"`params` must be a dict, got {type(self.params).__name__}.")

    def to_dict(self):
        """Return a JSON-ready dict."""
        return {"cell": self.cell, "rep": self.rep, "params": to_jsonable(self.params)}


def analysis_rng(name, salt=0):
    """Return a fixed generator for the analysis step (bootstraps inside ``claims``).

    ``claims(config, records)`` must be deterministic; derive its randomness from the
    experiment name so reruns give identical intervals.
    """
    return np.random.default_rng([zlib.crc32(str(name).encode()), int(salt)])


def record_schema(module, config):
    """Return the experiment's declared record schema in normal form, or ``None``.

    An experiment may define ``record_schema(config) -> dict`` (see the module docstring
    and :func:`simulations.store.normalize_schema`); without it, the schema every
    experiment has applies (each record a JSON object carrying its task's ``cell`` and
    ``rep``).

    Raises
    ------
    TypeError, ValueError
        If the declared schema is malformed.
    """
    hook = getattr(module, "record_schema", None)
    if hook is None:
        return None
    try:
        return normalize_schema(hook(config))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{module.__name__}.record_schema: {exc}") from None
