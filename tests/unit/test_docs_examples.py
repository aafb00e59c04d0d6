"""The notebook-style example under docs/examples runs, and leaves matplotlib's backend alone."""

import pathlib
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pandas")

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "examples" / "results_in_a_dataframe.py"


def test_dataframe_example_runs_without_touching_the_backend(tmp_path):
    driver = textwrap.dedent(f"""
        import runpy, sys
        import matplotlib
        matplotlib.use("svg")                    # stands for a notebook's inline backend
        sys.argv = ["example", {str(tmp_path)!r}]
        ns = runpy.run_path({str(EXAMPLE)!r}, run_name="__main__")
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
        frame = ns["records"]
        assert {{"n", "Ns", "cov", "rep", "record"}} <= set(frame.columns)
        assert len(frame) == 2 * 200 * len(ns["config"].Ns)
        assert len(ns["claims"]) > 0 and ns["claims"]["measured_value"].notna().any()
        assert ns["path"].stat().st_size > 0
        print("OK")
    """)
    proc = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("OK") and "figure:" in proc.stdout
