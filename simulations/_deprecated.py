"""Deprecated import paths: a module moved elsewhere keeps its old name as a forwarding shim.

A shim module calls :func:`forward` with its own name and the new module; the returned
``__getattr__`` and ``__dir__`` (module-level, PEP 562) hand out the new module's attributes
and emit a :class:`DeprecationWarning` naming the new path on every attribute access, so
``from old import name`` keeps working and says where ``name`` lives now.
"""

from __future__ import annotations

import importlib
import warnings

__all__ = ["forward"]


def forward(old, new):
    """Return ``(__getattr__, __dir__)`` for the shim module ``old`` forwarding to ``new``.

    Parameters
    ----------
    old : str
        Dotted name of the shim (the deprecated path).
    new : str
        Dotted name of the module that now holds the code.

    Returns
    -------
    tuple of callable
        Module-level ``__getattr__(name)`` and ``__dir__()``.
    """

    def __getattr__(name):
        target = importlib.import_module(new)
        try:
            value = getattr(target, name)
        except AttributeError:
            raise AttributeError(f"module {old!r} has no attribute {name!r}") from None
        warnings.warn(f"{old} is deprecated: import {name} from {new}",
                      DeprecationWarning, stacklevel=2)
        return value

    def __dir__():
        return sorted(set(dir(importlib.import_module(new))))

    return __getattr__, __dir__
