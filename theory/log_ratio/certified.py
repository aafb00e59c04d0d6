r"""Certified two-sided bounds on the coverage of Markov models, at any ``H`` (Definition 1.1).

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
``simulations/bench/certified.py``.  A third method, ``"fourier"``, rounds nothing
(:mod:`theory.log_ratio.fourier`); ``method="auto"`` uses it for ``H >= 64``.

The stopped KL of Prop. F.10 / D.10 is certified by the same lattice idea in
:mod:`theory.log_ratio.stopped`; the KL itself is exact through
:func:`theory.log_ratio.markov_kl` (chain rule).

All functions accept :class:`~theory.models.MarkovModel` or tabular
:class:`~theory.models.AutoregressiveLinearModel` instances; ``data`` must be unbatched,
``model`` may be a batch (results get its leading axis).  Every result says
``evaluation="certified"``.

Layout: the inputs and recursions shared with the Fourier method (transition arrays, exact
moments and windows, tilted MGFs) are in :mod:`theory.log_ratio.lattice`; this module holds
the result records, the two lattice methods and the dispatch over the three methods, so
it imports :mod:`theory.log_ratio.fourier` and never the other way round.
"""


from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..coverage import comparison_log_thresholds
from ..squaring import reach_sets_sum, tropical_vector_power, use_squaring, vector_matrix_power
from ..validation import check_allocation, check_int, check_real, check_thresholds, readonly
from .fourier import certified_fourier_law
from .lattice import (Steps, check_bins, final_moments, full_matrices, is_homogeneous, moment_pass,
                      start_vector, step_arrays, tables, tilted_log_mgf, windows)
from .markov import markov_kl, markov_pair
from .parameters import DOCS

__all__ = [
    "certified_log_ratio",
    "certified_coverage",
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
        """``hi - lo`` (same shape); ``0`` where both are the same infinity (an infinite stopped KL)."""
        with np.errstate(invalid="ignore"):
            return np.where(self.hi == self.lo, 0.0, self.hi - self.lo)

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

    @DOCS
    def coverage_bounds(self, N, *, max_shifts=1024):
        r"""Certified ``lo <= Cov_N <= hi`` at every threshold of ``N`` (any shape).

        Parameters
        ----------
        %(N)s
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
def _error_range(mom, w_b, err_b, w_t, err_t, horizon, mu):
    """``(E_min, E_max)``: sums over positions of the extreme rounding errors of reachable transitions.

    Position by position with the reachable contexts of
    :func:`~theory.log_ratio.lattice.moment_pass` when it ran; otherwise (long
    time-homogeneous chains) over the eventually periodic sequence of reachable context sets
    (:func:`theory.squaring.reach_sets_sum`).
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
    lpd, lpm = tables(d, m)
    H = d.horizon
    X = d.n_prompts
    mu = np.asarray(d.prompt_weights, dtype=float)
    B = n_bins
    check_allocation(_lattice_bytes(H, X, d.vocab_size, B),
                     f"the lattice method with `H` = {H} positions and `n_bins` = {B}",
                     "use method='fourier' (any Markov model; for time-homogeneous chains its "
                     "cost grows like log H)")
    mom = moment_pass(lpd, lpm, H, X, mu)

    # ---- lattice step and moving window
    lo_w, hi_w = windows(mom, width_sd)
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
    cache = Steps(lpd, lpm)
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
    log_mgf = tilted_log_mgf(d, m, lambda h, w, winf, dl: steps[h][3], lam)
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


def _certified_fft_single(d, m, n_bins, width_sd, n_lambdas, chunk=1 << 15):
    """Time-homogeneous chains: the aliased lattice law by FFT and matrix powers per frequency.

    The lattice law of :math:`Z_r` modulo ``n_bins`` is exact (characteristic function at the
    DFT frequencies, :math:`T(\\omega)^{H-1}` by repeated squaring); the mass outside the
    window, which aliasing folds back, is bounded by Chernoff bounds with the exact moment
    generating function of :math:`Z_r`.
    """
    lpd, lpm = tables(d, m)
    H, X = d.horizon, d.n_prompts
    mu = np.asarray(d.prompt_weights, dtype=float)
    L = n_bins
    mom = final_moments(lpd, lpm, H, X, mu)
    sd = mom["sd"][-1]
    lo_w, hi_w = (float(w[-1]) for w in windows(mom, width_sd))
    scale = hi_w - lo_w if hi_w > lo_w else 1.0
    step = scale / (L - 4)
    k0 = int(np.floor(lo_w / step)) - 2
    # transitions: BOS row and the homogeneous V x V block
    w_b, winf_b, d_b = step_arrays(lpd, lpm, 0, True)          # (X, 1, V)
    w_t, winf_t, d_t = step_arrays(lpd, lpm, 1 if H > 1 else 0, False)   # (X, V, V)
    k_b, k_t = np.rint(d_b / step).astype(np.int64), np.rint(d_t / step).astype(np.int64)
    err_b, err_t = d_b - k_b * step, d_t - k_t * step
    # inf mass and the reachable ranges of the rounding error (deterministic bounds on E)
    inf_mass = float(mom["inf_mass"])
    e_min, e_max = _error_range(mom, w_b, err_b, w_t, err_t, H, mu)
    # Exact range [k_lo, k_hi] of the lattice walk on finite paths ((min, +) and (max, +) matrix
    # powers over the rounded shifts of reachable transitions).  When it fits in the n_bins
    # bins the window is moved to hold it, so aliasing folds no mass back.
    k_lo, k_hi = _lattice_range(w_b, k_b, w_t, k_t, mu, H)
    if k_lo is not None and k_hi - k_lo < L and not (k0 <= k_lo and k_hi < k0 + L):
        k0 = k_lo - (L - 1 - (k_hi - k_lo)) // 2
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
    lm_z = tilted_log_mgf(d, m, lambda h, w, winf, dl: np.rint(dl / step) * step, lam_all)
    top, bottom = (k0 + L) * step, k0 * step
    kb_fin, kt_fin = k_b[w_b > 0], k_t[w_t > 0]

    def _ext(a, fn):
        return float(fn(a)) if a.size else 0.0

    # Range of Z_r on finite paths: the per-transition extremes (over every transition, reachable
    # or not) and Z_r = Z - E with Z in its reachable range and E in [E_min, E_max]; the tighter
    # of the two decides whether aliasing can fold any mass back.
    hard_lo_r = (_ext(kb_fin, np.min) + (H - 1) * _ext(kt_fin, np.min)) * step
    hard_hi_r = (_ext(kb_fin, np.max) + (H - 1) * _ext(kt_fin, np.max)) * step
    if k_lo is not None:
        hard_lo_r, hard_hi_r = max(hard_lo_r, k_lo * step), min(hard_hi_r, k_hi * step)
    n_l = lam.size
    with np.errstate(over="ignore"):
        up = 0.0 if hard_hi_r < top else float(np.exp(np.min(lm_z[:n_l] - lam * top)))
        down = 0.0 if hard_lo_r >= bottom else float(np.exp(np.min(lm_z[n_l:] + lam * bottom)))
    fp_slack = 4.0 * L * H * np.finfo(float).eps
    # rounding error E: exact MGF (both signs)
    lm_e = tilted_log_mgf(d, m, lambda h, w, winf, dl: dl - np.rint(dl / step) * step,
                           np.concatenate([_err_lambdas(step, H, n_lambdas), -_err_lambdas(step, H, n_lambdas)]))
    e1 = _tilted_mean(d, m, step)
    return CertifiedLogRatioLaw(
        origin=float(k0 * step), step=float(step), masses=masses, inf_mass=inf_mass,
        escape_mass=np.zeros(0), escape_lower=np.zeros(0), escape_upper=np.zeros(0),
        error_bounds=(e_min, e_max), lambdas=_err_lambdas(step, H, n_lambdas),
        log_mgf_pos=lm_e[:n_lambdas], log_mgf_neg=lm_e[n_lambdas:], kl=float(markov_kl(d, m)),
        error_mean=e1, tail_slack=min(1.0, up + down + fp_slack), method="fft")


def _lattice_range(w_b, k_b, w_t, k_t, mu, H):
    """Smallest and largest total shift of the lattice walk over finite paths (ints), or ``(None, None)``.

    ``w_*`` are the finite-transition weights and ``k_*`` the shifts of the begin-of-sequence
    row ``(X, 1, V)`` and of the token rows ``(X, V, V)`` of a time-homogeneous pair.
    """
    X, V = w_t.shape[0], w_t.shape[-1]
    ok = np.concatenate([w_t, w_b], axis=1) > 0                        # (X, V+1, V): context -> token
    k = np.concatenate([k_t, k_b], axis=1).astype(float)
    ok = np.concatenate([ok, np.zeros((X, V + 1, 1), dtype=bool)], axis=-1)
    k = np.concatenate([k, np.zeros((X, V + 1, 1))], axis=-1)
    start = np.zeros((X, 1, V + 1), dtype=bool)
    start[:, 0, V] = mu > 0
    lo = tropical_vector_power(np.where(start, 0.0, np.inf), np.where(ok, k, np.inf), H, np.min)
    hi = tropical_vector_power(np.where(start, 0.0, -np.inf), np.where(ok, k, -np.inf), H, np.max)
    lo, hi = lo[np.isfinite(lo)], hi[np.isfinite(hi)]
    if not lo.size:
        return None, None
    return int(lo.min()), int(hi.max())


def _err_lambdas(step, H, n_lambdas):
    return np.geomspace(1e-2 / (step * np.sqrt(H)), 2e2 / step, n_lambdas)


def _tilted_mean(d, m, step):
    """Exact E[E; Z < inf] for nearest rounding on a lattice of this step."""
    lpd, lpm = tables(d, m)
    mu = np.asarray(d.prompt_weights, dtype=float)
    if use_squaring(d.horizon, d.vocab_size + 1, is_homogeneous(d, m)):
        # (e0, e1) -> (e0 W, e1 W + e0 (W * err)) by repeated squaring
        W, _, D = full_matrices(lpd, lpm)
        err = np.where(W > 0, D - np.rint(D / step) * step, 0.0)
        M = np.block([[W, W * err], [np.zeros_like(W), W]])
        start = start_vector(mu, W.shape[-1])
        out = vector_matrix_power(np.concatenate([start, np.zeros_like(start)], axis=-1), M, d.horizon)
        return float(out[..., W.shape[-1]:].sum())
    e0 = mu[:, None].copy()
    e1 = np.zeros_like(e0)
    steps = Steps(lpd, lpm)
    for h in range(d.horizon):
        w, _, dl = steps(h)
        err = dl - np.rint(dl / step) * step
        e0, e1 = (np.einsum("xp,xpv->xv", e0, w),
                  np.einsum("xp,xpv->xv", e1, w) + np.einsum("xp,xpv->xv", e0, w * err))
    return float(e1.sum())


# -------------------------------------------------------------------------- public
def _dispatch(d, m, n_bins, width_sd, n_lambdas, method, n_freq=2 ** 16):
    if method not in ("auto", "lattice", "fft", "fourier"):
        raise ValueError(f"`method` must be 'auto', 'lattice', 'fft' or 'fourier', got {method!r}.")
    homogeneous = is_homogeneous(d, m)
    if method == "fft" and not homogeneous:
        raise ValueError("`method`='fft' needs time-homogeneous data and model tables (position axis 1).")
    if method == "fourier" or (method == "auto" and d.horizon >= 64):
        return certified_fourier_law(d, m, n_freq, width_sd, n_lambdas)
    if method == "fft":
        return _certified_fft_single(d, m, n_bins, width_sd, n_lambdas)
    return _certified_single(d, m, n_bins, width_sd, n_lambdas)


@DOCS
def certified_log_ratio(data, model, *, n_bins=4096, width_sd=8.0, n_lambdas=48, method="auto",
                        n_freq=2 ** 16):
    r"""Certified lattice law of :math:`Z=\log\pi_D/\hat\pi` under :math:`\pi_D` (Markov models).

    (:math:`Z` of Remark E.1 ICLR / 2.1 arXiv: coverage is its upper tail, Definition 1.1.)

    See the module docstring for the method.  Cost :math:`O(H\,X\,V^2\,\text{n\_bins})`
    for the lattice pass plus :math:`O(H\,X\,V^2\,\text{n\_lambdas})` for the error MGF.

    Parameters
    ----------
    %(data)s
    %(model_single)s
        Use :func:`certified_coverage` for a batch.
    %(n_bins)s
    %(width_sd)s
    n_lambdas : int, optional
        Number of Chernoff tilts per sign (at most 4096).
    %(method)s
    %(n_freq)s

    Returns
    -------
    CertifiedLogRatioLaw or FourierCoverageLaw
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
    d, m = markov_pair(data, model)
    if m.batch_shape:
        raise ValueError("`model` must be unbatched here; use certified_coverage for a batch.")
    n_bins = check_bins(n_bins)
    width_sd = check_real(width_sd, "width_sd", low=0.0, low_open=True)
    n_lambdas = check_int(n_lambdas, "n_lambdas", low=1, high=4096)
    n_freq = check_int(n_freq, "n_freq", low=16, high=2 ** 24)
    return _dispatch(d, m, n_bins, width_sd, n_lambdas, method, n_freq)


@DOCS
def certified_coverage(data, model, N, *, n_bins=4096, width_sd=8.0, method="auto", n_freq=2 ** 16):
    r"""Certified two-sided bounds on :math:`\mathrm{Cov}_N(\pi_D\|\hat\pi)` for Markov models, any ``H``.

    .. math::

        \mathrm{lo}(N) \le \mathbb P_{\pi_D}\Big[\log\frac{\pi_D(y|x)}{\hat\pi(y|x)}\ge\log N\Big]
        \le \mathrm{hi}(N)\qquad\text{for every } N \text{ at once}

    (Definition 1.1, both numberings).  ``model`` may be a batch (loop over its models).

    Parameters
    ----------
    %(data)s
    %(model_tabular)s
    %(N)s
    %(n_bins)s
    %(width_sd)s
    %(method)s
    %(n_freq)s

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
    d, m = markov_pair(data, model)
    Nv = check_thresholds(N)
    n_bins = check_bins(n_bins)
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
