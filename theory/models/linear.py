r"""Autoregressive linear models (Eq. (3) of arXiv 2510.15020).

.. math::

    \pi_\theta(y_h \mid x, y_{1:h-1}) =
        \frac{\exp\langle\theta, \phi(x, y_{1:h-1}, y_h)\rangle}
             {\sum_{v\in V}\exp\langle\theta, \phi(x, y_{1:h-1}, v)\rangle},
    \qquad \pi_\theta(y|x) = \prod_{h=1}^H \pi_\theta(y_h|x, y_{<h}).

Facts used in the proofs (Section 2.4 of the reference notes) and implemented here:

* score: :math:`\nabla_\theta\log\pi_\theta(y|x) = \sum_h [\phi(x,y_{1:h}) -
  \bar\phi_\theta(x,y_{<h})]` with :math:`\bar\phi_\theta = \mathbb E_{y_h\sim\pi_\theta}\phi`;
* Hessian: :math:`\nabla^2_\theta\log\pi_\theta(y|x) = -\sum_h
  \mathrm{Cov}_{y_h\sim\pi_\theta(\cdot|x,y_{<h})}[\phi]`, negative semidefinite with
  :math:`\|\nabla^2\| \le HB^2`;
* inherent variance (Eq. (6) ICLR / (8) arXiv):
  :math:`\sigma_\star^2 = \mathbb E_{\pi_D}\sum_h\|\phi - \bar\phi_{\pi_D}\|^2`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.special import log_softmax, logsumexp

from ..validation import (as_finite_array, as_int_array, check_allocation, check_int, check_rng,
                           check_weights)
from .features import CallableFeatures, TabularFeatures, snapshot
from .markov import (MAX_ENUMERATION, MarkovModel, check_enumeration_bytes, fixed_prompts,
                     rows_text, support_bytes, support_size,
                     enumerate_sequences)

__all__ = ["AutoregressiveLinearModel"]

_CHUNK_FLOATS = 2 ** 23


@dataclass(frozen=True, eq=False)
class AutoregressiveLinearModel:
    r"""Softmax-linear autoregressive model :math:`\pi_\theta` with a prompt distribution.

    The autoregressive linear model :math:`\pi_\theta(y_h|x,y_{<h}) \propto
    \exp\langle\theta,\phi(x,y_{1:h})\rangle` of Theorem 4.2, Prop. 5.1 and Theorems 5.1
    and 6.1 (Eq. (3) in the reference notes, which do not record whether the ICLR and arXiv
    numbers differ), under Assumption 2.2; :meth:`sigma_star_sq` is the inherent variance of Eq. (6) ICLR /
    (8) arXiv.

    Parameters
    ----------
    features : TabularFeatures or CallableFeatures
        The feature map :math:`\phi`.
    theta : (d,) or (P, d) array_like
        Parameters; a leading axis evaluates ``P`` models together (replicates,
        checkpoints, a finite class).
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution :math:`\mu` (uniform by default).

    Notes
    -----
    With tabular features every probability computation goes through the equivalent
    :class:`~theory.models.MarkovModel` (:meth:`as_markov`), whose softmax is evaluated
    once per ``(x, h, prev)`` context.  With callable features, probabilities along given
    paths are computed path by path (vectorised over sequences, one call of the feature
    map per position) and enumeration expands prefixes level by level.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.models import TabularFeatures, AutoregressiveLinearModel
    >>> t = np.zeros((1, 1, 3, 2, 1)); t[..., 1, 0] = 1.0       # phi = 1{y_h = 1}
    >>> m = AutoregressiveLinearModel(TabularFeatures(t, horizon=3), theta=[np.log(3.0)])
    >>> float(np.exp(m.log_prob([0], [[1, 1, 1]]))[0]).__round__(6)    # (3/4)**3
    0.421875
    """

    features: object
    theta: np.ndarray
    prompt_weights: np.ndarray | None = None
    batch_shape: tuple = field(init=False)

    def __post_init__(self):
        if not isinstance(self.features, (TabularFeatures, CallableFeatures)):
            raise TypeError("`features` must be a TabularFeatures or CallableFeatures instance.")
        theta = as_finite_array(self.theta, "theta")
        if theta.ndim not in (1, 2) or theta.shape[-1] != self.features.dim:
            raise ValueError(f"`theta` must have shape (d,) or (P, d) with d = {self.features.dim}, "
                             f"got {theta.shape}.")
        n = self.features.n_prompts
        mu = (np.full(n, 1.0 / n) if self.prompt_weights is None
              else check_weights(self.prompt_weights, "prompt_weights", (n,)))
        object.__setattr__(self, "theta", snapshot(theta, self.theta))
        object.__setattr__(self, "prompt_weights", snapshot(mu, self.prompt_weights))
        object.__setattr__(self, "batch_shape", theta.shape[:-1])

    # ------------------------------------------------------------------ basics
    @property
    def n_prompts(self):
        return self.features.n_prompts

    @property
    def horizon(self):
        return self.features.horizon

    @property
    def vocab_size(self):
        return self.features.vocab_size

    @property
    def dim(self):
        return self.features.dim

    @property
    def n_models(self):
        return self.theta.shape[0] if self.batch_shape else 1

    @property
    def _theta2(self):
        return self.theta.reshape(self.n_models, self.dim)

    def replace(self, **changes):
        """A copy with some fields replaced (e.g. ``model.replace(theta=new_theta)``)."""
        return dataclasses.replace(self, **changes)

    def __getitem__(self, index):
        """The ``index``-th model of a batch (unbatched)."""
        if not self.batch_shape:
            raise TypeError("an unbatched model cannot be indexed.")
        return self.replace(theta=self.theta[index])

    # -------------------------------------------------------------- Markov path
    @cached_property
    def _markov(self):
        if not isinstance(self.features, TabularFeatures):
            raise TypeError("as_markov() needs TabularFeatures; this model has general features.")
        logits = np.einsum("xhpvd,md->mxhpv", self.features.table, self._theta2)
        table = log_softmax(logits, axis=-1).reshape(self.batch_shape + logits.shape[1:])
        return MarkovModel(table, self.horizon, self.prompt_weights)

    def as_markov(self):
        """The equivalent :class:`~theory.models.MarkovModel` (tabular features only)."""
        return self._markov

    # ------------------------------------------------------------- validation
    def _sequences_iv(self, x, y, paired):
        x = as_int_array(x, "x", low=0, high=self.n_prompts)
        y = as_int_array(y, "y", low=0, high=self.vocab_size)
        if y.shape != x.shape + (self.horizon,):
            raise ValueError(f"`y` must have shape x.shape + (H,) = {x.shape + (self.horizon,)}, "
                             f"got {y.shape}.")
        if paired and (not self.batch_shape or x.ndim < 1 or x.shape[0] != self.n_models):
            raise ValueError(f"with paired=True the leading axis of `x` must index the "
                             f"{self.n_models} models of the batch; got x.shape={x.shape}.")
        return x, y

    def _path_blocks(self, x, y, paired):
        """Yield ``(feats, logits, tokens)`` over blocks of consecutive positions.

        ``feats`` is ``(..., Hb, V, d)``, ``logits`` ``(P?, ..., Hb, V)`` (no model axis when
        paired or unbatched), ``tokens`` ``(..., Hb)``.  Tabular features are gathered for
        many positions at once (blocks sized to bound memory); callable features are
        evaluated one position at a time, as the feature map is called per position.
        """
        if isinstance(self.features, TabularFeatures):
            models = 1 if paired else self.n_models
            per_pos = max(1, y.size // self.horizon) * self.vocab_size * (self.dim + models)
            block = max(1, min(self.horizon, _CHUNK_FLOATS // per_pos))
            for h0 in range(0, self.horizon, block):
                feats = self.features.path_candidates(x, y, h0, h0 + block)
                yield feats, self._logits(feats, paired), y[..., h0:h0 + block]
        else:
            lead = y.shape[:-1]
            xf = np.broadcast_to(x, lead).reshape(-1)
            yf = y.reshape(-1, self.horizon)
            for h in range(self.horizon):
                feats = self.features.candidates(xf, yf[:, :h], h).reshape(lead + (1, self.vocab_size, self.dim))
                yield feats, self._logits(feats, paired), y[..., h:h + 1]

    def _logits(self, feats, paired):
        if paired:
            return np.einsum("r...vd,rd->r...v", feats, self._theta2)
        logits = np.einsum("...vd,md->m...v", feats, self._theta2)
        return logits if self.batch_shape else logits[0]

    # ------------------------------------------------------------- evaluation
    def next_token_log_probs(self, x, y, *, paired=False):
        """Next-token log-distributions along paths: ``(..., H, V)`` (see MarkovModel)."""
        x, y = self._sequences_iv(x, y, paired)
        if isinstance(self.features, TabularFeatures):
            return self._markov.next_token_log_probs(x, y, paired=paired)
        return np.concatenate([log_softmax(lg, axis=-1) for _, lg, _ in self._path_blocks(x, y, paired)],
                              axis=-2)

    def token_log_probs(self, x, y, *, paired=False):
        r"""Per-token :math:`\log\pi_\theta(y_h|x,y_{<h})`: ``batch_shape + x.shape + (H,)``."""
        x, y = self._sequences_iv(x, y, paired)
        if isinstance(self.features, TabularFeatures):
            return self._markov.token_log_probs(x, y, paired=paired)
        out = []
        for _, lg, tok in self._path_blocks(x, y, paired):
            lp = log_softmax(lg, axis=-1)
            idx = np.broadcast_to(tok[..., None].astype(np.int64), lp.shape[:-1] + (1,))
            out.append(np.take_along_axis(lp, idx, axis=-1)[..., 0])
        return np.concatenate(out, axis=-1)

    def log_prob(self, x, y, *, paired=False):
        r"""Sequence log-probabilities :math:`\log\pi_\theta(y|x)`.

        Parameters
        ----------
        x : (...) array_like of int
        y : (..., H) array_like of int
        paired : bool
            ``False``: every model on every sequence, result ``batch_shape + x.shape``.
            ``True``: model ``i`` on ``x[i]``, result ``x.shape``.
        """
        x, y = self._sequences_iv(x, y, paired)
        if isinstance(self.features, TabularFeatures):
            return self._markov.log_prob(x, y, paired=paired)
        return self.token_log_probs(x, y, paired=paired).sum(axis=-1)

    def log_likelihood(self, x, y):
        r"""Data-set log-likelihood :math:`\sum_i\log\pi_\theta(y_i|x_i)` for every model: ``batch_shape``."""
        x, y = self._sequences_iv(x, y, False)
        if isinstance(self.features, TabularFeatures):
            return self._markov.log_likelihood(x, y)
        return self.log_prob(x, y).reshape(self.batch_shape + (-1,)).sum(axis=-1)

    # --------------------------------------------------------------- gradients
    def grad_log_prob(self, x, y, *, paired=False, level="sequence"):
        r"""Score :math:`\nabla_\theta\log\pi_\theta(y|x)`.

        .. math::

            \nabla_\theta\log\pi_\theta(y_h|x,y_{<h}) = \phi(x, y_{1:h}) - \bar\phi_\theta(x, y_{<h}).

        Parameters
        ----------
        x, y, paired
            As in :meth:`log_prob`.
        level : {"sequence", "token"}
            ``"sequence"`` sums over positions (shape ``... + (d,)``); ``"token"`` keeps
            them (shape ``... + (H, d)``).

        Returns
        -------
        ndarray
            ``batch_shape + x.shape + [(H,)] + (d,)`` (``x.shape + ...`` when paired).
        """
        if level not in ("sequence", "token"):
            raise ValueError(f"`level` must be 'sequence' or 'token', got {level!r}.")
        x, y = self._sequences_iv(x, y, paired)
        parts = []
        for feats, logits, tok in self._path_blocks(x, y, paired):
            probs = np.exp(log_softmax(logits, axis=-1))
            idx = np.broadcast_to(tok[..., None, None].astype(np.int64), feats.shape[:-2] + (1, self.dim))
            chosen = np.take_along_axis(feats, idx, axis=-2)[..., 0, :]          # (..., Hb, d)
            g = chosen - np.einsum("...v,...vd->...d", probs, feats)            # (P?, ..., Hb, d)
            parts.append(g.sum(axis=-2) if level == "sequence" else g)
        return sum(parts) if level == "sequence" else np.concatenate(parts, axis=-2)

    def hessian_log_prob(self, x, y, *, paired=False):
        r"""Hessian :math:`\nabla^2_\theta\log\pi_\theta(y|x) = -\sum_h\mathrm{Cov}_{\pi_\theta}[\phi]`.

        Returns ``... + (d, d)`` negative semidefinite matrices (the batch shape ``...`` as in
        :meth:`grad_log_prob`).
        """
        x, y = self._sequences_iv(x, y, paired)
        total = 0.0
        for feats, logits, _ in self._path_blocks(x, y, paired):
            probs = np.exp(log_softmax(logits, axis=-1))
            mean = np.einsum("...v,...vd->...d", probs, feats)
            second = np.einsum("...v,...vd,...ve->...de", probs, feats, feats)
            total = total + (second - mean[..., :, None] * mean[..., None, :]).sum(axis=-3)
        return -total

    def hvp(self, x, y, vector, *, paired=False):
        r"""Hessian-vector product :math:`\nabla^2_\theta\log\pi_\theta(y|x)\,v` without forming the Hessian.

        Uses :math:`-\sum_h \mathbb E_{\pi_\theta}[(\phi - \bar\phi)\langle\phi - \bar\phi, v\rangle]`.
        """
        x, y = self._sequences_iv(x, y, paired)
        v = as_finite_array(vector, "vector", ndim=1)
        if v.shape != (self.dim,):
            raise ValueError(f"`vector` must have shape ({self.dim},), got {v.shape}.")
        total = 0.0
        for feats, logits, _ in self._path_blocks(x, y, paired):
            probs = np.exp(log_softmax(logits, axis=-1))
            centred = feats - np.einsum("...v,...vd->...d", probs, feats)[..., None, :]
            total = total + np.einsum("...v,...v,...vd->...d", probs, centred @ v, centred).sum(axis=-2)
        return -total

    # ----------------------------------------------------------------- sampling
    def sample(self, n, *, rng, x=None):
        """Draw ``n`` sequences per model: ``x`` ``batch_shape + (n,)``, ``y`` ``batch_shape + (n, H)``."""
        if isinstance(self.features, TabularFeatures):
            return self._markov.sample(n, rng=rng, x=x)
        n = check_int(n, "n", low=0)
        rng = check_rng(rng)
        p, hz, v = self.n_models, self.horizon, self.vocab_size
        check_allocation(p * n * (8 * hz + 16 * v * self.dim + 24 * v + 40),
                         f"sampling `n` = {n} sequences for {p} model(s)", "draw the samples in batches")
        if x is None:
            xs = rng.choice(self.n_prompts, size=(p, n), p=self.prompt_weights)
        else:
            xs = fixed_prompts(x, self.n_prompts, p, n)
        xf = xs.reshape(-1)
        ys = np.zeros((p * n, hz), dtype=np.uint8 if v <= 256 else np.int64)
        theta_rows = np.repeat(self._theta2, n, axis=0)
        for h in range(hz):
            feats = self.features.candidates(xf, ys[:, :h], h)          # (P*n, V, d)
            logits = np.einsum("bvd,bd->bv", feats, theta_rows)
            cdf = np.cumsum(np.exp(log_softmax(logits, axis=-1)), axis=-1)
            cdf[:, -1] = np.inf
            ys[:, h] = (cdf <= rng.random(len(xf))[:, None]).sum(-1)
        return xs.reshape(self.batch_shape + (n,)), ys.reshape(self.batch_shape + (n, hz))

    # -------------------------------------------------------------- enumeration
    def enumerate_log_probs(self, *, max_sequences=MAX_ENUMERATION):
        """Log-probabilities of all ``V**H`` sequences: ``batch_shape + (n_prompts, V**H)``."""
        if isinstance(self.features, TabularFeatures):
            return self._markov.enumerate_log_probs(max_sequences=max_sequences)
        v, hz = self.vocab_size, self.horizon
        support_size(v, hz, max_sequences)
        check_enumeration_bytes(self._enumeration_bytes(), v, hz, rows_text(self))
        out = np.zeros((self.n_models, self.n_prompts, 1))
        prefixes = np.zeros((1, 0), dtype=np.int64)
        for h in range(hz):
            s = prefixes.shape[0]
            xs = np.repeat(np.arange(self.n_prompts), s)
            pre = np.tile(prefixes, (self.n_prompts, 1))
            feats = self.features.candidates(xs, pre, h)                  # (X*S, V, d)
            logits = np.einsum("bvd,md->mbv", feats, self._theta2)
            step = log_softmax(logits, axis=-1).reshape(self.n_models, self.n_prompts, s, v)
            out = (out[..., None] + step).reshape(self.n_models, self.n_prompts, s * v)
            prefixes = np.concatenate([np.repeat(prefixes, v, axis=0),
                                       np.tile(np.arange(v), s)[:, None]], axis=1)
        return out.reshape(self.batch_shape + out.shape[1:])

    def _enumeration_bytes(self):
        """Peak bytes of :meth:`enumerate_log_probs` (last level: features, logits, levels)."""
        if isinstance(self.features, TabularFeatures):
            return self._markov._enumeration_bytes()
        v, hz, x, p = self.vocab_size, self.horizon, self.n_prompts, self.n_models
        size = v ** hz
        return 8 * x * size * (2 * self.dim + 3 * hz + 2) + 48 * p * x * size

    def enumerate_support(self, *, max_sequences=MAX_ENUMERATION):
        """Joint support ``x (S,)``, ``y (S, H)``, ``log_weight`` = :math:`\\log\\mu(x)\\pi_\\theta(y|x)`."""
        support_size(self.vocab_size, self.horizon, max_sequences)
        check_enumeration_bytes(support_bytes(self, self.vocab_size ** self.horizon),
                                 self.vocab_size, self.horizon, rows_text(self))
        y1 = enumerate_sequences(self.vocab_size, self.horizon, max_sequences=max_sequences)
        lp = self.enumerate_log_probs(max_sequences=max_sequences)
        with np.errstate(divide="ignore"):
            lw = lp + np.log(self.prompt_weights)[:, None]
        x = np.repeat(np.arange(self.n_prompts), len(y1))
        return x, np.tile(y1, (self.n_prompts, 1)), lw.reshape(self.batch_shape + (-1,))

    # ------------------------------------------------------- inherent variance
    def sigma_star_sq(self, data=None, *, max_sequences=MAX_ENUMERATION):
        r"""Inherent variance :math:`\sigma_\star^2` (Eq. (6) ICLR / (8) arXiv), exactly.

        .. math::

            \sigma_\star^2 = \mathbb E_{\pi_D}\sum_{h=1}^H
              \left\|\phi(x, y_{1:h}) - \bar\phi_{\pi_D}(x, y_{<h})\right\|^2,
            \qquad \bar\phi_{\pi_D} = \mathbb E_{y_h\sim\pi_D(\cdot|x,y_{<h})}\phi .

        Parameters
        ----------
        data : MarkovModel or AutoregressiveLinearModel, optional
            The data distribution :math:`\pi_D` (same prompts, vocabulary and horizon);
            defaults to this (unbatched) model, i.e. the realizable case
            :math:`\pi_D = \pi_{\theta_\star}`, where it equals
            :math:`\mathbb E_{\pi_D}\|\nabla\log\pi_{\theta_\star}(y|x)\|^2`.

        Returns
        -------
        float
            Exact: by forward state marginals for tabular features (any ``H``), by
            enumeration otherwise (see :func:`theory.models.sigma_star_sq_monte_carlo`
            for long sequences with general features).
        """
        check_int(max_sequences, "max_sequences", low=1)
        if data is None:
            if self.batch_shape:
                raise ValueError("sigma_star_sq of a batch needs `data`; index the batch first.")
            data = self
        if not isinstance(data, (AutoregressiveLinearModel, MarkovModel)):
            raise TypeError("`data` must be a MarkovModel or AutoregressiveLinearModel, got "
                            f"{type(data).__name__}.")
        if (data.n_prompts, data.vocab_size, data.horizon) != (self.n_prompts, self.vocab_size, self.horizon):
            raise ValueError("`data` must have the same prompts, vocabulary and horizon as the model.")
        if isinstance(self.features, TabularFeatures):
            from ..squaring import use_squaring

            dm = data.as_markov() if isinstance(data, AutoregressiveLinearModel) else data
            if dm.batch_shape:
                raise ValueError("`data` must be a single distribution, not a batch.")
            p = np.exp(dm.log_probs)                                     # (X, Hd', V+1, V)
            phi = self.features.table                                    # (X, Hd, V+1, V, d)
            hd = max(p.shape[1], phi.shape[1])
            p = np.broadcast_to(p, (p.shape[0], hd) + p.shape[2:])
            phi = np.broadcast_to(phi, (phi.shape[0], hd) + phi.shape[2:])
            mean = np.einsum("xhpv,xhpvd->xhpd", p, phi)
            var = np.einsum("xhpv,xhpv->xhp", p, ((phi - mean[..., None, :]) ** 2).sum(-1))
            if hd == 1 and use_squaring(self.horizon, self.vocab_size + 1, dm.log_probs.shape[-3] == 1):
                visits = dm.state_visits()
                return float(np.where(visits > 0, visits * var[:, 0], 0.0).sum())
            return float(dm.expected_token_sum(var).sum())
        x, y, lw = (data if isinstance(data, AutoregressiveLinearModel) else data).enumerate_support(
            max_sequences=max_sequences)
        w = np.exp(lw)
        keep = w > 0
        feats = self.features.path_candidates(x[keep], y[keep])
        lq = data.next_token_log_probs(x[keep], y[keep])                # (S, H, V)
        pq = np.exp(lq)
        mean = np.einsum("shv,shvd->shd", pq, feats)
        chosen = np.take_along_axis(feats, y[keep][..., None, None].astype(np.int64), axis=-2)[..., 0, :]
        return float(w[keep] @ ((chosen - mean) ** 2).sum(axis=(-1, -2)))
