r"""Exact characteristic function of the log density ratio of Markov models, and certified coverage from it.

For Markov (tabular) models the log density ratio is additive along the chain,
:math:`Z=\log\pi_D(y|x)/\hat\pi(y|x)=\sum_h\delta_h(x,y_{h-1},y_h)`, so its characteristic
function (restricted to the paths where :math:`\hat\pi>0`) is a product of transfer matrices,

.. math::

    \varphi(t) = \mathbb E_{\pi_D}\big[e^{itZ};\,Z<\infty\big]
    = \sum_x \mu(x)\, e_{\mathrm{bos}}^\top\, T_1^x(t)\cdots T_H^x(t)\,\mathbf 1,\qquad
    T_h^x(t)[p, v] = \pi_D(v|x,p)\,e^{it\delta_h(x,p,v)}

(finite transitions only), computed exactly up to floating-point rounding, for which every
value comes with an explicit error bound (:func:`markov_characteristic_function`).

**Certified coverage without rounding the log-ratio** (``method="fourier"`` of
:func:`theory.log_ratio.certified_coverage`).  The lattice methods of
:mod:`theory.log_ratio.certified` round every increment, and the accumulated rounding error spreads
like :math:`\Delta\sqrt H`; at ``V = 4``, ``H = 1000`` and 4,096 bins that leaves a gap of
about ``0.09``.  Here nothing is rounded.  Let :math:`Y = Z + U` with an independent
:math:`U\sim\mathcal N(0, s^2)`, and let :math:`[a, a+P)` be a window holding all but a
Chernoff-bounded sliver of :math:`Y` (the exact MGF :math:`\mathbb E e^{\lambda Z}` gives
:math:`\mathbb E e^{\lambda Y}=\mathbb E e^{\lambda Z}e^{\lambda^2s^2/2}`).  By Poisson
summation the :math:`P`-periodised density of :math:`Y` has Fourier coefficients
:math:`\varphi(t_k)e^{-s^2t_k^2/2}/P` at :math:`t_k = 2\pi k/P`, so for :math:`x\in[a,a+P)`

.. math::

    G(x) = \frac1P\Big[m_f(x-a) + 2\,\mathrm{Re}\sum_{k\ge1}
    \varphi_Y(t_k)\,\frac{e^{-it_ka}-e^{-it_kx}}{it_k}\Big]
    = \sum_{j\in\mathbb Z}\mathbb P\big[Y\in[a+jP,\,x+jP]\big],

with :math:`m_f=\varphi(0)=\mathbb P[Z<\infty]`.  Hence, with :math:`\eta_{\mathrm{out}}\ge
\mathbb P[Y\notin[a,a+P)]` and :math:`\eta_{\mathrm{below}}\ge\mathbb P[Y<a]`,

.. math::

    m_f-\eta_{\mathrm{below}}-G(x)\;\le\;\mathbb P[Y\ge x]\;\le\;m_f-G(x)+\eta_{\mathrm{out}},

and, since :math:`Z` and :math:`U` are independent, for every :math:`\varepsilon>0`

.. math::

    \mathbb P[Y\ge\tau+\varepsilon]-m_f\bar\Phi(\varepsilon/s)\;\le\;\mathbb P[Z\ge\tau;\,Z<\infty]
    \;\le\;\mathbb P[Y\ge\tau-\varepsilon]+m_f\bar\Phi(\varepsilon/s).

The series is summed over the ``n_freq`` frequencies :math:`t_1,\dots,t_K`; the rest is
bounded by :math:`|\varphi|\le m_f` and the Gaussian factor (a closed-form tail bound).
Frequencies whose contribution is certainly below ``1e-9 / n_freq`` along the way are
dropped with that bound (the transfer matrices have row sums :math:`\le1` in modulus, so a partial
product bounds the rest), which makes the cost nearly independent of ``n_freq`` when the
law of :math:`Z` is smooth.  The smoothing scale is :math:`s = 7/t_K`, so the gap is about
:math:`2\cdot 4.5\, s` times the density of :math:`Z` near the threshold: it shrinks like
``1 / n_freq`` with no :math:`\sqrt H` penalty.  All slack terms (truncation, dropped
frequencies, floating-point error of :math:`\varphi` and of the final sums, the Gaussian
tails, the window) are added to the bounds, so ``lo <= Cov_N <= hi`` holds for every
threshold at once.  Atoms of :math:`Z` that sit within a few :math:`s` of a threshold
(short horizons, constructed ties) are resolved only to that scale; there the lattice
methods, which are exact for small ``H``, are preferable (``method="auto"`` picks them for
``H < 64``).

Layout: was ``theory/characteristic.py``.  The transfer products and the certified Fourier
law use only the shared lattice kernel (:mod:`theory.log_ratio.lattice`: transition arrays,
exact moments and windows, tilted MGFs) and :func:`~theory.log_ratio.markov_kl`; the
certified module dispatches to :func:`certified_fourier_law`, so the arrow points from
certified to fourier, never back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erfc

from ..coverage import comparison_log_thresholds
from ..squaring import vector_matrix_power
from ..validation import as_float_array, check_int, check_thresholds, readonly
from .lattice import Steps, final_moments, tables, tilted_log_mgf, windows
from .markov import markov_kl, markov_pair
from .parameters import DOCS

__all__ = ["markov_characteristic_function"]
# Result record built by certified_fourier_law for theory.log_ratio.certified (method="fourier"),
# never by users: FourierCoverageLaw.

_U = np.finfo(float).eps / 2            # unit roundoff
#: Total budget for the terms of frequencies dropped once their partial transfer product is
#: small: a frequency is dropped when its bound times its weight in the series is below
#: ``_PRUNE_BUDGET / n_freq`` (so the dropped terms add at most this much to the slack).
_PRUNE_BUDGET = 1e-9
#: Smoothing scale times the largest frequency: exp(-r^2/2) = 3.7e-6 at r = 5 (the truncation slack stays below 1e-6).
_SMOOTH_R = 5.0
#: Multiples of the smoothing scale tried as the band half-width epsilon.
_Z_GRID = np.array([2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0, 8.0])


# ------------------------------------------------------------------------ transfer products
def _fp_error_rate(t, delta_max, V):
    """Bound on the floating-point error of phi(t) per unit of mass and per position.

    One position multiplies a vector by a matrix of ``V`` columns whose entries are
    ``w exp(i t delta)``.  The phase is a product of at most three rounded factors, or the
    sum of two such phases (:class:`_Frequencies`), and ``t`` itself is ``fl(k dt)``: an
    absolute error of at most ``4 u |t| delta_max``.  The complex exponentials, products and
    sums add at most ``(4V + 12) u`` relative to the sum of moduli, which is at most the
    mass (row sums of ``|T|`` are ``<= 1``).  A factor 2 covers second-order terms.
    """
    return 2.0 * ((4 * V + 12) * _U + 4 * _U * np.abs(t) * delta_max)


class _Frequencies:
    r"""Frequencies ``t``, and the phases ``exp(i t delta)`` of a table of increments.

    On a grid ``t_k = k dt`` the phases come from two small tables,
    :math:`e^{ik\,dt\,\delta}=e^{iqB\,dt\,\delta}\,e^{ir\,dt\,\delta}` with
    ``k = qB + r``, ``B ~ sqrt(K)``: two exponentials per ``sqrt(K)`` frequencies and one
    complex product per frequency, instead of an exponential per frequency.
    """

    def __init__(self, t, k=None, dt=None):
        self.t = np.asarray(t, dtype=float).ravel()
        self.k = None if k is None else np.asarray(k, dtype=np.int64).ravel()
        self.dt = dt
        self.block = 1 if k is None else max(1, int(np.sqrt(max(int(self.k.max(initial=0)), 1))))

    @classmethod
    def grid(cls, n, dt):
        k = np.arange(n, dtype=np.int64)
        return cls(k * dt, k=k, dt=dt)

    def subset(self, sl):
        if self.k is None:
            return _Frequencies(self.t[sl])
        return _Frequencies(self.t[sl], k=self.k[sl], dt=self.dt)

    def phases(self, idx, dl):
        """``exp(1j * t[idx, None...] * dl[None])``, shape ``(len(idx),) + dl.shape``."""
        if self.k is None:
            return np.exp(1j * self.t[idx].reshape((-1,) + (1,) * dl.ndim) * dl[None])
        kk = self.k[idx]
        q, r = np.divmod(kk, self.block)
        q0 = int(q.min(initial=0))
        qs = np.arange(q0, int(q.max(initial=0)) + 1)
        ext = (1,) * dl.ndim
        zq = np.exp(1j * (self.dt * self.block) * qs.reshape((-1,) + ext) * dl[None])
        zr = np.exp(1j * self.dt * np.arange(self.block).reshape((-1,) + ext) * dl[None])
        return zq[q - q0] * zr[r]


def _transfer_product(steps, horizon, mu, freqs, prune_tol):
    """phi(t) for every frequency of ``freqs``, with an error bound.

    Frequencies whose partial product falls below ``prune_tol`` (scalar or one per
    frequency) in l1 norm are dropped
    (``phi = 0``, the norm added to the bound: later transfer matrices have row sums
    ``<= 1`` in modulus).  Processed in chunks of at most ``2**21 / (X V^2)`` frequencies
    (memory of the transfer matrices).  Returns ``phi`` and ``bound >= |phi - exact|``.
    """
    w0 = steps(0)[0]
    X, V = w0.shape[0], w0.shape[-1]
    dmax = 0.0
    for h in (range(min(horizon, 2)) if steps.homogeneous else range(horizon)):
        w, _, dl = steps(h)
        if (w > 0).any():
            dmax = max(dmax, float(np.abs(dl[w > 0]).max()))
    chunk = max(1, (1 << 21) // (X * V * V))
    K = freqs.t.size
    phi = np.zeros(K, dtype=complex)
    bound = _fp_error_rate(freqs.t, dmax, V) * horizon
    tol = np.broadcast_to(np.asarray(prune_tol, dtype=float), (K,))
    for i in range(0, K, chunk):
        sl = slice(i, min(i + chunk, K))
        p, b = _transfer_chunk(steps, horizon, mu, freqs.subset(sl), tol[sl])
        phi[sl] = p
        bound[sl] += b
    return phi, bound


def _transfer_chunk(steps, horizon, mu, freqs, prune_tol):
    """:func:`_transfer_product` on one chunk; ``bound`` here covers dropped frequencies only."""
    K = freqs.t.size
    w0, _, d0 = steps(0)                                         # (X, 1, V)
    phi = np.zeros(K, dtype=complex)
    bound = np.zeros(K)
    alive = np.arange(K)
    vec = (mu[:, None] * w0[:, 0, :])[None] * freqs.phases(alive, d0[:, 0, :])     # (K, X, V)
    h = 1
    T_hom = None
    sequential_until = horizon if not steps.homogeneous else min(horizon, 64)
    while h < horizon and alive.size:
        if h >= sequential_until:
            # time-homogeneous: the remaining H - h positions by repeated squaring
            vec = vector_matrix_power(vec[:, :, None, :], T_hom, horizon - h)[:, :, 0, :]
            break
        w, _, dl = steps(h)
        if steps.homogeneous:
            if T_hom is None:
                T_hom = w[None] * freqs.phases(alive, dl)                            # (K, X, V, V)
            T = T_hom
        else:
            T = w[None] * freqs.phases(alive, dl)
        vec = np.matmul(vec[:, :, None, :], T)[:, :, 0, :]
        h += 1
        norms = np.abs(vec).sum(axis=(1, 2))
        dead = norms <= prune_tol[alive]
        if dead.any():
            bound[alive[dead]] += norms[dead]
            keep_idx = np.flatnonzero(~dead)
            alive = alive[keep_idx]
            vec = vec[keep_idx]
            if T_hom is not None:
                T_hom = T_hom[keep_idx]
    if alive.size:
        phi[alive] = vec.sum(axis=(1, 2))
    return phi, bound


@DOCS
def markov_characteristic_function(data, model, t):
    r"""Characteristic function of :math:`Z=\log\pi_D(y|x)/\hat\pi(y|x)` under :math:`\pi_D`, exact, with error bounds.

    (:math:`Z` of Remark E.1 ICLR / 2.1 arXiv: coverage is its upper tail, Definition 1.1.)

    .. math::

        \varphi(t) = \mathbb E_{\pi_D}\big[e^{itZ};\ \hat\pi(y|x) > 0\big]

    (the paths with :math:`Z=+\infty` are left out: :math:`\varphi(0)=\mathbb P[Z<\infty]`),
    computed as a product of transfer matrices (module docstring), :math:`O(H X V^2)` per
    frequency.  The basis of the ``"fourier"`` certified coverage bounds
    (:func:`theory.log_ratio.certified_coverage`); also the exact law of :math:`Z` in the
    Fourier domain, e.g. for checking a Gaussian (CLT) approximation at a given ``H``.

    Parameters
    ----------
    %(data)s
    %(model_single)s
    t : float or array_like
        Frequencies (finite).

    Returns
    -------
    phi : complex ndarray
        Shape ``np.shape(t)``.
    error_bound : ndarray
        A bound on the floating-point error of ``phi`` (``|phi - exact| <= error_bound``),
        from the standard error analysis of the products (module docstring).

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> d, m = categorical_model([0.5, 0.5]), categorical_model([0.25, 0.75])
    >>> phi, err = markov_characteristic_function(d, m, [0.0, 1.0])
    >>> np.round(phi, 6)                     # 0.5 exp(i log 2) + 0.5 exp(i log(2/3))
    array([1.      +0.j      , 0.844079+0.122258j])
    >>> bool(err.max() < 1e-13)
    True
    """
    d, m = markov_pair(data, model)
    if m.batch_shape:
        raise ValueError("`model` must be unbatched.")
    tv = as_float_array(t, "t")
    if not np.all(np.isfinite(tv)):
        raise ValueError("`t` must be finite.")
    lpd, lpm = tables(d, m)
    steps = Steps(lpd, lpm)
    mu = np.asarray(d.prompt_weights, dtype=float)
    phi, err = _transfer_product(steps, d.horizon, mu, _Frequencies(tv), prune_tol=0.0)
    return phi.reshape(tv.shape), err.reshape(tv.shape)


# ------------------------------------------------------------------------ certified coverage
@dataclass(frozen=True)
class FourierCoverageLaw:
    r"""Law of :math:`Z=\log\pi_D/\hat\pi` in the Fourier domain, with everything needed to certify coverage.

    Built by :func:`theory.log_ratio.certified_log_ratio` with ``method="fourier"``.

    Attributes
    ----------
    window : (float, float)
        :math:`(a, P)`: the periodisation window :math:`[a, a+P)`.
    smoothing : float
        :math:`s`, the standard deviation of the Gaussian smoothing :math:`U`.
    freqs : (k,) ndarray
        Frequencies :math:`t_k=2\pi k/P` whose terms are summed.
    coeffs : (k,) complex ndarray
        :math:`\varphi(t_k)e^{-s^2t_k^2/2}/(it_k)`.
    series_slack : float
        Bound on the error of the computed :math:`G(x)` uniformly in :math:`x` (truncation,
        dropped frequencies, floating-point error of :math:`\varphi`), before the final sum.
    finite_mass, inf_mass : float
        :math:`\mathbb P[Z<\infty]` and :math:`\mathbb P[Z=+\infty]`.
    lambdas, log_mgf_pos, log_mgf_neg : (L,) ndarray
        :math:`\log\mathbb E[e^{\pm\lambda Z};Z<\infty]` (exact), for Chernoff tails.
    kl : float
        Exact sequence KL (chain rule).
    n_freq : int
        Number of frequencies of the series (before dropping).
    hard_range : (float, float)
        Deterministic bounds on every finite value of :math:`Z` (reachable transitions),
        widened by their floating-point error: thresholds outside it are exact.
    """

    window: tuple
    smoothing: float
    freqs: np.ndarray
    coeffs: np.ndarray
    series_slack: float
    finite_mass: float
    inf_mass: float
    lambdas: np.ndarray
    log_mgf_pos: np.ndarray
    log_mgf_neg: np.ndarray
    kl: float
    n_freq: int
    hard_range: tuple = (-np.inf, np.inf)
    method: str = "fourier"
    evaluation: str = "certified"

    def __post_init__(self):
        for name in ("freqs", "lambdas", "log_mgf_pos", "log_mgf_neg"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name), dtype=float)))
        object.__setattr__(self, "coeffs", readonly(np.asarray(self.coeffs, dtype=complex)))

    @property
    def n_bins(self):
        """Number of frequencies (the resolution knob, as ``n_bins`` is for the lattice laws)."""
        return self.n_freq

    @property
    def step(self):
        """The smoothing scale :math:`s` (the resolution, as the lattice step is for the lattice laws)."""
        return self.smoothing

    # -- tails of Y = Z + U
    def _chernoff_y(self, x, upper):
        """Bound on P[Y >= x] (upper) or P[Y < x] (lower), any x, from the exact MGF."""
        lam, s = self.lambdas, self.smoothing
        lm = self.log_mgf_pos if upper else self.log_mgf_neg
        sign = -1.0 if upper else 1.0
        x = np.asarray(x, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            expo = lm + 0.5 * (lam * s) ** 2 + sign * lam * x[..., None]
            out = np.exp(np.min(np.where(np.isnan(expo), np.inf, expo), axis=-1))
        return np.minimum(out, self.finite_mass)

    def _g(self, x):
        """Computed G(x) and a bound on its floating-point error (x inside the window)."""
        a, P = self.window
        t, c = self.freqs, self.coeffs
        const = np.sum(c * np.exp(-1j * t * a))
        xs = x.ravel()
        out = np.empty(xs.size)
        chunk = max(1, (1 << 22) // max(t.size, 1))
        for i in range(0, xs.size, chunk):
            xi = xs[i:i + chunk]
            s = np.exp(-1j * np.multiply.outer(xi, t)) @ c
            out[i:i + chunk] = (self.finite_mass * (xi - a) + 2.0 * np.real(const - s)) / P
        absc = np.abs(c)
        xmax = float(np.max(np.abs(xs))) if xs.size else 0.0
        fp = (2.0 / P) * float(np.sum(absc * (2 * _U * t * (xmax + abs(a)) + 4 * (t.size + 4) * _U)))
        fp += 4 * _U * self.finite_mass * (xmax + abs(a) + P) / P
        return out.reshape(x.shape), fp

    def _tail_y(self, x, upper):
        """Certified upper (``upper=True``) or lower bound on P[Y >= x; Z < inf]."""
        a, P = self.window
        x = np.asarray(x, dtype=float)
        inside = (x > a) & (x < a + P)
        m_f = self.finite_mass
        below = float(self._chernoff_y(np.array(a), upper=False))
        above = float(self._chernoff_y(np.array(a + P), upper=True))
        g = np.zeros(x.shape)
        fp = 0.0
        if inside.any():
            g_in, fp = self._g(x[inside])
            g[inside] = g_in
        slack = self.series_slack + fp
        if upper:
            out = np.where(inside, m_f - g + below + above + slack, m_f)
            out = np.minimum(out, self._chernoff_y(x, upper=True))
            return np.clip(out, 0.0, m_f)
        out = np.where(inside, m_f - below - g - slack, 0.0)
        out = np.where(x <= a, m_f - self._chernoff_y(x, upper=False), out)
        return np.clip(out, 0.0, m_f)

    @DOCS
    def coverage_bounds(self, N):
        r"""Certified ``lo <= Cov_N <= hi`` at every threshold of ``N`` (any shape).

        Thresholds follow the toolkit's tie convention
        (:func:`theory.coverage.comparison_log_thresholds`); the band half-width
        :math:`\varepsilon` is the best of a grid of multiples of the smoothing scale.

        Parameters
        ----------
        %(N)s

        Returns
        -------
        lo, hi : ndarray
            Shape ``np.shape(N)``.
        """
        N = check_thresholds(N)
        tau = comparison_log_thresholds(N).ravel()
        fin = np.isfinite(tau)
        eps = _Z_GRID * self.smoothing
        gauss = self.finite_mass * 0.5 * erfc(_Z_GRID / np.sqrt(2.0))
        lo = np.zeros(tau.shape)
        hi = np.zeros(tau.shape)
        if fin.any():
            tf = tau[fin][:, None]
            hi_y = self._tail_y(tf - eps[None, :], upper=True) + gauss[None, :]
            lo_y = self._tail_y(tf + eps[None, :], upper=False) - gauss[None, :]
            hi[fin] = np.min(hi_y, axis=1)
            lo[fin] = np.max(lo_y, axis=1)
        # every finite Z lies in hard_range: thresholds outside it need no Fourier series
        z_lo, z_hi = self.hard_range
        lo = np.where(tau <= z_lo, self.finite_mass, lo)
        hi = np.where(tau > z_hi, 0.0, hi)
        hi = np.clip(hi, 0.0, self.finite_mass) + self.inf_mass
        lo = np.clip(lo, 0.0, self.finite_mass) + self.inf_mass
        lo = np.clip(lo, 0.0, 1.0)
        hi = np.maximum(np.clip(hi, 0.0, 1.0), lo)
        return lo.reshape(N.shape), hi.reshape(N.shape)

    def to_dict(self):
        return {"window": list(self.window), "smoothing": self.smoothing, "n_freq": self.n_freq,
                "n_terms": int(self.freqs.size), "series_slack": self.series_slack,
                "finite_mass": self.finite_mass, "inf_mass": self.inf_mass, "kl": self.kl,
                "method": self.method, "evaluation": self.evaluation}


def _truncation_bound(t_next, s, P, m_f):
    r"""Bound on :math:`\frac4P\sum_{k>K} m_f e^{-s^2t_k^2/2}/t_k`, first term plus the integral."""
    gauss_sum = np.exp(-0.5 * (s * t_next) ** 2) + (P / (2 * np.pi)) * np.sqrt(np.pi / 2) / s * erfc(
        s * t_next / np.sqrt(2.0))
    return 4.0 * m_f * gauss_sum / (P * t_next)


def certified_fourier_law(d, m, n_freq, width_sd, n_lambdas):
    """The ``method="fourier"`` law for one Markov pair (called by :mod:`theory.log_ratio.certified`)."""
    n_freq = check_int(n_freq, "n_freq", low=16, high=2 ** 24)
    lpd, lpm = tables(d, m)
    H, X = d.horizon, d.n_prompts
    mu = np.asarray(d.prompt_weights, dtype=float)
    steps = Steps(lpd, lpm)
    mom = final_moments(lpd, lpm, H, X, mu)
    mean, sd = float(mom["mean"][-1]), float(mom["sd"][-1])
    lo_w, hi_w = (float(w[-1]) for w in windows(mom, width_sd))
    P0 = max(hi_w - lo_w, 1e-3 * max(1.0, sd, abs(mean)))
    s = _SMOOTH_R * P0 / (2 * np.pi * n_freq)
    a, P = lo_w - 12 * s, P0 + 24 * s
    s = _SMOOTH_R * P / (2 * np.pi * n_freq)
    freqs = _Frequencies.grid(n_freq + 1, 2 * np.pi / P)
    t = freqs.t
    weight = np.ones(t.size)                                  # weight of |phi(t_k)| in G (4 e^{..} / (P t_k))
    weight[1:] = 4.0 * np.exp(-0.5 * (s * t[1:]) ** 2) / (P * t[1:])
    tol = np.where(np.arange(t.size) == 0, 0.0, _PRUNE_BUDGET / (n_freq * np.maximum(weight, 1e-300)))
    phi, bound = _transfer_product(steps, H, mu, freqs, prune_tol=np.minimum(tol, 0.5))
    m_f = float(min(max(phi[0].real, 0.0), 1.0))
    tk, phik, bk = t[1:], phi[1:], bound[1:]
    damp = np.exp(-0.5 * (s * tk) ** 2)
    coeffs = phik * damp / (1j * tk)
    # slack: phi errors and dropped terms (4 |.| / (P t_k) each), truncation beyond t_K
    slack = float(np.sum(4.0 * bk * damp / (P * tk)))
    slack += float(_truncation_bound(2 * np.pi * (n_freq + 1) / P, s, P, max(m_f, bound[0])))
    keep = (np.abs(coeffs) * 4.0 / P) > 1e-18
    slack += float(np.sum(np.abs(coeffs[~keep]) * 4.0 / P))
    lam = np.geomspace(1e-3, 1e3, n_lambdas) / max(sd, s, 1e-12)
    lm = tilted_log_mgf(d, m, lambda h, w, winf, dl: dl, np.concatenate([lam, -lam]))
    n_l = lam.size
    inf_mass = float(mom["inf_mass"])
    z_lo, z_hi = float(mom["hard_lo"][-1]), float(mom["hard_hi"][-1])
    margin = 4 * _U * H * max(abs(z_lo), abs(z_hi))          # rounding of the sums along a path
    return FourierCoverageLaw(
        window=(float(a), float(P)), smoothing=float(s), freqs=tk[keep], coeffs=coeffs[keep],
        series_slack=slack, finite_mass=m_f, inf_mass=inf_mass, lambdas=lam,
        log_mgf_pos=lm[:n_l], log_mgf_neg=lm[n_l:], kl=float(markov_kl(d, m)), n_freq=n_freq,
        hard_range=(z_lo - margin, z_hi + margin))

