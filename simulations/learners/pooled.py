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
"""

from __future__ import annotations

import numpy as np

from theory.models import AutoregressiveLinearModel, MarkovModel

from .training import DataStream

__all__ = ["PooledCountsStream"]


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
