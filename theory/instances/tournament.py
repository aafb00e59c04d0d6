r"""Finite categorical classes for tournament model / checkpoint selection (Section 6.2 ICLR / 6.3 arXiv).

Two constructions on which the tournament guarantees are sharp, each a data distribution
:math:`\pi_D` and a finite class :math:`\Pi` of categorical models on the same support:

* :func:`missing_mass_class` -- the worst case of the simple tournament (Eq. (14) ICLR /
  (29) arXiv): the :math:`\log(|\Pi|/\delta)/n` term of Theorem 6.2 (ICLR) / 6.3 (arXiv),
  Eq. (15) / (30), is attained;
* :func:`offset_trap_class` -- an instance meeting the hypothesis of Theorem G.3 (ICLR) /
  6.4 (arXiv) on which the simple tournament keeps an :math:`n`-free error of the
  :math:`N^{-(1-a)}` kind that the offset tournament (Eq. (39) ICLR / (32) arXiv) removes;
* :func:`perturbed_class` -- random classes around a random :math:`\pi_D` (no sharpness
  intended: the generic case the guarantee must also cover).

Both return ``(log_p, log_probs)``: the normalised log-probabilities of :math:`\pi_D`, shape
``(m,)``, and of the candidates, shape ``(K, m)``, as read-only float64 arrays.  They are not
:class:`~theory.instances.Instance` records (no model objects are involved), so, like
:mod:`theory.instances.witnesses`, they are imported from this module.  The constructions are
[derived]: the paper states the theorems, not these instances.

Numbering: ICLR camera-ready first, arXiv v2 second.
"""

from __future__ import annotations

import math

import numpy as np

from ..validation import check_allocation, check_int, check_real, check_rng, readonly

__all__ = ["missing_mass_class", "offset_trap_class", "perturbed_class"]

#: Smallest and largest atom masses of the missing-mass grid (up to 0.2: no saturation at n = 32).
_EPS_RANGE = (3e-5, 0.2)


def _normalise(logits):
    return logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)


def _scale_iv(N, a, factor):
    """Validated ``N``, ``a`` and the divisor ``factor * N**(1 + a)`` (refused if it overflows)."""
    N = check_real(N, "N", low=1.0)
    a = check_real(a, "a", low=0.0, high=1.0)
    if math.log(factor) + (1.0 + a) * math.log(N) >= math.log(np.finfo(float).max):
        raise ValueError(f"`N` = {N:g} is too large: {factor:g} N^(1+a) overflows float64 (a = {a:g}).")
    return N, a


def missing_mass_class(n_atoms, *, N, a):
    r"""The missing-mass class: the simple tournament's :math:`\log(|\Pi|/\delta)/n` term attained.

    Serves Theorem 6.2 (ICLR) / 6.3 (arXiv), Eq. (15) ICLR / (30) arXiv: w.p. :math:`\ge 1-\delta`
    the simple tournament :math:`\hat\pi` satisfies

    .. math::

        \mathrm{Cov}_{N^{1+a}}(\hat\pi) \lesssim \min_{\pi\in\Pi}\mathrm{Cov}_{N^a}(\pi)
          + N^{-(1-a)} + \frac{\log(|\Pi|/\delta)}{n}.

    The support is a bulk atom and :math:`J` = ``n_atoms`` atoms of geometric masses
    :math:`\epsilon_1 < \dots < \epsilon_J` from ``3e-5`` to ``0.2``:
    :math:`\pi_D = (1 - \sum_j\epsilon_j, \epsilon_1, \dots, \epsilon_J)`.  The class is
    :math:`\Pi = \{\pi_0 = \pi_D, \pi_1, \dots, \pi_J\}`, where :math:`\pi_j` divides atom
    :math:`j` by :math:`4N^{1+a}` and renormalises.  Then :math:`\mathrm{Cov}_{N^a}(\pi_0) = 0`
    when :math:`N^a > 1` and, for every :math:`N \ge 1` and :math:`j \ge 1`, exactly

    .. math:: \mathrm{Cov}_{N^{1+a}}(\pi_j) = \epsilon_j,

    since :math:`\pi_D/\pi_j \ge 4N^{1+a}(1 - \epsilon_j) \ge N^{1+a}` on atom :math:`j` and
    :math:`\pi_D/\pi_j < 1` elsewhere.  An atom not seen in the held-out sample makes
    :math:`\pi_j` tie with :math:`\pi_D` at score 0, and the likelihood tie-break prefers the
    model that dropped the most unobserved mass: the held-out term is attained (decay like
    :math:`1/n`), while ``N = 1e6``, ``a = 1/2`` make :math:`N^{-(1-a)} = 10^{-3}` negligible.

    Parameters
    ----------
    n_atoms : int
        :math:`J`, the number of light atoms (and of bad models), ``>= 1``; at most about 45,
        beyond which the light atoms carry all the mass.
    N : float
        Tournament threshold, ``>= 1``.
    a : float
        Exponent :math:`a \in [0, 1]`.

    Returns
    -------
    log_p : (J + 1,) ndarray
        :math:`\log\pi_D` (read-only).
    log_probs : (J + 1, J + 1) ndarray
        Row :math:`j` is :math:`\log\pi_j`; row 0 is :math:`\pi_D` itself (read-only).

    Examples
    --------
    >>> from theory.coverage import coverage_profile
    >>> log_p, log_probs = missing_mass_class(3, N=100.0, a=0.5)
    >>> log_probs.shape
    (4, 4)
    >>> cov = [float(coverage_profile(log_p - row, 100.0 ** 1.5, weights=np.exp(log_p))) for row in log_probs]
    >>> np.allclose(cov, np.r_[0.0, np.exp(log_p[1:])])
    True
    """
    J = check_int(n_atoms, "n_atoms", low=1)
    N, a = _scale_iv(N, a, 4.0)
    lo, hi = _EPS_RANGE
    # The mean of a geometric grid is at least the geometric mean of its ends.
    if J * math.sqrt(lo * hi) >= 1.0:
        raise ValueError(f"`n_atoms` = {J} is too large: the light atoms would carry all the mass.")
    eps = np.geomspace(lo, hi, J)
    if eps.sum() >= 1.0:
        raise ValueError(f"`n_atoms` = {J} is too large: the light atoms would carry all the mass "
                         f"({eps.sum():.3f} >= 1).")
    log_p = np.log(np.r_[1.0 - eps.sum(), eps])
    lp = np.tile(log_p, (J + 1, 1))
    diag = np.arange(1, J + 1)
    lp[diag, diag] -= np.log(4.0 * N ** (1 + a))
    return readonly(log_p), readonly(_normalise(lp))


def offset_trap_class(n_traps, *, N, a, rng=None):
    r"""A class where the offset tournament beats the simple one: a good candidate, a rival and traps.

    Serves Theorem G.3 (ICLR) / 6.4 (arXiv), Eq. (39) ICLR / (32) arXiv: if some
    :math:`\pi \in \Pi` has :math:`|\log\pi_D - \log\pi| \le a\log N` everywhere (and
    :math:`N^{1-2a} \ge 4` ICLR / :math:`\ge 8` arXiv, the caller's to check), then w.p.
    :math:`1-\delta` the offset tournament satisfies

    .. math:: \mathrm{Cov}_{2N^{1+a}}(\hat\pi) \lesssim \frac{\log(|\Pi|/\delta)}{n},

    without the :math:`N^{-(1-a)}` term of Theorem 6.2 (ICLR) / 6.3 (arXiv).  Atoms: a bulk,
    a region :math:`Z` of mass :math:`\zeta = 1/(2N)`, :math:`T` = ``n_traps`` trap atoms of
    mass :math:`\zeta/2` each and four other atoms of mass 0.05 each.  Candidates, in this
    order:

    * :math:`\pi_0`, the good candidate: :math:`\pi_D` tilted by :math:`e^{t_y}`,
      :math:`t_y \sim U[-\tfrac a2\log N, \tfrac a2\log N]` i.i.d. (:math:`t_Z = 0`) and
      renormalised, so :math:`|\log\pi_D - \log\pi_0| \le a\log N` (the theorem's hypothesis);
    * :math:`\pi_1`, the rival: mass 0.9 on :math:`Z` (over-covers it by :math:`1.8N > N`),
      :math:`10^{-6}` on the bulk;
    * :math:`\pi_{1+i}`, the traps: :math:`\pi_D` with :math:`3\zeta` on :math:`Z` and trap
      atom :math:`i` divided by :math:`8N^{1+a}`, renormalised.

    The simple tournament picks a trap whenever its atom is rarer than :math:`Z` in the sample
    (almost always, whatever :math:`n`), keeping coverage about :math:`1/(4N)`; the offset
    tournament discounts the rival and recovers :math:`\pi_0` once every trap atom is seen.

    Parameters
    ----------
    n_traps : int
        :math:`T`, the number of trap models, ``>= 1``, with
        :math:`(1 + T/2)/(2N) < 0.8` (the bulk keeps positive mass).
    N : float
        Tournament threshold, ``>= 1``.
    a : float
        Exponent :math:`a \in [0, 1]`.
    rng : None, int, SeedSequence or Generator, optional
        Draws the good candidate's tilt (``T + 6`` uniforms).

    Returns
    -------
    log_p : (T + 6,) ndarray
        :math:`\log\pi_D` (read-only); atom 0 is the bulk, 1 is :math:`Z`, ``2..T+1`` the trap
        atoms, ``T+2..T+5`` the others.
    log_probs : (T + 2, T + 6) ndarray
        Rows :math:`\log\pi_0, \log\pi_1, \log\pi_2, \dots` (read-only).

    Examples
    --------
    >>> log_p, log_probs = offset_trap_class(12, N=64.0, a=0.25, rng=0)
    >>> log_probs.shape
    (14, 18)
    >>> bool(np.abs(log_p - log_probs[0]).max() <= 0.25 * np.log(64.0))
    True
    """
    T = check_int(n_traps, "n_traps", low=1)
    N, a = _scale_iv(N, a, 8.0)
    rng = check_rng(rng)
    zeta = 1.0 / (2.0 * N)
    if zeta * (1.0 + T / 2.0) >= 0.8:
        raise ValueError(f"`n_traps` = {T} is too large for `N` = {N:g}: Z and the trap atoms "
                         f"(mass (1 + T/2)/(2N)) leave no mass to the bulk; need (1 + T/2)/(2N) < 0.8.")
    check_allocation(8 * (T + 2) * (T + 6) * 3, f"the offset class with `n_traps` = {T}",
                     "use fewer traps")
    eps = np.full(T, zeta / 2)
    others = np.full(4, 0.05)
    p = np.r_[0.0, zeta, eps, others]
    p[0] = 1.0 - p.sum()
    log_p = np.log(p)
    tilt = rng.uniform(-0.5, 0.5, size=p.size) * a * np.log(N)
    tilt[1] = 0.0                                                      # Z untouched
    good = _normalise(log_p + tilt)
    rival = np.log(np.r_[1e-6, 0.9, np.full(T, 0.01 / T), np.full(4, (0.1 - 0.01 - 1e-6) / 4)])
    traps = np.tile(log_p, (T, 1))
    traps[:, 1] = np.log(3 * zeta)
    traps[np.arange(T), 2 + np.arange(T)] -= np.log(8.0 * N ** (1 + a))
    return readonly(log_p), readonly(np.vstack([good, _normalise(rival), _normalise(traps)]))


def perturbed_class(n_models, support, *, rng=None):
    r"""A random :math:`\pi_D` and ``n_models`` candidates around it: perturbations and holes.

    :math:`\pi_D \sim \mathrm{Dirichlet}(\tfrac12\mathbf 1_m)` on ``support`` atoms; candidate
    :math:`k` is :math:`\log\pi_D + s_k g_k - \log(10^3)\,h_k`, renormalised, with a scale
    :math:`s_k = 10^{U[-1.5, 0.5]}`, Gaussian noise :math:`g_k` and "holes" :math:`h_k` (each atom
    divided by :math:`10^3` with a probability drawn from :math:`U[0, 0.3]` per candidate).  The
    generic setting of Theorem 6.2 (ICLR) / 6.3 (arXiv): nothing is tuned to make the bound
    sharp.

    Parameters
    ----------
    n_models : int
        Number of candidates ``K >= 1``.
    support : int
        Number of atoms ``m >= 2``.
    rng : None, int, SeedSequence or Generator
        Source of the draws (a Generator is advanced, not copied).

    Returns
    -------
    log_p : (m,) ndarray
        Normalised log-probabilities of :math:`\pi_D` (read-only).
    log_probs : (K, m) ndarray
        Normalised log-probabilities of the candidates (read-only).

    Examples
    --------
    >>> log_p, lp = perturbed_class(3, 5, rng=0)
    >>> lp.shape, bool(np.allclose(np.exp(lp).sum(axis=1), 1.0))
    ((3, 5), True)
    """
    n_models = check_int(n_models, "n_models", low=1)
    support = check_int(support, "support", low=2)
    check_allocation(8 * n_models * support * 4, f"the class with `n_models` = {n_models} and "
                     f"`support` = {support}", "use fewer candidates or atoms")
    rng = check_rng(rng)
    log_p = _normalise(np.log(rng.dirichlet(np.full(support, 0.5)) + 1e-12))
    scale = 10 ** rng.uniform(-1.5, 0.5, size=(n_models, 1))
    holes = rng.random((n_models, support)) < rng.uniform(0, 0.3, size=(n_models, 1))
    lp = log_p + scale * rng.normal(size=(n_models, support)) - np.log(1e3) * holes
    return readonly(log_p), readonly(_normalise(lp))
