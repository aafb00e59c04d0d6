"""Deprecated: the test map and the link check of the documentation moved to ``tests/tools/docs_map.py``.

It is a documentation tool of the repository, not part of the toolkit, so it lives with the
tests.  ``python -m simulations.docs_map ...`` still works: it forwards to
``python -m tests.tools.docs_map ...`` (same arguments) with a :class:`DeprecationWarning`, and
attribute access (``from simulations.docs_map import main``) is forwarded the same way.
Needs a source checkout (the ``tests/`` folder beside ``simulations/``).
"""

import importlib.util
import pathlib
import sys
import warnings

_TOOL = pathlib.Path(__file__).resolve().parents[1] / "tests" / "tools" / "docs_map.py"


def _load():
    module = sys.modules.get("tests.tools.docs_map")
    if module is None:
        if not _TOOL.exists():
            raise ImportError(f"simulations.docs_map moved to tests/tools/docs_map.py, which needs "
                              f"a source checkout; not found at {_TOOL}")
        spec = importlib.util.spec_from_file_location("tests.tools.docs_map", _TOOL)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


def __getattr__(name):
    value = getattr(_load(), name)
    warnings.warn(f"simulations.docs_map is deprecated: use tests/tools/docs_map.py "
                  f"(python -m tests.tools.docs_map)", DeprecationWarning, stacklevel=2)
    return value


if __name__ == "__main__":
    warnings.warn("python -m simulations.docs_map is deprecated: use python -m tests.tools.docs_map",
                  DeprecationWarning, stacklevel=1)
    sys.exit(_load().main(sys.argv[1:]))
