"""``python -m simulations bench``: the runner, the table, the JSON rows and the exit status."""

import json

import numpy as np
import pytest

from simulations import bench
from simulations.cli import main

JSON_FIELDS = {"name", "params", "seconds", "throughput", "unit", "reference", "reference_ratio",
               "machine_limit", "machine_ratio", "target", "passed"}


@pytest.fixture
def only(monkeypatch):
    """Replace the registry by the workloads a test defines."""
    monkeypatch.setattr(bench, "WORKLOADS", {})
    monkeypatch.setattr(bench, "collect_workloads", lambda: {})
    return bench.workload


def _sum_workload(ctx):
    x = np.ones(10_000)
    times = ctx.race(lambda: x.sum(), lambda: sum(x.tolist()), repeat=2)
    return {"params": {"n": x.size}, **times, "work": (x.size, "elem"), "machine_limit": "np.exp",
            "reference": "Python sum", "target": "reference_ratio >= 1", "passed": False}


def test_table_and_json_rows(tmp_path, only, capsys):
    only("test/sum")(_sum_workload)
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(path)]) == 0      # quick: no verdict, exit 0
    out = capsys.readouterr().out
    assert "machine/np.exp" in out and "machine/GEMM" in out and "test/sum" in out
    assert "FAIL" not in out and "PASS" not in out
    rows = json.loads(path.read_text())
    assert [r["name"] for r in rows] == ["machine/np.exp", "machine/GEMM", "test/sum"]
    assert rows[0]["params"]["n"] == 2 ** 22                        # the exp baseline is full size
    row = rows[2]
    assert JSON_FIELDS <= set(row)
    assert row["passed"] is None and row["params"] == {"n": 10_000}
    assert row["reference_ratio"] == pytest.approx(row["reference_seconds"] / row["seconds"])
    assert row["machine_ratio"] == pytest.approx(row["throughput"] / rows[0]["throughput"])
    assert row["unit"] == "elem/s"


def test_full_mode_gives_verdicts(only, capsys):
    only("test/sum")(_sum_workload)
    assert main(["bench"]) == 1                                     # the workload says FAIL
    assert "FAIL" in capsys.readouterr().out


def test_failing_workload_is_an_error_row_in_quick_mode_too(only, capsys):
    @only("test/broken")
    def _broken(ctx):
        raise ValueError("nope")

    assert main(["bench", "--quick"]) == 1
    assert "ERROR" in capsys.readouterr().out


def test_unwritable_json_exits_2(tmp_path, capsys):
    assert main(["bench", "--quick", "--json", str(tmp_path / "missing" / "b.json")]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error" in lines[0]


def test_registry_names_and_modules():
    """Every workload module of the package imports and registers its rows; no row or target
    text cites an issue number."""
    assert bench.collect_workloads() == {}
    names = set(bench.WORKLOADS)
    assert {"sgd/w1-end-to-end", "sgd/large-R", "core/enumerate-coverage", "tournament/simple",
            "vgb/walk-dyck", "mle/finite-class-grid", "certified/fourier-inhomogeneous"} <= names
    assert not any("issue" in n.lower() or "#" in n for n in names)


def test_workload_registered_twice_is_refused(only):
    only("test/a")(_sum_workload)
    with pytest.raises(ValueError, match="already registered"):
        only("test/a")(lambda ctx: None)


def test_verdict_from_ratio_thresholds_and_fastest_exp(only):
    """``min_*_ratio`` verdicts use the row's own ratios; the np.exp rate is the fastest seen."""
    @only("test/ratios")
    def _ratios(ctx):
        return {"params": {}, "seconds": 1.0, "reference_seconds": 3.0, "work": (ctx.exp_rate, "elem"),
                "machine_limit": "np.exp", "exp_rate": ctx.exp_rate / 2,   # a slower re-timing
                "min_reference_ratio": 2.0, "min_machine_ratio": 0.9}

    rows = bench.run_benchmarks(quick=False, repeat=1, names=["test/ratios"])
    row = rows[2]
    assert row.reference_ratio == pytest.approx(3.0)
    assert row.machine_limit_rate == rows[0].throughput              # not the slower re-timing
    assert row.machine_ratio == pytest.approx(1.0) and row.passed is True
    WORKLOADS_FAIL = {"min_reference_ratio": 4.0}

    @only("test/ratios-fail")
    def _fail(ctx):
        return {**_ratios(ctx), **WORKLOADS_FAIL}

    assert bench.run_benchmarks(quick=False, repeat=1, names=["test/ratios-fail"])[2].passed is False
    assert bench.run_benchmarks(quick=True, repeat=1, names=["test/ratios-fail"])[2].passed is None


def test_race_in_blocks_times_the_mean_of_back_to_back_calls():
    """``race(block=s)``: one warm-up and one calibrating call each, then ``k`` turns of
    ``ceil(s / t)`` back-to-back calls, each turn's time the mean per call; a slow first call
    (loading code) neither sets the count nor enters the times."""
    import time

    calls = {"toolkit": 0, "reference": 0}

    def fn(name, seconds, first=0.0):
        def go():
            calls[name] += 1
            time.sleep(first if calls[name] == 1 else seconds)
        return go

    ctx = bench.BenchContext(quick=True, exp_rate=1.0, gemm_rate=1.0, repeat=3)
    out = ctx.race(fn("toolkit", 0.001, first=0.3), fn("reference", 0.03), block=0.03)
    n_tool, n_ref = out["calls_per_block"]["toolkit"], out["calls_per_block"]["reference"]
    assert 2 <= n_tool <= 30 and n_ref == 1        # 30 ms of 1 ms calls (1 if set by the 0.3 s call)
    assert calls == {"toolkit": 2 + 3 * n_tool, "reference": 2 + 3 * n_ref}
    assert 0.001 <= out["seconds"] < 0.1 and out["reference_seconds"] >= 0.03
    single = ctx.race(fn("toolkit", 0.001), repeat=1)            # block=0: single calls, as before
    assert "calls_per_block" not in single and calls["toolkit"] == 3 + 3 * n_tool


def test_table_fits_the_width_and_keeps_every_detail():
    long_target = "machine_ratio >= 0.7 and reference_ratio >= 1 " * 4
    rows = [bench.BenchResult("sgd/w1", {"R": 4, "K": 8, "sampler": "numpy"}, 0.01, 3e7,
                              "token/s", reference="numpy loop", reference_ratio=6.0,
                              other_references={"per-sample loop": {"ratio": 51.8}},
                              target=long_target, passed=True),
            bench.BenchResult("sgd/broken", error="ValueError: bad size " * 8)]
    table = bench.format_table(rows, width=80)
    lines = table.splitlines()
    assert max(map(len, lines)) <= 80
    flat = " ".join(table.split())
    assert " ".join(long_target.split()) in flat                   # wrapped, not cut
    assert "params: R=4 K=8 sampler=numpy" in flat and "vs per-sample loop: 51.8" in flat
    assert "error: ValueError" in flat
    assert [ln.split()[-1] for ln in lines if ln.startswith("sgd/")] == ["PASS", "ERROR"]
    wide = bench.format_table(rows, width=400)
    assert len(wide.splitlines()) < len(lines)                      # wrapping is what made it long
