r"""Maximum likelihood over finite classes, convex parameter sets and mixture classes.

Three estimators of Section 4 of arXiv 2510.15020, all **vectorised over replicates**
(a leading replicate axis ``R`` on the data; no Python loop over replicates or samples):

* :func:`finite_class_mle` -- :math:`\hat\pi = \arg\max_{\pi\in\Pi}\hat L_n(\pi)` over a
  finite class given as a *batched* :class:`~theory.models.MarkovModel` or tabular
  :class:`~theory.models.AutoregressiveLinearModel` (Theorem 4.1, Corollary 4.1).  The
  log-likelihood of every replicate's data under every member is one GEMM between the
  replicates' sufficient statistics (transition counts) and the members' log-probability
  tables.  Ties are broken by a documented rule (``tie_break``).
* :func:`convex_mle` -- the MLE of a tabular autoregressive linear model over
  :math:`\Theta = \{\|\theta\|_2\le R\}` or a box (Theorem 4.2, Props 3.2, G.1(a), K.1), by a
  batched projected-Newton method (the local quadratic model is maximised over the constraint
  set -- exactly for the ball, in the Hessian's eigenbasis; for the box by the active-set projected
  Newton point, with accelerated projected gradient on the model as fallback -- then Armijo
  backtracking) run until the first-order optimality residual is
  below ``tol``.
* :func:`mixture_mle` -- the MLE over the convex hull of fixed components (a class with
  :math:`\theta\mapsto\pi_\theta(y|x)` concave, Assumption G.1 / Theorem G.1), by EM, with the
  KKT conditions on the simplex checked.

Every solver reports its optimality residual, so a claim can state to which tolerance its
"MLE" is an MLE.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import expit, log_expit, log_softmax, logsumexp

from theory.validation import as_finite_array, as_float_array, as_int_array, check_int, check_real, readonly
from theory.models import AutoregressiveLinearModel, MarkovModel, TabularFeatures
from theory.models.features import previous_tokens

__all__ = [
    "TIE_BREAKS",
    "FiniteMLEResult",
    "ConvexMLEResult",
    "MixtureMLEResult",
    "sample_replicates",
    "replicate_token_counts",
    "finite_class_log_likelihood",
    "finite_class_mle",
    "convex_mle",
    "separable_ball_mle",
    "sample_group_counts",
    "mixture_mle",
]

#: Tie-breaking rules of :func:`finite_class_mle`.
TIE_BREAKS = ("first", "last", "random")

_CHUNK = 2 ** 24


# --------------------------------------------------------------------------- data
def _as_markov(model, name="model"):
    if isinstance(model, AutoregressiveLinearModel):
        if not isinstance(model.features, TabularFeatures):
            raise TypeError(f"`{name}` needs tabular features (sufficient statistics); got general features.")
        return model.as_markov()
    if isinstance(model, MarkovModel):
        return model
    raise TypeError(f"`{name}` must be a MarkovModel or a tabular AutoregressiveLinearModel.")


def sample_replicates(data, n, replicates, *, rng):
    r"""Draw ``replicates`` independent data sets of ``n`` sequences from :math:`\mu\otimes\pi_D`.

    The i.i.d. data set :math:`D` of the maximum-likelihood results (Theorems 4.1 and 4.2).

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel (tabular), unbatched
        :math:`\pi_D`.
    n, replicates : int
        Sequences per data set and number of data sets.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    x : (replicates, n) int array
        Prompts.
    y : (replicates, n, H) int array
        Responses.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.models import categorical_model
    >>> x, y = sample_replicates(categorical_model([0.5, 0.5]), 4, 3, rng=np.random.default_rng(0))
    >>> x.shape, y.shape
    ((3, 4), (3, 4, 1))
    """
    m = _as_markov(data, "data")
    if m.batch_shape:
        raise ValueError("`data` must be a single distribution, not a batch.")
    n = check_int(n, "n", low=1)
    replicates = check_int(replicates, "replicates", low=1)
    batched = MarkovModel(np.broadcast_to(m.log_probs, (replicates,) + m.log_probs.shape),
                          m.horizon, m.prompt_weights)
    return batched.sample(n, rng=rng)


def replicate_token_counts(model, x, y):
    r"""Sufficient statistics of each replicate: transition counts ``(R, X, Hd, V+1, V)``.

    ``counts[r, x, h, prev, v]`` is the number of times replicate ``r``'s data has token ``v``
    at position ``h`` after ``prev`` under prompt ``x`` (positions folded when the model is
    time-homogeneous).  For every model :math:`\pi` with that table,
    :math:`\hat L_n(\pi) = \sum \text{counts}\cdot\log\pi`, the objective of the MLE of
    Theorems 4.1 and 4.2.

    Parameters
    ----------
    model : MarkovModel or tabular AutoregressiveLinearModel
        Supplies the table layout only.
    x : (R, n) array_like of int
        Prompts of each replicate.
    y : (R, n, H) array_like of int
        Responses of each replicate.

    Returns
    -------
    (R, X, Hd, V+1, V) ndarray of int
        The transition counts.
    """
    m = _as_markov(model)
    x = _small_int_array(x, "x", 2, m.n_prompts)
    y = _small_int_array(y, "y", 3, m.vocab_size)
    if y.shape != x.shape + (m.horizon,):
        raise ValueError(f"`y` must have shape x.shape + (H,) = {x.shape + (m.horizon,)}, got {y.shape}.")
    r, n = x.shape
    v, hd = m.vocab_size, m.log_probs.shape[-3]
    shape = (m.n_prompts, hd, v + 1, v)
    size = int(np.prod(shape))
    pos = (np.arange(m.horizon) if hd > 1 else np.zeros(m.horizon, dtype=np.int64)) * ((v + 1) * v)
    out = np.zeros((r, size))
    step = max(1, _CHUNK // max(1, n * m.horizon))
    for r0 in range(0, r, step):
        xs, ys = x[r0:r0 + step].astype(np.int64), y[r0:r0 + step].astype(np.int64)
        flat = (xs * (hd * (v + 1) * v))[..., None] + pos + ys
        flat[..., 0] += v * v                                            # previous token = BOS
        flat[..., 1:] += ys[..., :-1] * v
        flat += (np.arange(len(xs)) * size)[:, None, None]
        out[r0:r0 + step] = np.bincount(flat.ravel(), minlength=len(xs) * size).reshape(len(xs), size)
    return out.reshape((r,) + shape)


def _small_int_array(a, name, ndim, high):
    """Integer array check without widening the dtype (data sets can be large)."""
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.integer):
        a = as_int_array(a, name, ndim=ndim, low=0, high=high)
    if a.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimensions, got shape {a.shape}.")
    if a.size and (a.min() < 0 or a.max() >= high):
        raise ValueError(f"`{name}` must have entries in [0, {high}).")
    return a


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
    m = _as_markov(model_class, "model_class")
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
    if tie_break == "random" and not isinstance(rng, np.random.Generator):
        raise TypeError("`rng` must be a numpy.random.Generator for tie_break='random'.")
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


# ----------------------------------------------------------------------- convex MLE
@dataclass(frozen=True)
class ConvexMLEResult:
    r"""Result of :func:`convex_mle`.

    The MLE over a convex :math:`\Theta` of Theorem 4.2 (Assumption 2.2) and Theorem G.1
    (ICLR) / E.1 (arXiv).

    Attributes
    ----------
    theta : (R, d) ndarray
        The (approximate) maximisers.
    log_likelihood : (R,) ndarray
        :math:`\hat L_n(\hat\theta)`.
    residual : (R,) ndarray
        First-order optimality residual (gradient mapping)
        :math:`\|\theta - \mathrm{Proj}_\Theta(\theta + \nabla\hat L_n(\theta)/n)\|_2`, which is
        zero exactly at a maximiser (KKT conditions).  Scaled by ``1/n`` so it is comparable
        across sample sizes.
    iterations : int
        Outer (quadratic-model) iterations run.
    converged : (R,) bool ndarray
        ``residual <= tol``.
    tol : float
        Target residual.
    constraint : str
        ``"ball"`` or ``"box"``.
    """

    theta: np.ndarray
    log_likelihood: np.ndarray
    residual: np.ndarray
    iterations: int
    converged: np.ndarray
    tol: float
    constraint: str

    def __post_init__(self):
        for name in ("theta", "log_likelihood", "residual", "converged"):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    def to_dict(self):
        d = asdict(self)
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}


class _CountObjective:
    """Log-likelihood, gradient and Hessian of a tabular linear model from counts.

    Contexts whose candidate features are all equal carry no information (their softmax
    does not depend on theta) and are dropped; contexts with identical feature rows are
    merged by summing their counts.
    """

    def __init__(self, table, counts):
        x, hd, v1, v, d = table.shape
        feats = table.reshape(-1, v, d)                                   # (C, V, d)
        c = counts.reshape(counts.shape[0], -1, v)                        # (R, C, V)
        informative = np.ptp(feats, axis=1).max(axis=-1) > 0
        feats, c = feats[informative], c[:, informative]
        uniq, inverse = np.unique(feats.reshape(len(feats), -1), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        merged = np.zeros((c.shape[0], len(uniq), v))
        np.add.at(merged, (slice(None), inverse), c)
        self.feats = uniq.reshape(-1, v, d)                               # (U, V, d)
        self.counts = merged                                              # (R, U, V)
        self.totals = merged.sum(-1)                                      # (R, U)
        self.linear = np.einsum("ruv,uvd->rd", merged, self.feats)       # (R, d)

    def value_grad_hess(self, theta, hessian=True):
        logits = np.einsum("uvd,rd->ruv", self.feats, theta)
        lsm = log_softmax(logits, axis=-1)
        value = (self.counts * lsm).sum(axis=(1, 2))
        p = np.exp(lsm)
        w = p * self.totals[..., None]                                    # (R, U, V)
        mean = np.einsum("ruv,uvd->rud", p, self.feats)
        grad = self.linear - np.einsum("ru,rud->rd", self.totals, mean)
        if not hessian:
            return value, grad, None
        second = np.einsum("ruv,uvd,uve->rde", w, self.feats, self.feats)
        first = np.einsum("ru,rud,rue->rde", self.totals, mean, mean)
        return value, grad, -(second - first)

    def value(self, theta):
        logits = np.einsum("uvd,rd->ruv", self.feats, theta)
        return (self.counts * log_softmax(logits, axis=-1)).sum(axis=(1, 2))


def _project(theta, constraint, radius, low, high):
    if constraint == "ball":
        norm = np.linalg.norm(theta, axis=-1, keepdims=True)
        return theta * np.minimum(1.0, radius / np.maximum(norm, 1e-300))
    return np.clip(theta, low, high)


def _ball_qp_exact(theta, grad, hess, radius):
    r"""Exact maximiser of :math:`g^\top(z-\theta) - \frac12(z-\theta)^\top A(z-\theta)` over :math:`\|z\|\le R`.

    ``A = -hess`` (PSD).  KKT: :math:`(A + \mu I)z = g + A\theta`, :math:`\mu\ge0`,
    :math:`\mu(\|z\| - R) = 0`; solved in the eigenbasis of ``A`` (batched), with ``mu`` by
    bisection on :math:`\|z(\mu)\| = R` when the unconstrained maximiser is infeasible.  Along
    null directions of ``A`` where the gradient vanishes the current iterate is kept (so unseen
    directions stay at their minimum-norm start).
    """
    a = -hess
    lam, u = np.linalg.eigh(a)                                           # (R, d), (R, d, d)
    lam = np.maximum(lam, 0.0)
    b = grad + np.einsum("rde,re->rd", a, theta)
    beta = np.einsum("rdk,rd->rk", u, b)
    tiny = 1e-12 * np.maximum(lam.max(-1, keepdims=True), 1e-300)
    null = lam <= tiny
    theta_c = np.einsum("rdk,rd->rk", u, theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        z0 = np.where(null, theta_c, beta / np.where(null, 1.0, lam))
    unbounded = (null & (np.abs(beta) > 1e-12 * np.maximum(np.abs(beta).max(-1, keepdims=True), 1e-300))).any(-1)
    feasible = (np.linalg.norm(z0, axis=-1) <= radius) & ~unbounded
    zc = z0.copy()
    need = ~feasible
    if need.any():
        bn, ln = beta[need], lam[need]
        lo = np.zeros(len(bn))
        hi = np.linalg.norm(bn, axis=-1) / max(radius, 1e-300) + 1e-300
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            norm = np.linalg.norm(bn / (ln + mid[:, None]), axis=-1)
            big = norm > radius
            lo = np.where(big, mid, lo)
            hi = np.where(big, hi, mid)
        zc[need] = bn / (ln + hi[:, None])
    return np.einsum("rdk,rk->rd", u, zc)


def _box_newton(theta, grad, hess, low, high):
    r"""Active-set (Bertsekas) projected-Newton point for the box.

    Coordinates at a bound whose gradient pushes outward are fixed; on the free ones the
    Newton step :math:`s_F = A_{FF}^{+}g_F` (pseudo-inverse: flat directions do not move) is
    taken and the result clipped to the box.
    """
    span = high - low
    eps = 1e-12 * max(span, 1.0)
    active = ((theta <= low + eps) & (grad < 0)) | ((theta >= high - eps) & (grad > 0))
    free = ~active
    a = -hess * (free[:, :, None] & free[:, None, :])
    s = np.einsum("rde,re->rd", np.linalg.pinv(a, rcond=1e-13, hermitian=True), grad * free)
    return np.clip(theta + s, low, high)


def _qp_step(theta, grad, hess, constraint, radius, low, high, inner):
    r"""Maximise the quadratic model :math:`g^\top s + \frac12 s^\top H s` over :math:`\theta + s\in\Theta`.

    Accelerated projected gradient on the (concave) model, step ``1/L`` with ``L`` the
    largest eigenvalue of ``-H`` (batched).  Returns the model maximiser ``z``.
    """
    if constraint == "ball":
        return _ball_qp_exact(theta, grad, hess, radius)
    lam = np.linalg.eigvalsh(-hess)[:, -1]                                # (R,)
    step = 1.0 / np.maximum(lam, 1e-12)[:, None]
    z = theta.copy()
    zprev = z
    for k in range(inner):
        mom = z + (k / (k + 3.0)) * (z - zprev)
        gq = grad + np.einsum("rde,re->rd", hess, mom - theta)
        zprev = z
        z = _project(mom + step * gq, constraint, radius, low, high)
    return z


def convex_mle(features, counts, *, constraint="ball", radius=1.0, low=-1.0, high=1.0, tol=1e-9,
               max_iter=200, inner=200, theta0=None):
    r"""MLE of a tabular autoregressive linear model over a convex :math:`\Theta`, batched over replicates.

    .. math::

        \hat\theta \in \arg\max_{\theta\in\Theta}\ \hat L_n(\theta)
          = \sum_{x,h,p,v}\mathrm{counts}[x,h,p,v]\,\log\pi_\theta(v|x,h,p),
        \qquad \Theta = \{\|\theta\|_2\le R\}\ \text{or}\ [\ell, u]^d .

    :math:`\hat L_n` is concave (:math:`\log\pi_\theta` is concave in :math:`\theta`, Assumption 2.2 setting).  Each iteration maximises the local quadratic
    model over :math:`\Theta` (ball: exactly, via the eigen-decomposition of the Hessian and a
    bisection on the multiplier; box: active-set projected Newton, falling back to ``inner``
    steps of accelerated projected gradient on the model) and backtracks along the segment to the model maximiser (Armijo, feasible by
    convexity).  Iteration stops when every replicate's first-order residual
    :math:`\|\theta - \mathrm{Proj}_\Theta(\theta + \nabla\hat L_n(\theta)/n)\|_2 \le` ``tol``.

    Parameters
    ----------
    features : TabularFeatures
    counts : (R, X, Hd, V+1, V) array_like
        Sufficient statistics (:func:`replicate_token_counts` with the model's layout).
    constraint : {"ball", "box"}
    radius : float
        Ball radius ``R``.
    low, high : float
        Box bounds.
    tol : float
        Target residual.
    max_iter, inner : int
        Outer (Newton) and inner (quadratic model) iteration caps.
    theta0 : (R, d) or (d,) array_like, optional
        Start (default 0).  Starting at 0 makes the returned point the minimum-norm
        maximiser along directions the data does not see (unseen contexts have zero
        gradient there, so the iterates never move along them): the documented tie-breaking
        rule of this MLE.

    Returns
    -------
    ConvexMLEResult

    Examples
    --------
    >>> import numpy as np
    >>> from theory.models import TabularFeatures
    >>> t = np.zeros((1, 1, 3, 2, 1)); t[..., 1, 0] = 1.0      # pi_theta(1) = sigmoid(theta)
    >>> counts = np.zeros((1, 1, 1, 3, 2)); counts[0, 0, 0, 2] = [3, 1]   # 3 zeros, 1 one
    >>> res = convex_mle(TabularFeatures(t, 1), counts, constraint="box", low=-5, high=5)
    >>> round(float(res.theta[0, 0]), 6), bool(res.converged[0])     # logit(1/4)
    (-1.098612, True)
    """
    if not isinstance(features, TabularFeatures):
        raise TypeError("`features` must be TabularFeatures (the MLE works from sufficient statistics).")
    if constraint not in ("ball", "box"):
        raise ValueError(f"`constraint` must be 'ball' or 'box', got {constraint!r}.")
    radius = check_real(radius, "radius", low=0.0)
    low = check_real(low, "low")
    high = check_real(high, "high")
    if low > high:
        raise ValueError(f"`low` must be <= `high`, got {low} > {high}.")
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", low=1)
    inner = check_int(inner, "inner", low=1)
    counts = as_finite_array(counts, "counts")
    x, h, v1, v = features.table.shape[:4]
    if counts.ndim != 5 or counts.shape[1:] != (x, h, v1, v):
        raise ValueError(f"`counts` must have shape (R, {x}, {h}, {v1}, {v}), got {counts.shape}.")
    r, d = counts.shape[0], features.dim
    n = np.maximum(counts.reshape(r, -1).sum(1) / features.horizon, 1.0)[:, None]    # sequences
    obj = _CountObjective(features.table, counts)
    theta = np.zeros((r, d)) if theta0 is None else np.broadcast_to(
        as_finite_array(theta0, "theta0"), (r, d)).copy()
    theta = _project(theta, constraint, radius, low, high)
    it = 0
    for it in range(1, max_iter + 1):
        value, grad, hess = obj.value_grad_hess(theta)
        resid = np.linalg.norm(theta - _project(theta + grad / n, constraint, radius, low, high), axis=-1)
        active = resid > tol
        if not active.any():
            break
        if constraint == "box":
            z = _box_newton(theta, grad, hess, low, high)
            weak = (grad * (z - theta)).sum(-1) <= 0
            if weak.any():                                               # fall back to the model QP
                z[weak] = _qp_step(theta[weak], grad[weak], hess[weak], constraint, radius, low, high, inner)
        else:
            z = _qp_step(theta, grad, hess, constraint, radius, low, high, inner)
        direction = z - theta
        slope = (grad * direction).sum(-1)
        t = np.ones(r)
        new = theta.copy()
        todo = active & (slope > 0)
        for _ in range(40):
            cand = theta + t[:, None] * direction
            # Armijo, with slack for rounding: near the optimum the model step's gain is
            # below the resolution of the objective and must not be rejected for noise.
            ok = obj.value(cand) >= value + 1e-4 * t * slope - 1e-13 * (1.0 + np.abs(value))
            accept = todo & ok
            new[accept] = cand[accept]
            todo &= ~ok
            if not todo.any():
                break
            t = np.where(todo, t * 0.5, t)
        # Replicates whose model step made no progress take a projected gradient step.
        stuck = active & ((slope <= 0) | todo)
        if stuck.any():
            lam = np.linalg.eigvalsh(-hess[stuck])[:, -1]
            g_step = _project(theta[stuck] + grad[stuck] / np.maximum(lam, 1e-12)[:, None],
                              constraint, radius, low, high)
            new[stuck] = g_step
        theta = new
    value, grad, _ = obj.value_grad_hess(theta, hessian=False)
    resid = np.linalg.norm(theta - _project(theta + grad / n, constraint, radius, low, high), axis=-1)
    return ConvexMLEResult(theta, value, resid, it, resid <= tol, tol, constraint)


# ------------------------------------------------------------- separable ball MLE
def sample_group_counts(group_sizes, group_probs, n_prompts, n, replicates, *, rng):
    r"""Sufficient statistics of ``replicates`` data sets of ``n`` sequences from a grouped i.i.d.-token law.

    Prompts are uniform over ``n_prompts``; under prompt ``k`` the tokens of group ``g`` are
    i.i.d. :math:`\mathrm{Ber}(p_g)` (:func:`theory.instances.linear_variance_family`).
    Coordinate ``(k, g)`` (flat index ``k*G + g``) then sees :math:`T = n_k s_g` tokens of
    which :math:`c\sim\mathrm{Bin}(T, p_g)` are ones, :math:`(n_k)\sim\mathrm{Mult}(n, 1/K)`:
    the data set's likelihood (Theorem 4.2's MLE objective) depends on nothing else.

    Parameters
    ----------
    group_sizes : (G,) array_like of int
        Positions per group.
    group_probs : (G,) array_like
        :math:`p_g` under :math:`\pi_D`.
    n_prompts : int
        ``K``.
    n, replicates : int
        Sequences per data set and number of data sets.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ones, trials : (R, K*G) int ndarrays

    Examples
    --------
    >>> ones, trials = sample_group_counts([1, 4], [0.5, 0.5], 2, 10, 3, rng=np.random.default_rng(0))
    >>> trials.shape, bool((trials.reshape(3, 2, 2).sum(1) == [10, 40]).all())
    ((3, 4), True)
    """
    sizes = as_int_array(group_sizes, "group_sizes", ndim=1, low=1)
    probs = as_finite_array(group_probs, "group_probs", ndim=1)
    if probs.shape != sizes.shape or ((probs < 0) | (probs > 1)).any():
        raise ValueError("`group_probs` must be probabilities with one entry per group.")
    k = check_int(n_prompts, "n_prompts", low=1)
    n = check_int(n, "n", low=1)
    replicates = check_int(replicates, "replicates", low=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("`rng` must be a numpy.random.Generator (use np.random.default_rng(seed)).")
    nk = rng.multinomial(n, np.full(k, 1.0 / k), size=replicates)       # (R, K)
    trials = (nk[:, :, None] * sizes).reshape(replicates, -1)
    ones = rng.binomial(trials, np.tile(probs, k))
    return ones, trials


def _group_root(c, t, b, kappa, theta, lo, hi, iters=100):
    """Root of b (c - t sigmoid(b theta)) = kappa theta per coordinate (safeguarded Newton).

    Iterates only on the coordinates not yet converged (relative step <= 1e-13); returns the
    roots and the curvatures ``b^2 t s (1 - s) + kappa`` there.
    """
    shape = c.shape
    kap = np.broadcast_to(kappa, shape).ravel()
    c, t, b, th, lo, hi = (a.ravel().copy() for a in (c, t, b, theta, lo, hi))
    act = np.arange(th.size)
    for _ in range(iters):
        if not act.size:
            break
        cc, tt, bb, kk, x = c[act], t[act], b[act], kap[act], th[act]
        s = expit(bb * x)
        f = bb * (cc - tt * s) - kk * x
        l_, h_ = np.where(f > 0, x, lo[act]), np.where(f < 0, x, hi[act])
        h = bb * bb * tt * s * (1.0 - s) + kk
        new = x + np.where(h > 0, f / np.where(h > 0, h, 1.0), 0.0)
        new = np.where((new > l_) & (new < h_), new, 0.5 * (l_ + h_))
        lo[act], hi[act], th[act] = l_, h_, new
        act = act[np.abs(new - x) > 1e-13 * (1.0 + np.abs(x))]
    s = expit(b * th)
    return th.reshape(shape), (b * b * t * s * (1.0 - s) + kap).reshape(shape)


def separable_ball_mle(ones, trials, norms, n_sequences, *, radius=1.0, tol=1e-9, max_iter=200):
    r"""MLE over :math:`\{\|\theta\|_2\le R\}` when every coordinate drives its own i.i.d. Bernoulli tokens.

    .. math::

        \hat\theta \in \arg\max_{\|\theta\|_2\le R}\ \sum_j c_j\log\sigma(b_j\theta_j)
          + (T_j - c_j)\log\sigma(-b_j\theta_j),

    the log-likelihood of :func:`theory.instances.linear_variance_family` (Theorem 4.2's MLE
    with :math:`\Theta = B_2(R)`).  The objective is separable and concave, so the KKT point
    is :math:`b_j(c_j - T_j\sigma(b_j\theta_j)) = \kappa\theta_j` with one multiplier
    :math:`\kappa\ge0` per replicate: :math:`\kappa = 0` when the unconstrained MLE exists and
    lies in the ball, else the root of :math:`\|\theta(\kappa)\| = R`, found by safeguarded
    Newton on :math:`\log\kappa` (:math:`d\theta_j/d\kappa = -\theta_j/(h_j+\kappa)`,
    :math:`h_j` the curvature), each :math:`\theta_j(\kappa)` by safeguarded Newton.
    Coordinates without data (:math:`T_j = 0` or :math:`b_j = 0`) stay at 0 (minimum norm).
    Same contract as :func:`convex_mle` (residual, ``converged``) at :math:`O(Rd)` cost per
    iteration instead of :math:`O(Rd^3)`, so ``d`` can be in the thousands.

    Parameters
    ----------
    ones, trials : (R, d) array_like
        Ones :math:`c_j` and tokens :math:`T_j` per coordinate (:func:`sample_group_counts`).
    norms : (d,) or (R, d) array_like
        Feature norms :math:`b_j\ge0`.
    n_sequences : int or (R,) array_like
        Sequences per data set (scales the gradient in the residual, as in :func:`convex_mle`).
    radius : float
        Ball radius ``R > 0``.
    tol : float
        Target residual :math:`\|\theta - \mathrm{Proj}(\theta + \nabla\hat L_n/n)\|_2`.
    max_iter : int
        Cap on the multiplier iterations.

    Returns
    -------
    ConvexMLEResult
        ``constraint="ball"``; ``iterations`` the multiplier iterations used.

    Examples
    --------
    >>> res = separable_ball_mle([[3, 0]], [[4, 4]], [1.0, 1.0], 4, radius=2.0)
    >>> bool(res.converged[0]), round(float(np.linalg.norm(res.theta[0])), 6)   # c = 0 pushes to the sphere
    (True, 2.0)
    """
    c = as_finite_array(ones, "ones", ndim=2)
    t = as_finite_array(trials, "trials", ndim=2)
    if t.shape != c.shape or (t < 0).any() or (c < 0).any() or (c > t).any():
        raise ValueError("`ones` and `trials` must have one shape with 0 <= ones <= trials.")
    b = np.broadcast_to(as_finite_array(norms, "norms"), c.shape) if np.ndim(norms) in (1, 2) else None
    if b is None or (b < 0).any():
        raise ValueError("`norms` must be non-negative, of shape (d,) or (R, d).")
    r_ = check_real(radius, "radius", low=0.0, low_open=True)
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", low=1)
    n = np.broadcast_to(as_finite_array(n_sequences, "n_sequences"), (c.shape[0],)).astype(float)
    if (n <= 0).any():
        raise ValueError("`n_sequences` must be positive.")
    info = (t > 0) & (b > 0)
    c, t, b = np.where(info, c, 0.0), np.where(info, t, 0.0), np.where(info, b, 1.0)
    big = np.finfo(float).max ** 0.25
    # kappa = 0: the unconstrained maximiser, when it exists.
    interior = (c > 0) & (c < t)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta0 = np.where(info & interior, (np.log(c) - np.log(t - c)) / b, 0.0)
    free = (~(info & ~interior)).all(-1) & (np.linalg.norm(theta0, axis=-1) <= r_)
    theta = np.where(free[:, None], theta0, 0.0)
    it = 0
    need = ~free
    if need.any():
        cn, tn, bn = c[need], t[need], b[need]
        inf_n = info[need]
        k_hi = np.sqrt(((bn * np.maximum(cn, tn - cn)) ** 2).sum(-1)) / r_ + 1e-300   # ||theta(k_hi)|| <= R
        t_lo, t_hi = np.log(k_hi) - 60.0, np.log(k_hi)
        tk = t_hi.copy()
        th = np.zeros_like(cn)
        act = np.arange(len(cn))                                         # replicates still iterating
        for it in range(1, max_iter + 1):
            ca, ta, ba, ia = cn[act], tn[act], bn[act], inf_n[act]
            kap = np.exp(tk[act])[:, None]
            bound = np.where(ia, ba * np.maximum(ca, ta - ca) / kap, 0.0)
            lo = np.where(ca - 0.5 * ta >= 0, 0.0, -bound)
            hi = np.where(ca - 0.5 * ta >= 0, bound, 0.0)
            x, h = _group_root(ca, ta, ba, kap, np.clip(th[act], lo, hi), lo, hi)
            x = np.where(ia, x, 0.0)
            th[act] = x
            psi = (x ** 2).sum(-1)
            g = np.log(np.maximum(psi, 1e-300)) - 2.0 * np.log(r_)
            t_lo[act] = np.where(g > 0, tk[act], t_lo[act])
            t_hi[act] = np.where(g <= 0, tk[act], t_hi[act])
            dpsi = -2.0 * (x ** 2 / np.where(ia, h, big)).sum(-1)        # d psi / d kappa
            slope = np.exp(tk[act]) * dpsi / np.maximum(psi, 1e-300)
            new = tk[act] + np.where(slope < 0, -g / np.where(slope < 0, slope, -1.0), 0.0)
            bad = ~((new > t_lo[act]) & (new < t_hi[act])) | (slope >= 0)
            tk[act] = np.where(bad, 0.5 * (t_lo[act] + t_hi[act]), new)
            act = act[np.abs(g) > 1e-10]
            if not act.size:
                break
        th *= np.minimum(1.0, r_ / np.maximum(np.linalg.norm(th, axis=-1, keepdims=True), 1e-300))
        theta[need] = th
    s1, s0 = log_expit(b * theta), log_expit(-b * theta)
    value = np.where(info, c * s1 + (t - c) * s0, 0.0).sum(-1)
    grad = np.where(info, b * (c - t * expit(b * theta)), 0.0)
    resid = np.linalg.norm(theta - _project(theta + grad / n[:, None], "ball", r_, 0.0, 0.0), axis=-1)
    return ConvexMLEResult(theta, value, resid, it, resid <= tol, tol, "ball")


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
