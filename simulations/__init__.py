"""Stochastic side of the coverage-principle toolkit.

Learners, samplers, experiments (one module per claim or figure), sweeps with resumable
JSONL storage, rate statistics, plots, reports and the command line
(``python -m simulations``).

This package's ``__init__`` deliberately imports nothing heavy (no numpy): process-pool
workers import :mod:`simulations.pool.worker` first, so BLAS thread limits set through
environment variables take effect before numpy is loaded.
"""

__all__ = []
