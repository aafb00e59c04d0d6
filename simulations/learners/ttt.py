r"""The test-time-training decoder :math:`\pi^{TTT}_\theta` (Eqs. (22)–(23) arXiv; (77)–(78) ICLR).

Starting from the trained parameter :math:`\vartheta_0 = \theta`, the decoder takes one
optimizer step on the log-likelihood of every token it reads or writes:

.. math::

    \vartheta_h = \mathrm{Proj}_\Theta\big(\vartheta_{h-1}
        + \eta\nabla\log\pi_{\vartheta_{h-1}}(y_h \mid x, y_{1:h-1})\big),
    \qquad
    \pi^{TTT}_\theta(\cdot \mid x, y_{1:h-1}) = \pi_{\vartheta_{h-1}}(\cdot \mid x, y_{1:h-1}),

and resets to :math:`\theta` after the sequence.  The parameter path is a deterministic
function of the prefix, so :math:`\log\pi^{TTT}_\theta(y|x) = \sum_h
\log\pi_{\vartheta_{h-1}}(y_h|x, y_{<h})` is exact for any sequence, and its law under
:math:`\pi_D` is obtained

* **exactly** by enumerating ``X x V^H`` through the prefix tree (each prefix's
  parameter computed once: :math:`O(V^H)` work, :meth:`TTTDecoder.exact_log_ratio`);
* by **Monte Carlo** from samples of :math:`\pi_D` (:meth:`TTTDecoder.sampled_log_ratio`,
  with Clopper–Pearson intervals through :class:`theory.log_ratio.LogRatioLaw`).

``optimizer`` is the test-time update; Theorem 6.1 uses the training step,
``chain(sgd(eta), project_l2_ball(1.0))`` (or a box for :math:`\Theta = [-1, 1]^d`).
Section 6.1's key identity — the token-level training iterates are the TTT path,
:math:`\theta_{t,h} = \vartheta^{TTT}(x_t, y^t_{<h}; \theta_t)` — is what
:attr:`~simulations.learners.training.TrainResult.path_token_kl` estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.validation import as_int_array, check_int, check_rng
from theory.log_ratio import LogRatioLaw
from theory.models import AutoregressiveLinearModel, MarkovModel, TabularFeatures
from theory.models.markov import MAX_ENUMERATION, support_size

from .optimizers import Optimizer, apply_updates
from .training import ScoreEngine, softmax_parts

__all__ = ["TTTDecoder"]


def _tree_repeat(state, n_params, reps):
    """Repeat every state leaf whose leading axis indexes the parameters ``reps`` times."""
    if isinstance(state, tuple):
        parts = [_tree_repeat(s, n_params, reps) for s in state]
        return type(state)(*parts) if hasattr(state, "_fields") else tuple(parts)
    arr = np.asarray(state)
    if arr.ndim >= 1 and arr.shape[0] == n_params:
        return np.repeat(arr, reps, axis=0)
    return state


def _tree_take(state, n_params, idx):
    if isinstance(state, tuple):
        parts = [_tree_take(s, n_params, idx) for s in state]
        return type(state)(*parts) if hasattr(state, "_fields") else tuple(parts)
    arr = np.asarray(state)
    if arr.ndim >= 1 and arr.shape[0] == n_params:
        return arr[idx]
    return state


@dataclass(frozen=True, eq=False)
class TTTDecoder:
    r"""Test-time-training decoder around an autoregressive linear model.

    The decoder :math:`\pi^{TTT}_\theta` of Theorem 6.1 (Eqs. (22)–(23) arXiv; (77)–(78)
    ICLR), see the module docstring.

    Parameters
    ----------
    model : AutoregressiveLinearModel
        Tabular features, starting parameters ``theta`` ``(d,)`` or ``(P, d)`` (``P``
        decoders evaluated together) and the prompt distribution.
    optimizer : Optimizer
        The test-time update (stateful optimizers are reset at every sequence).

    Examples
    --------
    >>> import numpy as np
    >>> from theory.instances import prop_3_2_kl_lower_bound
    >>> from simulations.learners.optimizers import sgd, projected
    >>> from theory.log_ratio import markov_kl
    >>> data = prop_3_2_kl_lower_bound(10, 8).data            # truth theta_* = 1
    >>> start = data.replace(theta=[0.0])                     # decode from theta = 0
    >>> dec = TTTDecoder(start, projected(sgd(0.5), box=(-1, 1)))
    >>> ttt_kl = dec.exact_log_ratio(data).kl()[0]
    >>> proper_kl = markov_kl(data, start)                    # the starting model itself
    >>> bool(ttt_kl < proper_kl)
    True
    """

    model: AutoregressiveLinearModel
    optimizer: Optimizer

    def __post_init__(self):
        if not isinstance(self.model, AutoregressiveLinearModel) or not isinstance(
                self.model.features, TabularFeatures):
            raise TypeError("`model` must be an AutoregressiveLinearModel with TabularFeatures.")
        if not isinstance(self.optimizer, Optimizer):
            raise TypeError("`optimizer` must be an Optimizer.")
        object.__setattr__(self, "_engine", ScoreEngine(self.model.features))

    # ------------------------------------------------------------------ shapes
    @property
    def thetas(self):
        """Starting parameters as ``(P, d)``."""
        return np.asarray(self.model.theta, dtype=float).reshape(-1, self.model.dim)

    @property
    def n_models(self):
        return self.thetas.shape[0]

    def _sequences_iv(self, x, y):
        m = self.model
        x = as_int_array(x, "x", ndim=1, low=0, high=m.n_prompts)
        y = as_int_array(y, "y", ndim=2, low=0, high=m.vocab_size)
        if y.shape != (x.size, m.horizon):
            raise ValueError(f"`y` must have shape (len(x), H) = ({x.size}, {m.horizon}), got {y.shape}.")
        return x, y

    # ------------------------------------------------------------------- paths
    def _walk(self, x, y, data_lp=None):
        """TTT path along given sequences for every decoder: token log-probs ``(P, B, H)``
        (and per-token KLs against ``data_lp`` contexts if given)."""
        eng = self._engine
        P, B, d = self.n_models, x.size, self.model.dim
        theta = np.repeat(self.thetas, B, axis=0)                            # (P*B, d)
        state = self.optimizer.init(theta)
        ctx = np.broadcast_to(eng.context_index(x, y), (P, B, y.shape[1])).reshape(P * B, -1)
        yy = np.broadcast_to(y, (P, B, y.shape[1])).reshape(P * B, -1)
        rows = np.arange(P * B)
        out = np.empty((P * B, y.shape[1]))
        kls = None if data_lp is None else np.empty((P * B, y.shape[1]))
        table = eng.flat_table
        for h in range(y.shape[1]):
            cand = table[ctx[:, h]]                                          # (M, V, d)
            lq, q = softmax_parts((cand @ theta[:, :, None])[..., 0])
            out[:, h] = lq[rows, yy[:, h]]
            if kls is not None:
                lp = data_lp[ctx[:, h]]
                p = np.exp(lp)
                with np.errstate(invalid="ignore"):
                    kls[:, h] = np.maximum(np.where(p > 0, p * (lp - lq), 0.0).sum(-1), 0.0)
            if h + 1 < y.shape[1]:
                g = cand[rows, yy[:, h]] - (q[..., None] * cand).sum(-2)
                step, state = self.optimizer.update(-g, state, theta)
                theta = apply_updates(theta, step)
        shape = (P, B, y.shape[1])
        return out.reshape(shape), None if kls is None else kls.reshape(shape)

    def token_log_probs(self, x, y):
        r""":math:`\log\pi^{TTT}_\theta(y_h|x, y_{<h})` of every decoder on every sequence: ``(P, B, H)``."""
        x, y = self._sequences_iv(x, y)
        return self._walk(x, y)[0]

    def log_prob(self, x, y):
        r""":math:`\log\pi^{TTT}_\theta(y|x)`: ``(P, B)``."""
        return self.token_log_probs(x, y).sum(-1)

    def path_token_kls(self, data, x, y):
        r"""Chain-rule terms :math:`D_{KL}(\pi_D(\cdot|x,y_{<h})\|\pi^{TTT}_\theta(\cdot|x,y_{<h}))` along ``y``: ``(P, B, H)``."""
        x, y = self._sequences_iv(x, y)
        eng = ScoreEngine(self.model.features, data)
        return self._walk(x, y, eng.data_log_probs)[1]

    # ---------------------------------------------------------------- sampling
    def sample(self, n, *, rng, x=None):
        r"""Sample from :math:`\pi^{TTT}_\theta` (each decoder ``n`` times): ``x`` ``(P, n)``, ``y`` ``(P, n, H)``.

        Each token is drawn from the current :math:`\pi_{\vartheta}` and the decoder then
        updates on the token it wrote.
        """
        n = check_int(n, "n", low=1)
        rng = check_rng(rng)
        m, eng = self.model, self._engine
        P = self.n_models
        if x is None:
            xs = rng.choice(m.n_prompts, size=(P, n), p=m.prompt_weights)
        else:
            xs = np.broadcast_to(as_int_array(x, "x", low=0, high=m.n_prompts), (P, n)).copy()
        theta = np.repeat(self.thetas, n, axis=0)
        state = self.optimizer.init(theta)
        xf = xs.reshape(-1)
        y = np.zeros((P * n, m.horizon), dtype=np.int64)
        rows = np.arange(P * n)
        for h in range(m.horizon):
            ctx = eng.context_at(xf, y[:, h - 1] if h > 0 else m.vocab_size, h)
            cand = eng.flat_table[ctx]
            _, q = softmax_parts((cand @ theta[:, :, None])[..., 0])
            cdf = np.cumsum(q, axis=-1)
            cdf[:, -1] = np.inf
            y[:, h] = (cdf <= rng.random(P * n)[:, None]).sum(-1)
            if h + 1 < m.horizon:
                g = cand[rows, y[:, h]] - (q[..., None] * cand).sum(-2)
                step, state = self.optimizer.update(-g, state, theta)
                theta = apply_updates(theta, step)
        return xs, y.reshape(P, n, m.horizon)

    # -------------------------------------------------------------- enumeration
    def enumerate_log_probs(self, *, max_sequences=MAX_ENUMERATION):
        r"""Exact :math:`\log\pi^{TTT}_\theta(y|x)` of all ``V^H`` sequences: ``(P, X, V^H)``.

        Level by level through the prefix tree (order of
        :func:`theory.models.enumerate_sequences`); each prefix's parameter is updated
        once per child token.
        """
        m, eng = self.model, self._engine
        v, hz, X, P, d = m.vocab_size, m.horizon, m.n_prompts, self.n_models, m.dim
        support_size(v, hz, max_sequences)
        hd, pp = eng.ctx_shape[1:]
        theta = np.broadcast_to(self.thetas[:, None, None, :], (P, X, 1, d)).reshape(-1, d).copy()
        state = self.optimizer.init(theta)
        lp = np.zeros(P * X)
        last = np.full(1, v)                                                 # BOS
        xs = np.repeat(np.arange(X)[None, :], P, axis=0).reshape(-1)         # prompt of each node
        for h in range(hz):
            s = theta.shape[0]
            prev = np.tile(last, s // last.size) if pp > 1 else 0
            ctx = xs * (hd * pp) + (h * pp if hd > 1 else 0) + prev
            cand = eng.flat_table[ctx]                                       # (s, V, d)
            lq, q = softmax_parts((cand @ theta[:, :, None])[..., 0])       # (s, V)
            lp = (lp[:, None] + lq).reshape(-1)
            if h + 1 < hz:
                g = cand - (q[..., None] * cand).sum(-2, keepdims=True)      # (s, V, d)
                theta_c = np.repeat(theta, v, axis=0)
                state = _tree_repeat(state, s, v)
                step, state = self.optimizer.update(-g.reshape(-1, d), state, theta_c)
                theta = apply_updates(theta_c, step)
                xs = np.repeat(xs, v)
                last = np.arange(v)
        return lp.reshape(P, X, v ** hz)

    def exact_log_ratio(self, data, *, max_sequences=MAX_ENUMERATION):
        r"""Exact law of :math:`\log\pi_D/\pi^{TTT}_\theta` under :math:`\pi_D` (a :class:`~theory.log_ratio.LogRatioLaw`, one row per decoder)."""
        lp_d = self._data_iv(data).enumerate_log_probs(max_sequences=max_sequences)   # (X, S)
        lp_m = self.enumerate_log_probs(max_sequences=max_sequences)
        with np.errstate(divide="ignore"):
            w = np.exp(lp_d + np.log(data.prompt_weights)[:, None]).ravel()
        keep = w > 0
        values = (lp_d[None] - lp_m).reshape(self.n_models, -1)[:, keep]
        return LogRatioLaw(values, w[keep] / w[keep].sum(), "exact")

    def sampled_log_ratio(self, data, n, *, rng, prompt=None):
        r"""Monte Carlo law of :math:`\log\pi_D/\pi^{TTT}_\theta` from ``n`` samples of :math:`\pi_D`.

        The samples are shared by all decoders.  With ``prompt`` the law is conditional on
        that prompt (:math:`y \sim \pi_D(\cdot|x)`), for stratified estimates when some
        prompts are rare.
        """
        data = self._data_iv(data)
        n = check_int(n, "n", low=1)
        rng = check_rng(rng)
        if prompt is None:
            x, y = data.sample(n, rng=rng)
        else:
            prompt = check_int(prompt, "prompt", low=0, high=data.n_prompts - 1)
            x, y = data.sample(n, rng=rng, x=np.full(n, prompt))
        values = data.log_prob(x, y)[None, :] - self._walk(x, np.asarray(y, dtype=np.int64))[0].sum(-1)
        return LogRatioLaw(values, None, "monte_carlo")

    def _data_iv(self, data):
        if not isinstance(data, (AutoregressiveLinearModel, MarkovModel)) or data.batch_shape:
            raise TypeError("`data` must be a single AutoregressiveLinearModel or MarkovModel.")
        m = self.model
        if (data.n_prompts, data.vocab_size, data.horizon) != (m.n_prompts, m.vocab_size, m.horizon):
            raise ValueError("`data` and the decoder must share prompts, vocabulary and horizon.")
        if not np.allclose(data.prompt_weights, m.prompt_weights):
            raise ValueError("`data` and the decoder must have the same prompt distribution.")
        return data
