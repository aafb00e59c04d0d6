"""Hypothesis strategies for the inequality property tests (``tests/property/test_bounds_*``).

Random instances are built from parameters drawn by hypothesis (shapes, concentrations,
degeneracy flags and a seed); the arrays themselves come from a numpy generator seeded by
the drawn seed, so every failing example is reproducible from hypothesis' report.  The
public strategies of random models, finite classes and learner settings (for the rate
properties and users' own tests) are in :mod:`simulations.testing.strategies`; this module keeps the
inequality tests' pairs and triples of discrete distributions.

* :func:`distribution_pairs` / :func:`distribution_triples`: prompt mixtures of discrete
  distributions (``n_prompts`` x ``m``), Dirichlet with concentration log-uniform in
  ``[0.05, 50]``, optionally near-degenerate (mass ``1 - 1e-9`` on one point) and with
  zeros in the model / target (disjoint supports) where the statement allows them.
* :func:`small_autoregressive_models`: pairs of autoregressive linear models (``H <= 5``,
  ``V <= 3``) with random features (Markov tabular or fully prefix-dependent) and random
  parameters, sharing prompts and prompt weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from theory.coverage import TIE_ATOL, coverage_profile
from simulations.random_instances import dirichlet
from theory.models import AutoregressiveLinearModel, CallableFeatures, TabularFeatures

#: Floating-point slack when checking an inequality between computed quantities.
RTOL = 1e-12


def leq(a, b, rtol=RTOL):
    """Elementwise ``a <= b`` up to floating-point rounding (``inf <= inf`` holds)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore"):
        return (a <= b) | (a <= b + rtol * np.maximum(1.0, np.abs(b)))


@dataclass
class Discrete:
    """A prompt mixture of distributions on ``m`` points: ``log_p`` ``(n_prompts, m)``, ``mu``."""

    log_p: np.ndarray
    mu: np.ndarray

    @property
    def joint_weights(self):
        return (self.mu[:, None] * np.exp(self.log_p)).ravel()


def tail(log_ratio, weights, log_n):
    """``P[log_ratio >= log_n]`` for any real ``log_n`` (also below 0, i.e. ``N < 1``), with the
    toolkit's tie convention (log-ratios within ``TIE_ATOL`` below ``log_n`` count)."""
    lr = np.asarray(log_ratio).ravel()
    w = np.asarray(weights).ravel()
    keep = w > 0
    lr, w = lr[keep], w[keep]
    return np.array([w[lr >= t - TIE_ATOL].sum() for t in np.ravel(log_n)]).reshape(np.shape(log_n))


def log_ratio(a, b):
    """``a.log_p - b.log_p`` with ``0/0`` points set to ``-inf`` (they carry no weight)."""
    with np.errstate(invalid="ignore"):
        lr = a.log_p - b.log_p
    return np.where(np.isnan(lr), -np.inf, lr)


def coverage(a, b, N):
    """Exact ``Cov_N(a || b)`` of two prompt mixtures (through ``theory.coverage``)."""
    return coverage_profile(log_ratio(a, b).ravel(), N, weights=a.joint_weights)


def _dirichlet(rng, conc, shape):
    return dirichlet(rng, conc, shape)


def _make(rng, n_prompts, m, conc, degenerate, zeros):
    p = _dirichlet(rng, conc, (n_prompts, m))
    if degenerate:
        j = rng.integers(m, size=n_prompts)
        point = np.eye(m)[j]
        p = (1 - 1e-9) * point + 1e-9 * p
    if zeros:
        mask = rng.random((n_prompts, m)) < 0.3
        mask[np.arange(n_prompts), np.argmax(p, axis=-1)] = False   # keep a point of positive mass
        p = np.where(mask, 0.0, p)
        p = p / p.sum(-1, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.log(p)


concentrations = st.floats(np.log(0.05), np.log(50.0)).map(np.exp)


@st.composite
def distribution_tuples(draw, k, *, zeros_allowed=(False, True, True), max_points=8, max_prompts=3):
    """``k`` prompt mixtures on a common support (data first), with a shared ``mu``."""
    n_prompts = draw(st.integers(1, max_prompts))
    m = draw(st.integers(2, max_points))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    mu = _dirichlet(rng, draw(concentrations), (n_prompts,)) if n_prompts > 1 else np.ones(1)
    out = []
    for i in range(k):
        conc = draw(concentrations)
        degenerate = draw(st.booleans())
        zeros = zeros_allowed[i] and draw(st.booleans())
        out.append(Discrete(_make(rng, n_prompts, m, conc, degenerate, zeros), mu))
    return out


def distribution_pairs(*, model_zeros=True, data_zeros=False, **kw):
    """(data, model) prompt mixtures."""
    return distribution_tuples(2, zeros_allowed=(data_zeros, model_zeros), **kw)


def distribution_triples(**kw):
    """(target, data, model) prompt mixtures for the chain rule."""
    return distribution_tuples(3, zeros_allowed=(True, True, True), **kw)


@st.composite
def small_autoregressive_models(draw, *, max_horizon=5, max_vocab=3):
    """(data, model): autoregressive linear models sharing features, prompts and ``mu``.

    Features are either Markov (tabular over ``(x, h, prev, v)``) or depend on the whole
    prefix (a random table indexed by the prefix code); the model has either its own random
    parameter or the data's parameter plus noise, with scales drawn by hypothesis.
    """
    H = draw(st.integers(1, max_horizon))
    V = draw(st.integers(2, max_vocab))
    X = draw(st.integers(1, 2))
    d = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    prefix_dependent = draw(st.booleans())
    scale = draw(st.floats(0.1, 6.0))
    noise = draw(st.floats(0.0, 4.0))
    rng = np.random.default_rng(seed)
    if prefix_dependent:
        n_codes = V ** (H - 1) if H > 1 else 1
        table = rng.normal(size=(X, H, n_codes, V, d))
        powers = V ** np.arange(H)

        def fn(x, prefix, h, table=table, powers=powers):
            code = (prefix.astype(np.int64) * powers[:h]).sum(axis=1) if h > 0 else np.zeros(len(x), np.int64)
            return table[x, h, code]

        feats = CallableFeatures(fn, n_prompts=X, horizon=H, vocab_size=V, dim=d)
    else:
        feats = TabularFeatures(rng.normal(size=(X, 1 if draw(st.booleans()) else H, V + 1, V, d)), horizon=H)
    mu = _dirichlet(rng, 1.0, (X,)) if X > 1 else None
    theta_d = scale * rng.normal(size=d)
    theta_m = theta_d + noise * rng.normal(size=d) if draw(st.booleans()) else scale * rng.normal(size=d)
    data = AutoregressiveLinearModel(feats, theta_d, prompt_weights=mu)
    model = AutoregressiveLinearModel(feats, theta_m, prompt_weights=mu)
    return data, model


thresholds = st.lists(st.floats(0.0, 12.0), min_size=1, max_size=6).map(lambda v: np.exp(np.array(v)))
