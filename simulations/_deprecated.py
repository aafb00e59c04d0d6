"""Deprecated import paths: a module moved elsewhere keeps its old name as a forwarding shim.

A shim module calls :func:`forward` with its own name and the new module; the returned
module-level ``__getattr__`` (PEP 562) hands out the new module's attributes and emits a
:class:`DeprecationWarning` naming the new path on every access, so ``from old import name``
keeps working and says where ``name`` lives now.  ``dir(shim)`` deliberately does not list the
forwarded names: tools that walk ``dir()`` (pytest's collection, autodoc) would warn on each.
"""

from __future__ import annotations

import importlib
import warnings

__all__ = ["forward"]


def forward(old, new):
    """Return the module-level ``__getattr__`` of the shim ``old`` forwarding to ``new``.

    Parameters
    ----------
    old : str
        Dotted name of the shim (the deprecated path).
    new : str
        Dotted name of the module that now holds the code.

    Returns
    -------
    callable
        ``__getattr__(name)`` for the shim's module namespace.
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

    return __getattr__
