"""Tidy results: :mod:`simulations.results` and ``python -m simulations export``."""

import json
import math
import sys
import tomllib
import pathlib

import pytest
import toy_experiment

from simulations import registry
from simulations.cli import main
from simulations.runner import run_experiment
from simulations.results import TidyDependencyError, export, load_claims, load_records
from simulations.store import read_records

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A toy run and a convex-class run (declares RECORD_AXES) with a small config."""
    out = tmp_path_factory.mktemp("runs")
    registry.register_module(toy_experiment)
    try:
        run_experiment(toy_experiment, toy_experiment.Config.quick(), seed=1, out_dir=out)
        convex = registry.get("convex-class")
        run_experiment(convex, convex.Config(ns=(8,), replicates=40), seed=1, out_dir=out)
        yield out
    finally:
        registry.unregister(toy_experiment.NAME)


def test_records_frame_has_one_row_per_record(runs):
    frame = load_records(runs, "toy-power-law")
    records = read_records(runs / "toy-power-law")
    assert len(frame) == len(records) == 64
    assert list(frame.columns[:4]) == ["experiment", "cell", "rep", "record"]
    assert frame["y"].tolist() == [r["y"] for r in records]
    assert frame["x"].dtype.kind == "i" and frame["y"].dtype.kind == "f"


def test_declared_axis_is_exploded_with_the_config_values(runs):
    convex = registry.get("convex-class")
    assert convex.RECORD_AXES == {"cov": "Ns"}
    records = read_records(runs / "convex-class")
    ns_values = list(json.loads((runs / "convex-class" / "meta.json").read_text())
                     ["config"]["Ns"])
    frame = load_records(runs, "convex-class")
    assert len(frame) == len(records) * len(ns_values)
    assert frame["cov"].dtype.kind == "f" and frame["Ns"].dtype.kind == "f"
    for i in (0, 7, len(records) - 1):  # record i, point j is cov[j] at N = Ns[j]
        block = frame[frame["record"] == i]
        assert block["Ns"].tolist() == ns_values
        assert block["cov"].tolist() == records[i]["cov"]
        assert (block["kl"] == records[i]["kl"]).all()
    flat = load_records(runs, "convex-class", explode=False)
    assert len(flat) == len(records) and flat["cov"].tolist() == [r["cov"] for r in records]


def test_claims_frame_has_numbers_beside_display_strings(runs):
    frame = load_claims(runs)
    raw = {c["id"]: c for name in ("toy-power-law", "convex-class")
           for c in json.loads((runs / name / "claims.json").read_text())}
    assert sorted(frame["id"]) == sorted(raw)
    for row in frame.itertuples():
        claim = raw[row.id]
        m = claim["measured"]
        if isinstance(m, (int, float)) and not isinstance(m, bool):
            assert row.measured_value == m
        else:
            assert math.isnan(row.measured_value)
        assert isinstance(row.measured, str)
        interval = claim["interval"]
        if interval is None:
            assert math.isnan(row.ci_low) and math.isnan(row.ci_high)
        else:
            assert (row.ci_low, row.ci_high) == tuple(interval)
    assert frame["measured_value"].notna().any()  # the slopes are numbers
    one = load_claims(runs, "toy-power-law")
    assert set(one["experiment"]) == {"toy-power-law"}


def test_missing_run_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished run of 'convex-class'"):
        load_records(tmp_path, "convex-class")
    with pytest.raises(FileNotFoundError, match="no claims.json"):
        load_claims(tmp_path)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_cli_round_trips(runs, tmp_path, fmt, capsys):
    registry.register_module(toy_experiment)
    try:
        assert main(["export", str(runs), "--format", fmt, "--dest", str(tmp_path)]) == 0
    finally:
        registry.unregister(toy_experiment.NAME)
    written = capsys.readouterr().out.split()
    assert sorted(pathlib.Path(p).name for p in written) == sorted(
        [f"claims.{fmt}", f"convex-class.records.{fmt}", f"toy-power-law.records.{fmt}"])
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    back = read(tmp_path / f"convex-class.records.{fmt}")
    expected = load_records(runs, "convex-class")
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    claims = read(tmp_path / f"claims.{fmt}")
    assert len(claims) == len(load_claims(runs))


def test_export_errors_exit_2(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no finished run" in err[0]
    assert main(["export", str(tmp_path), "--format", "xlsx"]) == 2
    with pytest.raises(ValueError, match="fmt"):
        export(tmp_path, fmt="xlsx")


def test_missing_pandas_names_the_extra(runs, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(TidyDependencyError, match=r"coverage-principle\[tidy\]"):
        load_records(runs, "convex-class")
    monkeypatch.setitem(sys.modules, "pandas", pd)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(TidyDependencyError, match="pyarrow"):
        export(runs, fmt="parquet")


def test_tidy_extra_is_declared_and_installed_in_ci():
    root = pathlib.Path(__file__).resolve().parents[2]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {d.split(">")[0] for d in extras["tidy"]} == {"pandas", "pyarrow"}
    assert "tidy" in (root / ".ci" / "run").read_text().split(".[", 1)[1].split("]", 1)[0]
