"""Deprecated import path of the certified bounds: use :mod:`theory.log_ratio`.

``theory.certified.<name>`` keeps working for one release: every attribute access emits a
``DeprecationWarning`` naming the new path and returns the object defined in
:mod:`theory.log_ratio.certified` and :mod:`theory.log_ratio.stopped`.
"""

from __future__ import annotations

from .deprecation import moved_names

#: Old name -> its new import path (module, attribute).
_MOVED = {
    "certified_log_ratio": "theory.log_ratio",
    "certified_coverage": "theory.log_ratio",
    "certified_stopped_kl": "theory.log_ratio",
    "CertifiedBounds": "theory.log_ratio",
    "CertifiedLogRatioLaw": "theory.log_ratio",
}


__getattr__ = moved_names(__name__, _MOVED)
