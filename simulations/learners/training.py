r"""One-pass training of autoregressive linear models, vectorised over replicates.

Every step draws a fresh minibatch of ``K`` sequences from :math:`\pi_D` for each of ``R``
independent replicates and advances all replicates in one array operation:

* ``level="sequence"`` (Eq. (8) ICLR / (14) arXiv; Eq. (10) / (17) with a normalising
  optimizer): one step per minibatch of sequences,
  :math:`\hat g = \frac1K\sum_k \sum_h w_{k,h}\nabla\log\pi_\theta(y^k_h|x^k, y^k_{<h})`
  (``w = 1`` unless ``token_weights`` is given, see :mod:`~simulations.learners.distillation`);
* ``level="token"`` (Eq. (12) ICLR / (21) arXiv): one step per token position, the
  minibatch being the ``K`` sequences' tokens at that position; the next sequence starts
  from the last token step, :math:`\theta_{t+1,0} = \theta_{t,H}`.

The optimizer receives the gradient of the loss, :math:`-\hat g` (optax convention, see
:mod:`~simulations.learners.optimizers`).

The scores (:class:`~simulations.learners.scores.ScoreEngine`: context-token counts, one
softmax per context) live in :mod:`~simulations.learners.scores`, the data
(:class:`~simulations.learners.stream.DataStream`) in :mod:`~simulations.learners.stream`,
and the step loop of sequence-level SGD on token streams (shared by numpy and the optional
compiled kernels, bit for bit) in :mod:`~simulations.learners._sgd_loop`; all are
re-exported here.

Evaluation: ``iterate_metric(thetas) -> values`` is called on every iterate
:math:`\theta_0,\dots,\theta_{T-1}` (in chunks) and its running means at ``average_at``
give the average-iterate quantities the theorems bound, e.g.
:math:`\frac1T\sum_{t<T}\mathrm{Cov}_N(\pi_{\theta_t})` (the paper's iterates
:math:`\theta_1..\theta_T` with :math:`\theta_1` the initialisation).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from theory.validation import as_int_array, check_int, check_rng, readonly
from theory.deprecation import reordered
from theory.models import AutoregressiveLinearModel, MarkovModel, TabularFeatures

from ._order import model_data_order
from ._sgd_loop import run_count_steps
from .optimizers import Optimizer, apply_updates
from .scores import ScoreEngine, is_iid_features, softmax_rows, softmax_parts, count_scores, sequence_scores
from .stream import DataStream

__all__ = ["TrainResult", "train_one_pass", "sequence_scores", "count_scores", "DataStream",
           "ScoreEngine"]

#: Target number of floats in the per-chunk arrays.
_CHUNK_FLOATS = 1 << 22


@dataclass(frozen=True)
class TrainResult:
    r"""Output of :func:`train_one_pass`.

    The iterates and average-iterate metrics that Prop. 5.1, Theorem 5.1, Theorem 6.1 and
    Theorem G.2 (ICLR) / 6.2 (arXiv) bound (:math:`\frac1T\sum_t\mathrm{Cov}_N(\pi_{\theta_t})`).

    Attributes
    ----------
    thetas : (R, n_log, d) ndarray
        Logged iterates :math:`\theta_t` at ``steps``.
    steps : (n_log,) ndarray of int
        Number of updates before each logged iterate (``0`` = initialisation, ``T`` = last).
    final_theta : (R, d) ndarray
        The last iterate.
    average_at : (n_avg,) ndarray of int
        Horizons ``T'`` of the running means.
    metric_means : (R, n_avg, m) ndarray or None
        :math:`\frac1{T'}\sum_{t<T'}\mathrm{metric}(\theta_t)` for each ``T'``.
    metric_logged : (R, n_log, m) ndarray or None
        The metric at the logged iterates.
    metric_min : (R, m) ndarray or None
        :math:`\min_{t<T}\mathrm{metric}(\theta_t)`.
    path_token_kl : (R, n_avg) ndarray or None
        Token level with ``track_token_kl``: running mean over ``t`` of the training-path
        per-token KL sums :math:`\frac1K\sum_k\sum_h\varepsilon_{t,h}` — an unbiased
        estimate of :math:`\frac1{T'}\sum_t D_{KL}(\pi_D\|\pi^{TTT}_{\theta_t})`
        (Section 6.1's identity :math:`\theta_{t,h} = \vartheta^{TTT}(x_t, y_{<h}; \theta_t)`).
    level : str
        ``"sequence"`` or ``"token"``.
    batch, T : int
        Minibatch size ``K`` and number of steps (sequences at token level).
    stream : str
        ``"tokens"`` or ``"counts"``.
    """

    thetas: np.ndarray
    steps: np.ndarray
    final_theta: np.ndarray
    average_at: np.ndarray
    metric_means: np.ndarray | None
    metric_logged: np.ndarray | None
    metric_min: np.ndarray | None
    path_token_kl: np.ndarray | None
    level: str
    batch: int
    T: int
    stream: str

    def __post_init__(self):
        for name in ("thetas", "steps", "final_theta", "average_at", "metric_means",
                     "metric_logged", "metric_min", "path_token_kl"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, readonly(np.asarray(getattr(self, name))))

    def to_dict(self):
        out = asdict(self)
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in out.items()}


def check_train_arguments(model, data, optimizer, T, batch, level, replicates):
    if not isinstance(model, AutoregressiveLinearModel):
        raise TypeError("`model` must be an AutoregressiveLinearModel (its theta is the initialisation).")
    if not isinstance(model.features, TabularFeatures):
        raise TypeError("`model` must have TabularFeatures.")
    if not isinstance(data, (AutoregressiveLinearModel, MarkovModel)):
        raise TypeError("`data` must be an AutoregressiveLinearModel or MarkovModel.")
    if (data.n_prompts, data.vocab_size, data.horizon) != (model.n_prompts, model.vocab_size, model.horizon):
        raise ValueError("`data` and `model` must share prompts, vocabulary and horizon.")
    if not isinstance(optimizer, Optimizer):
        raise TypeError("`optimizer` must be an Optimizer (see simulations.learners.optimizers).")
    if level not in ("sequence", "token"):
        raise ValueError(f"`level` must be 'sequence' or 'token', got {level!r}.")
    T = check_int(T, "T", low=1)
    batch = check_int(batch, "batch", low=1)
    theta0 = np.asarray(model.theta, dtype=float)
    if theta0.ndim == 1:
        r = 1 if replicates is None else check_int(replicates, "replicates", low=1)
        theta0 = np.broadcast_to(theta0, (r, theta0.size)).copy()
    elif replicates is not None and check_int(replicates, "replicates", low=1) != theta0.shape[0]:
        raise ValueError(f"`replicates`={replicates} contradicts model.theta's leading axis "
                         f"{theta0.shape[0]}.")
    return theta0.copy(), T, batch


def schedule(T, log_every, log_steps, average_at):
    if log_steps is not None:
        steps = np.unique(as_int_array(log_steps, "log_steps", ndim=1, low=0, high=T + 1))
    else:
        every = T if log_every is None else check_int(log_every, "log_every", low=1)
        steps = np.unique(np.append(np.arange(0, T + 1, every), T))
    avg = np.array([T]) if average_at is None else np.unique(
        as_int_array(average_at, "average_at", ndim=1, low=1, high=T + 1))
    return steps, avg


class Recorder:
    """Logged iterates and running means of a per-iterate metric."""

    def __init__(self, R, d, T, steps, avg, metric):
        self.steps, self.avg, self.metric = steps, avg, metric
        self.step_index = {int(t): i for i, t in enumerate(steps)}
        self.thetas = np.empty((R, steps.size, d))
        self.metric_sum = None
        self.metric_means = None
        self.metric_logged = None
        self.metric_min = None
        self.buffer = []
        self.buf_start = 0
        self.kl_sum = np.zeros(R)
        self.kl_means = np.empty((R, avg.size))

    def log_theta(self, t, theta):
        i = self.step_index.get(t)
        if i is not None:
            self.thetas[:, i] = theta

    def flush(self, thetas_chunk, t0):
        """Evaluate the metric on iterates ``t0 .. t0 + C - 1`` (``(C, R, d)``)."""
        if self.metric is None:
            return
        vals = np.asarray(self.metric(thetas_chunk), dtype=float)
        if vals.ndim == 2:
            vals = vals[..., None]
        c, r = thetas_chunk.shape[:2]
        if vals.shape[:2] != (c, r):
            raise ValueError(f"`iterate_metric` must return (C, R[, m]) = ({c}, {r}, ...), got {vals.shape}.")
        if self.metric_sum is None:
            m = vals.shape[2]
            self.metric_sum = np.zeros((r, m))
            self.metric_means = np.full((r, self.avg.size, m), np.nan)
            self.metric_logged = np.full((r, self.steps.size, m), np.nan)
            self.metric_min = np.full((r, m), np.inf)
        self.metric_min = np.minimum(self.metric_min, vals.min(axis=0))
        csum = np.cumsum(vals, axis=0)                                   # (C, R, m)
        for j, ta in enumerate(self.avg):                                # horizons ending in this chunk
            if t0 < ta <= t0 + c:
                self.metric_means[:, j] = (self.metric_sum + csum[ta - t0 - 1]) / ta
        self.metric_sum = self.metric_sum + csum[-1]
        sel = (self.steps >= t0) & (self.steps < t0 + c)
        for i in np.flatnonzero(sel):
            self.metric_logged[:, i] = vals[self.steps[i] - t0]

    def final_metric(self, theta, T):
        if self.metric is None or self.steps[-1] != T:
            return
        vals = np.asarray(self.metric(theta[None]), dtype=float)
        self.metric_logged[:, -1] = vals.reshape(theta.shape[0], -1)

    def result(self, theta, T, *, batch, stream, level="sequence", path_token_kl=False):
        """Log the final iterate ``theta`` (step ``T``) and return the run's :class:`TrainResult`."""
        self.log_theta(T, theta)
        self.final_metric(theta, T)
        return TrainResult(thetas=self.thetas, steps=self.steps, final_theta=theta, average_at=self.avg,
                           metric_means=self.metric_means, metric_logged=self.metric_logged,
                           metric_min=self.metric_min, path_token_kl=self.kl_means if path_token_kl else None,
                           level=level, batch=batch, T=T, stream=stream)


@reordered(("model", "data"), ("data", "model"), is_old_order=model_data_order)
def train_one_pass(data, model, optimizer, *, T, rng, level="sequence", batch=1, replicates=None,
                   log_every=None, log_steps=None, average_at=None, iterate_metric=None,
                   token_weights=None, track_token_kl=False, stream="auto"):
    r"""One pass of (projected) stochastic optimisation on fresh samples from :math:`\pi_D`.

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel
        :math:`\pi_D` (unbatched), same prompts, vocabulary and horizon.  It comes first,
        as in :math:`D_{KL}(\pi_D\|\hat\pi)`; the former order ``(model, data)`` is
        accepted for one release with a ``DeprecationWarning`` where the types tell the
        two apart.
    model : AutoregressiveLinearModel
        Tabular features and the initialisation: ``theta`` ``(d,)`` (broadcast to
        ``replicates``) or ``(R, d)``.
    optimizer : Optimizer
        E.g. ``chain(sgd(eta), project_l2_ball(1.0))``; its learning rate may be an
        ``(R, 1)`` array (one step size per replicate).
    T : int
        Number of steps (sequence level) or of sequences (token level, ``T*H`` steps).
    rng : {None, int, numpy.random.SeedSequence, numpy.random.BitGenerator, numpy.random.Generator}
        Seed or generator (SPEC 7); prompts and tokens come from two spawned children.
    level : {"sequence", "token"}
    batch : int
        ``K`` sequences per step (per replicate).
    replicates : int, optional
        ``R`` when ``model.theta`` is ``(d,)``.
    log_every : int, optional
        Log :math:`\theta_t` every ``log_every`` steps (and at ``T``); default: ``0`` and ``T``.
    log_steps : array_like of int, optional
        Explicit iterate indices to log (overrides ``log_every``).
    average_at : array_like of int, optional
        Horizons ``T' <= T`` of the running means of ``iterate_metric`` (default ``(T,)``).
    iterate_metric : callable, optional
        ``metric(thetas (C, R, d)) -> (C, R) or (C, R, m)``, evaluated on every iterate
        :math:`\theta_0..\theta_{T-1}` (and at the logged final iterate).
    token_weights : callable, optional
        Sequence level only: ``weights(eps (R, K, H)) -> (R, K, H)``, the token weights
        as a function of the per-token KLs :math:`\varepsilon_\theta` along the sampled
        paths (truncated distillation, Theorem G.2 / 6.2 arXiv).  Needs ``data``'s
        next-token law on the model's contexts.
    track_token_kl : bool
        Token level only: record :attr:`TrainResult.path_token_kl`.
    stream : {"auto", "tokens", "counts"} or DataStream
        Sampling of the data (see :class:`DataStream`); runs that must see the *same*
        stream should use the same kind (and the same ``rng`` seed, ``R`` and ``K``; the
        stream does not depend on how many steps are drawn at once).  Any object with
        ``kind`` and ``draw(shape, (rng_prompts, rng_tokens))`` may be passed (e.g. to replay
        a recorded stream).

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> import numpy as np
    >>> from theory.instances import lemma_k7
    >>> from simulations.learners.optimizers import chain, sgd, project_l2_ball
    >>> inst = lemma_k7(16, B=64.0, B_bar=4.0, mu_plus=0.5)
    >>> res = train_one_pass(inst.data, model=inst.model_class, optimizer=chain(sgd(0.01), project_l2_ball(1.0)),
    ...                      T=200, rng=np.random.default_rng(0), replicates=3)
    >>> res.thetas.shape, res.steps.tolist()
    ((3, 2, 2), [0, 200])
    """
    theta, T, K = check_train_arguments(model, data, optimizer, T, batch, level, replicates)
    rng = check_rng(rng)
    if token_weights is not None and (level != "sequence" or not callable(token_weights)):
        raise ValueError("`token_weights` must be a callable and needs level='sequence'.")
    if track_token_kl and level != "token":
        raise ValueError("`track_token_kl` needs level='token'.")
    need_data_law = token_weights is not None or track_token_kl
    engine = ScoreEngine(model.features, data if need_data_law else None)
    if isinstance(stream, str):
        if stream == "auto" and (token_weights is not None or level == "token" or not engine.iid):
            stream = "tokens"
        src = DataStream(data, stream)
    elif callable(getattr(stream, "draw", None)) and getattr(stream, "kind", None) in ("tokens", "counts"):
        src = stream
    else:
        raise TypeError("`stream` must be 'auto', 'tokens', 'counts' or a DataStream-like object.")
    if src.kind == "counts" and (not engine.iid or level == "token" or token_weights is not None):
        raise ValueError("a counts stream needs i.i.d.-token features and plain sequence-level steps.")
    steps, avg = schedule(T, log_every, log_steps, average_at)
    R, d = theta.shape
    rec = Recorder(R, d, T, steps, avg, iterate_metric)
    state = optimizer.init(theta)
    rng = tuple(rng.spawn(2))                                            # (prompts, tokens)
    if level == "sequence":
        theta, state = _run_sequence(engine, src, optimizer, theta, state, T, K, rng, rec,
                                     token_weights)
    else:
        theta, state = _run_token(engine, src, optimizer, theta, state, T, K, rng, rec, track_token_kl)
    return rec.result(theta, T, batch=K, stream=src.kind, level=level, path_token_kl=track_token_kl)


def chunk_size(per_step, T):
    return int(max(1, min(T, _CHUNK_FLOATS // max(per_step, 1))))


def _run_sequence(engine, src, opt, theta, state, T, K, rng, rec, token_weights):
    R, d = theta.shape
    hz, v = engine.horizon, engine.vocab_size
    use_tokens_method = src.kind == "tokens" and engine.n_ctx > 4 * K * hz
    per_step = R * K * (hz if src.kind == "tokens" else v) + R * engine.n_ctx * (v + 1)
    C = chunk_size(per_step, T)
    if src.kind == "tokens" and token_weights is None and not use_tokens_method:
        return run_count_steps(engine, src, opt, theta, state, T, K, rng, rec, C)
    for t0 in range(0, T, C):
        c = min(C, T - t0)
        x, obs = src.draw((c, R, K), rng)
        if src.kind == "counts":
            pc = engine.prompt_counts(x, obs)                           # (c, R, X, V)
            chosen = pc.reshape(c, R, -1) @ engine._table_cvd
            nctx = pc.sum(-1)                                           # (c, R, X)
        elif token_weights is None and not use_tokens_method:
            counts = engine.context_token_counts(x, obs)                # (c, R, C, V)
            chosen = counts.reshape(c, R, -1) @ engine._table_cvd
            nctx = counts.sum(-1)
        iters = np.empty((c, R, d))
        for i in range(c):
            t = t0 + i
            iters[i] = theta
            rec.log_theta(t, theta)
            if token_weights is not None:
                lq, q = engine.context_laws(theta)
                ctx = engine.context_index(x[i], obs[i])
                w = np.asarray(token_weights(engine.token_kls(lq, ctx)), dtype=float)
                if use_tokens_method:
                    score = engine.token_scores(theta, x[i], obs[i], w)
                else:
                    score = engine.score_from_counts(theta, engine.context_token_counts(x[i], obs[i], w), q)
            elif use_tokens_method:
                score = engine.token_scores(theta, x[i], obs[i])
            else:
                score = engine.mean_score(engine.context_probs(theta), chosen[i], nctx[i])
            step, state = opt.update(-score / K, state, theta)
            theta = apply_updates(theta, step)
        rec.flush(iters, t0)
    return theta, state


def _run_token(engine, src, opt, theta, state, T, K, rng, rec, track_kl):
    R, d = theta.shape
    hz, v = engine.horizon, engine.vocab_size
    C = chunk_size(R * K * hz, T)
    table = engine.flat_table
    lpd = engine.data_log_probs
    pd = None if lpd is None else np.exp(lpd)
    kl_sum = np.zeros(R)
    j_avg = 0
    for t0 in range(0, T, C):
        c = min(C, T - t0)
        x, y = src.draw((c, R, K), rng)
        y = np.asarray(y, dtype=np.int64)
        ctx_all = engine.context_index(x, y)                             # (c, R, K, H)
        iters = np.empty((c, R, d))
        for i in range(c):
            t = t0 + i
            iters[i] = theta
            rec.log_theta(t, theta)
            ctx, yy = ctx_all[i], y[i]
            chosen_all = table[ctx, yy]                                  # (R, K, H, d)
            cand = table[ctx[..., 0]] if engine.iid else None            # (R, K, V, d)
            seq_kl = np.zeros((R, K)) if track_kl else None
            for h in range(hz):
                if not engine.iid:
                    cand = table[ctx[..., h]]
                logits = (cand @ theta[:, None, :, None])[..., 0]        # (R, K, V)
                lq, q = softmax_parts(logits)
                g = (chosen_all[:, :, h] - (q[..., None] * cand).sum(-2)).mean(axis=1)
                if track_kl:
                    lp = lpd[ctx[..., h]]
                    p = pd[ctx[..., h]]
                    with np.errstate(invalid="ignore"):
                        seq_kl += np.maximum(np.where(p > 0, p * (lp - lq), 0.0).sum(-1), 0.0)
                step, state = opt.update(-g, state, theta)
                theta = apply_updates(theta, step)
            if track_kl:
                kl_sum += seq_kl.mean(axis=1)
                while j_avg < rec.avg.size and rec.avg[j_avg] == t + 1:
                    rec.kl_means[:, j_avg] = kl_sum / (t + 1)
                    j_avg += 1
        rec.flush(iters, t0)
    return theta, state
