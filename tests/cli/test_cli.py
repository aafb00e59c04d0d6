"""End-to-end tests of ``python -m simulations`` through :func:`simulations.cli.main`."""

import json
import subprocess
import sys

import numpy as np
import pytest
import toy_experiment

from simulations import registry
from simulations.cli import main
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


def test_list_names_every_experiment(toy, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert any(line.strip().startswith("toy-power-law") and "test only" in line and toy.TITLE in line
               for line in out.splitlines())
    for module in registry.all_experiments():
        assert module.NAME in out and module.PAPER_REF in out


def test_list_via_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "simulations", "list"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_unknown_experiment_exits_2(capsys, tmp_path):
    assert main(["run", "no-such-experiment", "--out", str(tmp_path)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "no-such-experiment" in line


@pytest.mark.parametrize("argv", [
    ["run", "toy-power-law", "--seed", "-1"],
    ["run", "toy-power-law", "--seed", "abc"],
    ["run", "toy-power-law", "--jobs", "0"],
    ["run", "toy-power-law", "--executor", "ray"],
    ["reproduce", "--seed", "1.5"],
    ["reproduce", "--no-such-flag"],
    ["run"],
    ["bench", "--json"],
    ["frobnicate"],
    [],
])
def test_bad_flag_values_exit_2(argv, toy, capsys):
    assert main(argv) == 2
    line = _one_line_error(capsys.readouterr().err)  # no usage dump
    assert line.startswith("python -m simulations: error: ")


def test_help_still_prints_usage(capsys):
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage:" in out and "--allow-stale" in out and "--executor" in out


def test_unwritable_out_dir_exits_2(toy, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["run", toy.NAME, "--quick", "--out", str(blocker / "sub")]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "cannot write to output folder" in line


def test_run_end_to_end(toy, tmp_path, capsys):
    assert main(["run", toy.NAME, "--quick", "--seed", "4", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / toy.NAME
    lines = (folder / "records.jsonl").read_text().splitlines()
    cfg = toy.Config.quick()
    assert len(lines) == len(cfg.xs) * cfg.reps
    claims = json.loads((folder / "claims.json").read_text())
    assert claims[0]["id"] == "toy-power-law/slope" and claims[0]["passed"] is True
    assert {"id", "paper_ref", "statement", "predicted", "measured", "interval", "evaluation",
            "passed"} <= claims[0].keys()
    png = folder / "toy_rate.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((folder / "meta.json").read_text())["seed"] == 4
    assert "toy-power-law/slope" in out and "PASS" in out
    # rerun resumes: no task executed again, same claims
    toy.CALLS.clear()
    assert main(["run", toy.NAME, "--quick", "--seed", "4", "--out", str(tmp_path)]) == 0
    assert toy.CALLS == []
    assert json.loads((folder / "claims.json").read_text()) == claims


def test_rerun_with_other_seed_in_same_folder_exits_2(toy, tmp_path, capsys):
    assert main(["run", toy.NAME, "--quick", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["run", toy.NAME, "--quick", "--seed", "9", "--out", str(tmp_path)]) == 2
    assert "refusing to resume" in _one_line_error(capsys.readouterr().err)


def test_process_pool_matches_serial(toy, tmp_path):
    assert main(["run", toy.NAME, "--quick", "--out", str(tmp_path / "serial")]) == 0
    assert main(["run", toy.NAME, "--quick", "--jobs", "2", "--out", str(tmp_path / "pool")]) == 0
    # Timings live in timings.jsonl and a complete file is in (cell, rep) order: same bytes.
    serial = (tmp_path / "serial" / toy.NAME / "records.jsonl").read_bytes()
    assert (tmp_path / "pool" / toy.NAME / "records.jsonl").read_bytes() == serial
    assert len(read_records(tmp_path / "serial" / toy.NAME)) == 4 * toy.Config.quick().reps


@pytest.fixture
def only_toy(toy, monkeypatch):
    monkeypatch.setattr(registry, "all_experiments", lambda: [toy])
    monkeypatch.setattr(registry, "import_errors", lambda: {})
    return toy


def test_reproduce_writes_report(only_toy, tmp_path, capsys):
    assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    report = (tmp_path / "report.md").read_text()
    assert "root seed" in report and "## zz test" in report
    assert "| toy-power-law/slope |" in report and "PASS" in report
    assert f"({only_toy.NAME}/toy_rate.png)" in report
    assert ("1 prediction tested: 1 pass, 0 fail, 0 underpowered; 0 exploratory (0 fail); "
            "0 sanity checks (all pass)") in out


def _toy_claims(**kw):
    """Claims on the toy records built by the rules: each verdict comes out of its rule."""
    from simulations.claims import exponent_claim, not_run_in_quick, sanity_claim

    def claims(config, records):
        xs = np.array(config.xs, dtype=float)
        ys = [np.array([r["y"] for r in records if r["x"] == x]) for x in config.xs]
        out = [exponent_claim("toy/explore", "test only", "exploratory: slope -1 (false)", xs, ys,
                              predicted=-1.0, evaluation="monte_carlo", exploratory=True),
               sanity_claim("toy/sanity", "test only", "one plus one", 1.0 + 1.0, 2.0, tolerance=0.0)]
        if kw.get("fail"):
            out.append(exponent_claim("toy/bad", "test only", "slope -1 (false)", xs, ys,
                                      predicted=-1.0, evaluation="monte_carlo"))
        if kw.get("underpowered"):
            out.append(exponent_claim("toy/weak", "test only", "two points only", xs[:2],
                                      [y[:3] for y in ys[:2]], predicted=-0.5,
                                      few_points_reason="deliberately weak", evaluation="monte_carlo"))
        if kw.get("not_run"):
            out.append(not_run_in_quick(
                exponent_claim("toy/full-only", "test only", "two points only", xs[:2],
                               [y[:3] for y in ys[:2]], predicted=-0.5,
                               few_points_reason="full preset only", evaluation="monte_carlo"),
                reason="needs the full grid"))
        return out
    return claims


def test_reproduce_exit_1_when_a_claim_fails(only_toy, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(only_toy, "claims", _toy_claims(fail=True))
    assert main(["reproduce", "--quick", "--out", str(tmp_path),
                 "--readme", str(_readme(tmp_path))]) == 1
    out = capsys.readouterr().out
    assert "1 prediction tested: 0 pass, 1 fail, 0 underpowered; 1 exploratory (1 fail); " \
           "1 sanity check (all pass)" in out
    report = (tmp_path / "report.md").read_text()
    html = (tmp_path / "report.html").read_text()
    readme = _readme(tmp_path).read_text()
    for text in (report, html, readme):   # the exploratory failure is visible everywhere
        assert "exploratory: fails" in text and "FAIL" in text
    assert "Sanity checks" in report and "| toy/sanity |" in report
    assert "## Binding claims that are not PASS" in report


def _readme(tmp_path):
    path = tmp_path / "README.md"
    if not path.exists():
        path.write_text("# x\n<!-- claims table -->\n<!-- /claims table -->\n")
    return path


def test_reproduce_exit_1_when_a_claim_is_underpowered(only_toy, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(only_toy, "claims", _toy_claims(underpowered=True))
    assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 1
    assert "  UNDERPOWERED (sample size) toy/weak\n" in capsys.readouterr().out


def test_reproduce_not_run_in_quick_is_listed_not_failed(only_toy, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(only_toy, "claims", _toy_claims(not_run=True))
    assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    tail = out[out.index("not run in quick (1;"):]
    assert tail.splitlines()[1].strip() == "toy/full-only" and "1 not run in quick" in out
    assert "not run in quick" in (tmp_path / "report.md").read_text()


def test_a_quick_data_failure_is_shown_next_to_not_run_in_quick():
    from simulations.claims import exponent_claim, not_run_in_quick
    from simulations.report import verdict

    x = np.array([8.0, 16, 32, 64])
    wrong = exponent_claim("toy/q", "test only", "s", x, x[:, None] ** -1.0 * np.ones((4, 1)),
                           predicted=0.0, evaluation="exact")
    right = exponent_claim("toy/q", "test only", "s", x, x[:, None] ** -1.0 * np.ones((4, 1)),
                           predicted=-1.0, evaluation="exact")
    assert wrong.verdict == "FAIL" and right.verdict == "PASS"
    assert verdict(not_run_in_quick(wrong, reason="r")) == "not run in quick (quick data: FAIL)"
    assert verdict(not_run_in_quick(right, reason="r")) == "not run in quick"


def test_reproduce_only_exploratory_failures_pass(only_toy, tmp_path, monkeypatch):
    monkeypatch.setattr(only_toy, "claims", _toy_claims())
    assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 0


def test_legacy_claims_are_flagged(only_toy, tmp_path, monkeypatch):
    from simulations.runner import Claim

    monkeypatch.setattr(only_toy, "claims", lambda config, records: [
        Claim("toy/old", "-", "x", 1.0, 1.0, None, "exact", True)])
    assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "PASS (legacy)" in report and "1 with legacy verdicts" in report


def test_reproduce_crash_is_reported(only_toy, tmp_path, monkeypatch, capsys):
    def boom(config, records):
        raise RuntimeError("analysis exploded")

    monkeypatch.setattr(only_toy, "claims", boom)
    assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 1
    assert "analysis exploded" in (tmp_path / "report.md").read_text()


def test_reproduce_ends_with_a_short_summary(only_toy, tmp_path, monkeypatch, capsys):
    """No claim table on the terminal: headline, counts per verdict, the binding claims that
    are not PASS by name, those not run in quick, the report path."""
    from collections import Counter

    monkeypatch.setattr(only_toy, "claims", _toy_claims(fail=True, underpowered=True,
                                                        not_run=True))
    assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "| id |" not in out and "|---|" not in out
    summary = out[out.index("reproduce: 1 experiment(s) in "):].splitlines()
    assert len(summary) <= 12, summary
    claims = json.loads((tmp_path / only_toy.NAME / "claims.json").read_text())
    counts = Counter(c["verdict"] for c in claims)
    assert summary[1].startswith("2 predictions tested: 0 pass, 1 fail, 1 underpowered")
    assert summary[2] == "verdicts: " + ", ".join(
        f"{v} {counts[v]}" for v in ("PASS", "FAIL", "UNDERPOWERED", "exploratory: holds",
                                     "exploratory: fails", "exploratory: inconclusive",
                                     "not run in quick") if counts[v])
    not_pass = [c for c in claims if not c["exploratory"]
                and c["verdict"] not in ("PASS", "not run in quick")]
    assert {c["id"] for c in not_pass} == {"toy/bad", "toy/weak"}
    start = summary.index(f"binding claims that are not PASS ({len(not_pass)}):")
    from simulations.claims import Claim
    from simulations.report import verdict
    assert summary[start + 1:start + 1 + len(not_pass)] == [f"  {verdict(Claim.from_dict(c))} {c['id']}"
                                                           for c in not_pass]
    assert any("UNDERPOWERED (" in line for line in summary)    # why power is missing is shown
    assert summary[-1].startswith(f"report: {tmp_path / 'report.md'} (and report.html)")


def test_unknown_experiment_suggests_the_closest_name():
    from simulations import registry

    with pytest.raises(registry.UnknownExperimentError, match=r"did you mean 'sgd-rates'\?"):
        registry.get("sgd-rate")
    with pytest.raises(registry.UnknownExperimentError) as err:  # nothing close: no suggestion
        registry.get("zzzzzz")
    assert "did you mean" not in str(err.value)
