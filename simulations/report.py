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
           "verdict", "format_value", "headline", "claim_counts", "verdict_counts",
           "order_topics", "TOPIC_ORDER"]

#: Topics in the order of the papers: the coverage principle (arXiv 2510.15020, Sections 3-6),
#: then value-guided backtracking (arXiv 2510.03149).  See :func:`order_topics`.
TOPIC_ORDER = ("coverage and Best-of-N", "generalization of maximum likelihood", "optimizers",
               "model selection", "backtracking samplers")

README_BEGIN = "<!-- claims table -->"
README_END = "<!-- /claims table -->"

_COLUMNS = ("id", "statement", "paper ref", "predicted", "measured", "interval",
            "evaluation", "tolerance", "power", "verdict")
_SANITY_COLUMNS = ("id", "statement", "paper ref", "predicted", "measured", "evaluation",
                   "verdict")


def verdict(claim):
    """The claim's verdict string (one of :data:`simulations.claims.VERDICTS`), with
    ``" (legacy)"`` appended for a claim not yet built by a rule of :mod:`simulations.claims`,
    ``" (quick data: FAIL)"`` for a ``not run in quick`` claim that failed on the quick data
    (it decides nothing, the quick design lacks power, but a failure is never hidden), why a
    claim lacks power (``"UNDERPOWERED (structural)"``, ``"(sample size)"``, ``"(design)"``;
    see :data:`simulations.claims.UNDERPOWERED_REASONS`), and ``" (bound not exceeded; loose
    by X)"`` for a one-sided exponent whose data also show the bound is not attained."""
    from simulations.claims import quick_data_verdict

    q = quick_data_verdict(claim) if claim.verdict == "not run in quick" else None
    return (claim.verdict + (" (quick data: FAIL)" if q == "FAIL" else "")
            + (f" ({_REASON_LABEL[claim.underpowered_reason]})" if claim.underpowered_reason else "")
            + (f" (bound not exceeded; loose by {claim.loose_by:.3g})"
               if claim.loose_by is not None else "")
            + (" (legacy)" if claim.legacy else ""))


#: How the report writes ``Claim.underpowered_reason``.
_REASON_LABEL = {"structural": "structural", "sample-size": "sample size", "design": "design"}


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
    if claim.power is None:
        return "—"
    if (claim.evaluation == "exact" and claim.interval is None
            and claim.rule.startswith(("comparison", "exponent"))):
        return "n/a (exact)"     # 0 or 1 from exact values and the tolerance, not a design's power
    return f"{claim.power:.3f}"


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
    from simulations.claims import (FAIL, FAILS, INCONCLUSIVE, NOT_RUN_IN_QUICK, PASS,
                                    UNDERPOWERED, UNDERPOWERED_REASONS)

    pred = [c for c in claims if c.kind == "prediction" and not c.exploratory]
    tested = [c for c in pred if c.verdict != NOT_RUN_IN_QUICK]
    expl = [c for c in claims if c.exploratory]
    sanity = [c for c in claims if c.kind == "sanity"]
    under = [c for c in tested if c.verdict == UNDERPOWERED]
    return {
        "predictions": len(tested),
        "pass": sum(c.verdict == PASS for c in tested),
        "pass_loose": sum(c.verdict == PASS and c.loose_by is not None for c in tested),
        "fail": sum(c.verdict == FAIL for c in tested),
        "underpowered": len(under),
        **{f"underpowered_{r}": sum(c.underpowered_reason == r for c in under)
           for r in UNDERPOWERED_REASONS},
        "exploratory": len(expl),
        "exploratory_fail": sum(c.verdict == FAILS for c in expl),
        "exploratory_inconclusive": sum(c.verdict == INCONCLUSIVE for c in expl),
        "sanity": sum(c.verdict != NOT_RUN_IN_QUICK for c in sanity),
        "sanity_fail": sum(c.verdict == FAIL for c in sanity),
        "not_run": sum(c.verdict == NOT_RUN_IN_QUICK for c in claims),
        "legacy": sum(c.legacy for c in claims),
        "blocking": sum(c.blocking for c in claims),
    }


def headline(claims, *, crashed=0):
    """One line: ``"P predictions tested: A pass (L loose bounds), B fail, C underpowered
    (U structural, V sample size); E exploratory (F fail, I inconclusive); S sanity checks
    (all pass); Q not run in quick"`` (parenthesised parts only when non-zero).

    Predictions are the binding claims of kind ``prediction``; sanity checks (the code against
    itself) and exploratory claims are counted apart, ``not run in quick`` claims are listed
    and neither passed nor failed.
    """
    from simulations.claims import UNDERPOWERED_REASONS

    n = claim_counts(claims)
    why = ", ".join(f"{n['underpowered_' + r]} {_REASON_LABEL[r]}" for r in UNDERPOWERED_REASONS
                    if n["underpowered_" + r])
    def s(k, word, plural=None):
        return f"{k} {word if k == 1 else (plural or word + 's')}"

    text = (f"{s(n['predictions'], 'prediction')} tested: {n['pass']} pass"
            + (f" ({s(n['pass_loose'], 'loose bound')})" if n["pass_loose"] else "")
            + f", {n['fail']} fail, {n['underpowered']} underpowered"
            + (f" ({why})" if why else "")
            + f"; {n['exploratory']} exploratory ({n['exploratory_fail']} fail"
            + (f", {n['exploratory_inconclusive']} inconclusive"
               if n["exploratory_inconclusive"] else "")
            + f"); {s(n['sanity'], 'sanity check')} "
            + ("(all pass)" if not n["sanity_fail"] else f"({n['sanity_fail']} FAIL)"))
    if n["not_run"]:
        text += f"; {n['not_run']} not run in quick"
    if n["legacy"]:
        text += f"; {n['legacy']} with legacy verdicts (no power)"
    if crashed:
        text += f"; {crashed} experiment(s) crashed"
    return text


def verdict_counts(claims):
    """Return ``{verdict: count}`` over ``claims`` in the order of
    :data:`simulations.claims.VERDICTS` (verdicts that do not occur are left out)."""
    from simulations.claims import VERDICTS

    counts = {v: sum(c.verdict == v for c in claims) for v in VERDICTS}
    return {v: n for v, n in counts.items() if n}


def _is_vgb(paper_ref):
    return "VGB" in paper_ref or "2510.03149" in paper_ref


def order_topics(items):
    """Return the distinct topics of ``items`` in reading order.

    Coverage-paper topics come first, in the order of :data:`TOPIC_ORDER` (others after them,
    alphabetically), then the topics whose every experiment cites the value-guided
    backtracking paper (``VGB`` or ``2510.03149`` in its paper reference).

    Parameters
    ----------
    items : iterable of (str, str)
        ``(topic, paper_ref)`` of each experiment.
    """
    refs = {}
    for topic, ref in items:
        refs.setdefault(topic, []).append(ref)

    def key(topic):
        rank = TOPIC_ORDER.index(topic) if topic in TOPIC_ORDER else len(TOPIC_ORDER)
        return (all(_is_vgb(r) for r in refs[topic]), rank, topic)

    return sorted(refs, key=key)


def _by_topic(results):
    """``[(topic, [result, ...]), ...]`` in :func:`order_topics` order."""
    topics = {}
    for r in results:
        topics.setdefault(r.topic, []).append(r)
    return [(t, topics[t]) for t in order_topics((r.topic, r.paper_ref) for r in results)]


def _split(claims):
    """(binding predictions incl. not-run, exploratory, sanity)."""
    return ([c for c in claims if c.kind == "prediction" and not c.exploratory],
            [c for c in claims if c.exploratory],
            [c for c in claims if c.kind == "sanity"])


def _why_markdown(claims):
    """Bullets giving, for each claim that lacks power, its reason and evidence."""
    rows = [f"- `{c.id}`: {verdict(c)}: {_cell(c.underpowered_evidence)}" for c in claims
            if c.underpowered_reason]
    return (["Why power is missing:", ""] + rows + [""]) if rows else []


def _rules_markdown(claims):
    return "".join(f"- `{c.id}`: {_cell(c.rule)}" + (f" — {_cell(c.details)}" if c.details else "")
                   + "\n" for c in claims)


def _slug(*parts):
    """An HTML id / markdown anchor from ``parts`` (lower case, ``[a-z0-9-]`` only)."""
    import re

    text = "-".join(str(p) for p in parts).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "section"


#: Figure formats a browser shows inline, in order of preference, with their MIME types.
_INLINE = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
           ".jpeg": "image/jpeg"}


def _figures(result):
    """``[(shown, others), ...]``: per figure (files grouped by stem, in the order the
    experiment returned them), the file to show inline (or ``None``) and the other formats."""
    groups = {}
    for fig in result.figures:
        fig = pathlib.Path(fig)
        groups.setdefault(fig.with_suffix(""), []).append(fig)
    out = []
    for files in groups.values():
        inline = sorted((f for f in files if f.suffix.lower() in _INLINE),
                        key=lambda f: list(_INLINE).index(f.suffix.lower()))
        shown = inline[0] if inline else None
        out.append((shown, [f for f in files if f != shown]))
    return out


#: A figure wider than this (width / height) takes the whole row of the HTML report.
WIDE_ASPECT = 2.5


def _png_aspect(data):
    """Width / height of a PNG from its header bytes (0 for anything else)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return 0.0
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return w / h if h else 0.0


def _caption(result, number, shown, others):
    """The caption words of a figure: ``Figure 3 (name): <sentence>``, the sentence the
    experiment stored in the file (:func:`simulations.plots.figure_caption_of`), else the
    file's stem (the link text is added by the writer)."""
    from simulations.plots import figure_caption_of

    files = ([shown] if shown else []) + list(others)
    text = next((c for c in map(figure_caption_of, files) if c), None)
    return f"Figure {number} ({result.name}): {text or files[0].stem.replace('_', ' ')}"


def _topic_rows(results, errors):
    """Per topic: experiments and verdict counts (the summary table of the report)."""
    from simulations.claims import (FAIL, FAILS, HOLDS, INCONCLUSIVE, NOT_RUN_IN_QUICK, PASS,
                                    UNDERPOWERED)

    rows = []
    for topic, group in _by_topic(results):
        claims = [c for r in group for c in r.claims]
        pred, expl, sanity = _split(claims)
        rows.append({
            "topic": topic, "experiments": len(group),
            "PASS": sum(c.verdict == PASS for c in pred),
            "FAIL": sum(c.verdict == FAIL for c in pred),
            "UNDERPOWERED": sum(c.verdict == UNDERPOWERED for c in pred),
            "not run in quick": sum(c.verdict == NOT_RUN_IN_QUICK for c in claims),
            "exploratory": f"{sum(c.verdict == HOLDS for c in expl)} hold, "
                           f"{sum(c.verdict == INCONCLUSIVE for c in expl)} inconclusive, "
                           f"{sum(c.verdict == FAILS for c in expl)} fail",
            "sanity": f"{sum(c.verdict == PASS for c in sanity)} pass, "
                      f"{sum(c.verdict == FAIL for c in sanity)} fail",
        })
    return rows


_SUMMARY_COLUMNS = ("topic", "experiments", "PASS", "FAIL", "UNDERPOWERED", "not run in quick",
                    "exploratory", "sanity")


def write_report(results, out_dir, *, seed, elapsed, errors=None):
    """Write ``out_dir/report.md`` (and ``report.html``) and return the markdown path.

    Both list the headline, a table of contents, a summary table per topic, the binding
    claims that are not PASS, then per topic (coverage-paper topics first, see
    :func:`order_topics`) and experiment the claims tables with each claim's rule and
    details, and the figures with captions.

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
    from simulations.claims import condition_problems

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    errors = dict(errors or {})
    claims = [c for r in results for c in r.claims]
    versions = environment_info()
    topics = _by_topic(results)
    blocking = [c for c in claims if c.blocking]
    sanity = [c for r in results for c in _split(r.claims)[2]]
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
        "a pass; marked `structural` when a stated reason, confirmed by the data, says no instance "
        "of the design can reach the alternative, `sample size` when more replicates would give "
        "power, `design` otherwise) for binding predictions; a PASS marked `bound not exceeded; "
        "loose by X` shows a one-sided bound holds and is not attained (not a confirmation of the "
        "rate); `exploratory: holds` / `exploratory: fails` / `exploratory: inconclusive` (holds "
        "at the point, power below 0.9: no information); the power column: for bound, exponent "
        "and probability claims the probability that the design rejects the stated alternative "
        "(bound off by 2, exponent off by 0.25, probability 0.1 lower); for comparison claims the "
        "probability that the rule passes at the observed difference (so a FAIL shows 0); "
        "`n/a (exact)` where exact values leave no sampling error; "
        "`not run in quick` (evaluated in the full preset only; neither passed nor failed). "
        "Sanity checks (the code against itself) are listed in their own table.",
        "",
        "## Contents",
        "",
        "- [Summary by topic](#summary-by-topic)",
    ]
    if blocking:
        lines.append("- [Binding claims that are not PASS](#binding-claims-that-are-not-pass)")
    for topic, group in topics:
        lines.append(f"- [{topic}](#{_slug('topic', topic)})")
        lines += [f"  - [{r.name}](#{_slug('experiment', r.name)})" for r in group]
    if sanity:
        lines.append("- [Sanity checks](#sanity-checks)")
    if errors:
        lines.append("- [Crashed experiments](#crashed-experiments)")
    rows = _topic_rows(results, errors)
    lines += ["", '<a id="summary-by-topic"></a>', "", "## Summary by topic", "",
              "| " + " | ".join(_SUMMARY_COLUMNS) + " |", "|" + "---|" * len(_SUMMARY_COLUMNS)]
    lines += ["| " + " | ".join(_cell(row[c]) for c in _SUMMARY_COLUMNS) + " |" for row in rows]
    lines.append("")
    if blocking:
        lines += ['<a id="binding-claims-that-are-not-pass"></a>', "",
                  "## Binding claims that are not PASS", "", claims_table_markdown(blocking), ""]
        lines += _why_markdown(blocking)
    problems = [p for c in claims for p in condition_problems(c)]
    if problems:
        lines += ['<a id="incomplete-hypotheses"></a>', "", "## Binding claims with incomplete hypotheses", "",
                  "A binding prediction citing a statement records each hypothesis; an unmet one is "
                  "named in the claim's id (see `simulations.claims.condition_problems`):", ""]
        lines += [f"- {_cell(p)}" for p in problems] + [""]
    number = 0
    for topic, group in topics:
        lines += [f'<a id="{_slug("topic", topic)}"></a>', "", f"## {topic}", ""]
        for r in group:
            pred, expl, _ = _split(r.claims)
            lines += [f'<a id="{_slug("experiment", r.name)}"></a>', "",
                      f"### {r.name}: {r.title}", "", f"Paper: {r.paper_ref}", ""]
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
            for shown, others in _figures(r):
                number += 1
                rel = [pathlib.PurePath(os.path.relpath(pathlib.Path(f).resolve(),
                                                        out_dir.resolve())).as_posix()
                       for f in ([shown] if shown else []) + others]
                caption = _caption(r, number, shown, others)
                if shown is not None:
                    lines += [f"![{caption}]({rel[0]})", ""]
                links = ", ".join(f"[{pathlib.PurePath(x).suffix[1:].upper()}]({x})" for x in rel)
                lines += [f"*{caption}* ({links})", ""]
    if sanity:
        lines += ['<a id="sanity-checks"></a>', "", "## Sanity checks (the code against itself)",
                  "", claims_table_markdown(sanity, _SANITY_COLUMNS), "",
                  "<details><summary>rules and details</summary>", "",
                  _rules_markdown(sanity), "</details>", ""]
    if errors:
        lines += ['<a id="crashed-experiments"></a>', "", "## Crashed experiments", ""]
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
            "exploratory: inconclusive": "notrun",
            "exploratory: fails": "xfail", "not run in quick": "notrun"}.get(v.split(" (")[0], "")


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:0 1em;color:#222}
.headline{font-size:1.15em;padding:.5em .8em;background:#f4f4f4;border-left:4px solid #456}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 5px;vertical-align:top}
th{background:#f0f0f0}
.PASS{color:#070}.FAIL{color:#b00;font-weight:bold}.exploratory{color:#a60}
.xfail{color:#b00}.notrun{color:#666;font-style:italic}
tr.claim-details td{border-top:none;background:#fafafa;font-size:12px}
tr.claim-details summary{cursor:pointer;color:#345}
.rule,.details{margin:.3em 0}
a.anchor{color:#aaa;text-decoration:none;font-weight:normal;margin-left:.3em;font-size:.8em}
h2:hover a.anchor,h3:hover a.anchor{color:#345}
nav#toc{background:#f8f8f8;border:1px solid #ddd;padding:.3em 1em;font-size:14px}
nav#toc ol{margin:.2em 0}
.figures{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
figure{flex:1 1 45%;margin:0;max-width:49%}
figure.wide{flex-basis:100%;max-width:100%}
figure img{max-width:100%;height:auto;display:block}
figcaption{font-size:13px;color:#444;margin-top:.2em}
.missing{color:#b00}
"""


def write_html_report(results, out_dir, *, seed, elapsed, errors=None):
    """Write a self-contained ``out_dir/report.html`` and return its path.

    Same content as the markdown report (see :func:`write_report`): headings carry ids with
    a visible anchor link and are listed in a table of contents, every claim row is followed
    by its rule and details (a collapsed ``<details>``), and every figure is a ``<figure>``
    with a caption, embedded as a ``data:`` URI (PNG, SVG or JPEG; other formats such as
    PDF are linked next to the caption).
    """
    import base64
    import html

    from simulations.claims import condition_problems

    out_dir = pathlib.Path(out_dir)
    errors = dict(errors or {})
    esc = html.escape
    claims = [c for r in results for c in r.claims]
    topics = _by_topic(results)
    blocking = [c for c in claims if c.blocking]
    sanity = [c for r in results for c in _split(r.claims)[2]]

    def heading(level, ident, text):
        return (f"<h{level} id='{ident}'>{esc(text)}<a class='anchor' href='#{ident}' "
                f"aria-label='link to this section'>¶</a></h{level}>")

    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             "<title>Coverage principle: reproduction report</title>",
             f"<style>{_CSS}</style></head><body>",
             "<header><h1 id='top'>Coverage principle: reproduction report</h1>",
             f"<p class='headline' id='headline'><strong>"
             f"{esc(headline(claims, crashed=len(errors)))}</strong></p><ul class='facts'>"]
    facts = _header_facts(results, seed, elapsed, errors)
    facts.pop("claims")
    parts += [f"<li>{esc(k)}: {esc(v)}</li>" for k, v in facts.items()]
    parts.append("</ul></header>")

    toc = ["<nav id='toc' aria-label='Contents'>", heading(2, "contents", "Contents"), "<ol>",
           "<li><a href='#summary-by-topic'>Summary by topic</a></li>"]
    if blocking:
        toc.append("<li><a href='#binding-claims-that-are-not-pass'>Binding claims that are "
                   "not PASS</a></li>")
    for topic, group in topics:
        toc.append(f"<li><a href='#{_slug('topic', topic)}'>{esc(topic)}</a><ol>")
        toc += [f"<li><a href='#{_slug('experiment', r.name)}'>{esc(r.name)}</a></li>"
                for r in group]
        toc.append("</ol></li>")
    if sanity:
        toc.append("<li><a href='#sanity-checks'>Sanity checks</a></li>")
    if errors:
        toc.append("<li><a href='#crashed-experiments'>Crashed experiments</a></li>")
    toc.append("</ol></nav>")
    parts += toc

    parts.append(heading(2, "summary-by-topic", "Summary by topic"))
    parts.append("<table class='summary'><tr>"
                 + "".join(f"<th>{esc(c)}</th>" for c in _SUMMARY_COLUMNS) + "</tr>")
    for row in _topic_rows(results, errors):
        parts.append("<tr>" + "".join(
            f"<td><a href='#{_slug('topic', row[c])}'>{esc(row[c])}</a></td>" if c == "topic"
            else f"<td>{esc(str(row[c]))}</td>" for c in _SUMMARY_COLUMNS) + "</tr>")
    parts.append("</table>")

    def table(claims, columns, where):
        out = [f"<table class='claims'><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns)
               + "</tr>"]
        for c in claims:
            row = _row(c, columns)
            v = row[-1]
            out.append(f"<tr class='claim' id='{_slug(where, c.id)}' data-claim-id='{esc(c.id)}'>"
                       + "".join(f"<td>{esc(str(x))}</td>" for x in row[:-1])
                       + f"<td class='{_css_class(v)}'>{esc(v)}</td></tr>")
            out.append(f"<tr class='claim-details' data-claim-id='{esc(c.id)}'>"
                       f"<td colspan='{len(columns)}'><details><summary>rule and details"
                       f"</summary><p class='rule'><b>Rule:</b> {esc(c.rule)}</p>"
                       + (f"<p class='why'><b>Why power is missing ({esc(c.underpowered_reason)}):"
                          f"</b> {esc(c.underpowered_evidence)}</p>" if c.underpowered_reason else "")
                       + f"<p class='details'><b>Details:</b> {esc(c.details or '(none)')}</p>"
                       "</details></td></tr>")
        out.append("</table>")
        return out

    if blocking:
        parts.append(heading(2, "binding-claims-that-are-not-pass",
                             "Binding claims that are not PASS"))
        parts += table(blocking, _COLUMNS, "not-pass")
    problems = [p for c in claims for p in condition_problems(c)]
    if problems:
        parts.append(heading(2, "incomplete-hypotheses", "Binding claims with incomplete hypotheses"))
        parts.append("<ul class='problems'>" + "".join(f"<li>{esc(p)}</li>" for p in problems)
                     + "</ul>")
    number = 0
    for topic, group in topics:
        parts.append(f"<section class='topic' data-topic='{esc(topic)}'>")
        parts.append(heading(2, _slug("topic", topic), topic))
        for r in group:
            pred, expl, _ = _split(r.claims)
            parts.append(f"<section class='experiment' data-experiment='{esc(r.name)}'>")
            parts.append(heading(3, _slug("experiment", r.name), f"{r.name}: {r.title}"))
            parts.append(f"<p>Paper: {esc(r.paper_ref)}</p>")
            if pred:
                parts.append("<p>Predictions:</p>")
                parts += table(pred, _COLUMNS, "claim")
            if expl:
                parts.append("<p>Exploratory:</p>")
                parts += table(expl, _COLUMNS, "claim")
            if not (pred or expl):
                parts.append("<p><i>No predictions (sanity checks only, see below).</i></p>"
                             if r.claims else "<p><i>No claims.</i></p>")
            figures = _figures(r)
            if figures:
                parts.append("<div class='figures'>")
            for shown, others in figures:
                number += 1
                caption = _caption(r, number, shown, others)
                ident = _slug("figure", r.name, (shown or others[0]).stem)
                links = []
                for f in ([shown] if shown else []) + others:
                    rel = pathlib.PurePath(os.path.relpath(pathlib.Path(f).resolve(),
                                                           out_dir.resolve())).as_posix()
                    links.append(f"<a href='{esc(rel)}'>{esc(f.suffix[1:].upper())}</a>")
                img, wide = "", False
                if shown is not None:
                    try:
                        raw = pathlib.Path(shown).read_bytes()
                        data = base64.b64encode(raw).decode("ascii")
                    except OSError as exc:
                        img = (f"<p class='missing'>figure file missing: {esc(str(shown))} "
                               f"({esc(exc.strerror or str(exc))})</p>")
                    else:
                        img = (f"<img alt='{esc(caption)}' "
                               f"src='data:{_INLINE[shown.suffix.lower()]};base64,{data}'>")
                        wide = _png_aspect(raw) > WIDE_ASPECT
                cls = " class='wide'" if wide else ""
                parts.append(f"<figure id='{ident}'{cls}>{img}"
                             f"<figcaption>{esc(caption)} "
                             f"({', '.join(links)})</figcaption></figure>")
            if figures:
                parts.append("</div>")
            parts.append("</section>")
        parts.append("</section>")
    if sanity:
        parts.append(heading(2, "sanity-checks", "Sanity checks (the code against itself)"))
        parts += table(sanity, _SANITY_COLUMNS, "sanity")
    if errors:
        parts.append(heading(2, "crashed-experiments", "Crashed experiments"))
        parts.append("<ul>")
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


def update_readme(readme, results, *, figures_dir, seed, elapsed, errors=None,
                  command="python -m simulations reproduce --quick --out results --readme README.md",
                  report_dir="results"):
    """Rewrite the claims table and figure gallery of ``readme`` between its markers.

    ``command`` and ``report_dir`` name the run that produced ``results`` in the summary line.

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
    from simulations.plots import figure_caption_of

    figures_dir = pathlib.Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    facts = _header_facts(results, seed, elapsed, errors)
    lines = [README_BEGIN, "",
             f"Generated by `{command}` "
             f"(root seed {seed}, {facts['run time']}, revision `{facts['git revision'][:12]}`): "
             f"**{facts['claims']}**.  Full tables with predicted values and intervals: "
             f"`{report_dir}/report.md` / `report.html`.", ""]
    gallery = []
    for topic, group in _by_topic(results):
        lines += [f"**{topic}**", "",
                  "| claim | kind | paper | measured | evaluation | tolerance | power | verdict |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in group:
            for c in r.claims:
                kind = "exploratory" if c.exploratory else c.kind
                lines.append("| " + " | ".join(_cell(x) for x in (
                    c.id, kind, c.paper_ref, format_value(c.measured), c.evaluation, _tolerance(c),
                    _power(c), verdict(c))) + " |")
            shown = [f for f, _ in _figures(r) if f is not None]
            if shown:
                src = pathlib.Path(shown[0])
                dst = figures_dir / f"{r.name}--{src.name}"
                shutil.copyfile(src, dst)
                rel = os.path.relpath(dst.resolve(), readme.parent.resolve())
                gallery.append((r, pathlib.PurePath(rel).as_posix(), figure_caption_of(src)))
        lines.append("")
    if gallery:
        lines += ["### Gallery", "", "Each caption names the preset the figure was computed with (`quick`: the "
                  "small grid `--quick` runs in minutes; `full`: the paper-scale grid).", ""]
        for r, rel, caption in gallery:
            preset = preset_of(r)
            lines += [f"**{r.name}** ({r.paper_ref}): {r.title} *({preset} preset)*", "",
                      f"![{r.name}, {preset} preset]({rel})", ""]
            if caption:
                lines += [f"*{caption}*", ""]
    lines.append(README_END)
    start = text.index(README_BEGIN)
    end = text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + "\n".join(lines) + text[end:])
    return readme

