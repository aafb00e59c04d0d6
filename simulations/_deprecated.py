"""Deprecated import paths: a module moved elsewhere keeps its old name as a forwarding shim.

A shim module calls :func:`forward` with its own name and the new module; the returned
module-level ``__getattr__`` (PEP 562) hands out the new module's attributes and emits a
:class:`DeprecationWarning` naming the new path on every access, so ``from old import name``
keeps working and says where ``name`` lives now.  ``dir(shim)`` deliberately does not list the
forwarded names: tools that walk ``dir()`` (pytest's collection, autodoc) would warn on each.

:func:`forward_public` is the variant for a module that moved whole under a new name: only
the new module's ``__all__`` is forwarded, the warning names ``new.name``, and ``dir(shim)``
lists those names (neither shim is a test module nor documented, so no tool walks them).
:func:`forward_tool` forwards to a repository tool of ``tests/tools``.
"""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import sys
import warnings

__all__ = ["forward", "forward_public", "forward_tool"]


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


def forward_public(old, new):
    """Return ``(__getattr__, __dir__)`` of the shim ``old`` of the module now named ``new``.

    The names of ``new.__all__`` resolve at the old path to the same objects, each access
    with a :class:`DeprecationWarning` naming ```new.name```; any other name raises
    ``AttributeError`` without a warning.

    Parameters
    ----------
    old : str
        Dotted name of the shim (the deprecated path).
    new : str
        Dotted name of the module that now holds the code (imported at once).

    Returns
    -------
    tuple of callable
        The shim's module-level ``__getattr__`` and ``__dir__`` (the sorted ``new.__all__``).
    """
    target = importlib.import_module(new)

    def __getattr__(name):
        if name in target.__all__:
            warnings.warn(f"`{old}.{name}` moved to `{new}.{name}`; import it from there "
                          "(the old path will be removed in the next release).",
                          DeprecationWarning, stacklevel=2)
            return getattr(target, name)
        raise AttributeError(f"module {old!r} has no attribute {name!r}")

    def __dir__():
        return sorted(target.__all__)

    return __getattr__, __dir__

def forward_tool(old, tool):
    """Return ``(__getattr__, main)`` of the shim ``old`` of the repository tool ``tests/tools/<tool>.py``.

    Repository tools live with the tests (they need a source checkout), so they are loaded by
    file path, not imported as a package; attribute access and ``python -m old ...`` both
    forward with a :class:`DeprecationWarning` naming ``python -m tests.tools.<tool>``.

    Parameters
    ----------
    old : str
        Dotted name of the shim (the deprecated path).
    tool : str
        File stem of the tool in ``tests/tools/``.

    Returns
    -------
    tuple of callable
        The shim's module-level ``__getattr__`` and a ``main(argv)`` that warns and runs the tool.
    """
    path = pathlib.Path(__file__).resolve().parents[1] / "tests" / "tools" / f"{tool}.py"
    new = f"tests.tools.{tool}"

    def load():
        module = sys.modules.get(new)
        if module is None:
            if not path.exists():
                raise ImportError(f"{old} moved to tests/tools/{tool}.py, which needs a source "
                                  f"checkout; not found at {path}")
            spec = importlib.util.spec_from_file_location(new, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        return module

    def __getattr__(name):
        value = getattr(load(), name)
        warnings.warn(f"{old} is deprecated: use tests/tools/{tool}.py (python -m {new})",
                      DeprecationWarning, stacklevel=2)
        return value

    def main(argv):
        warnings.warn(f"python -m {old} is deprecated: use python -m {new}", DeprecationWarning,
                      stacklevel=2)
        return load().main(argv)

    return __getattr__, main
