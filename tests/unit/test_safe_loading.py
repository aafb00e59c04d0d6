"""Nothing read from a results folder is executed or unpickled.

Results and configs are read with :mod:`json` (and arrays, if ever, with
``np.load(..., allow_pickle=False)``).  This test parses every source file of the toolkit
(``theory``, ``simulations``, ``proofs_check``) and rejects unpickling modules, ``eval``/
``exec``, unsafe YAML loading and ``np.load`` without an explicit ``allow_pickle=False``.
(Executors serialise *tasks* with pickle on their own; that is transport between our own
processes, not reading of results.)
"""

import ast
import json
import pathlib

import pytest

from simulations.store import TaskStore, read_records

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("theory", "simulations", "proofs_check")
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "shelve", "marshal",
                  "joblib"}


def _sources():
    for pkg in PACKAGES:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def _violations(path, root=ROOT):
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            out += [f"{where}: import {a.name}" for a in node.names
                    if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in UNSAFE_MODULES:
                out.append(f"{where}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("eval", "exec"):
                out.append(f"{where}: {func.id}()")
            if isinstance(func, ast.Attribute):
                owner = func.value.id if isinstance(func.value, ast.Name) else None
                if func.attr == "read_pickle":
                    out.append(f"{where}: read_pickle")
                if owner == "yaml" and func.attr in ("load", "unsafe_load", "full_load"):
                    out.append(f"{where}: yaml.{func.attr}")
                if owner in ("np", "numpy") and func.attr == "load":
                    safe = any(k.arg == "allow_pickle" and isinstance(k.value, ast.Constant)
                               and k.value.value is False for k in node.keywords)
                    if not safe:
                        out.append(f"{where}: np.load without allow_pickle=False")
    return out


def test_sources_never_unpickle_or_execute_data():
    files = list(_sources())
    assert len(files) > 20  # the scan really sees the toolkit
    bad = [v for f in files for v in _violations(f)]
    assert not bad, "\n".join(bad)


def test_the_scan_detects_unsafe_reading(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import pickle\nimport numpy as np\nnp.load('a.npy')\neval('1')\n")
    found = _violations(probe, root=tmp_path)
    assert len(found) == 3, found


def test_records_are_plain_json_data(tmp_path):
    """A record that looks like a serialised object stays a plain dict when read back."""
    store = TaskStore(tmp_path, experiment="e", seed=0, config={})
    payload = {"__reduce__": "os.system", "py/object": "os.system", "__class__": "x"}
    store.append(0, 0, [payload])
    assert read_records(tmp_path) == [{**payload, "cell": 0, "rep": 0}]
    line = (tmp_path / "records.jsonl").read_text().splitlines()[0]
    assert json.loads(line)["records"] == [payload]


@pytest.mark.parametrize("name", ["meta.json", "claims.json"])
def test_results_files_are_json(tmp_path, name):
    import dataclasses
    import sys
    import types

    from simulations.runner import Claim, Task, run_experiment

    mod = types.ModuleType("safe_loading_toy")

    @dataclasses.dataclass(frozen=True)
    class Config:
        @classmethod
        def quick(cls):
            return cls()

        @classmethod
        def full(cls):
            return cls()

    mod.__dict__.update(NAME="safe-toy", PAPER_REF="-", TITLE="-", TOPIC="-", Config=Config,
                        tasks=lambda c: [Task(0, 0, {})],
                        run_task=lambda c, t, *, rng: [{"v": 1.0}],
                        claims=lambda c, r: [Claim("x", "-", "-", 1, 1, None, "exact", True)],
                        plot=lambda c, r, d: [])
    sys.modules["safe_loading_toy"] = mod
    try:
        run_experiment(mod, Config(), seed=0, out_dir=tmp_path)
    finally:
        sys.modules.pop("safe_loading_toy", None)
    json.loads((tmp_path / "safe-toy" / name).read_text())
