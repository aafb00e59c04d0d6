"""Deprecated: moved to :mod:`simulations.testing.instance_runs`.

Every attribute is forwarded there with a :class:`DeprecationWarning`.
"""

from simulations._deprecated import forward

__getattr__ = forward(__name__, "simulations.testing.instance_runs")
