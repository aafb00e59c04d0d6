"""Layout of :mod:`theory.log_ratio`: one-way imports, and the deprecated old import paths.

The package was three modules that imported each other (``theory/log_ratio.py``,
``theory/certified.py``, ``theory/characteristic.py``).  These tests keep it a package whose
import arrows point one way (the order of :data:`LAYERS`), with no function-level imports
and no private names taken from a sibling, and check that the old paths still work for one
release, warn with the new path, and are used nowhere in the repository.
"""

from __future__ import annotations

import ast
import importlib
import pathlib
import re
import warnings

import pytest

import theory.log_ratio

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "theory" / "log_ratio"

#: Modules of the package from the bottom up: each may import only modules before it.
LAYERS = ("parameters", "markov", "exact", "lattice", "fourier", "certified", "stopped")

#: Old module -> the names it served, and the path the warning must name for each.
OLD_PATHS = {
    "theory.certified": {"certified_log_ratio": "theory.log_ratio",
                         "certified_coverage": "theory.log_ratio",
                         "certified_stopped_kl": "theory.log_ratio",
                         "CertifiedBounds": "theory.log_ratio",
                         "CertifiedLogRatioLaw": "theory.log_ratio"},
    "theory.characteristic": {"markov_characteristic_function": "theory.log_ratio",
                              "FourierCoverageLaw": "theory.log_ratio",
                              "certified_fourier_law": "theory.log_ratio.fourier"},
}


def _sibling_imports(path):
    """``[(sibling module, imported names, at module level?)]`` of one module of the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            sibling = (node.module or "").split(".")[0]
            out.append((sibling, [a.name for a in node.names], id(node) in top))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("theory.log_ratio"):
            out.append((node.module.split(".")[2] if node.module.count(".") > 1 else "",
                        [a.name for a in node.names], id(node) in top))
    return out


def test_layers_cover_the_package():
    """Every module of the package has its place in LAYERS (a new module must be placed)."""
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS)


@pytest.mark.parametrize("module", LAYERS)
def test_imports_point_down_at_module_level_and_take_no_private_name(module):
    """Each module imports only modules below it, at module level, and no `_private` sibling name."""
    below = set(LAYERS[:LAYERS.index(module)])
    for sibling, names, top_level in _sibling_imports(PACKAGE / f"{module}.py"):
        assert top_level, f"{module} imports {sibling} inside a function"
        assert sibling in below, f"{module} imports {sibling}, which is not below it in {LAYERS}"
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{module} imports private names {private} from {sibling}"


def test_the_checks_catch_an_upward_import_a_function_level_import_and_a_private_name(tmp_path):
    """Negative control: the import parser sees the three defects the layering test refuses."""
    # negative control: a fake module with the three defects the test above refuses
    fake = tmp_path / "fake.py"
    fake.write_text("from .certified import certified_coverage\n"
                    "def f():\n    from .lattice import tables\n"
                    "from .lattice import _hidden\n", encoding="utf-8")
    found = _sibling_imports(fake)
    assert ("certified", ["certified_coverage"], True) in found
    assert ("lattice", ["tables"], False) in found
    assert ("lattice", ["_hidden"], True) in found


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_every_module_is_below_800_lines(path):
    """No module of the package reaches 800 lines."""
    assert len(path.read_text(encoding="utf-8").splitlines()) < 800


@pytest.mark.parametrize("old,name", [(o, n) for o, names in OLD_PATHS.items() for n in names])
def test_old_import_path_still_works_and_warns_with_the_new_path(old, name):
    """`theory.certified.X` / `theory.characteristic.X` return the same object and warn naming the new path."""
    module = importlib.import_module(old)
    new = OLD_PATHS[old][name]
    with pytest.warns(DeprecationWarning, match=re.escape(f"use `{new}.{name}`")):
        obj = getattr(module, name)
    assert obj is getattr(importlib.import_module(new), name)


def test_old_import_path_refuses_unknown_names_and_importing_it_does_not_warn():
    """Importing a shim is silent; an unknown name raises AttributeError; dir() does not list the moved names.

    (Tools that walk ``dir(module)``, as pytest's collection does, would otherwise trip the warning.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module = importlib.reload(importlib.import_module("theory.certified"))
        with pytest.raises(AttributeError, match="no attribute 'nothing'"):
            module.nothing                                    # noqa: B018
    assert "certified_coverage" not in dir(module)


def test_new_paths_are_the_package_names():
    """The package exports are defined in its submodules, and `theory.<name>` reaches them without a warning."""
    for name in theory.log_ratio.__all__:
        assert getattr(theory.log_ratio, name).__module__.startswith(("theory.log_ratio.", "theory.intervals"))
    import theory as package

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert package.certified_coverage is theory.log_ratio.certified_coverage


_OLD_IMPORT = re.compile(r"\b(?:from|import)\s+theory\.(?:certified|characteristic|_chain)\b"
                         r"|\bfrom\s+theory\s+import\s+[^\n]*\b(?:certified|characteristic)\b"
                         r"|\.\./theory/(?:certified|characteristic|log_ratio|_chain)\.py\b")


def test_nothing_in_the_repository_uses_the_old_paths():
    """No import or docs link in the repository uses the deprecated paths (with a negative control)."""
    this = pathlib.Path(__file__).resolve()
    shims = {ROOT / "theory" / "certified.py", ROOT / "theory" / "characteristic.py"}
    files = [p for folder in ("theory", "simulations", "tests", "proofs_check", "docs")
             for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md", ".rst")]
    files.append(ROOT / "README.md")
    offenders = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in files
                 if p.resolve() != this and p not in shims and "_build" not in p.parts
                 for m in _OLD_IMPORT.finditer(p.read_text(encoding="utf-8"))]
    assert not offenders, offenders
    assert _OLD_IMPORT.search("from theory.certified import certified_coverage")      # negative control
    assert _OLD_IMPORT.search("[`x`](../theory/characteristic.py)")
