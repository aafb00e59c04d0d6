r"""Feature maps :math:`\phi(x, y_{1:h}) \in \mathbb R^d` of autoregressive linear models.

A feature map gives, for a prompt ``x`` and a prefix ``y_{1:h-1}``, the features of every
candidate next token ``v`` (the softmax candidates of Eq. (3)):
``candidates(x, prefix, h) -> (B, V, d)``.

Two kinds are provided:

* :class:`TabularFeatures`: :math:`\phi` depends only on ``(x, h, y_{h-1}, y_h)`` (a Markov
  feature map).  The model is then a (time-inhomogeneous) Markov chain over tokens, which
  enables exact enumeration-free evaluation at any ``H`` and dynamic programming over the
  log-ratio (:mod:`theory.log_ratio`).  Position ``h = 0`` sees the begin-of-sequence
  symbol, stored as "previous token" index ``V``.
* :class:`CallableFeatures`: any vectorised callable of the full prefix.

Tokens are integers ``0..V-1``; prompts are integers ``0..n_prompts-1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..validation import as_finite_array, check_int, check_real, readonly

__all__ = ["TabularFeatures", "CallableFeatures"]


def _immutable(arr):
    """Whether no array in ``arr``'s chain of bases can be written to."""
    while isinstance(arr, np.ndarray):
        if arr.flags.writeable:
            return False
        arr = arr.base
    return True


def snapshot(validated, given):
    """``validated`` as a read-only array the caller cannot change afterwards.

    The checks return the caller's own array when it already has the right dtype; a frozen
    model must not see later in-place edits of it (its cached tables would go stale), so the
    array is copied unless nothing that shares its memory is writeable.
    """
    if isinstance(given, np.ndarray) and np.may_share_memory(validated, given):
        if _immutable(given):
            return readonly(validated)
        validated = validated.copy()
    if validated.base is None:                  # an array no caller holds: freeze it in place, so
        validated.flags.writeable = False       # that later snapshots of it need no copy
        return validated
    return readonly(validated)


@dataclass(frozen=True, eq=False)
class TabularFeatures:
    r"""Markov features :math:`\phi(x, y_{1:h}) = \Phi[x, h, y_{h-1}, y_h]`.

    Parameters
    ----------
    table : (n_prompts, H or 1, V + 1, V, d) array_like
        ``table[x, h, prev, v]`` is the feature of token ``v`` at position ``h`` (0-based)
        after token ``prev``; ``prev = V`` is the begin-of-sequence symbol (used at
        ``h = 0`` only).  A position axis of length 1 means time-homogeneous features and
        is broadcast to every position.
    horizon : int
        Sequence length ``H >= 1``.

    Attributes
    ----------
    n_prompts, horizon, vocab_size, dim : int
    bound : float
        :math:`B = \max\|\phi\|_2` over the table (Assumption 2.2).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.zeros((1, 1, 3, 2, 1)); t[..., 1, 0] = 1.0   # phi = 1{y_h = 1}
    >>> f = TabularFeatures(t, horizon=4)
    >>> f.vocab_size, f.dim, f.bound
    (2, 1, 1.0)
    """

    table: np.ndarray
    horizon: int
    bound: float = field(init=False)

    def __post_init__(self):
        t = as_finite_array(self.table, "table", ndim=5)
        n_prompts, n_pos, v1, v, d = t.shape
        if v1 != v + 1:
            raise ValueError(f"`table` must have shape (n_prompts, H, V + 1, V, d); got {t.shape} "
                             f"(axis 2 must be V + 1 = {v + 1}).")
        if v < 1 or d < 1 or n_prompts < 1:
            raise ValueError(f"`table` has an empty axis: shape {t.shape}.")
        horizon = check_int(self.horizon, "horizon", low=1)
        if n_pos not in (1, horizon):
            raise ValueError(f"`table` position axis must have length 1 or `horizon`={horizon}, got {n_pos}.")
        object.__setattr__(self, "table", snapshot(t, self.table))
        object.__setattr__(self, "horizon", horizon)
        object.__setattr__(self, "bound", float(np.sqrt((t ** 2).sum(-1)).max()))

    @property
    def n_prompts(self):
        return self.table.shape[0]

    @property
    def vocab_size(self):
        return self.table.shape[3]

    @property
    def dim(self):
        return self.table.shape[4]

    @property
    def is_markov(self):
        return True

    def position_index(self, h):
        """Index into the table's position axis for (0-based) position(s) ``h``."""
        return h if self.table.shape[1] > 1 else np.zeros_like(h)

    def candidates(self, x, prefix, h):
        """Candidate features ``(B, V, d)`` at position ``h`` after ``prefix`` ``(B, h)``."""
        prev = prefix[:, h - 1] if h > 0 else np.full(len(x), self.vocab_size)
        return self.table[x, self.position_index(h), prev]

    def path_candidates(self, x, y, start=0, stop=None):
        """Candidate features along paths at positions ``start:stop``: ``(..., Hb, V, d)``."""
        stop = self.horizon if stop is None else stop
        prev = previous_tokens(y, self.vocab_size)[..., start:stop]
        pos = self.position_index(np.arange(start, stop))
        return self.table[x[..., None], pos, prev]


def previous_tokens(y, vocab_size):
    """``y`` shifted right by one position with the begin-of-sequence index ``V`` first."""
    bos = np.full(y.shape[:-1] + (1,), vocab_size, dtype=y.dtype if y.dtype.kind in "iu" else np.int64)
    return np.concatenate([bos.astype(np.int64), y[..., :-1].astype(np.int64)], axis=-1)


@dataclass(frozen=True, eq=False)
class CallableFeatures:
    r"""General features given by a vectorised callable of the prefix.

    The feature map :math:`\phi` of an autoregressive linear model in full generality
    (features of the whole prefix); Assumption 2.2 bounds :math:`\|\phi\| \le B`.

    Parameters
    ----------
    fn : callable
        ``fn(x, prefix, h) -> (B, V, d)``: for prompts ``x`` ``(B,)`` and prefixes
        ``prefix`` ``(B, h)`` (tokens ``y_1..y_h`` in 0-based positions ``0..h-1``), the
        features :math:`\phi(x, y_{1:h}, v)` of every candidate next token ``v``.
    n_prompts, horizon, vocab_size, dim : int
        Number of prompts, sequence length ``H``, vocabulary size ``V`` and dimension ``d``.
    bound : float, optional
        A known bound :math:`B \ge \sup\|\phi\|`; ``nan`` (unknown) by default.

    Examples
    --------
    >>> import numpy as np
    >>> fn = lambda x, prefix, h: np.broadcast_to(np.eye(2)[None], (len(x), 2, 2))
    >>> f = CallableFeatures(fn, n_prompts=1, horizon=3, vocab_size=2, dim=2)
    >>> f.candidates(np.zeros(5, int), np.zeros((5, 1), int), 1).shape
    (5, 2, 2)
    """

    fn: Callable
    n_prompts: int
    horizon: int
    vocab_size: int
    dim: int
    bound: float = float("nan")

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError("`fn` must be callable as fn(x, prefix, h) -> (B, V, d).")
        for name in ("n_prompts", "horizon", "vocab_size", "dim"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, low=1))
        bound = self.bound
        if not (isinstance(bound, float) and np.isnan(bound)):  # NaN: unknown (the default)
            bound = check_real(bound, "bound", low=0.0)
        object.__setattr__(self, "bound", float(bound))

    @property
    def is_markov(self):
        return False

    def candidates(self, x, prefix, h):
        out = np.asarray(self.fn(x, prefix, h), dtype=float)
        expected = (len(x), self.vocab_size, self.dim)
        if out.shape != expected:
            raise ValueError(f"feature callable `fn` returned shape {out.shape}, expected {expected}.")
        return out

    def path_candidates(self, x, y):
        lead = y.shape[:-1]
        xf = np.broadcast_to(x, lead).reshape(-1)
        yf = y.reshape(-1, self.horizon)
        out = np.stack([self.candidates(xf, yf[:, :h], h) for h in range(self.horizon)], axis=1)
        return out.reshape(lead + out.shape[1:])
