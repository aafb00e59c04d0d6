"""Deprecated: the experiment contract and the runner live in :mod:`simulations.runner`.

Every attribute is forwarded there with a :class:`DeprecationWarning`.
"""

from simulations._deprecated import forward

__getattr__ = forward(__name__, "simulations.runner")
