"""The process pool behind ``--jobs J``: both sides of it, in one folder.

:mod:`~simulations.pool.executor` is the parent side (:class:`WorkerPool`, what
``simulations.sweep.make_executor("process", jobs)`` returns); :mod:`~simulations.pool.worker`
is what a ``spawn`` worker runs.  The pool is a package of its own, not part of
:mod:`simulations.sweep`, because a worker must import it *before numpy* (BLAS thread
limits are set through environment variables that numpy reads once, at import):
neither this ``__init__`` nor its modules import numpy, while :mod:`simulations.sweep` does.
"""

from simulations.pool.executor import WorkerLostError, WorkerPool, refuse_in_spawned_child

__all__ = ["WorkerPool", "refuse_in_spawned_child", "WorkerLostError"]
