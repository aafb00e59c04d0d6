"""The documentation map: ``docs/tests.md`` is current, every link and name resolves.

The first three tests check the repository; the others show that each check can fail, on
small temporary repositories with a stale map, broken links and unknown names, and that the
``ast`` collector finds the same test functions as pytest itself.
"""

import importlib.util
import pathlib
import subprocess
import sys
import textwrap


def _load_tool(name):
    """Import ``tests/tools/<name>.py`` by path (the repository root need not be on sys.path)."""
    qualified = f"tests.tools.{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            qualified, pathlib.Path(__file__).resolve().parents[1] / "tools" / f"{name}.py")
        sys.modules[qualified] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[qualified])
    return sys.modules[qualified]


docs_map = _load_tool("docs_map")
ROOT, check_links, check_names = docs_map.ROOT, docs_map.check_links, docs_map.check_names
collect_file_tests, collect_tests = docs_map.collect_file_tests, docs_map.collect_tests
main, render_tests_map = docs_map.main, docs_map.render_tests_map


def test_tests_map_is_current():
    """docs/tests.md equals the generator's output (regenerate with --write docs/tests.md)."""
    page = ROOT / "docs" / "tests.md"
    assert page.exists(), "run: python -m tests.tools.docs_map --write docs/tests.md"
    assert page.read_text(encoding="utf-8") == render_tests_map(ROOT), (
        "docs/tests.md is stale: run python -m tests.tools.docs_map --write docs/tests.md")


def test_every_relative_link_of_readme_and_docs_resolves():
    broken = check_links(ROOT)
    assert not broken, "\n".join(map(str, broken))
    pages = {p.name for p in docs_map._pages(ROOT)}
    assert "README.md" in pages and "tests.md" in pages and "index.md" in pages


def test_every_linked_function_and_named_test_exists():
    unknown = check_names(ROOT)
    assert not unknown, "\n".join(map(str, unknown))


def test_every_test_file_and_function_is_in_the_map():
    text = (ROOT / "docs" / "tests.md").read_text(encoding="utf-8")
    tests = collect_tests(ROOT)
    assert len(tests) > 50
    for path, (_, fns) in tests.items():
        assert f"### [{path}](../{path})" in text
        for t in fns:
            assert f"`{t.node_id}`" in text


# --------------------------------------------------------------------------- the checks can fail

def _write(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_link_check_reports_exactly_the_broken_links(tmp_path):
    _write(tmp_path, {
        "theory/bounds.py": "def f():\n    pass\n",
        "docs/figures/a.png": "png",
        "README.md": """\
            # Title
            [ok](docs/page.md) [missing](docs/nope.md) ![img](docs/figures/a.png)
            [ok anchor](docs/page.md#a-section-with-code) [bad anchor](docs/page.md#no-such-section)
            [web](https://example.org/x) [self](#title)
            """,
        "docs/page.md": """\
            # Page
            ## A section with `code`
            [`f`](../theory/bounds.py) and ![bad image](figures/b.png)
            [folder](figures/) <img src="figures/missing.png">
            `[not a link](nowhere.md)` ``a `[x](y.md)` b`` and a span over two lines: `python -m
            x [inside code](nowhere2.md)` then [broken after the span](../theory/nope.py)

            ```python
            [in a fence](nowhere3.md)
            ```
            [ref]: ../theory/absent.py
            """,
    })
    broken = {(b.page, b.line, b.target, b.reason) for b in check_links(tmp_path)}
    assert broken == {
        ("README.md", 2, "docs/nope.md", "no such file"),
        ("README.md", 3, "docs/page.md#no-such-section", "no such heading"),
        ("docs/page.md", 3, "figures/b.png", "no such file"),
        ("docs/page.md", 4, "figures/missing.png", "no such file"),
        ("docs/page.md", 6, "../theory/nope.py", "no such file"),
        ("docs/page.md", 11, "../theory/absent.py", "no such file"),
    }
    assert main(["--root", str(tmp_path), "--check-links"]) == 1


def test_links_and_paths_leaving_the_repository_are_reported(tmp_path):
    repo = tmp_path / "repo"
    _write(tmp_path, {"shared/reference/notes.md": "# Notes\n"})
    _write(repo, {"README.md": "[notes](../shared/reference/notes.md) [in](docs/a.md)\n",
                  "docs/a.md": "# A\n"})
    broken = {(b.page, b.line, b.target, b.reason) for b in check_links(repo)}
    assert broken == {("README.md", 1, "../shared/reference/notes.md", "outside the repository")}


def test_no_page_points_outside_the_repository():
    """README and docs cite the papers (arXiv links) or in-repo pages, never the team's notes."""
    offending = [f"{p.name}:{i}" for p in docs_map._pages(ROOT)
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if "shared/reference" in line or "/work/" in line]
    assert not offending, offending


def test_name_check_reports_unknown_functions_and_tests(tmp_path):
    _write(tmp_path, {
        "theory/bounds.py": "X = 1\n\nclass K:\n    def method(self):\n        pass\n\ndef f():\n    pass\n",
        "tests/unit/test_a.py": "def test_one():\n    pass\n\nclass TestGroup:\n    def test_two(self):\n        pass\n",
        "tests/unit/test_b.py": "def test_three():\n    pass\n",
        "README.md": "# R\n",
        "docs/page.md": """\
            # Page
            | Statement | Code | Tests |
            |---|---|---|
            | A | [`f`](../theory/bounds.py), [`K`](../theory/bounds.py), [`X`](../theory/bounds.py), [`method`](../theory/bounds.py) | [`test_a.py`](../tests/unit/test_a.py) (`test_one`, `TestGroup`, `test_two[p1]`) |
            | B | [`g`](../theory/bounds.py), [`bounds`](../theory/bounds.py) | [`test_a.py`](../tests/unit/test_a.py) (`test_three`) |

            A paragraph naming `test_three` and `test_four` with no test file linked,
            then `test_one` again.
            """,
    })
    unknown = {(b.page, b.line, b.target) for b in check_names(tmp_path)}
    assert unknown == {
        ("docs/page.md", 5, "g"),                    # not defined in bounds.py
        ("docs/page.md", 5, "test_three"),           # defined, but not in the file linked next to it
        ("docs/page.md", 7, "test_four"),            # defined nowhere under tests/
    }
    assert main(["--root", str(tmp_path), "--check-links"]) == 1


def _tiny_repo(root):
    _write(root, {
        "tests/unit/test_linked.py": '''\
            """Linked tests."""
            import pytest

            def test_alpha():
                """Alpha holds | even with a pipe."""

            @pytest.mark.slow
            def test_beta():
                pass
            ''',
        "tests/unit/test_unlinked.py": "def test_gamma():\n    pass\n",
        "docs/index.md": "# Index\n[page](page.md) [map](tests.md)\n",
        "docs/page.md": "# The page\n[`test_linked.py`](../tests/unit/test_linked.py)\n",
        "README.md": "# R\n[map](docs/tests.md)\n",
    })


def test_stale_map_is_detected_and_groups_follow_the_pages(tmp_path, capsys):
    _tiny_repo(tmp_path)
    assert main(["--root", str(tmp_path), "--write", "docs/tests.md"]) == 0
    assert main(["--root", str(tmp_path), "--check", "docs/tests.md", "--check-links"]) == 0
    text = (tmp_path / "docs" / "tests.md").read_text(encoding="utf-8")
    assert "3 test functions in 2 files" in text
    page_section = text.split("## The page")[1].split("## Not linked")[0]
    assert "tests/unit/test_linked.py::test_alpha` | Alpha holds \\| even with a pipe. |  |" in page_section
    assert "tests/unit/test_linked.py::test_beta` | *beta* | slow |" in page_section
    assert "test_unlinked.py::test_gamma" in text.split("## Not linked")[1]

    with open(tmp_path / "tests" / "unit" / "test_unlinked.py", "a", encoding="utf-8") as f:
        f.write("\n\ndef test_delta():\n    pass\n")
    capsys.readouterr()
    assert main(["--root", str(tmp_path), "--check", "docs/tests.md"]) == 1
    assert "stale" in capsys.readouterr().out
    assert render_tests_map(tmp_path) != text


COLLECTION_SOURCE = '''\
import pytest
from hypothesis import given, strategies as st

pytestmark = pytest.mark.statistical


def helper():
    pass


def test_plain():
    """First line.

    More text."""


@pytest.mark.parametrize("x", [1, 2])
def test_param(x):
    pass


@given(st.integers())
def test_hyp(x):
    pass


@pytest.mark.slow
def test_slow():
    pass


class TestGroup:
    def test_method(self):
        pass

    def helper(self):
        pass

    class TestNested:
        def test_inner(self):
            pass


class TestWithInit:
    def __init__(self):
        pass

    def test_not_collected(self):
        pass


class NotATest:
    def test_ignored(self):
        pass
'''


def test_collector_finds_what_pytest_collects(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow\n    statistical\n")
    (tmp_path / "test_sample.py").write_text(COLLECTION_SOURCE)
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "test_sample.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    by_pytest = {line.split("[")[0] for line in proc.stdout.splitlines() if "::" in line}
    ours = collect_file_tests(COLLECTION_SOURCE, "test_sample.py")
    assert {t.node_id for t in ours} == by_pytest
    assert len(by_pytest) == 6
    marks = {t.node_id.split("::")[-1]: t.marks for t in ours}
    assert marks["test_param"] == ("parametrized", "statistical")
    assert marks["test_hyp"] == ("hypothesis", "statistical")
    assert marks["test_slow"] == ("slow", "statistical")
    assert {t.node_id.split("::")[-1]: t.summary for t in ours}["test_plain"] == "First line."


def test_cli_prints_the_map(tmp_path, capsys):
    _tiny_repo(tmp_path)
    assert main(["--root", str(tmp_path)]) == 0
    assert capsys.readouterr().out == render_tests_map(pathlib.Path(tmp_path))
