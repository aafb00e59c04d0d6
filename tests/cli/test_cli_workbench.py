"""``--version``, ``list`` by topic and ``--json``, ``run --set`` and ``reproduce --only``."""

import json
import subprocess
import sys

import pytest
import toy_experiment

from simulations import registry
from simulations.cli import config_with_overrides, main, version_text, UsageError
from simulations.store import read_records


@pytest.fixture
def toy():
    registry.register_module(toy_experiment)
    toy_experiment.CALLS.clear()
    yield toy_experiment
    registry.unregister(toy_experiment.NAME)


def _one_line_error(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "error" in lines[0]
    return lines[0]


def test_version_names_package_version_and_revision(capsys):
    from importlib import metadata

    from simulations.store import git_revision

    assert main(["--version"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"coverage-principle {metadata.version('coverage-principle')} ")
    rev = git_revision()
    assert (rev in out) if rev else ("unknown" in out)


def test_version_outside_a_git_checkout(tmp_path):
    text = version_text(tmp_path)  # tmp_path is no git checkout
    assert text.startswith("coverage-principle ")
    assert "git revision unknown: not a git checkout" in text


def test_version_via_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "simulations", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("coverage-principle ")


def test_list_groups_by_topic_with_task_counts(toy, capsys):
    from simulations.report import order_topics

    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    experiments = registry.all_experiments()
    footer = max(i for i, line in enumerate(lines) if line.startswith("times: "))
    headers = [i for i, line in enumerate(lines[:footer]) if line and not line.startswith(" ")]
    topics = [lines[i].rsplit(" (", 1)[0] for i in headers]
    assert topics == order_topics((m.TOPIC, m.PAPER_REF) for m in experiments)  # each once
    for m in experiments:
        (i,) = [i for i, line in enumerate(lines) if line.split()[:1] == [m.NAME]]
        header = max(h for h in headers if h < i)
        assert lines[header].startswith(m.TOPIC + " (")
        quick, full = len(m.tasks(m.Config.quick())), len(m.tasks(m.Config.full()))
        assert f"tasks quick {quick:>4} / full {full:>5}" in lines[i], lines[i]
        assert lines[i + 1].split()[:2] == ["time", "quick"], lines[i + 1]


def test_list_puts_the_coverage_paper_before_the_vgb_paper(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    vgb = [("VGB" in r["paper_ref"]) for r in rows]
    assert any(vgb) and not all(vgb)
    assert vgb == sorted(vgb), [r["name"] for r in rows]  # every VGB experiment after the rest


def test_list_json(toy, capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["name"] for r in rows) == sorted(m.NAME for m in registry.all_experiments())
    (row,) = [r for r in rows if r["name"] == toy.NAME]
    assert row == {"name": toy.NAME, "topic": toy.TOPIC, "paper_ref": toy.PAPER_REF,
                   "title": toy.TITLE, "tasks_quick": 64, "tasks_full": 96,
                   "time_quick": None, "time_full": None}


def test_set_converts_to_the_field_type(toy):
    config = config_with_overrides(toy, toy.Config.quick(),
                                   ["reps=3", "xs=8,16", "exponent=-1"])
    assert config == toy.Config(xs=(8, 16), reps=3, exponent=-1.0)
    assert isinstance(config.exponent, float) and all(isinstance(x, int) for x in config.xs)
    assert config_with_overrides(toy, toy.Config.quick(), []) == toy.Config.quick()


@pytest.mark.parametrize("item, words", [
    ("nope=3", ["nope", "not a Config field", "reps"]),
    ("reps=three", ["reps", "integer"]),
    ("reps", ["KEY=VALUE"]),
    ("exponent=nan", ["exponent", "finite"]),
    ("xs=8,x", ["xs", "integer"]),
])
def test_bad_set_is_refused(toy, item, words):
    with pytest.raises(UsageError) as err:
        config_with_overrides(toy, toy.Config.quick(), [item])
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("item, words", [
    ("ns=", ["ns", "must not be empty"]),
    ("ns=0,8", ["ns=0,8", "> 0"]),
    ("replicates=0", ["replicates", "> 0"]),
])
def test_set_outside_the_presets_domain_is_refused(item, words):
    module = registry.get("prop-3-2")
    with pytest.raises(UsageError) as err:
        config_with_overrides(module, module.Config.quick(), [item])
    for word in words:
        assert word in str(err.value)
    # the control: values inside the domain pass
    assert config_with_overrides(module, module.Config.quick(), ["ns=8", "replicates=3"]).ns == (8,)


def test_bad_set_on_the_command_line_exits_2_before_writing(toy, tmp_path, capsys):
    assert main(["run", toy.NAME, "--quick", "--out", str(tmp_path), "--set", "nope=1"]) == 2
    assert "nope" in _one_line_error(capsys.readouterr().err)
    assert not (tmp_path / toy.NAME).exists() and toy.CALLS == []


def test_set_a_value_the_config_rejects():
    import dataclasses
    import types

    @dataclasses.dataclass(frozen=True)
    class Config:
        reps: int = 4

        def __post_init__(self):
            if self.reps < 1:
                raise ValueError("`reps` must be >= 1")

    module = types.SimpleNamespace(NAME="checked", Config=Config)
    assert config_with_overrides(module, Config(), ["reps=2"]).reps == 2
    with pytest.raises(UsageError, match="reps.*must be >= 1"):
        config_with_overrides(module, Config(), ["reps=0"])


def test_set_an_unconvertible_value_on_a_real_experiment_exits_2(tmp_path, capsys):
    module = registry.all_experiments()[0]
    import dataclasses
    ints = [f.name for f in dataclasses.fields(module.Config)
            if type(getattr(module.Config.quick(), f.name)) is int]
    assert ints, module.NAME
    status = main(["run", module.NAME, "--quick", "--out", str(tmp_path),
                   "--set", f"{ints[0]}=oops"])
    assert status == 2
    assert ints[0] in _one_line_error(capsys.readouterr().err)


def test_run_with_set_uses_the_override(toy, tmp_path, capsys):
    assert main(["run", toy.NAME, "--quick", "--out", str(tmp_path),
                 "--set", "reps=5", "--set", "xs=8,16,32,64"]) in (0, 1)
    records = read_records(tmp_path / toy.NAME)
    assert sorted({r["x"] for r in records}) == [8, 16, 32, 64]
    assert len(records) == 20 and len(toy.CALLS) == 20
    meta = json.loads((tmp_path / toy.NAME / "meta.json").read_text())
    assert meta["config"]["reps"] == 5 and meta["config"]["xs"] == [8, 16, 32, 64]


def test_reproduce_only_runs_the_named_experiments(toy, tmp_path, capsys):
    assert main(["reproduce", "--quick", "--only", toy.NAME, "--out", str(tmp_path)]) in (0, 1)
    out = capsys.readouterr().out
    assert f"[1/1] {toy.NAME}" in out
    ran = sorted(p.name for p in tmp_path.iterdir() if (p / "records.jsonl").exists())
    assert ran == [toy.NAME]
    assert (tmp_path / "report.md").exists()


def test_reproduce_only_unknown_name_exits_2(tmp_path, capsys):
    assert main(["reproduce", "--quick", "--only", "no-such-experiment",
                 "--out", str(tmp_path)]) == 2
    assert "no-such-experiment" in _one_line_error(capsys.readouterr().err)


def test_reproduce_refuses_readme_with_only(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# R\n")
    assert main(["reproduce", "--quick", "--only", "prop-g2", "--out", str(tmp_path / "o"),
                 "--readme", str(readme)]) == 2
    assert "--only" in _one_line_error(capsys.readouterr().err)
    assert readme.read_text() == "# R\n" and not (tmp_path / "o" / "prop-g2").exists()
