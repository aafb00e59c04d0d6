r"""The lattice kernel shared by the certified laws: per-position transitions, exact moments, tilted MGFs.

For Markov (tabular) models the log density ratio is additive along the chain,
:math:`Z = \sum_{h=1}^H \delta_h(x, y_{h-1}, y_h)` with
:math:`\delta_h = \log\pi_D(y_h|x,y_{h-1}) - \log\hat\pi(y_h|x,y_{h-1})`, so everything the
certified laws need is a forward recursion over the context ``(prompt, previous token)``
driven by the same per-position arrays.  This module prepares those inputs once and holds
the recursions that both :mod:`theory.log_ratio.certified` (lattice and FFT methods) and
:mod:`theory.log_ratio.fourier` (characteristic-function method) run:

* :func:`tables` and :class:`Steps` -- the transition weights and increments
  :math:`(\pi_D(v|x,p)\ \text{for finite}\ \delta,\ \pi_D(v|x,p)\ \text{for}\ \delta=+\infty,\ \delta)`
  of every position, computed once (twice for time-homogeneous tables);
  :func:`full_matrices` and :func:`start_vector` -- the same as ``(V+1) x (V+1)`` context
  matrices for repeated squaring;
* :func:`moment_pass`, :func:`moment_final`, :func:`final_moments` -- the exact mean,
  standard deviation, reachable range and infinite mass of :math:`Z_h` (position by
  position, or at ``h = H`` by repeated squaring), and :func:`windows`, the window
  ``width_sd`` standard deviations each side of the mean, clipped to the reachable range;
* :func:`tilted_log_mgf` -- :math:`\log\mathbb E[e^{\lambda\sum_h g_h};\,Z<\infty]` for any
  per-transition function :math:`g` (the Chernoff bounds of every method).

These were private helpers of the certified module that the Fourier module imported; as
the public names of the module that owns them the import arrows point one way (fourier and
certified -> lattice -> markov).  Internal (no ``__all__``): callers have validated their
inputs (:func:`theory.log_ratio.markov.markov_pair`, :func:`check_bins`).
"""

from __future__ import annotations

import numpy as np

from ..squaring import power_and_sum, tropical_vector_power, use_squaring, vector_matrix_power
from ..validation import check_int

__all__ = []        # the shared kernel of certified.py and fourier.py; trusts its inputs


def tables(d, m):
    """Full-horizon-indexable tables (X, Hd, V+1, V) for data and model."""
    lpd = np.asarray(d.log_probs, dtype=float)
    lpm = np.asarray(m.log_probs, dtype=float)
    return lpd, lpm


def lse(a, axis):
    """``log(sum(exp(a)))`` over ``axis`` (``-inf`` safe), without scipy's per-call overhead."""
    mx = np.max(a, axis=axis, keepdims=True)
    mx = np.where(np.isfinite(mx), mx, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - mx), axis=axis, keepdims=True)) + mx
    return np.squeeze(out, axis=axis)


class Steps:
    """Per-position transition arrays, computed once (twice for time-homogeneous tables)."""

    def __init__(self, lpd, lpm):
        self.lpd, self.lpm = lpd, lpm
        self.homogeneous = lpd.shape[1] == 1 and lpm.shape[1] == 1
        self._cache = {}

    def __call__(self, h):
        key = (min(h, 1) if self.homogeneous else h)
        if key not in self._cache:
            self._cache[key] = step_arrays(self.lpd, self.lpm, h, h == 0)
        return self._cache[key]


def step_arrays(lpd, lpm, h, first):
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


def full_matrices(lpd, lpm):
    """Time-homogeneous transitions as ``(X, V+1, V+1)`` matrices over contexts.

    Returns ``w``, ``winf`` and ``delta`` (as :func:`step_arrays`) with the begin-of-sequence
    context as row ``V`` (its transitions are those of position 0) and a zero column ``V``.
    """
    w_b, winf_b, d_b = step_arrays(lpd, lpm, 0, True)          # (X, 1, V)
    w_t, winf_t, d_t = step_arrays(lpd, lpm, 1, False)         # (X, V, V)

    def full(t, b):
        a = np.concatenate([t, b], axis=1)                      # (X, V+1, V)
        return np.concatenate([a, np.zeros(a.shape[:-1] + (1,))], axis=-1)

    return full(w_t, w_b), full(winf_t, winf_b), full(d_t, d_b)


def start_vector(mu, S):
    """Row vectors ``(X, 1, S)`` with mass ``mu[x]`` on the begin-of-sequence context."""
    v = np.zeros((mu.size, 1, S))
    v[:, 0, S - 1] = mu
    return v


def moment_pass(lpd, lpm, horizon, n_prompts, mu):
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
    steps = Steps(lpd, lpm)
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


def moment_final(lpd, lpm, horizon, mu):
    """:func:`moment_pass` at the final position only, for time-homogeneous tables, by repeated squaring.

    ``O(X V^3 log H)`` time.  Moments of ``Z_H`` come from the block recursion
    ``(m0, m1, m2) -> (m0 W, m1 W + m0 (W*D), m2 W + 2 m1 (W*D) + m0 (W*D^2))`` taken twice:
    the mean first, then the second moment of ``Z_H - c H`` with ``c`` the mean drift per
    position (so the variance does not cancel against ``mean**2`` when ``H`` is huge).  The
    reachable range is a (min, +) / (max, +) matrix power; the mass lost to infinite
    increments is the visit count of each context times its infinite-transition mass.
    Returns the keys of :func:`moment_pass` as arrays over ``h = 0, H`` (no ``reach``).
    """
    W, Winf, D = full_matrices(lpd, lpm)
    X, S = W.shape[0], W.shape[-1]
    start = start_vector(mu, S)
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


def final_moments(lpd, lpm, horizon, n_prompts, mu):
    """The moments and ranges of ``Z_H`` needed by the ``fft`` and ``fourier`` methods.

    By repeated squaring for long time-homogeneous chains (:func:`moment_final`), else the
    position-by-position :func:`moment_pass`.  Only the ``[-1]`` entries are meaningful.
    """
    homogeneous = lpd.shape[1] == 1 and lpm.shape[1] == 1
    if use_squaring(horizon, lpd.shape[-1] + 1, homogeneous, blocks=3):
        return moment_final(lpd, lpm, horizon, mu)
    return moment_pass(lpd, lpm, horizon, n_prompts, mu)


def windows(mom, width_sd):
    """Window ``[lo_w, hi_w]`` of ``Z_h`` for h = 0..H: ``width_sd`` standard deviations
    around the exact mean, clipped to the reachable range (arrays over h)."""
    lo_w = np.maximum(mom["mean"] - width_sd * mom["sd"], mom["hard_lo"])
    hi_w = np.minimum(mom["mean"] + width_sd * mom["sd"], mom["hard_hi"])
    return lo_w, np.maximum(hi_w, lo_w)


def tilted_log_mgf(d, m, values_of, lambdas):
    """``log E[exp(lam * sum_h values_of(h)) ; Z < inf]`` for every ``lam`` (forward recursion).

    ``values_of(h, w, winf, dl)`` returns the per-transition increments ``(X, P, V)``.  The
    recursion runs in log space (``logsumexp`` over the previous token), so no state's
    weight can underflow: the result is an exact MGF up to rounding, never an
    underestimate by lost mass (which would invalidate the Chernoff bounds).
    """
    lpd, lpm = tables(d, m)
    X, H = d.n_prompts, d.horizon
    mu = np.asarray(d.prompt_weights, dtype=float)
    steps = Steps(lpd, lpm)
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
        lg = lse(lg[..., None] + log_tilt(0), axis=2)
        P, n = log_tilt(1), H - 1
        while n:
            if n & 1:
                lg = lse(lg[..., None] + P, axis=2)
            n >>= 1
            if n:
                P = lse(P[..., :, :, None] + P[..., None, :, :], axis=3)
        return lse(lg.reshape(lambdas.size, -1), axis=1)
    cache = {}
    for h in range(H):
        key = min(h, 1) if steps.homogeneous else h
        if key not in cache:
            cache = {key: log_tilt(h)}
        lg = lse(lg[..., None] + cache[key], axis=2)                        # (L, X, V)
    return lse(lg.reshape(lambdas.size, -1), axis=1)


def is_homogeneous(d, m):
    """Whether both tables are time-homogeneous (one position on the position axis)."""
    return d.log_probs.shape[-3] == 1 and m.log_probs.shape[-3] == 1


def check_bins(n_bins):
    """``n_bins`` as an int in ``[16, 2**26]`` (``ValueError``/``TypeError`` naming `n_bins` otherwise)."""
    return check_int(n_bins, "n_bins", low=16, high=2 ** 26)
