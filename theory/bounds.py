r"""The proved inequalities of the paper, one function per statement.

Each function returns the value of the bound (vectorised over ``N``), so that a test or
an experiment checks ``lhs <= bound`` on an instance.  Numbering: ICLR camera-ready first,
arXiv v2 second.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_thresholds

__all__ = ["kl_to_coverage", "kl_to_coverage_sharp", "kl_tightness_witness"]


def _kl_iv(kl):
    kl = as_float_array(kl, "kl", allow_neginf=False)
    if (kl < 0).any():
        raise ValueError("`kl` must be non-negative.")
    return kl


def kl_to_coverage(kl, N):
    r"""Prop. 3.1 (both numberings): :math:`\mathrm{Cov}_N \le D_{KL}/\log(N/e)` for :math:`N \ge e`.

    Returns ``inf`` for :math:`N \le e` (no bound), broadcasting ``kl`` against ``N``.

    Examples
    --------
    >>> float(kl_to_coverage(0.1, np.e ** 3))
    0.05
    """
    kl, N = _kl_iv(kl), check_thresholds(N)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = np.log(N) - 1.0
        return np.where(denom > 0, kl / np.where(denom > 0, denom, 1.0), np.inf)


def kl_to_coverage_sharp(kl, N):
    r"""Prop. F.1 (ICLR) / D.1 (arXiv): :math:`\mathrm{Cov}_N \le D_{KL}/(\log N - 1 + 1/N)` for :math:`N \ge 2`.

    From Lemma 27 of Block & Polyanskiy (2023) with :math:`f(x) = x\log x - x + 1`, since
    :math:`N/f(N) = 1/(\log N - 1 + 1/N)`.  Returns ``inf`` for :math:`N < 2`.

    Examples
    --------
    >>> round(float(kl_to_coverage_sharp(0.1, 2.0)), 6)
    0.51774
    """
    kl, N = _kl_iv(kl), check_thresholds(N)
    denom = np.log(N) - 1.0 + 1.0 / N
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(N >= 2, kl / np.where(N >= 2, denom, 1.0), np.inf)


def kl_tightness_witness(kl, N):
    r"""Prop. F.2 (ICLR) / D.2 (arXiv): the lower value :math:`D_{KL}/(\log N - 1/2 + 1/(2N))`.

    On the witness :math:`\pi_D = \mathrm{Ber}(p)`, :math:`\hat\pi = \mathrm{Ber}(p/N)`,
    :math:`p \le 1/2`, :math:`N \ge 2`, the coverage :math:`\mathrm{Cov}_N = p` is at least
    this value, so Prop. F.1 is tight up to the constant.

    Examples
    --------
    >>> round(float(kl_tightness_witness(0.1, 2.0)), 6)
    0.225659
    """
    kl, N = _kl_iv(kl), check_thresholds(N)
    return kl / (np.log(N) - 0.5 + 0.5 / N)
