"""Deprecated: the test map and the link check of the documentation moved to ``tests/tools/docs_map.py``.

It is a documentation tool of the repository, not part of the toolkit, so it lives with the
tests.  ``python -m simulations.docs_map ...`` still works: it forwards to
``python -m tests.tools.docs_map ...`` (same arguments) with a :class:`DeprecationWarning`, and
attribute access (``from simulations.docs_map import main``) is forwarded the same way.
Needs a source checkout (the ``tests/`` folder beside ``simulations/``).
"""

import sys

from simulations._deprecated import forward_tool

__getattr__, _main = forward_tool("simulations.docs_map", "docs_map")

if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
