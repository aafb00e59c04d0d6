r"""A minibatch of ``K`` i.i.d.-token sequences drawn as its per-prompt token counts.

For data whose tokens are i.i.d. given the prompt (:math:`\pi_D(y_h|x, y_{<h}) = p_x(y_h)`),
the minibatch score of Eq. (10) ICLR / (17) arXiv,
:math:`\hat g = \frac1K\sum_k\nabla\log\pi_\theta(y^k|x^k)`, depends on the minibatch only
through the token counts pooled per prompt, :math:`N[x, v] = \sum_{k: x^k = x}\#\{h: y^k_h = v\}`.
Their law is exactly

.. math:: (n_x)_x \sim \mathrm{Multinomial}(K, \mu), \qquad
          N[x, \cdot] \mid n \sim \mathrm{Multinomial}(n_x H, p_x)\ \text{independently},

(a sum of independent multinomials with a common ``p_x`` is multinomial), so a step costs
``X`` multinomial draws whatever ``K`` and ``H``.  :class:`PooledCountsStream` hands these
to :func:`~simulations.learners.training.train_one_pass` as a ``"counts"`` stream: each
minibatch comes as ``X`` slots, slot ``x`` carrying prompt ``x``'s pooled counts (the loop
sums the slots' counts per prompt and divides the score by ``K``).  Use it only with plain
sequence-level steps (no per-sequence token weights).

**Token classes.**  When several tokens of a prompt have the same feature vector, both
:math:`\pi_D` and every :math:`\pi_\theta` are uniform within such a class, so the log density
ratio, the KL divergence, coverage and the score depend on a sequence only through its
*class* counts, whose law is multinomial over the class probabilities
:math:`m_{x,c}e^{\theta\cdot\Phi[x,c]}/\sum_{c'}m_{x,c'}e^{\theta\cdot\Phi[x,c']}`
(``m`` the class sizes).  :class:`TokenClasses` lumps a model that way and
:func:`train_lumped` runs one-pass (minibatch) training on the class counts: the same
updates as :func:`~simulations.learners.training.train_one_pass` on the full vocabulary, at a
cost per step independent of the vocabulary size (tested step for step against it).
"""

from __future__ import annotations

import numpy as np

from scipy.special import log_softmax

from theory.iid_tokens import iid_token_tables
from theory.validation import check_int, check_rng
from theory.models import AutoregressiveLinearModel, MarkovModel

from .optimizers import Optimizer, apply_updates
from .training import DataStream, Recorder, schedule

__all__ = ["PooledCountsStream", "TokenClasses", "train_lumped"]


class PooledCountsStream:
    r"""Per-prompt pooled token counts of minibatches of ``batch`` i.i.d.-token sequences.

    The law of the sufficient statistic of a minibatch of fresh samples from :math:`\pi_D`
    (one-pass training of Prop. 5.1, Theorem 5.1 with minibatch ``K``).

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel
        Unbatched :math:`\pi_D` with i.i.d. tokens given the prompt.
    batch : int
        Minibatch size ``K >= X`` (the number of prompts); pass the same ``batch`` to
        :func:`~simulations.learners.training.train_one_pass`.

    Attributes
    ----------
    kind : str
        ``"counts"``.

    Examples
    --------
    >>> from theory.instances import lemma_k7
    >>> s = PooledCountsStream(lemma_k7(64, 24.0, 24.0, mu_plus=0.5).data, batch=256)
    >>> x, counts = s.draw((3, 2, 256), np.random.default_rng(0).spawn(2))
    >>> x.shape, counts.shape, int(counts.sum(axis=(-2, -1))[0, 0])       # 256 sequences x 64 tokens
    ((3, 2, 2), (3, 2, 2, 3), 16384)
    """

    kind = "counts"

    def __init__(self, data, batch):
        if not isinstance(data, (AutoregressiveLinearModel, MarkovModel)):
            raise TypeError("`data` must be an AutoregressiveLinearModel or MarkovModel.")
        inner = DataStream(data, "auto")
        if not inner.iid:
            raise ValueError("`data` must have i.i.d. tokens given the prompt.")
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < inner.n_prompts:
            raise ValueError(f"`batch` must be an integer >= the number of prompts ({inner.n_prompts}), "
                             f"got {batch!r}.")
        self.batch = int(batch)
        self.horizon = inner.horizon
        self.n_prompts = inner.n_prompts
        self.vocab_size = inner.vocab_size
        self.prompt_weights = inner.prompt_weights
        self._probs = inner._probs_iid                                   # (X, V)

    def draw(self, shape, rngs):
        """``x`` ``(..., X)`` and counts ``(..., X, V)`` of pooled minibatches (``shape = (..., K)``).

        ``rngs = (rng_prompts, rng_tokens)`` as for :class:`~simulations.learners.training.DataStream`.
        """
        *lead, k = shape
        if k != self.batch:
            raise ValueError(f"the stream was built for batch {self.batch}, asked for {k}.")
        rng_x, rng_y = rngs
        X, V = self._probs.shape
        n = rng_x.multinomial(self.batch, self.prompt_weights, size=tuple(lead))      # (..., X)
        pooled = rng_y.multinomial(n * self.horizon, self._probs)                      # (..., X, V)
        x = np.broadcast_to(np.arange(X), tuple(lead) + (X,))
        return x, pooled


class TokenClasses:
    r"""An i.i.d.-token autoregressive linear model (Eq. (3)) lumped into classes of identical features.

    Exact for every quantity of Prop. 5.1 / Theorem 5.1 (Eq. (11) ICLR / (19) arXiv): coverage,
    KL, :math:`\sigma_\star^2` and the minibatch score depend on class counts only.

    Parameters
    ----------
    model : AutoregressiveLinearModel
        Unbatched, with features :math:`\phi(x, y_{1:h}) = \Phi[x, y_h]` (tokens i.i.d. given the
        prompt).  Its ``theta`` is the parameter of :meth:`data_log_probs`.

    Attributes
    ----------
    table : (X, C, d) ndarray
        One feature row per class (prompts with fewer classes are padded with empty classes).
    log_mult : (X, C) ndarray
        Log class sizes (``-inf`` for padding).
    horizon : int
    prompt_weights : (X,) ndarray
    tokens : list of lists of int
        The tokens of each class, per prompt.

    Examples
    --------
    >>> from theory.instances import rare_event_instance
    >>> tc = TokenClasses(rare_event_instance(64).data)
    >>> tc.table[0, :, 0].tolist(), np.exp(tc.log_mult).round().tolist()
    ([1.0, -1.0], [[1.0, 35.0]])
    """

    def __init__(self, model):
        if not isinstance(model, AutoregressiveLinearModel) or model.theta.ndim != 1:
            raise TypeError("`model` must be an unbatched AutoregressiveLinearModel.")
        table = iid_token_tables(model)                                   # (X, V, d)
        X, V, d = table.shape
        groups = []
        for x in range(X):   # classes in the order of their first token
            _, first, inverse = np.unique(table[x], axis=0, return_index=True, return_inverse=True)
            groups.append([np.flatnonzero(inverse.ravel() == k).tolist() for k in np.argsort(first)])
        C = max(len(g) for g in groups)
        self.table = np.zeros((X, C, d))
        self.log_mult = np.full((X, C), -np.inf)
        for x, g in enumerate(groups):
            for c, toks in enumerate(g):
                self.table[x, c] = table[x, toks[0]]
                self.log_mult[x, c] = np.log(len(toks))
        self.tokens = groups
        self.horizon = int(model.horizon)
        self.prompt_weights = np.asarray(model.prompt_weights, float)
        self.theta = np.asarray(model.theta, float)

    def log_probs(self, theta):
        r"""Class log-probabilities ``(..., X, C)`` of :math:`\pi_\theta` (``theta`` ``(..., d)``)."""
        logits = np.einsum("xcd,...d->...xc", self.table, np.asarray(theta, float)) + self.log_mult
        return log_softmax(logits, axis=-1)

    def data_log_probs(self):
        """Class log-probabilities ``(X, C)`` of the lumped model itself (:math:`\\pi_D`)."""
        return self.log_probs(self.theta)


def train_lumped(data, theta_init, optimizer, *, T, rng, batch=1, replicates=1, average_at=None,
                 iterate_metric=None, log_steps=None):
    r"""One-pass sequence-level training on class counts (:class:`TokenClasses`).

    Each step draws, per replicate, ``batch`` fresh sequences from :math:`\pi_D` as their
    pooled class counts (:math:`n \sim \mathrm{Mult}(K, \mu)`, class counts
    :math:`\sim \mathrm{Mult}(n_xH, p_x)`, exact in law), forms the minibatch mean score
    :math:`\hat g = \frac1K\big(\sum_{x,c}N_{x,c}\Phi[x,c] - \sum_x n_xH\,\bar\phi_\theta(x)\big)`
    and applies ``optimizer`` to :math:`-\hat g` (Eq. (8) ICLR / (14) arXiv; Eq. (10) ICLR /
    (17) arXiv with a normalising optimizer), as
    :func:`~simulations.learners.training.train_one_pass` does on the full vocabulary.

    Parameters
    ----------
    data : TokenClasses
        :math:`\pi_D`, lumped.
    theta_init : (d,) or (R, d) array_like
        Initialisation.
    optimizer : Optimizer
    T : int
        Steps.
    rng : seed or Generator
        Prompts and class counts come from two spawned children.
    batch : int
        ``K`` sequences per step.
    replicates : int
        ``R`` when ``theta_init`` is ``(d,)``.
    average_at : array_like of int, optional
        Horizons of the running means of ``iterate_metric`` (default ``(T,)``).
    iterate_metric : callable, optional
        ``metric(thetas (C, R, d)) -> (C, R[, m])`` on every iterate :math:`\theta_0..\theta_{T-1}`.
    log_steps : array_like of int, optional
        Iterates to log (default ``0`` and ``T``).

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> from theory.instances import rare_event_instance
    >>> from simulations.learners.optimizers import chain, normalized_sgd, project_box
    >>> inst = rare_event_instance(64)
    >>> res = train_lumped(TokenClasses(inst.data), inst.model_class.theta,
    ...                    chain(normalized_sgd(1 / 128, 32.0), project_box()), T=500, rng=0, batch=1024, replicates=2)
    >>> res.final_theta.round(2).ravel().tolist()         # from theta_0 = 0.99 towards theta* = -0.99
    [0.15, 0.15]
    """
    if not isinstance(data, TokenClasses):
        raise TypeError("`data` must be a TokenClasses.")
    if not isinstance(optimizer, Optimizer):
        raise TypeError("`optimizer` must be an Optimizer.")
    T = check_int(T, "T", low=1)
    K = check_int(batch, "batch", low=1)
    theta = np.asarray(theta_init, float)
    if theta.ndim == 1:
        theta = np.broadcast_to(theta, (check_int(replicates, "replicates", low=1), theta.size)).copy()
    if theta.ndim != 2 or theta.shape[1] != data.table.shape[2]:
        raise ValueError(f"`theta_init` must have shape (d,) or (R, d) with d = {data.table.shape[2]}.")
    rng_x, rng_y = check_rng(rng).spawn(2)
    steps, avg = schedule(T, None, log_steps, average_at)
    R, d = theta.shape
    rec = Recorder(R, d, T, steps, avg, iterate_metric)
    state = optimizer.init(theta)
    p = np.exp(data.data_log_probs())                                     # (X, C)
    X, Cn = p.shape
    H = data.horizon
    flat = data.table.reshape(X * Cn, d)
    flat_t = np.ascontiguousarray(flat.T)
    lm = data.log_mult.reshape(-1)                                        # exp(-inf) = 0: padding
    chunk = int(max(1, min(T, (1 << 20) // max(1, R * X * Cn))))
    for t0 in range(0, T, chunk):
        c = min(chunk, T - t0)
        n = rng_x.multinomial(K, data.prompt_weights, size=(c, R))        # (c, R, X)
        counts = rng_y.multinomial(n * H, p)                              # (c, R, X, C)
        chosen = counts.reshape(c, R, X * Cn) @ flat                      # (c, R, d)
        nh = (n * H).astype(float)
        iters = np.empty((c, R, d))
        for i in range(c):
            iters[i] = theta
            rec.log_theta(t0 + i, theta)
            z = (theta @ flat_t + lm).reshape(R, X, Cn)
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            w = (e * (nh[i] / e.sum(axis=-1))[..., None]).reshape(R, X * Cn)   # n_x H q_{x,c}
            score = chosen[i] - w @ flat
            step, state = optimizer.update(-score / K, state, theta)
            theta = apply_updates(theta, step)
        rec.flush(iters, t0)
    return rec.result(theta, T, batch=K, stream="class-counts")
