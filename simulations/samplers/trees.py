"""Deprecated: moved to :mod:`theory.instances.vgb_trees` (constructions of the VGB paper).

Every public name is forwarded there for one release, with a :class:`DeprecationWarning`.
"""

from simulations._deprecated import forward_public

__getattr__, __dir__ = forward_public(__name__, "theory.instances.vgb_trees")
