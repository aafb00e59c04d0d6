"""Deprecated location of :mod:`theory.instances.dyck` (a deterministic model, not a sampler).

The module moved to :mod:`theory.instances.dyck`; this alias keeps ``simulations.samplers.dyck.<name>``
working for one release.  Every attribute access emits a ``DeprecationWarning`` naming the
new path.
"""

from __future__ import annotations

import warnings

import theory.instances.dyck as _target


def __getattr__(name):
    if name in _target.__all__:
        warnings.warn(f"`simulations.samplers.dyck.{name}` moved to `theory.instances.dyck.{name}`; "
                      "import it from there (the old path will be removed in the next release).",
                      DeprecationWarning, stacklevel=2)
        return getattr(_target, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(_target.__all__)
