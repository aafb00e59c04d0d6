r"""The law of the log density ratio :math:`Z = \log\pi_D(y|x)/\hat\pi(y|x)` under :math:`\pi_D`.

The coverage profile is the upper tail of :math:`Z` (Definition 1.1) and the KL divergence
its mean (Remark E.1 ICLR / 2.1 arXiv).  This package obtains that law exactly, by Monte
Carlo, or as certified two-sided bounds at any horizon; every public name is importable from
here (``from theory.log_ratio import certified_coverage``).

Modules, from the bottom up (each imports only modules above it in this list):

* :mod:`~theory.log_ratio.parameters` -- the shared parameter descriptions of the docstrings;
* :mod:`~theory.log_ratio.markov` -- per-token pieces of a data/model pair: input checks,
  token KLs and Hellinger along paths, the exact Markov KL at any ``H``
  (:func:`markov_kl`, :func:`markov_token_kl_profile`, :func:`path_token_kls`,
  :func:`path_token_hellinger`);
* :mod:`~theory.log_ratio.exact` -- the law as a weighted sample: exact by enumeration,
  or Monte Carlo (:class:`LogRatioLaw`, :func:`exact_log_ratio`, :func:`sampled_log_ratio`,
  :func:`exact_stopped_kl`);
* :mod:`~theory.log_ratio.lattice` -- the kernel shared by the certified laws (transition
  arrays prepared once, exact moments and windows, tilted MGFs);
* :mod:`~theory.log_ratio.fourier` -- the exact characteristic function and the
  ``"fourier"`` certified law (:func:`markov_characteristic_function`);
* :mod:`~theory.log_ratio.certified` -- certified coverage bounds, dispatching over the
  ``"lattice"``, ``"fft"`` and ``"fourier"`` methods (:func:`certified_log_ratio`,
  :func:`certified_coverage`);
* :mod:`~theory.log_ratio.stopped` -- certified bounds on the stopped KL
  (:func:`certified_stopped_kl`).

The repeated squaring used for long time-homogeneous chains is :mod:`theory.squaring`
(shared with :mod:`theory.models`, which this package imports, so it cannot live here).
"""

from __future__ import annotations

from ..intervals import clopper_pearson
from .certified import CertifiedBounds, CertifiedLogRatioLaw, certified_coverage, certified_log_ratio  # noqa: F401
from .exact import LogRatioLaw, exact_log_ratio, exact_stopped_kl, sampled_log_ratio
from .fourier import FourierCoverageLaw, markov_characteristic_function  # noqa: F401
from .markov import markov_kl, markov_token_kl_profile, path_token_hellinger, path_token_kls
from .stopped import certified_stopped_kl

__all__ = [
    "LogRatioLaw",
    "exact_log_ratio",
    "sampled_log_ratio",
    "path_token_kls",
    "exact_stopped_kl",
    "markov_token_kl_profile",
    "markov_kl",
    "clopper_pearson",
    "path_token_hellinger",
    "certified_log_ratio",
    "certified_coverage",
    "certified_stopped_kl",
    "markov_characteristic_function",
]
# Result records, importable here but built only by the functions above: CertifiedBounds,
# CertifiedLogRatioLaw, FourierCoverageLaw.
