"""Every construction of the paper, by name.

Each submodule of this package holds the constructions of one part of the paper (e.g.
:mod:`theory.instances.bernoulli`) and lists them in its ``__all__``; they are re-exported
here, so ``theory.instances.bernoulli_case_study()`` works whatever module defines it.
An instance function returns a frozen :class:`Instance` (data distribution, model class and
the parameters of the construction).
"""

from __future__ import annotations

import importlib
import pkgutil

from ._base import Instance

__all__ = ["Instance"]

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", ()):
        if _name in globals() and globals()[_name] is not getattr(_module, _name):
            raise ImportError(f"instance name {_name!r} is defined twice (in {_info.name})")
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)
