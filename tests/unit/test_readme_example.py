"""The Python example of the README's quick start runs and prints what the README shows."""

import doctest
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_python_example():
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4
    assert result.failed == 0


def test_a_wrong_readme_output_would_fail(tmp_path):
    text = (ROOT / "README.md").read_text().replace("array([0.25, 0.25, 0.  ])",
                                                    "array([0.5, 0.25, 0.  ])")
    page = tmp_path / "README.md"
    page.write_text(text)
    result = doctest.testfile(str(page), module_relative=False, report=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 1
