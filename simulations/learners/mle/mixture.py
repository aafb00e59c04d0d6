r"""The MLE over the convex hull of fixed components (Assumption G.1 / Theorem G.1 of arXiv
2510.15020) by EM, with the KKT conditions on the simplex checked.

Part of :mod:`simulations.learners.mle` (import from there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import logsumexp

from theory.validation import as_finite_array, as_float_array, check_int, check_real, readonly

__all__ = ["MixtureMLEResult", "mixture_mle"]

# ---------------------------------------------------------------------- mixture MLE
@dataclass(frozen=True)
class MixtureMLEResult:
    r"""Result of :func:`mixture_mle`.

    The MLE over the convex mixture class of Theorem G.1 (ICLR) / E.1 (arXiv).

    Attributes
    ----------
    weights : (R, k) ndarray
        Mixture weights on the simplex.
    log_likelihood : (R,) ndarray
        :math:`\hat L_n(\hat w)`.
    residual : (R,) ndarray
        KKT residual on the simplex:
        :math:`\max_i\big(g_i - 1\big)_+ + \max_{i:\,w_i > 0} w_i\,|g_i - 1|` with
        :math:`g_i = \frac1n\partial_{w_i}\hat L_n`; zero exactly at a maximiser.
    iterations : int
        EM iterations run.
    converged : (R,) bool ndarray
        ``residual <= tol``.
    tol : float
        Target residual.
    """

    weights: np.ndarray
    log_likelihood: np.ndarray
    residual: np.ndarray
    iterations: int
    converged: np.ndarray
    tol: float

    def __post_init__(self):
        for name in ("weights", "log_likelihood", "residual", "converged"):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    def to_dict(self):
        d = asdict(self)
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}


def _mixture_kkt(logw, comp, mult):
    # comp: (R, S, k) component log-likelihoods of distinct points, mult: (R, S) multiplicities
    mix = logsumexp(comp + logw[:, None, :], axis=-1)                   # (R, S)
    n = mult.sum(-1)
    g = np.einsum("rs,rsk->rk", mult, np.exp(comp - mix[..., None])) / n[:, None]
    w = np.exp(logw)
    resid = np.maximum(g - 1.0, 0.0).max(-1) + (w * np.abs(g - 1.0)).max(-1)
    return (mult * mix).sum(-1), resid, g


def mixture_mle(component_log_probs, *, multiplicity=None, tol=1e-8, max_iter=20000, check_every=50):
    r"""MLE of the mixture weights of fixed components, batched over replicates (EM).

    .. math::

        \hat w \in \arg\max_{w\in\Delta_k}\sum_i \log\sum_{j=1}^k w_j\,\pi_j(y_i|x_i),

    a concave problem (the class :math:`\{\sum_j w_j\pi_j\}` satisfies Assumption G.1:
    :math:`w\mapsto\pi_w(y|x)` is linear).  EM updates
    :math:`w_j \leftarrow \frac{1}{n}\sum_i w_j\pi_j(y_i)/\pi_w(y_i)`, started at the uniform
    weights, until the KKT residual (see :class:`MixtureMLEResult`) is ``<= tol``.

    Parameters
    ----------
    component_log_probs : (R, S, k) array_like
        :math:`\log\pi_j(y_i|x_i)` for each replicate's (distinct) data points.
    multiplicity : (R, S) array_like, optional
        How many times each point occurs (default 1): data may be given by its counts.
    tol : float
    max_iter, check_every : int

    Returns
    -------
    MixtureMLEResult

    Examples
    --------
    >>> import numpy as np
    >>> comp = np.log([[[0.9, 0.1], [0.1, 0.9]]])          # one replicate, two points, two components
    >>> res = mixture_mle(comp, multiplicity=[[3, 1]])
    >>> np.round(res.weights, 4).tolist()                 # closed form: w1 = 0.8125
    [[0.8125, 0.1875]]
    """
    comp = as_float_array(component_log_probs, "component_log_probs", ndim=3, allow_posinf=False)
    r, s, k = comp.shape
    mult = np.ones((r, s)) if multiplicity is None else as_finite_array(multiplicity, "multiplicity", ndim=2)
    if mult.shape != (r, s):
        raise ValueError(f"`multiplicity` must have shape {(r, s)}, got {mult.shape}.")
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", low=1)
    check_every = check_int(check_every, "check_every", low=1)
    n = mult.sum(-1)
    logw = np.full((r, k), -np.log(k))
    it = 0
    active = np.ones(r, bool)
    for it in range(1, max_iter + 1):
        post = comp[active] + logw[active][:, None, :]
        post = post - logsumexp(post, axis=-1, keepdims=True)
        with np.errstate(divide="ignore"):
            logw[active] = logsumexp(post, axis=1, b=mult[active][..., None]) - np.log(n[active])[:, None]
        if it % check_every == 0:
            _, resid, _ = _mixture_kkt(logw, comp, mult)
            active = resid > tol
            if not active.any():
                break
    ll, resid, _ = _mixture_kkt(logw, comp, mult)
    return MixtureMLEResult(np.exp(logw), ll, resid, it, resid <= tol, tol)
