"""Deprecated import path of the characteristic-function (Fourier) path: use :mod:`theory.log_ratio`.

``theory.characteristic.<name>`` keeps working for one release: every attribute access emits a
``DeprecationWarning`` naming the new path and returns the object defined in
:mod:`theory.log_ratio.fourier`.
"""

from __future__ import annotations

from .deprecation import moved_names

#: Old name -> its new import path (module, attribute).
_MOVED = {
    "markov_characteristic_function": "theory.log_ratio",
    "FourierCoverageLaw": "theory.log_ratio",
    "certified_fourier_law": "theory.log_ratio.fourier",
}


__getattr__ = moved_names(__name__, _MOVED)
