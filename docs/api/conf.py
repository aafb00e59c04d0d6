"""Sphinx configuration of the API reference (``python -m sphinx -W -b html docs/api OUT``).

Built from the numpydoc docstrings of the modules listed in ``index.rst``; the test
``tests/unit/test_api_reference.py`` builds it with warnings as errors.
"""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

project = "coverage-principle"
author = "coverage-principle developers"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
]
exclude_patterns = ["_build"]
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"
# numpydoc renders Parameters/Returns; class member tables would repeat every method.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
html_theme = "alabaster"
html_static_path = []
suppress_warnings = []
