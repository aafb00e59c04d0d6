r"""Run the paper's learners on random instances and return exact per-replicate quantities.

The bridge between :mod:`simulations.random_instances` (instances and learner settings)
and :mod:`simulations.learners`, used by the rate properties of the test suite and
available to any property test (see :mod:`simulations.testing.strategies`).  Each function trains
``replicates`` independent runs in one vectorised call (a leading replicate axis, fresh data
per replicate) and evaluates what the statement bounds **exactly**, so the only randomness
in the returned arrays is the training data:

* :func:`run_sgd` -- one-pass sequence-level SGD (Eq. (8) ICLR / (14) arXiv): average over
  the iterates :math:`\theta_1..\theta_T` of the KL and, for i.i.d.-token features, the
  coverage (Prop. 5.1);
* :func:`run_normalized_sgd` -- normalized SGD (Eq. (10) ICLR / (17) arXiv, Theorem 5.1);
* :func:`run_ttt` -- token-level SGD (Eq. (12) ICLR / (21) arXiv): the training-path
  per-token KL sums, whose mean is the average KL of the test-time-training decoders
  :math:`\pi^{TTT}_{\theta_t}` (Theorem 6.1);
* :func:`fit_linear_mle` -- the MLE over :math:`B_2(1)` (Theorem 4.2);
* :func:`fit_finite_mle` -- the MLE over a finite class (Theorem 4.1).

Linear instances are trained in the span of their features (:meth:`LinearInstance.reduced`,
an isometry), so the cost does not grow with ``d``.  ``flip=True`` (gradient sign flipped:
ascent on the loss) and ``normalize=False`` (normalisation removed) are the *wrong learners*
of the negative controls.
"""

from __future__ import annotations

import numpy as np

from simulations.learners.mle import convex_mle, finite_class_mle, replicate_token_counts, sample_replicates
from simulations.learners.optimizers import chain, normalized_sgd, project_l2_ball, sgd
from simulations.learners.training import ScoreEngine, train_one_pass
from theory.validation import check_rng
from theory.iid_tokens import iid_token_log_probs

from simulations.random_instances import FiniteClassInstance, LinearInstance, initial_theta

__all__ = ["run_sgd", "run_normalized_sgd", "run_ttt", "fit_linear_mle", "fit_finite_mle", "iid_counts"]


def _check_linear(instance, tabular=True):
    if not isinstance(instance, LinearInstance):
        raise TypeError(f"`instance` must be a LinearInstance, got {type(instance).__name__}.")
    if tabular and not instance.is_tabular:
        raise TypeError("the learners need tabular (i.i.d. or Markov) features.")


def _reduced_start(instance, init, seed=0):
    theta0 = initial_theta(instance, init, seed)
    red = instance.reduced(theta0)
    return red, red.basis.T @ theta0


def _average_metrics(red, N, coverage, T, replicates, sampled, rng):
    """Iterate metric: exact KL of every iterate and the exact coverage of every iterate, or
    (``sampled = k``) of ``k`` iterates per replicate drawn uniformly without replacement,
    independently of the data and across replicates, weighted by ``T/k``: its running mean
    over the ``T`` iterates is then the mean coverage of the ``k`` drawn iterates, an
    unbiased estimate of the average-iterate coverage with values in ``[0, 1]``."""
    chosen = None
    if coverage and sampled is not None and sampled < T:
        keys = rng.random((T, replicates))
        chosen = keys <= np.sort(keys, axis=0)[sampled - 1]                 # k per replicate
        state = {"t0": 0}

    def metric(thetas):
        parts = [red.kl(thetas)[..., None]]
        if coverage and chosen is None:
            parts.append(red.coverage(thetas, N)[..., None])
        elif coverage:
            c = thetas.shape[0]
            mask = chosen[state["t0"]:state["t0"] + c]
            state["t0"] += c
            cov = np.zeros(thetas.shape[:2])
            if mask.shape[0] == c and mask.any():            # (calls past T log the last iterate)
                cov[mask] = red.coverage(thetas[mask], N) * (T / sampled)
            parts.append(cov[..., None])
        return np.concatenate(parts, axis=-1)
    return metric


def run_sgd(instance, settings, *, replicates, rng, eta_fractions=None, coverage=False, flip=False,
            sampled_iterates=None):
    r"""One-pass SGD, :math:`\theta_{t+1} = \mathrm{Proj}_{B_2(1)}(\theta_t \pm \eta\nabla\log\pi_{\theta_t}(y_t|x_t))`.

    The learner of Prop. 5.1 (Eq. (8) ICLR / (14) arXiv).

    Parameters
    ----------
    instance : LinearInstance
        Tabular features (i.i.d. or Markov).
    settings : SGDSettings
        ``T``, the step as a fraction of :math:`1/(2HB^2)`, the initialisation and ``N``.
    replicates : int
        Runs per step size.
    rng : {None, int, numpy.random.SeedSequence, numpy.random.Generator}
        Training data.
    eta_fractions : (k,) array_like, optional
        Several step fractions trained together (``replicates`` runs each); default
        ``(settings.eta_fraction,)``.
    coverage : bool
        Also return the average-iterate coverage at ``settings.N`` (exact; i.i.d. tokens or
        small enumerable supports).
    flip : bool
        Gradient sign flipped (ascent on the loss): a wrong learner.
    sampled_iterates : int, optional
        Evaluate the coverage at this many uniformly drawn iterates per replicate (an
        unbiased estimate of the average, in ``[0, 1]``) instead of at all ``T``.

    Returns
    -------
    dict
        ``"eta"`` ``(k,)``; ``"kl"`` ``(k, R)`` the average over :math:`\theta_1..\theta_T` of
        :math:`D_{KL}(\pi_D\|\pi_{\theta_t})` per replicate (exact); ``"coverage"``
        ``(k, R)`` likewise :math:`\mathrm{Cov}_N` if requested.
    """
    rng = check_rng(rng)
    _check_linear(instance)
    fr = np.atleast_1d(np.asarray(settings.eta_fraction if eta_fractions is None else eta_fractions, float))
    etas = fr / (2.0 * instance.horizon * instance.B ** 2)
    red, th0 = _reduced_start(instance, settings.init)
    lr = np.repeat(etas, replicates)[:, None] * (-1.0 if flip else 1.0)
    opt = chain(sgd(lr), project_l2_ball(1.0))
    rng_train, rng_eval = rng.spawn(2)
    metric = _average_metrics(red, settings.N, coverage, settings.T, lr.shape[0], sampled_iterates, rng_eval)
    res = train_one_pass(data=red.data, model=red.model(th0), optimizer=opt, T=settings.T, rng=rng_train,
                         replicates=lr.shape[0], iterate_metric=metric)
    means = res.metric_means[:, 0, :].reshape(fr.size, replicates, -1)
    out = {"eta": etas, "kl": means[..., 0]}
    if coverage:
        out["coverage"] = means[..., 1]
    return out


def run_normalized_sgd(instance, settings, *, replicates, rng, normalize=True, flip=False, kl=False,
                       sampled_iterates=None):
    r"""Normalized SGD with minibatch ``K`` and Theorem 5.1's proof parameters.

    :math:`\theta_{t+1} = \mathrm{Proj}(\theta_t + \eta\,\hat g/(\lambda + \|\hat g\|))`
    (Eq. (10) ICLR / (17) arXiv); ``(eta, lam)`` from
    :meth:`~simulations.random_instances.NormalizedSGDSettings.parameters`.

    Parameters
    ----------
    instance : LinearInstance
        i.i.d.-token features (coverage of every iterate is evaluated exactly).
    settings : NormalizedSGDSettings
    replicates : int
    rng : {None, int, numpy.random.SeedSequence, numpy.random.Generator}
    normalize : bool
        ``False``: plain SGD with the same :math:`\eta` (normalisation removed: a wrong learner).
    flip : bool
        Gradient sign flipped (a wrong learner).
    kl : bool
        Also return the average-iterate KL.
    sampled_iterates : int, optional
        As in :func:`run_sgd`.

    Returns
    -------
    dict
        ``"eta"``, ``"lam"`` (floats), ``"coverage"`` ``(R,)``: the average over the ``T``
        iterates of :math:`\mathrm{Cov}_N(\pi_{\theta_t})` (exact); ``"kl"`` ``(R,)`` if asked.
    """
    rng = check_rng(rng)
    _check_linear(instance)
    eta, lam = settings.parameters(instance)
    red, th0 = _reduced_start(instance, settings.init)
    step = -eta if flip else eta
    opt = chain(normalized_sgd(step, lam) if normalize else sgd(step), project_l2_ball(1.0))
    rng_train, rng_eval = rng.spawn(2)
    metric = _average_metrics(red, settings.N, True, settings.T, replicates, sampled_iterates, rng_eval)
    res = train_one_pass(data=red.data, model=red.model(th0), optimizer=opt, T=settings.T, batch=settings.batch,
                         rng=rng_train, replicates=replicates, iterate_metric=metric)
    means = res.metric_means[:, 0, :]
    out = {"eta": eta, "lam": lam, "coverage": means[:, 1]}
    if kl:
        out["kl"] = means[:, 0]
    return out


def run_ttt(instance, settings, *, replicates, rng, eta_fractions=None, flip=False):
    r"""Token-level SGD (Eq. (12) ICLR / (21) arXiv) with :math:`\eta` = ``settings.eta(instance)``.

    Returns the quantity Theorem 6.1's proof bounds, per replicate:
    :math:`\frac1T\sum_t\sum_h\varepsilon_{t,h}` with :math:`\varepsilon_{t,h}` the exact
    per-token KL at the training iterate :math:`\theta_{t,h}` along the training sequence.
    Since :math:`\theta_{t,h} = \vartheta^{TTT}(x_t, y^t_{<h};\theta_t)`, its expectation is
    :math:`\mathbb E\frac1T\sum_tD_{KL}(\pi_D\|\pi^{TTT}_{\theta_t})`.

    Parameters
    ----------
    instance : LinearInstance
        Tabular features.
    settings : TTTSettings
    replicates : int
        Runs per step size.
    rng : {None, int, numpy.random.SeedSequence, numpy.random.Generator}
    eta_fractions : (k,) array_like, optional
        Several step fractions (of :math:`1/(2B^2)`) trained together; default
        ``(settings.eta_fraction,)``.
    flip : bool
        Gradient sign flipped (a wrong learner).

    Returns
    -------
    dict
        ``"eta"`` ``(k,)``, ``"path_kl"`` ``(k, R)``, ``"final_theta"`` ``(k, R, d)`` (original
        coordinates), ``"reduced"`` (the :class:`LinearInstance` trained on) and
        ``"reduced_theta"`` ``(k, R, rank)``.
    """
    rng = check_rng(rng)
    _check_linear(instance)
    fr = np.atleast_1d(np.asarray(settings.eta_fraction if eta_fractions is None else eta_fractions, float))
    etas = fr / (2.0 * instance.B ** 2)
    red, th0 = _reduced_start(instance, settings.init)
    lr = np.repeat(etas, replicates)[:, None] * (-1.0 if flip else 1.0)
    opt = chain(sgd(lr), project_l2_ball(1.0))
    res = train_one_pass(data=red.data, model=red.model(th0), optimizer=opt, T=settings.T, rng=rng,
                         replicates=lr.shape[0], level="token", track_token_kl=True)
    final = res.final_theta.reshape(fr.size, replicates, -1)
    return {"eta": etas, "path_kl": res.path_token_kl[:, 0].reshape(fr.size, replicates),
            "final_theta": final @ red.basis.T, "reduced": red, "reduced_theta": final}


def iid_counts(instance, n, replicates, *, rng):
    r"""Sufficient statistics of ``replicates`` i.i.d. data sets of ``n`` sequences, i.i.d. tokens.

    For i.i.d.-token features the log-likelihood depends on a data set only through the
    per-prompt token counts, whose law is sampled directly: prompt counts
    :math:`\sim\mathrm{Multinomial}(n, \mu)`, then token counts
    :math:`\sim\mathrm{Multinomial}(n_xH, p_x)` (the law of the counts of ``n`` fresh
    sequences).  Returned in the layout of
    :func:`~simulations.learners.mle.replicate_token_counts` for the instance's features
    (every token in the begin-of-sequence row, which the i.i.d. features make equivalent).

    Returns
    -------
    (R, X, 1, V + 1, V) ndarray
    """
    rng = check_rng(rng)
    _check_linear(instance)
    if not instance.is_iid:
        raise ValueError("`iid_counts` needs i.i.d.-token features.")
    X, V, H = instance.spec.n_prompts, instance.spec.vocab, instance.horizon
    p = np.exp(iid_token_log_probs(instance.token_table, instance.theta_star))
    nx = rng.multinomial(n, instance.data.prompt_weights, size=replicates)          # (R, X)
    out = np.zeros((replicates, X, 1, V + 1, V))
    for x in range(X):
        out[:, x, 0, V, :] = rng.multinomial(nx[:, x] * H, p[x])
    return out


def fit_linear_mle(instance, n, *, replicates, rng, N=None, tol=1e-8, flip=False, flip_steps=200):
    r"""The MLE over :math:`\Theta = B_2(1)` on ``replicates`` data sets of ``n`` sequences (Theorem 4.2).

    :func:`~simulations.learners.mle.convex_mle` (ball, minimum-norm start) on the
    instance's span; data from :func:`iid_counts` (i.i.d. tokens) or sampled sequences.

    Parameters
    ----------
    instance : LinearInstance
        Tabular features.
    n, replicates : int
    rng : {None, int, numpy.random.SeedSequence, numpy.random.Generator}
    N : float or array_like, optional
        Thresholds at which to return the exact coverage.
    tol : float
        Optimality residual of the solver.
    flip : bool
        The gradient sign flipped (a wrong learner): ``flip_steps`` steps of projected
        gradient *descent* on the average log-likelihood from 0, step :math:`1/(HB^2)`.
    flip_steps : int
        Steps of the flipped learner.

    Returns
    -------
    dict
        ``"theta"`` ``(R, d)`` (original coordinates), ``"kl"`` ``(R,)`` exact,
        ``"coverage"`` ``(R,) + np.shape(N)`` exact (if ``N``), ``"converged"`` ``(R,)``.
    """
    rng = check_rng(rng)
    _check_linear(instance)
    red = instance.reduced()
    counts = iid_counts(red, n, replicates, rng=rng) if red.is_iid else \
        replicate_token_counts(red.data, *sample_replicates(red.data, n, replicates, rng=rng))
    if flip:
        engine = ScoreEngine(red.features)
        flat = counts.reshape(replicates, engine.n_ctx, -1, engine.vocab_size).sum(axis=2) if red.is_iid else \
            counts.reshape(replicates, engine.n_ctx, engine.vocab_size)
        theta = np.zeros((replicates, red.data.dim))
        step = 1.0 / (red.horizon * red.B ** 2)
        for _ in range(flip_steps):
            grad = engine.score_from_counts(theta, flat) / n
            theta = theta - step * grad
            theta /= np.maximum(1.0, np.linalg.norm(theta, axis=-1, keepdims=True))
        out = {"theta": theta @ red.basis.T, "kl": red.kl(theta), "converged": np.ones(replicates, bool),
               "residual": np.zeros(replicates)}
        if N is not None:
            out["coverage"] = red.coverage(theta, N)
        return out
    res = convex_mle(red.features, counts, constraint="ball", radius=1.0, tol=tol, max_iter=200)
    out = {"theta": res.theta @ red.basis.T, "kl": red.kl(res.theta), "converged": np.asarray(res.converged),
           "residual": np.asarray(res.residual)}
    if N is not None:
        out["coverage"] = red.coverage(res.theta, N)
    return out


def fit_finite_mle(instance, n, *, replicates, rng, anti=False):
    r"""The MLE over a finite class on ``replicates`` data sets of ``n`` sequences (Theorem 4.1).

    :func:`~simulations.learners.mle.finite_class_mle` (ties: lowest index).

    Parameters
    ----------
    instance : FiniteClassInstance
    n, replicates : int
    rng : {None, int, numpy.random.SeedSequence, numpy.random.Generator}
    anti : bool
        Pick the *least* likely member (the likelihood's sign flipped: a wrong learner).

    Returns
    -------
    (R,) int ndarray
        Index of the selected member per replicate.
    """
    rng = check_rng(rng)
    if not isinstance(instance, FiniteClassInstance):
        raise TypeError(f"`instance` must be a FiniteClassInstance, got {type(instance).__name__}.")
    x, y = sample_replicates(instance.data, n, replicates, rng=rng)
    res = finite_class_mle(instance.members, x, y)
    if anti:
        return np.argmin(np.asarray(res.log_likelihood), axis=1)
    return np.asarray(res.index)
