"""``python -m simulations calibrate``: failure counts over seeds against stated false-fail rates."""

import json

import numpy as np
import pytest
import toy_experiment

from simulations import registry
from simulations.calibrate import LEVEL, calibration_rows, parse_seeds
from simulations.claims import Claim, exponent_claim
from simulations.cli import main


@pytest.fixture
def toy():
    registry.register_module(toy_experiment)
    toy_experiment.CALLS.clear()
    yield toy_experiment
    registry.unregister(toy_experiment.NAME)


def test_parse_seeds():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("5,1-2,5") == [1, 2, 5]
    for bad in ("3-1", "-1", "a", "1-b", ""):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def _claim(cid, verdict, rate, power=0.95):
    return Claim(id=cid, paper_ref="x", statement="s", predicted=0, measured=0, interval=None,
                 evaluation="monte_carlo", verdict=verdict, rule="r", power=power,
                 alternative="a", false_fail_rate=rate)


def test_rows_apply_the_binomial_test_at_one_percent():
    seeds = range(20)
    by_seed = {s: [_claim("a/one-fail", "FAIL" if s == 8 else "PASS", 1e-3),
                   _claim("a/two-fails", "FAIL" if s in (3, 8) else "PASS", 1e-3),
                   _claim("a/exact", "FAIL" if s == 0 else "PASS", 0.0),
                   _claim("a/weak", "UNDERPOWERED" if s == 2 else "PASS", 1e-3,
                          power=0.5 if s == 2 else 0.95),
                   Claim("a/legacy", "x", "s", 0, 0, None, "exact", True)] for s in seeds}
    rows = {r.id: r for r in calibration_rows(by_seed)}
    # P[Bin(20, 1e-3) >= 1] = 0.0198 >= 1%, P[>= 2] = 1.9e-4 < 1%
    assert rows["a/one-fail"].consistent and rows["a/one-fail"].failing_seeds == (8,)
    assert rows["a/one-fail"].p_value == pytest.approx(1 - (1 - 1e-3) ** 20)
    assert rows["a/two-fails"].consistent is False and rows["a/two-fails"].p_value < LEVEL
    assert rows["a/exact"].consistent is False
    assert rows["a/weak"].underpowered == 1 and rows["a/weak"].fails == 0
    assert rows["a/legacy"].stated_rate is None and rows["a/legacy"].consistent is None


def test_calibrate_end_to_end_resumes_and_restricts(toy, tmp_path, capsys):
    argv = ["calibrate", "--seeds", "0-2", "--quick", "--only", toy.NAME, "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "3 seeds" in out and "toy-power-law/slope" in out
    report = json.loads((tmp_path / "calibration.json").read_text())
    (row,) = report["claims"]
    assert row["seeds"] == 3 and row["consistent"] is True and report["seeds"] == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["seed-0", "seed-1", "seed-2"]
    toy.CALLS.clear()
    assert main(argv) == 0                        # everything resumed from the stores
    assert toy.CALLS == []


def test_calibrate_exposes_a_biased_claim(toy, tmp_path, monkeypatch, capsys):
    def biased(config, records):   # predicts -0.75 for data with exponent -1/2: fails every seed
        xs = np.array(config.xs, dtype=float)
        ys = [np.array([r["y"] for r in records if r["x"] == x]) for x in config.xs]
        return [exponent_claim(f"{toy.NAME}/biased", "test only", "slope -3/4", xs, ys,
                               predicted=-0.75, evaluation="monte_carlo")]

    monkeypatch.setattr(toy, "claims", biased)
    assert main(["calibrate", "--seeds", "0-2", "--quick", "--only", toy.NAME,
                 "--out", str(tmp_path)]) == 1
    row = json.loads((tmp_path / "calibration.json").read_text())["claims"][0]
    assert row["fails"] == 3 and row["consistent"] is False


def test_calibrate_unknown_experiment_exits_2(tmp_path, capsys):
    assert main(["calibrate", "--only", "no-such", "--out", str(tmp_path)]) == 2
    assert main(["calibrate", "--seeds", "5-1", "--out", str(tmp_path)]) == 2
