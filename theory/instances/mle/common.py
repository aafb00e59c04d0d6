r"""What the constructions of Section 4 share: the grouped exact law and the table helpers.

Every instance of :mod:`theory.instances.mle` has token counts as sufficient statistics
(prompt-wise i.i.d. groups of positions), so coverage and KL are evaluated **exactly** at any
``H`` through :mod:`theory.count_law`: :func:`grouped_exact_law` does it for any grouped
construction.  The helpers the family modules share (:func:`check_table`,
:func:`check_instance`, :func:`grouped_linear`, :func:`bernoulli_log_probs`) are public names
of this module (not in ``__all__``: plumbing, not constructions), so that
:mod:`~theory.instances.mle.finite`, :mod:`~theory.instances.mle.linear` and
:mod:`~theory.instances.mle.lower_bounds` import them from here and from nowhere else.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit, logsumexp

from ...docstrings import DocTemplate
from ...count_law import count_log_ratio_law, group_sequence_log_probs, grouped_count_support
from ...models import AutoregressiveLinearModel, TabularFeatures
from ...validation import as_finite_array, check_allocation
from .._base import Instance

__all__ = [
    "grouped_exact_law",
]

#: Parameter descriptions shared by the modules of :mod:`theory.instances.mle` (filled with
#: ``@docs``; see :mod:`theory.docstrings`).
docs = DocTemplate(
    horizon="""
        horizon : int
            Sequence length ``H``.""",
    horizon_optional="""
        horizon : int, optional
            Sequence length ``H``.""",
    thresholds="""
        N : float or array_like
            Thresholds ``>= 1`` (flattened).""",
    rng="""
        rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
            Source of randomness (SPEC 7, :func:`theory.validation.check_rng`; a ``Generator``
            is used as is, so its stream advances).""",
)


#: Largest table (bytes) a constructor of this module allocates: the instances of the
#: paper need a few MB; beyond this the request is refused (``ValueError`` naming the size
#: argument) instead of exhausting memory.
MAX_TABLE_BYTES = 1 << 31


def check_table(shape, name, value):
    """Refuse a float64 table of ``shape`` above :data:`MAX_TABLE_BYTES` (naming ``name``)."""
    n_bytes = 8 * int(np.prod([int(s) for s in shape], dtype=object))
    if n_bytes > MAX_TABLE_BYTES:
        raise ValueError(f"`{name}` = {value} needs a table of shape {tuple(shape)} "
                         f"({n_bytes / 2**30:.3g} GiB), more than the {MAX_TABLE_BYTES / 2**30:.3g} GiB "
                         "this module allocates.")
    check_allocation(n_bytes, f"`{name}` = {value} (a table of shape {tuple(shape)})",
                     "use a smaller size")


def check_instance(instance, keys, constructor=None):
    """``instance`` must be an :class:`Instance` (of ``constructor``) whose params hold ``keys``."""
    if not isinstance(instance, Instance):
        raise TypeError(f"`instance` must be an Instance, got {type(instance).__name__}.")
    if constructor is not None and instance.name != constructor:
        raise ValueError(f"`instance` must come from {constructor}, got {instance.name!r}.")
    missing = [k for k in keys if k not in instance.params]
    if missing:
        raise ValueError(f"`instance` params lack {missing} (not a grouped construction of this module).")
    return instance.params


def bernoulli_log_probs(logit):
    """``(..., 2)`` log-probabilities of tokens (0, 1) for logit ``log P(1)/P(0)``."""
    logit = np.asarray(logit, dtype=float)
    return np.stack([log_expit(-logit), log_expit(logit)], axis=-1)


def grouped_exact_law(instance, theta):
    r"""Exact law of :math:`\log\pi_D/\pi_\theta` for an instance with grouped i.i.d. positions.

    The law of Remark E.1 (ICLR) / 2.1 (arXiv) (coverage, Definition 1.1, is its upper tail;
    KL its mean), exact at any ``H`` for the constructions of Prop. 3.2 and the grouped
    classes of this module.

    Parameters
    ----------
    instance : Instance
        With ``params["groups"]`` (list of group sizes) and a ``"group_table"`` entry in
        ``instance.model_class``-compatible form: ``params`` keys ``group_feats``
        (shape ``(X, G, V, d)``) and the data parameter ``theta_star``.
    theta : (d,) or (P, d) array_like
        Parameters of the model(s) :math:`\pi_\theta`.

    Returns
    -------
    theory.log_ratio.LogRatioLaw
        ``evaluation="exact"``; ``values`` ``[P,] (m,)``.

    Examples
    --------
    >>> from theory.instances.mle import prop_3_2_kl_lower_bound
    >>> inst = prop_3_2_kl_lower_bound(8, 4, theta_star=1.0)
    >>> law = grouped_exact_law(inst, [0.5])
    >>> bool(np.isclose(law.kl(), grouped_exact_law(inst, [[0.5], [1.0]]).kl()[0]))
    True
    """
    p = check_instance(instance, ("groups", "group_feats", "theta_star"))
    feats = np.asarray(p["group_feats"], dtype=float)                   # (X, G, V, d)
    th = as_finite_array(theta, "theta")
    if th.ndim not in (1, 2) or th.shape[-1] != feats.shape[-1]:
        raise ValueError(f"`theta` must have shape (d,) or (P, d) with d = {feats.shape[-1]}, got {th.shape}.")
    th = np.atleast_2d(th)
    lp_d = _group_log_probs(feats, np.asarray(p["theta_star"], dtype=float)[None])[0]
    lp_m = _group_log_probs(feats, th)
    counts, log_mult = grouped_count_support(p["groups"], feats.shape[2])
    d = group_sequence_log_probs(lp_d, counts)
    m = group_sequence_log_probs(lp_m, counts)
    law = count_log_ratio_law(d, m if np.ndim(theta) == 2 else m[0], log_mult, instance.data.prompt_weights)
    return law


def _group_log_probs(feats, theta):
    logits = np.einsum("xgvd,pd->pxgv", feats, theta)
    return logits - logsumexp(logits, axis=-1, keepdims=True)


def grouped_linear(feats, groups, theta_star, mu, horizon):
    """A tabular linear model whose group ``g`` covers the next ``groups[g]`` positions."""
    x, g, v, d = feats.shape
    check_table((x, horizon, v + 1, v, d), "horizon", horizon)
    table = np.zeros((x, horizon, v + 1, v, d))
    start = 0
    for gi, m in enumerate(groups):
        table[:, start:start + m] = feats[:, gi][:, None, None]
        start += m
    f = TabularFeatures(table, horizon)
    return f, AutoregressiveLinearModel(f, np.asarray(theta_star, dtype=float), mu)
