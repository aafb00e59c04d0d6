"""Importing the registry (every experiment module) or plotting never changes matplotlib's backend."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import matplotlib
    matplotlib.use("svg")              # stands for a notebook's inline backend
    import matplotlib.pyplot as plt
    from simulations import registry
    assert registry.all_experiments() and not registry.import_errors(), registry.import_errors()
    assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
    import pathlib, sys
    import numpy as np
    from simulations.plots import line_plot
    out = pathlib.Path(sys.argv[1]) / "line.png"
    line_plot(np.array([1.0, 2.0, 4.0]), {"a": np.array([1.0, 0.5, 0.25])}, xlabel="x",
              ylabel="y", title="t", path=out)
    assert out.stat().st_size > 0
    assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
    assert plt.get_fignums() == [], plt.get_fignums()   # no figure left open in pyplot
    print("OK")
""")


def test_registry_import_and_plotting_keep_the_backend(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stderr


def test_the_check_detects_a_backend_switch(tmp_path):
    # negative control: a module that calls matplotlib.use("Agg") at import is caught
    (tmp_path / "switcher.py").write_text("import matplotlib\nmatplotlib.use('Agg')\n")
    script = SCRIPT.replace("from simulations import registry",
                            "import switcher\nfrom simulations import registry")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": path})
    assert proc.returncode != 0 and "agg" in proc.stderr.lower()
