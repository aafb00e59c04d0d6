"""Notebook-style example: an experiment's results as a DataFrame, plotted on your own axes.

Run it as a script (``python docs/examples/results_in_a_dataframe.py [OUT]``) or paste the
cells into Jupyter.  It runs a small ``convex-class`` configuration (about ten seconds), loads the
records in long format with :func:`simulations.results.load_records` (one row per replicate
and value of ``N``), averages the coverage per ``(n, N)``, and draws it on an ``ax`` it
creates itself.  Nothing here calls ``matplotlib.use``: the backend of your session (inline
in Jupyter) is left alone.  Needs the ``tidy`` extra (pandas).
"""

# %%
import pathlib
import sys
import tempfile

from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from simulations import registry
from simulations.runner import run_experiment
from simulations.results import load_claims, load_records

out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(tempfile.mkdtemp())

# %% Run a small configuration (rerunning resumes from OUT).
module = registry.get("convex-class")
config = module.Config(ns=(8, 16), replicates=200)
result = run_experiment("convex-class", config, seed=0, out_dir=out)

# %% Long format: one row per (task, replicate, N); `Ns` is the swept axis from the config.
records = load_records(out, "convex-class")
coverage = records.groupby(["n", "Ns"], as_index=False)["cov"].mean()
print(coverage.to_string(index=False))

# %% Claims with numeric columns beside the display strings.
claims = load_claims(out, "convex-class")
print(claims[["id", "verdict", "measured", "measured_value", "ci_low", "ci_high"]]
      .to_string(index=False))

# %% Plot on our own axes (in a notebook: `fig, ax = plt.subplots()` works the same way).
fig = Figure(figsize=(5, 3.5))
ax = fig.add_subplot()
for n, group in coverage.groupby("n"):
    ax.plot(group["Ns"], group["cov"].where(group["cov"] > 0), "o-", label=f"n = {n}")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xticks(config.Ns, [f"{v:g}" for v in config.Ns])  # one label per N, no overprint
ax.xaxis.set_minor_locator(NullLocator())
ax.set_xlabel("$N$")
ax.set_ylabel(r"mean $\mathrm{Cov}_N(\hat\pi)$")
ax.set_title("convex class: coverage of the MLE (zeros omitted)")
ax.legend()
fig.tight_layout()
path = out / "coverage_vs_N.png"
fig.savefig(path, dpi=100)
print(f"figure: {path}")
