r"""Per-token pieces of the log-ratio of a data/model pair: checks, token KLs and Hellinger, the Markov KL.

For autoregressive models the log density ratio is a sum over positions,
:math:`Z = \log\pi_D(y|x)/\hat\pi(y|x) = \sum_h \delta_h`, and its mean (the KL, Remark
E.1 ICLR / 2.1 arXiv) is the sum of the expected per-token KLs
:math:`\varepsilon_h = D_{KL}(\pi_D(\cdot|x,y_{<h})\,\|\,\hat\pi(\cdot|x,y_{<h}))` (chain
rule).  This module holds those per-token quantities:

* along given paths, for any model pair (:func:`path_token_kls`,
  :func:`path_token_hellinger`);
* in expectation under :math:`\pi_D` for Markov (tabular) pairs, exact at any ``H``
  through the forward law of the context (:func:`markov_token_kl_profile`,
  :func:`markov_kl`);

and the input checks every law of :mod:`theory.log_ratio` starts with
(:func:`check_model_pair`, :func:`markov_pair`).  It is the bottom of the package: every
other module imports it and it imports none of them (the certified laws need
:func:`markov_kl` for their exact mean, the exact laws need :func:`path_token_kls`).
"""

from __future__ import annotations

import numpy as np

from ..divergences import categorical_kl_kernel, categorical_squared_hellinger
from ..models import AutoregressiveLinearModel, MarkovModel
from ..squaring import use_squaring
from .parameters import DOCS

__all__ = [
    "path_token_kls",
    "path_token_hellinger",
    "markov_token_kl_profile",
    "markov_kl",
]


def check_model_pair(data, model):
    """Refuse a ``data``/``model`` pair the laws cannot compare (``TypeError``/``ValueError`` naming it).

    ``data`` must be a single distribution; both must share prompts, vocabulary, horizon and
    prompt distribution (``model`` may be a batch).
    """
    kinds = (MarkovModel, AutoregressiveLinearModel)
    if not isinstance(data, kinds):
        raise TypeError("`data` must be a MarkovModel or AutoregressiveLinearModel.")
    if not isinstance(model, kinds):
        raise TypeError("`model` must be a MarkovModel or AutoregressiveLinearModel.")
    if data.batch_shape:
        raise ValueError("`data` must be a single distribution, not a batch.")
    if (data.n_prompts, data.vocab_size, data.horizon) != (model.n_prompts, model.vocab_size, model.horizon):
        raise ValueError("`data` and `model` must share prompts, vocabulary and horizon; got "
                         f"{(data.n_prompts, data.vocab_size, data.horizon)} and "
                         f"{(model.n_prompts, model.vocab_size, model.horizon)}.")
    if not np.allclose(data.prompt_weights, model.prompt_weights):
        raise ValueError("`data` and `model` must have the same prompt distribution.")


def as_markov(m):
    """``m`` as a :class:`~theory.models.MarkovModel` (tabular linear models are converted)."""
    return m.as_markov() if isinstance(m, AutoregressiveLinearModel) else m


def markov_pair(data, model):
    """:func:`check_model_pair`, then both models as :class:`~theory.models.MarkovModel`."""
    check_model_pair(data, model)
    return as_markov(data), as_markov(model)


def _along_paths(kernel, data, model, x, y):
    """``kernel`` of the two pair-checked next-token laws along the paths ``(x, y)``, ``(..., H)``."""
    check_model_pair(data, model)
    return kernel(data.next_token_log_probs(x, y), model.next_token_log_probs(x, y))


def _markov_token_kl_table(data, model):
    """The pair-checked data as a Markov model and its token-KL table ``([P,] X, Hd, V+1)`` to ``model``."""
    d, m = markov_pair(data, model)
    return d, categorical_kl_kernel(d.log_probs, m.log_probs)


@DOCS
def path_token_kls(data, model, x, y):
    r"""Per-position KLs :math:`\varepsilon_h = D_{KL}(\pi_D(\cdot|x,y_{<h})\|\hat\pi(\cdot|x,y_{<h}))` along paths.

    The ingredient of the stopped KL (Prop. F.10 ICLR / D.10 arXiv) and of the truncated
    distillation weights (Theorem G.2 ICLR / 6.2 arXiv).

    Parameters
    ----------
    %(data)s
    %(model)s
    %(paths)s

    Returns
    -------
    ndarray
        Shape ``model.batch_shape + x.shape + (H,)``, in nats.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.models import categorical_model
    >>> path_token_kls(categorical_model([0.5, 0.5]), categorical_model([0.5, 0.5]), [0], [[1]])
    array([[0.]])
    """
    return _along_paths(categorical_kl_kernel, data, model, x, y)


@DOCS
def path_token_hellinger(data, model, x, y):
    r"""Per-position :math:`D_H^2(\pi_D(\cdot|x,y_{<h}),\hat\pi(\cdot|x,y_{<h}))` along paths (one-half convention).

    The sums over positions are the statistic of Prop. F.11 (ICLR) / D.11 (arXiv)
    (:func:`theory.bounds.hellinger_partial_converse`).

    Parameters
    ----------
    %(data)s
    %(model)s
    %(paths)s

    Returns
    -------
    ndarray
        Shape ``model.batch_shape + x.shape + (H,)``, values in ``[0, 1]``.

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> path_token_hellinger(categorical_model([1.0, 0.0]), categorical_model([0.0, 1.0]), [0], [[0]])
    array([[1.]])
    """
    return _along_paths(categorical_squared_hellinger, data, model, x, y)


@DOCS
def markov_token_kl_profile(data, model):
    r"""Expected per-position KL :math:`\mathbb E_{\pi_D}[\varepsilon_h]` for Markov models, ``[P,] (H,)``.

    Exact at any ``H`` through the forward law of the context ``(x, y_{h-1})``; the sum
    over positions is the sequence-level KL (chain rule, :func:`markov_kl`, which needs no
    per-position array).  The result holds ``H`` numbers per model: horizons whose profile
    exceeds the byte budget are refused.  The :math:`\varepsilon_h` are the
    per-token KLs of Prop. F.10 (ICLR) / D.10 (arXiv).

    Parameters
    ----------
    %(data)s
    %(model_tabular)s

    Returns
    -------
    ndarray
        Shape ``model.batch_shape + (H,)``, in nats.

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> markov_token_kl_profile(categorical_model([0.5, 0.5]), categorical_model([0.5, 0.5]))
    array([0.])
    """
    d, g = _markov_token_kl_table(data, model)
    return d.expected_token_sum(g)


@DOCS
def markov_kl(data, model):
    r"""Sequence-level :math:`D_{KL}(\pi_D\|\hat\pi)` for Markov models, exact at any ``H``; ``[P]``.

    The KL of Prop. 3.1 and Prop. F.1 (ICLR) / D.1 (arXiv), by the chain rule over positions:
    :math:`\sum_h \mathbb E_{\pi_D}[\varepsilon_h]` (:func:`markov_token_kl_profile`).  When
    both tables are time-homogeneous the sum is ``(visits * token_kl).sum()`` with the
    expected context visits of :meth:`~theory.models.MarkovModel.state_visits`, computed by
    repeated squaring for long horizons: :math:`O(XV^3\log H)` time and :math:`O(XV^2)`
    memory, so ``H = 10**12`` takes milliseconds.  Otherwise the cost is
    :math:`O(HXV^2)` time and the per-position profile's :math:`O(HXV)` memory (refused above
    the byte budget, see :func:`theory.allocation_budget`).

    Parameters
    ----------
    %(data)s
    %(model_tabular)s

    Returns
    -------
    ndarray
        Shape ``model.batch_shape``, in nats.

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> round(float(markov_kl(categorical_model([0.5, 0.5]), categorical_model([0.9, 0.1]))), 6)
    0.510826
    """
    d, g = _markov_token_kl_table(data, model)
    if g.shape[-2] == 1 and use_squaring(d.horizon, d.vocab_size + 1, d.log_probs.shape[-3] == 1):
        visits = d.state_visits()                                    # (X, V+1)
        with np.errstate(invalid="ignore"):
            terms = np.where(visits > 0, visits * g[..., 0, :], 0.0)
        return terms.sum(axis=(-1, -2))
    return d.expected_token_sum(g).sum(axis=-1)
