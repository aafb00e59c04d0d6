"""Deprecated: the generator of the record schema page moved to ``tests/tools/record_schemas.py``.

It is a documentation tool of the repository, not part of the toolkit, so it lives with the
tests.  ``python -m simulations.record_schemas ...`` still works: it forwards to
``python -m tests.tools.record_schemas ...`` (same arguments) with a :class:`DeprecationWarning`, and
attribute access (``from simulations.record_schemas import main``) is forwarded the same way.
Needs a source checkout (the ``tests/`` folder beside ``simulations/``).
"""

import sys

from simulations._deprecated import forward_tool

__getattr__, _main = forward_tool("simulations.record_schemas", "record_schemas")

if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
