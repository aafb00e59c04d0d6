"""Old import paths of the moved ``simulations`` modules still work, and say where the code lives now.

Each shim hands out the very object of the new module with a ``DeprecationWarning`` naming the
new path; an unknown attribute is still an ``AttributeError``; ``python -m simulations.docs_map``
still runs the tool (now ``tests/tools/docs_map.py``).
"""

import importlib
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

MOVED = [
    ("simulations.experiment", "simulations.runner", "run_experiment"),
    ("simulations.experiment", "simulations.runner", "Task"),
    ("simulations.strategies", "simulations.testing.strategies", "linear_models"),
    ("simulations.instance_runs", "simulations.testing.instance_runs", "run_sgd"),
]


@pytest.mark.parametrize("old, new, name", MOVED)
def test_old_path_forwards_with_a_deprecation_warning(old, new, name):
    pytest.importorskip("hypothesis")
    shim = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=f"import {name} from {new}"):
        value = getattr(shim, name)
    assert value is getattr(importlib.import_module(new), name)


def test_unknown_attribute_is_still_an_attribute_error():
    shim = importlib.import_module("simulations.experiment")
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        shim.not_a_name  # noqa: B018


def test_docs_tool_shims_forward_attributes_and_the_command_line():
    shim = importlib.import_module("simulations.docs_map")
    with pytest.warns(DeprecationWarning, match="tests/tools/docs_map.py"):
        github_anchor = shim.github_anchor
    assert github_anchor("A b") == "a-b"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "simulations.docs_map", "--check-links"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "deprecated" in proc.stderr
