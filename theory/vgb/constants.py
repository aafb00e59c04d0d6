r"""Theorem constants of the VGB paper and the closed forms of its examples.

* Theorem 4.1 (arXiv 2510.03149): :func:`theorem_4_1_leaf_probability_bound`,
  :func:`stationary_leaf_mass_bound`, :func:`relaxation_time_lower_bound`,
  :func:`theorem_4_1_steps_shape`.
* Theorem 4.2: :func:`theorem_4_2_threshold`.
* Examples 3.1 and 3.2 (ActionLevelRS fails without backtracking):
  :func:`example_3_1_action_level_tv`, :func:`example_3_2_action_level_regret`,
  :func:`example_3_1_action_level_coverage_tail`.

Closed forms only: nothing here builds a tree, so this module imports no other module of
:mod:`theory.vgb`.  It owns :func:`check_threshold` (the domain :math:`N \ge 1` of
Theorem 4.2), which :func:`theory.vgb.baselines.coverage_tail` uses too.  Constants quoted
from secondary sources are marked as such.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from ..docstrings import DocTemplate
from ..validation import as_finite_array, as_float_array, check_int, check_real

__all__ = [
    "theorem_4_1_leaf_probability_bound",
    "stationary_leaf_mass_bound",
    "relaxation_time_lower_bound",
    "theorem_4_1_steps_shape",
    "theorem_4_2_threshold",
    "example_3_1_action_level_tv",
    "example_3_2_action_level_regret",
    "example_3_1_action_level_coverage_tail",
]

_docs = DocTemplate(
    H="""
H : int or array_like of int
    Horizon ``H >= 1``.""",
    eps=r"""
eps : float or array_like
    :math:`\varepsilon_V \ge 0` of Assumption 4.1.""",
)


_NO_DELTA = object()


def check_threshold(threshold):
    """Coverage thresholds :math:`N \\ge 1` (``inf`` allowed), as a float array."""
    thr = as_float_array(threshold, "threshold", allow_neginf=False)
    if (thr < 1).any():
        raise ValueError(f"`threshold` must be >= 1 (the domain of Theorem 4.2), got minimum {thr.min()}.")
    return thr


def _binomial_tv(n, q, r):
    r""":math:`\mathrm{TV}(\mathrm{Bin}(n, q), \mathrm{Bin}(n, r))` in :math:`O(1)` time and memory per element.

    The likelihood ratio is monotone in the count, so the set where the first law is larger
    is :math:`\{k \ge k^*\}` (for :math:`q > r`) and the distance is
    :math:`P_q[K \ge k^*] - P_r[K \ge k^*]` (two binomial survival functions).  Broadcasts.
    """
    n, q, r = np.broadcast_arrays(np.asarray(n, dtype=np.float64), np.asarray(q, dtype=np.float64),
                                  np.asarray(r, dtype=np.float64))
    hi, lo = np.maximum(q, r), np.minimum(q, r)
    out = np.zeros(n.shape)
    on = (hi > lo) & (n > 0)
    if on.any():
        a = np.log(hi[on]) - np.log(lo[on])                     # > 0
        b = np.log1p(-hi[on]) - np.log1p(-lo[on])               # < 0 (or -inf when hi = 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cut = np.where(np.isfinite(b), np.floor(-n[on] * b / (a - b)), n[on])
        cut = np.clip(cut, -1.0, n[on])                         # the first law wins on k > cut
        out[on] = stats.binom.sf(cut, n[on], hi[on]) - stats.binom.sf(cut, n[on], lo[on])
    return np.clip(out, 0.0, 1.0)


def _check_horizons(H):
    """``H`` as a float array of integers in ``[1, 2**53]`` (``ValueError`` naming ``H`` otherwise)."""
    Ha = as_finite_array(H, "H")
    if (Ha < 1).any() or (Ha != np.round(Ha)).any() or (Ha > 2.0 ** 53).any():
        raise ValueError(f"`H` must be a positive integer up to 2**53 (or an array of them), got {H!r}.")
    return Ha


def _h_eps_iv(H, eps, delta=_NO_DELTA):
    """``H >= 1`` (array of integers), ``eps >= 0`` and ``delta`` in (0, 1), broadcast."""
    Ha = _check_horizons(H)
    ea = as_finite_array(eps, "eps")
    if (ea < 0).any():
        raise ValueError(f"`eps` must be >= 0, got minimum {ea.min()}.")
    out = [Ha, ea]
    if delta is not _NO_DELTA:
        da = as_finite_array(delta, "delta")
        if (da <= 0).any() or (da >= 1).any():
            raise ValueError(f"`delta` must lie in (0, 1), got {delta!r}.")
        out.append(da)
    try:
        np.broadcast_shapes(*(a.shape for a in out))
    except ValueError:
        raise ValueError("`H`, `eps`" + (" and `delta`" if delta is not _NO_DELTA else "")
                         + " do not broadcast.") from None
    return out


def _leaf_bound(c, H, eps):
    r""":math:`1/(c(1+\varepsilon_V)H)`: Theorem 4.1's leaf probability (``c = 8``), the stationary leaf mass (``c = 2``)."""
    H, eps = _h_eps_iv(H, eps)
    return 1.0 / (c * (1.0 + eps) * H)


@_docs
def theorem_4_1_leaf_probability_bound(H, eps):
    r"""Theorem 4.1: :math:`\Pr[\text{output is a leaf}] \ge 1/(8(1+\varepsilon_V)H)`.

    VGB Theorem 4.1 (arXiv 2510.03149).  The constant 8 is as the paper note and OpenReview
    reviewer print it (not checked against the PDF).

    Parameters
    ----------
    %(H)s
    %(eps)s

    Returns
    -------
    ndarray
        :math:`1/(8(1+\varepsilon_V)H)`, broadcast over the arguments.

    Examples
    --------
    >>> float(theorem_4_1_leaf_probability_bound(4, 0.0))
    0.03125
    """
    return _leaf_bound(8.0, H, eps)


@_docs
def stationary_leaf_mass_bound(H, eps):
    r"""Stationary leaf mass under Assumption 4.1: :math:`\tilde\pi(L) \ge 1/(2(1+\varepsilon_V)H)`.

    [derived] Each internal depth carries weight at most :math:`2(1+\varepsilon_V)Z`, the
    root at most :math:`(1+\varepsilon_V)Z` and the leaves exactly :math:`Z`; equality
    :math:`1/(2H)` holds for :math:`\hat V = V^\star`.  (The stationary-law counterpart of
    VGB Theorem 4.1's leaf probability, :func:`theorem_4_1_leaf_probability_bound`.)

    Parameters
    ----------
    %(H)s
    %(eps)s

    Returns
    -------
    ndarray
        :math:`1/(2(1+\varepsilon_V)H)`, broadcast over the arguments.

    Examples
    --------
    >>> float(stationary_leaf_mass_bound(4, 0.0))
    0.125
    """
    return _leaf_bound(2.0, H, eps)


@_docs
def relaxation_time_lower_bound(H, eps):
    r"""Lower bound on the relaxation time of the lazy VGB walk on a tree of depth ``H``.

    .. math::

        t_{\rm rel}(\hat V) \;\ge\; \frac{(1+\varepsilon_V)^{-4}\,2}{1-\cos(\pi/H)}
        \;\ge\; \frac{4H^2}{\pi^2(1+\varepsilon_V)^4}.

    [derived] With :math:`\hat V = V^\star` the walk moves up and down with probability
    :math:`1/4` each from every internal node (:math:`V^\star(u) = \sum_a
    \pi_{\rm ref}(a\mid u)V^\star(ua)`), and with :math:`1/2` from the root and the leaves
    (all at depth ``H``), so its depth is the lazy simple walk on the path
    :math:`\{0,\dots,H\}`, whose eigenvalues :math:`(1+\cos(\pi k/H))/2` are eigenvalues
    of the walk (a lumped chain's eigenfunctions lift): :math:`t_{\rm rel}(V^\star) \ge
    2/(1-\cos(\pi/H))`.  Under Assumption 4.1 each edge weight
    :math:`\pi_{\rm ref}(v)\hat V(v)` is within :math:`(1+\varepsilon_V)^{\pm1}` of its
    :math:`V^\star` value, so edge flows and the stationary law are within
    :math:`(1+\varepsilon_V)^{\pm2}` and the comparison of Dirichlet forms gives
    :math:`t_{\rm rel}(\hat V) \ge (1+\varepsilon_V)^{-4}\,t_{\rm rel}(V^\star)` (and
    :math:`\le (1+\varepsilon_V)^{4}` times it).  With VGB Theorem 4.1's upper bound, the
    relaxation time is :math:`\Theta(H^2)` on every tree with all leaves at depth ``H``.
    When the root has two or more children the walk also has the mode antisymmetric across
    two root subtrees (zero at the root), the depth walk on the leaf-root-leaf path of length
    :math:`2H`: :math:`t_{\rm rel}(V^\star) \ge 1/\sin^2(\pi/(4H)) \approx 16H^2/\pi^2`,
    about four times the bound returned here, which holds for every tree.

    Parameters
    ----------
    %(H)s
    %(eps)s

    Returns
    -------
    ndarray
        :math:`2(1+\varepsilon_V)^{-4}/(1-\cos(\pi/H))`, broadcast over the arguments.

    Examples
    --------
    >>> float(relaxation_time_lower_bound(1, 0.0))   # one edge: the lazy two-state walk
    1.0
    >>> bool(relaxation_time_lower_bound(64, 0.0) >= 4 * 64**2 / np.pi**2)
    True
    """
    H, eps = _h_eps_iv(H, eps)
    return 1.0 / ((1.0 + eps) ** 4 * np.sin(np.pi / (2.0 * H)) ** 2)   # 2/(1 - cos) = 1/sin^2(./2)


@_docs
def theorem_4_1_steps_shape(H, eps, delta):
    r"""Theorem 4.1's step count shape :math:`H^2(1+\varepsilon_V)^4\log(1/\delta)` (constant 1, no log factors).

    VGB Theorem 4.1 (arXiv 2510.03149): :math:`T = \tilde O(H^2(1+\varepsilon_V)^4\log(1/\delta))`.

    Parameters
    ----------
    %(H)s
    %(eps)s
    delta : float or array_like
        Target TV :math:`\delta \in (0, 1)`.

    Returns
    -------
    ndarray
        :math:`H^2(1+\varepsilon_V)^4\log(1/\delta)`, broadcast over the arguments.

    Examples
    --------
    >>> float(theorem_4_1_steps_shape(2, 0.0, np.exp(-1)))
    4.0
    """
    H, eps, delta = _h_eps_iv(H, eps, delta)
    return H ** 2 * (1.0 + eps) ** 4 * np.log(1.0 / delta)


@_docs
def theorem_4_2_threshold(H, eps, delta):
    r"""Theorem 4.2's coverage threshold :math:`48H(1+\varepsilon_V)^2/\delta` (constant as printed by the secondary sources).

    VGB Theorem 4.2 (arXiv 2510.03149):
    :math:`\Pr_{y\sim\pi^\star}[\pi^\star(y)/\hat\pi(y) > 48H(1+\varepsilon_V)^2/\delta] \le \delta`
    under Assumption 4.2.

    Parameters
    ----------
    %(H)s
    %(eps)s
    delta : float or array_like
        :math:`\delta \in (0, 1)`.

    Returns
    -------
    ndarray
        :math:`48H(1+\varepsilon_V)^2/\delta`, broadcast over the arguments.

    Examples
    --------
    >>> float(theorem_4_2_threshold(1, 0.0, 0.5))
    96.0
    """
    H, eps, delta = _h_eps_iv(H, eps, delta)
    return 48.0 * H * (1.0 + eps) ** 2 / delta


@_docs
def example_3_1_action_level_tv(H, eps):
    r"""Example 3.1: exact TV between ActionLevelRS and :math:`\pi^\star` under a single-action perturbation.

    Instance: binary tokens, uniform :math:`\pi_{\rm ref}`, :math:`\tau \equiv 1` (so
    :math:`\pi^\star = \pi_{\rm ref}` and :math:`V^\star \equiv 1`), and
    :math:`\hat V(y_{1:h}) = (1+\varepsilon)^{\mathbb 1[y_h = 1]}` for :math:`h < H` (every
    internal child reached by action 1 over-valued by :math:`1+\varepsilon`) and
    :math:`\hat V = \tau` at the leaves, so Assumption 4.1 holds with
    :math:`\varepsilon_V = \varepsilon`.  ActionLevelRS draws :math:`y_1, \dots, y_{H-1}`
    i.i.d. with :math:`\Pr[y_h = 1] = q = (1+\varepsilon)/(2+\varepsilon)` and :math:`y_H`
    uniformly; the laws depend on :math:`y_{1:H-1}` only through its number of ones, so

    .. math:: \mathrm{TV} = \mathrm{TV}(\mathrm{Bin}(H-1, q), \mathrm{Bin}(H-1, 1/2))
              = \Omega(\min\{\varepsilon\sqrt H, 1\}).

    The likelihood ratio of the two binomials is monotone in the count, so the distance is
    a difference of two binomial survival functions (:math:`O(1)` time and memory per
    element, any ``H`` up to :math:`2^{53}`).

    Parameters
    ----------
    %(H)s
    eps : float or array_like
        :math:`\varepsilon \ge 0`, broadcast against ``H``.

    Returns
    -------
    ndarray or float
        The broadcast shape of ``H`` and ``eps`` (a float for scalars).

    Examples
    --------
    >>> round(float(example_3_1_action_level_tv(2, 1.0)), 4)   # |2/3 - 1/2|
    0.1667
    """
    Hs, es = _h_eps_iv(H, eps)
    out = _binomial_tv(Hs - 1, (1.0 + es) / (2.0 + es), 0.5)
    return float(out) if out.ndim == 0 else out


@_docs
def example_3_2_action_level_regret(H, lam):
    r"""Example 3.2: exact KL-regularised regret of ActionLevelRS with the one-step-delayed value.

    Instance: binary tokens, uniform :math:`\pi_{\rm ref}`, :math:`r^\star(y) = \frac1H\sum_h
    y_h`, :math:`\tau = e^{r^\star/\beta}` with :math:`\beta = 1/(\lambda H)` (so
    :math:`\tau = e^{\lambda\sum_h y_h}` and :math:`\pi^\star` is i.i.d.
    :math:`\mathrm{Ber}(\sigma(\lambda))`).  The delayed value
    :math:`\hat V(y_{1:h}) = V^\star(y_{1:h-1})` does not depend on :math:`y_h`, so
    ActionLevelRS draws :math:`y_1..y_{H-1}` uniformly; with :math:`\hat V = \tau` at the
    leaves the last token follows :math:`\pi^\star`.  Using
    :math:`J_\beta(\pi^\star) - J_\beta(\pi) = \beta\,\mathrm{KL}(\pi\|\pi^\star)`:

    .. math:: \text{regret} = \beta(H-1)\,\mathrm{KL}(\mathrm{Ber}(\tfrac12)\|\mathrm{Ber}(\sigma(\lambda)))
              = \frac{H-1}{\lambda H}\mathrm{KL}(\cdot) = \Omega(1).

    Parameters
    ----------
    %(H)s
    lam : float or array_like
        :math:`\lambda > 0` (:math:`\beta = 1/(\lambda H)`).

    Returns
    -------
    regret, tv : float or ndarray
        The regret and :math:`\mathrm{TV}(\hat\pi, \pi^\star)`.

    Examples
    --------
    >>> r, tv = example_3_2_action_level_regret(1, 1.0)
    >>> float(r), float(tv)
    (0.0, 0.0)
    """
    Hs = _check_horizons(H)
    lam = as_finite_array(lam, "lam")
    if (lam <= 0).any():
        raise ValueError(f"`lam` must be > 0, got minimum {lam.min()}.")
    try:
        np.broadcast_shapes(Hs.shape, lam.shape)
    except ValueError:
        raise ValueError("`H` and `lam` do not broadcast.") from None
    p = special.expit(lam)
    kl = 0.5 * np.log(0.5 / p) + 0.5 * np.log(0.5 / (1 - p))
    regret = (Hs - 1) / (lam * Hs) * kl
    tv = _binomial_tv(Hs - 1, p, 0.5)
    if np.ndim(regret) == 0:
        return float(regret), float(tv)
    return regret, tv


def example_3_1_action_level_coverage_tail(H, eps, threshold):
    r"""Example 3.1: exact :math:`\Pr_{y\sim\pi^\star}[\pi^\star(y)/\hat\pi_{\rm ALRS}(y) > N]`.

    With :math:`k'` the number of ones among :math:`y_1..y_{H-1}` (:math:`\sim\mathrm{Bin}(H-1,
    1/2)` under :math:`\pi^\star`) and :math:`q = (1+\varepsilon)/(2+\varepsilon)` (see
    :func:`example_3_1_action_level_tv`),

    .. math:: \log\frac{\pi^\star}{\hat\pi} = -(H-1)\log 2 - k'\log q - (H-1-k')\log(1-q)
              = (H-1-k')\log\big(1+\tfrac\varepsilon2\big)
                - k'\log\big(1+\tfrac{\varepsilon}{2+\varepsilon}\big),

    evaluated in the second form: exactly 0 at :math:`\varepsilon = 0` and monotone in
    :math:`k'` in floating point (the first form leaves rounding noise of either sign, which
    made :math:`\varepsilon = 0`, :math:`N = 1` count a spurious tail).

    The log-ratio decreases in :math:`k'`, so the event is :math:`\{k' < k_c\}` and the tail
    is one binomial CDF per threshold (:math:`O(1)` time and memory in ``H``).

    Parameters
    ----------
    H : int
        Horizon ``H >= 1`` (up to :math:`2^{53}`).
    eps : float
        :math:`\varepsilon \ge 0`.
    threshold : float or array_like
        :math:`N \ge 1` (``inf`` allowed), the domain of Theorem 4.2; smaller values are
        refused (for :math:`N < 1` the tail is not the coverage event of the theorem).

    Returns
    -------
    float or ndarray
        The tail at each threshold, shape ``np.shape(threshold)``.

    Examples
    --------
    >>> float(example_3_1_action_level_coverage_tail(1, 1.0, 2.0))
    0.0
    """
    H = check_int(H, "H", low=1, high=2 ** 53)
    eps = check_real(eps, "eps", low=0)
    thr = check_threshold(threshold)
    n = H - 1
    log_n = np.log(thr.ravel())
    up, down = np.log1p(eps / 2.0), np.log1p(eps / (2.0 + eps))

    def log_ratio(k):
        return (n - k) * up - k * down

    # k_c = #{k in [0, n] : log_ratio(k) > log N}, a prefix of 0..n: bisection on the
    # integers with the log-ratio itself as the predicate (about 55 steps at most).
    lo = np.zeros(log_n.shape)                                     # count >= lo
    hi = np.full(log_n.shape, n + 1.0)                             # count <= hi
    while np.any(hi > lo):
        mid = np.ceil((lo + hi) / 2)
        ok = log_ratio(mid - 1) > log_n
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid - 1)
    out = np.where(lo > 0, stats.binom.cdf(lo - 1, n, 0.5), 0.0).reshape(thr.shape)
    return float(out) if out.ndim == 0 else out
