"""``docs/record-schemas.md`` is generated from the experiments and covers every one of them."""

import dataclasses
import importlib.util
import pathlib
import sys

import pytest

from simulations import registry


def _load_tool(name):
    """Import ``tests/tools/<name>.py`` by path (the repository root need not be on sys.path)."""
    qualified = f"tests.tools.{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            qualified, pathlib.Path(__file__).resolve().parents[1] / "tools" / f"{name}.py")
        sys.modules[qualified] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[qualified])
    return sys.modules[qualified]


_tool = _load_tool("record_schemas")
describe_value, experiment_schema = _tool.describe_value, _tool.experiment_schema
schema_markdown = _tool.schema_markdown

PAGE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "record-schemas.md"


def _sections(text):
    parts = {}
    for block in text.split("\n## ")[1:]:
        name, _, body = block.partition("\n")
        parts[name.strip()] = body
    return parts


def test_page_has_a_section_per_experiment_with_its_config_fields():
    sections = _sections(PAGE.read_text())
    experiments = registry.all_experiments()
    assert sorted(sections) == sorted(m.NAME for m in experiments)
    for m in experiments:
        for field in dataclasses.fields(m.Config):
            assert f"| `{field.name}` |" in sections[m.NAME], (m.NAME, field.name)
        for field, axis in getattr(m, "RECORD_AXES", {}).items():
            assert f"`{field}[i]` at `config.{axis}[i]`" in sections[m.NAME]


def test_observed_fields_match_a_real_run():
    convex = registry.get("convex-class")
    schema = experiment_schema(convex)
    quick = convex.Config.quick()
    assert schema["fields"]["cov"] == [f"list[float] ({len(quick.Ns)})"]
    assert schema["fields"]["converged"] == ["bool"] and schema["fields"]["n"] == ["int"]
    assert schema["n_records"] == quick.replicates
    line = f"| `cov` | list[float] ({len(quick.Ns)}) |"
    assert line in _sections(schema_markdown([schema]))["convex-class"]
    assert line in _sections(PAGE.read_text())["convex-class"]


def test_describe_value():
    assert [describe_value(v) for v in (True, 3, 2.5, "a", None, {}, [], [1, 2.0])] == [
        "bool", "int", "float", "str", "null", "object", "list[?] (0)", "list[float|int] (2)"]


@pytest.mark.slow
def test_page_is_current():
    """Regenerating the page (one task per experiment, about a minute) reproduces it."""
    text = schema_markdown([experiment_schema(m) for m in registry.all_experiments()])
    assert text == PAGE.read_text(), "python -m tests.tools.record_schemas --write docs/record-schemas.md"
