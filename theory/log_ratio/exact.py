r"""The law of :math:`Z = \log\pi_D(y|x)/\hat\pi(y|x)` under :math:`\pi_D` as a (weighted) sample: exact or Monte Carlo.

The coverage profile is the upper tail of :math:`Z` and the KL divergence its mean
(Remark E.1 ICLR / 2.1 arXiv).  This module obtains that law

* **exactly**, by enumerating the support ``X x V^H`` (:func:`exact_log_ratio`), and the
  stopped KL from the same enumeration (:func:`exact_stopped_kl`);
* by **Monte Carlo**, from samples of :math:`\pi_D` (:func:`sampled_log_ratio`), with
  exact binomial (Clopper–Pearson) intervals for coverage.

Both return a :class:`LogRatioLaw` (support points or samples with their weights), which
is why the sampled law lives here with the enumeration.  Models are
:class:`~theory.models.MarkovModel` or :class:`~theory.models.AutoregressiveLinearModel`
instances of any features; ``data`` must be a single distribution, ``model`` may be a batch
(then results carry its leading axis).  Laws that need no enumeration (Markov models at any
``H``) are in :mod:`theory.log_ratio.markov` (the KL), :mod:`theory.log_ratio.certified`
and :mod:`theory.log_ratio.stopped` (certified bounds).  Imports only
:mod:`theory.log_ratio.markov` from the package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..coverage import coverage_profile, log_thresholds
from ..divergences import stopped_kl
from ..intervals import clopper_pearson
from ..models.markov import (MAX_ENUMERATION, check_enumeration_bytes, rows_text, support_bytes,
                             support_size)
from ..validation import check_int, readonly
from .markov import check_model_pair, path_token_kls
from .parameters import DOCS

__all__ = [
    "LogRatioLaw",
    "exact_log_ratio",
    "sampled_log_ratio",
    "exact_stopped_kl",
]

EVALUATIONS = ("exact", "certified", "monte_carlo")


@dataclass(frozen=True)
class LogRatioLaw:
    r"""A (weighted) sample of :math:`Z = \log\pi_D/\hat\pi` under :math:`\pi_D`.

    The variable whose upper tail at :math:`\log N` is the coverage profile (Definition 1.1)
    and whose mean is the KL (Remark E.1 ICLR / 2.1 arXiv).

    Attributes
    ----------
    values : ([P,] m) ndarray
        Log-ratios at ``m`` points (support points or samples), one row per model.
    weights : (m,) ndarray or None
        :math:`\mu(x)\pi_D(y|x)` of the points (exact law) or ``None`` (i.i.d. sample).
    evaluation : {"exact", "monte_carlo"}
        How the law was obtained.
    """

    values: np.ndarray
    weights: np.ndarray | None
    evaluation: str

    def __post_init__(self):
        object.__setattr__(self, "values", readonly(self.values))
        if self.weights is not None:
            object.__setattr__(self, "weights", readonly(self.weights))
        if self.evaluation not in EVALUATIONS:
            raise ValueError(f"`evaluation` must be one of {EVALUATIONS}, got {self.evaluation!r}.")

    @property
    def n_points(self):
        return self.values.shape[-1]

    def coverage(self, N):
        """Coverage profile at thresholds ``N``: shape ``[P,] + np.shape(N)``."""
        rows = self.values.reshape(-1, self.n_points)
        out = np.stack([coverage_profile(r, N, weights=self.weights) for r in rows])
        return out.reshape(self.values.shape[:-1] + np.shape(N))

    def coverage_interval(self, N, *, level=0.95):
        """Clopper–Pearson interval for Monte Carlo coverage (the point value twice if exact)."""
        cov = self.coverage(N)
        if self.weights is not None:
            return cov, cov
        k = np.rint(cov * self.n_points).astype(np.int64)
        return clopper_pearson(k, np.full_like(k, self.n_points), level=level)

    def kl(self):
        r"""Mean of :math:`Z`: the KL divergence (exact law) or its sample estimate; ``[P]``."""
        w = self.weights if self.weights is not None else np.full(self.n_points, 1.0 / self.n_points)
        keep = w > 0
        return (self.values[..., keep] * w[keep]).sum(axis=-1)

    def to_dict(self):
        return {"values": self.values.tolist(),
                "weights": None if self.weights is None else self.weights.tolist(),
                "evaluation": self.evaluation}


def _exact_log_ratio_bytes(data, model):
    """Peak bytes of :func:`exact_log_ratio`: the two enumerations, then weights and ratios."""
    xs = data.n_prompts * data.vocab_size ** data.horizon
    enum = max(data._enumeration_bytes(), 8 * xs + model._enumeration_bytes())
    return enum + 25 * xs + 24 * model.n_models * xs + (1 << 16)


def _exact_stopped_kl_bytes(data, model):
    """Peak bytes of :func:`exact_stopped_kl`: the support, then per-position KLs of every path."""
    xs = data.n_prompts * data.vocab_size ** data.horizon
    h, v, p = data.horizon, data.vocab_size, model.n_models
    # both models' next-token tables along every path and the KL terms (p, log-ratio, product)
    return support_bytes(data, data.vocab_size ** data.horizon) + 8 * xs * h * (v * (3 + 5 * p) + 3 * p + 4)


def _check_exact_bytes(data, model, max_sequences, n_bytes):
    support_size(data.vocab_size, data.horizon, max_sequences)
    check_enumeration_bytes(n_bytes, data.vocab_size, data.horizon, rows_text(model))


@DOCS
def exact_log_ratio(data, model, *, max_sequences=MAX_ENUMERATION):
    r"""Exact law of :math:`\log\pi_D/\hat\pi` by enumerating the support.

    Gives the coverage profile (Definition 1.1) and the KL exactly (Remark E.1 ICLR / 2.1
    arXiv).  Points of zero :math:`\pi_D`-probability are dropped; a point where the model has
    probability zero has ratio ``+inf``.

    Parameters
    ----------
    %(data)s
    %(model)s
    %(max_sequences)s

    Returns
    -------
    LogRatioLaw
        ``evaluation="exact"``, ``values`` of shape ``model.batch_shape + (m,)``.

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> law = exact_log_ratio(categorical_model([0.3, 0.7]), categorical_model([0.075, 0.925]))
    >>> float(law.coverage(4.0))
    0.3
    """
    check_model_pair(data, model)
    _check_exact_bytes(data, model, max_sequences, _exact_log_ratio_bytes(data, model))
    lp_d = data.enumerate_log_probs(max_sequences=max_sequences)
    lp_m = model.enumerate_log_probs(max_sequences=max_sequences)
    with np.errstate(divide="ignore"):
        log_w = lp_d + np.log(data.prompt_weights)[:, None]
    w = np.exp(log_w).ravel()
    keep = w > 0
    # where pi_D = 0 the ratio may be 0/0 (both -inf); those points are dropped
    with np.errstate(invalid="ignore"):
        diff = lp_d - lp_m
    values = diff.reshape(model.batch_shape + (-1,))[..., keep]
    w = w[keep]
    return LogRatioLaw(values, w / w.sum(), "exact")


@DOCS
def sampled_log_ratio(data, model, n, *, rng):
    r"""Monte Carlo law of :math:`\log\pi_D/\hat\pi` from ``n`` samples of :math:`\pi_D`.

    Unbiased estimates of the coverage profile (Definition 1.1) and of the KL (Remark E.1
    ICLR / 2.1 arXiv), with exact Clopper--Pearson intervals for the coverage.

    Parameters
    ----------
    %(data)s
    %(model)s
    n : int
        Number of samples, ``>= 1``.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    LogRatioLaw
        ``evaluation="monte_carlo"``, ``weights=None``.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.models import categorical_model
    >>> law = sampled_log_ratio(categorical_model([0.3, 0.7]), categorical_model([0.075, 0.925]),
    ...                         1000, rng=np.random.default_rng(0))
    >>> lo, hi = law.coverage_interval(4.0, level=0.999)
    >>> bool(lo <= 0.3 <= hi)
    True
    """
    check_model_pair(data, model)
    n = check_int(n, "n", low=1)
    x, y = data.sample(n, rng=rng)
    values = data.log_prob(x, y) - model.log_prob(x, y)
    return LogRatioLaw(values, None, "monte_carlo")


@DOCS
def exact_stopped_kl(data, model, N, *, max_sequences=MAX_ENUMERATION):
    r"""Exact stopped KL :math:`D_{seq,N}(\pi_D\|\hat\pi)` (Prop. F.10 ICLR / D.10 arXiv) by enumeration.

    Parameters
    ----------
    %(data)s
    %(model)s
    %(N)s
    %(max_sequences)s

    Returns
    -------
    ndarray
        Shape ``model.batch_shape + np.shape(N)``; each entry ``<= log N``.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.models import categorical_model
    >>> from theory.log_ratio import markov_kl
    >>> d, m = categorical_model([0.5, 0.5]), categorical_model([0.9, 0.1])
    >>> bool(np.isclose(exact_stopped_kl(d, m, np.inf), markov_kl(d, m)))
    True
    """
    check_model_pair(data, model)
    log_thresholds(N)
    _check_exact_bytes(data, model, max_sequences, _exact_stopped_kl_bytes(data, model))
    x, y, log_w = data.enumerate_support(max_sequences=max_sequences)
    w = np.exp(log_w)
    keep = w > 0
    sums = path_token_kls(data, model, x[keep], y[keep]).sum(axis=-1)
    rows = sums.reshape(-1, int(keep.sum()))
    wk = w[keep] / w[keep].sum()
    out = np.stack([stopped_kl(r, N, weights=wk) for r in rows])
    return out.reshape(model.batch_shape + np.shape(N))
