"""Worker-process side of the process pool (kept free of numpy imports on purpose).

With the ``spawn`` start method a worker runs :func:`worker_main`, which calls
:func:`limit_blas_threads` before any task imports numpy, so the environment variables
below are honoured by OpenBLAS/MKL/OpenMP.  If :mod:`threadpoolctl` is installed, the limit
is also applied to already-loaded libraries.
"""

import os
import signal
import traceback

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_blas_threads():
    """Limit BLAS/OpenMP to one thread in the current (worker) process."""
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    try:  # optional: also limits libraries that are already loaded
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=1)


def worker_main(conn):
    """Serve calls from :class:`simulations.pool.WorkerPool` over ``conn`` until told to stop.

    Each message is ``(fn, args, kwargs)`` (or ``None`` to stop); each reply is
    ``("ok", result)`` or ``("err", exception)``.  ``SIGINT`` is ignored: a Ctrl-C at the
    terminal reaches the whole process group, and it is the parent that decides what to
    keep and terminates the workers.  The worker exits when the parent goes away.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_blas_threads()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        except Exception as exc:  # the call could not be unpickled (e.g. module not importable)
            reply = ("err", _portable(exc))
        else:
            if message is None:
                return
            fn, args, kwargs = message
            try:
                reply = ("ok", fn(*args, **kwargs))
            except BaseException as exc:  # sent back, like concurrent.futures does
                reply = ("err", _portable(exc))
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # the result could not be pickled
            try:
                conn.send(("err", RuntimeError(f"the task's result could not be sent back: "
                                               f"{type(exc).__name__}: {exc}")))
            except (EOFError, OSError):
                return


def _portable(exc):
    """``exc`` with its formatted traceback attached as a note (survives pickling)."""
    text = "".join(traceback.format_exception(exc))
    try:
        exc.add_note(f"\nWorker traceback:\n{text}")
    except AttributeError:
        pass
    return exc
