r"""Constructions of Section 4 (generalization of maximum likelihood) and their exact evaluation.

Each constructor returns an :class:`~theory.instances.Instance`.  Where the paper states a
construction it is implemented as stated (constants quoted in the docstring); where the
paper (or the reference notes) leaves it open, the construction is marked **[derived]** and
the derivation is given.  Every instance here has token counts as sufficient statistics
(prompt-wise i.i.d. groups of positions), so coverage and KL are evaluated **exactly** at any
``H`` through :mod:`theory.count_law` (exact evaluators are the ``*_exact`` functions),
except Prop. K.1 whose learned model has position-specific parameters (Monte Carlo, see
:func:`prop_k1_monte_carlo_coverage`).

Token convention: binary vocabularies use tokens ``{0, 1}``; the paper's ``{-1, +1}`` is
:math:`s(y) = 2y - 1`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit, logsumexp

from ..validation import (as_finite_array, check_allocation, check_int, check_real, check_thresholds,
                           check_weights)
from ..count_law import count_log_ratio_law, group_sequence_log_probs, grouped_count_support
from ..models import AutoregressiveLinearModel, MarkovModel, TabularFeatures
from ._base import Instance

__all__ = [
    "finite_ladder_class",
    "finite_ladder_exact",
    "finite_rare_prompt_class",
    "prop_3_2_kl_lower_bound",
    "linear_pivotal_family",
    "linear_variance_family",
    "linear_variance_model",
    "linear_variance_kl",
    "linear_variance_monte_carlo_coverage",
    "prop_k1_high_dim",
    "prop_k1_monte_carlo_coverage",
    "prop_g1a",
    "prop_g1b",
    "prop_g2_misspecified",
    "mixture_convex_class",
    "grouped_exact_law",
]


#: Largest table (bytes) a constructor of this module allocates: the instances of the
#: paper need a few MB; beyond this the request is refused (``ValueError`` naming the size
#: argument) instead of exhausting memory.
MAX_TABLE_BYTES = 1 << 31


def _check_table(shape, name, value):
    """Refuse a float64 table of ``shape`` above :data:`MAX_TABLE_BYTES` (naming ``name``)."""
    n_bytes = 8 * int(np.prod([int(s) for s in shape], dtype=object))
    if n_bytes > MAX_TABLE_BYTES:
        raise ValueError(f"`{name}` = {value} needs a table of shape {tuple(shape)} "
                         f"({n_bytes / 2**30:.3g} GiB), more than the {MAX_TABLE_BYTES / 2**30:.3g} GiB "
                         "this module allocates.")
    check_allocation(n_bytes, f"`{name}` = {value} (a table of shape {tuple(shape)})",
                     "use a smaller size")


def _check_instance(instance, keys, constructor=None):
    """``instance`` must be an :class:`Instance` (of ``constructor``) whose params hold ``keys``."""
    if not isinstance(instance, Instance):
        raise TypeError(f"`instance` must be an Instance, got {type(instance).__name__}.")
    if constructor is not None and instance.name != constructor:
        raise ValueError(f"`instance` must come from {constructor}, got {instance.name!r}.")
    missing = [k for k in keys if k not in instance.params]
    if missing:
        raise ValueError(f"`instance` params lack {missing} (not a grouped construction of this module).")
    return instance.params


def _bernoulli_log_probs(logit):
    """``(..., 2)`` log-probabilities of tokens (0, 1) for logit ``log P(1)/P(0)``."""
    logit = np.asarray(logit, dtype=float)
    return np.stack([log_expit(-logit), log_expit(logit)], axis=-1)


def grouped_exact_law(instance, theta):
    r"""Exact law of :math:`\log\pi_D/\pi_\theta` for an instance with grouped i.i.d. positions.

    The law of Remark E.1 (ICLR) / 2.1 (arXiv) (coverage, Definition 1.1, is its upper tail;
    KL its mean), exact at any ``H`` for the constructions of Prop. 3.2 and the grouped
    classes of this module.

    Parameters
    ----------
    instance : Instance
        With ``params["groups"]`` (list of group sizes) and a ``"group_table"`` entry in
        ``instance.model_class``-compatible form: ``params`` keys ``group_feats``
        (shape ``(X, G, V, d)``) and the data parameter ``theta_star``.
    theta : (d,) or (P, d) array_like
        Parameters of the model(s) :math:`\pi_\theta`.

    Returns
    -------
    theory.log_ratio.LogRatioLaw
        ``evaluation="exact"``; ``values`` ``[P,] (m,)``.

    Examples
    --------
    >>> inst = prop_3_2_kl_lower_bound(8, 4, theta_star=1.0)
    >>> law = grouped_exact_law(inst, [0.5])
    >>> bool(np.isclose(law.kl(), grouped_exact_law(inst, [[0.5], [1.0]]).kl()[0]))
    True
    """
    p = _check_instance(instance, ("groups", "group_feats", "theta_star"))
    feats = np.asarray(p["group_feats"], dtype=float)                   # (X, G, V, d)
    th = as_finite_array(theta, "theta")
    if th.ndim not in (1, 2) or th.shape[-1] != feats.shape[-1]:
        raise ValueError(f"`theta` must have shape (d,) or (P, d) with d = {feats.shape[-1]}, got {th.shape}.")
    th = np.atleast_2d(th)
    lp_d = _group_log_probs(feats, np.asarray(p["theta_star"], dtype=float)[None])[0]
    lp_m = _group_log_probs(feats, th)
    counts, log_mult = grouped_count_support(p["groups"], feats.shape[2])
    d = group_sequence_log_probs(lp_d, counts)
    m = group_sequence_log_probs(lp_m, counts)
    law = count_log_ratio_law(d, m if np.ndim(theta) == 2 else m[0], log_mult, instance.data.prompt_weights)
    return law


def _group_log_probs(feats, theta):
    logits = np.einsum("xgvd,pd->pxgv", feats, theta)
    return logits - logsumexp(logits, axis=-1, keepdims=True)


def _grouped_linear(feats, groups, theta_star, mu, horizon):
    """A tabular linear model whose group ``g`` covers the next ``groups[g]`` positions."""
    x, g, v, d = feats.shape
    _check_table((x, horizon, v + 1, v, d), "horizon", horizon)
    table = np.zeros((x, horizon, v + 1, v, d))
    start = 0
    for gi, m in enumerate(groups):
        table[:, start:start + m] = feats[:, gi][:, None, None]
        start += m
    f = TabularFeatures(table, horizon)
    return f, AutoregressiveLinearModel(f, np.asarray(theta_star, dtype=float), mu)


# ----------------------------------------------------------------- finite classes
def finite_ladder_class(n_levels=12, horizon=16, ratio=10.0, q_max=None, q_min=None):
    r"""**[derived]** A realizable finite class with a ladder of rare tokens (Theorem 4.1 / Cor. 4.1).

    Vocabulary ``{0, 1, ..., K}``; tokens are i.i.d. over the ``H`` positions.  Under
    :math:`\pi_D`, token ``k >= 1`` has probability :math:`q_k`, a geometric ladder from
    ``q_max`` (default :math:`1/(2H)`) down to ``q_min`` (default :math:`10^{-5}/H`), and
    token 0 the rest.  Member ``j`` (bit ``k-1`` of ``j`` set) *under-weights* level ``k`` by
    the factor ``ratio``: :math:`p_{j,k} = q_k/r`, giving the mass to token 0.  So
    :math:`|\Pi| = 2^K`, member 0 is :math:`\pi_D` (realizable), and
    :math:`\sup|\log\pi_D - \log\pi_j| \le H\log r`.

    Why this instance: a rare token never seen in the ``nH`` training tokens is strictly
    under-weighted by the MLE (that raises the likelihood of token 0), so the MLE misses
    the mass of the unseen levels.  With a geometric ladder, the expected missed mass is
    :math:`\sum_k Hq_k(1-q_k)^{nH} \approx C\,(K-1)/(n\log(q_{max}/q_{min}))` for
    :math:`10/(Hq_{max}) \lesssim n \lesssim 0.1/(Hq_{min})` (Good--Turing), i.e. the rate
    :math:`\log|\Pi|/n` of Theorem 4.1 with slope ``-1`` in ``n``; this window is the
    pre-registered fitting window (``params["window"]``).

    As an autoregressive linear model: one-hot features :math:`\phi(x,y_{1:h}) = e_{y_h}`
    (``d = K + 1``) and :math:`\theta_j = \log p_j`.

    Parameters
    ----------
    n_levels : int, optional
        Number ``K`` of rare tokens (:math:`|\Pi| = 2^K`).
    horizon : int, optional
        Sequence length ``H``.
    ratio : float, optional
        Under-weighting factor :math:`r > 1`.
    q_max, q_min : float, optional
        Largest and smallest rare-token probabilities (defaults :math:`1/(2H)` and
        :math:`10^{-5}/H`).

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_D`; ``model_class`` the class (see the description);
        ``params`` the construction's parameters.

    Examples
    --------
    >>> inst = finite_ladder_class(n_levels=3, horizon=4)
    >>> inst.model_class.theta.shape, inst.params["window"] == [20, 10000]
    ((8, 4), True)
    """
    k = check_int(n_levels, "n_levels", low=1)
    h = check_int(horizon, "horizon", low=1)
    r = check_real(ratio, "ratio", low=1.0, low_open=True)
    q_max = 1.0 / (2 * h) if q_max is None else check_real(q_max, "q_max", low=0.0, low_open=True)
    q_min = 1e-5 / h if q_min is None else check_real(q_min, "q_min", low=0.0, low_open=True)
    if not q_min <= q_max:
        raise ValueError("`q_min` must be <= `q_max`.")
    _check_table((2 ** min(k, 64), (k + 1) * (k + 2)), "n_levels", k)     # 2**K models of V = K + 1 tokens
    q = np.geomspace(q_max, q_min, k)
    if q.sum() >= 1:
        raise ValueError(f"the ladder's total mass must be < 1: `q_max` = {q_max}, `q_min` = {q_min} and "
                         f"`n_levels` = {k} give {q.sum()}.")
    bits = (np.arange(2 ** k)[:, None] >> np.arange(k)[None, :]) & 1    # (P, K)
    rare = q[None, :] / np.where(bits == 1, r, 1.0)
    probs = np.concatenate([1.0 - rare.sum(1, keepdims=True), rare], axis=1)   # (P, V)
    v = k + 1
    table = np.zeros((1, 1, v + 1, v, v))
    table[0, 0, :] = np.eye(v)
    feats = TabularFeatures(table, h)
    cls = AutoregressiveLinearModel(feats, np.log(probs))
    window = [int(round(10 / (h * q_max))), int(round(0.1 / (h * q_min)))]
    return Instance("finite_ladder_class", "Theorem 4.1 / Corollary 4.1(i) (both numberings) [derived instance]",
                    data=cls[0], model_class=cls,
                    params={"n_levels": k, "horizon": h, "ratio": r, "q": q.tolist(), "window": window,
                            "class_size": 2 ** k})


def finite_ladder_exact(instance, N):
    r"""Exact coverage :math:`\mathrm{Cov}_N(\pi_D\|\pi_j)` and KL of every member of :func:`finite_ladder_class`.

    The coverage (Definition 1.1) and KL of the Theorem 4.1 instance, exact at any ``H``.

    For member ``j`` with under-weighted set ``S``,
    :math:`\log\pi_D/\pi_j = m_S\log r + c_0\log(p_{\star,0}/p_{j,0})`, where
    :math:`(m_S, c_0, H - m_S - c_0)` is trinomial with probabilities
    :math:`(q_S, p_{\star,0}, 1 - q_S - p_{\star,0})` under :math:`\pi_D`; the law is summed
    over its :math:`(H+1)(H+2)/2` points.

    Parameters
    ----------
    instance : Instance
        Returned by :func:`finite_ladder_class`.
    N : float or array_like
        Thresholds ``>= 1`` (flattened).

    Returns
    -------
    coverage : (P, len(N)) ndarray
        :math:`\mathrm{Cov}_N(\pi_D\|\pi_j)` of every member.
    kl : (P,) ndarray
        :math:`D_{KL}(\pi_D\|\pi_j)`.

    Examples
    --------
    >>> inst = finite_ladder_class(n_levels=2, horizon=4)
    >>> cov, kl = finite_ladder_exact(inst, [1.0, 4.0])
    >>> cov.shape, float(kl[0]), bool((kl[1:] > 0).all())    # member 0 is pi_D
    ((4, 2), 0.0, True)
    """
    from scipy.special import gammaln

    p = _check_instance(instance, ("q", "horizon", "ratio"), "finite_ladder_class")
    logn = np.log(check_thresholds(N, "N"))
    q = np.asarray(p["q"])
    h, r = p["horizon"], p["ratio"]
    theta = np.asarray(instance.model_class.theta)
    p0_star = 1.0 - q.sum()
    p0 = np.exp(theta[:, 0])
    bits = (np.arange(theta.shape[0])[:, None] >> np.arange(len(q))[None, :]) & 1
    q_s = bits @ q                                                        # (P,)
    m, c0 = np.meshgrid(np.arange(h + 1), np.arange(h + 1), indexing="ij")
    ok = m + c0 <= h
    m, c0 = m[ok], c0[ok]
    rest = h - m - c0
    rest_p = 1.0 - q_s - p0_star
    with np.errstate(divide="ignore", invalid="ignore"):
        logw = (gammaln(h + 1) - gammaln(m + 1) - gammaln(c0 + 1) - gammaln(rest + 1))[None, :] \
            + np.where(m[None] > 0, m[None] * np.log(q_s)[:, None], 0.0) + c0[None] * np.log(p0_star) \
            + np.where(rest[None] > 0, rest[None] * np.log(np.maximum(rest_p, 0.0))[:, None], 0.0)
    w = np.exp(logw)                                                      # (P, S)
    val = m[None] * np.log(r) + c0[None] * np.log(p0_star / p0)[:, None]
    cov = np.einsum("ps,psn->pn", w, (val[..., None] >= np.ravel(logn) - 1e-12).astype(float))
    kl = (w * val).sum(-1)
    return cov, kl


def finite_rare_prompt_class(horizon, n, *, n_members=15, a_star=0.0, b=1.5, rho=None, spacing=None):
    r"""**[derived]** Missing mass on a rare prompt: KL grows linearly in ``H``, coverage does not (Remark 3.1).

    Prompts ``{0, 1}`` with :math:`\mu(1) = \rho` (default :math:`1/n`).  Prompt 0: the first
    token is :math:`\mathrm{Ber}(\sigma(a))`, the other ``H-1`` tokens are uniform under every
    member (no information, whatever ``H``).  Prompt 1: all ``H`` tokens are i.i.d.
    :math:`\mathrm{Ber}(\sigma(b'))`.  Members :math:`j = 0..M-1` have
    :math:`a_j = a_\star + (j - j_\star)\Delta` and :math:`b'_j = b\,(-1)^{j - j_\star}`
    (truth :math:`j_\star = \lfloor M/2\rfloor`), with :math:`\Delta = 1/\sqrt n` (default),
    below the resolution :math:`\approx 2/\sqrt n` of prompt 0's data: the MLE picks a
    neighbour of the truth with constant probability, and half of the neighbours have the
    wrong sign on the rare prompt.  When prompt 1 is unseen (probability
    :math:`(1-\rho)^n \approx e^{-1}`) nothing corrects it, so
    :math:`D_{KL} = \rho H\,\mathrm{KL}(\sigma(b)\|\sigma(-b))` grows linearly in ``H`` while
    :math:`\mathrm{Cov}_N \le \rho` for every ``H``.  No ties: members differ on prompt 0.

    As an autoregressive linear model: ``d = 2``, :math:`\phi(0, y_{1:1}) = y_1 e_1`,
    :math:`\phi(0, y_{1:h}) = 0` for ``h > 1``, :math:`\phi(1, y_{1:h}) = y_h e_2`.
    ``spacing`` must stay below the resolution :math:`2/\sqrt n` (the premise of the construction).

    Parameters
    ----------
    horizon : int
        Sequence length ``H``.
    n : int
        Sample size the instance is built for (sets :math:`\rho` and :math:`\Delta`).
    n_members : int, optional
        Class size ``M >= 2``.
    a_star : float, optional
        True logit :math:`a_\star` of prompt 0's first token.
    b : float, optional
        Logit magnitude :math:`b` on the rare prompt.
    rho : float, optional
        Rare-prompt mass :math:`\mu(1) \in (0, 1)` (default :math:`1/n`).
    spacing : float, optional
        :math:`\Delta \in (0, 2/\sqrt n)` (default :math:`1/\sqrt n`).

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_D`; ``model_class`` the class (see the description);
        ``params`` the construction's parameters.
    """
    h = check_int(horizon, "horizon", low=1)
    n = check_int(n, "n", low=1)
    m = check_int(n_members, "n_members", low=2)
    _check_table((m, 64), "n_members", m)
    rho = 1.0 / n if rho is None else check_real(rho, "rho", low=0.0, high=1.0, low_open=True, high_open=True)
    resolution = 2.0 / np.sqrt(n)
    delta = 1.0 / np.sqrt(n) if spacing is None else check_real(spacing, "spacing", low=0.0, low_open=True,
                                                                 high=resolution, high_open=True)
    a_star = check_real(a_star, "a_star")
    b = check_real(b, "b")
    j_star = m // 2
    off = np.arange(m) - j_star
    theta = np.stack([a_star + off * delta, b * (-1.0) ** off], axis=1)
    groups = [1, h - 1] if h > 1 else [1]
    feats = np.zeros((2, len(groups), 2, 2))
    feats[0, 0, 1, 0] = 1.0                                              # prompt 0, first token
    feats[1, :, 1, 1] = 1.0                                              # prompt 1, every token
    mu = np.array([1.0 - rho, rho])
    f, cls = _grouped_linear(feats, groups, theta, mu, h)
    return Instance("finite_rare_prompt_class", "Remark 3.1 / Theorem 4.1 (both numberings) [derived instance]",
                    data=cls[j_star], model_class=cls,
                    params={"horizon": h, "n": n, "rho": rho, "spacing": delta, "b": b, "a_star": a_star,
                            "truth_index": j_star, "groups": groups, "group_feats": feats.tolist(),
                            "theta_star": theta[j_star].tolist()})


# -------------------------------------------------------------------- Prop. 3.2
def prop_3_2_kl_lower_bound(n, horizon, theta_star=1.0, rare_mass=None):
    r"""Prop. 3.2 (both numberings): KL of any proper estimator is :math:`\ge H/(4n)` w.p. :math:`\ge 1/4`.

    Construction (App. I): :math:`X = \{0, 1\}`, :math:`V = \{-1, 1\}` (tokens ``{0, 1}``,
    :math:`s = 2y - 1`), :math:`\mu(1) = 1/(2n)` (reference notes; ``rare_mass`` overrides),
    :math:`\phi(0, \cdot) = 0`, :math:`\phi(1, y_{1:h}) = s(y_h)`, :math:`\Theta = [-1, 1]`,
    :math:`\theta_\star\in\{-1, +1\}`.  So :math:`\pi_\theta(y_h = 1|1) = \sigma(2\theta)` and

    .. math:: D_{KL}(\pi_{\theta_\star}\|\pi_\theta) = H\,\mu(1)\,
              \mathrm{KL}(\mathrm{Ber}(\sigma(2\theta_\star))\|\mathrm{Ber}(\sigma(2\theta))).

    ``params["box"] = [-1, 1]``.

    Parameters
    ----------
    n : int
        Sample size (sets :math:`\mu(1) = 1/(2n)`).
    horizon : int
        Sequence length ``H``.
    theta_star : float, optional
        :math:`\theta_\star \in [-1, 1]` (the proposition uses :math:`\pm 1`).
    rare_mass : float, optional
        Overrides :math:`\mu(1)`, in ``(0, 1)``.

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_D`; ``model_class`` the class (see the description);
        ``params`` the construction's parameters.
    """
    n = check_int(n, "n", low=1)
    h = check_int(horizon, "horizon", low=1)
    ts = check_real(theta_star, "theta_star", low=-1.0, high=1.0)
    rho = 1.0 / (2 * n) if rare_mass is None else check_real(rare_mass, "rare_mass", low=0.0, high=1.0,
                                                              low_open=True, high_open=True)
    feats = np.zeros((2, 1, 2, 1))
    feats[1, 0, 0, 0] = -1.0
    feats[1, 0, 1, 0] = 1.0
    f, model = _grouped_linear(feats, [h], [ts], np.array([1.0 - rho, rho]), h)
    return Instance("prop_3_2_kl_lower_bound", "Prop. 3.2 (ICLR) / Prop. 3.2 (arXiv), App. I",
                    data=model, model_class=model.replace(theta=np.array([[ts]])),
                    params={"n": n, "horizon": h, "rare_mass": rho, "box": [-1.0, 1.0],
                            "groups": [h], "group_feats": feats.tolist(), "theta_star": [ts]})


# ------------------------------------------------------- Theorem 4.2 families
def linear_pivotal_family(horizon, *, n_prompts=16, pivotal=None, u=1.0, eps0=0.5, horizon_max=None,
                          decay=0.5, norm=0.9):
    r"""**[derived]** Overparameterized autoregressive linear instances for Theorem 4.2 (Cor. 4.2).

    ``K`` prompts with geometric masses :math:`\mu_k\propto` ``decay``:math:`^k` (a ladder, so
    rare prompts exist at every sample size); binary tokens; ``d = 2K`` with two
    coordinates per prompt:

    * the first ``m`` positions of prompt ``k`` are *pivotal*:
      :math:`\phi = B\,y_h\,e_k`, logit ``u`` under :math:`\pi_D` (variance
      :math:`\sigma(u)(1-\sigma(u))` each);
    * the other ``H - m`` positions are *near-deterministic*: :math:`\phi = B\,y_h\,e_{K+k}`,
      :math:`\pi_D(y_h = 1) = 1 - \varepsilon`, :math:`\varepsilon = \varepsilon_0/(H-m)`.

    ``pivotal=None`` gives the σ²⋆ ≍ H family (``m = H``: every token pivotal); an integer
    ``m`` gives the family with σ²⋆ essentially fixed as ``H`` grows (``m`` pivotal tokens,
    the rest contribute :math:`\le \varepsilon_0 B^2`).  ``B`` is fixed across the family
    (computed at ``horizon_max``, the largest logit) so that :math:`\|\theta_\star\|_2 \le` ``norm`` ``< 1``
    (Assumption 2.2 with :math:`\Theta = B_2(1)`).  On an unseen prompt the minimum-norm MLE
    is uniform, paying :math:`\approx (H - m)\log 2` of KL: KL grows with ``H``, coverage of
    that prompt is at most its mass.

    Parameters
    ----------
    horizon : int
        Sequence length ``H``.
    n_prompts : int, optional
        Number ``K`` of prompts.
    pivotal : int, optional
        Number ``m`` of pivotal positions (``None``: all ``H``).
    u : float, optional
        Logit of the pivotal tokens under :math:`\pi_D`.
    eps0 : float, optional
        :math:`\varepsilon_0 \in (0, 1)`, total mass of the near-deterministic deviations.
    horizon_max : int, optional
        Largest ``H`` of the family (fixes ``B``; default ``horizon``).
    decay : float, optional
        Ratio of the geometric prompt masses.
    norm : float, optional
        :math:`\|\theta_\star\|_2`, in ``(0, 1)``.

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_D`; ``model_class`` the class (see the description);
        ``params`` the construction's parameters.
    """
    h = check_int(horizon, "horizon", low=1)
    k = check_int(n_prompts, "n_prompts", low=1)
    hmax = h if horizon_max is None else check_int(horizon_max, "horizon_max", low=h)
    m = h if pivotal is None else check_int(pivotal, "pivotal", low=1, high=h)
    u = check_real(u, "u")
    eps0 = check_real(eps0, "eps0", low=0.0, high=1.0, low_open=True, high_open=True)
    decay = check_real(decay, "decay", low=0.0, low_open=True)
    norm = check_real(norm, "norm", low=0.0, high=1.0, low_open=True, high_open=True)
    _check_table((k, h, 3, 2, 2 * k), "horizon", h)
    det = h - m
    eps = eps0 / max(det, 1)                       # (H - m) * eps = eps0: sigma_star^2 ~ fixed in H
    l_det = np.log((1 - eps) / eps)
    eps_max = eps0 / max(hmax - m, 1)              # B is set by the largest logit of the family
    l_max = np.log((1 - eps_max) / eps_max)
    has_det = pivotal is not None
    b = np.sqrt(k * (u ** 2 + (l_max ** 2 if has_det else 0.0))) / norm
    mu = decay ** np.arange(k)
    mu = mu / mu.sum()
    groups = [m, det] if det > 0 else [m]
    feats = np.zeros((k, len(groups), 2, 2 * k))
    feats[np.arange(k), 0, 1, np.arange(k)] = b
    if det > 0:
        feats[np.arange(k), 1, 1, k + np.arange(k)] = b
    theta_star = np.concatenate([np.full(k, u / b), np.full(k, l_det / b if has_det else 0.0)])
    f, model = _grouped_linear(feats, groups, theta_star, mu, h)
    return Instance("linear_pivotal_family", "Theorem 4.2 / Corollary 4.2 (arXiv) [derived instance]",
                    data=model, model_class=model,
                    params={"horizon": h, "n_prompts": k, "pivotal": m, "B": float(b), "u": u, "eps": eps,
                            "radius": 1.0, "groups": groups, "group_feats": feats.tolist(),
                            "theta_star": theta_star.tolist(), "family": "fixed" if has_det else "dense"})


def linear_variance_family(pivotal, *, n_prompts=2, B=2.0, weak=0, weak_groups=1, weak_scale=1.0,
                           pivotal_logit=0.0):
    r"""**[derived]** Theorem 4.2 instances whose coverage is parameter-estimation error, not missing mass.

    ``K = n_prompts`` prompts of **equal** mass :math:`1/K` (each is seen :math:`\approx n/K`
    times: no rare prompt), binary tokens i.i.d. across positions given the prompt, and
    two kinds of positions per prompt, each coordinate of :math:`\theta` driving one group of
    positions of one prompt (:math:`\phi(x_k, y_{1:h}) = b_g\,y_h\,e_{(k,g)}`, so
    :math:`\pi_\theta(y_h = 1|x_k) = \sigma(b_g\theta_{(k,g)})`):

    * ``pivotal`` **pivotal** positions, one coordinate each (untied), feature norm ``B``,
      truth logit ``pivotal_logit`` (default 0: uniform tokens);
    * ``weak`` **weak** positions split into ``weak_groups`` equal tied groups, feature norm
      :math:`b_w = \text{weak\_scale}/\sqrt{\text{weak}}` (so their total variance stays
      :math:`\text{weak\_scale}^2/4` whatever ``weak``), truth logit 0.

    Hence :math:`H` = ``pivotal + weak``, :math:`d = K(\text{pivotal} + \text{weak\_groups})`,
    :math:`\sup\|\phi\| = \max(B, b_w)` and (Eq. (6) ICLR / (8) arXiv)

    .. math:: \sigma_\star^2 = \text{pivotal}\cdot B^2\,\sigma(u)(1-\sigma(u))
              + \text{weak\_scale}^2/4 ,

    the same for every prompt.  :math:`\Theta = B_2(1)`; :math:`\theta_\star` has entries
    :math:`u/B` on pivotal coordinates and 0 elsewhere, so realizability (Assumption 2.1)
    needs :math:`|u|\sqrt{K\,\text{pivotal}} \le B` (checked).

    Why this instance (derivation): the MLE estimates each pivotal logit from
    :math:`\approx n/K` tokens; while the ball is slack, :math:`Z = \log\pi_D/\hat\pi` on a
    prompt is close to :math:`\mathcal N(\rho/2, \rho)` with :math:`\rho = K\,\text{pivotal}/n`
    parameters per sample, so coverage is a Gaussian tail in :math:`n(\log N)^2/\rho`; once
    :math:`4\rho > B^2` the ball binds (the total squared logit is at most :math:`B^2`),
    and coverage and KL stop growing with ``pivotal``.  ``weak`` positions add length
    :math:`H` at (nearly) fixed :math:`\sigma_\star^2`, ``weak_groups`` adds dimension
    :math:`d` at fixed ``B``, :math:`\sigma_\star^2` and ``H``.

    The instance is given by its groups (``params``); :func:`linear_variance_model` builds
    the equivalent tabular :class:`~theory.models.AutoregressiveLinearModel` for small sizes.

    Parameters
    ----------
    pivotal : int
        Pivotal positions per prompt, ``>= 1``.
    n_prompts : int, optional
        ``K >= 1``.
    B : float, optional
        Pivotal feature norm, ``>= 1`` (Assumption 2.2, arXiv).
    weak : int, optional
        Weak positions per prompt, ``>= 0``.
    weak_groups : int, optional
        Tied groups the weak positions are split into; divides ``weak`` (``>= 1``).
    weak_scale : float, optional
        :math:`\sqrt{4\times}` the total variance of the weak positions, ``>= 0``.
    pivotal_logit : float, optional
        Truth logit ``u`` of the pivotal tokens.

    Returns
    -------
    Instance
        ``data`` and ``model_class`` are ``None`` (see :func:`linear_variance_model`);
        ``params`` holds ``group_sizes``, ``group_norms``, ``group_logits`` (per prompt, in
        coordinate order ``(k, g) -> k*G + g``), ``B`` (the feature-norm bound), ``dim``,
        ``horizon``, ``sigma_star_sq``, ``theta_star_norm`` and the arguments.

    Examples
    --------
    >>> inst = linear_variance_family(8, weak=16, weak_groups=4)
    >>> inst.params["horizon"], inst.params["dim"], inst.params["sigma_star_sq"]
    (24, 24, 8.25)
    """
    p = check_int(pivotal, "pivotal", low=1)
    k = check_int(n_prompts, "n_prompts", low=1)
    b = check_real(B, "B", low=1.0)
    w = check_int(weak, "weak", low=0)
    g_w = check_int(weak_groups, "weak_groups", low=1)
    if w and w % g_w:
        raise ValueError(f"`weak_groups` = {g_w} must divide `weak` = {w}.")
    scale = check_real(weak_scale, "weak_scale", low=0.0)
    u = check_real(pivotal_logit, "pivotal_logit")
    theta_norm = abs(u) * np.sqrt(k * p) / b
    if theta_norm > 1.0:
        raise ValueError(f"`pivotal_logit` = {u} puts theta_star outside the unit ball (norm {theta_norm:.3g}); "
                         f"need |u| sqrt(n_prompts * pivotal) <= B.")
    sizes = [1] * p
    norms = [b] * p
    logits = [u] * p
    if w:
        sizes += [w // g_w] * g_w
        norms += [scale / np.sqrt(w)] * g_w
        logits += [0.0] * g_w
    var_u = float(np.exp(log_expit(u) + log_expit(-u)))
    s2 = p * b * b * var_u + (scale * scale / 4.0 if w else 0.0)
    return Instance("linear_variance_family", "Theorem 4.2 (ICLR and arXiv) [derived instance]", data=None,
                    model_class=None,
                    params={"pivotal": p, "n_prompts": k, "B": float(max(b, max(norms))), "pivotal_scale": b,
                            "weak": w, "weak_groups": g_w if w else 0, "weak_scale": scale, "pivotal_logit": u,
                            "group_sizes": sizes, "group_norms": [float(v) for v in norms],
                            "group_logits": logits, "dim": k * len(sizes), "horizon": p + w,
                            "sigma_star_sq": float(s2), "theta_star_norm": float(theta_norm), "radius": 1.0})


def _variance_groups(instance):
    p = _check_instance(instance, ("group_sizes", "group_norms", "group_logits", "n_prompts"),
                        "linear_variance_family")
    k = p["n_prompts"]
    return (k, np.asarray(p["group_sizes"], dtype=np.int64), np.asarray(p["group_norms"], dtype=float),
            np.asarray(p["group_logits"], dtype=float))


def _variance_theta(instance, theta):
    k, sizes, norms, _ = _variance_groups(instance)
    th = as_finite_array(theta, "theta")
    d = k * sizes.size
    if th.ndim not in (1, 2) or th.shape[-1] != d:
        raise ValueError(f"`theta` must have shape (d,) or (R, d) with d = {d}, got {th.shape}.")
    return np.atleast_2d(th).reshape(-1, k, sizes.size)


def linear_variance_model(instance, theta=None):
    r"""The tabular autoregressive linear model of :func:`linear_variance_family` (Theorem 4.2 setting).

    Parameters
    ----------
    instance : Instance
        Returned by :func:`linear_variance_family`.
    theta : (d,) or (R, d) array_like, optional
        Parameters (default :math:`\theta_\star`, i.e. :math:`\pi_D`).

    Returns
    -------
    AutoregressiveLinearModel
        Tabular features of shape ``(K, H, 3, 2, d)`` (refused above the module's size cap).

    Examples
    --------
    >>> inst = linear_variance_family(3, weak=2)
    >>> m = linear_variance_model(inst)
    >>> bool(np.isclose(float(m.sigma_star_sq()), inst.params["sigma_star_sq"]))
    True
    """
    k, sizes, norms, logits = _variance_groups(instance)
    h, d, g = int(sizes.sum()), k * sizes.size, sizes.size
    _check_table((k, h, 3, 2, d), "instance", f"H = {h}, d = {d}")
    table = np.zeros((k, h, 3, 2, d))
    pos = np.repeat(np.arange(g), sizes)                                 # group of each position
    for x in range(k):
        table[x, np.arange(h), :, 1, x * g + pos] = norms[pos][:, None]
    star = np.tile(logits / norms, k)
    th = star if theta is None else as_finite_array(theta, "theta")
    return AutoregressiveLinearModel(TabularFeatures(table, h), th, np.full(k, 1.0 / k))


def linear_variance_kl(instance, theta):
    r"""Exact :math:`D_{KL}(\pi_D\|\pi_\theta)` on :func:`linear_variance_family` (Theorem 4.2 setting).

    Positions are independent given the prompt, so
    :math:`D_{KL} = \frac1K\sum_{k,g} s_g\,\mathrm{KL}(\mathrm{Ber}(\sigma(u_g))\|\mathrm{Ber}(\sigma(b_g\theta_{(k,g)})))`.

    Parameters
    ----------
    instance : Instance
        Returned by :func:`linear_variance_family`.
    theta : (d,) or (R, d) array_like
        Parameters of ``R`` models.

    Returns
    -------
    (R,) ndarray

    Examples
    --------
    >>> inst = linear_variance_family(4)
    >>> linear_variance_kl(inst, np.zeros(8)).tolist()
    [0.0]
    """
    k, sizes, norms, logits = _variance_groups(instance)
    th = _variance_theta(instance, theta)
    lp1, lp0 = log_expit(logits), log_expit(-logits)
    q1, q0 = log_expit(norms * th), log_expit(-norms * th)
    tok = np.exp(lp1) * (lp1 - q1) + np.exp(lp0) * (lp0 - q0)
    return (sizes * tok).sum(axis=(-1, -2)) / k


def linear_variance_monte_carlo_coverage(instance, theta, N, n_samples, *, rng):
    r"""Monte Carlo :math:`\mathrm{Cov}_N(\pi_D\|\pi_\theta)` on :func:`linear_variance_family` (Definition 1.1).

    Draws ``n_samples`` pairs :math:`(x, y)\sim\mu\otimes\pi_D` per model (the token counts of
    each group, :math:`c_g\sim\mathrm{Bin}(s_g, \sigma(u_g))`, are sufficient) and counts
    :math:`\log\pi_D(y|x)/\pi_\theta(y|x)\ge\log N`.  ``hits / n_samples`` is an unbiased
    estimate of the coverage of each model; averaged over replicate models it is an unbiased
    estimate of :math:`\mathbb E\,\mathrm{Cov}_N(\hat\pi)` (Theorem 4.2's left-hand side).

    Parameters
    ----------
    instance : Instance
        Returned by :func:`linear_variance_family`.
    theta : (d,) or (R, d) array_like
        Parameters of ``R`` models.
    N : float or array_like
        Thresholds ``>= 1`` (flattened).
    n_samples : int
        Pairs drawn per model.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    hits : (R, len(N)) int ndarray
        Binomial(``n_samples``, coverage) counts.

    Examples
    --------
    >>> inst = linear_variance_family(4)
    >>> linear_variance_monte_carlo_coverage(inst, np.zeros(8), [2.0], 100,
    ...                                      rng=np.random.default_rng(0)).tolist()
    [[0]]
    """
    k, sizes, norms, logits = _variance_groups(instance)
    th = _variance_theta(instance, theta)                                # (R, K, G)
    logn = np.log(check_thresholds(N, "N")).ravel()
    n_samples = check_int(n_samples, "n_samples", low=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("`rng` must be a numpy.random.Generator (use np.random.default_rng(seed)).")
    # one model's draws at a time at least: tokens, counts and two gathered log-ratios per sample
    check_allocation(8 * n_samples * (2 + 3 * sizes.size), f"`n_samples` = {n_samples}",
                     "fewer samples per call (sum the hit counts of several calls)")
    r1 = log_expit(logits) - log_expit(norms * th)                       # log-ratio of a 1, (R, K, G)
    r0 = log_expit(-logits) - log_expit(-norms * th)                     # of a 0
    p1 = np.exp(log_expit(logits))
    r = th.shape[0]
    hits = np.zeros((r, logn.size), dtype=np.int64)
    chunk = max(1, 2 ** 22 // (n_samples * sizes.size))
    for r0_ in range(0, r, chunk):
        sl = slice(r0_, min(r, r0_ + chunk))
        m = sl.stop - sl.start
        x = rng.integers(0, k, size=(m, n_samples))
        c = rng.binomial(sizes, p1, size=(m, n_samples, sizes.size))
        a1 = np.take_along_axis(r1[sl], x[..., None], axis=1)            # (m, S, G)
        a0 = np.take_along_axis(r0[sl], x[..., None], axis=1)
        z = (c * a1 + (sizes - c) * a0).sum(-1)
        hits[sl] = (z[..., None] >= logn - 1e-12).sum(1)
    return hits


# ------------------------------------------------------------------ Prop. K.1
def prop_k1_high_dim(n, horizon, N, *, kappa=4.0, c_mass=0.125):
    r"""Prop. K.1 (ICLR) / I.1 (arXiv): :math:`\mathbb E\,\mathrm{Cov}_N \ge c\min\{1, H/(n\log N)\}`.

    Construction (as in the reference notes): :math:`X = \{+, -\}` (prompts 0, 1),
    :math:`\mu(+) = p`, :math:`V = \{0, 1\}`, :math:`\phi(-,\cdot) = 0`,
    :math:`\phi(+, y_{1:h}) = B\,y_h\,e_h`, ``d = H``, :math:`\Theta = B_2(1)`.
    **[derived]** constants (the notes do not give them): :math:`\theta_\star = \mathbf 1/\sqrt H`
    (any sign pattern is equivalent by symmetry), :math:`B^2 = \kappa\log N` (so
    :math:`\log N \le c\min\{H, B^2\}` once :math:`H\ge\log N`), and
    :math:`p = \min\{1/2,\ c_{mass}H/(n\log N)\}`.  Then prompt ``+`` gets
    :math:`np \approx c_{mass}H/\log N` samples, too few to learn the per-token signs (each
    has signal :math:`B^2/H = \kappa\log N/H`), while an unlearned prompt has sequence
    log-ratio of order :math:`B^2 \gtrsim \log N`: coverage :math:`\gtrsim p`.

    Parameters
    ----------
    n : int
        Sample size (sets the mass ``p`` of prompt ``+``).
    horizon : int
        Sequence length ``H`` (= ``d``).
    N : float
        Coverage threshold ``> 1``.
    kappa : float, optional
        :math:`B^2 = \kappa\log N` (**[derived]** constant).
    c_mass : float, optional
        :math:`p = \min\{1/2, c_{mass}H/(n\log N)\}` (**[derived]** constant).

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_D`; ``model_class`` the class (see the description);
        ``params`` the construction's parameters.
    """
    n = check_int(n, "n", low=1)
    h = check_int(horizon, "horizon", low=1)
    N = check_real(N, "N", low=1.0, low_open=True)
    kappa = check_real(kappa, "kappa", low=0.0, low_open=True)
    c_mass = check_real(c_mass, "c_mass", low=0.0, low_open=True)
    _check_table((2, h, 3, 2, h), "horizon", h)
    b = float(np.sqrt(kappa * np.log(N)))
    p = float(min(0.5, c_mass * h / (n * np.log(N))))
    table = np.zeros((2, h, 3, 2, h))
    table[0, np.arange(h), :, 1, np.arange(h)] = b
    f = TabularFeatures(table, h)
    theta_star = np.full(h, 1.0 / np.sqrt(h))
    model = AutoregressiveLinearModel(f, theta_star, np.array([p, 1.0 - p]))
    return Instance("prop_k1_high_dim", "Prop. K.1 (ICLR) / Prop. I.1 (arXiv)", data=model, model_class=model,
                    params={"n": n, "horizon": h, "N": N, "B": b, "p": p, "kappa": kappa, "c_mass": c_mass,
                            "radius": 1.0})


def prop_k1_monte_carlo_coverage(instance, theta, N, n_samples, *, rng):
    r"""Monte Carlo coverage (and exact KL) of :math:`\pi_\theta` on the Prop. K.1 (ICLR) / I.1 (arXiv) instance.

    Prompt ``-`` has zero log-ratio (both models uniform), so
    :math:`\mathrm{Cov}_N = p\,\mathbb P_{\pi_D(\cdot|+)}[Z \ge \log N]`, estimated from
    ``n_samples`` sequences per model.  Positions are independent, so the KL is exact:
    :math:`p\sum_h \mathrm{KL}(\sigma(B\theta_{\star,h})\|\sigma(B\theta_h))`.

    Parameters
    ----------
    instance : Instance
        Returned by :func:`prop_k1_high_dim`.
    theta : (H,) or (R, H) array_like
        Parameters of ``R`` learned models.
    N : float or array_like
        Thresholds ``>= 1`` (flattened).
    n_samples : int
        Sequences of :math:`\pi_D(\cdot|+)` per model.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    hits : (R, len(N)) int ndarray
        Number of sampled sequences with :math:`Z \ge \log N` (binomial, ``n_samples`` trials).
    kl : (R,) ndarray
        Exact :math:`D_{KL}(\pi_D\|\pi_\theta)`.

    Examples
    --------
    >>> inst = prop_k1_high_dim(40, 8, 8.0)
    >>> hits, kl = prop_k1_monte_carlo_coverage(inst, inst.data.theta, [8.0], 100,
    ...                                         rng=np.random.default_rng(0))
    >>> hits.tolist(), kl.tolist()                                  # the truth never reaches log N
    ([[0]], [0.0])
    """
    p = _check_instance(instance, ("B", "p", "horizon"), "prop_k1_high_dim")
    b, prob = p["B"], p["p"]
    ts = np.asarray(instance.data.theta)
    th = as_finite_array(theta, "theta")
    if th.ndim not in (1, 2) or th.shape[-1] != ts.size:
        raise ValueError(f"`theta` must have shape (H,) or (R, H) with H = {ts.size}, got {th.shape}.")
    th = np.atleast_2d(th)
    logn = np.log(check_thresholds(N, "N")).ravel()
    n_samples = check_int(n_samples, "n_samples", low=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("`rng` must be a numpy.random.Generator (use np.random.default_rng(seed)).")
    check_allocation(24 * n_samples * ts.size + 16 * n_samples * logn.size + (1 << 16),
                     f"`n_samples` = {n_samples} sequences of length {ts.size} per model",
                     "draw fewer samples per call and add the hit counts")
    lp_d = _bernoulli_log_probs(b * ts)                                   # (H, 2)
    lp_m = _bernoulli_log_probs(b * th)                                   # (R, H, 2)
    diff = lp_d[None] - lp_m                                              # (R, H, 2)
    kl_tok = (np.exp(lp_d)[None] * diff).sum(-1)
    hits = np.zeros((th.shape[0], logn.size), dtype=np.int64)
    p1 = np.exp(lp_d[:, 1])
    chunk = max(1, 2 ** 22 // (th.shape[1] * n_samples))
    for r0 in range(0, th.shape[0], chunk):
        y = rng.random((min(chunk, th.shape[0] - r0), n_samples, th.shape[1])) < p1
        z = np.where(y, diff[r0:r0 + chunk, None, :, 1], diff[r0:r0 + chunk, None, :, 0]).sum(-1)
        hits[r0:r0 + chunk] = (z[..., None] >= logn - 1e-12).sum(1)
    return hits, prob * kl_tok.sum(-1)


# ------------------------------------------------------------------ Prop. G.1
def prop_g1a(n, d, B=None):
    r"""Prop. G.1(a) (ICLR) / 4.1(a) (arXiv): coarse term tight, :math:`\mathrm{Cov}_N\ge c\,d/n` for all :math:`N\le e^B`.

    Construction (stated): :math:`X = \{\perp\}`, :math:`Y = [d]` (one token, ``H = 1``),
    :math:`\phi(y) = B e_y`, :math:`\Theta = \{\|\theta\|_\infty\le 1\}`,
    :math:`\theta_\star = \frac{\log(4n)}{2B}(e_1 - \sum_{j\ge2}e_j)`, :math:`B \ge \log(5n)`
    (default :math:`B = \log(5n)`).  Under :math:`\pi_D` each :math:`j\ge2` has probability
    :math:`\approx 1/(4n)`; an unseen one is pushed to :math:`\theta_j = -1` by the MLE.

    Parameters
    ----------
    n : int
        Sample size.
    d : int
        Dimension ``d >= 2`` (= vocabulary size).
    B : float, optional
        Feature scale, ``>= log(5n)`` (default ``log(5n)``).

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_D`; ``model_class`` the class (see the description);
        ``params`` the construction's parameters.
    """
    n = check_int(n, "n", low=1)
    d = check_int(d, "d", low=2)
    b = float(np.log(5 * n)) if B is None else check_real(B, "B", low=float(np.log(5 * n)))
    _check_table((1, 1, d + 1, d, d), "d", d)
    table = np.zeros((1, 1, d + 1, d, d))
    table[0, 0, :] = b * np.eye(d)
    f = TabularFeatures(table, 1)
    ts = np.full(d, -np.log(4 * n) / (2 * b))
    ts[0] = -ts[0]
    model = AutoregressiveLinearModel(f, ts)
    return Instance("prop_g1a", "Prop. G.1(a) (ICLR) / Prop. 4.1(a) (arXiv)", data=model, model_class=model,
                    params={"n": n, "d": d, "B": b, "box": [-1.0, 1.0], "groups": [1],
                            "group_feats": (b * np.eye(d))[None, None].tolist(), "theta_star": ts.tolist()})


def prop_g1b(n, d, N, *, c0=0.5):
    r"""**[derived]** Prop. G.1(b) (ICLR) / 4.1(b) (arXiv): fine term tight, :math:`\mathrm{Cov}_N \ge c\,d/(n\log N)`, :math:`|\Pi| = 2^d+1`.

    The notes give only :math:`\varepsilon = c_0\sqrt{d/n}` and :math:`p = c_0\varepsilon^2/\log N`
    for the mass of a prompt every :math:`\theta\ne` truth under-covers.  Construction:
    prompts ``1..d`` (mass :math:`(1-p)/d` each) and a special prompt ``0`` (mass ``p``), one
    binary token.  :math:`\pi_D` is :math:`\mathrm{Ber}(1/2)` everywhere (member 0).  The
    :math:`2^d` hypercube members :math:`\vartheta\in\{\pm1\}^d` have
    :math:`\pi_\vartheta(1|i) = \frac12(1 + \varepsilon\vartheta_i)` and
    :math:`\pi_\vartheta(1|0) = 1/(2N)`: they fit the noise of the ``d`` common prompts
    (expected likelihood gain :math:`\approx d(0.8c_0 - c_0^2/2)`) and lose
    :math:`\approx c_0^3 d/2` on prompt 0, so the MLE prefers some :math:`\vartheta` with
    constant probability, and then :math:`\mathrm{Cov}_N = p/2 = c_0^3d/(2n\log N)`.
    Members are within :math:`\log(1+\varepsilon)/(1-\varepsilon)` of each other on common
    prompts and agree on prompt 0, so :math:`N_\infty(\Pi,\alpha)\le 2` for
    :math:`\alpha\gtrsim\varepsilon`.

    Parameters
    ----------
    n : int
        Sample size (``n > c0^2 d``).
    d : int
        Dimension ``d >= 1``.
    N : float
        Coverage threshold ``> 1``.
    c0 : float, optional
        :math:`c_0 > 0` (**[derived]** constant).

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_D`; ``model_class`` the class (see the description);
        ``params`` the construction's parameters.
    """
    n = check_int(n, "n", low=1)
    d = check_int(d, "d", low=1)
    N = check_real(N, "N", low=1.0, low_open=True)
    c0 = check_real(c0, "c0", low=0.0, low_open=True)
    eps = c0 * np.sqrt(d / n)
    if eps >= 1:
        raise ValueError(f"need `n` > `c0`^2 `d` (so that epsilon < 1), got n = {n}, c0 = {c0}, d = {d}.")
    _check_table((2 ** d + 1, d + 1, 1, 3, 2), "d", d)
    p = c0 * eps ** 2 / np.log(N)
    cube = 1 - 2 * ((np.arange(2 ** d)[:, None] >> np.arange(d)[None, :]) & 1)   # (2^d, d) in {+-1}
    p1 = np.empty((2 ** d + 1, d + 1))
    p1[0] = 0.5
    p1[1:, 0] = 1.0 / (2 * N)
    p1[1:, 1:] = 0.5 * (1 + eps * cube)
    probs = np.stack([1 - p1, p1], axis=-1)                               # (P, X, 2)
    lp = np.log(probs)
    table = np.broadcast_to(lp[:, :, None, None, :], lp.shape[:2] + (1, 3, 2))
    mu = np.concatenate([[p], np.full(d, (1 - p) / d)])
    cls = MarkovModel(table, 1, mu)
    return Instance("prop_g1b", "Prop. G.1(b) (ICLR) / Prop. 4.1(b) (arXiv) [derived construction]",
                    data=cls[0], model_class=cls,
                    params={"n": n, "d": d, "N": N, "c0": c0, "eps": float(eps), "p": float(p),
                            "class_size": 2 ** d + 1, "truth_index": 0})


# ------------------------------------------------------------------ Prop. G.2
def prop_g2_misspecified(alpha, M):
    r"""Prop. G.2 (ICLR) / E.2 (arXiv): under misspecification the MLE returns :math:`\pi_2` w.p. :math:`\ge 1/4`.

    Construction (stated): :math:`X = \{+, -\}` (prompts 0, 1), :math:`\rho(-) = p =
    \alpha^2/(32\log M)`, :math:`\pi_D(\cdot|\pm) = \mathrm{Ber}(1/2)`,
    :math:`\pi_1(\cdot|+) = \mathrm{Ber}(1/(2e^\alpha))`, :math:`\pi_1(\cdot|-) = \mathrm{Ber}(1/2)`
    (so :math:`\sup|\log\pi_D - \log\pi_1| \le \alpha`), :math:`\pi_2(\cdot|+) = \mathrm{Ber}(1/2)`,
    :math:`\pi_2(\cdot|-) = \mathrm{Ber}(1/(2M))`.  ``model_class`` is the batch
    :math:`[\pi_1, \pi_2]`; :math:`\mathrm{Cov}_N(\pi_2) = p/2` for :math:`N \le M` and
    :math:`\mathrm{Cov}_N(\pi_1) = 0` for :math:`N > e^\alpha`.

    Parameters
    ----------
    alpha : float
        :math:`\alpha \in (0, 1]`.
    M : float
        :math:`M > e^\alpha`.

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_D`; ``model_class`` the class (see the description);
        ``params`` the construction's parameters.
    """
    a = check_real(alpha, "alpha", low=0.0, high=1.0, low_open=True)
    M = check_real(M, "M", low=float(np.exp(a)), low_open=True)
    p = a ** 2 / (32 * np.log(M))
    p1 = np.array([[0.5, 0.5], [1 / (2 * np.exp(a)), 0.5], [0.5, 1 / (2 * M)]])   # (3 models, X)
    probs = np.stack([1 - p1, p1], axis=-1)
    table = np.broadcast_to(np.log(probs)[:, :, None, None, :], (3, 2, 1, 3, 2))
    mu = np.array([1 - p, p])
    return Instance("prop_g2_misspecified", "Prop. G.2 (ICLR) / Prop. E.2 (arXiv)",
                    data=MarkovModel(table[0], 1, mu), model_class=MarkovModel(table[1:], 1, mu),
                    params={"alpha": a, "M": M, "p": float(p)})


# ----------------------------------------------------------- convex (mixture) class
def mixture_convex_class(horizon=8, q=(0.15, 0.35, 0.5, 0.65, 0.85), weights=None):
    r"""**[derived]** A convex class with concave likelihood (Assumption G.1, Theorem G.1 / E.1).

    :math:`\Pi = \{\pi_w = \sum_j w_j\pi_j : w\in\Delta_k\}` with :math:`\pi_j` the law of ``H``
    i.i.d. :math:`\mathrm{Ber}(q_j)` tokens; :math:`w\mapsto\pi_w(y)` is linear, hence concave,
    and :math:`\Theta = \Delta_k` is convex and compact.  :math:`\pi_D = \pi_{w_\star}`
    (default :math:`w_\star` uniform): well-specified.  The sequence law depends on ``y``
    only through the number of ones, so coverage is exact over ``H + 1`` points.
    ``params["component_log_probs"]`` is ``(H + 1, k)``: :math:`\log\pi_j` of one sequence with
    ``c`` ones; ``params["log_mult"]`` the log binomial coefficients.

    Parameters
    ----------
    horizon : int, optional
        Sequence length ``H``.
    q : sequence of float, optional
        Component token probabilities :math:`q_j \in (0, 1)`.
    weights : sequence of float, optional
        :math:`w_\star` (uniform by default).

    Returns
    -------
    Instance
        ``data`` and ``model_class`` are ``None`` (the mixture class is not an autoregressive
        linear model); ``params`` holds the components and weights described above.
    """
    from scipy.special import gammaln

    h = check_int(horizon, "horizon", low=1)
    q = as_finite_array(q, "q", ndim=1)
    if ((q <= 0) | (q >= 1)).any():
        raise ValueError(f"`q` entries must be in (0, 1), got {q.tolist()}.")
    k = q.size
    # (H + 1, k) log-probabilities and log multiplicities, kept as float arrays and as lists in
    # ``params`` (about 40 bytes per entry in all)
    _check_table((h + 1, k + 1, 5), "horizon", h)
    w = np.full(k, 1.0 / k) if weights is None else check_weights(weights, "weights", (k,))
    c = np.arange(h + 1)
    comp = c[:, None] * np.log(q)[None] + (h - c)[:, None] * np.log1p(-q)[None]
    log_mult = gammaln(h + 1) - gammaln(c + 1) - gammaln(h - c + 1)
    return Instance("mixture_convex_class", "Theorem G.1 (ICLR) / Theorem E.1 (arXiv) [derived instance]",
                    data=None, model_class=None,
                    params={"horizon": h, "q": q.tolist(), "weights": w.tolist(),
                            "component_log_probs": comp.tolist(), "log_mult": log_mult.tolist()})
