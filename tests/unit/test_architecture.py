"""The architecture of ``theory/`` and ``simulations/``: import arrows point down, files stay small.

Every module of both packages is parsed with :mod:`ast` (never imported), including imports
inside functions, and the test fails on

* an **import cycle** between modules (the cycle is printed, e.g. ``a -> b -> a``);
* **layering**: ``theory`` importing ``simulations``; ``simulations.learners`` or
  ``simulations.samplers`` importing ``simulations.experiments``;
* a **private name** (``_x``, not a dunder) imported from another module of either package
  (``from a import _x`` where ``a`` is not the importing module; relative imports resolved);
* a **source file over** :data:`MAX_LINES` lines.

How imports become edges: ``import a.b`` and ``from a.b import c`` point to the module
``a.b`` (or to ``a.b.c`` when ``c`` is a submodule).  The parent packages that Python also
initialises are not edges: a submodule importing a sibling through its package's absolute
path (``simulations.claims.bound`` -> ``simulations.claims.record``) is not a cycle through
``simulations/claims/__init__.py``.  Dynamic imports (``importlib.import_module``) are not
seen, which is why the runner hands ``run_task`` itself to the executors.

Deprecation shims (:data:`SHIMS`) are left out: they only forward old import paths.
Violations that live in files owned by engineers working in parallel are listed in
:data:`PENDING` with the owner's branch, so this test passes now; the lead removes each entry
when its branch lands (:func:`test_pending_entries_are_still_needed` says which).  The
negative controls run the same checkers on small temporary packages with a cycle, a private
import, a layering violation and an oversized file.
"""

from __future__ import annotations

import ast
import pathlib
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("theory", "simulations")
MAX_LINES = 800

#: Deprecated import paths kept as forwarding shims (module -> reason); not checked.
SHIMS = {
    "simulations.experiment": "shim: the experiment contract and runner moved to simulations.runner",
    "simulations.strategies": "shim: moved to simulations.testing.strategies",
    "simulations.instance_runs": "shim: moved to simulations.testing.instance_runs",
    "simulations.docs_map": "shim: the documentation tool moved to tests/tools/docs_map.py",
    "simulations.record_schemas": "shim: the schema page generator moved to tests/tools/record_schemas.py",
}

#: Known violations in files owned by other branches of the same renovation:
#: violation key -> "owner branch: what removes it".  Keys: ("cycle", frozenset of modules),
#: ("private", importing module, "source.name"), ("layer", importing module, imported module),
#: ("size", "path/of/file.py").
PENDING = {
}


# --------------------------------------------------------------------------- the checkers

def module_files(root, packages=PACKAGES):
    """Return ``{dotted module name: path}`` for every ``.py`` file of ``packages`` under ``root``."""
    out = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = path
    return out


def _resolve(node, module, is_package):
    """Absolute module named by an ``ImportFrom`` (``from . import x`` resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path, module):
    """Yield ``(target module, imported name or None, line)`` for every import in ``path``.

    ``import a.b`` yields ``("a.b", None, line)``; ``from a.b import c`` yields
    ``("a.b", "c", line)``; relative imports are resolved against ``module``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(node, module, is_package)
            for alias in node.names:
                yield source, alias.name, node.lineno


def import_graph(files, skip=()):
    """Return ``{module: {imported internal module: first line}}`` over ``files``."""
    graph = {}
    for module, path in files.items():
        if module in skip:
            continue
        edges = graph.setdefault(module, {})
        for source, name, line in imports_of(path, module):
            target = f"{source}.{name}" if name and f"{source}.{name}" in files else source
            if target in files and target != module and target not in skip:
                edges.setdefault(target, line)
    return graph


def find_cycles(graph):
    """Return one cycle (list of modules, first repeated last) per strongly connected component."""
    index, low, stack, on_stack, comps = {}, {}, [], set(), []
    counter = [0]

    def strongconnect(v):  # Tarjan, iterative over the successors of each node
        work = [(v, iter(sorted(graph.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.add(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    cycles = []
    for comp in comps:  # a shortest path back to the start, inside the component
        start = min(comp)
        prev, frontier, found = {start: None}, [start], None
        while frontier and found is None:
            nxt = []
            for u in frontier:
                for w in sorted(graph.get(u, ())):
                    if w == start:
                        found = u
                        break
                    if w in comp and w not in prev:
                        prev[w] = u
                        nxt.append(w)
                if found is not None:
                    break
            frontier = nxt
        path = [found]
        while prev[path[-1]] is not None:
            path.append(prev[path[-1]])
        cycles.append(path[::-1] + [start])
    return cycles


def private_imports(files, skip=()):
    """Return ``[(importing module, "source.name", line)]`` for private names imported across modules."""
    out = []
    for module, path in files.items():
        if module in skip:
            continue
        for source, name, line in imports_of(path, module):
            if name is None or not source.startswith(PACKAGES_PREFIXES(files)):
                continue
            if name.startswith("_") and not (name.startswith("__") and name.endswith("__")) \
                    and source != module and not _package_private(files, module, source, name):
                out.append((module, f"{source}.{name}", line))
    return out


def _package_private(files, module, source, name):
    """``True`` if ``source.name`` is a private *module* of the importer's own package.

    ``from . import _kernels`` inside ``pkg.sub`` is how a package keeps an implementation
    module to itself (numpy's ``from . import _core``); importing it from elsewhere is not.
    """
    return f"{source}.{name}" in files and module.rpartition(".")[0] == source


def PACKAGES_PREFIXES(files):  # noqa: N802 - the top-level packages present in ``files``
    return tuple(sorted({m.split(".")[0] for m in files}))


def layer_violations(graph):
    """Return ``[(importer, imported)]`` for arrows that point up."""
    rules = [("theory", ("simulations",)),
             ("simulations.learners", ("simulations.experiments",)),
             ("simulations.samplers", ("simulations.experiments",))]
    out = []
    for module, edges in graph.items():
        for lower, forbidden in rules:
            if module == lower or module.startswith(lower + "."):
                for target in edges:
                    if any(target == f or target.startswith(f + ".") for f in forbidden):
                        out.append((module, target))
    return sorted(out)


def oversized(files, root, limit=MAX_LINES, skip=()):
    """Return ``[(relative path, lines)]`` of files longer than ``limit`` lines."""
    out = []
    for module, path in files.items():
        if module in skip:
            continue
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append((path.relative_to(root).as_posix(), n))
    return sorted(out)


def violations(root, packages=PACKAGES, skip=frozenset(SHIMS)):
    """Every violation of the rules above, as ``{key: message}`` (keys as in :data:`PENDING`)."""
    files = module_files(root, packages)
    graph = import_graph(files, skip)
    out = {}
    for cycle in find_cycles(graph):
        out[("cycle", frozenset(cycle))] = "import cycle: " + " -> ".join(cycle)
    for module, name, line in private_imports(files, skip):
        out[("private", module, name)] = f"{files[module].relative_to(root)}:{line}: imports private {name}"
    for module, target in layer_violations(graph):
        out[("layer", module, target)] = f"{module} imports {target} (arrow points up)"
    for path, n in oversized(files, root, skip=skip):
        out[("size", path)] = f"{path} has {n} lines (> {MAX_LINES})"
    return out


# --------------------------------------------------------------------------- the repository

@pytest.fixture(scope="module")
def found():
    return violations(ROOT)


def test_no_new_violation(found):
    """No cycle, upward arrow, cross-module private import or oversized file beyond PENDING."""
    new = [msg for key, msg in sorted(found.items(), key=str) if key not in PENDING]
    assert not new, "\n".join(new)


def test_pending_entries_are_still_needed(found):
    """Every PENDING entry is a violation that still exists (remove it once its branch lands)."""
    stale = [f"{key} ({owner})" for key, owner in PENDING.items() if key not in found]
    assert not stale, "remove from PENDING:\n" + "\n".join(stale)


def test_shims_are_shims():
    """Each listed shim exists, is short, and forwards (imports nothing of its own package's internals)."""
    files = module_files(ROOT)
    for module, reason in SHIMS.items():
        assert module in files, f"{module} listed in SHIMS but absent"
        text = files[module].read_text(encoding="utf-8")
        assert len(text.splitlines()) < 60 and "Deprecated" in text and reason


def test_the_walk_sees_both_packages_and_function_level_imports():
    files = module_files(ROOT)
    assert "theory.coverage" in files and "simulations.runner" in files
    graph = import_graph(files)
    # run_experiment imports the registry inside the function
    assert "simulations.registry" in graph["simulations.runner"]


# --------------------------------------------------------------------------- negative controls

def _package(tmp_path, files):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def test_negative_control_cycle_through_a_function_level_import(tmp_path):
    root = _package(tmp_path, {
        "theory/__init__.py": "",
        "theory/a.py": "from theory.b import g\n",
        "theory/b.py": "def g():\n    from theory import c\n",
        "theory/c.py": "from .a import *\n",
        "simulations/__init__.py": "",
    })
    found = violations(root)
    cycles = [msg for key, msg in found.items() if key[0] == "cycle"]
    assert cycles == ["import cycle: theory.a -> theory.b -> theory.c -> theory.a"]


def test_negative_control_private_import_relative_and_absolute(tmp_path):
    root = _package(tmp_path, {
        "theory/__init__.py": "",
        "theory/a.py": "def _helper():\n    pass\n",
        "theory/b.py": "from .a import _helper\n",
        "simulations/__init__.py": "",
        "simulations/c.py": "from theory.a import _helper, __doc__\nfrom numpy import _globals\n",
    })
    keys = {k for k in violations(root) if k[0] == "private"}
    assert keys == {("private", "theory.b", "theory.a._helper"),
                    ("private", "simulations.c", "theory.a._helper")}


def test_negative_control_layers_and_size(tmp_path):
    root = _package(tmp_path, {
        "theory/__init__.py": "",
        "theory/a.py": "import simulations.stats\n" + "x = 1\n" * (MAX_LINES + 1),
        "simulations/__init__.py": "",
        "simulations/stats.py": "",
        "simulations/experiments/__init__.py": "",
        "simulations/experiments/e.py": "",
        "simulations/learners/__init__.py": "",
        "simulations/learners/l.py": "def f():\n    from simulations.experiments import e\n",
        "simulations/samplers/__init__.py": "",
        "simulations/samplers/s.py": "from ..experiments import e\n",
    })
    found = violations(root)
    assert {k for k in found if k[0] == "layer"} == {
        ("layer", "theory.a", "simulations.stats"),
        ("layer", "simulations.learners.l", "simulations.experiments.e"),
        ("layer", "simulations.samplers.s", "simulations.experiments.e")}
    assert {k for k in found if k[0] == "size"} == {("size", "theory/a.py")}


def test_negative_control_a_shim_is_skipped_only_when_listed(tmp_path):
    root = _package(tmp_path, {
        "theory/__init__.py": "",
        "simulations/__init__.py": "",
        "simulations/new.py": "from simulations.old import x\n",
        "simulations/old.py": "from simulations.new import *\nx = 1\n",
    })
    assert any(k[0] == "cycle" for k in violations(root, skip=frozenset()))
    assert not any(k[0] == "cycle" for k in violations(root, skip=frozenset({"simulations.old"})))
