"""Task streams and executors: grid x replicates, any ``submit(fn, *args).result()`` executor.

Every task ``(cell, rep)`` gets its own generator rebuilt from the root seed alone,

.. math::

    \\texttt{rng}_{c,r} = \\texttt{default\\_rng}(\\texttt{SeedSequence}(s, \\texttt{spawn\\_key}=(c, r))),

so results do not depend on execution order, worker count or machine.

Executors (:func:`make_executor`): ``"serial"`` (in-process, default), ``"process"``
(:class:`simulations.pool.WorkerPool`: ``spawn`` workers with one BLAS thread each, in which
a dead worker fails only its own task), ``"dask-local"`` (a ``distributed.LocalCluster``)
and ``"dask://HOST:PORT"`` (an existing scheduler, probed first so that a wrong address
fails within ``connect_timeout`` seconds with :class:`ExecutorError` naming what answered);
the dask ones use ``Client.get_executor(pure=False)``.

The unit sent to an executor is :func:`run_task_safely` with the experiment's ``run_task``
function itself (an ordinary import dependency, pickled by qualified name for worker
processes and dask, never looked up by module name): it times the task on the worker
(wall-clock and CPU seconds) and returns any exception as text (type, message, traceback),
so a failing task is recorded and the sweep goes on whatever the executor.  See
``docs/scaling.md`` for SLURM (through dask-jobqueue), the fault model and why Ray users are
pointed to dask.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import socket
import threading
import time
import traceback
from concurrent.futures import Future

import numpy as np

__all__ = ["task_rng", "SerialExecutor", "make_executor", "EXECUTOR_CHOICES", "run_task_safely",
           "ExecutorError", "Terminated", "sigterm_as_interrupt", "parse_dask_address",
           "probe_dask_scheduler", "MAX_JOBS", "DEFAULT_CONNECT_TIMEOUT"]

EXECUTOR_CHOICES = ("serial", "process", "dask-local", "dask://HOST:PORT")

#: Largest number of local worker processes ``make_executor`` starts.
MAX_JOBS = 1024

#: Seconds allowed to reach a ``dask://`` scheduler and receive its greeting.
DEFAULT_CONNECT_TIMEOUT = 10.0


class ExecutorError(RuntimeError):
    """An executor cannot be started or reached (bad address, no dask, not a scheduler)."""


class Terminated(KeyboardInterrupt):
    """``SIGTERM`` arrived; raised in the main thread by :func:`sigterm_as_interrupt`.

    A subclass of :class:`KeyboardInterrupt`, so a run stops exactly as on Ctrl-C (finished
    tasks kept, queued ones cancelled, workers terminated); ``signum`` tells them apart.
    """

    signum = signal.SIGTERM


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, ``SIGTERM`` raises :class:`Terminated` in the main thread.

    Outside the main thread (where Python cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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

    parallelism = 1

    def submit(self, fn, *args, **kwargs):
        fut = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:  # re-raised by .result(), like a real executor
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait=True):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False


def execute_task(run_task, config, task, seed):
    """Run one task of an experiment in the current process.

    Parameters
    ----------
    run_task : callable
        The experiment's ``run_task(config, task, *, rng)``.  Executors that cross a process
        boundary pickle it by qualified name (module and function), so it must be a
        module-level function of an importable module.
    config, task, seed
        The experiment's ``Config``, the :class:`simulations.runner.Task`, the root seed.

    Returns
    -------
    tuple
        ``(cell, rep, records)`` with each record a dict carrying ``cell`` and ``rep``.
    """
    rng = task_rng(seed, task.cell, task.rep)
    records = run_task(config, task, rng=rng)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise TypeError(f"{getattr(run_task, '__module__', '?')}.run_task must return a list "
                        f"of dicts, got {type(records).__name__}.")
    return task.cell, task.rep, [{**r, "cell": task.cell, "rep": task.rep} for r in records]


def run_task_safely(run_task, config, task, seed):
    """Run one task, timing it and capturing any exception *inside* the worker.

    This is the unit the runner sends to executors, with the experiment's ``run_task``
    itself (see :func:`execute_task`).  A task that raises does not raise
    here: the outcome carries the formatted traceback, so the error survives the trip back
    from any executor (process pool, dask) as plain text, and the sweep goes on.
    (``KeyboardInterrupt`` and other non-``Exception`` errors do propagate: they stop the
    run, they are not the task's result.)

    Returns
    -------
    dict
        ``{"cell", "rep", "elapsed", "cpu_seconds", "worker", "records", "error",
        "traceback"}``: ``records`` is the list returned by ``run_task`` (each with
        ``cell``/``rep``) or ``None`` on failure; ``error`` is ``"ExcType: message"`` or
        ``None``; ``elapsed`` and ``cpu_seconds`` the wall-clock and CPU seconds of the task
        on the worker ``"host:pid"``.
    """
    start, cpu = time.perf_counter(), time.process_time()
    timing = {"worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        cell, rep, records = execute_task(run_task, config, task, seed)
    except Exception as exc:  # recorded, not raised: one failing task must not stop a sweep
        return {"cell": task.cell, "rep": task.rep, "elapsed": time.perf_counter() - start,
                "cpu_seconds": time.process_time() - cpu, **timing, "records": None,
                "error": "".join(traceback.format_exception_only(type(exc), exc)).strip(),
                "traceback": traceback.format_exc()}
    return {"cell": cell, "rep": rep, "elapsed": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu, **timing, "records": records,
            "error": None, "traceback": None}


# -- dask ---------------------------------------------------------------------------------

def parse_dask_address(spec):
    """Split ``"dask://HOST:PORT"`` into ``(host, port)``.

    Raises
    ------
    ValueError
        If the host is empty or the port is not an integer in 1..65535.

    Examples
    --------
    >>> parse_dask_address("dask://10.0.0.5:8786")
    ('10.0.0.5', 8786)
    """
    if not isinstance(spec, str) or not spec.startswith("dask://"):
        raise ValueError(f"expected dask://HOST:PORT, got {spec!r}.")
    host, sep, port = spec[len("dask://"):].rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [IPv6]
    if not host or not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected dask://HOST:PORT with a port in 1..65535, got {spec!r}.")
    return host, int(port)


_BANNERS = ((b"HTTP/", "an HTTP server"), (b"SSH-", "an SSH server"),
            (b"220", "an FTP or SMTP server"), (b"+OK", "a POP3 server"),
            (b"* OK", "an IMAP server"), (b"RFB ", "a VNC server"),
            (b"\x16\x03", "a TLS server"), (b"-ERR", "a Redis server"))


def _name_banner(data):
    for prefix, name in _BANNERS:
        if data.startswith(prefix):
            first = data.split(b"\r\n", 1)[0].split(b"\n", 1)[0][:60]
            return f"{name}: {first.decode('latin-1')!r}" if prefix != b"\x16\x03" else name
    return None


def probe_dask_scheduler(host, port, timeout=DEFAULT_CONNECT_TIMEOUT):
    """Check that a dask scheduler answers at ``host:port`` within ``timeout`` seconds.

    A dask scheduler greets every new connection with a handshake frame (a length-prefixed
    msgpack message naming its ``pickle-protocol``) before the client says anything.  The
    probe connects and waits for that greeting; if nothing came after ``min(2, timeout/2)``
    seconds it sends ``GET /`` (an HTTP server then names itself) and waits on until
    ``timeout``.  Otherwise it names what it found: an HTTP, SSH, ... server from its banner
    or reply, a server that stays silent, a refused connection, an unresolvable host.

    Raises
    ------
    ExecutorError
        With a one-line message saying what went wrong.
    """
    where = f"dask://{host}:{port}"
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ExecutorError(f"cannot resolve the host of {where}: {exc.strerror or exc}") from None
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        raise ExecutorError(f"connection to {host}:{port} refused: no dask scheduler listens "
                            f"there ({where})") from None
    except (socket.timeout, TimeoutError):
        raise ExecutorError(f"no connection to {host}:{port} within {timeout:g} s (connect "
                            "timeout; --connect-timeout to change it)") from None
    except OSError as exc:
        raise ExecutorError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    with sock:
        data, closed, asked = b"", False, False
        ask_at = time.monotonic() + min(2.0, timeout / 2)
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if not asked and not data and now >= ask_at:
                # a dask scheduler greets at once; a silent server may be waiting for a request
                asked = _send_http_request(sock, host)
                continue
            sock.settimeout(max(0.01, (deadline if asked or data else ask_at) - now))
            try:
                chunk = sock.recv(4096)
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
            if b"pickle-protocol" in data:
                return
            if len(data) >= 8 and (_name_banner(data) or len(data) > 65536):
                break
        what = _name_banner(data)
        if what is None:
            if data:
                what = f"it sent {data[:24]!r}, not a dask greeting"
            elif closed:
                what = "it closed the connection without a greeting"
            else:
                what = f"it sent no dask greeting within {timeout:g} s"
    raise ExecutorError(f"{host}:{port} is not a dask scheduler ({what}); check the address "
                        "(dask schedulers listen on port 8786 by default) or --connect-timeout")


def _send_http_request(sock, host):
    """Send ``GET /`` so that an HTTP server names itself; return whether it was sent."""
    try:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: " + host.encode("ascii", "replace") + b"\r\n\r\n")
    except OSError:
        return False
    return True


class _DaskExecutor:
    """``Client.get_executor(pure=False)`` plus ``parallelism`` (threads of the cluster)."""

    def __init__(self, client):
        self._client = client
        self._executor = client.get_executor(pure=False)
        self._parallelism = (1, -math.inf)

    def submit(self, fn, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True):
        return self._executor.shutdown(wait=wait)

    @property
    def parallelism(self):
        """Total worker threads of the cluster (refreshed at most every 5 s; at least 1)."""
        value, when = self._parallelism
        if time.monotonic() - when > 5:
            try:
                value = max(1, sum(self._client.nthreads().values()))
            except Exception:  # a scheduler hiccup must not stop the run
                pass
            self._parallelism = (value, time.monotonic())
        return value


@contextlib.contextmanager
def _children_ignore_sigint():
    """Processes started in the block ignore ``SIGINT`` (an inherited ``SIG_IGN``).

    A Ctrl-C at the terminal signals the whole process group; the local cluster's worker
    processes must leave it to this process, which stores what finished and then closes
    the cluster.  (A Ctrl-C while the cluster starts is ignored.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _dask_client(address, jobs, timeout):
    if address is not None:
        probe_dask_scheduler(*address, timeout)  # before importing distributed: fail fast
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ExecutorError("the dask executors need the dask extra: "
                            "python -m pip install -e \".[dask]\"") from None
    if address is None:
        # CRITICAL, not ERROR: a worker that outlives the scheduler of an interrupted run
        # logs a failed heartbeat at ERROR, on the user's stderr after the "interrupted"
        # line.  A failing task still reaches the sweep as its result, not as a log line.
        with _children_ignore_sigint():
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                   silence_logs=logging.CRITICAL)
        return Client(cluster), cluster
    host, port = address
    try:
        with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout}s"}):
            return Client(f"tcp://{host}:{port}", timeout=timeout), None
    except (OSError, TimeoutError) as exc:
        raise ExecutorError(f"cannot connect a dask client to {host}:{port} within "
                            f"{timeout:g} s: {exc}".splitlines()[0]) from None


def _check_jobs(jobs):
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) \
            or not 1 <= jobs <= MAX_JOBS:
        raise ValueError(f"`jobs` must be an integer from 1 to {MAX_JOBS}, got {jobs!r}.")
    return int(jobs)


def _check_timeout(timeout):
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        raise TypeError(f"`connect_timeout` must be a number of seconds, got {timeout!r}.") from None
    if isinstance(timeout, bool) or not (0 < value <= 3600):
        raise ValueError(f"`connect_timeout` must be in (0, 3600] seconds, got {timeout!r}.")
    return value


@contextlib.contextmanager
def make_executor(spec="serial", jobs=1, *, connect_timeout=DEFAULT_CONNECT_TIMEOUT):
    """Context manager yielding an executor built from a spec string.

    Leaving the block normally waits for submitted tasks; leaving it on an exception
    (including ``KeyboardInterrupt``) cancels queued tasks and stops the workers at once.

    Parameters
    ----------
    spec : str or None
        ``"serial"``, ``"process"``, ``"dask-local"`` or ``"dask://HOST:PORT"``.  ``None``
        means ``"process"`` when ``jobs > 1`` and ``"serial"`` otherwise.
    jobs : int
        Number of worker processes (process pool and local dask cluster), 1 to
        :data:`MAX_JOBS`.
    connect_timeout : float, default 10
        Seconds allowed to reach a ``dask://`` scheduler and receive its greeting.

    Raises
    ------
    ValueError
        If `spec` is not recognised (or its port is outside 1..65535), `jobs` is not an
        integer in range, or `connect_timeout` is not in (0, 3600].
    ExecutorError
        If dask is needed but not installed, or the ``dask://`` address does not answer as
        a dask scheduler within `connect_timeout` (the message says what it found).
    """
    jobs = _check_jobs(jobs)
    connect_timeout = _check_timeout(connect_timeout)
    if spec is None:
        spec = "process" if jobs > 1 else "serial"
    if spec == "serial":
        yield SerialExecutor()
    elif spec == "process":
        from simulations.pool import WorkerPool

        with WorkerPool(jobs) as pool:
            yield pool
    elif spec == "dask-local" or (isinstance(spec, str) and spec.startswith("dask://")):
        address = None if spec == "dask-local" else parse_dask_address(spec)
        client, cluster = _dask_client(address, jobs, connect_timeout)
        executor = _DaskExecutor(client)
        failed = False
        try:
            yield executor
        except BaseException:
            failed = True
            raise
        finally:
            if failed:  # stop now: cancel what the cluster still holds
                with contextlib.suppress(Exception):
                    executor.shutdown(wait=False)
            quick = {"timeout": 5} if failed else {}
            with contextlib.suppress(Exception):
                client.close(**quick)
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close(**quick)
    else:
        raise ValueError(f"`executor` must be one of {', '.join(EXECUTOR_CHOICES)}, got {spec!r}.")
