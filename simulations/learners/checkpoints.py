r"""Mini-batch maximum-likelihood training that records checkpoints (the candidates of the
tournament experiments).

The loop minimises the mini-batch negative log-likelihood
:math:`-\frac1B\sum_{b}\log\pi_\theta(y_b|x_b)` of an
:class:`~theory.models.AutoregressiveLinearModel` with any optax-style optimizer of
:mod:`simulations.learners.optimizers` (``init(params) -> state``,
``update(grad, state, params) -> (step, state)``, step *added* to the parameters); the
gradient is the model's exact score (:meth:`AutoregressiveLinearModel.grad_log_prob`).
A leading replicate axis of ``theta`` is trained in the same array operations (one data
stream per replicate, ``paired=True`` evaluation).

Data come from a ``sampler(n, rng) -> (x, y)``: fresh samples of :math:`\pi_D` (online
training, :func:`online_sampler`) or mini-batches of a fixed data set
(:func:`dataset_sampler`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulations.learners._order import model_sampler_order
from simulations.learners.optimizers import apply_updates
from theory.deprecation import reordered
from theory.validation import as_finite_array, check_int, check_rng, readonly

__all__ = ["Trajectory", "train_with_checkpoints", "online_sampler", "dataset_sampler"]


@dataclass(frozen=True)
class Trajectory:
    r"""Checkpoints of a training run.

    The candidate set :math:`\Pi` of the checkpoint-selection experiments: the tournament of
    Theorem 6.2 (ICLR) / 6.3 (arXiv) over training checkpoints, as in Figure 1.

    Attributes
    ----------
    steps : (C,) int array
        Update counts at which checkpoints were taken (0 = the initial parameters).
    thetas : (C, [R,] d) array
        Parameters at those steps.
    """

    steps: np.ndarray
    thetas: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "steps", readonly(np.asarray(self.steps)))
        object.__setattr__(self, "thetas", readonly(np.asarray(self.thetas)))

    def to_dict(self):
        return {"steps": self.steps.tolist(), "thetas": self.thetas.tolist()}


def online_sampler(data, replicates=None, *, buffer=1 << 15):
    r"""Fresh i.i.d. samples of :math:`\pi_D` = ``data`` (a single Markov/linear model).

    The fresh samples of one-pass training (Prop. 5.1, Theorem 5.1) and of Figure 1's online
    fine-tuning (App. D ICLR / App. C arXiv).  Returns ``sampler(n, rng) -> (x, y)`` with shapes ``(n,)``, ``(n, H)``, or
    ``(R, n)``, ``(R, n, H)`` when ``replicates = R``.  Sequences are drawn ``buffer`` at a
    time (one pass over the model's tables) and handed out in order; as the draws are
    i.i.d. this is the same stream as drawing each batch separately.

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel
        :math:`\pi_D` (a single model).
    replicates : int, optional
        Number ``R`` of independent streams (leading axis of the batches).
    buffer : int, optional
        Sequences drawn per refill.

    Returns
    -------
    callable
        ``sampler(n, rng) -> (x, y)``.
    """
    store = {"x": None, "y": None, "pos": 0}
    rows = 1 if replicates is None else replicates

    def sample(n, rng):
        need = n * rows
        if store["x"] is None or store["pos"] + need > store["x"].shape[0]:
            x, y = data.sample(max(buffer, need), rng=rng)
            store.update(x=x, y=y, pos=0)
        i = store["pos"]
        store["pos"] = i + need
        x, y = store["x"][i:i + need], store["y"][i:i + need]
        if replicates is None:
            return x, y
        return x.reshape(replicates, n), y.reshape(replicates, n, -1)
    return sample


def dataset_sampler(x, y):
    """Mini-batches drawn uniformly with replacement from a fixed data set.

    The fixed-data-set training of Figures 1 and 2 (App. D ICLR / App. C arXiv).  ``x``
    ``([R,] n)`` and ``y`` ``([R,] n, H)``; with a leading replicate axis every
    replicate draws from its own data set.

    Parameters
    ----------
    x : ([R,] n) array_like of int
        Prompts of the data set(s).
    y : ([R,] n, H) array_like of int
        Responses of the data set(s).

    Returns
    -------
    callable
        ``sampler(n, rng) -> (x, y)`` returning ``([R,] n)`` and ``([R,] n, H)``.
    """
    x = np.asarray(x)
    y = np.asarray(y)

    def sample(n, rng):
        idx = rng.integers(0, x.shape[-1], size=x.shape[:-1] + (n,))
        if x.ndim == 1:
            return x[idx], y[idx]
        rows = np.arange(x.shape[0])[:, None]
        return x[rows, idx], y[rows, idx]
    return sample


@reordered(("model", "sampler"), ("sampler", "model"), is_old_order=model_sampler_order)
def train_with_checkpoints(sampler, model, optimizer, *, steps, batch, checkpoint_steps, rng,
                           theta0=None):
    r"""Train by mini-batch gradient descent on the NLL and return the checkpoints.

    Produces the checkpoints among which Figure 1 selects (tournament, Theorem 6.2 (ICLR) /
    6.3 (arXiv), against minimum KL / cross-entropy).

    The data come first, as :math:`\pi_D` does in :math:`D_{KL}(\pi_D\|\hat\pi)`; the former
    order ``(model, sampler, ...)`` still works for one release, with a ``DeprecationWarning``.

    Parameters
    ----------
    sampler : callable
        ``sampler(n, rng) -> (x, y)`` (see :func:`online_sampler`, :func:`dataset_sampler`);
        with replicates it must return ``(R, n)`` and ``(R, n, H)``.
    model : AutoregressiveLinearModel
        Provides the features and prompt set; its ``theta`` is the initial point unless
        ``theta0`` is given.  ``theta`` of shape ``(R, d)`` trains ``R`` replicates.
    optimizer : simulations.learners.optimizers.Optimizer
        Optax-style transform; its step is added to the parameters.
    steps : int
        Number of updates.
    batch : int
        Mini-batch size.
    checkpoint_steps : array_like of int
        Update counts in ``[0, steps]`` at which to record the parameters.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness (passed to ``sampler``).
    theta0 : array_like, optional
        Initial parameters (default ``model.theta``).

    Returns
    -------
    Trajectory
        ``steps`` and the parameters ``thetas`` at the checkpoints.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.models import TabularFeatures, AutoregressiveLinearModel
    >>> from simulations.learners.optimizers import sgd
    >>> t = np.zeros((1, 1, 3, 2, 1)); t[..., 1, 0] = 1.0
    >>> data = AutoregressiveLinearModel(TabularFeatures(t, horizon=2), theta=[1.0])
    >>> traj = train_with_checkpoints(online_sampler(data), data.replace(theta=[0.0]), sgd(0.5),
    ...                               steps=200, batch=32, checkpoint_steps=[0, 200],
    ...                               rng=np.random.default_rng(0))
    >>> bool(abs(traj.thetas[-1, 0] - 1.0) < 0.3)
    True
    """
    steps = check_int(steps, "steps", low=0)
    batch = check_int(batch, "batch", low=1)
    ckpt = np.unique(np.asarray(checkpoint_steps, dtype=np.int64))
    if ckpt.size == 0 or ckpt.min() < 0 or ckpt.max() > steps:
        raise ValueError(f"`checkpoint_steps` must lie in [0, {steps}].")
    rng = check_rng(rng)
    theta = np.array(as_finite_array(model.theta if theta0 is None else theta0, "theta0"), dtype=float)
    paired = theta.ndim == 2
    state = optimizer.init(theta)
    out = []
    if 0 in ckpt:
        out.append(theta.copy())
    for t in range(1, steps + 1):
        x, y = sampler(batch, rng)
        score = model.replace(theta=theta).grad_log_prob(x, y, paired=paired).mean(axis=-2)
        step, state = optimizer.update(-score, state, theta)
        theta = apply_updates(theta, step)
        if t in ckpt:
            out.append(theta.copy())
    return Trajectory(ckpt, np.stack(out))
