"""Report of a ``reproduce`` run: headline, per-topic claims tables, sanity checks, figures.

The headline counts binding predictions only (:func:`headline`); exploratory claims show
their outcome (``exploratory: fails`` is visible), sanity checks have their own table, and
every verdict is printed with its tolerance and power.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import pathlib

from simulations.store import environment_info, git_revision

__all__ = ["claims_table_markdown", "write_report", "write_html_report", "update_readme",
           "verdict", "format_value", "headline", "claim_counts"]

README_BEGIN = "<!-- claims table -->"
README_END = "<!-- /claims table -->"

_COLUMNS = ("id", "statement", "paper ref", "predicted", "measured", "interval",
            "evaluation", "tolerance", "power", "verdict")
_SANITY_COLUMNS = ("id", "statement", "paper ref", "predicted", "measured", "evaluation",
                   "verdict")


def verdict(claim):
    """The claim's verdict string (one of :data:`simulations.claims.VERDICTS`), with
    ``" (legacy)"`` appended for a claim not yet built by a rule of :mod:`simulations.claims`."""
    return claim.verdict + (" (legacy)" if claim.legacy else "")


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


def _power(claim):
    return "—" if claim.power is None else f"{claim.power:.3f}"


def _tolerance(claim):
    return "—" if claim.tolerance is None else f"{claim.tolerance:g}"


def _row(claim, columns):
    values = {"id": claim.id, "statement": claim.statement, "paper ref": claim.paper_ref,
              "predicted": format_value(claim.predicted), "measured": format_value(claim.measured),
              "interval": "—" if claim.interval is None else format_value(list(claim.interval)),
              "evaluation": claim.evaluation, "tolerance": _tolerance(claim),
              "power": _power(claim), "verdict": verdict(claim)}
    return [values[c] for c in columns]


def claims_table_markdown(claims, columns=_COLUMNS):
    """Return a markdown table of ``claims`` (one row per :class:`~simulations.claims.Claim`),
    with the tolerance and the power next to the verdict."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for c in claims:
        lines.append("| " + " | ".join(_cell(v) for v in _row(c, columns)) + " |")
    return "\n".join(lines) + "\n"


def claim_counts(claims):
    """Counts behind the headline (a dict; see :func:`headline`)."""
    from simulations.claims import FAIL, FAILS, NOT_RUN_IN_QUICK, PASS, UNDERPOWERED

    pred = [c for c in claims if c.kind == "prediction" and not c.exploratory]
    tested = [c for c in pred if c.verdict != NOT_RUN_IN_QUICK]
    expl = [c for c in claims if c.exploratory]
    sanity = [c for c in claims if c.kind == "sanity"]
    return {
        "predictions": len(tested),
        "pass": sum(c.verdict == PASS for c in tested),
        "fail": sum(c.verdict == FAIL for c in tested),
        "underpowered": sum(c.verdict == UNDERPOWERED for c in tested),
        "exploratory": len(expl),
        "exploratory_fail": sum(c.verdict == FAILS for c in expl),
        "sanity": sum(c.verdict != NOT_RUN_IN_QUICK for c in sanity),
        "sanity_fail": sum(c.verdict == FAIL for c in sanity),
        "not_run": sum(c.verdict == NOT_RUN_IN_QUICK for c in claims),
        "legacy": sum(c.legacy for c in claims),
        "blocking": sum(c.blocking for c in claims),
    }


def headline(claims, *, crashed=0):
    """One line: ``"P predictions tested: A pass, B fail, C underpowered; E exploratory (F fail);
    S sanity checks (all pass); Q not run in quick"``.

    Predictions are the binding claims of kind ``prediction``; sanity checks (the code against
    itself) and exploratory claims are counted apart, ``not run in quick`` claims are listed
    and neither passed nor failed.
    """
    n = claim_counts(claims)
    text = (f"{n['predictions']} predictions tested: {n['pass']} pass, {n['fail']} fail, "
            f"{n['underpowered']} underpowered; {n['exploratory']} exploratory "
            f"({n['exploratory_fail']} fail); {n['sanity']} sanity checks "
            + ("(all pass)" if not n["sanity_fail"] else f"({n['sanity_fail']} FAIL)"))
    if n["not_run"]:
        text += f"; {n['not_run']} not run in quick"
    if n["legacy"]:
        text += f"; {n['legacy']} with legacy verdicts (no power)"
    if crashed:
        text += f"; {crashed} experiment(s) crashed"
    return text


def _split(claims):
    """(binding predictions incl. not-run, exploratory, sanity)."""
    return ([c for c in claims if c.kind == "prediction" and not c.exploratory],
            [c for c in claims if c.exploratory],
            [c for c in claims if c.kind == "sanity"])


def _rules_markdown(claims):
    return "".join(f"- `{c.id}`: {_cell(c.rule)}" + (f" — {_cell(c.details)}" if c.details else "")
                   + "\n" for c in claims)


def write_report(results, out_dir, *, seed, elapsed, errors=None):
    """Write ``out_dir/report.md`` (and ``report.html``) and return the markdown path.

    Parameters
    ----------
    results : sequence of simulations.runner.ExperimentResult
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
    versions = environment_info()
    lines = [
        "# Coverage principle: reproduction report",
        "",
        f"**{headline(claims, crashed=len(errors))}**",
        "",
        f"- root seed: `{seed}`",
        f"- run time: {elapsed:.1f} s, finished "
        f"{_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- git revision: `{git_revision() or 'unknown'}`",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "- verdicts: PASS / FAIL / UNDERPOWERED (power < 0.9 against the stated alternative: not "
        "a pass) for binding predictions; `exploratory: holds` / `exploratory: fails`; "
        "`not run in quick` (evaluated in the full preset only; neither passed nor failed). "
        "Sanity checks (the code against itself) are listed in their own table.",
        "",
    ]
    blocking = [c for c in claims if c.blocking]
    if blocking:
        lines += ["## Binding claims that are not PASS", "",
                  claims_table_markdown(blocking), ""]
    topics = {}
    for r in results:
        topics.setdefault(r.topic, []).append(r)
    for topic in sorted(topics):
        lines += [f"## {topic}", ""]
        for r in topics[topic]:
            pred, expl, _ = _split(r.claims)
            lines += [f"### {r.name}: {r.title}", "", f"Paper: {r.paper_ref}", ""]
            if pred:
                lines += ["Predictions:", "", claims_table_markdown(pred)]
            if expl:
                lines += ["Exploratory:", "", claims_table_markdown(expl)]
            if not (pred or expl):
                lines.append("_No predictions (sanity checks only, see below)._\n"
                             if r.claims else "_No claims._\n")
            if pred or expl:
                lines += ["<details><summary>rules and details</summary>", "",
                          _rules_markdown(pred + expl), "</details>", ""]
            for fig in r.figures:
                rel = os.path.relpath(pathlib.Path(fig).resolve(), out_dir.resolve())
                lines += [f"![{r.name}: {pathlib.Path(fig).stem}]({pathlib.PurePath(rel).as_posix()})", ""]
    sanity = [c for r in results for c in _split(r.claims)[2]]
    if sanity:
        lines += ["## Sanity checks (the code against itself)", "",
                  claims_table_markdown(sanity, _SANITY_COLUMNS), "",
                  "<details><summary>rules and details</summary>", "",
                  _rules_markdown(sanity), "</details>", ""]
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
    return {
        "root seed": str(seed),
        "run time": f"{elapsed:.1f} s",
        "git revision": git_revision() or "unknown",
        "versions": ", ".join(f"{k} {v}" for k, v in environment_info().items()),
        "claims": headline(claims, crashed=len(errors or {})),
    }


def _css_class(v):
    return {"PASS": "PASS", "FAIL": "FAIL", "UNDERPOWERED": "FAIL", "exploratory: holds": "exploratory",
            "exploratory: fails": "xfail", "not run in quick": "notrun"}.get(v.split(" (")[0], "")


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
             ".xfail{color:#b00}.notrun{color:#666;font-style:italic}"
             "img{max-width:48%;margin:4px}</style></head><body>",
             "<h1>Coverage principle: reproduction report</h1><ul>"]
    parts += [f"<li>{esc(k)}: {esc(v)}</li>" for k, v in _header_facts(results, seed, elapsed, errors).items()]
    parts.append("</ul>")

    def table(claims, columns):
        out = ["<table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>"]
        for c in claims:
            row = _row(c, columns)
            v = row[-1]
            cells = [f"<td title='{esc(c.rule)}'>{esc(str(x))}</td>" for x in row[:-1]]
            out.append("<tr>" + "".join(cells) + f"<td class='{_css_class(v)}'>{esc(v)}</td></tr>")
        out.append("</table>")
        return out

    claims = [c for r in results for c in r.claims]
    blocking = [c for c in claims if c.blocking]
    if blocking:
        parts.append("<h2>Binding claims that are not PASS</h2>")
        parts += table(blocking, _COLUMNS)
    topics = {}
    for r in results:
        topics.setdefault(r.topic, []).append(r)
    for topic in sorted(topics):
        parts.append(f"<h2>{esc(topic)}</h2>")
        for r in topics[topic]:
            pred, expl, _ = _split(r.claims)
            parts.append(f"<h3>{esc(r.name)}: {esc(r.title)}</h3><p>Paper: {esc(r.paper_ref)}</p>")
            if pred:
                parts.append("<p>Predictions:</p>")
                parts += table(pred, _COLUMNS)
            if expl:
                parts.append("<p>Exploratory:</p>")
                parts += table(expl, _COLUMNS)
            for fig in r.figures:
                data = base64.b64encode(pathlib.Path(fig).read_bytes()).decode("ascii")
                parts.append(f"<img alt='{esc(pathlib.Path(fig).stem)}' src='data:image/png;base64,{data}'>")
    sanity = [c for r in results for c in _split(r.claims)[2]]
    if sanity:
        parts.append("<h2>Sanity checks (the code against itself)</h2>")
        parts += table(sanity, _SANITY_COLUMNS)
    if errors:
        parts.append("<h2>Crashed experiments</h2><ul>")
        parts += [f"<li><code>{esc(n)}</code>: {esc(m)}</li>" for n, m in sorted(errors.items())]
        parts.append("</ul>")
    parts.append("</body></html>")
    path = out_dir / "report.html"
    path.write_text("\n".join(parts))
    return path


def preset_of(result):
    """``"quick"`` or ``"full"`` if ``result.config`` is that preset of its experiment, else ``"custom"``."""
    import dataclasses

    from simulations import registry
    from simulations.store import to_jsonable

    try:
        config_cls = registry.get(result.name).Config
    except Exception:  # an experiment outside the registry (e.g. a test's toy)
        return "custom"
    for preset in ("quick", "full"):
        if to_jsonable(dataclasses.asdict(getattr(config_cls, preset)())) == result.config:
            return preset
    return "custom"


def update_readme(readme, results, *, figures_dir, seed, elapsed, errors=None):
    """Rewrite the claims table and figure gallery of ``readme`` between its markers.

    The block between ``<!-- claims table -->`` and ``<!-- /claims table -->`` is replaced by
    a one-line summary, a compact claims table grouped by topic, and a gallery with the
    first figure of every experiment, copied into ``figures_dir`` (linked relative to the
    README) and captioned with the preset that produced it (:func:`preset_of`).  Everything
    outside the markers is left untouched.
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
        lines += [f"**{topic}**", "",
                  "| claim | kind | paper | measured | evaluation | tolerance | power | verdict |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in topics[topic]:
            for c in r.claims:
                kind = "exploratory" if c.exploratory else c.kind
                lines.append("| " + " | ".join(_cell(x) for x in (
                    c.id, kind, c.paper_ref, format_value(c.measured), c.evaluation, _tolerance(c),
                    _power(c), verdict(c))) + " |")
            if r.figures:
                src = pathlib.Path(r.figures[0])
                dst = figures_dir / f"{r.name}--{src.name}"
                shutil.copyfile(src, dst)
                rel = os.path.relpath(dst.resolve(), readme.parent.resolve())
                gallery.append((r, pathlib.PurePath(rel).as_posix()))
        lines.append("")
    if gallery:
        lines += ["### Gallery", "", "Each caption names the preset the figure was computed with (`quick`: the "
                  "small grid `--quick` runs in minutes; `full`: the paper-scale grid).", ""]
        for r, rel in gallery:
            preset = preset_of(r)
            lines += [f"**{r.name}** ({r.paper_ref}): {r.title} *({preset} preset)*", "",
                      f"![{r.name}, {preset} preset]({rel})", ""]
    lines.append(README_END)
    start = text.index(README_BEGIN)
    end = text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + "\n".join(lines) + text[end:])
    return readme

