r"""The law of the log density ratio :math:`Z = \log\pi_D(y|x)/\hat\pi(y|x)` under :math:`\pi_D`.

The coverage profile is the upper tail of :math:`Z` and the KL divergence its mean
(Remark E.1 ICLR / 2.1 arXiv).  This module obtains that law

* **exactly**, by enumerating the support ``X x V^H`` (:func:`exact_log_ratio`);
* by **Monte Carlo**, from samples of :math:`\pi_D` (:func:`sampled_log_ratio`), with
  exact binomial (Clopper–Pearson) intervals for coverage;

and gives the Markov-model quantities that need no enumeration at all (sequence KL and
per-position KL profile by forward state marginals, valid at any ``H``).

Models are :class:`~theory.models.MarkovModel` or
:class:`~theory.models.AutoregressiveLinearModel` instances; ``data`` must be a single
distribution, ``model`` may be a batch (then results carry its leading axis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import check_allocation, check_int, check_real, readonly
from .coverage import coverage_profile, log_thresholds
from .intervals import clopper_pearson
from .divergences import _categorical_kl, stopped_kl
from .models import AutoregressiveLinearModel, MarkovModel
from .models.markov import MAX_ENUMERATION

__all__ = [
    "LogRatioLaw",
    "exact_log_ratio",
    "sampled_log_ratio",
    "path_token_kls",
    "exact_stopped_kl",
    "markov_token_kl_profile",
    "markov_kl",
    "clopper_pearson",
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


def _models_iv(data, model):
    kinds = (MarkovModel, AutoregressiveLinearModel)
    if not isinstance(data, kinds):
        raise TypeError("`data` must be a MarkovModel or AutoregressiveLinearModel.")
    if not isinstance(model, kinds):
        raise TypeError("`model` must be a MarkovModel or AutoregressiveLinearModel.")
    if data.batch_shape:
        raise ValueError("`data` must be a single distribution, not a batch.")
    if (data.n_prompts, data.vocab_size, data.horizon) != (model.n_prompts, model.vocab_size, model.horizon):
        raise ValueError("`data` and `model` must share prompts, vocabulary and horizon; got "
                         f"{(data.n_prompts, data.vocab_size, data.horizon)} and "
                         f"{(model.n_prompts, model.vocab_size, model.horizon)}.")
    if not np.allclose(data.prompt_weights, model.prompt_weights):
        raise ValueError("`data` and `model` must have the same prompt distribution.")


def _exact_log_ratio_bytes(data, model):
    """Peak bytes of :func:`exact_log_ratio`: the two enumerations, then weights and ratios."""
    xs = data.n_prompts * data.vocab_size ** data.horizon
    enum = max(data._enumeration_bytes(), 8 * xs + model._enumeration_bytes())
    return enum + 25 * xs + 24 * model.n_models * xs + (1 << 16)


def _exact_stopped_kl_bytes(data, model):
    """Peak bytes of :func:`exact_stopped_kl`: the support, then per-position KLs of every path."""
    from .models.markov import _support_bytes

    xs = data.n_prompts * data.vocab_size ** data.horizon
    h, v, p = data.horizon, data.vocab_size, model.n_models
    # both models' next-token tables along every path and the KL terms (p, log-ratio, product)
    return _support_bytes(data, data.vocab_size ** data.horizon) + 8 * xs * h * (v * (3 + 5 * p) + 3 * p + 4)


def _check_exact_bytes(data, model, max_sequences, n_bytes):
    from .models.markov import _check_enumeration_bytes, _rows_text, _support_size

    _support_size(data.vocab_size, data.horizon, max_sequences)
    _check_enumeration_bytes(n_bytes, data.vocab_size, data.horizon, _rows_text(model))


def exact_log_ratio(data, model, *, max_sequences=MAX_ENUMERATION):
    r"""Exact law of :math:`\log\pi_D/\hat\pi` by enumerating the support.

    Gives the coverage profile (Definition 1.1) and the KL exactly (Remark E.1 ICLR / 2.1
    arXiv).  Points of zero :math:`\pi_D`-probability are dropped; a point where the model has
    probability zero has ratio ``+inf``.

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel
        The data distribution :math:`\pi_D` (a single model, not a batch).
    model : MarkovModel or AutoregressiveLinearModel
        The model :math:`\hat\pi`, possibly a batch of ``P`` models; same prompts,
        vocabulary, horizon and prompt distribution as ``data``.
    max_sequences : int, optional
        Refuse supports with more than this many sequences per prompt.

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
    _models_iv(data, model)
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


def sampled_log_ratio(data, model, n, *, rng):
    r"""Monte Carlo law of :math:`\log\pi_D/\hat\pi` from ``n`` samples of :math:`\pi_D`.

    Unbiased estimates of the coverage profile (Definition 1.1) and of the KL (Remark E.1
    ICLR / 2.1 arXiv), with exact Clopper--Pearson intervals for the coverage.

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel
        The data distribution :math:`\pi_D` (a single model, not a batch).
    model : MarkovModel or AutoregressiveLinearModel
        The model :math:`\hat\pi`, possibly a batch of ``P`` models; same prompts,
        vocabulary, horizon and prompt distribution as ``data``.
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
    _models_iv(data, model)
    n = check_int(n, "n", low=1)
    x, y = data.sample(n, rng=rng)
    values = data.log_prob(x, y) - model.log_prob(x, y)
    return LogRatioLaw(values, None, "monte_carlo")


def path_token_kls(data, model, x, y):
    r"""Per-position KLs :math:`\varepsilon_h = D_{KL}(\pi_D(\cdot|x,y_{<h})\|\hat\pi(\cdot|x,y_{<h}))` along paths.

    The ingredient of the stopped KL (Prop. F.10 ICLR / D.10 arXiv) and of the truncated
    distillation weights (Theorem G.2 ICLR / 6.2 arXiv).

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel
        The data distribution :math:`\pi_D` (a single model, not a batch).
    model : MarkovModel or AutoregressiveLinearModel
        The model :math:`\hat\pi`, possibly a batch of ``P`` models; same prompts,
        vocabulary, horizon and prompt distribution as ``data``.
    x : array_like of int
        Prompts, any shape.
    y : array_like of int
        Responses, shape ``x.shape + (H,)``.

    Returns
    -------
    ndarray
        Shape ``model.batch_shape + x.shape + (H,)``, in nats.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.models import categorical_model
    >>> path_token_kls(categorical_model([0.5, 0.5]), categorical_model([0.5, 0.5]), [0], [[1]])
    array([[0.]])
    """
    _models_iv(data, model)
    return _categorical_kl(data.next_token_log_probs(x, y), model.next_token_log_probs(x, y))


def exact_stopped_kl(data, model, N, *, max_sequences=MAX_ENUMERATION):
    r"""Exact stopped KL :math:`D_{seq,N}(\pi_D\|\hat\pi)` (Prop. F.10 ICLR / D.10 arXiv) by enumeration.

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel
        The data distribution :math:`\pi_D` (a single model, not a batch).
    model : MarkovModel or AutoregressiveLinearModel
        The model :math:`\hat\pi`, possibly a batch of ``P`` models; same prompts,
        vocabulary, horizon and prompt distribution as ``data``.
    N : float or array_like
        Thresholds ``>= 1``.
    max_sequences : int, optional
        Refuse supports with more than this many sequences per prompt.

    Returns
    -------
    ndarray
        Shape ``model.batch_shape + np.shape(N)``; each entry ``<= log N``.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.models import categorical_model
    >>> d, m = categorical_model([0.5, 0.5]), categorical_model([0.9, 0.1])
    >>> bool(np.isclose(exact_stopped_kl(d, m, np.inf), markov_kl(d, m)))
    True
    """
    _models_iv(data, model)
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


def _markov(m):
    return m.as_markov() if isinstance(m, AutoregressiveLinearModel) else m


def markov_token_kl_profile(data, model):
    r"""Expected per-position KL :math:`\mathbb E_{\pi_D}[\varepsilon_h]` for Markov models, ``[P,] (H,)``.

    Exact at any ``H`` through the forward law of the context ``(x, y_{h-1})``; the sum
    over positions is the sequence-level KL (chain rule, :func:`markov_kl`, which needs no
    per-position array).  The result holds ``H`` numbers per model: horizons whose profile
    exceeds the byte budget are refused.  The :math:`\varepsilon_h` are the
    per-token KLs of Prop. F.10 (ICLR) / D.10 (arXiv).

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel
        The data distribution :math:`\pi_D` (a single model, not a batch).
    model : MarkovModel or AutoregressiveLinearModel
        The model :math:`\hat\pi`, possibly a batch of ``P`` models; same prompts,
        vocabulary, horizon and prompt distribution as ``data``.
        Linear models must have tabular features (they are converted with ``as_markov``).

    Returns
    -------
    ndarray
        Shape ``model.batch_shape + (H,)``, in nats.

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> markov_token_kl_profile(categorical_model([0.5, 0.5]), categorical_model([0.5, 0.5]))
    array([0.])
    """
    _models_iv(data, model)
    d, m = _markov(data), _markov(model)
    lp_d = d.log_probs
    g = _categorical_kl(lp_d, m.log_probs)                   # ([P,] X, Hd, V+1)
    return d.expected_token_sum(g)


def markov_kl(data, model):
    r"""Sequence-level :math:`D_{KL}(\pi_D\|\hat\pi)` for Markov models, exact at any ``H``; ``[P]``.

    The KL of Prop. 3.1 and Prop. F.1 (ICLR) / D.1 (arXiv), by the chain rule over positions:
    :math:`\sum_h \mathbb E_{\pi_D}[\varepsilon_h]` (:func:`markov_token_kl_profile`).  When
    both tables are time-homogeneous the sum is ``(visits * token_kl).sum()`` with the
    expected context visits of :meth:`~theory.models.MarkovModel.state_visits`, computed by
    repeated squaring for long horizons: :math:`O(XV^3\log H)` time and :math:`O(XV^2)`
    memory, so ``H = 10**12`` takes milliseconds.  Otherwise the cost is
    :math:`O(HXV^2)` time and the per-position profile's :math:`O(HXV)` memory (refused above
    the byte budget, see :func:`theory.allocation_budget`).

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel
        The data distribution :math:`\pi_D` (a single model, not a batch).
    model : MarkovModel or AutoregressiveLinearModel
        The model :math:`\hat\pi`, possibly a batch of ``P`` models; same prompts,
        vocabulary, horizon and prompt distribution as ``data``.
        Linear models must have tabular features (they are converted with ``as_markov``).

    Returns
    -------
    ndarray
        Shape ``model.batch_shape``, in nats.

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> round(float(markov_kl(categorical_model([0.5, 0.5]), categorical_model([0.9, 0.1]))), 6)
    0.510826
    """
    from ._chain import use_squaring

    _models_iv(data, model)
    d, m = _markov(data), _markov(model)
    g = _categorical_kl(d.log_probs, m.log_probs)                   # ([P,] X, Hd, V+1)
    if g.shape[-2] == 1 and use_squaring(d.horizon, d.vocab_size + 1, d.log_probs.shape[-3] == 1):
        visits = d.state_visits()                                    # (X, V+1)
        with np.errstate(invalid="ignore"):
            terms = np.where(visits > 0, visits * g[..., 0, :], 0.0)
        return terms.sum(axis=(-1, -2))
    return d.expected_token_sum(g).sum(axis=-1)


# --------------------------------------------------------------------------------------
# Additions: per-step Hellinger along paths, and the certified lattice machinery
# of theory.certified re-exported here.

def path_token_hellinger(data, model, x, y):
    r"""Per-position :math:`D_H^2(\pi_D(\cdot|x,y_{<h}),\hat\pi(\cdot|x,y_{<h}))` along paths (one-half convention).

    The sums over positions are the statistic of Prop. F.11 (ICLR) / D.11 (arXiv)
    (:func:`theory.bounds.hellinger_partial_converse`).

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel
        The data distribution :math:`\pi_D` (a single model, not a batch).
    model : MarkovModel or AutoregressiveLinearModel
        The model :math:`\hat\pi`, possibly a batch of ``P`` models; same prompts,
        vocabulary, horizon and prompt distribution as ``data``.
    x : array_like of int
        Prompts, any shape.
    y : array_like of int
        Responses, shape ``x.shape + (H,)``.

    Returns
    -------
    ndarray
        Shape ``model.batch_shape + x.shape + (H,)``, values in ``[0, 1]``.

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> path_token_hellinger(categorical_model([1.0, 0.0]), categorical_model([0.0, 1.0]), [0], [[0]])
    array([[1.]])
    """
    from .divergences import categorical_squared_hellinger

    _models_iv(data, model)
    return categorical_squared_hellinger(data.next_token_log_probs(x, y), model.next_token_log_probs(x, y))


from .certified import (CertifiedBounds, CertifiedLogRatioLaw, certified_coverage,  # noqa: E402
                        certified_log_ratio, certified_stopped_kl)

__all__ += ["path_token_hellinger", "certified_log_ratio", "certified_coverage", "certified_stopped_kl"]
