"""The Bernoulli case study of Section 3 and the tightness witness of Prop. F.2 / D.2."""

from __future__ import annotations

from ..validation import check_real
from ..models import categorical_model
from ._base import Instance

__all__ = ["bernoulli_case_study", "bernoulli_witness"]


def bernoulli_case_study(p_star=0.05):
    r"""Section 3: :math:`X = \{\perp\}`, :math:`Y = \{0, 1\}`, :math:`\pi_D = \mathrm{Ber}(p_\star)`.

    The class is :math:`\Pi = \{\mathrm{Ber}(p)\}_{p \in [0, 1/2]}`; its MLE is the empirical
    frequency (clipped at 1/2).  With probability :math:`(1-p_\star)^n` the MLE is
    :math:`\hat p = 0` and :math:`D_{KL}(\pi_D\|\hat\pi) = +\infty`, yet
    :math:`\mathrm{Cov}_N(\hat\pi) \lesssim \log(1/\delta)/n` w.p. :math:`1-\delta` for all
    :math:`N \ge 2`.

    Parameters
    ----------
    p_star : float, optional
        :math:`p_\star \in (0, 1/2]` (default 0.05).

    Returns
    -------
    Instance
        ``data`` is :math:`\mathrm{Ber}(p_\star)` as a one-step :class:`~theory.models.MarkovModel`
        (outcomes ``(0, 1)``); ``model_class`` is ``None`` (the Bernoulli class is implicit).

    Examples
    --------
    >>> inst = bernoulli_case_study(0.1)
    >>> inst.data.enumerate_log_probs().round(4)
    array([[-0.1054, -2.3026]])
    """
    p = check_real(p_star, "p_star", low=0.0, high=0.5, low_open=True)
    return Instance("bernoulli_case_study", "Section 3 (both numberings)",
                    data=categorical_model([1.0 - p, p]), params={"p_star": p})


def bernoulli_witness(p=0.25, N=4.0):
    r"""Prop. F.2 (ICLR) / D.2 (arXiv) witness: :math:`\pi_D = \mathrm{Ber}(p)`, :math:`\hat\pi = \mathrm{Ber}(p/N)`, :math:`p \le 1/2`.

    Then :math:`\mathrm{Cov}_N(\pi_D\|\hat\pi) = p \ge D_{KL}/(\log N - 1/2 + 1/(2N))`.

    Parameters
    ----------
    p : float, optional
        :math:`p \in (0, 1/2]` (default 0.25).
    N : float, optional
        Threshold ``>= 1`` (default 4; the proposition takes :math:`N \ge 2`).

    Returns
    -------
    Instance
        ``data`` is :math:`\mathrm{Ber}(p)`; ``model_class`` holds the single model
        :math:`\hat\pi = \mathrm{Ber}(p/N)` (one-step Markov models, outcomes ``(0, 1)``).

    Examples
    --------
    >>> inst = bernoulli_witness(0.25, 4.0)
    >>> import numpy as np
    >>> np.exp(inst.model_class.enumerate_log_probs()).round(4)
    array([[0.9375, 0.0625]])
    """
    p = check_real(p, "p", low=0.0, high=0.5, low_open=True)
    N = check_real(N, "N", low=1.0)
    return Instance("bernoulli_witness", "Prop. F.2 (ICLR) / D.2 (arXiv)",
                    data=categorical_model([1.0 - p, p]),
                    model_class=categorical_model([1.0 - p / N, p / N]), params={"p": p, "N": N})
