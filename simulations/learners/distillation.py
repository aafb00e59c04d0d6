r"""Distillation with truncated token weights (Theorem G.2 ICLR / Theorem 6.2 arXiv).

With the teacher's next-token probabilities :math:`\pi_D(\cdot|x, y_{<h})` the per-token
KLs :math:`\varepsilon_h = D_{KL}(\pi_D(\cdot|x,y_{<h})\|\pi_\theta(\cdot|x,y_{<h}))` are
computable along a sampled sequence, and the student's gradient keeps a token only until
their running sum reaches :math:`A = \log N`:

.. math::

    \hat g_\theta(y|x) = \sum_h \alpha_h\nabla\log\pi_\theta(y_h|x,y_{<h}),\qquad
    \alpha_h = \min\Big\{1, \max\Big\{0, \frac{A - \sum_{j<h}\varepsilon_j}{\varepsilon_h}\Big\}\Big\},

i.e. :math:`\alpha_h = 1` while :math:`\sum_{j\le h}\varepsilon_j \le A`, ``0`` once
:math:`\sum_{j<h}\varepsilon_j \ge A`, and the fraction that reaches :math:`A` exactly in
between.  Lemma K.4: :math:`\sum_h\alpha_h\varepsilon_h = \min\{A, \sum_h\varepsilon_h\}`.
The update is :math:`\theta_{t+1} = \mathrm{Proj}_\Theta(\theta_t + \eta\hat g_{\theta_t})`
with :math:`\eta = \min\{1/((64\log N + 2)B^2), (T\sigma_\star^2\log N)^{-1/2}\}`
(:func:`theory.rates.distillation_step_size`).
"""

from __future__ import annotations

import numpy as np

from theory._validation import as_float_array, check_real

from .training import train_one_pass

__all__ = ["truncated_token_weights", "truncated_weights", "train_distillation"]


def truncated_token_weights(token_kls, A):
    r"""Truncated token weights :math:`\alpha_h` along the last axis.

    Parameters
    ----------
    token_kls : (..., H) array_like
        Non-negative per-token KLs :math:`\varepsilon_h` in sequence order.
    A : float
        Budget :math:`A = \log N > 0`.

    Returns
    -------
    (..., H) ndarray
        Weights in ``[0, 1]`` with :math:`\sum_h\alpha_h\varepsilon_h = \min\{A, \sum_h\varepsilon_h\}`
        (Lemma K.4 ICLR / I.4 arXiv).  A token with :math:`\varepsilon_h = 0` gets weight 1 if the budget
        is not yet exhausted (:math:`\sum_{j<h}\varepsilon_j < A`), else 0.

    Examples
    --------
    >>> truncated_token_weights([0.5, 1.0, 1.0, 0.2], A=1.0)
    array([1. , 0.5, 0. , 0. ])
    """
    eps = as_float_array(token_kls, "token_kls", min_ndim=1, allow_nan=False, allow_neginf=False)
    if (eps < 0).any():
        raise ValueError("`token_kls` must be non-negative.")
    A = check_real(A, "A", low=0.0, low_open=True)
    before = np.cumsum(eps, axis=-1) - eps                            # sum_{j<h} eps_j
    room = A - before
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(eps > 0, room / eps, np.where(room > 0, 1.0, 0.0))
    # sums computed as cumulative sums can overshoot A by rounding; keep alpha in [0, 1]
    return np.clip(frac, 0.0, 1.0)


def truncated_weights(A):
    r"""The ``token_weights`` callable of :func:`~simulations.learners.training.train_one_pass`.

    The truncated weights :math:`\alpha_h` of Theorem G.2 (ICLR) / 6.2 (arXiv).

    Parameters
    ----------
    A : float
        Budget :math:`A = \log N > 0`.

    Returns
    -------
    callable
        ``weights(eps) -> alpha``: :func:`truncated_token_weights` with budget ``A``.

    Examples
    --------
    >>> w = truncated_weights(2.0)
    >>> w(np.array([[[1.0, 1.0, 1.0]]]))
    array([[[1., 1., 0.]]])
    """
    A = check_real(A, "A", low=0.0, low_open=True)
    return lambda eps: truncated_token_weights(eps, A)


def train_distillation(model, teacher, optimizer, *, N, T, rng, **kwargs):
    r"""Truncated token-weighted one-pass SGD (Theorem G.2 ICLR / 6.2 arXiv) with :math:`A = \log N`.

    A thin wrapper of :func:`~simulations.learners.training.train_one_pass` with
    ``token_weights=truncated_weights(log N)`` (sequence level, token stream); ``teacher``
    is :math:`\pi_D`, whose next-token law gives the :math:`\varepsilon_h`.  Other keyword
    arguments are passed through.

    Parameters
    ----------
    model : AutoregressiveLinearModel
        Student: tabular features and the initialisation (see ``train_one_pass``).
    teacher : MarkovModel or AutoregressiveLinearModel
        :math:`\pi_D`, whose next-token probabilities are available.
    optimizer : Optimizer
        E.g. ``chain(sgd(eta), project_l2_ball(1.0))``.
    N : float
        Coverage threshold ``> 1``; the budget is :math:`A = \log N`.
    T : int
        Number of steps.
    rng : numpy.random.Generator
        Source of randomness.
    **kwargs
        Passed to :func:`~simulations.learners.training.train_one_pass` (``level`` must stay
        ``"sequence"``).

    Returns
    -------
    TrainResult
        As returned by :func:`~simulations.learners.training.train_one_pass`.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.instances import lemma_k7
    >>> from simulations.learners.optimizers import chain, sgd, project_l2_ball
    >>> inst = lemma_k7(16, B=64.0, B_bar=4.0, mu_plus=0.5)
    >>> res = train_distillation(inst.model_class, inst.data, chain(sgd(0.01), project_l2_ball(1.0)),
    ...                          N=8.0, T=50, rng=np.random.default_rng(0), replicates=2)
    >>> res.final_theta.shape
    (2, 2)
    """
    N = check_real(N, "N", low=1.0, low_open=True)
    if kwargs.get("level", "sequence") != "sequence":
        raise ValueError("distillation is a sequence-level method (`level` must be 'sequence').")
    return train_one_pass(model, teacher, optimizer, T=T, rng=rng,
                          token_weights=truncated_weights(np.log(N)), **kwargs)
