r"""The MLE over a finite class (Theorem 4.1, Corollary 4.1 of arXiv 2510.15020): one GEMM
between the replicates' transition counts and the members' log-probability tables.

Part of :mod:`simulations.learners.mle` (import from there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.learners.mle.data import as_markov_model, replicate_token_counts
from theory.validation import as_finite_array, check_real, check_rng, readonly

__all__ = ["TIE_BREAKS", "FiniteMLEResult", "finite_class_log_likelihood", "finite_class_mle"]

#: Tie-breaking rules of :func:`finite_class_mle`.
TIE_BREAKS = ("first", "last", "random")


# --------------------------------------------------------------------- finite class
@dataclass(frozen=True)
class FiniteMLEResult:
    """Result of :func:`finite_class_mle` (the finite-class MLE of Theorem 4.1).

    Attributes
    ----------
    index : (R,) int ndarray
        Selected member per replicate.
    log_likelihood : (R, P) ndarray
        :math:`\\hat L_n` of every member on every replicate's data.
    n_maximizers : (R,) int ndarray
        Number of members tied at the maximum (``> 1`` means the tie rule decided).
    tie_break : str
        The tie rule used (one of ``TIE_BREAKS``).
    """

    index: np.ndarray
    log_likelihood: np.ndarray
    n_maximizers: np.ndarray
    tie_break: str

    def __post_init__(self):
        for name in ("index", "log_likelihood", "n_maximizers"):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    def to_dict(self):
        return {"index": self.index.tolist(), "n_maximizers": self.n_maximizers.tolist(),
                "tie_break": self.tie_break}


def finite_class_log_likelihood(model_class, counts):
    r"""Log-likelihood of every replicate under every member: ``(R, P)``.

    .. math:: \hat L_n(\pi_j) = \sum_{x,h,p,v}\mathrm{counts}[x,h,p,v]\,\log\pi_j(v|x,h,p),

    one matrix product: the objective of the finite-class MLE of Theorem 4.1.  Transitions of zero count contribute zero even when a member gives
    them probability zero (``0 * log 0 = 0``); a member giving probability zero to an
    *observed* transition gets ``-inf``.

    Parameters
    ----------
    model_class : batched MarkovModel or tabular AutoregressiveLinearModel (P members)
        The finite class :math:`\Pi`.
    counts : (R, X, Hd, V+1, V) array_like
        From :func:`replicate_token_counts` (same layout).

    Returns
    -------
    (R, P) ndarray
        :math:`\hat L_n(\pi_j)` of every member on every replicate's data.
    """
    m = as_markov_model(model_class, "model_class")
    if not m.batch_shape:
        raise ValueError("`model_class` must be a batch of members (leading axis P).")
    counts = as_finite_array(counts, "counts")
    table = m._flat.reshape(m.n_models, -1)                              # (P, S)
    c = counts.reshape(counts.shape[0], -1)
    if c.shape[1] != table.shape[1]:
        raise ValueError(f"`counts` has {c.shape[1]} cells per replicate, the class table {table.shape[1]}.")
    finite = np.isfinite(table)
    out = c @ np.where(finite, table, 0.0).T                             # (R, P)
    if not finite.all():
        bad = (c > 0).astype(float) @ (~finite).astype(float).T > 0
        out = np.where(bad, -np.inf, out)
    return out


def finite_class_mle(model_class, x, y, *, tie_break="first", rng=None, tie_tol=1e-12):
    r"""MLE over a finite class, for ``R`` replicate data sets at once (Theorem 4.1).

    .. math:: \hat\pi \in \arg\max_{\pi\in\Pi}\sum_{i=1}^n\log\pi(y_i|x_i).

    Parameters
    ----------
    model_class : batched MarkovModel or tabular AutoregressiveLinearModel
        The ``P`` members (leading axis).
    x : (R, n) array_like of int
    y : (R, n, H) array_like of int
        ``R`` replicate data sets (see :func:`sample_replicates`).
    tie_break : {"first", "last", "random"}
        Members whose log-likelihood is within ``tie_tol * max(1, |max|)`` of the maximum
        are tied; ``"first"`` picks the lowest index, ``"last"`` the highest, ``"random"`` a
        uniformly random one (needs ``rng``).  The paper's guarantees hold for *any* MLE, so
        the rule is part of the experiment's specification.
    rng : numpy.random.Generator, optional
        Only for ``tie_break="random"``.
    tie_tol : float
        Relative tolerance defining ties (floating-point sums of equal terms in a different
        order differ by rounding only).

    Returns
    -------
    FiniteMLEResult

    Examples
    --------
    >>> import numpy as np
    >>> from theory.models import categorical_model
    >>> cls = categorical_model([[[0.5, 0.5]], [[0.9, 0.1]], [[0.1, 0.9]]])   # P = 3 members
    >>> x = np.zeros((2, 3), int); y = np.array([[[0], [0], [0]], [[1], [1], [0]]])
    >>> finite_class_mle(cls, x, y).index.tolist()
    [1, 0]
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"`tie_break` must be one of {TIE_BREAKS}, got {tie_break!r}.")
    if tie_break == "random":
        if rng is None:  # a random tie break is never drawn from unseeded entropy by default
            raise TypeError("`rng` is required for tie_break='random' (an int seed, a "
                            "SeedSequence or a Generator).")
        rng = check_rng(rng)
    tie_tol = check_real(tie_tol, "tie_tol", low=0.0)
    counts = replicate_token_counts(model_class, x, y)
    ll = finite_class_log_likelihood(model_class, counts)
    best = ll.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        tied = ll >= best - tie_tol * np.maximum(1.0, np.abs(best))
    tied &= np.isfinite(ll) | ~np.isfinite(best)
    n_max = tied.sum(axis=1)
    if tie_break == "first":
        idx = tied.argmax(axis=1)
    elif tie_break == "last":
        idx = tied.shape[1] - 1 - tied[:, ::-1].argmax(axis=1)
    else:
        u = rng.random(tied.shape)
        idx = np.where(tied, u, -1.0).argmax(axis=1)
    return FiniteMLEResult(idx.astype(np.int64), ll, n_max.astype(np.int64), tie_break)
