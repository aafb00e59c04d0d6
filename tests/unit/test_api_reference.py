"""The API reference (``docs/api``) builds with Sphinx + numpydoc with warnings as errors.

The build runs in a temporary folder (never ``docs/api/_build``).  Besides the exit status,
the test checks that every page listed in ``docs/api`` was written and that every function and
class in the ``__all__`` of the core modules has its entry (so a module silently dropped by
autodoc fails), and a negative control shows that a malformed docstring fails the build.
Skipped only when sphinx or numpydoc is not installed (``pip install -e ".[docs]"``;
``.ci/run`` installs them).
"""

from __future__ import annotations

import importlib
import inspect
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("sphinx", reason="sphinx is not installed (pip install -e '.[docs]')")
pytest.importorskip("numpydoc", reason="numpydoc is not installed (pip install -e '.[docs]')")

ROOT = pathlib.Path(__file__).resolve().parents[2]
API = ROOT / "docs" / "api"

#: Modules whose every public function and class must appear in the reference.
CORE = ("theory.coverage", "theory.divergences", "theory.best_of_n", "theory.bounds",
        "theory.rates", "theory.log_ratio.markov", "theory.log_ratio.exact",
        "theory.log_ratio.certified", "theory.log_ratio.stopped", "theory.log_ratio.fourier",
        "theory.models.linear",
        "theory.models.markov", "simulations.claims", "simulations.learners.optimizers",
        "simulations.learners.training")


def _build(src, out):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(out / "doctrees"), str(src), str(out / "html")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    proc = _build(API, out)
    assert proc.returncode == 0, f"sphinx -W failed:\n{proc.stderr}"
    return out / "html"


def test_every_page_is_built(built):
    pages = sorted(p.stem for p in API.glob("*.rst"))
    index = (API / "index.rst").read_text(encoding="utf-8")
    for page in pages:
        assert (built / f"{page}.html").exists(), page
        if page != "index":
            assert f"   {page}\n" in index, f"{page}.rst is not in the index's toctree"
    assert set(CORE) <= set(pages)


@pytest.mark.parametrize("module", CORE)
def test_core_module_documents_its_public_names(built, module):
    mod = importlib.import_module(module)
    html = (built / f"{module}.html").read_text(encoding="utf-8")
    names = [n for n in mod.__all__ if inspect.isfunction(getattr(mod, n))
             or inspect.isclass(getattr(mod, n))]
    assert names
    missing = [n for n in names if f'id="{module}.{n}"' not in html]
    assert not missing, f"{module}: not in the reference: {missing}"


def test_negative_control_a_malformed_docstring_fails_the_build(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "broken_mod.py").write_text(textwrap.dedent('''\
        def f(x):
            """Summary.

            Parameters
            ----------
            x : int
                An unclosed ``literal.
            """
        '''))
    (src / "conf.py").write_text(
        "import sys\nsys.path.insert(0, %r)\n"
        "extensions = ['sphinx.ext.autodoc', 'numpydoc']\n" % str(src))
    (src / "index.rst").write_text("Broken\n======\n\n.. automodule:: broken_mod\n   :members:\n")
    proc = _build(src, tmp_path / "out")
    assert proc.returncode != 0
    assert "Inline literal start-string without end-string" in proc.stderr
