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

**i.i.d. tokens** (features that depend on the prompt and the current token only): every
token of a prompt ``x`` has the same KL :math:`\varepsilon_x`, so the weights are
:math:`\alpha_h = 1` for :math:`h \le m = \lfloor A/\varepsilon_x\rfloor`, the fraction
:math:`f = A/\varepsilon_x - m` at :math:`h = m + 1` and 0 after (capped at ``H``).  The
truncated score then needs only the token counts of the first ``m`` tokens and the token at
``m + 1``.  :func:`train_distillation` with ``method="counts"`` draws them from the
sequence's total counts (the ``"counts"`` stream of vanilla SGD, so both read the same
sequences): the tokens are exchangeable given their counts, so the prefix counts are
multivariate hypergeometric and the next token is drawn from what remains.  A step costs
``O(V)`` per sequence instead of ``O(H)``.
"""

from __future__ import annotations

import numpy as np

from theory.deprecation import reordered
from theory.validation import as_float_array, check_real, check_rng

from ._order import model_data_order
from .optimizers import apply_updates
from .training import (DataStream, ScoreEngine, chunk_size, Recorder, schedule,
                       check_train_arguments, train_one_pass)

__all__ = ["truncated_token_weights", "truncated_weights", "train_distillation", "iid_truncation",
           "prefix_counts"]


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


def iid_truncation(token_kl, horizon, A):
    r"""Truncation of a sequence whose tokens all have the KL ``token_kl``: ``(m, f)``.

    The weights of Eq. (25) arXiv (Theorem G.2 ICLR / 6.2 arXiv) for i.i.d. tokens.

    The weights of :func:`truncated_token_weights` for a constant sequence
    :math:`\varepsilon_h = \varepsilon` are :math:`\alpha_h = 1` for :math:`h \le m`, ``f`` at
    :math:`h = m + 1` and 0 after.

    Parameters
    ----------
    token_kl : array_like
        Non-negative per-token KL :math:`\varepsilon` (0: no truncation).
    horizon : int
        Sequence length ``H``.
    A : float
        Budget :math:`A = \log N > 0`.

    Returns
    -------
    m : ndarray of int
        :math:`\min\{\lfloor A/\varepsilon\rfloor, H\}` full-weight tokens.
    f : ndarray
        Weight of token ``m + 1`` (0 when ``m = H``).

    Examples
    --------
    >>> iid_truncation([0.4, 0.0, 5.0], horizon=4, A=1.0)
    (array([2, 4, 0]), array([0.5, 0. , 0.2]))
    """
    eps = np.asarray(token_kl, dtype=float)
    with np.errstate(divide="ignore"):
        r = np.where(eps > 0, A / np.where(eps > 0, eps, 1.0), np.inf)
    m = np.minimum(np.floor(r), horizon)
    f = np.where(m < horizon, r - m, 0.0)
    return m.astype(np.int64), f


def prefix_counts(counts, m, rng):
    r"""Token counts of the first ``m`` tokens of exchangeable sequences with total ``counts``.

    The prefix that the truncated gradient of Theorem G.2 (ICLR) / 6.2 (arXiv) keeps.

    Multivariate hypergeometric: sequential univariate draws
    :math:`k_v \sim \mathrm{Hypergeom}(n_v, \sum_{w>v} n_w, m - \sum_{w<v} k_w)`.

    Parameters
    ----------
    counts : (..., V) array_like of int
        Total token counts of each sequence.
    m : (...) array_like of int
        Prefix lengths, ``0 <= m <= counts.sum(-1)``.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator

    Returns
    -------
    (..., V) ndarray of int

    Examples
    --------
    >>> prefix_counts([[2, 0, 3]], [5], np.random.default_rng(0))
    array([[2, 0, 3]])
    """
    rng = check_rng(rng)
    n = np.asarray(counts, dtype=np.int64)
    left = np.array(m, dtype=np.int64, copy=True)
    out = np.zeros_like(n)
    rest = n.sum(-1)
    for v in range(n.shape[-1] - 1):
        rest = rest - n[..., v]
        draw = rng.hypergeometric(n[..., v], rest, np.maximum(left, 1))
        out[..., v] = np.where(left > 0, draw, 0)
        left = left - out[..., v]
    out[..., -1] = left
    return out


@reordered(("model", "teacher"), ("teacher", "model"), is_old_order=model_data_order)
def train_distillation(teacher, model, optimizer, *, N, T, rng, method="tokens", **kwargs):
    r"""Truncated token-weighted one-pass SGD (Theorem G.2 ICLR / 6.2 arXiv) with :math:`A = \log N`.

    ``method="tokens"``: a thin wrapper of
    :func:`~simulations.learners.training.train_one_pass` with
    ``token_weights=truncated_weights(log N)`` (sequence level, token stream); ``teacher``
    is :math:`\pi_D`, whose next-token law gives the :math:`\varepsilon_h`.
    ``method="counts"`` (i.i.d. tokens only, see the module notes): the same update in law,
    at a cost independent of ``H``, reading the ``"counts"`` stream of
    :func:`~simulations.learners.training.train_one_pass` (same ``rng`` seed, ``R``, ``K``:
    the same sequences as vanilla SGD with ``stream="counts"``).  Other keyword arguments
    are passed through (``method="counts"`` accepts ``batch``, ``replicates``,
    ``log_every``, ``log_steps``, ``average_at``, ``iterate_metric``).

    The teacher comes first, as :math:`\pi_D` does in :math:`D_{KL}(\pi_D\|\hat\pi)`; the
    former order ``(model, teacher, ...)`` still works for one release where the argument
    types tell it apart (``DeprecationWarning``), and a call whose order they cannot tell
    (two unbatched linear models) is read in the new order with a ``FutureWarning`` unless
    ``model`` is passed by keyword.

    Parameters
    ----------
    teacher : MarkovModel or AutoregressiveLinearModel
        :math:`\pi_D`, whose next-token probabilities are available.
    model : AutoregressiveLinearModel
        Student: tabular features and the initialisation (see ``train_one_pass``).
    optimizer : Optimizer
        E.g. ``chain(sgd(eta), project_l2_ball(1.0))``.
    N : float
        Coverage threshold ``> 1``; the budget is :math:`A = \log N`.
    T : int
        Number of steps.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness.
    method : {"tokens", "counts"}
        Token-by-token weights, or the i.i.d.-token counts path.
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
    >>> opt = chain(sgd(0.01), project_l2_ball(1.0))
    >>> res = train_distillation(inst.data, model=inst.model_class, optimizer=opt, N=8.0, T=50,
    ...                          rng=np.random.default_rng(0), replicates=2)
    >>> res.final_theta.shape
    (2, 2)
    """
    N = check_real(N, "N", low=1.0, low_open=True)
    rng = check_rng(rng)
    if kwargs.get("level", "sequence") != "sequence":
        raise ValueError("distillation is a sequence-level method (`level` must be 'sequence').")
    if method == "counts":
        return _train_iid(model, teacher, optimizer, A=float(np.log(N)), T=T, rng=rng, **kwargs)
    if method != "tokens":
        raise ValueError(f"`method` must be 'tokens' or 'counts', got {method!r}.")
    return train_one_pass(model=model, data=teacher, optimizer=optimizer, T=T, rng=rng,
                          token_weights=truncated_weights(np.log(N)), **kwargs)


def _train_iid(model, data, optimizer, *, A, T, rng, batch=1, replicates=None, log_every=None,
               log_steps=None, average_at=None, iterate_metric=None, level="sequence"):
    theta, T, K = check_train_arguments(model, data, optimizer, T, batch, level, replicates)
    rng = check_rng(rng)
    engine = ScoreEngine(model.features, data)
    if not engine.iid:
        raise ValueError("method='counts' needs features that give i.i.d. tokens given the prompt.")
    src = DataStream(data, "counts")
    steps, avg = schedule(T, log_every, log_steps, average_at)
    R, d = theta.shape
    hz, v = engine.horizon, engine.vocab_size
    rec = Recorder(R, d, T, steps, avg, iterate_metric)
    state = optimizer.init(theta)
    rng_x, rng_y, rng_split = rng.spawn(3)          # the first two are train_one_pass's streams
    C = chunk_size(R * K * v + R * engine.n_ctx * (v + 1), T)
    for t0 in range(0, T, C):
        c = min(C, T - t0)
        x, totals = src.draw((c, R, K), (rng_x, rng_y))                # (c, R, K), (c, R, K, V)
        iters = np.empty((c, R, d))
        for i in range(c):
            iters[i] = theta
            rec.log_theta(t0 + i, theta)
            lq, q = engine.context_laws(theta)
            m, f = iid_truncation(engine.token_kls(lq, x[i]), hz, A)   # (R, K)
            k = prefix_counts(totals[i], m, rng_split)
            rest = totals[i] - k
            cum = np.cumsum(rest, axis=-1) / np.maximum(hz - m, 1)[..., None]
            nxt = (rng_split.random((R, K))[..., None] >= cum).sum(-1).clip(0, v - 1)
            w = k + f[..., None] * (np.arange(v) == nxt[..., None])
            score = engine.score_from_counts(theta, engine.prompt_counts(x[i], w), q)
            step, state = optimizer.update(-score / K, state, theta)
            theta = apply_updates(theta, step)
        rec.flush(iters, t0)
    return rec.result(theta, T, batch=K, stream="counts")
