r"""Certified two-sided bounds on the stopped KL of Markov models, at any ``H`` (Prop. F.10 / D.10).

.. math::

    D_{seq,N}(\pi_D\|\hat\pi) = \mathbb E_{\pi_D}\min\Big\{\log N,\ \sum_{h=1}^H
    \varepsilon_h(x, y_{h-1})\Big\}

from the joint law of ``(prompt, previous token, cumulative token-KL)`` on a lattice, where
the cumulative KL is monotone and can be absorbed once it passes :math:`\log N`
(:func:`certified_stopped_kl`); the KL itself is exact through
:func:`theory.log_ratio.markov_kl` (chain rule).  Position by position, or for
time-homogeneous tables by repeated squaring of a matrix of polynomials with FFT products
whose floating-point error is bounded.

A module of its own (it was the second half of the certified module): it shares the
lattice idea and the result record :class:`~theory.log_ratio.certified.CertifiedBounds`
with the certified coverage bounds, but none of their machinery, so it imports
:mod:`theory.log_ratio.certified` for the record only.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..divergences import categorical_kl
from ..squaring import reach_sets_sum, use_squaring, vector_matrix_power
from ..validation import check_allocation, check_thresholds
from .certified import CertifiedBounds
from .lattice import check_bins, is_homogeneous, tables
from .markov import markov_kl, markov_pair
from .parameters import DOCS

__all__ = ["certified_stopped_kl"]


def _stopped_single(d, m, log_n, n_bins):
    lpd, lpm = tables(d, m)
    H, V = d.horizon, d.vocab_size
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
        if use_squaring(H, V + 1, is_homogeneous(d, m), blocks=2):
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
    r"""Lattice shifts ``k`` (``B`` = saturate, for infinite token KL) and rounding errors of the token KLs.

    The error is that of the *unclipped* rounding, :math:`|e| \le` ``step/2``: a shift clipped
    at ``B`` saturates the walk exactly when the unclipped rounded walk passes ``c_max``, and
    both give ``min(c, .) = c`` for every ``c <= c_max``, so :math:`E = S - S_r` may be taken
    with the unclipped :math:`S_r` (a token KL far above ``c_max`` costs no error).
    """
    finite = np.isfinite(eps)
    r = np.rint(np.where(finite, eps, 0.0) / step)
    k = np.where(finite, np.minimum(r, B), B).astype(np.int64)
    err = np.where(finite, eps - r * step, 0.0)
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


@DOCS
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
    %(data)s
    %(model_tabular)s
    %(N)s
    %(n_bins)s

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
    d, m = markov_pair(data, model)
    Nv = check_thresholds(N)
    n_bins = check_bins(n_bins)
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
