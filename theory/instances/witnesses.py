r"""Witnesses of the coverage paper's inequalities: instances on which a bound is attained.

Each function builds the instance on which one inequality of :mod:`theory.bounds` is attained,
or attained up to its stated constant (the sharpness half of a statement, or a [derived]
construction where the paper only asserts sharpness).  They are used by the sharpness tests
and by the ``inequalities`` experiment.

=======================================  ==============================================================
function                                 witnesses
=======================================  ==============================================================
:func:`bernoulli_witness`                Props. F.1 / D.1, F.4 / D.4 (and 3.1, F.10 / D.10, Markov):
                                         Ber(p) against Ber(p/N)
:func:`kl_tightness_instance`            Prop. F.2 / D.2 (:math:`p \le 1/2`, :math:`N \ge 2`)
:func:`coverage_decay_witness`           Prop. F.3 / D.3 [derived]
:func:`chain_rule_witness`               Prop. F.5 / D.5 [derived]
:func:`hellinger_converse_witness`       Prop. F.11 / D.11 [derived]
:func:`lemma_j1_witness`                 Lemma J.1 (ICLR; arXiv number not in the notes) [derived]
=======================================  ==============================================================

They return :class:`Witness` (normalised log-probabilities), :class:`BernoulliWitness`
(closed forms over a grid of ``p`` and ``N``) or a pair of
:class:`~theory.models.MarkovModel`, not an :class:`~theory.instances.Instance` (no model
class is involved): so, unlike the other modules of :mod:`theory.instances`, their names are
not re-exported at the package level, where ``bernoulli_witness`` already names the
Bernoulli :class:`~theory.instances.Instance` of :mod:`theory.instances.bernoulli`.  Import
them from this module.  (They lived in :mod:`theory.bounds` before; the old names still
resolve there with a ``DeprecationWarning``.)

Numbering: ICLR camera-ready first, arXiv v2 second (Section 10 of the reference notes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..models import MarkovModel
from ..validation import as_float_array, check_allocation, check_int, check_real, check_thresholds, readonly

__all__ = [
    "Witness",
    "BernoulliWitness",
    "bernoulli_witness",
    "kl_tightness_instance",
    "coverage_decay_witness",
    "chain_rule_witness",
    "hellinger_converse_witness",
    "lemma_j1_witness",
]


@dataclass(frozen=True)
class Witness:
    r"""A finite instance attaining (or nearly attaining) one of the bounds.

    Returned by the witnesses of Prop. F.3 / D.3, Prop. F.5 / D.5 and Lemma J.1 (ICLR; the
    arXiv number is not in the reference notes).

    Attributes
    ----------
    name : str
        Which statement it witnesses, e.g. ``"F.3"``.
    paper_ref : str
        The statement in both numberings.
    log_p_data : ([n_prompts,] m) ndarray
        Normalised log-probabilities of :math:`\pi_D` (``-inf`` allowed).
    log_p_model : ([n_prompts,] m) ndarray
        Normalised log-probabilities of the model :math:`\hat\pi`.
    log_p_target : ndarray or None
        A third distribution (:math:`\pi_T` of the chain rule), else ``None``.
    prompt_weights : ndarray or None
        Prompt distribution for 2-d arrays.
    params : dict
        Parameters of the construction.
    """

    name: str
    paper_ref: str
    log_p_data: np.ndarray
    log_p_model: np.ndarray
    log_p_target: np.ndarray | None = None
    prompt_weights: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        for attr in ("log_p_data", "log_p_model", "log_p_target", "prompt_weights"):
            val = getattr(self, attr)
            if val is not None:
                object.__setattr__(self, attr, readonly(np.asarray(val, dtype=float)))

    def to_dict(self):
        def lst(a):
            return None if a is None else np.where(np.isinf(a), None, a).tolist()
        return {"name": self.name, "paper_ref": self.paper_ref,
                "log_p_data": lst(self.log_p_data), "log_p_model": lst(self.log_p_model),
                "log_p_target": lst(self.log_p_target),
                "prompt_weights": lst(self.prompt_weights), "params": dict(self.params)}


@dataclass(frozen=True)
class BernoulliWitness:
    r"""The pair :math:`\pi_D=\mathrm{Ber}(p)`, :math:`\hat\pi=\mathrm{Ber}(p/N)` (Prop. F.2 / D.2).

    Arrays broadcast over ``p`` and ``N``; the last axis of the log-probability arrays
    is the outcome ``(1, 0)``.

    Attributes
    ----------
    p, N : ndarray
    log_p_data, log_p_model : (..., 2) ndarray
        Log-probabilities of the outcomes ``1`` and ``0``.
    log_ratio : (..., 2) ndarray
        :math:`\log(\pi_D/\hat\pi)` at the two outcomes, computed in closed form so that
        the first entry is *exactly* ``log N`` (the ``>= N`` tie is part of the witness).
    coverage : ndarray
        :math:`\mathrm{Cov}_N = p` (the outcome ``1`` has ratio exactly ``N``; the other
        has ratio :math:`(1-p)/(1-p/N) < 1`).
    kl : ndarray
        :math:`D_{KL} = p\log N + (1-p)\log\frac{1-p}{1-p/N}`.
    hellinger_sq : ndarray
        :math:`D_H^2` (one-half convention).
    """

    p: np.ndarray
    N: np.ndarray
    log_p_data: np.ndarray
    log_p_model: np.ndarray
    log_ratio: np.ndarray
    coverage: np.ndarray
    kl: np.ndarray
    hellinger_sq: np.ndarray

    def to_dict(self):
        return {k: np.asarray(getattr(self, k)).tolist() for k in
                ("p", "N", "log_p_data", "log_p_model", "log_ratio", "coverage", "kl", "hellinger_sq")}


def bernoulli_witness(p, N):
    r"""Ber(p) against Ber(p/N): the witness of Props. F.1, F.2, F.4 (and 3.1, F.10, Markov).

    .. math::

        \mathrm{Cov}_N = p,\qquad
        D_{KL} = p\log N + (1-p)\log\frac{1-p}{1-p/N}
        \;\xrightarrow[p\to0]{}\; p\,(\log N - 1 + 1/N),

    so Prop. F.1 / D.1 is attained as :math:`p\to0`; likewise
    :math:`D_H^2 = \tfrac p2(1-N^{-1/2})^2 + O(p^2)` attains Prop. F.4 / D.4.

    Parameters
    ----------
    p : float or array_like
        Data success probability in ``(0, 1)``.
    N : float or array_like
        Ratio ``> 1`` (finite).

    Returns
    -------
    BernoulliWitness

    Examples
    --------
    >>> from theory.bounds import kl_to_coverage_sharp
    >>> w = bernoulli_witness(1e-6, 4.0)
    >>> float(w.coverage)
    1e-06
    >>> round(float(w.coverage / kl_to_coverage_sharp(w.kl, 4.0)), 5)
    1.0
    """
    p = as_float_array(p, "p", allow_posinf=False, allow_neginf=False)
    if (p <= 0).any() or (p >= 1).any():
        raise ValueError("`p` must lie in (0, 1).")
    N = check_thresholds(N)
    if (N <= 1).any() or np.isinf(N).any():
        raise ValueError("`N` must be finite and > 1 for the Bernoulli witness.")
    p, N = np.broadcast_arrays(p, N)
    log_n = np.log(N)
    l1d, l0d = np.log(p), np.log1p(-p)
    l1m, l0m = np.log(p) - log_n, np.log1p(-p / N)
    lr0 = np.log1p(-p) - np.log1p(-p / N)
    kl = p * log_n + (1 - p) * lr0
    # Hellinger (1/2 convention) without cancellation: (sqrt a - sqrt b)^2 = (a-b)^2/(sqrt a + sqrt b)^2.
    h1 = p * (1 - 1 / np.sqrt(N)) ** 2
    d0 = (p / N - p)
    h0 = d0 ** 2 / (np.sqrt(1 - p) + np.sqrt(1 - p / N)) ** 2
    return BernoulliWitness(
        p=readonly(p.copy()), N=readonly(N.copy()),
        log_p_data=readonly(np.stack([l1d, l0d], axis=-1)),
        log_p_model=readonly(np.stack([l1m, l0m], axis=-1)),
        log_ratio=readonly(np.stack([log_n, lr0], axis=-1)),
        coverage=readonly(p.copy()), kl=readonly(kl), hellinger_sq=readonly(0.5 * (h1 + h0)))


def kl_tightness_instance(p, N):
    r"""The instance of Prop. F.2 (ICLR) / D.2 (arXiv): Ber(p) vs Ber(p/N), :math:`p\le\tfrac12`, :math:`N\ge2`.

    .. math::

        \mathrm{Cov}_N(\mathrm{Ber}(p)\|\mathrm{Ber}(p/N)) = p
        \;\ge\; \frac{D_{KL}}{\log N - \tfrac12 + \tfrac1{2N}} .

    Parameters
    ----------
    p : float or array_like
        :math:`p \in (0, \tfrac12]`.
    N : float or array_like
        Thresholds ``>= 1`` (the proposition takes :math:`N \ge 2`).

    Returns
    -------
    BernoulliWitness
        Compare its ``coverage`` with :func:`theory.bounds.kl_tightness_witness` of its ``kl``.

    Examples
    --------
    >>> from theory.bounds import kl_tightness_witness
    >>> w = kl_tightness_instance(0.5, 2.0)
    >>> bool(w.coverage >= kl_tightness_witness(w.kl, 2.0))
    True
    """
    pa = as_float_array(p, "p", allow_posinf=False, allow_neginf=False)
    if (pa <= 0).any() or (pa > 0.5).any():
        raise ValueError("`p` must lie in (0, 1/2] (Prop. F.2 / D.2).")
    Na = check_thresholds(N)
    if (Na < 2).any() or np.isinf(Na).any():
        raise ValueError("`N` must be finite and >= 2 (Prop. F.2 / D.2).")
    return bernoulli_witness(pa, Na)


def coverage_decay_witness(decay_constant, log_w_max, n_atoms):
    r"""[derived] Instance on which Prop. F.3 / D.3 is tight as ``n_atoms`` grows.

    :math:`Z` takes the values :math:`z_k = C r^k` (:math:`k=0..K`,
    :math:`r=(L/C)^{1/K}`, :math:`L=\log W_{\max}`) with tail
    :math:`\mathbb P[Z\ge z_k]=C/z_k`; the model puts the remaining mass
    :math:`1-\sum_k p_k e^{-z_k}` on an extra point of zero data probability.  Then
    :math:`\sup_N\mathrm{Cov}_N\log N = C`, :math:`\max Z = L` and

    .. math::

        D_{KL} = C\big(1 + K(1-r^{-1})\big) \ge C\Big(1 + u - \frac{u^2}{2K}\Big),
        \quad u = \log(L/C),

    so the ratio to the bound is at least :math:`1 - u^2/(2K(1+u))`.

    Parameters
    ----------
    decay_constant : float
        :math:`C \in (0, 1]`.
    log_w_max : float
        :math:`L > C`.
    n_atoms : int
        :math:`K \ge 1`.

    Returns
    -------
    Witness
        ``log_p_data``, ``log_p_model`` of shape ``(K + 2,)`` (last point: data-null sink).

    Examples
    --------
    >>> from theory.bounds import uniform_coverage_decay
    >>> w = coverage_decay_witness(0.5, 5.0, 1000)
    >>> C, L = uniform_coverage_decay(w.log_p_data[:-1] - w.log_p_model[:-1], weights=np.exp(w.log_p_data[:-1]))
    >>> round(C, 12), round(L, 12)
    (0.5, 5.0)
    """
    C = check_real(decay_constant, "decay_constant", low=0.0, high=1.0, low_open=True)
    L = check_real(log_w_max, "log_w_max", low=C, low_open=True)
    K = check_int(n_atoms, "n_atoms", low=1)
    check_allocation(64 * (K + 1) + (1 << 16), f"`n_atoms` = {K} atoms", "use fewer atoms")
    z = C * (L / C) ** (np.arange(K + 1) / K)
    z[-1] = L
    tail = C / z                                   # P[Z >= z_k]
    p = tail - np.concatenate([tail[1:], [0.0]])
    q = p * np.exp(-z)
    sink = 1.0 - q.sum()
    with np.errstate(divide="ignore"):
        lp = np.log(np.concatenate([p, [0.0]]))
    lq = np.concatenate([np.log(p) - z, [np.log(sink)]])
    return Witness("F.3", "Prop. F.3 (ICLR) / Prop. D.3 (arXiv)", lp, lq,
                   params={"C": C, "log_w_max": L, "n_atoms": K})


def chain_rule_witness(M1, M2, mass, slack):
    r"""[derived] Three distributions on which Prop. F.5 / D.5 holds with ratio ``1/(1+slack)``.

    On three points ``a, b, c`` (requires :math:`M_1>M_2>1+s`):
    :math:`\pi_T=(t,1-t,0)`, :math:`\pi_D=(t(1+s)/M_2,\,1-t,\,\cdot)`,
    :math:`\pi=(t/(M_1(1+s)),\,1-t,\,\cdot)` with :math:`t` = ``mass``, :math:`s` =
    ``slack`` (the third point takes the remaining mass).  At ``a``:
    :math:`\pi_T/\pi = (1+s)M_1` (counted), :math:`\pi_T/\pi_D = M_2/(1+s) < M_2`,
    :math:`\pi_D/\pi = (1+s)^2M_1/M_2` (counted); ``b`` has all ratios one and ``c`` has
    :math:`\pi_T = 0` and :math:`\pi_D/\pi < M_1/M_2`.  Every ratio is a factor
    :math:`1+s` away from its threshold (no floating-point ties).  So the left side is
    ``t`` and the right side ``t (1 + s)``: the factor :math:`M_2` cannot be lowered.

    Parameters
    ----------
    M1, M2 : float
        The chain rule's thresholds, :math:`M_1 > M_2 > 1 + s`.
    mass : float
        :math:`t \in (0, 1]`, the target mass at the point ``a``.
    slack : float
        :math:`s > 0`, the factor by which every ratio misses its threshold.

    Returns
    -------
    Witness
        ``log_p_target``, ``log_p_data``, ``log_p_model`` of shape ``(3,)``.

    Examples
    --------
    >>> w = chain_rule_witness(8.0, 4.0, 0.2, 1e-3)
    >>> np.exp(w.log_p_target).round(3), np.exp(w.log_p_model).round(3)
    (array([0.2, 0.8, 0. ]), array([0.025, 0.8  , 0.175]))
    """
    M1 = check_real(M1, "M1", low=1.0, low_open=True)
    M2 = check_real(M2, "M2", low=1.0, low_open=True)
    if not M1 > M2:
        raise ValueError("the witness needs `M1` > `M2`.")
    t = check_real(mass, "mass", low=0.0, high=1.0, low_open=True)
    s = check_real(slack, "slack", low=0.0, low_open=True)
    if (1 + s) >= M2:
        raise ValueError("`slack` must satisfy 1 + slack < M2.")
    pt = np.array([t, 1 - t, 0.0])
    pd = np.array([t * (1 + s) / M2, 1 - t, t - t * (1 + s) / M2])
    pm = np.array([t / (M1 * (1 + s)), 1 - t, t - t / (M1 * (1 + s))])
    with np.errstate(divide="ignore"):
        return Witness("F.5", "Prop. F.5 (ICLR) / Prop. D.5 (arXiv)", np.log(pd), np.log(pm),
                       log_p_target=np.log(pt), params={"M1": M1, "M2": M2, "mass": t, "slack": s})


def hellinger_converse_witness(horizon, mass):
    r"""[derived] Markov instance on which Prop. F.11 / D.11 holds with a gap of exactly :math:`\delta`.

    Two prompts: with probability ``mass`` the data emits token 0 at every step while the
    model emits token 1 (every step has :math:`D_H^2=1`, so the sum is ``H`` and the
    ratio is infinite); otherwise data and model agree (sum 0, ratio 1).  For any
    :math:`\delta` and :math:`N>1` with :math:`\log(N/\delta)\le H`:
    :math:`\mathrm{Cov}_N` = ``mass`` and the bound equals ``mass - delta``.

    Parameters
    ----------
    horizon : int
        ``H >= 1``.
    mass : float
        Weight of the disagreeing prompt, in ``(0, 1)``.

    Returns
    -------
    data, model : theory.models.MarkovModel
        Two prompts, ``V = 2``, horizon ``H``, prompt weights ``(mass, 1 - mass)``.

    Examples
    --------
    >>> d, m = hellinger_converse_witness(3, 0.25)
    >>> d.n_prompts, d.horizon
    (2, 3)
    """
    H = check_int(horizon, "horizon", low=1)
    t = check_real(mass, "mass", low=0.0, high=1.0, low_open=True, high_open=True)
    with np.errstate(divide="ignore"):
        zero_one = np.log([1.0, 0.0])
        one_zero = np.log([0.0, 1.0])
    half = np.log([0.5, 0.5])
    data = np.empty((2, 1, 3, 2))
    model = np.empty((2, 1, 3, 2))
    data[0] = zero_one
    model[0] = one_zero
    data[1] = half
    model[1] = half
    mu = np.array([t, 1 - t])
    return MarkovModel(data, H, mu), MarkovModel(model, H, mu)


def lemma_j1_witness(C):
    r"""[derived] The instance showing that ``log 4`` in Lemma J.1 cannot be lowered.

    For :math:`C\le\log 4` let :math:`\pi_D=(a, 1-a)`, :math:`\pi=(0,1)` with
    :math:`1-a=e^C/4`.  Then the expectation equals
    :math:`e^{-C/2}+e^{C/2}/4 = 1 + (e^{C/2}-2)^2/(4e^{C/2})`: exactly one at
    :math:`C=\log4` and above one for every :math:`C<\log4`.  (Lemma J.1 is numbered in
    the ICLR version; the reference notes do not give its arXiv v2 number.)

    Parameters
    ----------
    C : float
        Clipping level, ``<= log 4``.

    Returns
    -------
    Witness
        ``log_p_data`` :math:`=\log(a, 1-a)` and ``log_p_model`` :math:`=\log(0, 1)`.

    Examples
    --------
    >>> from theory.bounds import lemma_j1_clipped_exponential
    >>> w = lemma_j1_witness(np.log(4.0))
    >>> float(lemma_j1_clipped_exponential(w.log_p_data, w.log_p_model, np.log(4.0)))
    1.0
    """
    C = check_real(C, "C", high=np.log(4.0) + 1e-15)
    one_minus_a = min(np.exp(C) / 4.0, 1.0)
    with np.errstate(divide="ignore"):
        lp = np.array([np.log1p(-one_minus_a), np.log(one_minus_a)])
        lq = np.log([0.0, 1.0])
    return Witness("J.1", "Lemma J.1 (ICLR; the arXiv number is not in the reference notes)", lp, lq, params={"C": C})
