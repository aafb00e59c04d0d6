r"""Certified two-sided bounds on coverage and on the stopped KL of Markov models, at any ``H``.

For a Markov (tabular) data distribution :math:`\pi_D` and model :math:`\hat\pi`, the log
density ratio is additive along the chain,

.. math::

    Z = \log\frac{\pi_D(y|x)}{\hat\pi(y|x)} = \sum_{h=1}^H \delta_h(x, y_{h-1}, y_h),
    \qquad \delta_h = \log\pi_D(y_h|x,y_{h-1}) - \log\hat\pi(y_h|x,y_{h-1}),

so its law under :math:`\pi_D` can be propagated position by position as the joint law of
``(prompt, previous token, Z)``.  Here ``Z`` lives on a lattice of step :math:`\Delta`:
every increment is rounded to the nearest lattice point, :math:`r_h = \Delta\,
\mathrm{round}(\delta_h/\Delta)`, so the lattice walk :math:`Z_r = \sum_h r_h` is propagated
*exactly* (a sparse convolution: one shift per transition), and the accumulated rounding
error :math:`E = Z - Z_r = \sum_h(\delta_h - r_h)` is controlled rigorously:

* deterministically, :math:`E_{\min}\le E\le E_{\max}` with :math:`E_{\max}=\sum_h\max
  (\delta_h-r_h)` over reachable transitions;
* by Chernoff bounds with the **exact** moment generating function
  :math:`\mathbb E[e^{\lambda E}]` (another forward recursion over ``(x, prev)``, tilted by
  :math:`e^{\lambda(\delta-r)}`), so :math:`\mathbb P[E>s]\le\min_\lambda e^{-\lambda s}
  \mathbb E e^{\lambda E}`.

Then, for every threshold :math:`t=\log N` simultaneously,

.. math::

    \mathbb P[Z_r\ge t-s] - \mathbb P[E<s] \;\le\; \mathrm{Cov}_N \;\le\;
    \mathbb P[Z_r\ge t-s] + \mathbb P[E>s]

for every real :math:`s` (so a systematic drift of the rounding error costs nothing), and
the bounds take the best :math:`s` on a grid (thresholds follow the toolkit's tie
convention, :func:`theory.coverage.comparison_log_thresholds`).  The lattice covers a window that follows
the exact mean of :math:`Z_h` (``width_sd`` standard deviations each side, clipped to the
reachable range); mass that leaves the window is not lost but kept with deterministic
bounds on its final value (counted by the upper bound, and by the lower bound only when
its final value is certainly above the threshold).  Transitions that the model gives
probability zero (:math:`\delta=+\infty`) send their mass to an exact ``Z = +inf`` atom.

Two ways of computing the lattice law (``method=``):

* ``"lattice"`` (any Markov model): the dynamic programme above, :math:`O(H X V^2 B)` for
  ``B = n_bins``, with the moving window;
* ``"fft"`` (time-homogeneous tables): the lattice law *modulo* ``B`` from the
  characteristic function of :math:`Z_r` at the ``B`` DFT frequencies, each a product
  :math:`e^\top T(\omega)^{H-1}\mathbf 1` computed by repeated squaring
  (:math:`O(B X V^3\log H)`); the window covers only the final law and the mass that
  aliasing folds back into it is bounded by Chernoff bounds with the exact MGF of
  :math:`Z_r` (added to every tail as ``tail_slack``).

The gap ``hi - lo`` shrinks as ``n_bins`` grows, roughly like :math:`1/\text{n\_bins}`
for a fixed model: the rounding error has spread about :math:`\Delta\sqrt{H/12}` while
the window must hold :math:`\pm` ``width_sd`` standard deviations of :math:`Z`.  At
``V = 4``, ``H = 1000`` this is a gap of a few percent with 4,096 bins and below
:math:`10^{-3}` with :math:`2^{19}` bins (FFT path, about a second); see
``simulations/bench/certified.py``.

The same machinery gives the stopped KL of Prop. F.10 / D.10 from the joint law of
``(prompt, previous token, cumulative token-KL)``, where the cumulative KL is monotone and
can be absorbed once it passes :math:`\log N` (:func:`certified_stopped_kl`); the KL itself
is exact through :func:`theory.log_ratio.markov_kl` (chain rule).

All functions accept :class:`~theory.models.MarkovModel` or tabular
:class:`~theory.models.AutoregressiveLinearModel` instances; ``data`` must be unbatched,
``model`` may be a batch (results get its leading axis).  Every result says
``evaluation="certified"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._chain import (power_and_sum, reach_sets_sum, tropical_vector_power, use_squaring,
                     vector_matrix_power)
from .validation import check_allocation, check_int, check_real, check_thresholds, readonly
from .coverage import comparison_log_thresholds
from .divergences import categorical_kl

__all__ = [
    "certified_log_ratio",
    "certified_coverage",
    "certified_stopped_kl",
]
# Result records (built by the functions above, never by users): CertifiedBounds,
# CertifiedLogRatioLaw.

#: Relative slack (in bins) used when comparing lattice values with thresholds, always in
#: the conservative direction, to absorb floating-point rounding of sums of increments.
_TIE_TOL = 1e-7


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class CertifiedBounds:
    r"""Certified bounds ``lo <= value <= hi`` at every threshold.

    Attributes
    ----------
    quantity : {"coverage", "stopped_kl"}
    N : ndarray
        Thresholds.
    lo, hi : ndarray
        ``batch_shape + N.shape``.
    n_bins : int
        Lattice size used.
    step : float or ndarray
        Lattice step :math:`\Delta` (one per model of a batch).
    evaluation : str
        Always ``"certified"``.
    """

    quantity: str
    N: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n_bins: int
    step: object
    evaluation: str = "certified"

    def __post_init__(self):
        for name in ("N", "lo", "hi"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name), dtype=float)))

    @property
    def gap(self):
        """``hi - lo`` (same shape)."""
        return self.hi - self.lo

    @property
    def max_gap(self):
        """Largest gap over thresholds (and models)."""
        return float(np.max(self.gap))

    def contains(self, value, *, atol=0.0):
        """Whether ``lo - atol <= value <= hi + atol`` elementwise."""
        v = np.asarray(value, dtype=float)
        return (self.lo - atol <= v) & (v <= self.hi + atol)

    def to_dict(self):
        def lst(a):
            return np.asarray(a, dtype=float).tolist()     # inf stays inf (JSON stores allow_nan)
        return {"quantity": self.quantity, "N": lst(self.N), "lo": lst(self.lo), "hi": lst(self.hi),
                "n_bins": self.n_bins, "step": np.asarray(self.step, dtype=float).tolist(),
                "max_gap": self.max_gap, "evaluation": self.evaluation}


@dataclass(frozen=True)
class CertifiedLogRatioLaw:
    r"""Lattice law of :math:`Z_r` with everything needed to certify coverage bounds.

    Attributes
    ----------
    origin : float
        Value of lattice bin 0: bin ``i`` is :math:`Z_r = \text{origin} + i\Delta`.
    step : float
        :math:`\Delta`.
    masses : (n_bins,) ndarray
        :math:`\mathbb P[Z_r = \text{origin} + i\Delta,\ Z<\infty,\ \text{tracked}]`.
    inf_mass : float
        :math:`\mathbb P[Z=+\infty]` (exact).
    escape_mass, escape_lower, escape_upper : (m,) ndarray
        Mass that left the lattice window, with deterministic bounds on its final
        :math:`Z` (``+inf`` upper bound when a zero-probability transition can still follow).
    error_bounds : (float, float)
        :math:`(E_{\min}, E_{\max})`, deterministic bounds on :math:`E = Z - Z_r`.
    lambdas : (L,) ndarray
        Tilts of the Chernoff bounds.
    log_mgf_pos, log_mgf_neg : (L,) ndarray
        :math:`\log\mathbb E[e^{\pm\lambda E};\,Z<\infty]` (exact forward recursions).
    kl : float
        Exact sequence-level KL (chain rule; ``inf`` when ``inf_mass > 0``).
    error_mean : float
        Exact :math:`\mathbb E[E;\,Z<\infty]` (so ``lattice_mean() + error_mean`` is the
        KL when nothing escaped and ``inf_mass = 0``).
    tail_slack : float
        Bound on the error of every tail sum of ``masses`` (the aliased mass of the
        ``"fft"`` method plus floating-point rounding; ``0`` for ``"lattice"``).
    method : {"lattice", "fft"}
        How the lattice law was computed.
    evaluation : str
        ``"certified"``.
    """

    origin: float
    step: float
    masses: np.ndarray
    inf_mass: float
    escape_mass: np.ndarray
    escape_lower: np.ndarray
    escape_upper: np.ndarray
    error_bounds: tuple
    lambdas: np.ndarray
    log_mgf_pos: np.ndarray
    log_mgf_neg: np.ndarray
    kl: float
    error_mean: float = 0.0
    tail_slack: float = 0.0
    method: str = "lattice"
    evaluation: str = "certified"

    def __post_init__(self):
        for name in ("masses", "escape_mass", "escape_lower", "escape_upper", "lambdas",
                     "log_mgf_pos", "log_mgf_neg"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name), dtype=float)))

    @property
    def n_bins(self):
        return self.masses.size

    @property
    def finite_mass(self):
        """:math:`\\mathbb P[Z<\\infty]` (tracked plus escaped)."""
        return float(self.masses.sum() + self.escape_mass.sum())

    def lattice_mean(self):
        r""":math:`\mathbb E[Z_r;\,\text{tracked}]` (a diagnostic: with the exact
        :math:`\mathbb E[E]` it reproduces the KL when nothing escaped)."""
        return float(self.masses @ (self.origin + self.step * np.arange(self.n_bins)))

    def _error_tail(self, s, sign):
        """Upper bound on P[sign * E > s] (finite paths), vectorised over s >= 0."""
        s = np.asarray(s, dtype=float)
        e_min, e_max = self.error_bounds
        cap = e_max if sign > 0 else -e_min
        lm = self.log_mgf_pos if sign > 0 else self.log_mgf_neg
        total = self.finite_mass
        if lm.size == 0 or not np.isfinite(lm).any():
            chern = np.zeros(s.shape)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                expo = lm[None, :] - self.lambdas[None, :] * s.reshape(-1, 1)
            chern = np.exp(np.min(expo, axis=1)).reshape(s.shape)
        out = np.minimum(chern, total)
        return np.where(s >= cap, 0.0, out)

    def _tail(self, u, conservative_up):
        """P[tracked, Z_r >= u] with ties resolved conservatively (up: count them)."""
        tail = np.concatenate([np.cumsum(self.masses[::-1])[::-1], [0.0]])
        with np.errstate(invalid="ignore"):
            pos = (u - self.origin) / self.step
        tol = -_TIE_TOL if conservative_up else _TIE_TOL
        idx = np.where(np.isposinf(pos), self.n_bins, np.where(np.isneginf(pos), 0, 0))
        fin = np.isfinite(pos)
        idx = idx.astype(np.int64)
        idx[fin] = np.clip(np.ceil(pos[fin] + tol), 0, self.n_bins).astype(np.int64)
        return tail[idx]

    def coverage_bounds(self, N, *, max_shifts=1024):
        r"""Certified ``lo <= Cov_N <= hi`` at every threshold of ``N`` (any shape).

        Parameters
        ----------
        N : float or array_like
            Thresholds ``>= 1`` (``inf`` allowed).
        max_shifts : int
            Largest number of shifts :math:`s\in[E_{\min}, E_{\max}]` tried (one per lattice
            step when that is fewer; the two ends are always tried).

        Returns
        -------
        lo, hi : ndarray
            Shape ``np.shape(N)``.
        """
        N = check_thresholds(N)
        # the toolkit's coverage convention: ties pi/pi_hat = N count up to TIE_ATOL (log scale)
        t = comparison_log_thresholds(N).ravel()
        e_min, e_max = self.error_bounds
        # shifts s anywhere in [E_min, E_max] (E need not be centred: its mean is often a
        # systematic drift of the rounding):
        #   P[Z >= t] <= P[Z_r >= t - s] + P[E > s],   P[Z >= t] >= P[Z_r >= t - s] - P[E < s]
        span = max(e_max - e_min, 0.0)
        if span / self.step + 2 <= max_shifts:
            shifts = e_min + self.step * np.arange(int(np.floor(span / self.step)) + 1)
        else:
            shifts = np.linspace(e_min, e_max, max_shifts)
        shifts = np.unique(np.concatenate([shifts, [e_min, e_max]]))
        t_s = t[:, None] - shifts[None, :]
        with np.errstate(invalid="ignore"):
            hi_tr = np.min(self._tail(t_s, True) + self.tail_slack + self._error_tail(shifts, +1)[None, :],
                           axis=1)
            lo_tr = np.max(self._tail(t_s, False) - self.tail_slack - self._error_tail(-shifts, -1)[None, :],
                           axis=1)
        hi_tr = np.minimum(hi_tr, self.finite_mass)
        lo_tr = np.maximum(lo_tr, 0.0)
        # Escaped mass: counted in lo only if certainly >= t, in hi if possibly >= t.
        esc_lo = (self.escape_mass[None, :] * (self.escape_lower[None, :] >= t[:, None])).sum(axis=1)
        esc_hi = (self.escape_mass[None, :] * (self.escape_upper[None, :] >= t[:, None])).sum(axis=1)
        lo = np.clip(self.inf_mass + esc_lo + lo_tr, 0.0, 1.0)
        hi = np.clip(self.inf_mass + esc_hi + hi_tr, 0.0, 1.0)
        hi = np.maximum(hi, lo)
        return lo.reshape(N.shape), hi.reshape(N.shape)

    def to_dict(self):
        return {"origin": self.origin, "step": self.step, "n_bins": self.n_bins,
                "inf_mass": self.inf_mass, "escaped_mass": float(self.escape_mass.sum()),
                "error_bounds": list(self.error_bounds), "kl": self.kl, "tail_slack": self.tail_slack,
                "method": self.method, "evaluation": self.evaluation}


# ------------------------------------------------------------------------ internals
def _as_markov_pair(data, model):
    from .log_ratio import _markov, _models_iv

    _models_iv(data, model)
    d, m = _markov(data), _markov(model)
    return d, m


def _tables(d, m):
    """Full-horizon-indexable tables (X, Hd, V+1, V) for data and model."""
    lpd = np.asarray(d.log_probs, dtype=float)
    lpm = np.asarray(m.log_probs, dtype=float)
    return lpd, lpm


def _lse(a, axis):
    """``log(sum(exp(a)))`` over ``axis`` (``-inf`` safe), without scipy's per-call overhead."""
    mx = np.max(a, axis=axis, keepdims=True)
    mx = np.where(np.isfinite(mx), mx, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - mx), axis=axis, keepdims=True)) + mx
    return np.squeeze(out, axis=axis)


class _Steps:
    """Per-position transition arrays, computed once (twice for time-homogeneous tables)."""

    def __init__(self, lpd, lpm):
        self.lpd, self.lpm = lpd, lpm
        self.homogeneous = lpd.shape[1] == 1 and lpm.shape[1] == 1
        self._cache = {}

    def __call__(self, h):
        key = (min(h, 1) if self.homogeneous else h)
        if key not in self._cache:
            self._cache[key] = _step_arrays(self.lpd, self.lpm, h, h == 0)
        return self._cache[key]


def _step_arrays(lpd, lpm, h, first):
    """Weights and increments for the transitions of position ``h``.

    Returns ``w_fin`` (X, P, V) data probabilities of finite-increment transitions,
    ``w_inf`` (X, P, V) of infinite ones, ``delta`` (X, P, V) (0 where not finite), with
    ``P = 1`` (begin-of-sequence) at the first position and ``V`` afterwards.
    """
    hd = lpd.shape[1]
    hm = lpm.shape[1]
    v = lpd.shape[-1]
    rows = slice(v, v + 1) if first else slice(0, v)
    ld = lpd[:, h if hd > 1 else 0, rows, :]
    lm = lpm[:, h if hm > 1 else 0, rows, :]
    p = np.exp(ld)
    pos = p > 0
    inf = pos & np.isneginf(lm)
    fin = pos & ~inf
    with np.errstate(invalid="ignore"):
        delta = np.where(fin, ld - lm, 0.0)
    return np.where(fin, p, 0.0), np.where(inf, p, 0.0), delta


def _moment_pass(lpd, lpm, horizon, n_prompts, mu):
    """Exact mean/sd of Z_h (finite part) and reachable ranges, per position.

    Returns dict with arrays over h = 0..H: mean, sd, hard_lo, hard_hi, and per step
    h = 0..H-1 the reachable (state-mass > 0) masks.
    """
    X = n_prompts
    m0 = mu[:, None].copy()
    m1 = np.zeros_like(m0)
    m2 = np.zeros_like(m0)
    lo = np.zeros_like(m0)
    hi = np.zeros_like(m0)
    mean = [0.0]
    sd = [0.0]
    hard_lo = [0.0]
    hard_hi = [0.0]
    reach = []
    inf_mass = 0.0
    steps = _Steps(lpd, lpm)
    for h in range(horizon):
        w, winf, d = steps(h)
        live = (m0 > 0)[:, :, None]
        reach.append(live[:, :, 0])
        inf_mass += float(np.einsum("xp,xpv->", m0, winf))
        n0 = np.einsum("xp,xpv->xv", m0, w)
        n1 = np.einsum("xp,xpv->xv", m1, w) + np.einsum("xp,xpv->xv", m0, w * d)
        n2 = (np.einsum("xp,xpv->xv", m2, w) + 2 * np.einsum("xp,xpv->xv", m1, w * d)
              + np.einsum("xp,xpv->xv", m0, w * d * d))
        ok = live & (w > 0)
        lo_c = np.where(ok, lo[:, :, None] + d, np.inf).min(axis=1)
        hi_c = np.where(ok, hi[:, :, None] + d, -np.inf).max(axis=1)
        m0, m1, m2, lo, hi = n0, n1, n2, lo_c, hi_c
        tot = m0.sum()
        if tot > 0:
            mu1 = m1.sum() / tot
            var = max(m2.sum() / tot - mu1 * mu1, 0.0)
            mean.append(mu1)
            sd.append(np.sqrt(var))
            hard_lo.append(float(lo[m0 > 0].min()))
            hard_hi.append(float(hi[m0 > 0].max()))
        else:
            mean.append(0.0)
            sd.append(0.0)
            hard_lo.append(0.0)
            hard_hi.append(0.0)
    _ = X
    return {"mean": np.array(mean), "sd": np.array(sd), "hard_lo": np.array(hard_lo),
            "hard_hi": np.array(hard_hi), "reach": reach, "inf_mass": inf_mass}


def _windows(mom, width_sd):
    """Window ``[lo_w, hi_w]`` of ``Z_h`` for h = 0..H: ``width_sd`` standard deviations
    around the exact mean, clipped to the reachable range (arrays over h)."""
    lo_w = np.maximum(mom["mean"] - width_sd * mom["sd"], mom["hard_lo"])
    hi_w = np.minimum(mom["mean"] + width_sd * mom["sd"], mom["hard_hi"])
    return lo_w, np.maximum(hi_w, lo_w)


def _full_matrices(lpd, lpm):
    """Time-homogeneous transitions as ``(X, V+1, V+1)`` matrices over contexts.

    Returns ``w``, ``winf`` and ``delta`` (as :func:`_step_arrays`) with the begin-of-sequence
    context as row ``V`` (its transitions are those of position 0) and a zero column ``V``.
    """
    w_b, winf_b, d_b = _step_arrays(lpd, lpm, 0, True)          # (X, 1, V)
    w_t, winf_t, d_t = _step_arrays(lpd, lpm, 1, False)         # (X, V, V)

    def full(t, b):
        a = np.concatenate([t, b], axis=1)                      # (X, V+1, V)
        return np.concatenate([a, np.zeros(a.shape[:-1] + (1,))], axis=-1)

    return full(w_t, w_b), full(winf_t, winf_b), full(d_t, d_b)


def _start_vector(mu, S):
    """Row vectors ``(X, 1, S)`` with mass ``mu[x]`` on the begin-of-sequence context."""
    v = np.zeros((mu.size, 1, S))
    v[:, 0, S - 1] = mu
    return v


def _moment_final(lpd, lpm, horizon, mu):
    """:func:`_moment_pass` at the final position only, for time-homogeneous tables, by repeated squaring.

    ``O(X V^3 log H)`` time.  Moments of ``Z_H`` come from the block recursion
    ``(m0, m1, m2) -> (m0 W, m1 W + m0 (W*D), m2 W + 2 m1 (W*D) + m0 (W*D^2))`` taken twice:
    the mean first, then the second moment of ``Z_H - c H`` with ``c`` the mean drift per
    position (so the variance does not cancel against ``mean**2`` when ``H`` is huge).  The
    reachable range is a (min, +) / (max, +) matrix power; the mass lost to infinite
    increments is the visit count of each context times its infinite-transition mass.
    Returns the keys of :func:`_moment_pass` as arrays over ``h = 0, H`` (no ``reach``).
    """
    W, Winf, D = _full_matrices(lpd, lpm)
    X, S = W.shape[0], W.shape[-1]
    start = _start_vector(mu, S)
    m0, visits = power_and_sum(start, W, horizon)
    inf_mass = float((visits[:, 0, :] * Winf.sum(axis=-1)).sum())

    def moments(shift):
        Dc = np.where(W > 0, D - shift, 0.0)
        zero = np.zeros_like(W)
        M = np.block([[W, W * Dc, W * Dc * Dc], [zero, W, 2 * W * Dc], [zero, zero, W]])
        vec = np.concatenate([start, np.zeros((X, 1, 2 * S))], axis=-1)
        out = vector_matrix_power(vec, M, horizon)
        return out[..., S:2 * S].sum(), out[..., 2 * S:].sum()

    tot = float(m0.sum())
    if not tot > 0:
        z = np.zeros(2)
        return {"mean": z, "sd": z, "hard_lo": z, "hard_hi": z, "inf_mass": inf_mass}
    s1, _ = moments(0.0)
    drift = float(s1) / tot / horizon
    c1, c2 = moments(drift)
    centred = float(c1) / tot
    var = max(float(c2) / tot - centred * centred, 0.0)
    finite = W > 0
    lo = tropical_vector_power(np.where(start > 0, 0.0, np.inf), np.where(finite, D, np.inf), horizon, np.min)
    hi = tropical_vector_power(np.where(start > 0, 0.0, -np.inf), np.where(finite, D, -np.inf), horizon, np.max)
    live = m0 > 0
    return {"mean": np.array([0.0, centred + drift * horizon]), "sd": np.array([0.0, np.sqrt(var)]),
            "hard_lo": np.array([0.0, float(lo[live].min())]), "hard_hi": np.array([0.0, float(hi[live].max())]),
            "inf_mass": inf_mass}


def _final_moments(lpd, lpm, horizon, n_prompts, mu):
    """The moments and ranges of ``Z_H`` needed by the ``fft`` and ``fourier`` methods.

    By repeated squaring for long time-homogeneous chains (:func:`_moment_final`), else the
    position-by-position :func:`_moment_pass`.  Only the ``[-1]`` entries are meaningful.
    """
    homogeneous = lpd.shape[1] == 1 and lpm.shape[1] == 1
    if use_squaring(horizon, lpd.shape[-1] + 1, homogeneous, blocks=3):
        return _moment_final(lpd, lpm, horizon, mu)
    return _moment_pass(lpd, lpm, horizon, n_prompts, mu)


def _error_range(mom, w_b, err_b, w_t, err_t, horizon, mu):
    """``(E_min, E_max)``: sums over positions of the extreme rounding errors of reachable transitions.

    Position by position with the reachable contexts of :func:`_moment_pass` when it ran;
    otherwise (long time-homogeneous chains) over the eventually periodic sequence of
    reachable context sets (:func:`theory._chain.reach_sets_sum`).
    """
    if "reach" in mom:
        e_max = e_min = 0.0
        for h in range(horizon):
            w, err = (w_b, err_b) if h == 0 else (w_t, err_t)
            ok = mom["reach"][h][:, :, None] & (w > 0)
            if ok.any():
                e_max += float(err[ok].max())
                e_min += float(err[ok].min())
        return e_min, e_max
    X, V = w_t.shape[0], w_t.shape[-1]
    w = np.concatenate([w_t, w_b], axis=1)                      # (X, V+1, V): context -> token
    err = np.concatenate([err_t, err_b], axis=1)
    ok = w > 0
    row_max = np.where(ok, err, -np.inf).max(axis=-1)           # (X, V+1)
    row_min = np.where(ok, err, np.inf).min(axis=-1)
    adjacency = np.concatenate([ok, np.zeros((X, V + 1, 1), dtype=bool)], axis=-1)
    start = np.zeros((X, V + 1), dtype=bool)
    start[:, V] = mu > 0

    def extreme(rows, best):
        def value(R):
            vals = rows[R & ok.any(axis=-1)]
            return float(best(vals)) if vals.size else 0.0
        return value

    e_max = reach_sets_sum(start, adjacency, horizon, extreme(row_max, np.max))
    e_min = reach_sets_sum(start, adjacency, horizon, extreme(row_min, np.min))
    return e_min, e_max


def _lattice_bytes(H, X, V, B):
    """Peak bytes of :func:`_certified_single`: per-position tables and moments, one lattice step."""
    per_position = 16 * X * V * V + X * (V + 1) + 256
    return H * per_position + 16 * X * V * V * B + 48 * X * V * B + (1 << 16)


def _certified_single(d, m, n_bins, width_sd, n_lambdas):
    from .log_ratio import markov_kl

    lpd, lpm = _tables(d, m)
    H = d.horizon
    X = d.n_prompts
    mu = np.asarray(d.prompt_weights, dtype=float)
    B = n_bins
    check_allocation(_lattice_bytes(H, X, d.vocab_size, B),
                     f"the lattice method with `H` = {H} positions and `n_bins` = {B}",
                     "use method='fourier' (any Markov model; for time-homogeneous chains its "
                     "cost grows like log H)")
    mom = _moment_pass(lpd, lpm, H, X, mu)

    # ---- lattice step and moving window
    lo_w, hi_w = _windows(mom, width_sd)
    scale = float(np.max(hi_w - lo_w))
    if not scale > 0:
        scale = 1.0
    step = scale / (B - 4)
    k0 = (np.floor(lo_w / step) - 2).astype(np.int64)          # window start, h = 0..H

    # ---- per-step rounded increments, rounding errors and their reachable ranges
    steps = []
    e_max_steps = np.zeros(H)
    e_min_steps = np.zeros(H)
    d_max_steps = np.zeros(H)
    d_min_steps = np.zeros(H)
    inf_after = np.zeros(H + 1, dtype=bool)
    cache = _Steps(lpd, lpm)
    for h in range(H):
        w, winf, dl = cache(h)
        k = np.rint(dl / step)
        err = dl - k * step
        reach = mom["reach"][h][:, :, None]
        ok = reach & (w > 0)
        if ok.any():
            e_max_steps[h] = err[ok].max()
            e_min_steps[h] = err[ok].min()
            d_max_steps[h] = dl[ok].max()
            d_min_steps[h] = dl[ok].min()
        inf_after[h] = bool((reach & (winf > 0)).any())
        steps.append((w, winf, k.astype(np.int64), err))
    # inf_after[h]: an infinite transition is reachable at some position >= h
    inf_after = np.logical_or.accumulate(inf_after[::-1])[::-1]
    e_max_cum = np.concatenate([[0.0], np.cumsum(e_max_steps)])       # sum over steps < h
    e_min_cum = np.concatenate([[0.0], np.cumsum(e_min_steps)])
    d_max_rest = np.concatenate([np.cumsum(d_max_steps[::-1])[::-1], [0.0]])   # steps >= h
    d_min_rest = np.concatenate([np.cumsum(d_min_steps[::-1])[::-1], [0.0]])
    hard_lo_final = mom["hard_lo"][-1]
    hard_hi_final = mom["hard_hi"][-1]

    # ---- lattice dynamic programme over (prompt, previous token, Z_r bin)
    L = np.zeros((X, 1, B))
    L[:, 0, -k0[0]] = mu                                    # Z_0 = 0 at lattice index -k0[0]
    inf_mass = 0.0
    esc_mass, esc_lower, esc_upper = [], [], []
    zero_pad = np.zeros((X, 1, B))
    for h in range(H):
        w, winf, k, _ = steps[h]
        P = L.shape[1]
        row_mass = L.sum(axis=-1)                           # (X, P)
        inf_mass += float(np.einsum("xp,xpv->", row_mass, winf))
        shift = k - (k0[h + 1] - k0[h])                     # (X, P, V)
        shift_c = np.clip(shift, -B, B)
        pad = np.broadcast_to(zero_pad, (X, P, B)) if P == 1 else np.zeros((X, P, B))
        padded = np.concatenate([pad, L, pad], axis=-1)     # (X, P, 3B)
        view = sliding_window_view(padded, B, axis=-1)      # (X, P, 2B+1, B)
        start = B - shift_c                                 # new[i] = L[i - shift] = padded[B + i - shift]
        xi = np.arange(X)[:, None, None]
        pi = np.arange(P)[None, :, None]
        gathered = view[xi, pi, start]                      # (X, P, V, B)
        L_new = np.einsum("xpvb,xpv->xvb", gathered, w)
        # escaped mass (exact, from prefix sums of each row)
        csum = np.concatenate([np.zeros((X, P, 1)), np.cumsum(L, axis=-1)], axis=-1)   # (X, P, B+1)
        below_idx = np.clip(-shift, 0, B)
        above_idx = np.clip(B - shift, 0, B)
        below = np.take_along_axis(csum, below_idx, axis=-1)                        # (X, P, V)
        above = row_mass[:, :, None] - np.take_along_axis(csum, above_idx, axis=-1)
        mb = float((below * w).sum())
        ma = float((above * w).sum())
        # bounds on the final Z of escaped mass
        if mb > 0:
            upper = ((k0[h + 1] - 1) * step + e_max_cum[h + 1] + d_max_rest[h + 1])
            esc_mass.append(mb)
            esc_lower.append(hard_lo_final)
            esc_upper.append(np.inf if inf_after[h + 1] else upper)
        if ma > 0:
            lower = ((k0[h + 1] + B) * step + e_min_cum[h + 1] + d_min_rest[h + 1])
            esc_mass.append(ma)
            esc_lower.append(lower)
            esc_upper.append(np.inf if inf_after[h + 1] else hard_hi_final)
        L = L_new
    masses = L.sum(axis=(0, 1))
    origin = float(k0[H] * step)

    # ---- exact MGF of the rounding error E (finite paths), both signs
    lambdas = _err_lambdas(step, H, n_lambdas)
    lam = np.concatenate([lambdas, -lambdas])
    log_mgf = _tilted_log_mgf(d, m, lambda h, w, winf, dl: steps[h][3], lam)
    e1 = _tilted_mean(d, m, step)
    n_l = lambdas.size
    kl = float(markov_kl(d, m))
    return CertifiedLogRatioLaw(
        origin=origin, step=float(step), masses=masses, inf_mass=inf_mass,
        escape_mass=np.array(esc_mass, dtype=float), escape_lower=np.array(esc_lower, dtype=float),
        escape_upper=np.array(esc_upper, dtype=float),
        error_bounds=(float(e_min_cum[-1]), float(e_max_cum[-1])),
        lambdas=lambdas, log_mgf_pos=log_mgf[:n_l], log_mgf_neg=log_mgf[n_l:], kl=kl,
        error_mean=e1)


def _tilted_log_mgf(d, m, values_of, lambdas):
    """``log E[exp(lam * sum_h values_of(h)) ; Z < inf]`` for every ``lam`` (forward recursion).

    ``values_of(h, w, winf, dl)`` returns the per-transition increments ``(X, P, V)``.  The
    recursion runs in log space (``logsumexp`` over the previous token), so no state's
    weight can underflow: the result is an exact MGF up to rounding, never an
    underestimate by lost mass (which would invalidate the Chernoff bounds).
    """
    lpd, lpm = _tables(d, m)
    X, H = d.n_prompts, d.horizon
    mu = np.asarray(d.prompt_weights, dtype=float)
    steps = _Steps(lpd, lpm)
    with np.errstate(divide="ignore"):
        lg = np.broadcast_to(np.log(mu)[None, :, None], (lambdas.size, X, 1)).copy()

    def log_tilt(h):
        w, winf, dl = steps(h)
        val = values_of(h, w, winf, dl)
        with np.errstate(divide="ignore"):
            logw = np.log(w)
        return logw[None] + lambdas[:, None, None, None] * np.where(w > 0, val, 0.0)[None]   # (L, X, P, V)

    if steps.homogeneous and H > 2:
        # vector x (tilted matrix)^(H-1) by repeated squaring in log space
        lg = _lse(lg[..., None] + log_tilt(0), axis=2)
        P, n = log_tilt(1), H - 1
        while n:
            if n & 1:
                lg = _lse(lg[..., None] + P, axis=2)
            n >>= 1
            if n:
                P = _lse(P[..., :, :, None] + P[..., None, :, :], axis=3)
        return _lse(lg.reshape(lambdas.size, -1), axis=1)
    cache = {}
    for h in range(H):
        key = min(h, 1) if steps.homogeneous else h
        if key not in cache:
            cache = {key: log_tilt(h)}
        lg = _lse(lg[..., None] + cache[key], axis=2)                        # (L, X, V)
    return _lse(lg.reshape(lambdas.size, -1), axis=1)


def _is_homogeneous(d, m):
    return d.log_probs.shape[-3] == 1 and m.log_probs.shape[-3] == 1


def _certified_fft_single(d, m, n_bins, width_sd, n_lambdas, chunk=1 << 15):
    """Time-homogeneous chains: the aliased lattice law by FFT and matrix powers per frequency.

    The lattice law of :math:`Z_r` modulo ``n_bins`` is exact (characteristic function at the
    DFT frequencies, :math:`T(\\omega)^{H-1}` by repeated squaring); the mass outside the
    window, which aliasing folds back, is bounded by Chernoff bounds with the exact moment
    generating function of :math:`Z_r`.
    """
    from .log_ratio import markov_kl

    lpd, lpm = _tables(d, m)
    H, X = d.horizon, d.n_prompts
    mu = np.asarray(d.prompt_weights, dtype=float)
    L = n_bins
    mom = _final_moments(lpd, lpm, H, X, mu)
    sd = mom["sd"][-1]
    lo_w, hi_w = (float(w[-1]) for w in _windows(mom, width_sd))
    scale = hi_w - lo_w if hi_w > lo_w else 1.0
    step = scale / (L - 4)
    k0 = int(np.floor(lo_w / step)) - 2
    # transitions: BOS row and the homogeneous V x V block
    w_b, winf_b, d_b = _step_arrays(lpd, lpm, 0, True)          # (X, 1, V)
    w_t, winf_t, d_t = _step_arrays(lpd, lpm, 1 if H > 1 else 0, False)   # (X, V, V)
    k_b, k_t = np.rint(d_b / step).astype(np.int64), np.rint(d_t / step).astype(np.int64)
    err_b, err_t = d_b - k_b * step, d_t - k_t * step
    # inf mass and the reachable ranges of the rounding error (deterministic bounds on E)
    inf_mass = float(mom["inf_mass"])
    e_min, e_max = _error_range(mom, w_b, err_b, w_t, err_t, H, mu)
    # characteristic function at the rfft frequencies, chunk by chunk; phases from a table of
    # the L-th roots of unity (exact integer arithmetic for j * k mod L)
    n_freq = L // 2 + 1
    phi = np.zeros(n_freq, dtype=complex)
    roots = np.exp(-2j * np.pi * np.arange(L) / L)
    kb_mod, kt_mod = np.mod(k_b, L), np.mod(k_t, L)
    for j0 in range(0, n_freq, chunk):
        j = np.arange(j0, min(j0 + chunk, n_freq), dtype=np.int64)
        for x in range(X):
            vec = (w_b[x, 0][None, :] * roots[np.mod(np.multiply.outer(j, kb_mod[x, 0]), L)])[:, None, :]
            if H > 1:
                P = w_t[x][None] * roots[np.mod(j[:, None, None] * kt_mod[x][None], L)]    # (C, V, V)
                vec = vector_matrix_power(vec, P, H - 1)
            phi[j] += mu[x] * vec[:, 0, :].sum(axis=1)
    shift = np.conj(roots[np.mod(np.arange(n_freq, dtype=np.int64) * (k0 % L), L)])
    masses = np.fft.irfft(phi * shift, n=L)
    # mass of Z_r outside the window [k0, k0 + L) (folded back by aliasing): Chernoff bounds
    lam = np.geomspace(1e-2, 1e2, n_lambdas) / max(sd, step)
    lam_all = np.concatenate([lam, -lam])
    lm_z = _tilted_log_mgf(d, m, lambda h, w, winf, dl: np.rint(dl / step) * step, lam_all)
    top, bottom = (k0 + L) * step, k0 * step
    kb_fin, kt_fin = k_b[w_b > 0], k_t[w_t > 0]

    def _ext(a, fn):
        return float(fn(a)) if a.size else 0.0

    hard_lo_r = (_ext(kb_fin, np.min) + (H - 1) * _ext(kt_fin, np.min)) * step
    hard_hi_r = (_ext(kb_fin, np.max) + (H - 1) * _ext(kt_fin, np.max)) * step
    n_l = lam.size
    with np.errstate(over="ignore"):
        up = 0.0 if hard_hi_r < top else float(np.exp(np.min(lm_z[:n_l] - lam * top)))
        down = 0.0 if hard_lo_r >= bottom else float(np.exp(np.min(lm_z[n_l:] + lam * bottom)))
    fp_slack = 4.0 * L * H * np.finfo(float).eps
    # rounding error E: exact MGF (both signs)
    lm_e = _tilted_log_mgf(d, m, lambda h, w, winf, dl: dl - np.rint(dl / step) * step,
                           np.concatenate([_err_lambdas(step, H, n_lambdas), -_err_lambdas(step, H, n_lambdas)]))
    e1 = _tilted_mean(d, m, step)
    return CertifiedLogRatioLaw(
        origin=float(k0 * step), step=float(step), masses=masses, inf_mass=inf_mass,
        escape_mass=np.zeros(0), escape_lower=np.zeros(0), escape_upper=np.zeros(0),
        error_bounds=(e_min, e_max), lambdas=_err_lambdas(step, H, n_lambdas),
        log_mgf_pos=lm_e[:n_lambdas], log_mgf_neg=lm_e[n_lambdas:], kl=float(markov_kl(d, m)),
        error_mean=e1, tail_slack=min(1.0, up + down + fp_slack), method="fft")


def _err_lambdas(step, H, n_lambdas):
    return np.geomspace(1e-2 / (step * np.sqrt(H)), 2e2 / step, n_lambdas)


def _tilted_mean(d, m, step):
    """Exact E[E; Z < inf] for nearest rounding on a lattice of this step."""
    lpd, lpm = _tables(d, m)
    mu = np.asarray(d.prompt_weights, dtype=float)
    if use_squaring(d.horizon, d.vocab_size + 1, _is_homogeneous(d, m)):
        # (e0, e1) -> (e0 W, e1 W + e0 (W * err)) by repeated squaring
        W, _, D = _full_matrices(lpd, lpm)
        err = np.where(W > 0, D - np.rint(D / step) * step, 0.0)
        M = np.block([[W, W * err], [np.zeros_like(W), W]])
        start = _start_vector(mu, W.shape[-1])
        out = vector_matrix_power(np.concatenate([start, np.zeros_like(start)], axis=-1), M, d.horizon)
        return float(out[..., W.shape[-1]:].sum())
    e0 = mu[:, None].copy()
    e1 = np.zeros_like(e0)
    steps = _Steps(lpd, lpm)
    for h in range(d.horizon):
        w, _, dl = steps(h)
        err = dl - np.rint(dl / step) * step
        e0, e1 = (np.einsum("xp,xpv->xv", e0, w),
                  np.einsum("xp,xpv->xv", e1, w) + np.einsum("xp,xpv->xv", e0, w * err))
    return float(e1.sum())


def _check_bins(n_bins):
    return check_int(n_bins, "n_bins", low=16, high=2 ** 26)


# -------------------------------------------------------------------------- public
def _dispatch(d, m, n_bins, width_sd, n_lambdas, method, n_freq=2 ** 16):
    if method not in ("auto", "lattice", "fft", "fourier"):
        raise ValueError(f"`method` must be 'auto', 'lattice', 'fft' or 'fourier', got {method!r}.")
    homogeneous = _is_homogeneous(d, m)
    if method == "fft" and not homogeneous:
        raise ValueError("`method`='fft' needs time-homogeneous data and model tables (position axis 1).")
    if method == "fourier" or (method == "auto" and d.horizon >= 64):
        from .characteristic import certified_fourier_law

        return certified_fourier_law(d, m, n_freq, width_sd, n_lambdas)
    if method == "fft":
        return _certified_fft_single(d, m, n_bins, width_sd, n_lambdas)
    return _certified_single(d, m, n_bins, width_sd, n_lambdas)


def certified_log_ratio(data, model, *, n_bins=4096, width_sd=8.0, n_lambdas=48, method="auto",
                        n_freq=2 ** 16):
    r"""Certified lattice law of :math:`Z=\log\pi_D/\hat\pi` under :math:`\pi_D` (Markov models).

    (:math:`Z` of Remark E.1 ICLR / 2.1 arXiv: coverage is its upper tail, Definition 1.1.)

    See the module docstring for the method.  Cost :math:`O(H\,X\,V^2\,\text{n\_bins})`
    for the lattice pass plus :math:`O(H\,X\,V^2\,\text{n\_lambdas})` for the error MGF.

    Parameters
    ----------
    data : MarkovModel or AutoregressiveLinearModel (tabular features)
        :math:`\pi_D`, unbatched.
    model : same kinds
        :math:`\hat\pi`, unbatched (use :func:`certified_coverage` for a batch).
    n_bins : int
        Lattice size (window length).
    width_sd : float
        Half-width of the moving window in standard deviations of :math:`Z_h`.
    n_lambdas : int
        Number of Chernoff tilts per sign (at most 4096).
    method : {"auto", "lattice", "fft"}
        ``"lattice"``: the position-by-position dynamic programme over a moving window (any
        Markov model).  ``"fft"``: time-homogeneous tables only; the lattice law modulo
        ``n_bins`` from the characteristic function at the DFT frequencies (matrix powers by
        repeated squaring, :math:`O(\text{n\_bins}\,X V^3\log H)`), the window covering only the
        final law and the aliased mass bounded by Chernoff bounds with the exact MGF of
        :math:`Z_r`.  ``"fourier"`` (any Markov model): no rounding at all; the exact
        characteristic function of :math:`Z` (:mod:`theory.characteristic`) with a Gaussian
        smoothing of scale :math:`\propto 1/\text{n\_freq}` and a periodised Fourier series,
        all truncation and floating-point errors bounded; its gap has no :math:`\sqrt H`
        penalty (about ``7e-4`` at ``V = 4``, ``H = 1000`` with the default ``n_freq``,
        halving when ``n_freq`` doubles).
        ``"auto"`` uses ``"fourier"`` for ``H >= 64`` and ``"lattice"`` below (exact on
        atoms of :math:`Z`, which dominate at short horizons).
    n_freq : int
        Number of Fourier frequencies of the ``"fourier"`` method (its resolution knob;
        frequencies whose characteristic function is negligible cost almost nothing).

    Returns
    -------
    CertifiedLogRatioLaw or theory.characteristic.FourierCoverageLaw
        Both have ``coverage_bounds(N)``, ``kl``, ``method``, ``n_bins``, ``step`` and
        ``to_dict()``.

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> law = certified_log_ratio(categorical_model([0.3, 0.7]), categorical_model([0.075, 0.925]))
    >>> lo, hi = law.coverage_bounds(4.0)
    >>> bool(lo <= 0.3 <= hi)
    True
    """
    d, m = _as_markov_pair(data, model)
    if m.batch_shape:
        raise ValueError("`model` must be unbatched here; use certified_coverage for a batch.")
    n_bins = _check_bins(n_bins)
    width_sd = check_real(width_sd, "width_sd", low=0.0, low_open=True)
    n_lambdas = check_int(n_lambdas, "n_lambdas", low=1, high=4096)
    n_freq = check_int(n_freq, "n_freq", low=16, high=2 ** 24)
    return _dispatch(d, m, n_bins, width_sd, n_lambdas, method, n_freq)


def certified_coverage(data, model, N, *, n_bins=4096, width_sd=8.0, method="auto", n_freq=2 ** 16):
    r"""Certified two-sided bounds on :math:`\mathrm{Cov}_N(\pi_D\|\hat\pi)` for Markov models, any ``H``.

    .. math::

        \mathrm{lo}(N) \le \mathbb P_{\pi_D}\Big[\log\frac{\pi_D(y|x)}{\hat\pi(y|x)}\ge\log N\Big]
        \le \mathrm{hi}(N)\qquad\text{for every } N \text{ at once}

    (Definition 1.1, both numberings).  ``model`` may be a batch (loop over its models).

    Parameters
    ----------
    data, model : MarkovModel or tabular AutoregressiveLinearModel
    N : float or array_like
        Thresholds ``>= 1``.
    n_bins : int
        Lattice size.
    width_sd : float
        Window half-width in standard deviations.
    method : {"auto", "lattice", "fft", "fourier"}
        See :func:`certified_log_ratio`.
    n_freq : int
        Frequencies of the ``"fourier"`` method.

    Returns
    -------
    CertifiedBounds
        ``lo``, ``hi`` of shape ``model.batch_shape + np.shape(N)``; ``n_bins`` and ``step``
        hold the resolution of the method used (``n_freq`` and the smoothing scale for
        ``"fourier"``).

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> b = certified_coverage(categorical_model([0.3, 0.7]), categorical_model([0.075, 0.925]),
    ...                        [2.0, 3.9, 4.1])
    >>> b.lo.round(6), b.hi.round(6)
    (array([0.3, 0.3, 0. ]), array([0.3, 0.3, 0. ]))
    """
    d, m = _as_markov_pair(data, model)
    Nv = check_thresholds(N)
    n_bins = _check_bins(n_bins)
    width_sd = check_real(width_sd, "width_sd", low=0.0, low_open=True)
    n_freq = check_int(n_freq, "n_freq", low=16, high=2 ** 24)
    models = [m] if not m.batch_shape else [m[i] for i in np.ndindex(m.batch_shape)]
    los, his, steps = [], [], []
    for mi in models:
        law = _dispatch(d, mi, n_bins, width_sd, 48, method, n_freq)
        lo, hi = law.coverage_bounds(Nv)
        los.append(lo)
        his.append(hi)
        steps.append(law.step)
    shape = m.batch_shape + Nv.shape
    return CertifiedBounds("coverage", Nv, np.reshape(los, shape), np.reshape(his, shape), law.n_bins,
                           steps[0] if not m.batch_shape else np.reshape(steps, m.batch_shape))


def _stopped_single(d, m, log_n, n_bins):
    from .log_ratio import markov_kl

    lpd, lpm = _tables(d, m)
    H, X, V = d.horizon, d.n_prompts, d.vocab_size
    mu = np.asarray(d.prompt_weights, dtype=float)
    eps_tab = categorical_kl(lpd, lpm)                      # (X, Hd, V+1): token KL per context
    fin_n = log_n[np.isfinite(log_n)]
    c_max = float(fin_n.max()) if fin_n.size else 0.0
    out_r = np.zeros(log_n.shape)
    err_total = 0.0
    step = np.nan
    if c_max > 0:
        B = n_bins
        step = c_max / B
        if use_squaring(H, V + 1, _is_homogeneous(d, m), blocks=2):
            masses, sat, err_total, fp = _stopped_lattice_squaring(lpd, eps_tab, mu, H, B, step)
        else:
            masses, sat, err_total = _stopped_lattice_stepping(lpd, eps_tab, mu, H, B, step)
            fp = 0.0
        grid = step * np.arange(B)
        c = np.minimum(np.where(np.isfinite(log_n), log_n, 0.0), c_max)
        # E[min(c, S_r)] = sum_i m_i min(c, i step) + sat * c
        out_r = (masses[None, :] * np.minimum(c.reshape(-1, 1), grid[None, :])).sum(axis=1).reshape(c.shape)
        out_r = out_r + sat * c
        err_total = err_total + fp * c
    lo = np.clip(out_r - err_total, 0.0, None)
    hi = np.minimum(out_r + err_total, np.where(np.isfinite(log_n), log_n, np.inf))
    lo = np.minimum(lo, hi)
    if np.isinf(log_n).any():
        kl = float(markov_kl(d, m))
        lo = np.where(np.isinf(log_n), kl, lo)
        hi = np.where(np.isinf(log_n), kl, hi)
    return lo, hi, step


def _stopped_increments(eps, B, step):
    """Lattice shifts ``k`` (``B`` = saturate, for infinite token KL) and rounding errors of the token KLs."""
    finite = np.isfinite(eps)
    k = np.where(finite, np.rint(np.where(finite, eps, 0.0) / step), B).astype(np.int64)
    k = np.minimum(k, B)
    err = np.where(finite, eps - k * step, 0.0)
    return finite, k, err


def _stopped_lattice_stepping(lpd, eps_tab, mu, H, B, step):
    """Position by position: the lattice law of the rounded cumulative KL, its saturated mass
    and the bound on the rounding error (see :func:`_stopped_error_bound`)."""
    X, V = lpd.shape[0], lpd.shape[-1]
    L = np.zeros((X, 1, B))
    L[:, 0, 0] = mu
    sat = 0.0
    # second moment of the rounding error E_S (finite contexts only), and its max
    m0 = mu[:, None].copy()
    m1 = np.zeros_like(m0)
    m2 = np.zeros_like(m0)
    e_abs_max = 0.0
    e_unsat = 0.0
    for h in range(H):
        first = h == 0
        rows = slice(V, V + 1) if first else slice(0, V)
        eps = eps_tab[:, h if eps_tab.shape[1] > 1 else 0, rows]       # (X, P)
        pd = np.exp(lpd[:, h if lpd.shape[1] > 1 else 0, rows, :])     # (X, P, V)
        finite, k, err = _stopped_increments(eps, B, step)
        live = m0 > 0
        if (live & finite).any():
            e_abs_max += float(np.abs(err[live & finite]).max())
        e_unsat += float((L.sum(axis=-1) * np.abs(err)).sum())
        # shift each row by k (mass reaching index >= B saturates)
        P = L.shape[1]
        csum = np.concatenate([np.zeros((X, P, 1)), np.cumsum(L, axis=-1)], axis=-1)
        keep = np.clip(B - k, 0, B)                                      # bins that stay
        sat += float((L.sum(axis=-1) - np.take_along_axis(csum, keep[..., None], axis=-1)[..., 0]).sum())
        pad = np.zeros((X, P, B))
        padded = np.concatenate([pad, L], axis=-1)                       # (X, P, 2B)
        view = sliding_window_view(padded, B, axis=-1)                   # (X, P, B+1, B)
        shifted = view[np.arange(X)[:, None], np.arange(P)[None, :], B - k]  # (X, P, B)
        L = np.einsum("xpb,xpv->xvb", shifted, pd)
        # error moments along finite contexts
        w = np.where(finite[..., None], pd, 0.0)
        n0 = np.einsum("xp,xpv->xv", m0, w)
        n1 = np.einsum("xp,xpv->xv", m1 + m0 * err, w)
        n2 = np.einsum("xp,xpv->xv", m2 + 2 * m1 * err + m0 * err * err, w)
        m0, m1, m2 = n0, n1, n2
    masses = L.sum(axis=(0, 1))
    return masses, sat, _stopped_error_bound(m2.sum(), e_abs_max, e_unsat)


def _stopped_error_bound(second_moment, e_abs_max, e_unsat):
    r"""Bound on :math:`|\mathbb E\min(c, S) - \mathbb E\min(c, S_r)|` for every ``c <= c_max``.

    The smallest of :math:`\sqrt{\mathbb E E^2}` and :math:`\sum_h\max|e_h|` (``min(c, .)``
    is 1-Lipschitz, :math:`E = S - S_r`) and :math:`\mathbb E\sum_{h<\sigma}|e_h|` with
    :math:`\sigma` the first position where :math:`S_r` saturates: until the first time
    :math:`\sigma'\le\sigma` that :math:`S` or :math:`S_r` reaches ``c`` the two stopped
    values differ by at most :math:`|E_{\sigma'}|`, and afterwards one of them is ``c``
    while the other lies between its value at :math:`\sigma'` and ``c`` (both walks are
    non-decreasing).  The last term is the expected rounding error over the positions at
    which the lattice still holds the mass (``e_unsat``).
    """
    return min(float(np.sqrt(max(second_moment, 0.0))), e_abs_max, e_unsat)


#: Relative error per floating-point operation of the FFT convolutions, in units of the
#: unit roundoff per ``log2`` of the transform length (Percival's bound for FFT-based
#: products, 3(2 + sqrt 5) per level, with a factor of about 2 of margin).
_FFT_ERR_PER_LEVEL = 26.0


def _poly_matmul(A, Bm, n_bins):
    """Products of matrices of polynomials truncated at degree ``n_bins``: ``(X, P, Q, B) x (X, Q, R, B)``.

    Coefficients are non-negative (probabilities); the FFT result is clipped at 0.  Returns
    the product and a bound per row ``(X, P)`` on the l1 norm of its fresh rounding error.
    """
    n_fft = 1 << int(np.ceil(np.log2(2 * n_bins - 1))) if n_bins > 1 else 1
    fa = np.fft.rfft(A, n_fft, axis=-1)
    fb = np.fft.rfft(Bm, n_fft, axis=-1)
    C = np.fft.irfft(np.einsum("xpqf,xqvf->xpvf", fa, fb), n_fft, axis=-1)[..., :n_bins]
    np.maximum(C, 0.0, out=C)
    gamma = (_FFT_ERR_PER_LEVEL * np.log2(max(n_fft, 2)) + 2.0 * A.shape[2] + 8.0) * (np.finfo(float).eps / 2)
    na = np.sqrt((A * A).sum(axis=-1))                                  # (X, P, Q) l2 norms
    nb = np.sqrt((Bm * Bm).sum(axis=-1))                                # (X, Q, R)
    fresh = n_bins * gamma * np.einsum("xpq,xqr->xp", na, nb)
    return C, fresh


def _row_norms(A):
    """l1 norm of every row ``(X, P)`` of a polynomial matrix ``(X, P, R, B)``."""
    return np.abs(A).sum(axis=(-1, -2))


def _poly_product_with_error(A, ea, Bm, eb, n_bins):
    """``A x Bm`` with a bound on the l1 error of every row, given the row bounds ``ea``/``eb`` of the factors."""
    C, fresh = _poly_matmul(A, Bm, n_bins)
    na = _row_norms(A)                                                  # (X, P)
    nb = _row_norms(Bm).max(axis=-1)                                    # (X,) max row of Bm
    eb_max = eb.max(axis=-1)                                            # (X,)
    ec = ea * (nb + eb_max)[:, None] + na * eb_max[:, None] + fresh
    return C, ec


def _poly_power_and_sum(M, n, n_bins):
    """``M**n`` and ``sum_{j<n} M**j`` for a polynomial matrix, with l1 error bounds per row.

    Binary doubling from the most significant bit: ``(P, G)_{2a} = (P_a P_a, G_a + P_a G_a)``
    and ``(P, G)_{a+1} = (P_a M, G_a + P_a)``; the error of ``G`` grows additively (a generic
    bound for the block matrix ``[[M, I], [0, I]]`` would multiply it by the norm of ``G``
    at every squaring).
    """
    u = np.finfo(float).eps / 2
    X, S = M.shape[:2]
    P = np.zeros_like(M)
    P[:, np.arange(S), np.arange(S), 0] = 1.0
    G = np.zeros_like(M)
    e_p = np.zeros((X, S))
    e_g = np.zeros((X, S))
    e_m = np.zeros((X, S))
    for bit in bin(n)[2:]:
        PG, e_pg = _poly_product_with_error(P, e_p, G, e_g, n_bins)
        G = G + PG
        e_g = e_g + e_pg + u * _row_norms(G)
        P, e_p = _poly_product_with_error(P, e_p, P, e_p, n_bins)
        if bit == "1":
            G = G + P
            e_g = e_g + e_p + u * _row_norms(G)
            P, e_p = _poly_product_with_error(P, e_p, M, e_m, n_bins)
    return P, G, e_p, e_g


def _stopped_lattice_squaring(lpd, eps_tab, mu, H, B, step):
    """:func:`_stopped_lattice_stepping` for time-homogeneous tables by repeated squaring.

    The step is a matrix of polynomials in the lattice shift ``z``:
    ``M[x, p, v](z) = pi_D(v|x, p) z^{k(x, p)}`` truncated at degree ``B`` (saturation), and
    the block matrix ``[[M, I], [0, I]]`` to the power ``H`` gives the final lattice law and
    the unsaturated mass of every context summed over positions (:func:`_stopped_error_bound`).
    Products are FFT convolutions; their rounding errors are bounded (Percival's bound,
    propagated through the squarings with the computed norms) and returned as ``fp``, a
    bound on the l1 error of the final law, to be added to the certified gap (it is tiny when
    the chain saturates, and grows like ``H * 1e-13`` when mass can stay unsaturated for
    ever).  Returns ``masses, sat, err_total, fp``.
    """
    X, V = lpd.shape[0], lpd.shape[-1]
    S = V + 1
    pd = np.exp(lpd[:, 0])                                              # (X, V+1, V)
    pd = np.concatenate([pd, np.zeros((X, S, 1))], axis=-1)             # (X, S, S), BOS column 0
    finite, k, err = _stopped_increments(eps_tab[:, 0], B, step)       # (X, S)
    check_allocation(X * (2 * S) ** 2 * (2 * B) * 16 * 6 + (1 << 16),
                     f"the stopped-KL lattice with `n_bins` = {B} for {X} prompt(s) and V = {V}",
                     "use fewer `n_bins`")
    M = np.zeros((X, S, S, B))
    xi, pi = np.nonzero(k < B)
    M[xi, pi, :, k[xi, pi]] = pd[xi, pi, :]
    # law after H positions and unsaturated mass summed over positions, from the BOS context
    P, G, e_p, e_g = _poly_power_and_sum(M, H, B)
    law, e_law = mu[:, None, None] * P[:, S - 1], mu * e_p[:, S - 1]    # (X, S, B), (X,)
    visits, e_vis = mu[:, None, None] * G[:, S - 1], mu * e_g[:, S - 1]
    masses = law.sum(axis=(0, 1))
    unsat = visits.sum(axis=-1)                                         # (X, S)
    # the table rows sum to one only up to rounding: mass created or lost per unsaturated step
    drift = float(np.abs(pd.sum(axis=-1)[:, :S] - 1.0).max()) + S * np.finfo(float).eps
    fp = 2.0 * float(e_law.sum()) + drift * float(unsat.sum())
    sat = max(1.0 - float(masses.sum()), 0.0)
    e_unsat = float((unsat * np.abs(err)).sum()) + float(e_vis.sum()) * float(np.abs(err).max(initial=0.0))
    # moments of the rounding error along finite contexts, and its per-position maxima
    W = np.where(finite[..., None], pd, 0.0)
    D = np.broadcast_to(err[..., None], W.shape)
    zero = np.zeros_like(W)
    Mom = np.block([[W, W * D, W * D * D], [zero, W, 2 * W * D], [zero, zero, W]])
    start = np.zeros((X, 1, 3 * S))
    start[:, 0, S - 1] = mu
    second = float(vector_matrix_power(start, Mom, H)[..., 2 * S:].sum())
    adjacency = W > 0
    first = np.zeros((X, S), dtype=bool)
    first[:, S - 1] = mu > 0
    abs_err = np.abs(err)

    def value(R):
        vals = abs_err[R & finite]
        return float(vals.max()) if vals.size else 0.0

    e_abs_max = reach_sets_sum(first, adjacency, H, value)
    return masses, sat, _stopped_error_bound(second, e_abs_max, e_unsat), fp


def certified_stopped_kl(data, model, N, *, n_bins=4096):
    r"""Certified bounds on the stopped KL :math:`D_{seq,N}` (Prop. F.10 / D.10) for Markov models.

    .. math::

        D_{seq,N}(\pi_D\|\hat\pi) = \mathbb E_{\pi_D}\min\Big\{\log N,\ \sum_{h=1}^H
        \varepsilon_h(x, y_{h-1})\Big\},\qquad
        \varepsilon_h = D_{KL}\big(\pi_D(\cdot|x,y_{<h})\,\|\,\hat\pi(\cdot|x,y_{<h})\big).

    The joint law of ``(prompt, previous token, cumulative token KL)`` is propagated on a
    lattice of step :math:`\log N_{\max}/\text{n\_bins}` with nearest rounding; the
    cumulative KL is non-decreasing, so mass that reaches :math:`\log N_{\max}` is absorbed
    (its stopped value is exact).  The rounding error costs at most the smallest of
    :math:`\sqrt{\mathbb E E^2}` (:math:`\min\{c,\cdot\}` is 1-Lipschitz; the second
    moment by an exact forward recursion), the sum over positions of the largest reachable
    rounding error, and the expected rounding error accumulated while the lattice still
    holds the mass (after the rounded walk saturates the two stopped values can differ by no
    more than they did then).  ``N = inf`` gives the exact KL.

    Cost: :math:`O(H X V^2 \text{n\_bins})` position by position; for time-homogeneous
    tables and long horizons the step is a matrix of polynomials in the lattice shift,
    raised to the power ``H`` by repeated squaring with FFT products
    (:math:`O(\log H\, X V^3\, \text{n\_bins}\log\text{n\_bins})`, ``H = 10**12`` in about a
    second); the floating-point error of those products is bounded and added to the gap
    (negligible when the cumulative KL saturates, growing with ``H`` when mass can stay
    below :math:`\log N` for ever).

    Parameters
    ----------
    data, model : MarkovModel or tabular AutoregressiveLinearModel
    N : float or array_like
        Thresholds ``>= 1``.
    n_bins : int
        Lattice size.

    Returns
    -------
    CertifiedBounds
        ``quantity="stopped_kl"``.

    Examples
    --------
    >>> from theory.models import categorical_model
    >>> b = certified_stopped_kl(categorical_model([0.5, 0.5]), categorical_model([0.9, 0.1]), [1.0, 4.0, np.inf])
    >>> b.lo.round(3), b.hi.round(3)
    (array([0.   , 0.511, 0.511]), array([0.   , 0.511, 0.511]))
    """
    d, m = _as_markov_pair(data, model)
    Nv = check_thresholds(N)
    n_bins = _check_bins(n_bins)
    log_n = np.log(Nv).ravel()
    models = [m] if not m.batch_shape else [m[i] for i in np.ndindex(m.batch_shape)]
    los, his, steps = [], [], []
    for mi in models:
        lo, hi, step = _stopped_single(d, mi, log_n, n_bins)
        los.append(lo)
        his.append(hi)
        steps.append(step)
    shape = m.batch_shape + Nv.shape
    return CertifiedBounds("stopped_kl", Nv, np.reshape(los, shape), np.reshape(his, shape), n_bins,
                           steps[0] if not m.batch_shape else np.reshape(steps, m.batch_shape))
