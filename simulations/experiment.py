"""The experiment contract, the ``Task`` and ``Claim`` records, and the runner.

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
    adds ``cell`` and ``rep`` to each record.  Must be a module-level function (it is sent to
    worker processes by module name).
``claims(config, records) -> list[Claim]``
    Evaluates the paper's predictions on all records.  Must be a deterministic function of
    its inputs: for a bootstrap use ``rng=analysis_rng(NAME)``.
``plot(config, records, out_dir) -> list[pathlib.Path]``
    Writes figures (PNG) into ``out_dir`` and returns their paths.

:func:`run` executes all tasks (serially or through any executor with
``submit(fn, *args).result()``), streaming them into a resumable store when ``out_dir`` is
given, then writes ``claims.json`` and the figures.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from simulations.store import TaskStore, to_jsonable
from simulations.sweep import SerialExecutor, execute_task

__all__ = ["Task", "Claim", "ExperimentResult", "EVALUATIONS", "REQUIRED_ATTRIBUTES",
           "check_experiment", "run", "run_experiment", "analysis_rng"]

#: How a claim's number was obtained.
EVALUATIONS = ("exact", "certified", "monte_carlo")

#: Names every experiment module must define.
REQUIRED_ATTRIBUTES = ("NAME", "PAPER_REF", "TITLE", "TOPIC", "Config", "tasks", "run_task",
                       "claims", "plot")


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


@dataclass(frozen=True)
class Claim:
    """A checked prediction of the paper.

    Attributes
    ----------
    id : str
        Stable identifier, e.g. ``"kl-vs-coverage/markov-bound"``.
    paper_ref : str
        Statement number(s) in the paper.
    statement : str
        What is claimed, in words or a short formula.
    predicted : float, str or None
        The predicted value (or bound/rate, e.g. ``-0.5``, ``"<= 1/log N"``).
    measured : float, str or None
        The measured value.
    interval : [lo, hi] or None
        Confidence (``monte_carlo``) or certified (``certified``) interval for ``measured``.
    evaluation : {"exact", "certified", "monte_carlo"}
        How ``measured`` was obtained.
    passed : bool
        Verdict.
    exploratory : bool, default False
        Exploratory claims are reported but do not decide the exit status.
    details : str, default ""
        Free text: acceptance rule, false-fail rate, sample sizes.
    """

    id: str
    paper_ref: str
    statement: str
    predicted: object
    measured: object
    interval: object
    evaluation: str
    passed: bool
    exploratory: bool = False
    details: str = ""

    def __post_init__(self):
        for name in ("id", "paper_ref", "statement", "details"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"`{name}` must be a str, got {type(getattr(self, name)).__name__}.")
        if self.evaluation not in EVALUATIONS:
            raise ValueError(f"`evaluation` must be one of {EVALUATIONS}, got {self.evaluation!r}.")
        if isinstance(self.passed, np.bool_):
            object.__setattr__(self, "passed", bool(self.passed))
        if not isinstance(self.passed, bool):
            raise TypeError(f"`passed` must be a bool, got {type(self.passed).__name__}.")
        if isinstance(self.exploratory, np.bool_):
            object.__setattr__(self, "exploratory", bool(self.exploratory))
        if not isinstance(self.exploratory, bool):
            raise TypeError(f"`exploratory` must be a bool, got {type(self.exploratory).__name__}.")
        if self.interval is not None:
            try:
                lo, hi = (float(v) for v in self.interval)
            except (TypeError, ValueError):
                raise ValueError(f"`interval` must be [lo, hi] or None, got {self.interval!r}.") from None
            if not (lo <= hi or (math.isnan(lo) or math.isnan(hi))):
                raise ValueError(f"`interval` must satisfy lo <= hi, got [{lo}, {hi}].")
            object.__setattr__(self, "interval", (lo, hi))
        for name in ("predicted", "measured"):
            object.__setattr__(self, name, to_jsonable(getattr(self, name)))

    def to_dict(self):
        """Return a JSON-ready dict (the ``claims.json`` schema)."""
        return {
            "id": self.id, "paper_ref": self.paper_ref, "statement": self.statement,
            "predicted": self.predicted, "measured": self.measured,
            "interval": None if self.interval is None else list(self.interval),
            "evaluation": self.evaluation, "passed": self.passed,
            "exploratory": self.exploratory, "details": self.details,
        }

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict`."""
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


@dataclass(frozen=True)
class ExperimentResult:
    """Everything one experiment run produced.

    Attributes
    ----------
    name, title, topic, paper_ref : str
        Copied from the experiment module.
    config : dict
        ``dataclasses.asdict(config)``.
    seed : int
        Root seed.
    records : tuple of dict
        All records, in task order, each with ``cell`` and ``rep``.
    claims : tuple of Claim
    figures : tuple of pathlib.Path
        Figures written (empty without ``out_dir``).
    out_dir : pathlib.Path or None
        ``out_dir/NAME`` when results were stored.
    elapsed : float
        Wall-clock seconds.
    n_resumed : int
        Tasks loaded from the store instead of being run.
    """

    name: str
    title: str
    topic: str
    paper_ref: str
    config: dict
    seed: int
    records: tuple
    claims: tuple
    figures: tuple
    out_dir: object
    elapsed: float
    n_resumed: int = 0

    @property
    def passed(self):
        """True when every non-exploratory claim passed."""
        return all(c.passed for c in self.claims if not c.exploratory)

    def to_dict(self):
        """Return a JSON-ready summary (records omitted)."""
        return {"name": self.name, "title": self.title, "topic": self.topic,
                "paper_ref": self.paper_ref, "config": self.config, "seed": self.seed,
                "n_records": len(self.records), "claims": [c.to_dict() for c in self.claims],
                "figures": [str(p) for p in self.figures],
                "out_dir": None if self.out_dir is None else str(self.out_dir),
                "elapsed": self.elapsed, "n_resumed": self.n_resumed}


def analysis_rng(name, salt=0):
    """Return a fixed generator for the analysis step (bootstraps inside ``claims``).

    ``claims(config, records)`` must be deterministic; derive its randomness from the
    experiment name so reruns give identical intervals.
    """
    return np.random.default_rng([zlib.crc32(str(name).encode()), int(salt)])


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


def _config_dict(module, config):
    if not isinstance(config, module.Config):
        raise TypeError(f"`config` must be a {module.__name__}.Config, got {type(config).__name__}.")
    cfg = to_jsonable(dataclasses.asdict(config))
    json.dumps(cfg)  # raises TypeError early if not serialisable
    return cfg


def _roundtrip(records):
    """Records exactly as they will read back from the store (JSON types only)."""
    return json.loads(json.dumps(to_jsonable(records), allow_nan=True))


def run_experiment(module, config, *, seed, out_dir=None, executor=None, progress=False):
    """Run an experiment end to end and return an :class:`ExperimentResult`.

    Parameters
    ----------
    module : module
        An experiment module (see the module docstring for the contract).
    config : module.Config
        Usually ``module.Config.quick()`` or ``module.Config.full()``.
    seed : int
        Non-negative root seed; task ``(cell, rep)`` uses
        ``default_rng(SeedSequence(seed, spawn_key=(cell, rep)))``.
    out_dir : path-like, optional
        When given, records stream into ``out_dir/NAME/records.jsonl`` (resuming finished
        tasks), and ``claims.json``, ``meta.json`` and the figures are written there.
    executor : object, optional
        Anything with ``submit(fn, *args)`` returning an object with ``.result()``
        (``concurrent.futures`` executors, dask's ``Client.get_executor(pure=False)``, ...).
        Default: serial, in process.
    progress : bool
        Show a progress bar (only on a TTY).

    Returns
    -------
    ExperimentResult

    Raises
    ------
    TypeError
        If `module` breaks the contract or `config` has the wrong type.
    ValueError
        If `seed` is negative, tasks repeat a ``(cell, rep)``, or ``out_dir`` holds a
        different run (:class:`simulations.store.ResumeConflictError`).
    """
    check_experiment(module)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"`seed` must be an integer, got {type(seed).__name__}.")
    if seed < 0:
        raise ValueError(f"`seed` must be >= 0, got {seed}.")
    seed = int(seed)
    cfg_dict = _config_dict(module, config)
    tasks = list(module.tasks(config))
    if not all(isinstance(t, Task) for t in tasks):
        raise TypeError(f"{module.__name__}.tasks must return a list of Task.")
    for t in tasks:
        json.dumps(t.to_dict())  # TypeError early if `params` is not JSON-serialisable
    keys = [(t.cell, t.rep) for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{module.__name__}.tasks returned duplicate (cell, rep) pairs.")

    start = time.perf_counter()
    store = None
    folder = None
    if out_dir is not None:
        folder = pathlib.Path(out_dir) / module.NAME
        store = TaskStore(folder, experiment=module.NAME, seed=seed, config=cfg_dict)
    done = store.finished_tasks() if store is not None else set()
    results = {key: store.records_of(*key) for key in keys if key in done}
    todo = [t for t in tasks if (t.cell, t.rep) not in done]

    executor = SerialExecutor() if executor is None else executor
    from simulations.progress import progress_bar

    futures = [executor.submit(execute_task, module.__name__, config, task, seed) for task in todo]
    with progress_bar(total=len(futures), desc=module.NAME, disable=None if progress else True) as bar:
        for fut in futures:
            cell, rep, records = fut.result()
            records = _roundtrip(records)
            if store is not None:
                store.append(cell, rep, records)
            results[(cell, rep)] = records
            bar.update(1)

    all_records = [rec for key in keys for rec in results[key]]
    claims = tuple(module.claims(config, all_records))
    if not all(isinstance(c, Claim) for c in claims):
        raise TypeError(f"{module.__name__}.claims must return a list of Claim.")
    figures = ()
    if folder is not None:
        (folder / "claims.json").write_text(
            json.dumps([c.to_dict() for c in claims], indent=2, allow_nan=True) + "\n")
        figures = tuple(pathlib.Path(p) for p in (module.plot(config, all_records, folder) or []))
    return ExperimentResult(
        name=module.NAME, title=module.TITLE, topic=module.TOPIC, paper_ref=module.PAPER_REF,
        config=cfg_dict, seed=seed, records=tuple(all_records), claims=claims, figures=figures,
        out_dir=folder, elapsed=time.perf_counter() - start, n_resumed=len(keys) - len(todo))


def run(module, config, *, seed, out_dir=None, executor=None):
    """Run an experiment and return its records (see :func:`run_experiment`).

    Returns
    -------
    list of dict
        All records in task order; each has ``cell`` and ``rep`` added.
    """
    return list(run_experiment(module, config, seed=seed, out_dir=out_dir,
                               executor=executor).records)
