"""Deprecated import path of the characteristic-function (Fourier) path: use :mod:`theory.log_ratio`.

``theory.characteristic.<name>`` keeps working for one release: every attribute access emits a
``DeprecationWarning`` naming the new path and returns the object defined in
:mod:`theory.log_ratio.fourier`.
"""

from __future__ import annotations

import importlib
import warnings

#: Old name -> its new import path (module, attribute).
_MOVED = {
    "markov_characteristic_function": "theory.log_ratio",
    "FourierCoverageLaw": "theory.log_ratio",
    "certified_fourier_law": "theory.log_ratio.fourier",
}


def __getattr__(name):
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _MOVED[name]
    warnings.warn(f"`{__name__}.{name}` is deprecated and will be removed in the next release; "
                  f"use `{module}.{name}`.", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(module), name)
