"""Pieces shared by the acceptance rules: argument checks, the verdict from point decision
and power, the studentised bootstrap interval, Clopper--Pearson bounds, detail text.

Used only by the rule modules of :mod:`simulations.claims`; not part of its public API.
"""

from __future__ import annotations

import math
import numbers
import zlib

import numpy as np
from scipy import stats as _sps

from theory.validation import check_rng

from simulations.claims.record import (PASS, FAIL, UNDERPOWERED, HOLDS, FAILS, INCONCLUSIVE,
                                       POWER_TARGET)


# ---------------------------------------------------------------------------------------
# shared pieces of the rules
# ---------------------------------------------------------------------------------------

def claim_rng(rng, cid):
    """The bootstrap generator: ``rng`` itself, or one derived from the claim id ``cid`` when None."""
    if rng is None:
        return np.random.default_rng([zlib.crc32(cid.encode()), 0])
    return check_rng(rng)


def check_real(value, name, *, low=None, high=None):
    """Return ``value`` as a finite float in ``[low, high]`` (TypeError/ValueError naming ``name``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"`{name}` must be a finite real number, got {value!r}.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"`{name}` must be in [{low}, {high}], got {value!r}.")
    return float(value)


def check_alpha(alpha):
    """Return the level ``alpha`` as a float in (0, 0.5)."""
    alpha = check_real(alpha, "alpha")
    if not 0 < alpha < 0.5:
        raise ValueError(f"`alpha` must be in (0, 0.5), got {alpha}.")
    return alpha


def check_n_boot(n_boot):
    """Return the number of bootstrap resamples as an int >= 200."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 200:
        raise ValueError(f"`n_boot` must be an integer >= 200, got {n_boot!r}.")
    return int(n_boot)


def check_text(value, name):
    """Return ``value`` if it is None or a non-empty str (TypeError naming ``name`` otherwise)."""
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise TypeError(f"`{name}` must be a non-empty str or None, got {value!r}.")
    return value


def decide_verdict(point_ok, power, exploratory, *, underpowered=None):
    """Verdict from the point decision and the power.

    A rejection at the claim's level is a ``FAIL`` whatever the power (the false-fail rate
    bounds it); only a point *pass* needs power >= :data:`POWER_TARGET`.  ``underpowered``
    (given by rules whose *design* can make a true prediction fail too often, e.g. a binomial
    test whose false-fail rate at ``p0`` exceeds :data:`MAX_FALSE_FAIL`) overrides both.
    An exploratory claim whose point decision holds without that power (or with
    ``underpowered``) is ``exploratory: inconclusive``, not ``exploratory: holds``.
    """
    if exploratory:
        if not point_ok:
            return FAILS
        weak = underpowered or (power is not None and power < POWER_TARGET)
        return INCONCLUSIVE if weak else HOLDS
    if underpowered:
        return UNDERPOWERED
    if not point_ok:
        return FAIL
    if power is not None and power < POWER_TARGET:
        return UNDERPOWERED
    return PASS


def lacks_power(verdict):
    """True for the verdicts that record why power is missing (``UNDERPOWERED``, inconclusive)."""
    return verdict in (UNDERPOWERED, INCONCLUSIVE)


def structural_evidence(structural_reason, inside, where):
    """``(reason, evidence)`` for a claim that lacks power.

    ``inside`` is True when the estimate itself lies on the alternative's side at some point
    that lacks power (``where`` says where, with numbers).  A ``structural_reason`` is
    accepted only then: if the estimate lies beyond the alternative everywhere, more
    replicates would give power, whatever the reason says (the reason is kept in the evidence
    as contradicted by the data).  Without a reason, an estimate on the alternative's side is
    ``"design"`` (a different instance might reach the alternative).
    """
    if inside:
        if structural_reason:
            return "structural", f"{structural_reason.rstrip('. ')}. Measured: {where}"
        return "design", (f"the estimate lies on the alternative's side ({where}); no stated "
                          "reason says that no instance of the design could reach it")
    return "sample-size", (f"the estimate lies beyond the alternative ({where}); more replicates "
                           "(or a tighter interval) would give power"
                           + (f". A structural reason was stated but the data contradict it: "
                              f"{structural_reason}" if structural_reason else ""))


def join_details(*parts):
    """Join the non-empty parts of a claim's ``details`` with single spaces."""
    return " ".join(p.strip() for p in parts if p and p.strip())


def revised_note(revised_from):
    """The sentence recording the earlier rule: a str (a text note written when the rule or
    class was revised after a run had been seen; the note says whether that run failed) or a
    :func:`~simulations.claims.record.revision` dict (class or rule changed, with why)."""
    if not revised_from:
        return ""
    if isinstance(revised_from, str):
        return f"Revised after a run had been seen; earlier: {revised_from.rstrip('. ')}."
    r = revised_from
    return (f"Revised: {r['why'].rstrip('. ')}. Earlier: {r['class']} claim, verdict {r['verdict']}, "
            f"measured {_short(r['measured'])}; rule: {r['rule'].rstrip('. ')}.")


def revised_field(revised_from):
    """The value of :attr:`Claim.revised_from`: the revision dict, or None for a text note."""
    return None if revised_from is None or isinstance(revised_from, str) else revised_from


def _short(value):
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value[:6]) + (", ..." if len(value) > 6 else "") + "]"
    return fmt(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def check_labels(labels, m, what):
    """Return one label per series/cell (``m`` of them; default ``0..m-1``, or ``""`` for one)."""
    if labels is None:
        return [str(i) for i in range(m)] if m > 1 else [""]
    labels = [str(v) for v in labels]
    if len(labels) != m:
        raise ValueError(f"`labels` must have one entry per {what} ({m}), got {len(labels)}.")
    return labels


def fmt(v):
    """Format a number for details text (4 significant digits)."""
    return f"{v:.4g}"


def student_deviations(point, draws, q, df):
    r"""Bootstrap deviations and the one-sided half-width at tail ``q`` for ``df`` d.o.f.

    Percentile intervals at the small tails used here (``q`` ~ 1e-4) rest on the few most
    extreme of ``B`` resamples and, for few replicates, on a plug-in variance biased by
    :math:`(R-1)/R` and normal-like tails: in a calibration run (5 x-values, lognormal noise)
    they failed true exponents 3-9 times more often than stated.  So the interval is
    :math:`\hat\theta \pm t_{df}(1-q)\,\kappa\,\mathrm{sd}^*`, with :math:`\mathrm{sd}^*`
    the bootstrap standard deviation and :math:`\kappa = \sqrt{(df+1)/df}` undoing the
    plug-in bias; the returned deviations :math:`\kappa(\theta^*_b - \hat\theta)` carry the
    bootstrap's shape into the power computations.  ``df = inf`` gives the normal interval.
    """
    df = np.asarray(df, dtype=float)
    finite = np.isfinite(df)
    dff = np.where(finite, np.maximum(df, 1.0), 1.0)
    kappa = np.where(finite, np.sqrt((dff + 1) / dff), 1.0)
    crit = np.where(finite, _sps.t.isf(q, dff), _sps.norm.isf(q))
    dev = kappa * (draws - point)
    return dev, crit * kappa * np.std(draws, axis=0, ddof=1)


def replicate_rows(reps):
    """Return each x's replicates as a float array."""
    return [np.asarray(r, dtype=float) for r in reps]


def slope_df(xs, reps, statistic):
    r"""Degrees of freedom of the Student interval of a log-log slope: the fewest replicates
    at one ``x`` minus one.

    Conservative on purpose.  The Welch--Satterthwaite value (the OLS weights and the
    per-``x`` variances combined) was anti-conservative on skewed replicates: 5 x-values,
    :math:`R = 8`, exponent :math:`-1`, 1,000 datasets per cell, stated rates 0.05 / 0.01
    failed 0.066 / 0.017 (exponential), 0.092 / 0.026 (lognormal, :math:`\sigma = 1`),
    0.107 / 0.025 (lognormal, :math:`\sigma = 1.5`), 0.063 / 0.027 (gamma(0.3)), and
    13/4000 at the default :math:`10^{-3}` (lognormal, :math:`\sigma = 1`).  With
    :math:`\min_k R_k - 1` the same cells gave 0.030 / 0.004, 0.059 / 0.004, 0.066 / 0.005,
    0.031 / 0.011 and 0/4000, at the cost of intervals about 45% wider at :math:`R = 8`
    (under 1% wider at :math:`R \ge 100`).  ``xs`` and ``statistic`` are accepted for the
    callers' signature and do not change the value.
    """
    counts = np.array([np.asarray(r, dtype=float).size for r in reps], dtype=float)
    return max(float(counts.min()) - 1.0, 1.0)


def scalar_or_list(values, ndigits=None):
    """Return one float for one value, else the list (rounded to ``ndigits`` when given)."""
    values = [float(v) if ndigits is None else round(float(v), ndigits) for v in values]
    return values[0] if len(values) == 1 else values


def binomial_one_sided(k, n, a, side):
    """Clopper--Pearson one-sided bound at level 1 - a: lower (``side='lower'``) or upper."""
    k = np.asarray(k, float)
    n = np.asarray(n, float)
    if side == "lower":
        return np.where(k > 0, _sps.beta.ppf(a, np.maximum(k, 1e-300), n - k + 1), 0.0)
    return np.where(k < n, _sps.beta.ppf(1 - a, k + 1, np.maximum(n - k, 1e-300)), 1.0)
