"""Docstring templates: each shared parameter described once.

Modules with many functions taking the same arguments (``theory.rates``, the log-ratio laws,
the VGB walk) keep one dictionary of parameter descriptions and fill their docstrings from it,
as :mod:`scipy` does with ``scipy._lib.doccer``.  A docstring line that consists of a single
``%(name)s`` placeholder is replaced by the registered text re-indented to that line, so the
filled docstring is ordinary numpydoc that Sphinx, ``help()`` and the docstring tests read.

Examples
--------
>>> from theory.docstrings import DocTemplate
>>> params = DocTemplate(n="n : array_like\\n    Number of samples, ``n > 0``.")
>>> @params
... def f(n):
...     '''Return ``n``.
...
...     Parameters
...     ----------
...     %(n)s
...     '''
...     return n
>>> print(f.__doc__.splitlines()[4].strip())
n : array_like
"""

from __future__ import annotations

import re
import textwrap

__all__ = ["DocTemplate"]

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<key>\w+)\)s[ \t]*$")


class DocTemplate:
    """A named set of docstring fragments and the decorator that fills them in.

    Parameters
    ----------
    **fragments : str
        ``name=text`` pairs; ``text`` is numpydoc written at zero indentation (a parameter
        line, then its description indented by four spaces).

    Notes
    -----
    Filling happens once, at import time.  An unknown placeholder raises ``KeyError``
    naming it, so a typo cannot leave ``%(...)s`` in a published docstring.
    """

    def __init__(self, **fragments):
        for key, text in fragments.items():
            if not isinstance(text, str):
                raise TypeError(f"fragment `{key}` must be a str, got {type(text).__name__}.")
        self.fragments = {key: textwrap.dedent(text).strip("\n") for key, text in fragments.items()}

    def extended(self, **fragments):
        """Return a new template with ``fragments`` added (or overriding) this one's."""
        return DocTemplate(**{**self.fragments, **fragments})

    def fill(self, doc):
        """Return ``doc`` with every whole-line ``%(name)s`` placeholder replaced."""
        if doc is None:
            return None
        out = []
        for line in doc.splitlines():
            match = _PLACEHOLDER.match(line)
            if match is None:
                out.append(line)
                continue
            key = match["key"]
            if key not in self.fragments:
                raise KeyError(f"docstring placeholder `%({key})s` has no registered fragment.")
            out.append(textwrap.indent(self.fragments[key], match["indent"]))
        filled = "\n".join(out)
        return filled + "\n" if doc.endswith("\n") else filled

    def __call__(self, obj):
        """Fill ``obj.__doc__`` in place and return ``obj`` (use as a decorator)."""
        obj.__doc__ = self.fill(obj.__doc__)
        return obj
