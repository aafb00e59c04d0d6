"""The runner: :func:`run_experiment` executes an experiment end to end.

The experiment contract (what a module of :mod:`simulations.experiments` defines, the
:class:`Task` record, :func:`analysis_rng`) is :mod:`simulations.experiments.contract`; its
names are re-exported here.  ``Claim`` and the acceptance rules live in
:mod:`simulations.claims` (re-exported here).

:func:`run` executes all tasks (serially or through any executor with
``submit(fn, *args).result()``), streaming them into a resumable store when ``out_dir`` is
given, then writes ``claims.json`` and the figures.

A task that raises (on any executor, including a worker lost mid-task once the executor
gives up on it) does not stop the sweep: its traceback is recorded
(``failures.jsonl`` when storing), the other tasks run to completion and are stored, and
the result lists the failed tasks.  Claims and figures need every task, so they are not
evaluated on an incomplete run; rerunning with the same ``out_dir`` retries only the
failed (and never-run) tasks.

Ctrl-C (or ``SIGTERM`` under :func:`simulations.sweep.sigterm_as_interrupt`) stops a run
promptly: tasks that finished are stored, queued ones cancelled, and :class:`RunInterrupted`
(a ``KeyboardInterrupt``) says how many tasks are stored; rerunning resumes them.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import pathlib
import signal
import threading
import time
import traceback
from dataclasses import dataclass

import numpy as np

from simulations import registry
from simulations.claims import EVALUATIONS, Claim
from simulations.experiments.contract import (REQUIRED_ATTRIBUTES, Task, analysis_rng,
                                              check_experiment, record_schema)
from simulations.store import TaskStore, check_records, code_fingerprint, write_atomic, to_jsonable
from simulations.sweep import SerialExecutor, run_task_safely

__all__ = ["Task", "Claim", "ExperimentResult", "EVALUATIONS", "REQUIRED_ATTRIBUTES",
           "TaskFailedError", "RunInterrupted", "check_experiment", "record_schema", "run",
           "run_experiment", "analysis_rng"]

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
    failed_tasks : tuple of dict
        One ``{"cell", "rep", "error", "traceback"}`` per task that raised in this run
        (empty when every task finished).  When non-empty, ``claims`` and ``figures`` are
        empty: they are only evaluated on a complete set of records.
    task_seconds : float
        Sum of the per-task wall-clock times of the tasks run (not resumed) in this call.
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
    failed_tasks: tuple = ()
    task_seconds: float = 0.0

    @property
    def passed(self):
        """True when no task failed and every binding claim is PASS or 'not run in quick'."""
        return not self.failed_tasks and not any(c.blocking for c in self.claims)

    def to_dict(self):
        """Return a JSON-ready summary (records omitted)."""
        return {"name": self.name, "title": self.title, "topic": self.topic,
                "paper_ref": self.paper_ref, "config": self.config, "seed": self.seed,
                "n_records": len(self.records), "claims": [c.to_dict() for c in self.claims],
                "figures": [str(p) for p in self.figures],
                "out_dir": None if self.out_dir is None else str(self.out_dir),
                "elapsed": self.elapsed, "n_resumed": self.n_resumed,
                "failed_tasks": [{k: f[k] for k in ("cell", "rep", "error")}
                                 for f in self.failed_tasks],
                "task_seconds": self.task_seconds}


class TaskFailedError(RuntimeError):
    """Raised by :func:`run` when tasks failed; ``failures`` lists them (with tracebacks)."""

    def __init__(self, name, failures):
        self.failures = tuple(failures)
        first = self.failures[0]
        super().__init__(
            f"{name}: {len(self.failures)} task(s) failed, first (cell {first['cell']}, "
            f"rep {first['rep']}): {first['error']}")


def _config_dict(module, config):
    if not isinstance(config, module.Config):
        raise TypeError(f"`config` must be a {module.__name__}.Config, got {type(config).__name__}.")
    cfg = to_jsonable(dataclasses.asdict(config))
    json.dumps(cfg)  # raises TypeError early if not serialisable
    return cfg


def _roundtrip(records):
    """Records exactly as they will read back from the store (JSON types only)."""
    return json.loads(json.dumps(to_jsonable(records), allow_nan=True))


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (``SIGINT``) or ``SIGTERM``; every finished task was kept.

    A subclass of :class:`KeyboardInterrupt`, raised by :func:`run_experiment` in place of
    the interrupt it caught.

    Attributes
    ----------
    name : str
        Experiment name.
    stored, total : int
        Tasks stored (or, without ``out_dir``, finished) and tasks of the run.
    folder : pathlib.Path or None
        ``out_dir/NAME``.
    signum : int
        ``signal.SIGINT`` or ``signal.SIGTERM``.
    """

    def __init__(self, name, stored, total, folder, signum):
        self.name, self.stored, self.total, self.folder = name, stored, total, folder
        self.signum = int(signum)
        super().__init__(self.message)

    @property
    def message(self):
        """The line the command line prints."""
        if self.folder is None:
            return (f"interrupted: {self.name}: {self.stored}/{self.total} tasks finished "
                    "(nothing stored: no out_dir)")
        return (f"interrupted: {self.stored}/{self.total} tasks stored in {self.folder}; "
                "rerun the same command to resume")

    def __reduce__(self):
        return (type(self), (self.name, self.stored, self.total, self.folder, self.signum))


@contextlib.contextmanager
def _deferred_interrupts():
    """Hold Ctrl-C/SIGTERM until the block ends, so a task's line is written whole or not at all.

    Only in the main thread, and only for signals handled in Python; the handler that was
    in place is then called with the signal that arrived (raising its interrupt).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if callable(handler):
            previous[sig] = handler
            signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            previous[caught[0]](caught[0], None)


def _parallelism(executor):
    """How many tasks ``executor`` runs at once (``parallelism``, ``_max_workers`` or 4)."""
    for attr in ("parallelism", "_max_workers"):
        value = getattr(executor, attr, None)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    return 4


def _drive(executor, run_task, config, todo, seed, handle):
    """Run ``todo`` on ``executor``, passing each outcome to ``handle`` as it finishes.

    Outcomes are those of :func:`simulations.sweep.run_task_safely`.  In-process runs
    execute one task at a time, so each result reaches the store before the next task
    starts.  Other executors get at most ``2 x parallelism`` tasks at a time (a bounded
    window: an interrupt never faces a long queue, and memory does not grow with the
    number of tasks); ``concurrent.futures`` futures are consumed as they complete, other
    future-like objects in submission order.  An exception raised by ``.result()`` itself
    (a worker process that died, a dask task that exhausted its retries, an unpicklable
    argument) becomes a failed outcome carrying the client-side traceback.

    On ``KeyboardInterrupt`` (Ctrl-C, or ``SIGTERM`` through
    :func:`simulations.sweep.sigterm_as_interrupt`) the tasks that already finished are
    still handed to ``handle`` (kept), the queued ones are cancelled, and the interrupt
    propagates; stopping the workers is the executor's owner's job (``make_executor``
    does it when the exception leaves its block).
    """
    if isinstance(executor, SerialExecutor):
        for task in todo:
            handle(run_task_safely(run_task, config, task, seed))
        return
    tasks = iter(todo)
    pending = {}
    exhausted = False
    try:
        while True:
            window = 2 * _parallelism(executor)
            while not exhausted and len(pending) < window:
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                    break
                try:
                    pending[executor.submit(run_task_safely, run_task, config, task, seed)] = task
                except Exception as exc:  # e.g. a broken pool refuses new work
                    handle(_client_failure(task, exc))
            if not pending:
                return
            if all(isinstance(f, concurrent.futures.Future) for f in pending):
                done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                done = sorted(done, key=lambda f: (pending[f].cell, pending[f].rep))
            else:
                done = [next(iter(pending))]
            for fut in done:
                handle(_outcome(fut, pending.pop(fut)))
    except KeyboardInterrupt:
        for fut in [f for f in pending if isinstance(f, concurrent.futures.Future)
                    and f.done() and not f.cancelled() and f.exception() is None]:
            out = fut.result()
            if out["error"] is None:  # finished before the interrupt: keep it
                handle(out)
            pending.pop(fut)
        raise
    finally:
        for fut in pending:
            fut.cancel()


def _outcome(fut, task):
    try:
        return fut.result()
    except Exception as exc:
        return _client_failure(task, exc)


def _client_failure(task, exc):
    return {"cell": task.cell, "rep": task.rep, "elapsed": None, "cpu_seconds": None,
            "worker": None, "records": None,
            "error": "".join(traceback.format_exception_only(type(exc), exc)).strip(),
            "traceback": "".join(traceback.format_exception(exc))}


def run_experiment(module, config, *, seed, out_dir=None, executor=None, progress=False,
                   allow_stale=False, fresh=False, overall=None):
    """Run an experiment end to end and return an :class:`ExperimentResult`.

    Parameters
    ----------
    module : module or str
        An experiment module (see the module docstring for the contract), or the name of a
        registered one (``"kl-vs-coverage"``, see :func:`simulations.registry.get`).
    config : module.Config
        Usually ``module.Config.quick()`` or ``module.Config.full()``.
    seed : int
        Non-negative root seed; task ``(cell, rep)`` uses
        ``default_rng(SeedSequence(seed, spawn_key=(cell, rep)))``.
    out_dir : path-like, optional
        When given, records stream into ``out_dir/NAME/records.jsonl`` (resuming finished
        tasks), and ``claims.json``, ``meta.json`` and the figures are written there.  The
        folder is locked for the whole call (:class:`simulations.store.FolderLock`).
    executor : object, optional
        Anything with ``submit(fn, *args)`` returning an object with ``.result()``
        (``concurrent.futures`` executors, dask's ``Client.get_executor(pure=False)``, ...).
        Default: serial, in process.
    progress : bool
        Show a progress bar (only on a TTY); it starts at the number of resumed tasks.
    allow_stale : bool, default False
        Resume an ``out_dir`` whose finished tasks were computed by different code
        (otherwise :class:`simulations.store.StaleResultsError`; see :mod:`simulations.store`).
    fresh : bool, default False
        Move the previous content of ``out_dir/NAME`` aside (``superseded-<time>/``,
        never deleted) and start afresh.
    overall : progress bar, optional
        An outer bar (``update(n)``) advanced by one per task run here (``reproduce``).

    Returns
    -------
    ExperimentResult
        With ``failed_tasks`` listing tasks that raised (then no claims or figures).

    Raises
    ------
    TypeError
        If `module` breaks the contract or `config` has the wrong type.
    LookupError
        If `module` is a name no registered experiment has
        (:class:`simulations.registry.UnknownExperimentError`).
    RuntimeError
        If called while a spawned worker process imports the main script (a script without
        an ``if __name__ == "__main__":`` guard).
    ValueError
        If `seed` is negative, tasks repeat a ``(cell, rep)``, or ``out_dir`` cannot be
        resumed (:class:`simulations.store.StoreError`: held by another run, a different or
        missing ``meta.json``, results of different code, a task failing verification).
    RunInterrupted
        On Ctrl-C or ``SIGTERM`` (see :func:`simulations.sweep.sigterm_as_interrupt`):
        raised once the finished tasks are stored, the queued ones cancelled.
    OSError
        If the results folder cannot be written (e.g. disk full); the tasks stored so
        far are kept.
    """
    from simulations.pool import refuse_in_spawned_child

    refuse_in_spawned_child("run_experiment")
    if isinstance(module, str):
        module = registry.get(module)
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
    schema = record_schema(module, config)

    start = time.perf_counter()
    folder = None if out_dir is None else pathlib.Path(out_dir) / module.NAME
    with contextlib.ExitStack() as stack:
        store = None
        if folder is not None:
            store = stack.enter_context(TaskStore(
                folder, experiment=module.NAME, seed=seed, config=cfg_dict,
                fingerprint=code_fingerprint(module), allow_stale=allow_stale, fresh=fresh,
                schema=schema, task_keys=set(keys)))
        done = store.finished_tasks() if store is not None else set()
        results = {key: store.records_of(*key) for key in keys if key in done}
        todo = [t for t in tasks if (t.cell, t.rep) not in done]
        executor = SerialExecutor() if executor is None else executor
        from simulations import progress as _progress

        failed = []
        task_seconds = [0.0]
        bar = stack.enter_context(_progress.progress_bar(
            total=len(keys), initial=len(keys) - len(todo), desc=module.NAME, unit="task",
            disable=None if progress else True))

        def handle(out):
            cell, rep = out["cell"], out["rep"]
            task_seconds[0] += out["elapsed"] or 0.0
            records = None
            if out["error"] is None:
                try:
                    records = _roundtrip(out["records"])
                    problem = check_records(records, schema, cell=cell, rep=rep)
                    if problem is not None:
                        raise ValueError(f"task (cell {cell}, rep {rep}): {problem}")
                except (TypeError, ValueError) as exc:  # not JSON-serialisable, or off-schema
                    out = {**out, "error": f"{type(exc).__name__}: {exc}",
                           "traceback": traceback.format_exc()}
            if out["error"] is not None:
                failed.append({"cell": cell, "rep": rep, "error": out["error"],
                               "traceback": out["traceback"]})
                if store is not None:
                    with _deferred_interrupts():
                        store.record_failure(cell, rep, error=out["error"],
                                             traceback=out["traceback"], elapsed=out["elapsed"])
                bar.set_postfix(failed=len(failed))
            else:
                if store is not None:
                    with _deferred_interrupts():
                        store.append(cell, rep, records, elapsed=out["elapsed"],
                                     cpu_seconds=out.get("cpu_seconds"),
                                     worker=out.get("worker"))
                results[(cell, rep)] = records
                if overall is not None:
                    overall.update(1)
            bar.update(1)

        try:
            _drive(executor, module.run_task, config, todo, seed, handle)
            failed.sort(key=lambda f: (f["cell"], f["rep"]))
            claims, figures = (), ()
            all_records = [rec for key in keys if key in results for rec in results[key]]
            if failed:
                if folder is not None:  # never leave claims of an earlier, different state behind
                    (folder / "claims.json").unlink(missing_ok=True)
            else:
                if store is not None:
                    store.finalize()
                claims = tuple(module.claims(config, all_records))
                if not all(isinstance(c, Claim) for c in claims):
                    raise TypeError(f"{module.__name__}.claims must return a list of Claim.")
                if folder is not None:
                    write_atomic(folder / "claims.json", json.dumps(
                        [c.to_dict() for c in claims], indent=2, allow_nan=True) + "\n")
                    figures = tuple(pathlib.Path(p)
                                    for p in (module.plot(config, all_records, folder) or []))
        except KeyboardInterrupt as exc:
            stored = len(store.finished_tasks()) if store is not None else len(results)
            raise RunInterrupted(module.NAME, stored, len(keys), folder,
                                 getattr(exc, "signum", signal.SIGINT)) from None
    return ExperimentResult(
        name=module.NAME, title=module.TITLE, topic=module.TOPIC, paper_ref=module.PAPER_REF,
        config=cfg_dict, seed=seed, records=tuple(all_records), claims=claims, figures=figures,
        out_dir=folder, elapsed=time.perf_counter() - start, n_resumed=len(keys) - len(todo),
        failed_tasks=tuple(failed), task_seconds=task_seconds[0])


def run(module, config, *, seed, out_dir=None, executor=None):
    """Run an experiment and return its records (see :func:`run_experiment`).

    Returns
    -------
    list of dict
        All records in task order; each has ``cell`` and ``rep`` added.

    Raises
    ------
    TaskFailedError
        If any task raised (after every other task ran and, with ``out_dir``, was stored).
    """
    result = run_experiment(module, config, seed=seed, out_dir=out_dir, executor=executor)
    if result.failed_tasks:
        raise TaskFailedError(module.NAME, result.failed_tasks)
    return list(result.records)
