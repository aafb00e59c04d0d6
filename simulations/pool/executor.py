"""A process pool that survives dead workers and stops at once when asked.

:class:`WorkerPool` is what ``make_executor("process", jobs)`` returns.  It keeps the
``concurrent.futures`` interface (``submit`` returns a :class:`~concurrent.futures.Future`,
``shutdown``, context manager) but, unlike :class:`~concurrent.futures.ProcessPoolExecutor`,

* sends each worker **one task at a time** over its own pipe, so it always knows which task
  runs where.  When a worker dies (``SIGKILL``, out-of-memory killer, a segfault in a native
  library), only the task it was running fails, with :class:`WorkerLostError` naming the
  pid and the signal or exit code; a replacement worker is started and every other task
  runs.  (``ProcessPoolExecutor`` marks itself broken and fails every pending task.)
* can be **terminated**: ``shutdown(cancel_futures=True, kill=True)`` (also what leaving
  the ``with`` block on an exception does) cancels the queued tasks and terminates the
  workers without waiting for the tasks they run.  Workers ignore ``SIGINT``, so a Ctrl-C
  at the terminal (which signals the whole process group) reaches only the parent, which
  decides what to keep.

Workers use the ``spawn`` start method and limit BLAS/OpenMP to one thread before numpy is
imported (:mod:`simulations.pool.worker`).

Part of :mod:`simulations.pool` (import from there).
"""

from __future__ import annotations

import collections
import concurrent.futures
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading

from simulations.pool.worker import worker_main

__all__ = ["WorkerPool", "refuse_in_spawned_child", "WorkerLostError"]

#: Workers that die before running anything, in a row, before the pool gives up.
_MAX_STARTUP_DEATHS = 3


class WorkerLostError(RuntimeError):
    """The worker process running a task died (the task may be retried)."""


def _describe_exit(code):
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class _Worker:
    __slots__ = ("process", "conn", "item", "ran")

    def __init__(self, process, conn):
        self.process, self.conn, self.item, self.ran = process, conn, None, False


def refuse_in_spawned_child(what):
    """Raise ``RuntimeError`` while a spawned child process is re-importing the main script.

    A script that starts a process pool or runs an experiment at top level, without an
    ``if __name__ == "__main__":`` guard, is re-executed by every ``spawn`` worker while it
    boots; each would start another run (writing bogus failures into the results folder).

    Parameters
    ----------
    what : str
        What was called, named in the message.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(
            f"{what} was called while a spawned worker process imports the main script: "
            "put the code that starts the run under `if __name__ == \"__main__\":` (worker "
            "processes re-import the script that started them).")


class WorkerPool:
    """Process pool in which a dead worker fails only its own task (see the module docstring).

    Parameters
    ----------
    max_workers : int
        Number of worker processes (started on demand).

    Attributes
    ----------
    parallelism : int
        ``max_workers``: how many tasks run at once (the runner keeps about twice as many
        submitted).

    Examples
    --------
    >>> import operator
    >>> with WorkerPool(2) as pool:                      # doctest: +SKIP
    ...     pool.submit(operator.add, 1, 2).result()
    3
    """

    def __init__(self, max_workers):
        refuse_in_spawned_child("WorkerPool")
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"`max_workers` must be a positive integer, got {max_workers!r}.")
        self.parallelism = max_workers
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._queue = collections.deque()
        self._workers = []
        self._wake_r, self._wake_w = os.pipe()
        self._shutdown = False
        self._kill = False
        self._broken = None
        self._startup_deaths = 0
        self._thread = None

    # -- public API ---------------------------------------------------------------------
    def submit(self, fn, /, *args, **kwargs):
        """Schedule ``fn(*args, **kwargs)`` in a worker; return a ``Future``."""
        fut = concurrent.futures.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if self._broken is not None:
                raise WorkerLostError(self._broken)
            self._queue.append((fut, fn, args, kwargs, False))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="WorkerPool",
                                                daemon=True)
                self._thread.start()
        self._wake()
        return fut

    def shutdown(self, wait=True, *, cancel_futures=False, kill=False):
        """Stop the pool.

        Parameters
        ----------
        wait : bool
            Return only once the workers have exited.
        cancel_futures : bool
            Cancel the tasks not yet started.
        kill : bool
            Terminate the workers now, failing the tasks they run (implies
            ``cancel_futures``).
        """
        with self._lock:
            self._shutdown = True
            if kill or cancel_futures:
                while self._queue:
                    self._cancel(self._queue.popleft()[0])
            if kill:
                self._kill = True
            thread = self._thread
        self._wake()
        if thread is not None and (wait or kill):
            thread.join(None if wait else 10)
        if thread is None:
            self._close_wake()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.shutdown(wait=True)
        else:
            self.shutdown(wait=True, kill=True)
        return False

    # -- dispatcher thread --------------------------------------------------------------
    @staticmethod
    def _cancel(fut):
        if not fut.cancel() and not fut.done():  # already taken off the queue once
            fut.set_exception(concurrent.futures.CancelledError())

    def _wake(self):
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _close_wake(self):
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def _start_worker(self):
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=worker_main, args=(child,), daemon=True,
                                    name="simulations-worker")
        process.start()
        child.close()
        self._workers.append(_Worker(process, parent))

    def _dispatch(self):
        """Give queued tasks to idle workers, starting workers as needed (lock held)."""
        while self._queue:
            idle = next((w for w in self._workers if w.item is None), None)
            if idle is None:
                if len(self._workers) >= self.parallelism:
                    return
                self._start_worker()
                continue
            fut, fn, args, kwargs, started = self._queue.popleft()
            if not started and not fut.set_running_or_notify_cancel():
                continue  # cancelled while queued
            try:
                idle.conn.send((fn, args, kwargs))
            except (BrokenPipeError, ConnectionError, EOFError):
                # the worker died before taking the task: it goes back to the queue's front
                self._queue.appendleft((fut, fn, args, kwargs, True))
                self._lose(idle)
                continue
            except Exception as exc:  # could not pickle the call: the task fails, not the pool
                fut.set_exception(exc)
                continue
            idle.item = fut

    def _lose(self, worker):
        """``worker`` died: fail its task (if any), drop it, join its process."""
        if worker not in self._workers:
            return
        self._workers.remove(worker)
        worker.process.join(1)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(1)
        code = worker.process.exitcode
        worker.conn.close()
        if worker.item is not None:
            if not worker.item.done():
                worker.item.set_exception(WorkerLostError(
                    f"worker process (pid {worker.process.pid}) died while running this task "
                    f"({_describe_exit(code)})"))
            worker.item = None
        elif not worker.ran and not self._shutdown:
            self._startup_deaths += 1
            if self._startup_deaths >= _MAX_STARTUP_DEATHS:
                self._broken = (f"{self._startup_deaths} worker processes in a row died before "
                                f"running a task (last: {_describe_exit(code)})")
                while self._queue:
                    fut = self._queue.popleft()[0]
                    if not fut.done():
                        fut.set_exception(WorkerLostError(self._broken))

    def _receive(self, worker):
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            self._lose(worker)
            return
        except Exception as exc:  # the result could not be unpickled here
            message = ("err", exc)
        fut, worker.item = worker.item, None
        worker.ran = True
        self._startup_deaths = 0
        if fut is None or fut.done():
            return
        if message[0] == "ok":
            fut.set_result(message[1])
        else:
            fut.set_exception(message[1])

    def _run(self):
        try:
            while True:
                with self._lock:
                    if self._kill:
                        break
                    if self._broken is None:
                        self._dispatch()
                    busy = any(w.item is not None for w in self._workers)
                    if self._shutdown and not self._queue and not busy:
                        break
                    workers = list(self._workers)
                waitables = [self._wake_r] + [w.conn for w in workers] + \
                    [w.process.sentinel for w in workers]
                ready = multiprocessing.connection.wait(waitables)
                with self._lock:
                    if self._wake_r in ready:
                        os.read(self._wake_r, 4096)
                    for w in workers:
                        if w not in self._workers:
                            continue
                        if w.conn in ready or (w.process.sentinel in ready and w.conn.poll()):
                            self._receive(w)
                        elif w.process.sentinel in ready:
                            self._lose(w)
        finally:
            self._stop_workers()
            self._close_wake()

    def _stop_workers(self):
        with self._lock:
            workers, self._workers = list(self._workers), []
            kill = self._kill
        for w in workers:
            if kill:
                w.process.terminate()
            else:
                try:
                    w.conn.send(None)
                except (OSError, ValueError):
                    pass
        for w in workers:
            w.process.join(2 if kill else 10)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(2)
            if w.item is not None and not w.item.done():
                w.item.set_exception(WorkerLostError(
                    f"worker process (pid {w.process.pid}) was terminated by the pool's shutdown"))
            w.conn.close()
