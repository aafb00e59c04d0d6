"""Markdown report of a ``reproduce`` run: header, per-topic claims tables, figures."""

from __future__ import annotations

import datetime as _dt
import math
import os
import pathlib

from simulations.store import environment_info, git_revision

__all__ = ["claims_table_markdown", "write_report", "write_html_report", "update_readme",
           "verdict", "format_value"]

README_BEGIN = "<!-- claims table -->"
README_END = "<!-- /claims table -->"

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
    write_html_report(results, out_dir, seed=seed, elapsed=elapsed, errors=errors)
    return path


def _header_facts(results, seed, elapsed, errors):
    claims = [c for r in results for c in r.claims]
    binding = [c for c in claims if not c.exploratory]
    return {
        "root seed": str(seed),
        "run time": f"{elapsed:.1f} s",
        "git revision": git_revision() or "unknown",
        "versions": ", ".join(f"{k} {v}" for k, v in environment_info().items()),
        "claims": (f"{sum(c.passed for c in binding)}/{len(binding)} passed, "
                   f"{len(claims) - len(binding)} exploratory, {len(errors or {})} crashed"),
    }


def write_html_report(results, out_dir, *, seed, elapsed, errors=None):
    """Write a self-contained ``out_dir/report.html`` (figures embedded as base64 PNG)."""
    import base64
    import html

    out_dir = pathlib.Path(out_dir)
    esc = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'>",
             "<title>Coverage principle: reproduction report</title>",
             "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px}"
             ".PASS{color:#070}.FAIL{color:#b00;font-weight:bold}.exploratory{color:#a60}"
             "img{max-width:48%;margin:4px}</style></head><body>",
             "<h1>Coverage principle: reproduction report</h1><ul>"]
    parts += [f"<li>{esc(k)}: {esc(v)}</li>" for k, v in _header_facts(results, seed, elapsed, errors).items()]
    parts.append("</ul>")
    topics = {}
    for r in results:
        topics.setdefault(r.topic, []).append(r)
    for topic in sorted(topics):
        parts.append(f"<h2>{esc(topic)}</h2>")
        for r in topics[topic]:
            parts.append(f"<h3>{esc(r.name)}: {esc(r.title)}</h3><p>Paper: {esc(r.paper_ref)}</p>")
            parts.append("<table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in _COLUMNS) + "</tr>")
            for c in r.claims:
                interval = "—" if c.interval is None else format_value(list(c.interval))
                row = (c.id, c.statement, c.paper_ref, format_value(c.predicted),
                       format_value(c.measured), interval, c.evaluation)
                v = verdict(c)
                parts.append("<tr>" + "".join(f"<td>{esc(str(x))}</td>" for x in row)
                             + f"<td class='{v}'>{v}</td></tr>")
            parts.append("</table>")
            for fig in r.figures:
                data = base64.b64encode(pathlib.Path(fig).read_bytes()).decode("ascii")
                parts.append(f"<img alt='{esc(pathlib.Path(fig).stem)}' src='data:image/png;base64,{data}'>")
    if errors:
        parts.append("<h2>Crashed experiments</h2><ul>")
        parts += [f"<li><code>{esc(n)}</code>: {esc(m)}</li>" for n, m in sorted(errors.items())]
        parts.append("</ul>")
    parts.append("</body></html>")
    path = out_dir / "report.html"
    path.write_text("\n".join(parts))
    return path


def update_readme(readme, results, *, figures_dir, seed, elapsed, errors=None):
    """Rewrite the claims table and figure gallery of ``readme`` between its markers.

    The block between ``<!-- claims table -->`` and ``<!-- /claims table -->`` is replaced by
    a one-line summary, a compact claims table grouped by topic, and a gallery with the
    first figure of every experiment, copied into ``figures_dir`` (linked relative to the
    README).  Everything outside the markers is left untouched.
    """
    import shutil

    readme = pathlib.Path(readme)
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise ValueError(f"`readme` must contain the markers {README_BEGIN} and {README_END}.")
    figures_dir = pathlib.Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    facts = _header_facts(results, seed, elapsed, errors)
    lines = [README_BEGIN, "",
             f"Generated by `python -m simulations reproduce --quick --out results --readme README.md` "
             f"(root seed {seed}, {facts['run time']}, revision `{facts['git revision'][:12]}`): "
             f"**{facts['claims']}**.  Full tables with predicted values and intervals: "
             f"`results/report.md` / `report.html`.", ""]
    topics = {}
    for r in results:
        topics.setdefault(r.topic, []).append(r)
    gallery = []
    for topic in sorted(topics):
        lines += [f"**{topic}**", "", "| claim | paper | measured | evaluation | verdict |",
                  "|---|---|---|---|---|"]
        for r in topics[topic]:
            for c in r.claims:
                lines.append("| " + " | ".join(_cell(x) for x in (
                    c.id, c.paper_ref, format_value(c.measured), c.evaluation, verdict(c))) + " |")
            if r.figures:
                src = pathlib.Path(r.figures[0])
                dst = figures_dir / f"{r.name}--{src.name}"
                shutil.copyfile(src, dst)
                rel = os.path.relpath(dst.resolve(), readme.parent.resolve())
                gallery.append((r, pathlib.PurePath(rel).as_posix()))
        lines.append("")
    if gallery:
        lines += ["### Gallery", ""]
        for r, rel in gallery:
            lines += [f"**{r.name}** ({r.paper_ref}): {r.title}", "", f"![{r.name}]({rel})", ""]
    lines.append(README_END)
    start = text.index(README_BEGIN)
    end = text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + "\n".join(lines) + text[end:])
    return readme

