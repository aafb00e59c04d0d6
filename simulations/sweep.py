"""Task streams and executors: grid x replicates, any ``submit(fn, *args).result()`` executor.

Every task ``(cell, rep)`` gets its own generator rebuilt from the root seed alone,

.. math::

    \\texttt{rng}_{c,r} = \\texttt{default\\_rng}(\\texttt{SeedSequence}(s, \\texttt{spawn\\_key}=(c, r))),

so results do not depend on execution order, worker count or machine.

Executors (:func:`make_executor`): ``"serial"`` (in-process, default), ``"process"``
(``ProcessPoolExecutor`` with the ``spawn`` start method and one BLAS thread per worker),
``"dask-local"`` (a ``distributed.LocalCluster``) and ``"dask://HOST:PORT"`` (an existing
scheduler); the dask ones use ``Client.get_executor(pure=False)``.

The unit sent to an executor is :func:`run_task_safely`: it times the task on the worker
and returns any exception as text (type, message, traceback), so a failing task is recorded
and the sweep goes on whatever the executor.  See ``docs/scaling.md`` for SLURM (through
dask-jobqueue), the fault model and why Ray users are pointed to dask.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import time
import traceback
from concurrent.futures import Future

import numpy as np

__all__ = ["task_rng", "SerialExecutor", "make_executor", "EXECUTOR_CHOICES", "run_task_safely"]

EXECUTOR_CHOICES = ("serial", "process", "dask-local", "dask://HOST:PORT")


def task_rng(seed, cell, rep):
    """Return the generator of task ``(cell, rep)`` under root ``seed``.

    Parameters
    ----------
    seed : int
        Non-negative root seed.
    cell, rep : int
        Grid cell index and replicate index (non-negative).

    Returns
    -------
    numpy.random.Generator

    Examples
    --------
    >>> a = task_rng(0, 2, 1).random()
    >>> b = task_rng(0, 2, 1).random()
    >>> a == b
    True
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(cell, rep)))


class SerialExecutor:
    """In-process executor: ``submit`` runs the call immediately and returns a done Future."""

    def submit(self, fn, *args, **kwargs):
        fut = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # re-raised by .result(), like a real executor
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait=True):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False


def resolve_module(module_name):
    """Return the experiment module called ``module_name`` (already loaded or importable)."""
    mod = sys.modules.get(module_name)
    return mod if mod is not None else importlib.import_module(module_name)


def execute_task(module_name, config, task, seed):
    """Run one task of an experiment in the current process (the unit sent to executors).

    Returns
    -------
    tuple
        ``(cell, rep, records)`` with each record a dict carrying ``cell`` and ``rep``.
    """
    module = resolve_module(module_name)
    rng = task_rng(seed, task.cell, task.rep)
    records = module.run_task(config, task, rng=rng)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise TypeError(f"{module_name}.run_task must return a list of dicts, "
                        f"got {type(records).__name__}.")
    return task.cell, task.rep, [{**r, "cell": task.cell, "rep": task.rep} for r in records]


def run_task_safely(module_name, config, task, seed):
    """Run one task, timing it and capturing any exception *inside* the worker.

    This is the unit the runner sends to executors.  A task that raises does not raise
    here: the outcome carries the formatted traceback, so the error survives the trip back
    from any executor (process pool, dask) as plain text, and the sweep goes on.

    Returns
    -------
    dict
        ``{"cell", "rep", "elapsed", "records", "error", "traceback"}``: ``records`` is the
        list returned by ``run_task`` (each with ``cell``/``rep``) or ``None`` on failure;
        ``error`` is ``"ExcType: message"`` or ``None``; ``elapsed`` the wall-clock seconds
        of the task on the worker.
    """
    start = time.perf_counter()
    try:
        cell, rep, records = execute_task(module_name, config, task, seed)
    except Exception as exc:  # recorded, not raised: one failing task must not stop a sweep
        return {"cell": task.cell, "rep": task.rep, "elapsed": time.perf_counter() - start,
                "records": None,
                "error": "".join(traceback.format_exception_only(type(exc), exc)).strip(),
                "traceback": traceback.format_exc()}
    return {"cell": cell, "rep": rep, "elapsed": time.perf_counter() - start,
            "records": records, "error": None, "traceback": None}


def _dask_client(address, jobs):
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise RuntimeError("the dask executors need the dask extra: "
                           "python -m pip install -e \".[dask]\"") from exc
    if address is None:
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0")
        return Client(cluster), cluster
    return Client(address), None


@contextlib.contextmanager
def make_executor(spec="serial", jobs=1):
    """Context manager yielding an executor built from a spec string.

    Parameters
    ----------
    spec : str or None
        ``"serial"``, ``"process"``, ``"dask-local"`` or ``"dask://HOST:PORT"``.  ``None``
        means ``"process"`` when ``jobs > 1`` and ``"serial"`` otherwise.
    jobs : int
        Number of worker processes (process pool and local dask cluster).

    Raises
    ------
    ValueError
        If `spec` is not recognised or `jobs` is not a positive integer.
    RuntimeError
        If a dask executor is requested and dask is not installed.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"`jobs` must be a positive integer, got {jobs!r}.")
    if spec is None:
        spec = "process" if jobs > 1 else "serial"
    if spec == "serial":
        yield SerialExecutor()
    elif spec == "process":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from simulations._worker_init import limit_blas_threads

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=limit_blas_threads) as pool:
            yield pool
    elif spec == "dask-local" or (isinstance(spec, str) and spec.startswith("dask://")):
        address = None if spec == "dask-local" else "tcp://" + spec[len("dask://"):]
        client, cluster = _dask_client(address, jobs)
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    else:
        raise ValueError(f"`executor` must be one of {', '.join(EXECUTOR_CHOICES)}, got {spec!r}.")
