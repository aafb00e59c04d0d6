"""Deprecated: the generator of the record schema page moved to ``tests/tools/record_schemas.py``.

It is a documentation tool of the repository, not part of the toolkit, so it lives with the
tests.  ``python -m simulations.record_schemas ...`` still works: it forwards to
``python -m tests.tools.record_schemas ...`` (same arguments) with a :class:`DeprecationWarning`, and
attribute access (``from simulations.record_schemas import main``) is forwarded the same way.
Needs a source checkout (the ``tests/`` folder beside ``simulations/``).
"""

import importlib.util
import pathlib
import sys
import warnings

_TOOL = pathlib.Path(__file__).resolve().parents[1] / "tests" / "tools" / "record_schemas.py"


def _load():
    module = sys.modules.get("tests.tools.record_schemas")
    if module is None:
        if not _TOOL.exists():
            raise ImportError(f"simulations.record_schemas moved to tests/tools/record_schemas.py, which needs "
                              f"a source checkout; not found at {_TOOL}")
        spec = importlib.util.spec_from_file_location("tests.tools.record_schemas", _TOOL)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


def __getattr__(name):
    value = getattr(_load(), name)
    warnings.warn(f"simulations.record_schemas is deprecated: use tests/tools/record_schemas.py "
                  f"(python -m tests.tools.record_schemas)", DeprecationWarning, stacklevel=2)
    return value


if __name__ == "__main__":
    warnings.warn("python -m simulations.record_schemas is deprecated: use python -m tests.tools.record_schemas",
                  DeprecationWarning, stacklevel=1)
    sys.exit(_load().main(sys.argv[1:]))
