r"""Lower-bound constructions for maximum likelihood: Prop. 3.2, Prop. K.1 / I.1, Props. G.1 / 4.1 and G.2 / E.2.

* :func:`prop_3_2_kl_lower_bound` -- KL of the MLE linear in ``H`` (Prop. 3.2);
* :func:`prop_k1_high_dim`, :func:`prop_k1_monte_carlo_coverage` -- the
  :math:`\sigma^2_\star` dependence is needed (Prop. K.1 (ICLR) / I.1 (arXiv));
* :func:`prop_g1a`, :func:`prop_g1b` -- coarse and fine lower bounds (Prop. G.1 (ICLR) /
  4.1 (arXiv));
* :func:`prop_g2_misspecified` -- misspecification (Prop. G.2 (ICLR) / E.2 (arXiv)).

Imports :mod:`theory.instances.mle.common` only.
"""

from __future__ import annotations

import numpy as np

from ...models import AutoregressiveLinearModel, MarkovModel, TabularFeatures
from ...validation import (as_finite_array, check_allocation, check_int, check_real, check_rng,
                           check_thresholds)
from .._base import Instance
from .common import bernoulli_log_probs, check_instance, check_table, docs, grouped_linear

__all__ = [
    "prop_3_2_kl_lower_bound",
    "prop_k1_high_dim",
    "prop_k1_monte_carlo_coverage",
    "prop_g1a",
    "prop_g1b",
    "prop_g2_misspecified",
]

#: The shared descriptions of :mod:`theory.instances.mle.common` and this module's own.
_docs = docs.extended(
    instance=r"""
        Instance
            ``data`` is :math:`\pi_D`; ``model_class`` the class (see the description);
            ``params`` the construction's parameters.""",
    threshold="""
        N : float
            Coverage threshold ``> 1``.""",
)


# -------------------------------------------------------------------- Prop. 3.2
@_docs
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
    %(horizon)s
    theta_star : float, optional
        :math:`\theta_\star \in [-1, 1]` (the proposition uses :math:`\pm 1`).
    rare_mass : float, optional
        Overrides :math:`\mu(1)`, in ``(0, 1)``.

    Returns
    -------
    %(instance)s
    """
    n = check_int(n, "n", low=1)
    h = check_int(horizon, "horizon", low=1)
    ts = check_real(theta_star, "theta_star", low=-1.0, high=1.0)
    rho = 1.0 / (2 * n) if rare_mass is None else check_real(rare_mass, "rare_mass", low=0.0, high=1.0,
                                                              low_open=True, high_open=True)
    feats = np.zeros((2, 1, 2, 1))
    feats[1, 0, 0, 0] = -1.0
    feats[1, 0, 1, 0] = 1.0
    f, model = grouped_linear(feats, [h], [ts], np.array([1.0 - rho, rho]), h)
    return Instance("prop_3_2_kl_lower_bound", "Prop. 3.2 (ICLR) / Prop. 3.2 (arXiv), App. I",
                    data=model, model_class=model.replace(theta=np.array([[ts]])),
                    params={"n": n, "horizon": h, "rare_mass": rho, "box": [-1.0, 1.0],
                            "groups": [h], "group_feats": feats.tolist(), "theta_star": [ts]})



# ------------------------------------------------------------------ Prop. K.1
@_docs
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
    %(threshold)s
    kappa : float, optional
        :math:`B^2 = \kappa\log N` (**[derived]** constant).
    c_mass : float, optional
        :math:`p = \min\{1/2, c_{mass}H/(n\log N)\}` (**[derived]** constant).

    Returns
    -------
    %(instance)s
    """
    n = check_int(n, "n", low=1)
    h = check_int(horizon, "horizon", low=1)
    N = check_real(N, "N", low=1.0, low_open=True)
    kappa = check_real(kappa, "kappa", low=0.0, low_open=True)
    c_mass = check_real(c_mass, "c_mass", low=0.0, low_open=True)
    check_table((2, h, 3, 2, h), "horizon", h)
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


@_docs
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
    %(thresholds)s
    n_samples : int
        Sequences of :math:`\pi_D(\cdot|+)` per model.
    %(rng)s

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
    p = check_instance(instance, ("B", "p", "horizon"), "prop_k1_high_dim")
    b, prob = p["B"], p["p"]
    ts = np.asarray(instance.data.theta)
    th = as_finite_array(theta, "theta")
    if th.ndim not in (1, 2) or th.shape[-1] != ts.size:
        raise ValueError(f"`theta` must have shape (H,) or (R, H) with H = {ts.size}, got {th.shape}.")
    th = np.atleast_2d(th)
    logn = np.log(check_thresholds(N, "N")).ravel()
    n_samples = check_int(n_samples, "n_samples", low=1)
    rng = check_rng(rng)
    check_allocation(24 * n_samples * ts.size + 16 * n_samples * logn.size + (1 << 16),
                     f"`n_samples` = {n_samples} sequences of length {ts.size} per model",
                     "draw fewer samples per call and add the hit counts")
    lp_d = bernoulli_log_probs(b * ts)                                   # (H, 2)
    lp_m = bernoulli_log_probs(b * th)                                   # (R, H, 2)
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
@_docs
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
    %(instance)s
    """
    n = check_int(n, "n", low=1)
    d = check_int(d, "d", low=2)
    b = float(np.log(5 * n)) if B is None else check_real(B, "B", low=float(np.log(5 * n)))
    check_table((1, 1, d + 1, d, d), "d", d)
    table = np.zeros((1, 1, d + 1, d, d))
    table[0, 0, :] = b * np.eye(d)
    f = TabularFeatures(table, 1)
    ts = np.full(d, -np.log(4 * n) / (2 * b))
    ts[0] = -ts[0]
    model = AutoregressiveLinearModel(f, ts)
    return Instance("prop_g1a", "Prop. G.1(a) (ICLR) / Prop. 4.1(a) (arXiv)", data=model, model_class=model,
                    params={"n": n, "d": d, "B": b, "box": [-1.0, 1.0], "groups": [1],
                            "group_feats": (b * np.eye(d))[None, None].tolist(), "theta_star": ts.tolist()})


@_docs
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
    %(threshold)s
    c0 : float, optional
        :math:`c_0 > 0` (**[derived]** constant).

    Returns
    -------
    %(instance)s
    """
    n = check_int(n, "n", low=1)
    d = check_int(d, "d", low=1)
    N = check_real(N, "N", low=1.0, low_open=True)
    c0 = check_real(c0, "c0", low=0.0, low_open=True)
    eps = c0 * np.sqrt(d / n)
    if eps >= 1:
        raise ValueError(f"need `n` > `c0`^2 `d` (so that epsilon < 1), got n = {n}, c0 = {c0}, d = {d}.")
    check_table((2 ** d + 1, d + 1, 1, 3, 2), "d", d)
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
@_docs
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
    %(instance)s
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
