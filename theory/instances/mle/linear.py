r"""The linear autoregressive families of Theorem 4.2 (coverage of the MLE over a ball).

* :func:`linear_pivotal_family` -- the earlier instance with pivotal tokens **[derived]**;
* :func:`linear_variance_family` -- two prompts of equal weight whose groups set
  :math:`\sigma^2_\star` **[derived]**, with its closed forms :func:`linear_variance_kl`,
  :func:`linear_variance_monte_carlo_coverage` and its tabular form
  :func:`linear_variance_model`.

Imports :mod:`theory.instances.mle.common` only.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit

from ...models import AutoregressiveLinearModel, TabularFeatures
from ...validation import (as_finite_array, check_allocation, check_int, check_real, check_rng,
                           check_thresholds)
from .._base import Instance
from .common import check_instance, check_table, docs, grouped_linear

__all__ = [
    "linear_pivotal_family",
    "linear_variance_family",
    "linear_variance_model",
    "linear_variance_kl",
    "linear_variance_monte_carlo_coverage",
]


# ------------------------------------------------------- Theorem 4.2 families
@docs
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
    %(horizon)s
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
    check_table((k, h, 3, 2, 2 * k), "horizon", h)
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
    f, model = grouped_linear(feats, groups, theta_star, mu, h)
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
    p = check_instance(instance, ("group_sizes", "group_norms", "group_logits", "n_prompts"),
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
    check_table((k, h, 3, 2, d), "instance", f"H = {h}, d = {d}")
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


@docs
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
    %(thresholds)s
    n_samples : int
        Pairs drawn per model.
    %(rng)s

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
    rng = check_rng(rng)
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
