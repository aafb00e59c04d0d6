r"""Finite and convex model classes of Section 4 (Theorem 4.1 / Cor. 4.1, Theorem G.1 / E.1).

* :func:`finite_ladder_class`, :func:`finite_ladder_exact` -- a realizable finite class with
  a ladder of rare tokens and its closed-form coverage **[derived]**;
  :func:`finite_ladder_mle_coverage` -- the MLE's expected coverage on it, by the
  independent-levels approximation **[derived]**;
* :func:`finite_rare_prompt_class` -- a finite class separated on a rare prompt **[derived]**;
* :func:`mixture_convex_class` -- a convex (mixture) class with concave likelihood
  (Assumption G.1) **[derived]**.

Imports :mod:`theory.instances.mle.common` only.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from ...models import AutoregressiveLinearModel, TabularFeatures
from ...validation import as_finite_array, check_int, check_real, check_thresholds, check_weights
from .._base import Instance
from .common import check_instance, check_table, docs, grouped_linear

__all__ = [
    "finite_ladder_class",
    "finite_ladder_exact",
    "finite_ladder_mle_coverage",
    "finite_rare_prompt_class",
    "mixture_convex_class",
]


# ----------------------------------------------------------------- finite classes
@docs
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
    %(horizon_optional)s
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
    check_table((2 ** min(k, 64), (k + 1) * (k + 2)), "n_levels", k)     # 2**K models of V = K + 1 tokens
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


@docs
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
    %(thresholds)s

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
    p = check_instance(instance, ("q", "horizon", "ratio"), "finite_ladder_class")
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


@docs
def finite_ladder_mle_coverage(instance, n, N):
    r"""**[derived]** :math:`\mathbb E\,\mathrm{Cov}_N(\hat\pi)` of the MLE on :func:`finite_ladder_class`, approximately.

    The instance-level prediction behind the slopes in ``n`` of Theorem 4.1 / Cor. 4.1(i) on
    the ladder (the theorem's bound has unstated constants; this is the instance's own rate).
    Member ``S`` (the under-weighted levels) beats :math:`\pi_D` on the data by
    :math:`c_0\log(p_{S,0}/p_{\star,0}) - \log r\sum_{k\in S}c_k`, with :math:`c_k` the count of
    token ``k`` among the :math:`nH` training tokens.  The **independent-levels
    approximation**: replace :math:`\log(p_{S,0}/p_{\star,0})` by its sum over levels,
    :math:`g_k = \log(1 + (1 - 1/r)q_k/p_{\star,0})` (an upper bound: the logarithm is
    subadditive here), :math:`c_0` by its mean :math:`nHp_{\star,0}`, and treat the levels as
    independent.  Then level ``k`` is under-weighted iff :math:`c_k < nHp_{\star,0}g_k/\log r`,
    :math:`c_k\sim\mathrm{Bin}(nH, q_k)`, and

    .. math:: \mathbb E\,\mathrm{Cov}_N(\hat\pi) \approx \sum_S \prod_{k\in S} P_k
              \prod_{k\notin S}(1 - P_k)\,\mathrm{Cov}_N(\pi_D\|\pi_S),

    with the exact member coverages of :func:`finite_ladder_exact`.  A level unseen in the
    data is always under-weighted, so for :math:`r^{m-1} < N \le r^m` coverage needs ``m``
    under-weighted rare tokens in one sequence and the approximation falls like
    :math:`n^{-m}` (log-periodically modulated by the geometric ladder) inside the ladder's
    window.

    Parameters
    ----------
    instance : Instance
        Returned by :func:`finite_ladder_class`.
    n : int or array_like of int
        Sample sizes ``>= 1``.
    %(thresholds)s

    Returns
    -------
    (len(n), len(N)) ndarray
        The approximate expected coverage at every ``(n, N)``.

    Examples
    --------
    >>> inst = finite_ladder_class(n_levels=4, horizon=16)
    >>> cov = finite_ladder_mle_coverage(inst, [100, 1000], [8.0, 64.0])
    >>> cov.shape, bool((cov[1] < cov[0]).all()), bool((cov[:, 1] < cov[:, 0]).all())
    ((2, 2), True, True)
    """
    from scipy import stats

    p = check_instance(instance, ("q", "horizon", "ratio"), "finite_ladder_class")
    ns = np.atleast_1d(np.asarray(n))
    if ns.dtype.kind not in "iu" or ns.ndim != 1 or (ns < 1).any():
        raise ValueError(f"`n` must be an int or a 1-d array of ints >= 1, got {n!r}.")
    cov, _ = finite_ladder_exact(instance, N)                            # (P, len(N))
    q = np.asarray(p["q"])
    h, r = p["horizon"], p["ratio"]
    p0 = 1.0 - q.sum()
    m = ns.astype(float)[:, None] * h                                    # training tokens, (n, 1)
    gain = np.log1p((1.0 - 1.0 / r) * q / p0)                            # (K,)
    under = stats.binom.cdf(np.ceil(m * p0 * gain / np.log(r)) - 1, m, q)   # P[c_k < threshold], (n, K)
    bits = ((np.arange(cov.shape[0])[:, None] >> np.arange(q.size)[None, :]) & 1).astype(bool)
    with np.errstate(divide="ignore"):
        log_ps = np.where(bits[None], np.log(under)[:, None, :], np.log1p(-under)[:, None, :]).sum(-1)
    return np.exp(log_ps) @ cov


@docs
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
    %(horizon)s
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
    check_table((m, 64), "n_members", m)
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
    f, cls = grouped_linear(feats, groups, theta, mu, h)
    return Instance("finite_rare_prompt_class", "Remark 3.1 / Theorem 4.1 (both numberings) [derived instance]",
                    data=cls[j_star], model_class=cls,
                    params={"horizon": h, "n": n, "rho": rho, "spacing": delta, "b": b, "a_star": a_star,
                            "truth_index": j_star, "groups": groups, "group_feats": feats.tolist(),
                            "theta_star": theta[j_star].tolist()})


# ----------------------------------------------------------- convex (mixture) class
@docs
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
    %(horizon_optional)s
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
    h = check_int(horizon, "horizon", low=1)
    q = as_finite_array(q, "q", ndim=1)
    if ((q <= 0) | (q >= 1)).any():
        raise ValueError(f"`q` entries must be in (0, 1), got {q.tolist()}.")
    k = q.size
    # (H + 1, k) log-probabilities and log multiplicities, kept as float arrays and as lists in
    # ``params`` (about 40 bytes per entry in all)
    check_table((h + 1, k + 1, 5), "horizon", h)
    w = np.full(k, 1.0 / k) if weights is None else check_weights(weights, "weights", (k,))
    c = np.arange(h + 1)
    comp = c[:, None] * np.log(q)[None] + (h - c)[:, None] * np.log1p(-q)[None]
    log_mult = gammaln(h + 1) - gammaln(c + 1) - gammaln(h - c + 1)
    return Instance("mixture_convex_class", "Theorem G.1 (ICLR) / Theorem E.1 (arXiv) [derived instance]",
                    data=None, model_class=None,
                    params={"horizon": h, "q": q.tolist(), "weights": w.tolist(),
                            "component_log_probs": comp.tolist(), "log_mult": log_mult.tolist()})
