r"""Random instances of the paper's model classes, and learner settings, in plain numpy.

Shared by the experiments, the public ``hypothesis`` strategies
(:mod:`simulations.testing.strategies`) and the rate properties of the test suite.  Every random
object is described by a small frozen **spec** (sizes, scales, flags and a ``seed``); its
``repr`` is the constructor call, so a failing example can be pasted back into Python::

    >>> spec = LinearModelSpec(vocab=3, horizon=4, dim=64, B=1.5, n_prompts=2, seed=7)
    >>> spec
    LinearModelSpec(vocab=3, horizon=4, dim=64, B=1.5, features='iid', n_prompts=2, rare_mass=0.0, theta_norm=0.5, seed=7)
    >>> inst = spec.build()
    >>> inst.data.dim, inst.B, bool(np.linalg.norm(inst.theta_star) <= 1)
    (64, 1.5, True)

Specs and what ``build()`` returns:

* :class:`LinearModelSpec` → :class:`LinearInstance`: an autoregressive linear model
  :math:`\pi_{\theta_\star}` (Eq. (3); Assumptions 2.1–2.2): vocabulary ``V``, horizon ``H``,
  dimension ``d`` (any ``d``, also ``d >> n``), features with :math:`\max\|\phi\| = B`
  exactly (i.i.d.-token, Markov tabular, or general prefix-dependent callables),
  :math:`\|\theta_\star\| \le 1`, a prompt distribution with an optional rare prompt.
* :class:`FiniteClassSpec` → :class:`FiniteClassInstance`: a finite class of Markov models
  whose members under-weight transitions of :math:`\pi_D` by ratios on a geometric ladder;
  well-specified (:math:`\pi_D\in\Pi`, Assumption 2.1) or misspecified (every member shares a
  defect).
* learner settings (:class:`SGDSettings`, :class:`NormalizedSGDSettings`,
  :class:`TTTSettings`): step sizes as fractions of the statements' limits, so that one
  spec says whether the conditions of Prop. 5.1, Theorem 5.1 or Theorem 6.1 hold.

Exact evaluation (no sampling): :meth:`LinearInstance.kl` (closed form for i.i.d. tokens,
forward marginals for Markov features, enumeration otherwise),
:meth:`LinearInstance.coverage` (count-vector law or enumeration),
:meth:`FiniteClassInstance.exact` (enumeration).  :meth:`LinearInstance.reduced` gives the
same model in the span of its features (an isometry), so learners run at the cost of
``rank(features)`` dimensions whatever ``d``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from theory.validation import check_int, check_real, check_rng
from theory.coverage import coverage_profile
from theory.divergences import categorical_kl
from theory.iid_tokens import IidTokenLaw, iid_token_log_probs
from theory.log_ratio import markov_kl
from theory.models import AutoregressiveLinearModel, CallableFeatures, MarkovModel, TabularFeatures
from theory.models.markov import enumerate_sequences

__all__ = [
    "FEATURE_KINDS",
    "MAX_EXACT_POINTS",
    "exact_support_size",
    "dirichlet",
    "prompt_distribution",
    "LinearModelSpec",
    "LinearInstance",
    "DimensionLadderSpec",
    "FiniteClassSpec",
    "FiniteClassInstance",
    "SGDSettings",
    "NormalizedSGDSettings",
    "TTTSettings",
    "initial_theta",
]

#: Feature maps :class:`LinearModelSpec` can draw.
FEATURE_KINDS = ("iid", "markov", "callable")

#: Largest support (prompts x sequences, or count vectors) evaluated exactly.
MAX_EXACT_POINTS = 1 << 16


def exact_support_size(features, n_prompts, vocab, horizon):
    """Points an exact evaluation sums over: count vectors ``X C(H+V-1, V-1)`` for i.i.d. tokens, else ``X V^H``.

    Examples
    --------
    >>> exact_support_size("iid", 2, 3, 4), exact_support_size("markov", 2, 3, 4)
    (30, 162)
    """
    if features == "iid":
        return n_prompts * math.comb(horizon + vocab - 1, vocab - 1)
    return n_prompts * vocab ** horizon


def dirichlet(rng, concentration, shape):
    """Dirichlet draws along the last axis of ``shape`` (gamma normalisation; never all-zero rows).

    Examples
    --------
    >>> p = dirichlet(np.random.default_rng(0), 0.5, (3, 4))
    >>> p.shape, bool(np.allclose(p.sum(-1), 1))
    ((3, 4), True)
    """
    rng = check_rng(rng)
    g = rng.gamma(concentration, size=shape)
    g = np.where(g.sum(-1, keepdims=True) > 0, g, 1.0)   # tiny concentrations can underflow to 0
    return g / g.sum(-1, keepdims=True)


def prompt_distribution(rng, n_prompts, rare_mass=0.0):
    """Prompt law :math:`\\mu`: the last prompt has mass ``rare_mass`` (if ``> 0``), the others a Dirichlet(2) share.

    Examples
    --------
    >>> mu = prompt_distribution(np.random.default_rng(0), 3, 0.01)
    >>> float(mu[-1]), bool(np.isclose(mu.sum(), 1))
    (0.01, True)
    """
    rng = check_rng(rng)
    n_prompts = check_int(n_prompts, "n_prompts", low=1)
    rare_mass = check_real(rare_mass, "rare_mass", low=0.0, high=1.0, high_open=True)
    if n_prompts == 1:
        if rare_mass > 0:
            raise ValueError("`rare_mass` needs `n_prompts` >= 2.")
        return np.ones(1)
    if rare_mass == 0:
        return dirichlet(rng, 2.0, (n_prompts,))
    return np.append((1.0 - rare_mass) * dirichlet(rng, 2.0, (n_prompts - 1,)), rare_mass)


def _scaled_rows(rng, shape, B):
    """Gaussian directions with norms in ``[B/4, B]``, the largest exactly ``B``."""
    g = rng.normal(size=shape)
    norms = np.linalg.norm(g, axis=-1, keepdims=True)
    g = g / np.where(norms > 0, norms, 1.0)
    scale = rng.uniform(0.25, 1.0, size=shape[:-1] + (1,))
    flat = scale.reshape(-1)
    flat[np.argmax(flat)] = 1.0
    return B * g * scale


def _unit_vector(rng, d):
    g = rng.normal(size=d)
    return g / np.linalg.norm(g)


# ---------------------------------------------------------------------------------- linear
@dataclass(frozen=True)
class LinearModelSpec:
    r"""Recipe of a random autoregressive linear model :math:`\pi_{\theta_\star}` (Eq. (3)).

    Parameters
    ----------
    vocab : int
        Vocabulary size ``V >= 2``.
    horizon : int
        Sequence length ``H >= 1``.
    dim : int
        Parameter dimension ``d >= 1`` (any size: the rank of the features is at most the
        number of feature rows).
    B : float
        Feature-norm bound of Assumption 2.2, attained: :math:`\max\|\phi\| = B`.
    features : {"iid", "markov", "callable"}
        ``"iid"``: :math:`\phi(x, y_{1:h}) = \Phi[x, y_h]` (tokens i.i.d. given the prompt);
        ``"markov"``: :math:`\Phi[x, h, y_{h-1}, y_h]` (tabular, position-dependent);
        ``"callable"``: a function of the whole prefix (:class:`~theory.models.CallableFeatures`,
        through a code of the prefix).
    n_prompts : int
        Number of prompts.
    rare_mass : float
        Mass of the last prompt (``0``: no rare prompt; needs ``n_prompts >= 2``).
    theta_norm : float
        :math:`\|\theta_\star\| \in [0, 1]` (Assumption 2.2: :math:`\Theta = B_2(1)`).
    seed : int
        Seed of every random draw of :meth:`build`.
    """

    vocab: int = 2
    horizon: int = 1
    dim: int = 1
    B: float = 1.0
    features: str = "iid"
    n_prompts: int = 1
    rare_mass: float = 0.0
    theta_norm: float = 0.5
    seed: int = 0

    def __post_init__(self):
        check_int(self.vocab, "vocab", low=2)
        check_int(self.horizon, "horizon", low=1)
        check_int(self.dim, "dim", low=1)
        check_real(self.B, "B", low=0.0, low_open=True)
        if self.features not in FEATURE_KINDS:
            raise ValueError(f"`features` must be one of {FEATURE_KINDS}, got {self.features!r}.")
        check_int(self.n_prompts, "n_prompts", low=1)
        check_real(self.rare_mass, "rare_mass", low=0.0, high=1.0, high_open=True)
        if self.rare_mass > 0 and self.n_prompts < 2:
            raise ValueError("`rare_mass` > 0 needs `n_prompts` >= 2.")
        check_real(self.theta_norm, "theta_norm", low=0.0, high=1.0)
        check_int(self.seed, "seed", low=0)

    def build(self):
        """The :class:`LinearInstance` (deterministic given the spec)."""
        rng = np.random.default_rng(self.seed)
        V, H, d, X, B = self.vocab, self.horizon, self.dim, self.n_prompts, float(self.B)
        if self.features == "iid":
            tok = _scaled_rows(rng, (X, V, d), B)
            table = np.ascontiguousarray(np.broadcast_to(tok[:, None, None], (X, 1, V + 1, V, d)))
            feats = TabularFeatures(table, H)
        elif self.features == "markov":
            feats = TabularFeatures(_scaled_rows(rng, (X, H, V + 1, V, d), B), H)
        else:
            feats = _prefix_code_features(rng, X, H, V, d, B)
        mu = prompt_distribution(rng, X, self.rare_mass)
        theta = self.theta_norm * _unit_vector(rng, d)
        data = AutoregressiveLinearModel(feats, theta, prompt_weights=mu)
        return LinearInstance(spec=self, data=data, B=B, recipe=f"{self!r}.build()")


def _prefix_code_features(rng, X, H, V, d, B, n_codes=8):
    r"""Callable features of the whole prefix: :math:`\phi(x, y_{1:h}, v) = T[x, h, c(y_{1:h}), v]`
    with :math:`c` a polynomial hash of the prefix into ``n_codes`` codes."""
    table = _scaled_rows(rng, (X, H, n_codes, V, d), B)
    mult = rng.integers(1, 1 << 20, size=H)

    def fn(x, prefix, h, table=table, mult=mult, n_codes=n_codes):
        code = (np.asarray(prefix, dtype=np.int64) * mult[:h]).sum(axis=1) % n_codes if h else 0
        return table[np.asarray(x), h, code]

    return CallableFeatures(fn, n_prompts=X, horizon=H, vocab_size=V, dim=d, bound=B)


@dataclass(frozen=True, eq=False, repr=False)
class LinearInstance:
    r"""A realizable autoregressive linear model :math:`\pi_D = \pi_{\theta_\star}` with exact evaluators.

    Attributes
    ----------
    spec : LinearModelSpec
        The recipe.
    data : AutoregressiveLinearModel
        :math:`\pi_D` (``theta`` is :math:`\theta_\star`).
    B : float
        :math:`\max\|\phi\|` (Assumption 2.2).
    basis : (d_full, d) ndarray or None
        For a :meth:`reduced` instance, the orthonormal basis mapping its parameters to the
        original ones (:math:`\theta_{full} = \text{basis}\,\theta`).
    recipe : str
        Python expression that rebuilds the instance (its ``repr``).
    """

    spec: LinearModelSpec
    data: AutoregressiveLinearModel
    B: float
    basis: np.ndarray | None = None
    recipe: str = ""

    def __repr__(self):
        return self.recipe

    # ------------------------------------------------------------------ basics
    @property
    def features(self):
        return self.data.features

    @property
    def theta_star(self):
        return np.asarray(self.data.theta)

    @property
    def horizon(self):
        return self.data.horizon

    @property
    def is_iid(self):
        return self.spec.features == "iid"

    @property
    def is_tabular(self):
        return isinstance(self.features, TabularFeatures)

    def model(self, theta):
        """:math:`\\pi_\\theta` with the same features and prompts (``theta`` ``(d,)`` or ``(P, d)``)."""
        return self.data.replace(theta=np.asarray(theta, dtype=float))

    @cached_property
    def sigma_star_sq(self):
        r"""Inherent variance :math:`\sigma_\star^2` (Eq. (6) ICLR / (8) arXiv), exact."""
        if self.is_tabular:
            return float(self.data.sigma_star_sq())
        return float(self.data.sigma_star_sq(max_sequences=MAX_EXACT_POINTS))

    @cached_property
    def token_table(self):
        """i.i.d. tokens: the ``(X, V, d)`` table :math:`\\Phi[x, v]`."""
        if not self.is_iid:
            raise ValueError("`token_table` exists for i.i.d.-token features only.")
        return np.asarray(self.features.table[:, 0, -1])

    # -------------------------------------------------------------- reduction
    def reduced(self, *vectors):
        r"""The same model in an orthonormal basis of :math:`\mathrm{span}\{\phi\}\cup\{\theta_\star, \text{vectors}\}`.

        The model depends on :math:`\theta` only through :math:`\langle\theta, \phi\rangle`,
        and every update of the learners (scores, projections onto :math:`B_2(1)`, the MLE
        started at 0) stays in that span, so training in the reduced coordinates and mapping
        back with :attr:`basis` gives the same iterates as training in :math:`\mathbb R^d`
        (an isometry: norms, :math:`B` and :math:`\sigma_\star^2` are unchanged).  Tabular
        features only.

        Parameters
        ----------
        *vectors : (d,) array_like
            Extra parameters to keep (e.g. an initialisation).

        Returns
        -------
        LinearInstance
            With ``dim = rank`` and :attr:`basis` ``(d, rank)``.
        """
        if not self.is_tabular:
            raise TypeError("reduced() needs tabular features.")
        t = np.asarray(self.features.table)
        d = t.shape[-1]
        rows = np.concatenate([t.reshape(-1, d), self.theta_star[None]]
                              + [np.asarray(v, dtype=float).reshape(1, d) for v in vectors])
        u, s, vt = np.linalg.svd(rows, full_matrices=False)
        rank = max(1, int((s > s.max() * 1e-12 * max(rows.shape)).sum())) if s.size and s.max() > 0 else 1
        q = vt[:rank].T                                               # (d, r)
        feats = TabularFeatures(t @ q, self.horizon)
        data = AutoregressiveLinearModel(feats, self.theta_star @ q, prompt_weights=self.data.prompt_weights)
        basis = q if self.basis is None else self.basis @ q
        return LinearInstance(spec=self.spec, data=data, B=self.B, basis=basis,
                              recipe=f"{self.recipe}.reduced()")

    # ------------------------------------------------------------- evaluation
    @cached_property
    def iid_law(self):
        """:class:`~theory.iid_tokens.IidTokenLaw` of the token counts (i.i.d. features, exact)."""
        return IidTokenLaw(iid_token_log_probs(self.token_table, self.theta_star), self.horizon,
                           self.data.prompt_weights, drop=0.0)

    def exact_points(self):
        """Number of support points the exact coverage evaluation sums over (:func:`exact_support_size`)."""
        return exact_support_size(self.spec.features, self.spec.n_prompts, self.spec.vocab, self.horizon)

    def kl(self, thetas):
        r"""Exact :math:`D_{KL}(\pi_D\|\pi_\theta)` for parameters ``(..., d)``: shape ``(...)``."""
        th = np.asarray(thetas, dtype=float)
        flat = th.reshape(-1, th.shape[-1])
        if self.is_iid:
            lp_d = iid_token_log_probs(self.token_table, self.theta_star)
            lq = iid_token_log_probs(self.token_table, flat)
            out = self.horizon * (categorical_kl(np.broadcast_to(lp_d, lq.shape), lq)
                                  @ self.data.prompt_weights)
        elif self.is_tabular:
            out = markov_kl(self.data, self.model(flat))
        else:
            lp_d, lp_m, w = self._enumerated(flat)
            out = ((lp_d - lp_m) * w).sum(-1)
        return np.asarray(out).reshape(th.shape[:-1])

    def coverage(self, thetas, N):
        r"""Exact :math:`\mathrm{Cov}_N(\pi_D\|\pi_\theta)` for parameters ``(..., d)``: ``(...) + np.shape(N)``."""
        th = np.asarray(thetas, dtype=float)
        flat = th.reshape(-1, th.shape[-1])
        if self.is_iid:   # count vectors are evaluated in chunks: allow a larger support than enumeration
            if self.exact_points() > 50 * MAX_EXACT_POINTS:
                raise ValueError(f"{self.exact_points()} count vectors: too many for exact coverage.")
            law = self.iid_law
            step = max(1, (1 << 22) // (law.counts.shape[0] * law.counts.shape[1] * law.vocab_size))
            out = np.concatenate([law.coverage(iid_token_log_probs(self.token_table, flat[i:i + step]), N)[0]
                                  for i in range(0, len(flat), step)])
        else:
            lp_d, lp_m, w = self._enumerated(flat)
            out = np.stack([coverage_profile(lp_d - row, N, weights=w) for row in lp_m])
        return out.reshape(th.shape[:-1] + np.shape(N))

    def _enumerated(self, flat):
        if self.exact_points() > MAX_EXACT_POINTS:
            raise ValueError(f"{self.exact_points()} sequences: too many to enumerate exactly.")
        _, _, lw = self.data.enumerate_support(max_sequences=MAX_EXACT_POINTS)
        w = np.exp(lw)
        lp_d = self.data.enumerate_log_probs(max_sequences=MAX_EXACT_POINTS).reshape(-1)
        lp_m = self.model(flat).enumerate_log_probs(max_sequences=MAX_EXACT_POINTS).reshape(len(flat), -1)
        return lp_d, lp_m, w


@dataclass(frozen=True)
class DimensionLadderSpec:
    r"""A family of linear models indexed by the dimension ``d`` at fixed :math:`\pi_D`, ``B`` and :math:`\sigma_\star^2`.

    i.i.d.-token features :math:`\phi(x, v) = B(a\,e_v + b\,f_{c(x,v)})` with
    :math:`a^2 = ` ``shared``, :math:`a^2 + b^2 = 1`: a *shared* direction per token (the
    first ``V`` coordinates) and a *private* one among the :math:`m = d - V` others,
    :math:`c(x, v) = (xV + v) \bmod m`.  Within a prompt the private directions are distinct
    (``m >= V``), so :math:`\|\phi\| = B` and
    :math:`\sigma_\star^2 = HB^2\sum_x\mu(x)(1 - \|p\|^2)` do not depend on ``d``;
    :math:`\theta_\star = (\ell/(aB), 0)` puts the same token law :math:`p = \mathrm{softmax}(\ell)`
    on every prompt, for every ``d``.  As ``d`` grows, prompts share fewer private directions:
    the class gets richer (more parameters the MLE can fit to each prompt's few samples),
    until ``d = V(1 + X)``; beyond, the extra coordinates are unused.  The overparameterized
    setting of Theorem 4.2 at fixed :math:`B` and :math:`\sigma_\star^2`.

    Parameters
    ----------
    vocab, horizon, n_prompts : int
        ``V >= 2``, ``H`` and ``X``.
    B : float
        Feature norm.
    shared : float
        :math:`a^2 \in (0, 1)`.
    rare_mass : float
        Mass of the last prompt (``0``: none).
    theta_norm : float
        :math:`\|\theta_\star\| \in [0, 1]`.
    seed : int
    """

    vocab: int = 2
    horizon: int = 1
    n_prompts: int = 2
    B: float = 1.0
    shared: float = 0.5
    rare_mass: float = 0.0
    theta_norm: float = 0.5
    seed: int = 0

    def __post_init__(self):
        check_int(self.vocab, "vocab", low=2)
        check_int(self.horizon, "horizon", low=1)
        check_int(self.n_prompts, "n_prompts", low=1)
        check_real(self.B, "B", low=0.0, low_open=True)
        check_real(self.shared, "shared", low=0.0, high=1.0, low_open=True, high_open=True)
        check_real(self.rare_mass, "rare_mass", low=0.0, high=1.0, high_open=True)
        check_real(self.theta_norm, "theta_norm", low=0.0, high=1.0)
        check_int(self.seed, "seed", low=0)

    @property
    def saturation(self):
        """The dimension ``V(1 + X)`` beyond which the class no longer grows."""
        return self.vocab * (1 + self.n_prompts)

    def dims(self, top=512):
        """The ladder ``2V, 3V, 5V, 9V, ...`` (private blocks doubling) up to the saturation, then ``top``."""
        out, k = [], 0
        while True:
            d = self.vocab * (1 + 2 ** k)
            out.append(min(d, self.saturation))
            if d >= self.saturation:
                break
            k += 1
        if top > out[-1]:
            out.append(int(top))
        return out

    def build(self, dim):
        """The :class:`LinearInstance` of dimension ``dim >= 2V``."""
        V, H, X, B = self.vocab, self.horizon, self.n_prompts, float(self.B)
        dim = check_int(dim, "dim", low=2 * V)
        rng = np.random.default_rng(self.seed)
        mu = prompt_distribution(rng, X, self.rare_mass)
        a, b = math.sqrt(self.shared), math.sqrt(1.0 - self.shared)
        u = _unit_vector(rng, V)
        m = dim - V
        tok = np.zeros((X, V, dim))
        for x in range(X):
            for v in range(V):
                tok[x, v, v] = B * a
                tok[x, v, V + (x * V + v) % m] = B * b
        table = np.ascontiguousarray(np.broadcast_to(tok[:, None, None], (X, 1, V + 1, V, dim)))
        theta = np.zeros(dim)
        theta[:V] = self.theta_norm * u
        spec = LinearModelSpec(vocab=V, horizon=H, dim=dim, B=B, features="iid", n_prompts=X,
                               rare_mass=self.rare_mass, theta_norm=self.theta_norm, seed=self.seed)
        data = AutoregressiveLinearModel(TabularFeatures(table, H), theta, prompt_weights=mu)
        return LinearInstance(spec=spec, data=data, B=B, recipe=f"{self!r}.build({dim})")


def initial_theta(instance, kind, seed=0):
    r"""An initialisation in :math:`\Theta = B_2(1)`: ``"zero"``, ``"antipodal"`` (:math:`-\theta_\star/\|\theta_\star\|`,
    the farthest point, :math:`\|\theta_0-\theta_\star\|\le 2`) or ``"random"`` (uniform direction, norm 1).

    Examples
    --------
    >>> inst = LinearModelSpec(dim=3, theta_norm=0.5).build()
    >>> round(float(np.linalg.norm(initial_theta(inst, "antipodal") - inst.theta_star)), 12)
    1.5
    """
    d = instance.theta_star.size
    if kind == "zero":
        return np.zeros(d)
    if kind == "antipodal":
        n = np.linalg.norm(instance.theta_star)
        return -instance.theta_star / n if n > 0 else np.eye(d)[0]
    if kind == "random":
        return _unit_vector(np.random.default_rng(seed), d)
    raise ValueError(f"`kind` must be 'zero', 'antipodal' or 'random', got {kind!r}.")


# ----------------------------------------------------------------------------- finite class
@dataclass(frozen=True)
class FiniteClassSpec:
    r"""Recipe of a finite class :math:`\Pi` of Markov models and a data distribution :math:`\pi_D`.

    :math:`\pi_D` has Dirichlet next-token laws (every probability at least ``floor``);
    each member distorts ``1..max_distorted`` transitions of :math:`\pi_D` (distinct
    contexts), dividing the probability of one token by a ratio ``ratio**k``
    (``k = 1..levels``: a geometric ladder) and scaling the other tokens of that context up
    to keep it normalised.  Well-specified: one member (at a random index) is :math:`\pi_D`
    (Assumption 2.1).  Misspecified: no member is :math:`\pi_D`; every member shares one
    defect, the top ratio on one transition.

    Parameters
    ----------
    size : int
        :math:`|\Pi|`, ``2..64`` in the strategies.
    vocab, horizon, n_prompts : int
        ``V >= 2``, ``H >= 1`` and number of prompts (``n_prompts * V**H`` is enumerated).
    iid : bool
        Tokens i.i.d. given the prompt (one next-token law per prompt).
    ratio : float
        Base ratio ``> 1`` of the ladder.
    levels : int
        Number of rungs.
    max_distorted : int
        Largest number of distorted transitions per member.
    well_specified : bool
        :math:`\pi_D \in \Pi`.
    rare_mass : float
        Mass of the last prompt (``0``: none).
    seed : int
    """

    size: int = 2
    vocab: int = 2
    horizon: int = 1
    n_prompts: int = 1
    iid: bool = True
    ratio: float = 4.0
    levels: int = 1
    max_distorted: int = 1
    well_specified: bool = True
    rare_mass: float = 0.0
    seed: int = 0
    floor: float = field(default=0.02, repr=False)

    def __post_init__(self):
        check_int(self.size, "size", low=1)
        check_int(self.vocab, "vocab", low=2)
        check_int(self.horizon, "horizon", low=1)
        check_int(self.n_prompts, "n_prompts", low=1)
        check_real(self.ratio, "ratio", low=1.0, low_open=True)
        check_int(self.levels, "levels", low=1)
        check_int(self.max_distorted, "max_distorted", low=1)
        check_int(self.seed, "seed", low=0)
        if exact_support_size("markov", self.n_prompts, self.vocab, self.horizon) > MAX_EXACT_POINTS:
            raise ValueError("`n_prompts * vocab**horizon` is too large to evaluate exactly.")

    def build(self):
        """The :class:`FiniteClassInstance` (deterministic given the spec)."""
        rng = np.random.default_rng(self.seed)
        V, H, X = self.vocab, self.horizon, self.n_prompts
        hd = 1 if self.iid else H
        conc = float(np.exp(rng.uniform(np.log(0.3), np.log(5.0))))
        p = dirichlet(rng, conc, (X, hd, 1 if self.iid else V + 1, V))
        p = (1 - V * self.floor) * p + self.floor
        p = np.ascontiguousarray(np.broadcast_to(p, (X, hd, V + 1, V)))
        mu = prompt_distribution(rng, X, self.rare_mass)
        if self.iid:
            contexts = [(x, 0, None) for x in range(X)]
        else:
            contexts = [(x, h, prev) for x in range(X) for h in range(H)
                        for prev in ((V,) if h == 0 else range(V))]
        top = self.ratio ** self.levels
        defect = None
        if not self.well_specified:
            c = contexts[rng.integers(len(contexts))]
            defect = (c, int(rng.integers(V)))
        members = []
        truth = int(rng.integers(self.size)) if self.well_specified else None
        for j in range(self.size):
            q = p.copy()
            if j != truth:
                k = int(rng.integers(1, min(self.max_distorted, len(contexts)) + 1))
                chosen = [contexts[i] for i in rng.choice(len(contexts), size=k, replace=False)]
                cells = [(c, int(rng.integers(V)), self.ratio ** int(rng.integers(1, self.levels + 1)))
                         for c in chosen if defect is None or c != defect[0]]
                if defect is not None:
                    cells.append((defect[0], defect[1], top))
                for (x, h, prev), v, r in cells:
                    _distort(q, x, h, prev, v, r)
            members.append(q)
        with np.errstate(divide="ignore"):
            data = MarkovModel(np.log(p), H, mu)
            cls = MarkovModel(np.log(np.stack(members)), H, mu)
        return FiniteClassInstance(spec=self, data=data, members=cls, truth_index=truth,
                                   recipe=f"{self!r}.build()")


def _distort(q, x, h, prev, v, r):
    """Divide ``q[x, h, prev, v]`` by ``r`` and scale the rest of the row to keep it normalised
    (``prev = None``: every previous-token row, i.e. an i.i.d.-token law)."""
    rows = slice(None) if prev is None else prev
    row = q[x, h, rows]
    pv = row[..., v].copy()
    new = pv / r
    scale = (1.0 - new) / (1.0 - pv)
    row *= scale[..., None] if np.ndim(scale) else scale
    row[..., v] = new
    q[x, h, rows] = row


@dataclass(frozen=True, eq=False, repr=False)
class FiniteClassInstance:
    r"""A finite class with exact coverage and KL of every member (by enumeration).

    Attributes
    ----------
    spec : FiniteClassSpec
    data : MarkovModel
        :math:`\pi_D`.
    members : MarkovModel
        The class, batched over the ``P`` members.
    truth_index : int or None
        Index of :math:`\pi_D` in the class (``None``: misspecified).
    recipe : str
        Python expression that rebuilds the instance (its ``repr``).
    """

    spec: FiniteClassSpec
    data: MarkovModel
    members: MarkovModel
    truth_index: int | None
    recipe: str = ""

    def __repr__(self):
        return self.recipe

    @property
    def size(self):
        return self.members.n_models

    @cached_property
    def _support(self):
        _, _, lw = self.data.enumerate_support()
        lp_d = self.data.enumerate_log_probs().reshape(-1)
        lp_m = self.members.enumerate_log_probs().reshape(self.size, -1)
        return lp_d, lp_m, np.exp(lw)

    def exact(self, N):
        r"""Exact :math:`\mathrm{Cov}_N(\pi_D\|\pi_j)` ``(P,) + np.shape(N)`` and :math:`D_{KL}(\pi_D\|\pi_j)` ``(P,)``."""
        lp_d, lp_m, w = self._support
        cov = np.stack([coverage_profile(lp_d - row, N, weights=w) for row in lp_m])
        keep = w > 0
        kl = ((lp_d[keep] - lp_m[:, keep]) * w[keep]).sum(-1)
        return cov, kl


# ------------------------------------------------------------------------- learner settings
@dataclass(frozen=True)
class SGDSettings:
    r"""One-pass sequence-level SGD (Eq. (8) ICLR / (14) arXiv) against Prop. 5.1's step condition.

    The step is :math:`\eta = \text{eta_fraction}/(2HB^2)`: Prop. 5.1 needs
    ``eta_fraction <= 1``.

    Parameters
    ----------
    T : int
        Steps (fresh sequences).
    eta_fraction : float
        :math:`\eta\cdot 2HB^2`.
    init : {"zero", "antipodal", "random"}
        :func:`initial_theta`.
    N : float
        Coverage threshold of the check.
    """

    T: int = 64
    eta_fraction: float = 1.0
    init: str = "antipodal"
    N: float = 16.0

    def eta(self, instance):
        """:math:`\\eta` on ``instance``."""
        return self.eta_fraction / (2.0 * instance.horizon * instance.B ** 2)

    @property
    def satisfies_conditions(self):
        return self.eta_fraction <= 1.0


@dataclass(frozen=True)
class NormalizedSGDSettings:
    r"""Normalized SGD (Eq. (10) ICLR / (17) arXiv) with Theorem 5.1's proof parameters.

    :math:`\eta = \text{eta_scale}\cdot\min\{1/(128B), (M/(\sigma_\star^2T))^{1/4}\}`,
    :math:`\lambda = \text{lam_scale}\cdot M/(16\eta)` with :math:`M = \log N`
    (:func:`theory.rates.normalized_sgd_parameters`).  The proof's conditions
    (:math:`\eta\le1/(128B)`, :math:`\lambda\ge 8BM`, :math:`\eta\lambda\le M/16`) hold iff
    ``eta_scale <= 1`` and ``lam_scale == 1`` (then :math:`\lambda\ge 8BM` follows).

    Parameters
    ----------
    T, batch : int
        Steps and minibatch size ``K``.
    N : float
        Coverage threshold (also sets :math:`M`).
    eta_scale, lam_scale : float
        Multipliers of the proof's :math:`\eta` and :math:`\lambda`.
    init : str
        :func:`initial_theta`.
    """

    T: int = 256
    batch: int = 1
    N: float = 16.0
    eta_scale: float = 1.0
    lam_scale: float = 1.0
    init: str = "antipodal"

    def parameters(self, instance):
        """``(eta, lam)`` on ``instance``."""
        from theory.rates import normalized_sgd_parameters

        eta, lam = normalized_sgd_parameters(T=self.T, N=self.N, B=instance.B, sigma_sq=instance.sigma_star_sq)
        eta = float(eta) * self.eta_scale
        return eta, self.lam_scale * math.log(self.N) / (16.0 * eta)

    @property
    def satisfies_conditions(self):
        return self.eta_scale <= 1.0 and self.lam_scale == 1.0


@dataclass(frozen=True)
class TTTSettings:
    r"""Token-level SGD and the test-time-training decoder (Theorem 6.1).

    The step is :math:`\eta = \text{eta_fraction}/(2B^2)`: Theorem 6.1's proof needs
    ``eta_fraction <= 1``.
    """

    T: int = 64
    eta_fraction: float = 1.0
    init: str = "antipodal"
    N: float = 16.0

    def eta(self, instance):
        """:math:`\\eta` on ``instance``."""
        return self.eta_fraction / (2.0 * instance.B ** 2)

    @property
    def satisfies_conditions(self):
        return self.eta_fraction <= 1.0
