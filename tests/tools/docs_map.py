"""The test map (``docs/tests.md``) and the link check of the documentation.

``docs/tests.md`` lists every test function under ``tests/`` (node id → first line of its
docstring, or its name when it has none), grouped by test file, and every file under the
topic page of ``docs/`` that links to it.  It is generated, never edited by hand::

    python -m tests.tools.docs_map --write docs/tests.md    # regenerate
    python -m tests.tools.docs_map --check docs/tests.md    # exit 1 if the page is stale
    python -m tests.tools.docs_map --check-links            # exit 1 on a broken link or name

The test sources are parsed with :mod:`ast`, never imported, with pytest's default collection
rules (files ``test_*.py`` / ``*_test.py``, functions ``test*`` at module level and in classes
``Test*`` without ``__init__``).  A parametrized or hypothesis test counts once.

:func:`check_links` checks every relative link (``[text](target)``, ``![alt](target)``,
reference definitions and HTML ``href``/``src``) of ``README.md`` and ``docs/*.md``: the file
must exist and, for a link into a Markdown file with a ``#fragment``, the fragment must be one
of its headings' GitHub anchors.  Links inside code (fenced blocks, inline code) are not links.
:func:`check_names` checks that a function linked as ``[`name`](file.py)`` is defined in that
file and that a test named in backticks is defined in the test files linked next to it.
``tests/unit/test_docs_map.py`` runs these checks in the default test suite.

Examples
--------
>>> github_anchor("Coverage and Best-of-N: statement → code")
'coverage-and-best-of-n-statement--code'
>>> [link.target for link in extract_links("[a](x.md) `[b](y.md)` ![c](f.png#z) [d](http://e)")]
['x.md', 'f.png#z', 'http://e']
>>> [t.node_id for t in collect_file_tests("def test_a():\\n    pass\\n", "tests/test_x.py")]
['tests/test_x.py::test_a']
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import pathlib
import re
import sys
import urllib.parse
import warnings

__all__ = ["TestFunction", "Link", "BrokenLink", "collect_file_tests", "collect_tests",
           "extract_links", "github_anchor", "heading_anchors", "check_links", "check_names", "page_test_links",
           "render_tests_map", "main", "ROOT"]

ROOT = pathlib.Path(__file__).resolve().parents[2]
TESTS_PAGE = "docs/tests.md"
# Markers shown in the map (parametrize/usefixtures/filterwarnings/timeout are mechanics, not kinds).
_HIDDEN_MARKERS = {"parametrize", "usefixtures", "filterwarnings", "timeout"}


# --------------------------------------------------------------------------- test collection

@dataclasses.dataclass(frozen=True)
class TestFunction:
    """One collected test function (a parametrized or hypothesis test counts once).

    Attributes
    ----------
    path : str
        POSIX path of the test file relative to the repository root.
    node_id : str
        ``path::[Class::]name`` as pytest prints it (without parameter ids).
    summary : str
        First non-empty line of the docstring; without one, the function name without ``test_``
        (underscores as spaces) in italics.
    marks : tuple of str
        pytest markers of the module, class and function (sorted), plus ``parametrized`` and
        ``hypothesis`` (decorated with ``@given``) when they apply.
    """

    __test__ = False        # not a pytest test class, despite its name

    path: str
    node_id: str
    summary: str
    marks: tuple = ()

    def to_dict(self):
        return dataclasses.asdict(self)


def _marker_names(decorators):
    """Marker names and kinds from a list of decorator expressions."""
    out = set()
    for dec in decorators:
        node = dec.func if isinstance(dec, ast.Call) else dec
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.append(node.id)
        parts.reverse()
        if len(parts) >= 3 and parts[:2] == ["pytest", "mark"]:
            if parts[2] == "parametrize":
                out.add("parametrized")
            elif parts[2] not in _HIDDEN_MARKERS:
                out.add(parts[2])
        elif parts and parts[-1] == "given":
            out.add("hypothesis")
    return out


def _module_marks(tree):
    """Markers of a module-level ``pytestmark = pytest.mark.x`` or ``[pytest.mark.x, ...]``."""
    marks = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                for t in node.targets):
            values = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            marks |= _marker_names(values)
    return marks


def _summary(node):
    doc = ast.get_docstring(node)
    if doc:
        for line in doc.splitlines():
            if line.strip():
                return line.strip()
    name = node.name[len("test"):].lstrip("_").replace("_", " ")
    return f"*{name}*"


def _is_test_function(node):
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")


def _collect_class(cls, prefix, marks, path, out):
    if any(isinstance(n, ast.FunctionDef) and n.name == "__init__" for n in cls.body):
        return                                      # pytest does not collect classes with __init__
    marks = marks | _marker_names(cls.decorator_list)
    for node in cls.body:
        if _is_test_function(node):
            out.append(TestFunction(path, f"{prefix}::{cls.name}::{node.name}", _summary(node),
                                    tuple(sorted(marks | _marker_names(node.decorator_list)))))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            _collect_class(node, f"{prefix}::{cls.name}", marks, path, out)


def collect_file_tests(source, path):
    """Test functions of one test file, in source order, parsed (not imported).

    Parameters
    ----------
    source : str
        The file's text.
    path : str
        Its POSIX path relative to the repository root (the node-id prefix).

    Returns
    -------
    list of TestFunction

    Examples
    --------
    >>> src = 'import pytest\\npytestmark = pytest.mark.slow\\nclass TestA:\\n    def test_b(self):\\n        "B holds."\\n'
    >>> [(t.node_id, t.summary, t.marks) for t in collect_file_tests(src, "tests/test_a.py")]
    [('tests/test_a.py::TestA::test_b', 'B holds.', ('slow',))]
    """
    tree = _parse(source)
    marks = _module_marks(tree)
    out = []
    for node in tree.body:
        if _is_test_function(node):
            out.append(TestFunction(path, f"{path}::{node.name}", _summary(node),
                                    tuple(sorted(marks | _marker_names(node.decorator_list)))))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            _collect_class(node, path, marks, path, out)
    return out


def _test_files(root):
    tests = pathlib.Path(root) / "tests"
    files = {p for p in tests.rglob("*.py") if p.name.startswith("test_") or p.name.endswith("_test.py")}
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def collect_tests(root=ROOT):
    """Every test function under ``root/tests``, grouped by file.

    Returns
    -------
    dict
        ``{path: (module docstring first line or "", [TestFunction, ...])}`` in path order.
    """
    root = pathlib.Path(root)
    out = {}
    for p in _test_files(root):
        rel = p.relative_to(root).as_posix()
        source = p.read_text(encoding="utf-8")
        doc = ast.get_docstring(_parse(source)) or ""
        first = next((line.strip() for line in doc.splitlines() if line.strip()), "")
        out[rel] = (first, collect_file_tests(source, rel))
    return out


# --------------------------------------------------------------------------- links

@dataclasses.dataclass(frozen=True)
class Link:
    """A link found in a Markdown text: its target as written and its 1-based line."""

    target: str
    line: int


@dataclasses.dataclass(frozen=True)
class BrokenLink:
    """A relative link that does not resolve: the page, the line, the target and why."""

    page: str
    line: int
    target: str
    reason: str

    def __str__(self):
        return f"{self.page}:{self.line}: {self.target} ({self.reason})"


_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)([\s\S]*?[^`])\1(?!`)")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s<>]+(?:\([^()\s]*\))?)>?(?:\s+[\"'(][^)]*)?\)")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$")
_HTML_ATTR = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _code_free_lines(text, inline=True):
    """The lines of ``text`` with fenced code blocks blanked (and inline code replaced).

    Inline code spans may run over several lines of a paragraph; the replacement keeps the
    line count, so line numbers stay those of ``text``.
    """
    lines, fence = [], None
    for line in text.splitlines():
        m = _FENCE.match(line)
        if fence is not None:
            if m and m.group(1) == fence:
                fence = None
            lines.append("")
            continue
        if m:
            fence = m.group(1)
            lines.append("")
            continue
        lines.append(line)
    if not inline:
        return lines
    parts = re.split(r"(\n[ \t]*\n)", "\n".join(lines))          # paragraphs: spans never cross them
    parts = [_INLINE_CODE.sub(lambda m: "code" + "\n" * m.group(0).count("\n"), part) for part in parts]
    out = "".join(parts).split("\n")
    return out + [""] * (len(lines) - len(out))


def extract_links(text):
    """Every link target of a Markdown text (inline, image, reference definition, HTML).

    Code (fenced blocks and inline spans) is skipped: ``[a](b)`` inside backticks is text.

    Returns
    -------
    list of Link
    """
    out = []
    for number, line in enumerate(_code_free_lines(text), start=1):
        for rx in (_INLINE_LINK, _REF_DEF, _HTML_ATTR):
            out.extend(Link(m.group(1), number) for m in rx.finditer(line))
    return out


def github_anchor(heading):
    """The anchor GitHub gives a Markdown heading (lower case, punctuation dropped, spaces → ``-``).

    Parameters
    ----------
    heading : str
        The heading text without the leading ``#``.
    """
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())    # link → its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def heading_anchors(text):
    """The set of anchors of a Markdown text's headings (duplicates get ``-1``, ``-2``, ...)."""
    seen, out = {}, set()
    for line in _code_free_lines(text, inline=False):
        m = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = github_anchor(m.group(1))
        k = seen.get(base, 0)
        seen[base] = k + 1
        out.add(base if k == 0 else f"{base}-{k}")
    out |= set(re.findall(r"""<a\s+(?:name|id)\s*=\s*["']([^"']+)["']""", text))
    return out


def _pages(root):
    root = pathlib.Path(root)
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if p.exists()]


def check_links(root=ROOT, pages=None):
    """Broken relative links of ``README.md`` and ``docs/*.md`` (or of the given pages).

    A link is relative when it has no URL scheme (``http:``, ``mailto:``, ...).  It must name an
    existing file or folder inside ``root`` (resolved against the page's folder: a page of the
    repository cannot point to files that are not shipped with it); a ``#fragment`` into a Markdown
    file (or into the page itself) must be one of that file's heading anchors.

    Returns
    -------
    list of BrokenLink
        Empty when every link resolves.
    """
    root = pathlib.Path(root)
    pages = _pages(root) if pages is None else [pathlib.Path(p) for p in pages]
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        try:
            shown = page.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            shown = str(page)
        for link in extract_links(text):
            if _SCHEME.match(link.target):
                continue
            path_part, _, fragment = link.target.partition("#")
            path_part = urllib.parse.unquote(path_part)
            target = (page.parent / path_part) if path_part else page
            if not target.exists():
                broken.append(BrokenLink(shown, link.line, link.target, "no such file"))
                continue
            if not target.resolve().is_relative_to(root.resolve()):
                broken.append(BrokenLink(shown, link.line, link.target, "outside the repository"))
                continue
            if fragment and target.is_file() and target.suffix == ".md":
                anchors = heading_anchors(target.read_text(encoding="utf-8"))
                if urllib.parse.unquote(fragment) not in anchors:
                    broken.append(BrokenLink(shown, link.line, link.target, "no such heading"))
    return broken


_NAME_LINK = re.compile(r"\[`([A-Za-z_]\w*)`\]\(([^()\s#]+\.py)(?:#[^)]*)?\)")
_TEST_NAME = re.compile(r"`((?:test_|Test)\w*)(?:\[[^\]`]*\])?`(?!\]\()")


def _parse(source):
    """``ast.parse`` without the warnings of the parsed file (e.g. invalid escapes in docstrings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        return ast.parse(source)


def _defined_names(path):
    """Names a Python file defines: every function and class (any depth), top-level assignments."""
    tree = _parse(path.read_text(encoding="utf-8"))
    names = {n.name for n in ast.walk(tree)
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _blocks(text):
    """(first line number, [lines]) of each table row and each paragraph, outside code fences."""
    blocks, current, start, fence = [], [], 0, None
    for number, line in enumerate(text.splitlines(), start=1):
        m = _FENCE.match(line)
        if fence is not None or m:
            if fence is None:
                fence = m.group(1)
            elif m and m.group(1) == fence:
                fence = None
            if current:
                blocks.append((start, current))
                current = []
            continue
        if line.lstrip().startswith("|") or not line.strip() or line.startswith("#"):
            if current:
                blocks.append((start, current))
                current = []
            if line.lstrip().startswith("|"):
                blocks.append((number, [line]))
            continue
        if not current:
            start = number
        current.append(line)
    if current:
        blocks.append((start, current))
    return blocks


def check_names(root=ROOT, pages=None):
    """Names in the pages that do not exist in the code they point to.

    Two kinds of names are checked (in ``README.md`` and ``docs/*.md`` except the generated
    ``docs/tests.md``, outside code fences):

    * a link whose text is one identifier in backticks and whose target is a Python file,
      ``[`kl_to_coverage_sharp`](../theory/bounds.py)``: the file must define that name
      (a function or class at any depth, or a top-level assignment), unless the name is the
      file's own (a link to a module by its name);
    * a test name in backticks, ``(`test_prop_f1_holds`)`` or ``TestPassAtN`` (parameter ids in
      brackets are ignored): one of the test files linked in the same table row or paragraph
      (or, when none is, some test file under ``tests/``) must define it.

    Returns
    -------
    list of BrokenLink
        One per unknown name (``target`` is the name); empty when every name exists.
    """
    root = pathlib.Path(root)
    if pages is None:                       # the generated map quotes docstrings, not names
        pages = [p for p in _pages(root) if p != root / TESTS_PAGE]
    pages = [pathlib.Path(p) for p in pages]
    cache = {}

    def names(path):
        key = path.resolve()
        if key not in cache:
            cache[key] = _defined_names(path) if path.is_file() else set()
        return cache[key]

    all_tests = None
    broken = []
    for page in pages:
        try:
            shown = page.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            shown = str(page)
        for start, lines in _blocks(page.read_text(encoding="utf-8")):
            test_files = []
            for offset, line in enumerate(lines):
                for m in _NAME_LINK.finditer(line):
                    target = page.parent / urllib.parse.unquote(m.group(2))
                    if target.is_file() and m.group(1) != target.stem and m.group(1) not in names(target):
                        broken.append(BrokenLink(shown, start + offset, m.group(1),
                                                 f"not defined in {m.group(2)}"))
            for link in extract_links("\n".join(lines)):
                t = link.target.partition("#")[0]
                if not _SCHEME.match(link.target) and t.endswith(".py") and "tests/" in t:
                    path = page.parent / urllib.parse.unquote(t)
                    if path.is_file():
                        test_files.append(path)
            for offset, line in enumerate(lines):
                for m in _TEST_NAME.finditer(line):
                    if test_files:
                        pool = set().union(*(names(p) for p in test_files))
                        where = "the test files linked next to it"
                    else:
                        if all_tests is None:
                            all_tests = set().union(*(names(p) for p in _test_files(root)))
                        pool, where = all_tests, "tests/"
                    if m.group(1) not in pool:
                        broken.append(BrokenLink(shown, start + offset, m.group(1), f"not defined in {where}"))
    return broken


# --------------------------------------------------------------------------- the map

def _topic_pages(root):
    """Topic pages in the order ``docs/index.md`` lists them, then any other page by name."""
    docs = pathlib.Path(root) / "docs"
    listed = []
    index = docs / "index.md"
    if index.exists():
        for link in extract_links(index.read_text(encoding="utf-8")):
            name = link.target.partition("#")[0]
            if (name.endswith(".md") and "/" not in name and name not in listed
                    and name not in ("index.md", "tests.md") and (docs / name).exists()):
                listed.append(name)
    others = sorted(p.name for p in docs.glob("*.md")
                    if p.name not in listed and p.name not in ("index.md", "tests.md"))
    return listed + others


def page_test_links(root=ROOT):
    """``{topic page: {test file: number of links}}`` for the links of each page into ``tests/``."""
    root = pathlib.Path(root)
    out = {}
    for name in _topic_pages(root):
        page = root / "docs" / name
        counts = {}
        for link in extract_links(page.read_text(encoding="utf-8")):
            if _SCHEME.match(link.target):
                continue
            target = (page.parent / urllib.parse.unquote(link.target.partition("#")[0])).resolve()
            try:
                rel = target.relative_to(root.resolve()).as_posix()
            except ValueError:
                continue
            if rel.startswith("tests/") and target.is_file():
                counts[rel] = counts.get(rel, 0) + 1
        out[name] = counts
    return out


def _title(page):
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return page.stem


def _cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


OTHER = "Not linked from a topic page (infrastructure and cross-cutting checks)"


def render_tests_map(root=ROOT):
    """The text of ``docs/tests.md`` for the repository at ``root``."""
    root = pathlib.Path(root)
    tests = collect_tests(root)
    links = page_test_links(root)
    order = list(links)
    groups = {name: [] for name in order}
    groups[OTHER] = []
    also = {}
    for path in tests:
        pages = [name for name in order if links[name].get(path)]
        if pages:
            best = max(pages, key=lambda name: (links[name][path], -order.index(name)))
            groups[best].append(path)
            also[path] = [name for name in pages if name != best]
        else:
            groups[OTHER].append(path)
            also[path] = []

    n_tests = sum(len(fns) for _, fns in tests.values())
    titles = {name: _title(root / "docs" / name) for name in order}
    titles[OTHER] = OTHER
    lines = [
        "# Test map: every test function in `tests/`",
        "",
        "<!-- Generated by `python -m tests.tools.docs_map --write docs/tests.md`; do not edit. -->",
        "",
        f"{n_tests} test functions in {len(tests)} files (a parametrized or hypothesis test counts once), "
        "each with the first line of its docstring, or, in *italics*, its name when it has none.  Each file is listed "
        "under the topic page that links to it most often; \"also\" names the other pages that link to it.  "
        "Generated from the sources (parsed with `ast`, not imported) by "
        "`python -m tests.tools.docs_map --write docs/tests.md`; `tests/unit/test_docs_map.py` fails when "
        "this page is stale or when a relative link of `README.md` or `docs/*.md` does not resolve.",
        "",
        "Marks: `slow` (full reproductions, excluded by `-m \"not slow\"`), `statistical` (calibrated "
        "statistical test with a stated false-fail rate), `parametrized`, `hypothesis` (property-based).",
        "",
        "| Topic | Test files | Test functions |",
        "|---|---|---|",
    ]
    for name in [*order, OTHER]:
        if not groups[name]:
            continue
        count = sum(len(tests[p][1]) for p in groups[name])
        lines.append(f"| [{_cell(titles[name])}](#{github_anchor(titles[name])}) | {len(groups[name])} | {count} |")
    for name in [*order, OTHER]:
        if not groups[name]:
            continue
        lines += ["", f"## {titles[name]}", ""]
        if name != OTHER:
            lines += [f"Topic page: [{name}]({name})", ""]
        for path in groups[name]:
            doc, fns = tests[path]
            lines += [f"### [{path}](../{path})", ""]
            intro = []
            if doc:
                intro.append(_cell(doc))
            if also[path]:
                intro.append("Also linked from " + ", ".join(f"[{p}]({p})" for p in also[path]) + ".")
            if intro:
                lines += [" ".join(intro), ""]
            if not fns:
                lines += ["No test functions.", ""]
                continue
            lines += ["| Test | What it checks | Marks |", "|---|---|---|"]
            for t in fns:
                lines.append(f"| `{_cell(t.node_id)}` | {_cell(t.summary)} | {', '.join(t.marks)} |")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- command line

def main(argv=None):
    """``python -m tests.tools.docs_map [--write PATH | --check PATH] [--check-links] [--root DIR]``.

    Without options, prints the test map.  Exit status 1 when ``--check`` finds the page stale or
    ``--check-links`` finds a broken link (:func:`check_links`) or an unknown name
    (:func:`check_names`), else 0.
    """
    parser = argparse.ArgumentParser(prog="python -m tests.tools.docs_map", description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(ROOT), help="repository root (default: this checkout)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="PATH", help="write the test map to PATH (relative to --root)")
    group.add_argument("--check", metavar="PATH", help="exit 1 if PATH differs from the generated map")
    parser.add_argument("--check-links", action="store_true",
                        help="exit 1 if a relative link of README.md or docs/*.md does not resolve, "
                             "or a function or test named in them does not exist (check_names)")
    args = parser.parse_args(argv)
    root = pathlib.Path(args.root)
    status = 0
    if args.write or args.check or not args.check_links:
        text = render_tests_map(root)
        if args.write:
            (root / args.write).write_text(text, encoding="utf-8")
            print(f"wrote {args.write}")
        elif args.check:
            target = root / args.check
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                print(f"{args.check} is stale: run python -m tests.tools.docs_map --write {args.check}")
                status = 1
        else:
            sys.stdout.write(text)
    if args.check_links:
        broken = check_links(root) + check_names(root)
        for b in broken:
            print(b)
        if broken:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
