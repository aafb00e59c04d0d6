"""Measured run times: ``python -m simulations timings OUT`` and what ``list`` shows.

The numbers must come from a finished run's store (``timings.jsonl`` per task, ``meta.json``
and the files' times), never from a run that is unfinished or not of a preset, and the
committed ``simulations/timings.json`` must describe the presets as they are now.
"""

import dataclasses
import json
import time

import pytest
import toy_experiment

from simulations import registry, timings
from simulations.cli import main
from simulations.store import read_timings


@pytest.fixture
def toy():
    registry.register_module(toy_experiment)
    toy_experiment.CALLS.clear()
    yield toy_experiment
    registry.unregister(toy_experiment.NAME)


@pytest.fixture
def toy_run(toy, tmp_path_factory):
    """A finished quick run of the toy experiment and how long it took from outside."""
    out = tmp_path_factory.mktemp("timed")
    start = time.time()
    assert main(["run", toy.NAME, "--quick", "--out", str(out)]) in (0, 1)
    return out, time.time() - start


def test_timings_records_the_sums_of_the_stored_task_seconds(toy, toy_run, tmp_path, capsys):
    out, outside = toy_run
    path = tmp_path / "timings.json"
    assert main(["timings", str(out), "--file", str(path)]) == 0
    assert f"measured {toy.NAME} (quick)" in capsys.readouterr().out
    entry = timings.load_timings(path)[toy.NAME]["quick"]
    stored = read_timings(out / toy.NAME)
    assert entry["tasks"] == len(stored) == len(toy.tasks(toy.Config.quick()))
    assert entry["task_seconds"] == pytest.approx(sum(t["elapsed"] for t in stored), abs=2e-3)
    assert entry["longest_task_seconds"] == pytest.approx(max(t["elapsed"] for t in stored),
                                                          abs=2e-3)
    assert entry["jobs"] == len({t["worker"] for t in stored}) == 1  # a serial run
    # one session: the wall-clock from its start (whole seconds) to its last file
    assert entry["seconds_from"] == "wall_seconds"
    assert 0 <= entry["wall_seconds"] <= outside + 1.0
    assert entry["measured"] == json.loads((out / toy.NAME / "meta.json").read_text())[
        "created"][:10]


def test_unfinished_runs_and_set_runs_are_not_measured(toy, toy_run, tmp_path, capsys):
    out, _ = toy_run
    path = tmp_path / "timings.json"
    other = tmp_path / "other"
    assert main(["run", toy.NAME, "--quick", "--out", str(other), "--set", "reps=3"]) in (0, 1)
    assert main(["timings", str(other), "--file", str(path)]) == 0
    assert "neither the current quick nor the full preset" in capsys.readouterr().out
    assert timings.load_timings(path) == {}
    (out / toy.NAME / "claims.json").unlink()          # as if the run were still going
    assert main(["timings", str(out), "--file", str(path)]) == 0
    assert "not finished" in capsys.readouterr().out
    assert timings.load_timings(path) == {}


def test_a_later_update_keeps_the_other_measurements(toy, toy_run, tmp_path):
    out, _ = toy_run
    path = tmp_path / "timings.json"
    path.write_text(json.dumps({"format": 1, "experiments": {
        "kept": {"full": {"seconds": 60.0, "jobs": 2, "cores": 2, "measured": "2026-01-01"}}}}))
    assert main(["timings", str(out), "--file", str(path)]) == 0
    data = timings.load_timings(path)
    assert data["kept"]["full"]["seconds"] == 60.0 and "quick" in data[toy.NAME]


def test_timings_of_a_missing_folder_exits_2(tmp_path, capsys):
    assert main(["timings", str(tmp_path / "nope"), "--file", str(tmp_path / "t.json")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "nope" in err[0]


def test_list_shows_measured_times_or_not_measured(toy, toy_run, tmp_path, monkeypatch, capsys):
    out, _ = toy_run
    path = tmp_path / "timings.json"
    assert main(["timings", str(out), "--file", str(path)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(timings, "TIMINGS_PATH", path)
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (i,) = [i for i, line in enumerate(lines) if line.split()[:1] == [toy.NAME]]
    entry = timings.load_timings(path)[toy.NAME]["quick"]
    assert lines[i + 1].split() == ["time", "quick", timings.format_duration(entry["seconds"]),
                                    "(measured", f"{entry['measured']},", "--jobs", "1", "on",
                                    f"{entry['cores']}", "cores),", "full", "not", "measured"]
    assert main(["list", "--json"]) == 0
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["name"] == toy.NAME]
    assert row["time_quick"] == entry and row["time_full"] is None


@pytest.mark.parametrize("seconds, text", [(0.04, "~0.04s"), (3.2, "~3s"), (12.4, "~12s"),
                                           (150, "~2.5 min"), (7200, "~2.0 h")])
def test_format_duration(seconds, text):
    assert timings.format_duration(seconds) == text


def test_a_measurement_of_an_older_preset_is_not_shown(toy, toy_run, tmp_path, monkeypatch,
                                                        capsys):
    out, _ = toy_run
    path = tmp_path / "timings.json"
    assert main(["timings", str(out), "--file", str(path)]) == 0
    monkeypatch.setattr(timings, "TIMINGS_PATH", path)
    quick = toy.Config.quick()
    monkeypatch.setattr(toy.Config, "quick", classmethod(
        lambda cls: dataclasses.replace(quick, reps=quick.reps + 1)))
    capsys.readouterr()
    assert main(["list", "--json"]) == 0
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["name"] == toy.NAME]
    assert row["time_quick"] is None
    assert row["time_notes"] == [f"the quick preset changed after the measurement of "
                                 f"{timings.load_timings(path)[toy.NAME]['quick']['measured']}"]
    assert main(["list"]) == 0
    assert "quick not measured, full not measured; the quick preset changed" in \
        capsys.readouterr().out


def test_the_committed_timings_are_well_formed():
    """Every committed measurement names a known experiment and a preset, with the fields
    ``list`` uses; where the preset is unchanged its task count is the preset's."""
    data = timings.load_timings()
    assert data, "simulations/timings.json is missing or empty"
    known = {m.NAME: m for m in registry.all_experiments()}
    for name, presets in data.items():
        assert name in known, name
        for preset, entry in presets.items():
            assert preset in timings.PRESETS
            assert entry["seconds"] > 0 and entry["jobs"] >= 1 and entry["measured"]
            assert len(entry["config_sha256"]) == 64
            assert entry["seconds"] == (entry["wall_seconds"] if entry["wall_seconds"] is not None
                                        else round(max(entry["task_seconds"] / entry["jobs"],
                                                       entry["longest_task_seconds"]), 1))
            module = known[name]
            if timings.lookup(module, preset, data)[0] is not None:
                assert entry["tasks"] == len(module.tasks(getattr(module.Config, preset)()))


def test_the_reproduce_bar_weighs_tasks_by_their_measured_seconds(toy, tmp_path, monkeypatch):
    """With a measurement for one experiment, the overall bar advances by its seconds per task
    and by their mean for an experiment never measured; the ETA then knows slow from fast."""
    import fault_experiment

    import simulations.progress as progress

    registry.register_module(fault_experiment)
    monkeypatch.setattr(registry, "all_experiments", lambda: [fault_experiment, toy])
    monkeypatch.setattr(registry, "import_errors", lambda: {})
    n_fault = len(fault_experiment.tasks(fault_experiment.Config.quick()))
    n_toy = len(toy.tasks(toy.Config.quick()))
    path = tmp_path / "timings.json"
    path.write_text(json.dumps({"format": 1, "experiments": {toy.NAME: {"quick": {
        "tasks": n_toy, "seconds": 3.0 * n_toy, "jobs": 1, "measured": "2026-01-01",
        "config_sha256": timings.config_digest(timings._preset_config(toy, "quick"))}}}}))
    monkeypatch.setattr(timings, "TIMINGS_PATH", path)
    made = []

    class Counting(progress.NoOpBar):
        n = 0.0

        def update(self, n=1):
            self.n += n

    def spy(*args, **kwargs):
        bar = Counting()
        made.append((kwargs, bar))
        return bar

    monkeypatch.setattr(progress, "progress_bar", spy)
    try:
        assert main(["reproduce", "--quick", "--out", str(tmp_path / "out")]) in (0, 1)
    finally:
        registry.unregister(fault_experiment.NAME)
    (kwargs, bar), = [(k, b) for k, b in made if k.get("desc") == "reproduce"]
    # 3 s per toy task; the unmeasured fault experiment gets the mean of the measured: 3 s too
    assert kwargs["total"] == pytest.approx(3.0 * (n_toy + n_fault))
    assert kwargs["initial"] == 0 and "{remaining}" in kwargs["bar_format"]
    assert bar.n == pytest.approx(3.0 * (n_toy + n_fault))


def test_task_weights_without_measurements_count_tasks():
    from simulations.progress import task_weights as _task_weights

    modules = [toy_experiment]
    assert _task_weights(modules, "quick") == {toy_experiment.NAME: 1.0}
