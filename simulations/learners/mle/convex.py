r"""The MLE of a tabular autoregressive linear model over a ball or a box (Theorem 4.2, Props
3.2, G.1(a), K.1 of arXiv 2510.15020) by batched projected Newton, and the closed-form
separable ball MLE of the linear-rate experiment.

Part of :mod:`simulations.learners.mle` (import from there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import expit, log_expit, log_softmax

from theory.validation import as_finite_array, as_int_array, check_int, check_real, check_rng, readonly
from theory.models import TabularFeatures

__all__ = ["ConvexMLEResult", "convex_mle", "sample_group_counts", "separable_ball_mle"]

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
    rng : {None, int, numpy.random.SeedSequence, numpy.random.Generator}
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
    rng = check_rng(rng)
    sizes = as_int_array(group_sizes, "group_sizes", ndim=1, low=1)
    probs = as_finite_array(group_probs, "group_probs", ndim=1)
    if probs.shape != sizes.shape or ((probs < 0) | (probs > 1)).any():
        raise ValueError("`group_probs` must be probabilities with one entry per group.")
    k = check_int(n_prompts, "n_prompts", low=1)
    n = check_int(n, "n", low=1)
    replicates = check_int(replicates, "replicates", low=1)
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
