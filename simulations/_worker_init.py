"""Initializer for process-pool workers (kept free of numpy imports on purpose).

With the ``spawn`` start method a worker runs :func:`limit_blas_threads` before any task
imports numpy, so the environment variables below are honoured by OpenBLAS/MKL/OpenMP.
If :mod:`threadpoolctl` is installed, the limit is also applied to already-loaded libraries.
"""

import os

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
