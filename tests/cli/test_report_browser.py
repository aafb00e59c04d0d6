"""``report.html`` in a real browser (headless Chromium).

A quick ``reproduce`` of three small experiments (two coverage-paper topics, one VGB topic)
writes the report; Chromium renders it, takes a screenshot, and runs a probe script on a copy
of the page (``--dump-dom`` after ``load``) that reports what the browser sees: each image's
decoded size, headings and their anchors, the table of contents, the topic order, the claim
rows with their rule and details (opened and measured), the figure captions.  The findings
are compared with the run's own files (``claims.json``, the PNG headers).  A sabotaged copy
(one broken image, one caption and one claim's details removed) must be caught: the negative
control.

Needs a Chromium binary (Debian: ``apt-get install chromium``; ``.ci/run`` installs it).
"""

import json
import pathlib
import shutil
import struct
import subprocess

import pytest

from simulations.claims import Claim
from simulations.cli import main
from simulations.report import headline, order_topics

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome",
                                           "google-chrome-stable") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium; "
                             ".ci/run installs it)")

#: Two coverage-paper topics and one VGB topic, each about a second in the quick preset.
EXPERIMENTS = ("kl-vs-coverage", "prop-g2", "vgb-coverage")
VGB_TOPIC = "backtracking samplers"
WINDOW = (1280, 1600)

PROBE = """<script>
window.addEventListener('load', function () {
  function text(el) { return el ? el.textContent.replace(/\\s+/g, ' ').trim() : null; }
  var out = {};
  var head = document.getElementById('headline');
  out.headline = text(head);
  out.headline_top = head ? head.getBoundingClientRect().top : null;
  out.images = Array.from(document.images).map(function (img) {
    var fig = img.closest('figure');
    return {width: img.naturalWidth, height: img.naturalHeight, complete: img.complete,
            shown: img.getBoundingClientRect().width, figure: fig ? fig.id : null};
  });
  out.figures = Array.from(document.querySelectorAll('figure')).map(function (f) {
    var cap = f.querySelector('figcaption');
    return {id: f.id, images: f.querySelectorAll('img').length, caption: text(cap),
            caption_height: cap ? cap.getBoundingClientRect().height : 0,
            experiment: (f.closest('section.experiment') || {dataset: {}}).dataset.experiment};
  });
  out.headings = Array.from(document.querySelectorAll('h2, h3')).map(function (h) {
    var a = h.querySelector('a.anchor');
    return {level: h.tagName, id: h.id, text: text(h), anchor: a ? a.getAttribute('href') : null};
  });
  var toc = document.querySelector('nav#toc');
  out.toc = toc ? Array.from(toc.querySelectorAll('a')).map(function (a) {
    var href = a.getAttribute('href');
    return {href: href, resolves: href.charAt(0) === '#' && !!document.getElementById(href.slice(1))};
  }) : null;
  out.topics = Array.from(document.querySelectorAll('section.topic')).map(function (s) {
    return s.dataset.topic; });
  out.summary = Array.from(document.querySelectorAll('table.summary tr')).slice(1).map(
    function (tr) { return text(tr.cells[0]); });
  out.tables = {};
  document.querySelectorAll('section.experiment').forEach(function (s) {
    out.tables[s.dataset.experiment] = s.querySelectorAll('table.claims tr.claim').length; });
  document.querySelectorAll('tr.claim-details details').forEach(function (d) { d.open = true; });
  out.claims = Array.from(document.querySelectorAll('tr.claim')).map(function (tr) {
    var d = tr.nextElementSibling;
    var ok = d && d.classList.contains('claim-details') && d.dataset.claimId === tr.dataset.claimId;
    var details = ok ? d.querySelector('.details') : null;
    return {id: tr.dataset.claimId,
            experiment: (tr.closest('section.experiment') || {dataset: {}}).dataset.experiment || null,
            verdict: text(tr.cells[tr.cells.length - 1]),
            rule: ok ? text(d.querySelector('.rule')) : null, details: text(details),
            details_height: details ? details.getBoundingClientRect().height : 0};
  });
  var pre = document.createElement('pre');
  pre.id = 'probe-result';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _chromium(*args, cwd):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", f"--user-data-dir={cwd / 'chromium-profile'}",
           "--run-all-compositor-stages-before-draw", "--virtual-time-budget=10000", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _probe(html_path, tmp):
    """What the browser sees in ``html_path`` (the probe script runs on a copy)."""
    copy = tmp / f"probe-{html_path.name}"
    copy.write_text(html_path.read_text().replace("</body>", PROBE + "</body>"))
    dom = _chromium("--dump-dom", copy.as_uri(), cwd=tmp)
    start = dom.index('<pre id="probe-result">') + len('<pre id="probe-result">')
    import html
    return json.loads(html.unescape(dom[start:dom.index("</pre>", start)]))


def _png_size(path):
    data = pathlib.Path(path).read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def _norm(text):
    return " ".join(str(text).split())


def report_defects(seen, out, names):
    """Differences between what the browser saw and the run's files (empty: no defect)."""
    defects = []
    claims = {n: [Claim.from_dict(d) for d in json.loads((out / n / "claims.json").read_text())]
              for n in names}
    everything = [c for n in names for c in claims[n]]
    if seen["headline"] != headline(everything):
        defects.append(f"headline {seen['headline']!r} != {headline(everything)!r}")
    if seen["headline_top"] is None or seen["headline_top"] > WINDOW[1] / 4:
        defects.append(f"headline not at the top of the page ({seen['headline_top']})")
    pngs = [p for n in names for p in sorted((out / n).glob("*.png"))]
    if len(seen["images"]) != len(pngs):
        defects.append(f"{len(seen['images'])} images shown, {len(pngs)} figures written")
    sizes = sorted(_png_size(p) for p in pngs)
    for img in seen["images"]:
        if not img["complete"] or img["width"] == 0 or img["shown"] == 0:
            defects.append(f"image in {img['figure']} did not load ({img})")
    loaded = sorted((i["width"], i["height"]) for i in seen["images"] if i["width"])
    if loaded and len(loaded) == len(sizes) and loaded != sizes:
        defects.append(f"decoded image sizes {loaded} != PNG sizes {sizes}")
    for fig in seen["figures"]:
        if fig["images"] != 1 or not fig["caption"] or fig["caption_height"] <= 0 \
                or f"({fig['experiment']})" not in fig["caption"]:
            defects.append(f"figure {fig['id']} lacks its image or caption ({fig})")
    ids = [h["id"] for h in seen["headings"]]
    for h in seen["headings"]:
        if not h["id"] or h["anchor"] != f"#{h['id']}":
            defects.append(f"heading {h['text']!r} has no anchor")
    if len(set(ids)) != len(ids):
        defects.append("duplicate heading ids")
    if not seen["toc"]:
        defects.append("no table of contents")
    else:
        hrefs = {t["href"] for t in seen["toc"]}
        defects += [f"contents link {t['href']} goes nowhere" for t in seen["toc"]
                    if not t["resolves"]]
        defects += [f"{h['text']!r} missing from the contents" for h in seen["headings"]
                    if h["level"] in ("H2", "H3") and h["id"] != "contents"
                    and f"#{h['id']}" not in hrefs]
    from simulations import registry

    modules = [registry.get(n) for n in names]
    expected_topics = order_topics((m.TOPIC, m.PAPER_REF) for m in modules)
    if seen["topics"] != expected_topics or seen["summary"] != expected_topics:
        defects.append(f"topics {seen['topics']} / summary {seen['summary']} != "
                       f"{expected_topics}")
    if VGB_TOPIC in seen["topics"] and seen["topics"][-1] != VGB_TOPIC:
        defects.append("a coverage-paper topic comes after the VGB topic")
    rows = {}
    for row in seen["claims"]:
        rows.setdefault(row["id"], []).append(row)
    for n in names:
        in_tables = [c for c in claims[n] if c.kind == "prediction"]
        if in_tables and seen["tables"].get(n, 0) < len(in_tables):
            defects.append(f"{n}: {seen['tables'].get(n, 0)} claim rows in its tables, "
                           f"{len(in_tables)} claims")
        for c in claims[n]:
            if not rows.get(c.id):
                defects.append(f"claim {c.id} not shown")
                continue
            for row in rows[c.id]:
                if row["details"] != _norm(f"Details: {c.details or '(none)'}") \
                        or row["rule"] != _norm(f"Rule: {c.rule}") or row["details_height"] <= 0:
                    defects.append(f"claim {c.id}: details/rule missing or not rendered")
                if not row["verdict"].startswith(c.verdict):
                    defects.append(f"claim {c.id}: verdict {row['verdict']!r} != {c.verdict!r}")
    return defects


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser-report")
    assert main(["reproduce", "--quick", "--only", *EXPERIMENTS, "--out", str(out)]) in (0, 1)
    for name in EXPERIMENTS:
        assert (out / name / "claims.json").exists(), name
    return out


def test_the_report_renders_every_figure_table_anchor_and_detail(report, tmp_path):
    seen = _probe(report / "report.html", tmp_path)
    assert report_defects(seen, report, EXPERIMENTS) == []
    assert len(seen["images"]) >= len(EXPERIMENTS)  # each experiment draws at least one figure
    topics = seen["topics"]
    assert VGB_TOPIC in topics and topics.index(VGB_TOPIC) == len(topics) - 1


def test_the_probe_catches_a_broken_image_a_missing_caption_and_missing_details(report,
                                                                                 tmp_path):
    """Negative control: the same checks on a sabotaged copy of the report must fail."""
    import re

    html = (report / "report.html").read_text()
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,AAAA", html,
                  count=1)
    html = re.sub(r"<figcaption>.*?</figcaption>", "", html, count=1)
    html = re.sub(r"<p class='details'>.*?</p>", "", html, count=1)
    broken = tmp_path / "broken.html"
    broken.write_text(html)
    defects = report_defects(_probe(broken, tmp_path), report, EXPERIMENTS)
    assert any("did not load" in d for d in defects), defects
    assert any("lacks its image or caption" in d for d in defects), defects
    assert any("details/rule missing" in d for d in defects), defects


def test_screenshot_shows_a_rendered_page(report, tmp_path):
    from matplotlib.image import imread

    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
              (report / "report.html").as_uri(), cwd=tmp_path)
    pixels = imread(shot)
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    ink = (pixels[..., :3].mean(axis=-1) < 0.5).mean()  # dark pixels: text, lines, tables
    assert 0.005 < ink < 0.5, ink  # neither blank nor a black page
