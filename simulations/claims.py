r"""Claims and the acceptance rules that decide them: every verdict is a test that can fail.

A :class:`Claim` is one checked statement of the papers (``kind="prediction"``) or a check
of the code against itself (``kind="sanity"``).  Experiments never write a verdict by hand:
they call one of the rules below, which fits, tests, computes the power of the test and
returns the :class:`Claim` with its verdict.

The rules
---------
=========================  ===============================================================
:func:`exponent_claim`      fitted log-log slope (stratified bootstrap over replicates)
                            against a predicted exponent: ``equal``, ``at_most``,
                            ``at_least``.
:func:`bound_claim`         a measured quantity (replicates, binomial counts, exact or
                            certified values) against a predicted upper or lower bound
                            with stated constants.
:func:`probability_claim`   ``P[event] >= p0``: exact one-sided binomial test
                            (:func:`scipy.stats.binomtest`) that the probability is not
                            below ``p0`` by more than a stated margin.
:func:`comparison_claim`    A better than B, with a bootstrap interval on the difference.
:func:`sanity_claim`        two computations that must agree (solver optimality, two
                            evaluations of one closed form), ``kind="sanity"``.
:func:`law_claim`           a sampler against its exact law (chi-square goodness of fit),
                            ``kind="sanity"``.
:func:`not_run_in_quick`    a binding claim whose power the quick preset cannot reach:
                            listed with its rule, neither passed nor failed.
=========================  ===============================================================

Verdicts
--------
A binding claim (``exploratory=False``) ends ``PASS``, ``FAIL`` or ``UNDERPOWERED``;
``UNDERPOWERED`` means the design could not reject the stated alternative with probability
at least :data:`POWER_TARGET` (0.9) and is not a pass, whatever the point verdict.  The
alternatives (module constants) are: for exponents the prediction
:math:`\pm` :data:`EXPONENT_SHIFT` (0.25); for probabilities ``p0 -``
:data:`PROBABILITY_SHIFT` (0.1); for bounds the bound divided by :data:`BOUND_FACTOR` (2)
for an upper bound, multiplied by it for a lower bound.  Power is computed by the same
decision pipeline as the verdict (see each rule's Notes).  An exploratory claim ends
``exploratory: holds`` or ``exploratory: fails`` (its power is still reported).  A claim
only evaluated in the full preset ends ``not run in quick`` in the quick preset.
``Claim.passed`` is derived from the verdict; callers never set it.

Every rule's false-fail rate is ``alpha`` (default :data:`ALPHA` = 1e-3 per claim, split
by Bonferroni over the claim's series or cells) unless its docstring says otherwise; it is
recorded in ``Claim.false_fail_rate``, which ``python -m simulations calibrate`` checks
against the failures observed over seeds.

Bootstrap resamples are drawn from ``rng``; by default a generator derived from the claim
id, so ``claims(config, records)`` stays a deterministic function of its inputs.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as _sps

from simulations.stats import loglog_fit_draws, stratified_bootstrap
from simulations.store import to_jsonable

__all__ = [
    "Claim", "condition",
    "exponent_claim", "bound_claim", "probability_claim", "comparison_claim",
    "sanity_claim", "law_claim", "not_run_in_quick",
    "EVALUATIONS", "KINDS", "VERDICTS", "BINDING_VERDICTS", "EXPLORATORY_VERDICTS",
    "PASS", "FAIL", "UNDERPOWERED", "HOLDS", "FAILS", "NOT_RUN_IN_QUICK",
    "ALPHA", "POWER_TARGET", "EXPONENT_SHIFT", "PROBABILITY_SHIFT", "BOUND_FACTOR",
    "MAX_UNREASONED_TOLERANCE", "MIN_SLOPE_POINTS", "MIN_SLOPE_SPAN", "MAX_FALSE_FAIL",
    "N_BOOT", "LEGACY_NOTE",
]

#: How a claim's number was obtained.
EVALUATIONS = ("exact", "certified", "monte_carlo")
#: A statement of the papers, or the code checked against itself.
KINDS = ("prediction", "sanity")

PASS = "PASS"
FAIL = "FAIL"
UNDERPOWERED = "UNDERPOWERED"
HOLDS = "exploratory: holds"
FAILS = "exploratory: fails"
NOT_RUN_IN_QUICK = "not run in quick"
#: Every verdict string, in report order.
VERDICTS = (PASS, FAIL, UNDERPOWERED, HOLDS, FAILS, NOT_RUN_IN_QUICK)
#: Verdicts of binding claims (plus ``NOT_RUN_IN_QUICK``).
BINDING_VERDICTS = (PASS, FAIL, UNDERPOWERED)
#: Verdicts of exploratory claims (plus ``NOT_RUN_IN_QUICK``).
EXPLORATORY_VERDICTS = (HOLDS, FAILS)

#: Default false-fail rate of one claim (Bonferroni-split over its series/cells).
ALPHA = 1e-3
#: A binding verdict needs at least this probability of rejecting the alternative.
POWER_TARGET = 0.9
#: Exponent alternative: the prediction plus or minus this.
EXPONENT_SHIFT = 0.25
#: Probability alternative: ``p0`` minus this.
PROBABILITY_SHIFT = 0.1
#: Bound alternative: an upper bound divided by this, a lower bound multiplied by it.
BOUND_FACTOR = 2.0
#: An exponent tolerance above this needs a written ``tolerance_reason``.
MAX_UNREASONED_TOLERANCE = 0.1
#: A slope fit needs this many x-values ...
MIN_SLOPE_POINTS = 4
#: ... spanning at least this factor, unless ``few_points_reason`` says why fewer suffice.
MIN_SLOPE_SPAN = 8.0
#: A probability claim whose exact false-fail rate at ``p0`` exceeds this is underpowered.
MAX_FALSE_FAIL = 0.01
#: Default number of bootstrap resamples.
N_BOOT = 2000
#: Prefix of ``details`` of a claim built the old way (``passed=`` without a verdict).
LEGACY_NOTE = "[legacy verdict: not migrated to simulations.claims; no power computed] "


# ---------------------------------------------------------------------------------------
# the record
# ---------------------------------------------------------------------------------------

def condition(hypothesis, value, holds, note=""):
    """One hypothesis of a cited statement, evaluated on the instance (for ``conditions``).

    Parameters
    ----------
    hypothesis : str
        The hypothesis as the statement writes it, e.g. ``"eta <= 1/(128 B)"``.
    value : object
        Its value on the instance (JSON-serialisable), e.g. ``"eta = 1e-4, 1/(128 B) = 7.8e-4"``
        or a number.
    holds : bool
        Whether the instance meets it.
    note : str
        Required when ``holds`` is False on a binding claim: why the claim drops it.

    Returns
    -------
    dict
        ``{"hypothesis", "value", "holds"[, "note"]}``.

    Examples
    --------
    >>> condition("lambda >= 8 B log N", 3.2e3, True)
    {'hypothesis': 'lambda >= 8 B log N', 'value': 3200.0, 'holds': True}
    """
    out = {"hypothesis": hypothesis, "value": value, "holds": holds}
    if note:
        out["note"] = note
    return _check_condition(out, 0)


def _check_condition(c, i):
    if isinstance(c, (tuple, list)) and len(c) in (3, 4):
        c = dict(zip(("hypothesis", "value", "holds", "note"), c))
    if not isinstance(c, Mapping):
        raise TypeError(f"`conditions[{i}]` must be a dict made by `condition(...)`, got "
                        f"{type(c).__name__}.")
    extra = set(c) - {"hypothesis", "value", "holds", "note"}
    if extra or not {"hypothesis", "value", "holds"} <= set(c):
        raise ValueError(f"`conditions[{i}]` must have keys hypothesis, value, holds[, note]; "
                         f"got {sorted(c)}.")
    if not isinstance(c["hypothesis"], str) or not c["hypothesis"]:
        raise TypeError(f"`conditions[{i}]['hypothesis']` must be a non-empty str.")
    holds = c["holds"]
    if isinstance(holds, np.bool_):
        holds = bool(holds)
    if not isinstance(holds, bool):
        raise TypeError(f"`conditions[{i}]['holds']` must be a bool, got {type(holds).__name__}.")
    out = {"hypothesis": c["hypothesis"], "value": to_jsonable(c["value"]), "holds": holds}
    if c.get("note"):
        if not isinstance(c["note"], str):
            raise TypeError(f"`conditions[{i}]['note']` must be a str.")
        out["note"] = c["note"]
    return out


def _as_bool(value, name):
    if isinstance(value, np.bool_):
        value = bool(value)
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {type(value).__name__}.")
    return value


def _opt_prob(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"`{name}` must be a probability in [0, 1] or None, got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class Claim:
    """A checked statement: what was claimed, what was measured, and the verdict of its rule.

    Build claims with the rules of this module (:func:`exponent_claim`, ...), which fill
    ``verdict``, ``rule``, ``power`` and the rest consistently.

    Attributes
    ----------
    id : str
        Stable identifier ``"<experiment>/<claim>"``, e.g. ``"kl-vs-coverage/markov-bound"``.
    paper_ref : str
        Statement number(s) in the paper (both numberings where they differ).
    statement : str
        What is claimed, in words or a short formula.
    predicted : float, str, list or None
        The prediction (an exponent, ``"<= 0.31"``, ...).
    measured : float, str, list or None
        The measured value(s).
    interval : (lo, hi) or None
        Confidence (``monte_carlo``) or certified (``certified``) interval for ``measured``
        (for several series or cells, the envelope of their intervals).
    evaluation : {"exact", "certified", "monte_carlo"}
        How ``measured`` was obtained.
    passed : bool
        Derived from ``verdict`` (``PASS`` or ``exploratory: holds``).  Callers never set
        it; a claim built the old way (``passed=`` and no ``verdict``) is accepted while
        experiments are migrated, flagged ``legacy`` and with :data:`LEGACY_NOTE` in
        ``details``.
    exploratory : bool
        Exploratory claims are reported with their outcome but do not decide the exit
        status.
    details : str
        Fits, sample sizes, per-series numbers, reasons; ``"rule revised after a failing
        run: ..."`` when the rule changed after a run failed.
    kind : {"prediction", "sanity"}
        A statement of the papers, or the code checked against itself.
    verdict : str
        One of :data:`VERDICTS`.
    rule : str
        The acceptance rule in words, with its level.
    tolerance : float or None
        The slack of the rule (exponent tolerance, probability margin, bound slack, sanity
        tolerance).
    power : float or None
        Probability that the rule rejects ``alternative``; None for sanity checks and claims
        not run.
    alternative : str or None
        What ``power`` is computed against.
    conditions : list of dict or None
        For a claim citing a theorem: each hypothesis, its value on the instance, whether it
        holds (see :func:`condition`).
    false_fail_rate : float or None
        Probability that the rule fails a true claim (checked by ``calibrate``).
    legacy : bool
        True for a claim built the old way (not settable).
    """

    id: str
    paper_ref: str
    statement: str
    predicted: object
    measured: object
    interval: object
    evaluation: str
    passed: object = None
    exploratory: bool = False
    details: str = ""
    kind: str = "prediction"
    verdict: object = None
    rule: str = ""
    tolerance: object = None
    power: object = None
    alternative: object = None
    conditions: object = None
    false_fail_rate: object = None
    legacy: bool = field(default=False, init=False)

    def __post_init__(self):
        set_ = object.__setattr__
        for name in ("id", "paper_ref", "statement", "details", "rule"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"`{name}` must be a str, got {type(getattr(self, name)).__name__}.")
        if not self.id:
            raise ValueError("`id` must be a non-empty str.")
        if self.evaluation not in EVALUATIONS:
            raise ValueError(f"`evaluation` must be one of {EVALUATIONS}, got {self.evaluation!r}.")
        if self.kind not in KINDS:
            raise ValueError(f"`kind` must be one of {KINDS}, got {self.kind!r}.")
        set_(self, "exploratory", _as_bool(self.exploratory, "exploratory"))
        if self.interval is not None:
            try:
                lo, hi = (float(v) for v in self.interval)
            except (TypeError, ValueError):
                raise ValueError(f"`interval` must be [lo, hi] or None, got {self.interval!r}.") from None
            if not (lo <= hi or (math.isnan(lo) or math.isnan(hi))):
                raise ValueError(f"`interval` must satisfy lo <= hi, got [{lo}, {hi}].")
            set_(self, "interval", (lo, hi))
        for name in ("predicted", "measured"):
            set_(self, name, to_jsonable(getattr(self, name)))
        if self.tolerance is not None:
            if isinstance(self.tolerance, bool) or not isinstance(self.tolerance, numbers.Real) \
                    or not self.tolerance >= 0:
                raise ValueError(f"`tolerance` must be a non-negative number or None, got {self.tolerance!r}.")
            set_(self, "tolerance", float(self.tolerance))
        set_(self, "power", _opt_prob(self.power, "power"))
        set_(self, "false_fail_rate", _opt_prob(self.false_fail_rate, "false_fail_rate"))
        if self.alternative is not None and not isinstance(self.alternative, str):
            raise TypeError(f"`alternative` must be a str or None, got {type(self.alternative).__name__}.")
        if self.conditions is not None:
            if isinstance(self.conditions, (str, Mapping)) or not hasattr(self.conditions, "__iter__"):
                raise TypeError("`conditions` must be a list of dicts made by `condition(...)`.")
            set_(self, "conditions", [_check_condition(c, i) for i, c in enumerate(self.conditions)])

        if self.verdict is None:
            self._legacy_verdict()
        else:
            self._check_verdict()

    def _legacy_verdict(self):
        if self.passed is None:
            raise ValueError(f"claim {self.id!r}: `verdict` is required (use a rule of "
                             "simulations.claims).")
        passed = _as_bool(self.passed, "passed")
        verdict = (HOLDS if passed else FAILS) if self.exploratory else (PASS if passed else FAIL)
        object.__setattr__(self, "verdict", verdict)
        object.__setattr__(self, "passed", passed)
        object.__setattr__(self, "legacy", True)
        if not self.details.startswith(LEGACY_NOTE):
            object.__setattr__(self, "details", LEGACY_NOTE + self.details)

    def _check_verdict(self):
        v = self.verdict
        if v not in VERDICTS:
            raise ValueError(f"`verdict` must be one of {VERDICTS}, got {v!r}.")
        derived = v in (PASS, HOLDS)
        if self.passed is not None and _as_bool(self.passed, "passed") != derived:
            raise ValueError(f"claim {self.id!r}: `passed` is derived from the verdict ({v!r}); "
                             "do not set it.")
        object.__setattr__(self, "passed", derived)
        if not self.rule:
            raise ValueError(f"claim {self.id!r}: `rule` (the acceptance rule in words) is required.")
        if v != NOT_RUN_IN_QUICK:
            if self.exploratory and v not in EXPLORATORY_VERDICTS:
                raise ValueError(f"claim {self.id!r}: an exploratory claim's verdict must be one of "
                                 f"{EXPLORATORY_VERDICTS}, got {v!r}.")
            if not self.exploratory and v not in BINDING_VERDICTS:
                raise ValueError(f"claim {self.id!r}: a binding claim's verdict must be one of "
                                 f"{BINDING_VERDICTS}, got {v!r}.")
        if self.kind == "sanity":
            if self.exploratory:
                raise ValueError(f"claim {self.id!r}: sanity checks are binding (exploratory=False).")
            if self.power is not None or v == UNDERPOWERED:
                raise ValueError(f"claim {self.id!r}: sanity checks have no power and are never "
                                 "UNDERPOWERED.")
        elif not self.exploratory and v in BINDING_VERDICTS:
            if self.power is None or self.alternative is None:
                raise ValueError(f"claim {self.id!r}: a binding prediction needs `power` and "
                                 "`alternative` (or verdict 'not run in quick').")
            if v in (PASS, FAIL) and self.power < POWER_TARGET:
                raise ValueError(f"claim {self.id!r}: power {self.power:.3f} < {POWER_TARGET} "
                                 f"requires verdict {UNDERPOWERED!r}, got {v!r}.")
        if not self.exploratory and self.conditions:
            for c in self.conditions:
                if not c["holds"] and not c.get("note"):
                    raise ValueError(f"claim {self.id!r}: hypothesis {c['hypothesis']!r} does not "
                                     "hold on the instance; a binding claim must say why it drops "
                                     "it (`note`).")

    @property
    def binding(self):
        """True for claims that decide the exit status (predictions and sanity checks)."""
        return not self.exploratory

    @property
    def blocking(self):
        """True when this claim makes ``reproduce`` exit non-zero (binding, not PASS, run)."""
        return self.binding and self.verdict not in (PASS, NOT_RUN_IN_QUICK)

    def to_dict(self):
        """Return a JSON-ready dict (the ``claims.json`` schema)."""
        out = {
            "id": self.id, "paper_ref": self.paper_ref, "statement": self.statement,
            "predicted": self.predicted, "measured": self.measured,
            "interval": None if self.interval is None else list(self.interval),
            "evaluation": self.evaluation, "passed": self.passed,
            "exploratory": self.exploratory, "kind": self.kind, "verdict": self.verdict,
            "rule": self.rule, "tolerance": self.tolerance, "power": self.power,
            "alternative": self.alternative, "conditions": self.conditions,
            "false_fail_rate": self.false_fail_rate, "details": self.details,
        }
        if self.legacy:
            out["legacy"] = True
        return out

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict` (also reads ``claims.json`` files of older versions)."""
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        kw = {k: v for k, v in d.items() if k in names}
        if d.get("legacy") or "verdict" not in d:
            kw.pop("verdict", None)
        return cls(**kw)


# ---------------------------------------------------------------------------------------
# shared pieces of the rules
# ---------------------------------------------------------------------------------------

def _rng(rng, cid):
    if rng is None:
        return np.random.default_rng([zlib.crc32(cid.encode()), 0])
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` must be a numpy.random.Generator or None, got {type(rng).__name__}.")
    return rng


def _real(value, name, *, low=None, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"`{name}` must be a finite real number, got {value!r}.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"`{name}` must be in [{low}, {high}], got {value!r}.")
    return float(value)


def _alpha(alpha):
    alpha = _real(alpha, "alpha")
    if not 0 < alpha < 0.5:
        raise ValueError(f"`alpha` must be in (0, 0.5), got {alpha}.")
    return alpha


def _n_boot(n_boot):
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 200:
        raise ValueError(f"`n_boot` must be an integer >= 200, got {n_boot!r}.")
    return int(n_boot)


def _text(value, name):
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise TypeError(f"`{name}` must be a non-empty str or None, got {value!r}.")
    return value


def _verdict(point_ok, power, exploratory, *, underpowered=None):
    """Verdict from the point decision and the power (``underpowered`` overrides the power test)."""
    if exploratory:
        return HOLDS if point_ok else FAILS
    if underpowered is None:
        underpowered = power is not None and power < POWER_TARGET
    if underpowered:
        return UNDERPOWERED
    return PASS if point_ok else FAIL


def _join(*parts):
    return " ".join(p.strip() for p in parts if p and p.strip())


def _revised(revised_from):
    return f"Rule revised after a failing run: earlier rule was: {revised_from}." if revised_from else ""


def _labels(labels, m, what):
    if labels is None:
        return [str(i) for i in range(m)] if m > 1 else [""]
    labels = [str(v) for v in labels]
    if len(labels) != m:
        raise ValueError(f"`labels` must have one entry per {what} ({m}), got {len(labels)}.")
    return labels


def _f(v):
    return f"{v:.4g}"


def _student(point, draws, q, df):
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


def _rows(reps):
    return [np.asarray(r, dtype=float) for r in reps]


def _slope_df(xs, reps, statistic):
    """Welch--Satterthwaite degrees of freedom of the OLS log-log slope of per-x means."""
    rows = [np.asarray(r, dtype=float) for r in reps]
    counts = np.array([r.size for r in rows], dtype=float)
    if statistic != "mean" or counts.min() < 2:
        return max(counts.min() - 1, 1.0)
    means = np.array([r.mean() for r in rows])
    var = np.array([r.var(ddof=1) for r in rows])
    keep = means > 0
    if keep.sum() < 2:
        return max(counts.min() - 1, 1.0)
    lx = np.log(xs[keep])
    w = (lx - lx.mean()) / ((lx - lx.mean()) ** 2).sum()
    v = w ** 2 * var[keep] / (counts[keep] * means[keep] ** 2)
    den = (v ** 2 / (counts[keep] - 1)).sum()
    return float(v.sum() ** 2 / den) if den > 0 else np.inf


def _scalar_or_list(values, ndigits=None):
    values = [float(v) if ndigits is None else round(float(v), ndigits) for v in values]
    return values[0] if len(values) == 1 else values


# ---------------------------------------------------------------------------------------
# exponent
# ---------------------------------------------------------------------------------------

_EXPONENT_MODES = ("equal", "at_most", "at_least")


def exponent_claim(id, paper_ref, statement, x, replicates, *, predicted, mode="equal",
                   tolerance=0.0, tolerance_reason=None, few_points_reason=None,
                   evaluation, statistic="mean", q=None, nonpositive="raise", alpha=ALPHA,
                   n_boot=N_BOOT, rng=None, exploratory=False, conditions=None, details="",
                   revised_from=None):
    r"""A predicted exponent against the fitted log-log slope of replicated measurements.

    Parameters
    ----------
    id, paper_ref, statement : str
        As in :class:`Claim`.
    x : (K,) array_like
        Positive, distinct design points (``n``, ``H``, ``T``, ...).  At least
        :data:`MIN_SLOPE_POINTS` (4) values spanning a factor :data:`MIN_SLOPE_SPAN` (8),
        unless ``few_points_reason`` says why fewer suffice.
    replicates : sequence of K 1-D arrays, (K, R) array, or dict {label: such a series}
        Independent replicates of the measured quantity at each ``x`` (ragged allowed).  A
        dict tests several series (e.g. one per ``N``) in one claim: each must pass.  For an
        exactly computed curve give one value per ``x`` (shape (K, 1)): the slope is then
        exact, the rule is ``|slope - predicted| <= tolerance`` and the power is 0 or 1.
    predicted : float
        The predicted exponent.
    mode : {"equal", "at_most", "at_least"}
        ``equal``: the slope equals ``predicted``; ``at_most``: the quantity grows no faster
        (falls at least as fast) as ``x**predicted``; ``at_least``: the converse.
    tolerance : float
        Non-negative slack written before the run (a finite-size correction).  Above
        :data:`MAX_UNREASONED_TOLERANCE` (0.1) it needs ``tolerance_reason``.
    tolerance_reason, few_points_reason : str, optional
        Written justifications, copied into ``details``.
    evaluation : {"exact", "certified", "monte_carlo"}
        How each replicate's value was obtained.
    statistic : {"mean", "quantile"}
        Per-``x`` summary whose slope is fitted; ``q`` the quantile level.
    q : float, optional
        Quantile level in (0, 1) when ``statistic="quantile"``.
    nonpositive : {"raise", "drop"}
        Points whose statistic is ``<= 0`` (no logarithm): raise, or drop them from the fit
        (reported in ``details``).
    alpha : float
        False-fail rate of the claim (split over the series by Bonferroni).
    n_boot : int
        Bootstrap resamples per series (>= 200).
    rng : numpy.random.Generator, optional
        Bootstrap generator (default: derived from ``id``).
    exploratory : bool
        Report the outcome without deciding the exit status.
    conditions : list of dict, optional
        Hypotheses of the cited statement (see :func:`condition`).
    details : str
        Extra text appended to the generated details.
    revised_from : str, optional
        The earlier rule, when this rule was revised after a failing run.

    Returns
    -------
    Claim
        ``predicted`` the exponent, ``measured`` the slope (a list for several series),
        ``interval`` the bootstrap interval (the envelope for several series),
        ``tolerance``, ``power``, ``alternative``, ``false_fail_rate = alpha``.

    Raises
    ------
    ValueError
        Bad arguments, a tolerance above 0.1 without a reason, or a design with fewer than
        4 x-values or a span below 8 without ``few_points_reason``.

    Notes
    -----
    **Estimator.**  The slope :math:`\hat s` is the OLS coefficient of :math:`\log S_k` on
    :math:`\log x_k`, :math:`S_k` the mean (or ``q``-quantile) of the replicates at
    :math:`x_k` (:func:`simulations.stats.loglog_fit_draws`).  Its sampling law is
    estimated by the stratified bootstrap: ``n_boot`` resamples, replicates drawn with
    replacement within each :math:`x_k`, slope refitted; :math:`Q(u)` denotes the
    :math:`u`-quantile of the resampled slopes.

    **Test and level.**  With :math:`a = \alpha/m` (:math:`m` series):
    ``equal`` passes iff :math:`Q(a/2) - \tau \le s_0 \le Q(1-a/2) + \tau`;
    ``at_most`` passes iff :math:`Q(a) \le s_0 + \tau`;
    ``at_least`` passes iff :math:`Q(1-a) \ge s_0 - \tau`
    (:math:`s_0` = ``predicted``, :math:`\tau` = ``tolerance``).  If the true exponent of
    the fitted statistic is within :math:`\tau` of :math:`s_0` (on the wrong side for the
    one-sided modes), the claim fails with probability at most :math:`\alpha` (up to the
    bootstrap's approximation): that is its false-fail rate.

    **Power** against the alternative exponent :math:`s_1 = s_0 \pm 0.25` (both for
    ``equal``, :math:`s_0 + 0.25` for ``at_most``, :math:`s_0 - 0.25` for ``at_least``):
    the probability that the same rule fails when the true exponent is :math:`s_1`.  It is
    computed from the same resamples, shifted to the alternative (the basic bootstrap):
    a dataset whose exponent is :math:`s_1` has estimates :math:`s_1 + (s^*_b - \hat s)`,
    each with the interval offsets :math:`Q(\cdot) - \hat s` observed on the data, judged by
    the same rule; the power is the fraction of the ``n_boot`` shifted resamples that fail,
    minimised over the alternatives and the series.  (Rescaling replicates by
    :math:`x^{s_1 - \hat s}` shifts every resampled slope by exactly
    :math:`s_1 - \hat s`, so no refit is needed.)  Power below :data:`POWER_TARGET` makes a
    binding claim ``UNDERPOWERED``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> n = np.array([64, 128, 256, 512, 1024])
    >>> reps = n[:, None] ** -1.0 * rng.lognormal(0, 0.2, size=(5, 40))
    >>> c = exponent_claim("demo/rate", "Theorem 4.2", "coverage ~ 1/n", n, reps,
    ...                    predicted=-1.0, evaluation="exact")
    >>> c.verdict, c.power > 0.9
    ('PASS', True)
    """
    if mode not in _EXPONENT_MODES:
        raise ValueError(f"`mode` must be one of {_EXPONENT_MODES}, got {mode!r}.")
    predicted = _real(predicted, "predicted")
    tolerance = _real(tolerance, "tolerance", low=0)
    tolerance_reason = _text(tolerance_reason, "tolerance_reason")
    few_points_reason = _text(few_points_reason, "few_points_reason")
    if tolerance > MAX_UNREASONED_TOLERANCE and tolerance_reason is None:
        raise ValueError(f"claim {id!r}: `tolerance` {tolerance} > {MAX_UNREASONED_TOLERANCE} "
                         "needs a written `tolerance_reason` (a computed finite-size correction, "
                         "a reference).")
    alpha = _alpha(alpha)
    n_boot = _n_boot(n_boot)
    rng = _rng(rng, id)
    xs = np.asarray(x, dtype=float)
    if xs.ndim != 1:
        raise ValueError(f"`x` must be 1-D, got shape {xs.shape}.")
    if xs.size and (xs <= 0).any():
        raise ValueError("`x` must be positive for a log-log fit.")
    span = float(xs.max() / xs.min()) if xs.size else 0.0
    if (xs.size < MIN_SLOPE_POINTS or span < MIN_SLOPE_SPAN) and few_points_reason is None:
        raise ValueError(f"claim {id!r}: a slope needs at least {MIN_SLOPE_POINTS} x-values "
                         f"spanning a factor >= {MIN_SLOPE_SPAN:g} (got {xs.size} spanning "
                         f"{span:.3g}); pass `few_points_reason` saying why fewer suffice.")
    series = dict(replicates) if isinstance(replicates, Mapping) else {"": replicates}
    if not series:
        raise ValueError("`replicates` must not be an empty dict.")
    m = len(series)
    a = alpha / m
    lo_q, hi_q = (a / 2, 1 - a / 2) if mode == "equal" else (a, 1 - a)
    shifts = {"equal": (EXPONENT_SHIFT, -EXPONENT_SHIFT), "at_most": (EXPONENT_SHIFT,),
              "at_least": (-EXPONENT_SHIFT,)}[mode]

    def fails(est, lo, hi):
        if mode == "equal":
            return (predicted < lo - tolerance) | (predicted > hi + tolerance)
        if mode == "at_most":
            return lo > predicted + tolerance
        return hi < predicted - tolerance

    slopes, los, his, powers, oks, parts = [], [], [], [], [], []
    for label, reps in series.items():
        fit, draws = loglog_fit_draws(xs, reps, level=1 - a, n_boot=n_boot, rng=rng,
                                      statistic=statistic, q=q, nonpositive=nonpositive)
        df = _slope_df(xs, _rows(reps), statistic)
        dev, half = _student(fit.slope, draws, lo_q, df)
        lo, hi = fit.slope - half, fit.slope + half
        ok = not bool(fails(fit.slope, lo, hi))
        power = min(float(np.mean(fails(predicted + s + dev, predicted + s + dev - half,
                                         predicted + s + dev + half)))
                    for s in shifts)
        slopes.append(fit.slope)
        los.append(lo)
        his.append(hi)
        powers.append(power)
        oks.append(ok)
        if all(len(np.atleast_1d(r)) == 1 for r in _rows(reps)):
            parts.append(f"{label + ': ' if label else ''}slope {fit.slope:.4g} (exact; Theil-Sen "
                         f"{fit.theil_slope:.4g}; {fit.n_points} points), power {power:.0f}")
            continue
        parts.append(
            f"{label + ': ' if label else ''}slope {fit.slope:.4g} [{lo:.4g}, {hi:.4g}] "
            f"(Theil-Sen {fit.theil_slope:.4g}; {fit.n_points} points"
            + (f", {fit.n_dropped} dropped (statistic <= 0)" if fit.n_dropped else "")
            + (f", {fit.n_boot_invalid} invalid resamples" if fit.n_boot_invalid else "")
            + f"; {df:.3g} effective df), power {power:.3f}")
    power = min(powers)
    exact_values = all(min(len(np.atleast_1d(r)) for r in _rows(reps)) == 1 for reps in series.values())
    if exact_values and (evaluation == "monte_carlo" or any(
            max(len(np.atleast_1d(r)) for r in _rows(reps)) > 1 for reps in series.values())):
        raise ValueError("one value per x is only for exact (or certified) values: give at least "
                         "2 replicates per x for Monte Carlo data, and the same design throughout.")
    stat_name = "mean" if statistic == "mean" else f"{q:g}-quantile"
    bound_txt = {"equal": f"{predicted:g} in [lo - {tolerance:g}, hi + {tolerance:g}], [lo, hi] the "
                          f"two-sided {1 - a:.6g} interval",
                 "at_most": f"lo <= {predicted:g} + {tolerance:g}, lo the one-sided {1 - a:.6g} "
                            "lower bound",
                 "at_least": f"hi >= {predicted:g} - {tolerance:g}, hi the one-sided {1 - a:.6g} "
                             "upper bound"}[mode]
    if exact_values:
        cmp_txt = {"equal": f"|slope - ({predicted:g})| <= {tolerance:g}",
                   "at_most": f"slope <= {predicted:g} + {tolerance:g}",
                   "at_least": f"slope >= {predicted:g} - {tolerance:g}"}[mode]
        rule = (f"exponent {mode.replace('_', ' ')} {predicted:g} (tolerance {tolerance:g}): PASS iff "
                f"{cmp_txt}, slope the OLS log-log slope of exact values (one per x: no sampling "
                f"error){' for each of ' + str(m) + ' series' if m > 1 else ''}; false-fail rate 0")
        alpha = 0.0
    else:
        rule = (f"exponent {mode.replace('_', ' ')} {predicted:g} (tolerance {tolerance:g}): PASS iff "
                f"{bound_txt} of the OLS log-log slope of the per-x {stat_name} (stratified bootstrap "
                f"over replicates, B={n_boot}{', Bonferroni over ' + str(m) + ' series' if m > 1 else ''}); "
                f"false-fail rate {alpha:g}")
    alt = " and ".join(f"exponent {predicted + s:+g}" for s in shifts)
    text = _join(
        "; ".join(parts) + ".",
        f"x = {np.array2string(xs, separator=', ')} (span {span:.3g}).",
        f"Tolerance reason: {tolerance_reason}." if tolerance_reason else "",
        f"Fewer than {MIN_SLOPE_POINTS} points / span below {MIN_SLOPE_SPAN:g}: {few_points_reason}."
        if (xs.size < MIN_SLOPE_POINTS or span < MIN_SLOPE_SPAN) else "",
        f"Power: 1 iff the rule rejects every alternative ({alt}) given exact values, else 0."
        if exact_values else
        f"Power: P(rule fails | true {alt}), basic bootstrap of the same resamples shifted to "
        "the alternative with the observed interval offsets (minimum over alternatives and series).",
        _revised(revised_from), details)
    return Claim(
        id=id, paper_ref=paper_ref, statement=statement, predicted=predicted,
        measured=_scalar_or_list(slopes, 4 if m > 1 else None),
        interval=None if exact_values else (min(los), max(his)), evaluation=evaluation, exploratory=exploratory,
        details=text, kind="prediction", verdict=_verdict(all(oks), power, exploratory),
        rule=rule, tolerance=tolerance, power=power, alternative=alt, conditions=conditions,
        false_fail_rate=alpha)


# ---------------------------------------------------------------------------------------
# bound
# ---------------------------------------------------------------------------------------

def _binomial_one_sided(k, n, a, side):
    """Clopper--Pearson one-sided bound at level 1 - a: lower (``side='lower'``) or upper."""
    k = np.asarray(k, float)
    n = np.asarray(n, float)
    if side == "lower":
        return np.where(k > 0, _sps.beta.ppf(a, np.maximum(k, 1e-300), n - k + 1), 0.0)
    return np.where(k < n, _sps.beta.ppf(1 - a, k + 1, np.maximum(n - k, 1e-300)), 1.0)


def _binomial_tail_power(n, p, a, side, threshold):
    """P over K ~ Bin(n, p) that the one-sided CP bound of K crosses ``threshold``.

    ``side='lower'``: P[lower(K) > threshold]; ``'upper'``: P[upper(K) < threshold].  The
    bound is monotone in K, so the event is a tail ``K >= k*`` (``K <= k*``), found by
    bisection.
    """
    ks = np.arange(n + 1)
    if n <= 200_000:
        b = _binomial_one_sided(ks, n, a, side)
        hit = b > threshold if side == "lower" else b < threshold
        return float(_sps.binom.pmf(ks[hit], n, p).sum())
    lo, hi = 0, n + 1  # smallest k with the event (lower) / largest+1 (upper)
    while lo < hi:
        mid = (lo + hi) // 2
        b = float(_binomial_one_sided(mid, n, a, side))
        if (b > threshold) if side == "lower" else not (b < threshold):
            hi = mid
        else:
            lo = mid + 1
    if side == "lower":
        return float(_sps.binom.sf(lo - 1, n, p))
    return float(_sps.binom.cdf(lo - 1, n, p))


def bound_claim(id, paper_ref, statement, *, bound, side="upper", constants, evaluation,
                replicates=None, counts=None, measured=None, interval=None, tolerance=0.0,
                tolerance_reason=None, alpha=ALPHA, n_boot=N_BOOT, rng=None, labels=None,
                power_over="each", exploratory=False, conditions=None, details="",
                revised_from=None):
    r"""A measured quantity against a predicted upper (or lower) bound with stated constants.

    Give the measurement in exactly one of three forms: ``replicates`` (Monte Carlo means),
    ``counts`` (Monte Carlo proportions), or ``measured`` (``exact``; with ``interval`` for
    ``certified``).  Several points (a grid of ``n``, ``H``, ...) are tested together: the
    bound must hold at each.

    Parameters
    ----------
    id, paper_ref, statement : str
        As in :class:`Claim`.
    bound : float or (K,) array_like
        The predicted bound at each point, computed from the statement with its constants.
    side : {"upper", "lower"}
        ``upper``: the quantity is at most ``bound``; ``lower``: at least.
    constants : str
        The constants used, in words (e.g. ``"C = 4 (Prop. 5.1), no fitted constant"``).
    evaluation : {"exact", "certified", "monte_carlo"}
        ``monte_carlo`` requires ``replicates`` or ``counts``; ``exact`` requires
        ``measured``; ``certified`` requires ``measured`` and ``interval``.
    replicates : sequence of K 1-D arrays, optional
        Replicates at each point; the quantity is their mean.
    counts : (successes, trials), optional
        Arrays of shape (K,): the quantity is a probability estimated by ``successes/trials``.
    measured : float or (K,) array_like, optional
        Exact values (``exact``), or the point values of certified bounds.
    interval : (2,) or (K, 2) array_like, optional
        Certified ``[lo, hi]`` per point (``certified`` only).
    tolerance : float
        Slack added to the bound (0 by default; a positive value needs ``tolerance_reason``).
    tolerance_reason : str, optional
        Written justification of a positive tolerance.
    alpha : float
        False-fail rate of the claim (Monte Carlo only; Bonferroni over the points).
    n_boot : int
        Bootstrap resamples (``replicates`` only).
    rng : numpy.random.Generator, optional
        Bootstrap generator (default: derived from ``id``).
    labels : sequence of str, optional
        One label per point, for ``details``.
    power_over : {"each", "any"}
        ``"each"`` (default): the points are a design grid, each a prediction of its own;
        the power is the minimum over points, so a point where the bound is vacuous makes the
        claim underpowered.  ``"any"``: the claim is a universal inequality checked on many
        instances (random instances and witnesses searching for a counterexample); the
        tightened bound is rejected as soon as one instance rejects it, so the power is the
        maximum over points (a lower bound on the probability that some point rejects).
    exploratory, conditions, details, revised_from
        As in :func:`exponent_claim`.

    Returns
    -------
    Claim
        With more than 12 points, ``measured`` is the value at the most critical point
        (closest to violating the bound) and ``details`` lists the six most critical points.

    Raises
    ------
    ValueError
        Zero or several measurement forms, mismatched shapes, a positive tolerance without
        a reason.

    Notes
    -----
    **Test** (upper bound :math:`B_k`, slack :math:`\tau`; a lower bound is symmetric), per
    point, at :math:`a = \alpha/K`:

    * ``replicates``: fail iff the one-sided :math:`1-a` lower bound of the mean (the
      :math:`a`-quantile of its stratified bootstrap) exceeds :math:`B_k + \tau`;
    * ``counts``: fail iff the one-sided :math:`1-a` Clopper--Pearson lower bound exceeds
      :math:`B_k + \tau`;
    * ``exact``: fail iff :math:`m_k > B_k + \tau`; ``certified``: pass iff the certified
      upper end is :math:`\le B_k + \tau`, fail iff the certified lower end is above it; a
      certified interval straddling the bound decides nothing (``UNDERPOWERED``).

    The false-fail rate is :math:`\alpha` when the bound holds (Monte Carlo), 0 otherwise.

    **Power** against the tightened bound :math:`B_k / 2` (lower bound: :math:`2 B_k`): the
    probability that the same rule rejects the claim "quantity :math:`\le B_k/2`" on data
    like these, i.e. that the bound is tested where it bites and not in a region where it is
    vacuous.  Replicates: fraction of bootstrap means whose one-sided bound (the resample
    shifted by the observed offset) exceeds :math:`B_k/2 + \tau`; counts: exact, summing the
    binomial law :math:`\mathrm{Bin}(n_k, \hat p_k)` over the counts whose CP bound exceeds
    it; exact and certified: 1 if the (certified) value exceeds :math:`B_k/2 + \tau`, else
    0.  The claim's power is the minimum over points (``power_over="each"``) or the maximum
    (``"any"``).

    Examples
    --------
    >>> c = bound_claim("demo/kl", "Prop. 5.1", "KL <= 4/(eta T) + 2 eta sigma^2",
    ...                 bound=[0.5, 0.25], constants="4 and 2 as stated", evaluation="exact",
    ...                 measured=[0.4, 0.2])
    >>> c.verdict, c.power
    ('PASS', 1.0)
    """
    if side not in ("upper", "lower"):
        raise ValueError(f"`side` must be 'upper' or 'lower', got {side!r}.")
    if power_over not in ("each", "any"):
        raise ValueError(f"`power_over` must be 'each' or 'any', got {power_over!r}.")
    if not isinstance(constants, str) or not constants.strip():
        raise TypeError("`constants` must be a non-empty str stating the constants used.")
    tolerance = _real(tolerance, "tolerance", low=0)
    tolerance_reason = _text(tolerance_reason, "tolerance_reason")
    if tolerance > 0 and tolerance_reason is None:
        raise ValueError(f"claim {id!r}: a positive `tolerance` needs `tolerance_reason`.")
    alpha = _alpha(alpha)
    forms = [name for name, v in (("replicates", replicates), ("counts", counts),
                                  ("measured", measured)) if v is not None]
    if len(forms) != 1:
        raise ValueError("give exactly one of `replicates`, `counts`, `measured`; got "
                         f"{forms or 'none'}.")
    form = forms[0]
    if form == "measured":
        if evaluation not in ("exact", "certified"):
            raise ValueError("`measured` is for evaluation 'exact' or 'certified'; Monte Carlo "
                             "estimates go in `replicates` or `counts`.")
        if (evaluation == "certified") != (interval is not None):
            raise ValueError("`interval` is required with evaluation 'certified' and only then.")
    elif evaluation != "monte_carlo":
        raise ValueError(f"`{form}` is for evaluation 'monte_carlo', got {evaluation!r}.")
    upper = side == "upper"
    sign = 1.0 if upper else -1.0  # work with "quantity <= bound" on sign * values

    if form == "replicates":
        reps = [replicates] if np.ndim(replicates[0]) == 0 else replicates
        if min(len(r) for r in reps) < 2:
            raise ValueError("`replicates` needs at least 2 replicates per point.")
        point, draws = stratified_bootstrap(reps, n_boot=_n_boot(n_boot), rng=_rng(rng, id))
    elif form == "counts":
        try:
            k, n = (np.atleast_1d(np.asarray(v)) for v in counts)
        except (TypeError, ValueError):
            raise TypeError("`counts` must be a pair (successes, trials) of arrays.") from None
        if k.shape != n.shape or (n < 1).any() or (k < 0).any() or (k > n).any() \
                or not (np.issubdtype(k.dtype, np.integer) and np.issubdtype(n.dtype, np.integer)):
            raise ValueError("`counts` must be integer arrays of one shape with 0 <= successes "
                             "<= trials and trials >= 1.")
        point = k / n
    else:
        point = np.atleast_1d(np.asarray(measured, dtype=float))
        if np.isnan(point).any():
            raise ValueError("`measured` must not contain NaN (an infinite value is allowed).")
    K = point.size
    b = np.broadcast_to(np.asarray(bound, dtype=float), (K,)) if np.ndim(bound) == 0 \
        else np.asarray(bound, dtype=float)
    if b.shape != (K,) or not np.isfinite(b).all():
        raise ValueError(f"`bound` must be a finite scalar or have one value per point ({K}).")
    names = _labels(labels, K, "point")
    a = alpha / K
    alt_b = b / BOUND_FACTOR if upper else b * BOUND_FACTOR
    limit, alt_limit = b + sign * tolerance, alt_b + sign * tolerance

    undecided = np.zeros(K, bool)
    if form == "replicates":
        dev, half = _student(point, draws, a, np.array([len(r) for r in reps]) - 1.0)
        lo, hi = point - half, point + half
        one = lo if upper else hi          # the one-sided confidence bound that can refute
        ok = sign * one <= sign * limit
        powers = np.mean(sign * (point + dev) - half > sign * alt_limit, axis=0)
        ffr = alpha
    elif form == "counts":
        conf = "lower" if upper else "upper"     # the confidence bound that can refute
        lo = _binomial_one_sided(k, n, a, "lower")
        hi = _binomial_one_sided(k, n, a, "upper")
        one = lo if upper else hi
        ok = sign * one <= sign * limit
        powers = np.array([_binomial_tail_power(int(nn), float(pp), a, conf, float(t))
                           for nn, pp, t in zip(n, point, alt_limit)])
        ffr = alpha
    else:
        if evaluation == "certified":
            iv = np.asarray(interval, dtype=float).reshape(K, 2) if K > 1 or np.ndim(interval) == 1 \
                else np.asarray(interval, dtype=float).reshape(1, 2)
            lo, hi = iv[:, 0], iv[:, 1]
            if (lo > hi).any() or not np.isfinite(iv).all():
                raise ValueError("`interval` must hold finite [lo, hi] with lo <= hi per point.")
        else:
            lo = hi = point
        near, far = (lo, hi) if upper else (hi, lo)   # far end decides a pass, near end a fail
        ok = sign * far <= sign * limit
        undecided = ~ok & (sign * near <= sign * limit)
        powers = (sign * near > sign * alt_limit).astype(float)
        ffr = 0.0
    power = float(np.min(powers) if power_over == "each" else np.max(powers))
    point_ok = bool(ok.all())
    verdict = _verdict(point_ok, power, exploratory,
                       underpowered=(power < POWER_TARGET) or bool(undecided.any()))
    if exploratory and undecided.any():
        verdict = FAILS
    rel = "<=" if upper else ">="
    how = {"replicates": f"one-sided {1 - a:.6g} bound of the mean (Student quantile with "
                         f"R - 1 df, bootstrap standard error, B={n_boot})",
           "counts": f"one-sided {1 - a:.6g} Clopper-Pearson bound",
           "measured": "certified interval (pass iff its far end satisfies the bound, fail iff "
                       "its near end violates it)" if evaluation == "certified" else "exact value"}[form]
    slack = f"{' + ' if upper else ' - '}{tolerance:g}" if tolerance else ""
    rule = (f"bound: quantity {rel} bound{slack} at every point; "
            f"FAIL iff the {how} violates it"
            + (f" (Bonferroni over {K} points)" if K > 1 and form != "measured" else "")
            + f"; false-fail rate {ffr:g}")
    alt = f"bound {'/' if upper else 'x'} {BOUND_FACTOR:g} ({'tightened upper' if upper else 'raised lower'} bound)"
    lo, hi = np.broadcast_to(lo, (K,)), np.broadcast_to(hi, (K,))
    near = lo if upper else hi
    with np.errstate(invalid="ignore", divide="ignore"):   # order: most critical point first
        order = np.argsort(-np.nan_to_num(sign * (near - limit) / np.maximum(np.abs(b), 1e-300),
                                          nan=-np.inf), kind="stable")
    shown = order if K <= 12 else order[:6]
    rows = "; ".join(
        f"{names[i] + ': ' if names[i] else ''}{_f(point[i])} [{_f(lo[i])}, {_f(hi[i])}] vs bound "
        f"{_f(b[i])}, power {powers[i]:.3f}"
        + (" (certified interval straddles the bound)" if undecided[i] else "") for i in shown)
    if K > 12:
        rows = (f"{K} points, {int((~ok).sum())} violating, {int((powers >= POWER_TARGET).sum())} "
                f"resolving the tightened bound; most critical: " + rows)
    text = _join(rows + ".", f"Constants: {constants}.",
                 f"Tolerance reason: {tolerance_reason}." if tolerance_reason else "",
                 f"Power: P(rule rejects 'quantity {rel} bound {'/' if upper else 'x'} "
                 f"{BOUND_FACTOR:g}') on data like these "
                 f"({'minimum over points' if power_over == 'each' else 'maximum over points: a universal statement is refuted by one point'}).",
                 _revised(revised_from), details)
    if K == 1 or np.all(b == b[0]):
        predicted = f"{rel} {_f(b[0])}"
    elif K <= 12:
        predicted = f"{rel} [" + ", ".join(_f(v) for v in b) + "]"
    else:
        predicted = f"{rel} bound at {K} points (most critical: {_f(b[order[0]])})"
    return Claim(
        id=id, paper_ref=paper_ref, statement=statement, predicted=predicted,
        measured=_scalar_or_list(point) if K <= 12 else float(point[order[0]]),
        interval=None if evaluation == "exact" else (float(np.min(lo)), float(np.max(hi))),
        evaluation=evaluation, exploratory=exploratory, details=text, kind="prediction",
        verdict=verdict, rule=rule, tolerance=tolerance, power=power, alternative=alt,
        conditions=conditions, false_fail_rate=ffr)


# ---------------------------------------------------------------------------------------
# probability at least p0
# ---------------------------------------------------------------------------------------

def probability_claim(id, paper_ref, statement, successes, trials, *, p0, margin,
                      evaluation="monte_carlo", alpha=ALPHA, labels=None, exploratory=False,
                      conditions=None, details="", revised_from=None):
    r"""``P[event] >= p0``, shown by an exact one-sided binomial test with a stated margin.

    Parameters
    ----------
    id, paper_ref, statement : str
        As in :class:`Claim`.
    successes, trials : int or (K,) array_like of int
        Events observed in independent trials, per cell (all cells must pass).
    p0 : float
        The predicted lower bound on the probability, in (0, 1].
    margin : float
        In (0, p0]: the claim passes only when the data show the probability is above
        ``p0 - margin``.  Smaller margins need more trials (see Notes).
    evaluation : {"monte_carlo", "exact"}
        How each trial's outcome was obtained (the count itself is always Monte Carlo).
    alpha : float
        Level of the test: a probability at or below ``p0 - margin`` passes with
        probability at most ``alpha`` (Bonferroni over the cells).
    labels : sequence of str, optional
        One per cell, for ``details``.
    exploratory, conditions, details, revised_from
        As in :func:`exponent_claim`.

    Returns
    -------
    Claim
        ``tolerance = margin``; ``false_fail_rate`` the exact probability of failing when
        every cell's probability equals ``p0`` (union bound over cells).

    Raises
    ------
    ValueError
        Bad counts, ``p0`` or ``margin`` out of range.

    Notes
    -----
    **Test.**  Per cell, at :math:`a = \alpha/K`: PASS iff
    ``scipy.stats.binomtest(k, n, p0 - margin, alternative="greater").pvalue`` :math:`\le a`,
    i.e. the exact test rejects :math:`p \le p_0 - \delta`.  Equivalently
    :math:`k \ge c`, with :math:`c` the smallest count with
    :math:`P[\mathrm{Bin}(n, p_0 - \delta) \ge c] \le a`.  A probability at most
    :math:`p_0 - \delta` passes with probability :math:`\le a` (the test can fail: it does
    not pass merely for lack of a refutation).

    **False-fail rate** (exact): :math:`P[\mathrm{Bin}(n, p_0) < c]`, the probability that a
    true claim (probability exactly :math:`p_0`, the worst case) fails.  Above
    :data:`MAX_FALSE_FAIL` (0.01) the design cannot separate :math:`p_0` from
    :math:`p_0 - \delta`; a binding claim is then ``UNDERPOWERED``.

    **Power** (exact) against :math:`p_1 = p_0 - 0.1`: :math:`P[\mathrm{Bin}(n, p_1) < c]`,
    minimum over cells.  Below :data:`POWER_TARGET` a binding claim is ``UNDERPOWERED``.

    Examples
    --------
    >>> c = probability_claim("demo/p", "Prop. F.6", "P[success] >= 1/4", 300, 1000,
    ...                       p0=0.25, margin=0.09)
    >>> c.verdict, c.false_fail_rate < 0.01, c.power > 0.9
    ('PASS', True, True)
    >>> probability_claim("demo/p", "Prop. F.6", "P[success] >= 1/4", 300, 1000,
    ...                   p0=0.25, margin=0.05).verdict   # false-fail rate 0.2 at p = 1/4
    'UNDERPOWERED'
    """
    k = np.atleast_1d(np.asarray(successes))
    n = np.atleast_1d(np.asarray(trials))
    if k.shape != n.shape or k.ndim != 1 or not (np.issubdtype(k.dtype, np.integer)
                                                  and np.issubdtype(n.dtype, np.integer)):
        raise ValueError("`successes` and `trials` must be integers (or 1-D integer arrays) of one shape.")
    if (n < 1).any() or (k < 0).any() or (k > n).any():
        raise ValueError("need 0 <= successes <= trials and trials >= 1.")
    p0 = _real(p0, "p0")
    if not 0 < p0 <= 1:
        raise ValueError(f"`p0` must be in (0, 1], got {p0}.")
    margin = _real(margin, "margin")
    if not 0 < margin <= p0:
        raise ValueError(f"`margin` must be in (0, p0] = (0, {p0}], got {margin}.")
    alpha = _alpha(alpha)
    K = k.size
    a = alpha / K
    names = _labels(labels, K, "cell")
    pnull = p0 - margin
    pvals = np.array([_sps.binomtest(int(kk), int(nn), pnull, alternative="greater").pvalue
                      for kk, nn in zip(k, n)])
    ok = pvals <= a
    # critical count: smallest c with P[Bin(n, pnull) >= c] <= a
    c = (_sps.binom.isf(a, n, pnull) + 1).astype(np.int64) if pnull > 0 else np.ones(K, np.int64)
    c = np.where(_sps.binom.sf(c - 2, n, pnull) <= a, c - 1, c)  # guard isf's discreteness
    ffr_cells = _sps.binom.cdf(c - 1, n, p0)
    ffr = float(min(1.0, ffr_cells.sum()))
    p1 = max(p0 - PROBABILITY_SHIFT, 0.0)
    powers = _sps.binom.cdf(c - 1, n, p1)
    power = float(powers.min())
    underpowered = power < POWER_TARGET or ffr > MAX_FALSE_FAIL
    lo = _binomial_one_sided(k, n, a, "lower")
    hi = _binomial_one_sided(k, n, a, "upper")
    rows = "; ".join(f"{nm + ': ' if nm else ''}{int(kk)}/{int(nn)} = {kk / nn:.4g} "
                     f"(one-sided {1 - a:.6g} CP [{l:.4g}, {h:.4g}]; p-value {pv:.3g}; pass needs "
                     f">= {int(cc)}; false-fail {ff:.3g}; power {pw:.3f})"
                     for nm, kk, nn, l, h, pv, cc, ff, pw in zip(names, k, n, lo, hi, pvals, c,
                                                                 ffr_cells, powers))
    rule = (f"probability at least {p0:g} (margin {margin:g}): PASS iff the exact one-sided binomial "
            f"test rejects p <= {pnull:g} at level {a:.6g}"
            + (f" in each of {K} cells (Bonferroni)" if K > 1 else "")
            + f"; false-fail rate at p = {p0:g}: {ffr:.3g} (exact)")
    text = _join(rows + ".",
                 f"Power: exact P(fail | p = {p1:g}) from the binomial law (minimum over cells).",
                 f"UNDERPOWERED: the false-fail rate {ffr:.3g} at p = {p0:g} exceeds "
                 f"{MAX_FALSE_FAIL:g}; more trials or a larger margin are needed."
                 if ffr > MAX_FALSE_FAIL and not exploratory else "",
                 _revised(revised_from), details)
    return Claim(
        id=id, paper_ref=paper_ref, statement=statement, predicted=f">= {p0:g}",
        measured=_scalar_or_list(k / n), interval=(float(lo.min()), float(hi.max())),
        evaluation=evaluation, exploratory=exploratory, details=text, kind="prediction",
        verdict=_verdict(bool(ok.all()), power, exploratory, underpowered=underpowered),
        rule=rule, tolerance=margin, power=power, alternative=f"p = {p1:g} (p0 - {PROBABILITY_SHIFT:g})",
        conditions=conditions, false_fail_rate=ffr)


# ---------------------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------------------

def comparison_claim(id, paper_ref, statement, a, b, *, better="higher", margin=0.0,
                     margin_reason=None, names=("A", "B"), paired=False, evaluation,
                     alpha=ALPHA, n_boot=N_BOOT, rng=None, labels=None, exploratory=False,
                     conditions=None, details="", revised_from=None):
    r"""A is better than B: an interval on the difference of their means excludes "not better".

    Parameters
    ----------
    id, paper_ref, statement : str
        As in :class:`Claim`.
    a, b : array_like
        ``monte_carlo``: replicates of A and of B, as 1-D arrays (one comparison) or
        sequences of K 1-D arrays (K comparisons, each must pass).  ``exact``/``certified``:
        values, scalar or (K,); for ``certified`` pass the conservative ends (A's worst and
        B's best certified bound).
    better : {"higher", "lower"}
        Which direction is better.
    margin : float
        Non-negative: A may be worse than B by at most ``margin`` (non-inferiority); 0 asks
        that A be strictly better.  A positive margin needs ``margin_reason``.
    margin_reason : str, optional
        Written justification of a positive margin.
    names : (str, str)
        Names of A and B for the texts.
    paired : bool
        Replicate ``r`` of A and of B share randomness (resampled jointly); needs equal sizes.
    evaluation : {"exact", "certified", "monte_carlo"}
    alpha : float
        Level: a pair in which A is no better than B (by more than ``margin``) passes with
        probability at most ``alpha`` (Bonferroni over the K comparisons).
    n_boot : int
        Bootstrap resamples (Monte Carlo only).
    rng : numpy.random.Generator, optional
        Bootstrap generator (default: derived from ``id``).
    labels : sequence of str, optional
        One per comparison.
    exploratory, conditions, details, revised_from
        As in :func:`exponent_claim`.

    Returns
    -------
    Claim
        ``measured`` the improvement :math:`d` (positive when A is better), ``interval`` its
        bootstrap interval, ``tolerance = margin``.

    Raises
    ------
    ValueError
        Bad shapes, a positive margin without a reason, ``paired`` with unequal sizes.

    Notes
    -----
    **Test.**  :math:`d = \bar A - \bar B` (``better="higher"``) or
    :math:`\bar B - \bar A`; its law is estimated by the bootstrap (independent resampling
    of A and B, or joint if ``paired``).  PASS iff the one-sided :math:`1-a` lower bound
    :math:`Q(a)` of :math:`d` is above :math:`-\mathrm{margin}`, :math:`a = \alpha/K`.
    Exact values: PASS iff :math:`d > -\mathrm{margin}`.

    **Power** against the alternative "A no better than B beyond the margin"
    (:math:`d = -\mathrm{margin}`): the fraction of resampled differences, shifted to the
    alternative with the observed interval offset, that the rule fails (close to
    :math:`1-a` by construction; 1 for exact values).

    **False-fail rate**: depends on the true improvement; the claim records the bootstrap
    estimate of the probability of failing at the observed improvement (maximum over
    comparisons; 0 for exact values), which calibration over seeds checks.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> c = comparison_claim("demo/cmp", "Theorem 6.1", "TTT beats the base model",
    ...                      rng.normal(1.0, 0.1, 200), rng.normal(0.8, 0.1, 200),
    ...                      evaluation="monte_carlo")
    >>> c.verdict
    'PASS'
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"`better` must be 'higher' or 'lower', got {better!r}.")
    margin = _real(margin, "margin", low=0)
    margin_reason = _text(margin_reason, "margin_reason")
    if margin > 0 and margin_reason is None:
        raise ValueError(f"claim {id!r}: a positive `margin` needs `margin_reason`.")
    if len(names) != 2 or not all(isinstance(v, str) for v in names):
        raise TypeError("`names` must be a pair of str.")
    alpha = _alpha(alpha)
    sgn = 1.0 if better == "higher" else -1.0
    if evaluation in ("exact", "certified"):
        av = np.atleast_1d(np.asarray(a, dtype=float))
        bv = np.atleast_1d(np.asarray(b, dtype=float))
        if av.shape != bv.shape or av.ndim != 1 or not (np.isfinite(av).all() and np.isfinite(bv).all()):
            raise ValueError("exact `a` and `b` must be finite scalars or 1-D arrays of one shape.")
        d = sgn * (av - bv)
        lo = hi = d
        ok = d > -margin
        powers = np.ones_like(d)
        ffr_cells = np.zeros_like(d)
        K = d.size
        how = "exact difference"
        q = None
    elif evaluation == "monte_carlo":
        def series(v):
            if np.ndim(v) == 1 and np.ndim(np.asarray(v, dtype=object)[0]) == 0:
                return [np.asarray(v, dtype=float)]
            return [np.asarray(r, dtype=float) for r in v]
        sa, sb = series(a), series(b)
        if len(sa) != len(sb):
            raise ValueError(f"`a` and `b` must have the same number of comparisons, got "
                             f"{len(sa)} and {len(sb)}.")
        K = len(sa)
        q = alpha / K
        n_boot = _n_boot(n_boot)
        rng = _rng(rng, id)
        d, lo, hi, powers, ffr_cells = (np.empty(K) for _ in range(5))
        for i, (ra, rb) in enumerate(zip(sa, sb)):
            if ra.size < 2 or rb.size < 2 or not (np.isfinite(ra).all() and np.isfinite(rb).all()):
                raise ValueError("each Monte Carlo sample of `a` and `b` needs >= 2 finite replicates.")
            if paired:
                if ra.size != rb.size:
                    raise ValueError("`paired=True` needs equal replicate counts in `a` and `b`.")
                idx = rng.integers(0, ra.size, size=(n_boot, ra.size))
                draws = sgn * (ra[idx].mean(axis=1) - rb[idx].mean(axis=1))
            else:
                ia = rng.integers(0, ra.size, size=(n_boot, ra.size))
                ib = rng.integers(0, rb.size, size=(n_boot, rb.size))
                draws = sgn * (ra[ia].mean(axis=1) - rb[ib].mean(axis=1))
            d[i] = sgn * (ra.mean() - rb.mean())
            if paired:
                df = ra.size - 1.0
            else:
                va, vb = ra.var(ddof=1) / ra.size, rb.var(ddof=1) / rb.size
                den = va ** 2 / (ra.size - 1) + vb ** 2 / (rb.size - 1)
                df = (va + vb) ** 2 / den if den > 0 else np.inf
            dev, half = _student(d[i], draws, q, df)
            lo[i], hi[i] = d[i] - half, d[i] + half
            powers[i] = np.mean(-margin + dev - half <= -margin)
            ffr_cells[i] = np.mean(d[i] + dev - half <= -margin)
        ok = lo > -margin
        how = (f"one-sided {1 - q:.6g} lower bound of the improvement (Student quantile, "
               f"Welch df, {'paired ' if paired else ''}bootstrap standard error, B={n_boot})")
    else:
        raise ValueError(f"`evaluation` must be one of {EVALUATIONS}, got {evaluation!r}.")
    labs = _labels(labels, K, "comparison")
    power = float(powers.min())
    ffr = float(ffr_cells.max())
    A, B = names
    word = "higher" if better == "higher" else "lower"
    rule = (f"comparison: {A} better ({word}) than {B}"
            + (f" up to margin {margin:g}" if margin else "")
            + f": PASS iff the {how} of d = {'mean ' + A + ' - mean ' + B if sgn > 0 else 'mean ' + B + ' - mean ' + A}"
            f" is > {-margin:g}" + (f" for each of {K} comparisons" if K > 1 else "")
            + (f"; a {A} no better than {B} passes with probability <= {alpha:g}"
               if evaluation == "monte_carlo" else ""))
    rows = "; ".join(f"{lab + ': ' if lab else ''}d = {_f(dd)} [{_f(l)}, {_f(h)}], power {pw:.3f}"
                     + (f", est. false-fail {ff:.3g}" if evaluation == "monte_carlo" else "")
                     for lab, dd, l, h, pw, ff in zip(labs, d, np.atleast_1d(lo), np.atleast_1d(hi),
                                                     powers, ffr_cells))
    text = _join(rows + ".", f"Margin reason: {margin_reason}." if margin_reason else "",
                 "Power: P(rule fails | d = -margin), the bootstrap law shifted to the alternative; "
                 "false-fail rate: bootstrap estimate of P(fail) at the observed d (maximum over "
                 "comparisons)." if evaluation == "monte_carlo" else "",
                 _revised(revised_from), details)
    return Claim(
        id=id, paper_ref=paper_ref, statement=statement,
        predicted=f"{A} better than {B}" + (f" (margin {margin:g})" if margin else ""),
        measured=_scalar_or_list(d), interval=(float(np.min(lo)), float(np.max(hi))),
        evaluation=evaluation, exploratory=exploratory, details=text, kind="prediction",
        verdict=_verdict(bool(np.all(ok)), power, exploratory), rule=rule, tolerance=margin,
        power=power, alternative=f"{A} worse than {B} by the margin (d = {-margin:g})",
        conditions=conditions, false_fail_rate=ffr)


# ---------------------------------------------------------------------------------------
# sanity
# ---------------------------------------------------------------------------------------

def sanity_claim(id, paper_ref, statement, measured, reference, *, tolerance, relative=False,
                 evaluation="exact", false_fail_rate=0.0, details="", conditions=None):
    r"""The code against itself: two computations that must agree within a tolerance.

    Use it for a solver's optimality residual (``reference=0``), two evaluations of one
    closed form, a cached against an uncached path.  A sanity check is not a prediction of
    the papers: it is reported in its own table and never counted as a tested prediction.

    Parameters
    ----------
    id, paper_ref, statement : str
        As in :class:`Claim`.
    measured, reference : float or array_like
        Broadcastable values that must agree.
    tolerance : float
        Non-negative: PASS iff ``max |measured - reference| <= tolerance`` (divided by
        ``|reference|`` when ``relative``).
    relative : bool
        Compare relative differences.
    evaluation : {"exact", "certified", "monte_carlo"}
    false_fail_rate : float
        0 for deterministic checks (the default).  When ``measured`` counts the failures of
        a statistical check made at a stated level (e.g. Monte Carlo intervals that miss a
        certified interval), that check's family-wise false-fail rate.
    details : str
        Extra text.
    conditions : list of dict, optional
        Hypotheses, when the check cites one.

    Returns
    -------
    Claim
        ``kind="sanity"``, ``measured`` the largest deviation, no power.

    Raises
    ------
    ValueError
        Non-finite values, a negative tolerance, ``relative`` with a zero reference.

    Notes
    -----
    Deterministic unless ``false_fail_rate`` says otherwise: a FAIL is a bug (or a tolerance
    below floating-point error).  No power is defined for sanity checks.

    Examples
    --------
    >>> sanity_claim("demo/kkt", "Theorem 4.2", "MLE first-order residual", [1e-12, 3e-11], 0.0,
    ...              tolerance=1e-8).verdict
    'PASS'
    """
    tolerance = _real(tolerance, "tolerance", low=0)
    m = np.asarray(measured, dtype=float)
    r = np.asarray(reference, dtype=float)
    if not (np.isfinite(m).all() and np.isfinite(r).all()):
        raise ValueError("`measured` and `reference` must be finite.")
    try:
        dev = np.abs(m - r)
    except ValueError:
        raise ValueError(f"`measured` {m.shape} and `reference` {r.shape} must broadcast.") from None
    if relative:
        if (np.broadcast_to(r, dev.shape) == 0).any():
            raise ValueError("`relative=True` needs a non-zero `reference`.")
        dev = dev / np.abs(r)
    worst = float(dev.max()) if dev.size else 0.0
    what = "relative" if relative else "absolute"
    return Claim(
        id=id, paper_ref=paper_ref, statement=statement, predicted=f"{what} deviation <= {tolerance:g}",
        measured=worst, interval=None, evaluation=evaluation, kind="sanity",
        verdict=PASS if worst <= tolerance else FAIL,
        rule=(f"sanity: PASS iff the largest {what} deviation over {dev.size} value(s) is <= "
              f"{tolerance:g}" + (f"; false-fail rate {false_fail_rate:g}" if false_fail_rate else "")),
        tolerance=tolerance, details=_join(f"{dev.size} values; largest {what} deviation {worst:.3g}.",
                                           details),
        conditions=conditions, false_fail_rate=_opt_prob(false_fail_rate, "false_fail_rate"))


def _law_pvalue(c, p):
    """Goodness-of-fit p-value of one row of counts ``c`` against the law ``p``."""
    pos = p > 0
    if pos.sum() == 2 and c[pos].sum() > 0:   # two possible outcomes: exact binomial test
        k, n = int(c[pos][0]), int(c[pos].sum())
        return float(_sps.binomtest(k, n, float(p[pos][0] / p[pos].sum())).pvalue)
    n = int(c.sum())
    expected = n * p
    small = (expected < 5) & pos
    obs = np.append(c[pos & ~small], c[small].sum())
    exp = np.append(expected[pos & ~small], expected[small].sum())
    keep = exp > 0
    obs, exp = obs[keep], exp[keep] * (obs[keep].sum() / exp[keep].sum())
    return 1.0 if obs.size < 2 else float(_sps.chisquare(obs, exp).pvalue)


def law_claim(id, paper_ref, statement, counts, probabilities, *, alpha=ALPHA, labels=None,
              details=""):
    r"""A sampler against its exact law: goodness of fit of observed counts.

    Parameters
    ----------
    id, paper_ref, statement : str
        As in :class:`Claim`.
    counts : (m,) or (K, m) array_like of int
        Observed counts of the ``m`` outcomes: one sample, or ``K`` independent samples
        (e.g. one per sample size) each with its own law.
    probabilities : array_like, shape of ``counts``
        The exact law of each row (non-negative, summing to one within 1e-9).
    alpha : float
        False-fail rate: a correct sampler fails with probability at most ``alpha``
        (Bonferroni over the rows).
    labels : sequence of str, optional
        One per row, for ``details``.
    details : str
        Extra text.

    Returns
    -------
    Claim
        ``kind="sanity"``, ``measured`` the Bonferroni-adjusted p-value
        ``min(1, K * min_k p_k)``, ``false_fail_rate = alpha``.

    Raises
    ------
    ValueError
        Bad counts or probabilities.

    Notes
    -----
    Per row: with two outcomes of positive probability, the exact two-sided binomial test
    (``scipy.stats.binomtest``); otherwise Pearson's chi-square (``scipy.stats.chisquare``)
    after pooling outcomes of expected count below 5 into one cell (an approximation when
    that pooled cell is itself small).  PASS iff the adjusted p-value is at least ``alpha``
    and no outcome of probability 0 was drawn (which fails outright).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = np.array([0.5, 0.3, 0.2])
    >>> law_claim("demo/law", "Algorithm 1", "sampler matches its law",
    ...           rng.multinomial(2000, p), p).verdict
    'PASS'
    """
    alpha = _alpha(alpha)
    c = np.asarray(counts)
    p = np.asarray(probabilities, dtype=float)
    if c.ndim not in (1, 2) or not np.issubdtype(c.dtype, np.integer) or (c < 0).any() \
            or (np.atleast_2d(c).sum(-1) < 1).any():
        raise ValueError("`counts` must be a 1-D or 2-D array of non-negative integers, each row "
                         "with a positive sum.")
    if p.shape != c.shape or (p < 0).any() or not np.isfinite(p).all() \
            or (np.abs(p.sum(-1) - 1) > 1e-9).any():
        raise ValueError("`probabilities` must be a law per row (non-negative, summing to 1) of "
                         "the shape of `counts`.")
    c2, p2 = np.atleast_2d(c), np.atleast_2d(p)
    K = c2.shape[0]
    names = _labels(labels, K, "row")
    pvals = np.array([_law_pvalue(cr, pr) for cr, pr in zip(c2, p2)])
    impossible = (c2 * (p2 == 0)).sum(-1)
    adjusted = float(min(1.0, K * pvals.min()))
    ok = impossible.sum() == 0 and adjusted >= alpha
    rows = "; ".join(f"{nm + ': ' if nm else ''}{int(cr.sum())} draws, p-value {pv:.3g}"
                     + (f", {int(im)} draws of probability-0 outcomes" if im else "")
                     for nm, cr, pv, im in zip(names, c2, pvals, impossible))
    return Claim(
        id=id, paper_ref=paper_ref, statement=statement, predicted=f"p-value >= {alpha:g}",
        measured=adjusted, interval=None, evaluation="monte_carlo", kind="sanity",
        verdict=PASS if ok else FAIL,
        rule=(f"sanity (sampler vs exact law): PASS iff the goodness-of-fit p-value (exact binomial "
              f"for two outcomes, chi-square otherwise{', Bonferroni over ' + str(K) + ' samples' if K > 1 else ''}) "
              f"is >= {alpha:g} and no outcome of probability 0 is drawn; false-fail rate {alpha:g}"),
        details=_join(rows + ".", details), false_fail_rate=alpha)


# ---------------------------------------------------------------------------------------
# claims the quick preset does not decide
# ---------------------------------------------------------------------------------------

def not_run_in_quick(claim, *, reason):
    """Mark a claim as evaluated in the full preset only (verdict ``not run in quick``).

    Parameters
    ----------
    claim : Claim
        The claim as its rule returns it (evaluated on the quick data for information; for a
        quick design too small to evaluate at all, call the rule anyway with
        ``few_points_reason="evaluated in the full preset only"`` or build it on the full
        preset's parameters).  Its rule, tolerance and alternative are kept; its quick-data
        outcome is moved into ``details``.
    reason : str
        Why the quick preset cannot give this claim power (e.g. "needs 400 replicates per
        n; the quick preset runs 40").

    Returns
    -------
    Claim
        Same fields, ``verdict="not run in quick"``, ``power`` None (the quick power is kept in
        ``details``).  Listed in reports; neither a pass nor a failure.

    Raises
    ------
    TypeError
        If ``claim`` is not a :class:`Claim` or ``reason`` is not a non-empty str.

    Examples
    --------
    >>> c = sanity_claim("demo/s", "Theorem 4.2", "residual", 0.0, 0.0, tolerance=0.0)
    >>> not_run_in_quick(c, reason="full preset only").verdict
    'not run in quick'
    """
    if not isinstance(claim, Claim):
        raise TypeError(f"`claim` must be a Claim, got {type(claim).__name__}.")
    reason = _text(reason, "reason")
    if reason is None:
        raise TypeError("`reason` must be a non-empty str.")
    if claim.legacy:
        raise ValueError("`claim` must be built by a rule of simulations.claims, not the legacy way.")
    quick = (f"On the quick data (for information only): verdict {claim.verdict}"
             + (f", power {claim.power:.3f}" if claim.power is not None else "") + ".")
    return dataclasses.replace(
        claim, passed=None, verdict=NOT_RUN_IN_QUICK, power=None,
        details=_join(f"Not run in quick: {reason}.", quick, claim.details))
