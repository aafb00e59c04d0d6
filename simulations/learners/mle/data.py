r"""Data of the MLE experiments: replicate samples from a Markov model and their sufficient
statistics, vectorised over replicates.

Part of :mod:`simulations.learners.mle` (import from there).
"""

from __future__ import annotations

import numpy as np

from theory.validation import as_int_array, check_int, check_rng
from theory.models import AutoregressiveLinearModel, MarkovModel, TabularFeatures

__all__ = ["sample_replicates", "replicate_token_counts", "as_markov_model"]

_CHUNK = 2 ** 24


# --------------------------------------------------------------------------- data
def as_markov_model(model, name="model"):
    """Return ``model`` as a (batched) :class:`~theory.models.MarkovModel`.

    Parameters
    ----------
    model : MarkovModel or AutoregressiveLinearModel
        A Markov model (returned as is) or a tabular autoregressive linear model (converted
        by its ``as_markov()``).
    name : str
        Argument name used in error messages.

    Returns
    -------
    MarkovModel

    Raises
    ------
    TypeError
        If ``model`` is neither, or has non-tabular features (no sufficient statistics).
    """
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
    rng : {None, int, numpy.random.SeedSequence, numpy.random.Generator}
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
    rng = check_rng(rng)
    m = as_markov_model(data, "data")
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
    m = as_markov_model(model)
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
