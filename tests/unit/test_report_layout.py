"""Layout of ``report.md`` / ``report.html``: paper order of topics, contents with anchors,
a summary row per topic, every claim's rule and details, captioned figures in any format."""

import types

import pytest

from simulations.claims import sanity_claim
from simulations.report import TOPIC_ORDER, order_topics, verdict_counts, write_report

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c489"
    "0000000d49444154789c6300010000050001" "0d0a2db4" "0000000049454e44ae426082")


def _result(name, topic, paper_ref, figures=(), details="how it was checked"):
    claim = sanity_claim(f"{name}/check", paper_ref, "one plus one", 2.0, 2.0, tolerance=0.0,
                         details=details)
    return types.SimpleNamespace(name=name, title=f"{name} title", topic=topic,
                                 paper_ref=paper_ref, claims=(claim,), figures=tuple(figures))


def test_order_topics_puts_the_coverage_paper_first():
    items = [("backtracking samplers", "VGB Thm. 4.1"), ("zz other", "Prop. 9.9"),
             ("model selection", "Thm 6.2"), ("coverage and Best-of-N", "Prop. 3.1"),
             ("new vgb topic", "arXiv 2510.03149, Ex. 1")]
    assert order_topics(items) == ["coverage and Best-of-N", "model selection", "zz other",
                                   "backtracking samplers", "new vgb topic"]
    assert TOPIC_ORDER[-1] == "backtracking samplers"


def test_verdict_counts_in_verdict_order():
    claims = [types.SimpleNamespace(verdict=v) for v in ("FAIL", "PASS", "PASS")]
    assert verdict_counts(claims) == {"PASS": 2, "FAIL": 1}


def test_markdown_report_has_contents_anchors_summary_and_captions(tmp_path):
    fig = tmp_path / "runs" / "a" / "rate.png"
    fig.parent.mkdir(parents=True)
    fig.write_bytes(PNG_1x1)
    (fig.with_suffix(".pdf")).write_bytes(b"%PDF-1.4")
    results = [_result("vgb-x", "backtracking samplers", "VGB Thm. 4.1"),
               _result("a", "coverage and Best-of-N", "Prop. 3.1",
                       figures=[fig, fig.with_suffix(".pdf")])]
    md = write_report(results, tmp_path, seed=0, elapsed=1.0).read_text()
    assert md.index("## coverage and Best-of-N") < md.index("## backtracking samplers")
    contents = md[md.index("## Contents"):md.index("## Summary by topic")]
    for anchor in ("topic-coverage-and-best-of-n", "experiment-a", "topic-backtracking-samplers",
                   "experiment-vgb-x", "summary-by-topic", "sanity-checks"):
        assert f"(#{anchor})" in contents and f'<a id="{anchor}"></a>' in md, anchor
    assert "| coverage and Best-of-N | 1 |" in md and "| backtracking samplers | 1 |" in md
    assert "- `a/check`: " in md and "how it was checked" in md
    # one figure shown (the PNG), its PDF linked beside the caption
    assert "![Figure 1 (a): rate](runs/a/rate.png)" in md
    assert "*Figure 1 (a): rate* ([PNG](runs/a/rate.png), [PDF](runs/a/rate.pdf))" in md
    html = (tmp_path / "report.html").read_text()
    assert html.count("<figure ") == 1 and html.count("<img ") == 1
    assert "href='runs/a/rate.pdf'" in html and "<figcaption>Figure 1 (a): rate" in html
    assert html.index("id='topic-coverage-and-best-of-n'") < html.index(
        "id='topic-backtracking-samplers'")


@pytest.mark.parametrize("suffix, mime", [(".png", "image/png"), (".svg", "image/svg+xml")])
def test_html_embeds_each_inline_format_with_its_type(tmp_path, suffix, mime):
    fig = tmp_path / f"f{suffix}"
    fig.write_bytes(PNG_1x1 if suffix == ".png" else
                    b"<svg xmlns='http://www.w3.org/2000/svg' width='4' height='4'/>")
    write_report([_result("a", "t", "ref", figures=[fig])], tmp_path, seed=0, elapsed=0.0)
    assert f"src='data:{mime};base64," in (tmp_path / "report.html").read_text()


def test_a_missing_figure_file_is_reported_not_fatal(tmp_path):
    gone = tmp_path / "gone.png"
    write_report([_result("a", "t", "ref", figures=[gone])], tmp_path, seed=0, elapsed=0.0)
    html = (tmp_path / "report.html").read_text()
    assert "figure file missing" in html and "<img " not in html


def test_figure_captions_come_from_the_experiment(tmp_path):
    """The sentence given to save_figure (or built from the plot's titles) is the caption."""
    import numpy as np

    from simulations.plots import line_plot, save_figure

    fig = line_plot(np.array([1.0, 2.0, 4.0]), {"a": [1.0, 2.0, 3.0]}, xlabel="$H$",
                    ylabel=r"$T_\delta$", title="Mixing", logx=True)
    given = save_figure(fig, tmp_path / "given.png", caption="Steps to mix against H, exact.")
    built = save_figure(fig, tmp_path / "built.png")
    write_report([_result("a", "t", "ref", figures=[given, given.with_suffix(".svg"), built])],
                 tmp_path, seed=0, elapsed=0.0)
    md = (tmp_path / "report.md").read_text()
    assert "*Figure 1 (a): Steps to mix against H, exact.* ([PNG](given.png), [SVG](given.svg))" in md
    assert "![Figure 2 (a): Mixing: T_δ against H.](built.png)" in md
    assert "<figcaption>Figure 1 (a): Steps to mix against H, exact." in (tmp_path / "report.html").read_text()
