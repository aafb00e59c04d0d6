r"""``hypothesis`` strategies for property tests of the coverage principle's statements.

Public: import them in your own tests.  Every strategy draws a small frozen **spec** from
:mod:`simulations.random_instances` (sizes, scales, flags and a seed); the spec's ``repr`` is
its constructor call, so a falsifying example is printed in a form that pastes back into
Python, and shrinking moves every size and scale towards its smallest value::

    from hypothesis import given
    from simulations.testing.strategies import linear_models, sgd_settings

    @given(spec=linear_models(features=("iid",), max_dim=64), run=sgd_settings())
    def test_my_claim(spec, run):
        instance = spec.build()           # an AutoregressiveLinearModel pi_D and exact evaluators
        eta = run.eta(instance)           # <= 1/(2 H B^2): Prop. 5.1's condition holds
        ...

What is drawn:

* :func:`linear_models` -- autoregressive linear models (Eq. (3); Assumptions 2.1, 2.2):
  vocabulary 2..8, horizon 1..64, dimension 1..512 (``d >> n`` allowed), features with
  :math:`\max\|\phi\| = B` (i.i.d.-token, Markov tabular or general callables),
  :math:`\|\theta_\star\| \le 1`, prompt laws with an optional rare prompt.
* :func:`finite_classes` -- finite classes of size 2..64 with a ladder of ratios,
  well-specified or misspecified.
* :func:`dimension_ladders` -- families of linear models indexed by ``d`` (up to 512) at
  fixed :math:`\pi_D`, ``B`` and :math:`\sigma_\star^2`, richer as ``d`` grows.
* learner settings that **satisfy** the conditions of the statement under test
  (:func:`sgd_settings`, :func:`normalized_sgd_settings`, :func:`ttt_settings`) and, as
  separate strategies, settings that **violate** them (:func:`violating_sgd_settings`,
  :func:`violating_normalized_sgd_settings`, :func:`violating_ttt_settings`).
* :func:`coverage_thresholds` and :func:`sample_sizes` (geometric).

``hypothesis`` is needed by this module only (``pip install "coverage-principle[test]"``).
"""

from __future__ import annotations

import math

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without hypothesis
    raise ImportError(
        "simulations.testing.strategies needs the `hypothesis` package (a test-time dependency): "
        "install it with `pip install \"coverage-principle[test]\"` or `pip install hypothesis`."
    ) from exc

from simulations.random_instances import (FEATURE_KINDS, MAX_EXACT_POINTS, DimensionLadderSpec,
                                          FiniteClassSpec, LinearModelSpec, NormalizedSGDSettings,
                                          SGDSettings, TTTSettings, exact_support_size)

__all__ = [
    "log_uniform",
    "powers_of_two",
    "coverage_thresholds",
    "sample_sizes",
    "linear_models",
    "finite_classes",
    "dimension_ladders",
    "sgd_settings",
    "violating_sgd_settings",
    "normalized_sgd_settings",
    "violating_normalized_sgd_settings",
    "ttt_settings",
    "violating_ttt_settings",
]

#: Seeds drawn by the strategies (shrink towards 0).
_SEEDS = st.integers(0, 2 ** 31 - 1)


def log_uniform(low, high):
    """Floats in ``[low, high]`` uniform on a log scale (shrinking towards ``low``).

    Parameters
    ----------
    low, high : float
        ``0 < low <= high``.

    Returns
    -------
    SearchStrategy[float]

    Examples
    --------
    >>> from hypothesis import find
    >>> find(log_uniform(1e-3, 1.0), lambda x: True)      # shrinks to the low end
    0.001
    """
    if not 0 < low <= high:
        raise ValueError(f"`low` and `high` must satisfy 0 < low <= high, got {low}, {high}.")
    if low == high:
        return st.just(float(low))
    a, b = math.log(low), math.log(high)

    def point(u):
        return float(low) if u == 0 else float(high) if u == 1 else float(min(high, max(low, math.exp(a + u * (b - a)))))

    return st.floats(0.0, 1.0).map(point)


def powers_of_two(low, high):
    """Integers ``2**k`` in ``[low, high]`` (both powers of two or rounded inwards).

    Parameters
    ----------
    low, high : int
        ``1 <= low <= high``.

    Returns
    -------
    SearchStrategy[int]

    Examples
    --------
    >>> from hypothesis import find
    >>> find(powers_of_two(16, 64), lambda k: k > 16)
    32
    """
    k0, k1 = math.ceil(math.log2(low)), math.floor(math.log2(high))
    if k0 > k1:
        raise ValueError(f"no power of two in [{low}, {high}].")
    return st.integers(k0, k1).map(lambda k: 2 ** k)


def coverage_thresholds(low=2.0, high=1e4):
    """Coverage thresholds :math:`N` (log-uniform in ``[low, high]``, ``low >= 1``).

    Parameters
    ----------
    low, high : float
        Range of :math:`N` (Definition 1.1 needs ``N >= 1``).

    Returns
    -------
    SearchStrategy[float]

    Examples
    --------
    >>> from hypothesis import find
    >>> find(coverage_thresholds(8.0, 64.0), lambda N: True)
    8.0
    """
    if low < 1:
        raise ValueError(f"`low` must be >= 1, got {low}.")
    return log_uniform(low, high)


def sample_sizes(low=8, high=4096):
    """Sample sizes ``n`` on the geometric grid ``2**k`` in ``[low, high]``.

    Parameters
    ----------
    low, high : int
        Range of ``n``.

    Returns
    -------
    SearchStrategy[int]

    Examples
    --------
    >>> from hypothesis import find
    >>> find(sample_sizes(8, 4096), lambda n: n >= 100)
    128
    """
    return powers_of_two(low, high)


def _int_range(value, name):
    lo, hi = (value, value) if isinstance(value, int) else value
    if not (isinstance(lo, int) and isinstance(hi, int)) or lo > hi:
        raise ValueError(f"`{name}` must be an int or a (low, high) pair of ints, got {value!r}.")
    return lo, hi


def _float_range(value, name):
    lo, hi = (value, value) if isinstance(value, (int, float)) else value
    if lo > hi:
        raise ValueError(f"`{name}` must be a number or a (low, high) pair, got {value!r}.")
    return float(lo), float(hi)


@st.composite
def linear_models(draw, *, vocab=(2, 8), horizon=(1, 64), dim=(1, 512), B=(0.25, 8.0),
                  features=FEATURE_KINDS, n_prompts=(1, 4), rare_mass=(1e-3, 0.2), theta_norm=(0.0, 1.0),
                  max_exact_points=None, min_dim=None, max_dim=None):
    r"""Specs of autoregressive linear models :math:`\pi_D = \pi_{\theta_\star}` (:class:`~simulations.random_instances.LinearModelSpec`).

    The models of Theorem 4.2, Prop. 5.1 and Theorems 5.1, 6.1 under Assumptions 2.1 and
    2.2 (realizable, :math:`\|\theta_\star\|\le1`, :math:`\max\|\phi\| = B`).

    Parameters
    ----------
    vocab, horizon, dim, n_prompts : int or (int, int)
        Fixed value or inclusive range (``V``, ``H``, ``d``, number of prompts).
    B : float or (float, float)
        Feature-norm bound (log-uniform over a range).
    features : tuple of str
        Feature kinds to draw from (``"iid"``, ``"markov"``, ``"callable"``).
    rare_mass : (float, float) or None
        Range (log-uniform) of the last prompt's mass when a rare prompt is drawn (half
        of the multi-prompt draws); ``None``: never.
    theta_norm : float or (float, float)
        :math:`\|\theta_\star\|`.
    max_exact_points : int, optional
        Cap on the support exact coverage evaluation sums over (count vectors for i.i.d.
        tokens, ``X V^H`` sequences otherwise); the horizon is drawn below it.
    min_dim, max_dim : int, optional
        Override the ``dim`` range's ends (e.g. ``min_dim = 4 n`` for ``d >> n``).

    Returns
    -------
    SearchStrategy[LinearModelSpec]
        ``spec.build()`` gives the :class:`~simulations.random_instances.LinearInstance`.

    Examples
    --------
    >>> from hypothesis import find
    >>> spec = find(linear_models(features=("iid",)), lambda s: s.dim >= 100 and s.rare_mass > 0)
    >>> spec                                   # the smallest spec with the property: pasteable
    LinearModelSpec(vocab=2, horizon=1, dim=100, B=0.25, features='iid', n_prompts=2, rare_mass=0.001, theta_norm=0.0, seed=0)
    >>> inst = spec.build()
    >>> inst.data.dim, inst.features.bound, float(inst.data.prompt_weights[-1])
    (100, 0.25, 0.001)
    """
    V = draw(st.integers(*_int_range(vocab, "vocab")))
    kind = draw(st.sampled_from(tuple(features)))
    X = draw(st.integers(*_int_range(n_prompts, "n_prompts")))
    h_lo, h_hi = _int_range(horizon, "horizon")
    cap = MAX_EXACT_POINTS if max_exact_points is None else max_exact_points
    if kind != "iid" or max_exact_points is not None:
        while h_hi > h_lo and exact_support_size(kind, X, V, h_hi) > cap:
            h_hi -= 1
    H = draw(st.integers(h_lo, h_hi))
    d_lo, d_hi = _int_range(dim, "dim")
    d_lo = d_lo if min_dim is None else max(d_lo, min_dim)
    d_hi = d_hi if max_dim is None else min(d_hi, max_dim)
    d = draw(st.integers(d_lo, max(d_lo, d_hi)))
    b = draw(log_uniform(*_float_range(B, "B")))
    rare = 0.0
    if X >= 2 and rare_mass is not None and draw(st.booleans()):
        rare = draw(log_uniform(*_float_range(rare_mass, "rare_mass")))
    norm = draw(st.floats(*_float_range(theta_norm, "theta_norm")))
    return LinearModelSpec(vocab=V, horizon=H, dim=d, B=b, features=kind, n_prompts=X, rare_mass=rare,
                           theta_norm=norm, seed=draw(_SEEDS))


@st.composite
def finite_classes(draw, *, size=(2, 64), vocab=(2, 4), horizon=(1, 3), n_prompts=(1, 3), iid=(True, False),
                   ratio=(1.5, 32.0), levels=(1, 4), max_distorted=(1, 3), well_specified=(True,),
                   rare_mass=(1e-3, 0.2)):
    r"""Specs of finite classes :math:`\Pi` with a ladder of ratios (:class:`~simulations.random_instances.FiniteClassSpec`).

    The finite classes of Theorem 4.1 / Corollary 4.1 (well-specified, Assumption 2.1) and
    of the misspecified setting of Prop. G.2 (ICLR) / E.2 (arXiv).

    Parameters
    ----------
    size, vocab, horizon, n_prompts, levels, max_distorted : int or (int, int)
        :math:`|\Pi|`, ``V``, ``H``, prompts, rungs of the ratio ladder, distorted
        transitions per member.
    iid : tuple of bool
        Token laws to draw (``True``: i.i.d. tokens given the prompt; ``False``: Markov).
    ratio : float or (float, float)
        Base ratio of the ladder (log-uniform).
    well_specified : tuple of bool
        ``(True,)``: :math:`\pi_D\in\Pi`; ``(False,)``: misspecified; ``(True, False)``: both.
    rare_mass : (float, float) or None
        As in :func:`linear_models`.

    Returns
    -------
    SearchStrategy[FiniteClassSpec]

    Examples
    --------
    >>> from hypothesis import find
    >>> spec = find(finite_classes(well_specified=(False,)), lambda s: s.size >= 3)
    >>> spec
    FiniteClassSpec(size=3, vocab=2, horizon=1, n_prompts=1, iid=True, ratio=1.5, levels=1, max_distorted=1, well_specified=False, rare_mass=0.0, seed=0)
    >>> inst = spec.build()
    >>> inst.size, inst.truth_index
    (3, None)
    """
    V = draw(st.integers(*_int_range(vocab, "vocab")))
    X = draw(st.integers(*_int_range(n_prompts, "n_prompts")))
    h_lo, h_hi = _int_range(horizon, "horizon")
    while h_hi > h_lo and X * V ** h_hi > MAX_EXACT_POINTS:
        h_hi -= 1
    H = draw(st.integers(h_lo, h_hi))
    rare = 0.0
    if X >= 2 and rare_mass is not None and draw(st.booleans()):
        rare = draw(log_uniform(*_float_range(rare_mass, "rare_mass")))
    return FiniteClassSpec(size=draw(st.integers(*_int_range(size, "size"))), vocab=V, horizon=H, n_prompts=X,
                           iid=draw(st.sampled_from(tuple(iid))),
                           ratio=draw(log_uniform(*_float_range(ratio, "ratio"))),
                           levels=draw(st.integers(*_int_range(levels, "levels"))),
                           max_distorted=draw(st.integers(*_int_range(max_distorted, "max_distorted"))),
                           well_specified=draw(st.sampled_from(tuple(well_specified))), rare_mass=rare,
                           seed=draw(_SEEDS))


@st.composite
def dimension_ladders(draw, *, vocab=(2, 4), horizon=(1, 16), n_prompts=(2, 16), B=(0.5, 8.0), shared=(0.1, 0.9),
                      rare_mass=(1e-3, 0.2), theta_norm=(0.0, 1.0), max_exact_points=4096):
    r"""Specs of dimension ladders (:class:`~simulations.random_instances.DimensionLadderSpec`).

    Linear models of every dimension on ``spec.dims()`` (up to 512) with the same
    :math:`\pi_D`, ``B`` and :math:`\sigma_\star^2`: the overparameterized setting of
    Theorem 4.2.

    Parameters
    ----------
    vocab, horizon, n_prompts : int or (int, int)
    B, shared, theta_norm : float or (float, float)
    rare_mass : (float, float) or None
    max_exact_points : int
        Cap on ``X * C(H + V - 1, V - 1)`` (exact coverage by the count-vector law).

    Returns
    -------
    SearchStrategy[DimensionLadderSpec]

    Examples
    --------
    >>> from hypothesis import find
    >>> spec = find(dimension_ladders(), lambda s: s.vocab == 3)
    >>> spec.dims(), [spec.build(d).sigma_star_sq == spec.build(2 * 3).sigma_star_sq for d in spec.dims()]
    ([6, 9, 512], [True, True, True])
    """
    V = draw(st.integers(*_int_range(vocab, "vocab")))
    X = draw(st.integers(*_int_range(n_prompts, "n_prompts")))
    h_lo, h_hi = _int_range(horizon, "horizon")
    while h_hi > h_lo and exact_support_size("iid", X, V, h_hi) > max_exact_points:
        h_hi -= 1
    H = draw(st.integers(h_lo, h_hi))
    rare = 0.0
    if X >= 2 and rare_mass is not None and draw(st.booleans()):
        rare = draw(log_uniform(*_float_range(rare_mass, "rare_mass")))
    return DimensionLadderSpec(vocab=V, horizon=H, n_prompts=X, B=draw(log_uniform(*_float_range(B, "B"))),
                               shared=draw(st.floats(*_float_range(shared, "shared"))), rare_mass=rare,
                               theta_norm=draw(st.floats(*_float_range(theta_norm, "theta_norm"))),
                               seed=draw(_SEEDS))


_INITS = ("antipodal", "zero", "random")


def _sgd(draw, T, N, fraction, inits, cls):
    return cls(T=draw(powers_of_two(*_int_range(T, "T"))), eta_fraction=draw(log_uniform(*fraction)),
               init=draw(st.sampled_from(tuple(inits))), N=draw(coverage_thresholds(*_float_range(N, "N"))))


def _violating_sgd(draw, T, N, fraction, inits, cls, condition):
    """:func:`_sgd` with ``eta * limit`` drawn in ``fraction``, which must lie above 1 (``condition`` <= 1)."""
    if fraction[0] <= 1:
        raise ValueError(f"`fraction` must lie above 1 (the condition is {condition} <= 1).")
    return _sgd(draw, T, N, fraction, inits, cls)


@st.composite
def sgd_settings(draw, *, T=(16, 2048), N=(2.0, 1e3), min_fraction=1e-2, inits=_INITS):
    r"""One-pass SGD settings meeting Prop. 5.1's condition :math:`\eta \le 1/(2HB^2)`.

    Parameters
    ----------
    T : int or (int, int)
        Steps (powers of two in the range).
    N : float or (float, float)
        Coverage threshold.
    min_fraction : float
        Smallest :math:`\eta\cdot2HB^2` drawn (log-uniform up to 1).
    inits : tuple of str
        Initialisations (:func:`~simulations.random_instances.initial_theta`).

    Returns
    -------
    SearchStrategy[SGDSettings]

    Examples
    --------
    >>> from hypothesis import find
    >>> find(sgd_settings(), lambda s: s.T >= 64)
    SGDSettings(T=64, eta_fraction=0.01, init='antipodal', N=2.0)
    """
    return _sgd(draw, T, N, (min_fraction, 1.0), inits, SGDSettings)


@st.composite
def violating_sgd_settings(draw, *, T=(16, 2048), N=(2.0, 1e3), fraction=(2.0, 64.0), inits=_INITS):
    r"""One-pass SGD settings **violating** Prop. 5.1's condition: :math:`\eta\cdot 2HB^2` in ``fraction`` (> 1).

    Returns
    -------
    SearchStrategy[SGDSettings]

    Examples
    --------
    >>> from hypothesis import find
    >>> find(violating_sgd_settings(), lambda s: True).satisfies_conditions
    False
    """
    return _violating_sgd(draw, T, N, fraction, inits, SGDSettings, "eta * 2 H B^2")


@st.composite
def normalized_sgd_settings(draw, *, T=(256, 8192), batch=(1, 16), N=(2.0, 1e3), inits=_INITS):
    r"""Normalized-SGD settings with Theorem 5.1's proof parameters (its conditions hold).

    :math:`\eta = \min\{1/(128B), (\log N/(\sigma_\star^2T))^{1/4}\}`, :math:`\lambda = \log N/(16\eta)`
    (:func:`theory.rates.normalized_sgd_parameters`), minibatch ``K`` drawn.

    Returns
    -------
    SearchStrategy[NormalizedSGDSettings]

    Examples
    --------
    >>> from hypothesis import find
    >>> find(normalized_sgd_settings(), lambda s: s.batch > 1)
    NormalizedSGDSettings(T=256, batch=2, N=2.0, eta_scale=1.0, lam_scale=1.0, init='antipodal')
    """
    return NormalizedSGDSettings(T=draw(powers_of_two(*_int_range(T, "T"))),
                                 batch=draw(st.integers(*_int_range(batch, "batch"))),
                                 N=draw(coverage_thresholds(*_float_range(N, "N"))),
                                 init=draw(st.sampled_from(tuple(inits))))


@st.composite
def violating_normalized_sgd_settings(draw, *, T=(256, 8192), batch=(1, 16), N=(2.0, 1e3), inits=_INITS):
    r"""Normalized-SGD settings **violating** Theorem 5.1's conditions.

    Either the step exceeds :math:`1/(128B)` (``eta_scale`` in ``[2, 64]``) or
    :math:`\lambda < 8B\log N` (``lam_scale`` in ``[1/64, 1/2]``).

    Returns
    -------
    SearchStrategy[NormalizedSGDSettings]

    Examples
    --------
    >>> from hypothesis import find
    >>> find(violating_normalized_sgd_settings(), lambda s: True).satisfies_conditions
    False
    """
    base = draw(normalized_sgd_settings(T=T, batch=batch, N=N, inits=inits))
    if draw(st.booleans()):
        return NormalizedSGDSettings(base.T, base.batch, base.N, eta_scale=draw(log_uniform(2.0, 64.0)),
                                     init=base.init)
    return NormalizedSGDSettings(base.T, base.batch, base.N, lam_scale=draw(log_uniform(1 / 64, 0.5)),
                                 init=base.init)


@st.composite
def ttt_settings(draw, *, T=(8, 512), N=(2.0, 1e3), min_fraction=1e-2, inits=_INITS):
    r"""Token-level SGD / test-time-training settings meeting Theorem 6.1's :math:`\eta \le 1/(2B^2)`.

    Returns
    -------
    SearchStrategy[TTTSettings]

    Examples
    --------
    >>> from hypothesis import find
    >>> find(ttt_settings(), lambda s: True).satisfies_conditions
    True
    """
    return _sgd(draw, T, N, (min_fraction, 1.0), inits, TTTSettings)


@st.composite
def violating_ttt_settings(draw, *, T=(8, 512), N=(2.0, 1e3), fraction=(2.0, 64.0), inits=_INITS):
    r"""Token-level SGD settings **violating** Theorem 6.1's :math:`\eta \le 1/(2B^2)`.

    Returns
    -------
    SearchStrategy[TTTSettings]

    Examples
    --------
    >>> from hypothesis import find
    >>> find(violating_ttt_settings(), lambda s: True).satisfies_conditions
    False
    """
    return _violating_sgd(draw, T, N, fraction, inits, TTTSettings, "eta * 2 B^2")
