"""The package-level API of :mod:`theory`: every exported name resolves, is documented and
is the object of its defining module, and ``import theory`` stays lazy."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import types

import pytest

import theory


@pytest.mark.parametrize("name", theory.__all__)
def test_exported_name_resolves_and_is_documented(name):
    obj = getattr(theory, name)
    assert inspect.getdoc(obj), f"theory.{name} has no docstring"
    assert inspect.getdoc(obj).strip().splitlines()[0], f"theory.{name}: empty summary line"
    if isinstance(obj, types.ModuleType):
        assert obj.__name__ == f"theory.{name}"
    else:
        home = importlib.import_module(obj.__module__)
        assert getattr(home, obj.__name__) is obj
        # Exported from a public module that lists it (so the API reference documents it).
        defining = theory._EXPORTS.get(name)
        if defining is not None:
            assert name in getattr(importlib.import_module(f"theory.{defining}"), "__all__")


def test_exports_are_in_the_package_docstring():
    for name in theory.__all__:
        if name != "allocation_budget" and theory._EXPORTS[name] is not None:
            assert f"`{name}`" in theory.__doc__, f"theory.{name} missing from theory's docstring"


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        theory.no_such_name  # noqa: B018


def test_dir_lists_the_exports():
    assert set(theory.__all__) <= set(dir(theory))


def test_import_theory_is_lazy():
    # Importing the package must not import its heavy submodules (nor scipy).
    code = ("import sys, theory; "
            "print(sorted(m for m in sys.modules if m.startswith(('theory.', 'scipy'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", out
