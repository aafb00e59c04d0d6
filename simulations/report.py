"""Markdown report of a ``reproduce`` run: header, per-topic claims tables, figures."""

from __future__ import annotations

import datetime as _dt
import math
import os
import pathlib

from simulations.store import environment_info, git_revision

__all__ = ["claims_table_markdown", "write_report", "verdict", "format_value"]

_COLUMNS = ("id", "statement", "paper ref", "predicted", "measured", "interval",
            "evaluation", "verdict")


def verdict(claim):
    """``"PASS"``, ``"FAIL"`` or ``"exploratory"``."""
    if claim.exploratory:
        return "exploratory"
    return "PASS" if claim.passed else "FAIL"


def format_value(value):
    """Short text for a predicted/measured value (4 significant digits for floats)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_table_markdown(claims):
    """Return a markdown table of ``claims`` (one row per :class:`~simulations.experiment.Claim`)."""
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for c in claims:
        interval = "—" if c.interval is None else format_value(list(c.interval))
        row = (c.id, c.statement, c.paper_ref, format_value(c.predicted),
               format_value(c.measured), interval, c.evaluation, verdict(c))
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_report(results, out_dir, *, seed, elapsed, errors=None):
    """Write ``out_dir/report.md`` and return its path.

    Parameters
    ----------
    results : sequence of simulations.experiment.ExperimentResult
        One per experiment (anything with ``name, title, topic, paper_ref, claims, figures``).
    out_dir : path-like
        Folder of the report; figure links are relative to it.
    seed : int
        Root seed of the run.
    elapsed : float
        Total wall-clock seconds.
    errors : dict[str, str], optional
        Experiment name -> error message for experiments that crashed.

    Returns
    -------
    pathlib.Path
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    errors = dict(errors or {})
    claims = [c for r in results for c in r.claims]
    binding = [c for c in claims if not c.exploratory]
    n_pass = sum(c.passed for c in binding)
    versions = environment_info()
    lines = [
        "# Coverage principle: reproduction report",
        "",
        f"- root seed: `{seed}`",
        f"- run time: {elapsed:.1f} s, finished "
        f"{_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- git revision: `{git_revision() or 'unknown'}`",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- claims: {n_pass}/{len(binding)} passed"
        + (f", {len(claims) - len(binding)} exploratory" if len(claims) > len(binding) else "")
        + (f"; {len(errors)} experiment(s) crashed" if errors else ""),
        "",
    ]
    topics = {}
    for r in results:
        topics.setdefault(r.topic, []).append(r)
    for topic in sorted(topics):
        lines += [f"## {topic}", ""]
        for r in topics[topic]:
            lines += [f"### {r.name}: {r.title}", "", f"Paper: {r.paper_ref}", ""]
            lines.append(claims_table_markdown(r.claims) if r.claims else "_No claims._\n")
            for fig in r.figures:
                rel = os.path.relpath(pathlib.Path(fig).resolve(), out_dir.resolve())
                lines += [f"![{r.name}: {pathlib.Path(fig).stem}]({pathlib.PurePath(rel).as_posix()})", ""]
    if errors:
        lines += ["## Crashed experiments", ""]
        lines += [f"- `{name}`: {_cell(msg)}" for name, msg in sorted(errors.items())]
        lines.append("")
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
