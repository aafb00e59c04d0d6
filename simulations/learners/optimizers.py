r"""Optimizers as optax-style pure transforms over a leading replicate axis.

An :class:`Optimizer` is a pair of pure functions ``(init, update)``:

* ``init(params) -> state``;
* ``update(grad, state, params=None) -> (step, new_state)``; nothing is mutated.

``grad`` is the gradient of the **loss** to be minimised (for next-token prediction the
loss is :math:`-\log\pi_\theta(y|x)`, so ``grad`` is minus the score) and ``step`` is what
:func:`apply_updates` *adds* to the parameters, as in optax.  With this convention
``sgd(eta)`` gives the paper's :math:`\theta \leftarrow \theta + \eta\nabla\log\pi_\theta`.

Parameters are arrays whose **last axis** is the parameter dimension ``d``; all leading
axes are independent replicates, e.g. ``(R, d)`` for ``R`` runs advanced in one array
operation.  Norms (normalised SGD, projections) are taken per replicate over the last
axis.  Learning rates may be scalars or arrays broadcasting against ``params`` (e.g. an
``(R, 1)`` column giving every replicate its own step size).

Building blocks: :func:`identity`, :func:`scale`, :func:`scale_by_norm`,
:func:`scale_by_sign`, :func:`scale_by_adam`, :func:`project_l2_ball`,
:func:`project_box`, composed with :func:`chain`.  Aliases: :func:`sgd`,
:func:`normalized_sgd` (Eq. (10) ICLR / (17)–(18) arXiv), :func:`sign_sgd` (Eq. (20)
arXiv), :func:`adam` (with or without bias correction) and :func:`projected`.

Examples
--------
>>> import numpy as np
>>> opt = chain(normalized_sgd(0.1, lam=1.0), project_l2_ball(1.0))
>>> params = np.zeros((3, 2))                      # 3 replicates, d = 2
>>> state = opt.init(params)
>>> grad = np.array([[-3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
>>> step, state = opt.update(grad, state, params)
>>> np.round(apply_updates(params, step), 4)
array([[ 0.05  , -0.0667],
       [ 0.    ,  0.    ],
       [-0.05  ,  0.    ]])
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from theory.validation import as_finite_array, check_real

__all__ = [
    "Optimizer",
    "EmptyState",
    "AdamState",
    "apply_updates",
    "chain",
    "identity",
    "scale",
    "scale_by_norm",
    "scale_by_sign",
    "scale_by_adam",
    "project_l2_ball",
    "project_box",
    "sgd",
    "normalized_sgd",
    "sign_sgd",
    "adam",
    "projected",
]


class Optimizer(NamedTuple):
    """A gradient transformation: ``init(params) -> state`` and
    ``update(grad, state, params=None) -> (step, new_state)`` (both pure).

    Attributes
    ----------
    init : callable
        ``init(params) -> state``.
    update : callable
        ``update(grad, state, params=None) -> (step, new_state)``.
    spec : tuple or None
        What the transform computes, for compiled training loops that run it without
        calling ``update``: ``("scale", c)``, ``("project_l2_ball", radius)`` or
        ``("chain", (spec, ...))``; ``None`` for the other transforms (they always run
        through ``update``).
    """

    init: Callable
    update: Callable
    spec: tuple | None = None


class EmptyState(NamedTuple):
    """State of a stateless transform."""


class AdamState(NamedTuple):
    """State of :func:`scale_by_adam`.

    Attributes
    ----------
    count : ndarray of int64, shape ()
        Number of updates taken.
    mu, nu : ndarray
        Exponential moving averages of the gradient and of its square (shape of params).
    """

    count: np.ndarray
    mu: np.ndarray
    nu: np.ndarray


def _rate(value, name):
    """A learning rate: a finite scalar or array (broadcast against params later)."""
    if np.ndim(value) == 0:
        return check_real(value, name)
    return as_finite_array(value, name)


def apply_updates(params, step):
    """Return ``params + step`` (a new array).

    Parameters
    ----------
    params : array_like
        Current parameters.
    step : array_like
        Step returned by an optimizer's ``update`` (broadcasts against ``params``).

    Returns
    -------
    ndarray
        ``params + step``.

    Examples
    --------
    >>> apply_updates(np.array([1.0, 2.0]), np.array([0.5, -1.0]))
    array([1.5, 1. ])
    """
    return np.asarray(params, dtype=float) + step


def _empty_init(params):
    return EmptyState()


def identity():
    """The transform that returns the gradient unchanged.

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.
    """
    return Optimizer(_empty_init, lambda grad, state, params=None: (grad, state))


def scale(factor):
    r"""Multiply by ``factor`` (scalar or array broadcasting against params): :math:`g \mapsto c\,g`.

    Parameters
    ----------
    factor : float or array_like
        The multiplier :math:`c`.

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.
    """
    c = _rate(factor, "factor")

    def update(grad, state, params=None):
        return c * grad, state

    return Optimizer(_empty_init, update, ("scale", c))


def scale_by_norm(lam):
    r"""Normalise by the per-replicate norm: :math:`g \mapsto g/(\lambda + \|g\|_2)`.

    The normalisation of normalised SGD (Eq. (10) ICLR / (17)–(18) arXiv).  The output has norm :math:`\|g\|/(\lambda+\|g\|) < 1` for :math:`\lambda > 0`.

    Parameters
    ----------
    lam : float or array_like
        :math:`\lambda \ge 0`.

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.
    """
    lam = _rate(lam, "lam")
    if np.any(np.asarray(lam) < 0):
        raise ValueError("`lam` must be >= 0.")

    def update(grad, state, params=None):
        norm = np.sqrt(np.einsum("...i,...i->...", grad, grad))[..., None]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = grad / (lam + norm)
        return np.where(norm > 0, out, 0.0), state

    return Optimizer(_empty_init, update)


def scale_by_sign():
    r"""Coordinatewise sign: :math:`g \mapsto \mathrm{sign}(g)` (``sign(0) = 0``).

    The per-coordinate normalisation of SignSGD (Eq. (20) arXiv).

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.
    """
    return Optimizer(_empty_init, lambda grad, state, params=None: (np.sign(grad), state))


def scale_by_adam(b1=0.9, b2=0.999, eps=1e-8, *, bias_correction=True):
    r"""Adam's preconditioning (Kingma & Ba 2015), per coordinate.

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
        g \mapsto \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon},

    with :math:`\hat m_t = m_t/(1-\beta_1^t)`, :math:`\hat v_t = v_t/(1-\beta_2^t)` when
    ``bias_correction`` and :math:`\hat m = m`, :math:`\hat v = v` otherwise.  With
    :math:`\beta_1=\beta_2=0` this is :func:`scale_by_sign` up to :math:`\epsilon`
    (arXiv Eq. (20) and the remark after it).

    Parameters
    ----------
    b1, b2 : float, optional
        Decay rates :math:`\beta_1, \beta_2 \in [0, 1)`.
    eps : float, optional
        :math:`\epsilon \ge 0`.
    bias_correction : bool, optional
        Use the bias-corrected moments.

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.
    """
    b1 = check_real(b1, "b1", low=0.0, high=1.0, high_open=True)
    b2 = check_real(b2, "b2", low=0.0, high=1.0, high_open=True)
    eps = check_real(eps, "eps", low=0.0)
    bias_correction = bool(bias_correction)

    def init(params):
        p = np.asarray(params, dtype=float)
        return AdamState(np.asarray(0, dtype=np.int64), np.zeros_like(p), np.zeros_like(p))

    def update(grad, state, params=None):
        count = state.count + 1
        mu = b1 * state.mu + (1.0 - b1) * grad
        nu = b2 * state.nu + (1.0 - b2) * grad * grad
        if bias_correction:
            mu_hat = mu / (1.0 - b1 ** count)
            nu_hat = nu / (1.0 - b2 ** count)
        else:
            mu_hat, nu_hat = mu, nu
        denom = np.sqrt(nu_hat) + eps
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(denom > 0, mu_hat / denom, 0.0)
        return out, AdamState(np.asarray(count, dtype=np.int64), mu, nu)

    return Optimizer(init, update)


def _needs_params(params, name):
    if params is None:
        raise ValueError(f"`{name}` needs the current `params` in update(grad, state, params).")
    return params if isinstance(params, np.ndarray) else np.asarray(params, dtype=float)


def _l2_projection(theta, radius):
    """The formula of :func:`theory.models.projection_l2_ball` without its input validation.

    Optimizers call the projection at every step (``T*H`` times at token level), where the
    validation of the public function costs more than the update itself; the formula is
    pinned to the public one by ``tests/unit/test_optimizers.py``.
    """
    norm = np.sqrt((theta * theta).sum(axis=-1, keepdims=True))
    if not (norm > radius).any():
        return theta
    with np.errstate(divide="ignore", invalid="ignore"):
        return theta * np.where(norm > radius, radius / norm, 1.0)


def project_l2_ball(radius=1.0):
    r"""Turn a step into a projected one: :math:`s \mapsto \mathrm{Proj}_{B_2(R)}(\theta + s) - \theta`.

    The projection of :func:`theory.models.projection_l2_ball`,
    :math:`\theta\min\{1, R/\|\theta\|_2\}` per replicate; place it last in a :func:`chain`.  This is the :math:`\mathrm{Proj}_\Theta` of the
    updates Eq. (8) ICLR / (14) arXiv and Eq. (10) ICLR / (17)–(18) arXiv.

    Parameters
    ----------
    radius : float, optional
        :math:`R \ge 0`.

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.
    """
    radius = check_real(radius, "radius", low=0.0)

    def update(step, state, params=None):
        p = _needs_params(params, "project_l2_ball")
        return _l2_projection(p + step, radius) - p, state

    return Optimizer(_empty_init, update, ("project_l2_ball", radius))


def project_box(low=-1.0, high=1.0):
    r"""Turn a step into a projected one onto the box :math:`[\ell, u]^d` (coordinatewise clip).

    The projection of :func:`theory.models.projection_box`; place it last in a :func:`chain`.  This is the :math:`\mathrm{Proj}_\Theta` of the
    updates Eq. (8) ICLR / (14) arXiv for box classes (Prop. 3.2).

    Parameters
    ----------
    low, high : float, optional
        Bounds :math:`\ell \le u`.

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.
    """
    low = check_real(low, "low")
    high = check_real(high, "high")
    if low > high:
        raise ValueError(f"`low` must be <= `high`, got {low} > {high}.")

    def update(step, state, params=None):
        p = _needs_params(params, "project_box")
        return np.clip(p + step, low, high) - p, state

    return Optimizer(_empty_init, update)


def chain(*transforms):
    """Compose transforms: the output of each is the input ``grad`` of the next.

    The state is the tuple of the components' states.

    Parameters
    ----------
    *transforms : Optimizer
        The transforms, applied in order.

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.

    Examples
    --------
    >>> opt = chain(scale_by_sign(), scale(-0.5))
    >>> step, _ = opt.update(np.array([2.0, -3.0, 0.0]), opt.init(np.zeros(3)))
    >>> step
    array([-0.5,  0.5, -0. ])
    """
    if not transforms:
        raise ValueError("`chain` needs at least one transform.")
    for i, t in enumerate(transforms):
        if not isinstance(t, Optimizer):
            raise TypeError(f"`transforms[{i}]` must be an Optimizer, got {type(t).__name__}.")

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(grad, state, params=None):
        if not isinstance(state, tuple) or len(state) != len(transforms):
            raise ValueError("The number of updates and states has to be the same in chain! "
                             "Make sure you have called init first!")
        new_states = []
        for t, s in zip(transforms, state):
            grad, s = t.update(grad, s, params)
            new_states.append(s)
        return grad, tuple(new_states)

    specs = tuple(t.spec for t in transforms)
    return Optimizer(init, update, None if None in specs else ("chain", specs))


# ----------------------------------------------------------------------------- aliases
def sgd(lr):
    r"""(Stochastic) gradient descent: step :math:`-\eta g`.

    On the negative score this is Eq. (8) ICLR / (14) arXiv,
    :math:`\theta \leftarrow \theta + \eta\nabla\log\pi_\theta(y|x)` (before projection).

    Parameters
    ----------
    lr : float or array_like
        Learning rate :math:`\eta` (an array broadcasts against the parameters, e.g. ``(R, 1)``).

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.

    Examples
    --------
    >>> opt = sgd(0.1)
    >>> opt.update(np.array([[1.0, -2.0]]), opt.init(np.zeros((1, 2))))[0]
    array([[-0.1,  0.2]])
    """
    return chain(scale(-_asrate(lr)))


def _asrate(lr):
    r = _rate(lr, "lr")
    return np.asarray(r) if np.ndim(r) else r


def normalized_sgd(lr, lam):
    r"""Normalised SGD (Eq. (10) ICLR / (17)–(18) arXiv): step :math:`-\eta\,g/(\lambda + \|g\|)`.

    The step norm is :math:`\eta\|g\|/(\lambda+\|g\|) < \eta`.  Theorem 5.1's proof takes
    :math:`\lambda = \log N/(16\eta)` (:func:`theory.rates.normalized_sgd_parameters`).

    Parameters
    ----------
    lr : float or array_like
        Learning rate :math:`\eta` (an array broadcasts against the parameters, e.g. ``(R, 1)``).
    lam : float or array_like
        :math:`\lambda \ge 0`.

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.

    Examples
    --------
    >>> opt = normalized_sgd(0.1, lam=1.0)
    >>> opt.update(np.array([[3.0, 4.0]]), opt.init(np.zeros((1, 2))))[0]   # -0.1 g / (1 + 5)
    array([[-0.05      , -0.06666667]])
    """
    return chain(scale_by_norm(lam), scale(-_asrate(lr)))


def sign_sgd(lr):
    r"""Sign SGD (Eq. (20) arXiv): step :math:`-\eta\,\mathrm{sign}(g)`, per coordinate.

    Parameters
    ----------
    lr : float or array_like
        Learning rate :math:`\eta` (an array broadcasts against the parameters, e.g. ``(R, 1)``).

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.

    Examples
    --------
    >>> opt = sign_sgd(0.1)
    >>> opt.update(np.array([[3.0, -1e-9, 0.0]]), opt.init(np.zeros((1, 3))))[0]
    array([[-0.1,  0.1, -0. ]])
    """
    return chain(scale_by_sign(), scale(-_asrate(lr)))


def adam(lr, b1=0.9, b2=0.999, eps=1e-8, *, bias_correction=True):
    r"""Adam: step :math:`-\eta\,\hat m_t/(\sqrt{\hat v_t}+\epsilon)` (see :func:`scale_by_adam`).

    Without moment averaging it is SignSGD (Eq. (20) arXiv and the remark after it); coverage
    guarantees for Adam are conjectured in the paper, not proved.

    Parameters
    ----------
    lr : float or array_like
        Learning rate :math:`\eta` (an array broadcasts against the parameters, e.g. ``(R, 1)``).
    b1, b2 : float, optional
        Decay rates :math:`\beta_1, \beta_2 \in [0, 1)`.
    eps : float, optional
        :math:`\epsilon \ge 0`.
    bias_correction : bool, optional
        Use the bias-corrected moments.

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.

    Examples
    --------
    >>> opt = adam(0.1)                      # first bias-corrected step is -lr * sign(g)
    >>> step, state = opt.update(np.array([[2.0, -0.5]]), opt.init(np.zeros((1, 2))))
    >>> np.round(step, 6), int(state[0].count)
    (array([[-0.1,  0.1]]), 1)
    """
    return chain(scale_by_adam(b1, b2, eps, bias_correction=bias_correction), scale(-_asrate(lr)))


def projected(optimizer, *, radius=None, box=None):
    r"""``optimizer`` followed by Euclidean projection onto :math:`\Theta`.

    Exactly one of ``radius`` (:math:`\Theta = B_2(R)`) and ``box`` (``(low, high)``) must
    be given.  The projected updates of Eq. (8) ICLR / (14) arXiv and Eq. (10) ICLR /
    (17)–(18) arXiv.

    Parameters
    ----------
    optimizer : Optimizer
        The unprojected transform.
    radius : float, optional
        Radius of :math:`\Theta = B_2(R)`.
    box : (float, float), optional
        ``(low, high)`` of :math:`\Theta = [\ell, u]^d`.

    Returns
    -------
    Optimizer
        The ``(init, update)`` pair.
    """
    if (radius is None) == (box is None):
        raise ValueError("give exactly one of `radius` and `box`.")
    proj = project_l2_ball(radius) if radius is not None else project_box(*box)
    return chain(optimizer, proj)
