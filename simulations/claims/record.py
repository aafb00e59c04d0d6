"""The :class:`Claim` record, its verdict vocabulary and the constants of the rules.

Everything a claim *is* (fields, validation, serialisation, the verdicts and the
alternatives the rules test against); the rules that decide claims live beside this module
(see :mod:`simulations.claims`).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from simulations.store import to_jsonable


EVALUATIONS = ("exact", "certified", "monte_carlo")
#: A statement of the papers, or the code checked against itself.
KINDS = ("prediction", "sanity")

PASS = "PASS"
FAIL = "FAIL"
UNDERPOWERED = "UNDERPOWERED"
HOLDS = "exploratory: holds"
FAILS = "exploratory: fails"
#: An exploratory claim whose point decision holds but whose power is below the target: the
#: data could not have refuted the alternative, so "holds" would carry no information.
INCONCLUSIVE = "exploratory: inconclusive"
NOT_RUN_IN_QUICK = "not run in quick"
#: Every verdict string, in report order.
VERDICTS = (PASS, FAIL, UNDERPOWERED, HOLDS, FAILS, INCONCLUSIVE, NOT_RUN_IN_QUICK)
#: Verdicts of binding claims (plus ``NOT_RUN_IN_QUICK``).
BINDING_VERDICTS = (PASS, FAIL, UNDERPOWERED)
#: Verdicts of exploratory claims (plus ``NOT_RUN_IN_QUICK``).
EXPLORATORY_VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)

#: Why a claim lacks power (``Claim.underpowered_reason``, set by the rules):
#: ``"structural"``: the quantity cannot come within the alternative on any instance the
#: design can build (a stated reason, backed by the data: the estimate itself lies on the
#: alternative's side); ``"sample-size"``: the estimate lies beyond the alternative, more
#: replicates (trials, a tighter certified interval) would give power; ``"design"``: the
#: estimate lies on the alternative's side (or an exact rule cannot reject it) and no reason
#: says that no instance could do better (a different instance or design might).
UNDERPOWERED_REASONS = ("structural", "sample-size", "design")

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

def condition(hypothesis, value, holds, note="", id_tag=""):
    """One hypothesis of a cited statement, evaluated on the instance (for ``conditions``).

    Parameters
    ----------
    hypothesis : str
        The hypothesis as the statement writes it, e.g. ``"eta <= 1/(128 B)"``.
    value : object
        Its value on the instance (JSON-serialisable), e.g. ``"eta = 1e-4, 1/(128 B) = 7.8e-4"``
        or a number.
    holds : bool or None
        Whether the instance meets it; None when it cannot be verified (e.g. a quantity the
        sources do not state).
    note : str
        Required when ``holds`` is False or None on a binding claim: why the claim drops it
        (False; the claim's id and statement must also name it) or why it cannot be checked
        (None).
    id_tag : str
        For ``holds=False`` on a binding claim: the part of the claim's id that names the
        dropped hypothesis (e.g. ``"uncapped"``, ``"mu=1/n"``); :func:`condition_problems`
        checks that the id contains it.

    Returns
    -------
    dict
        ``{"hypothesis", "value", "holds"[, "note"][, "id_tag"]}``.

    Examples
    --------
    >>> condition("lambda >= 8 B log N", 3.2e3, True)
    {'hypothesis': 'lambda >= 8 B log N', 'value': 3200.0, 'holds': True}
    """
    out = {"hypothesis": hypothesis, "value": value, "holds": holds}
    if note:
        out["note"] = note
    if id_tag:
        out["id_tag"] = id_tag
    return _check_condition(out, 0)


def _check_condition(c, i):
    if isinstance(c, (tuple, list)) and len(c) in (3, 4):
        c = dict(zip(("hypothesis", "value", "holds", "note"), c))
    if not isinstance(c, Mapping):
        raise TypeError(f"`conditions[{i}]` must be a dict made by `condition(...)`, got "
                        f"{type(c).__name__}.")
    extra = set(c) - {"hypothesis", "value", "holds", "note", "id_tag"}
    if extra or not {"hypothesis", "value", "holds"} <= set(c):
        raise ValueError(f"`conditions[{i}]` must have keys hypothesis, value, holds[, note][, id_tag]; "
                         f"got {sorted(c)}.")
    if not isinstance(c["hypothesis"], str) or not c["hypothesis"]:
        raise TypeError(f"`conditions[{i}]['hypothesis']` must be a non-empty str.")
    holds = c["holds"]
    if isinstance(holds, np.bool_):
        holds = bool(holds)
    if holds is not None and not isinstance(holds, bool):
        raise TypeError(f"`conditions[{i}]['holds']` must be a bool or None (unverifiable), got "
                        f"{type(holds).__name__}.")
    out = {"hypothesis": c["hypothesis"], "value": to_jsonable(c["value"]), "holds": holds}
    if c.get("note"):
        if not isinstance(c["note"], str):
            raise TypeError(f"`conditions[{i}]['note']` must be a str.")
        out["note"] = c["note"]
    if c.get("id_tag"):
        if not isinstance(c["id_tag"], str):
            raise TypeError(f"`conditions[{i}]['id_tag']` must be a str.")
        out["id_tag"] = c["id_tag"]
    return out


#: A paper reference citing a statement with hypotheses (not a figure, example or section).
_CITES_STATEMENT = r"\b(Thm|Theorems?|Props?|Propositions?|Lemmas?|Cor|Corollary)\b\.?"


def condition_problems(claim):
    """What is missing from a claim's record of the hypotheses it cites (a list of str; empty
    when complete).

    A binding prediction whose ``paper_ref`` cites a theorem, proposition, lemma or corollary
    must carry ``conditions`` (each with ``holds`` True, False or None); a condition that does
    not hold (``holds=False``) on a binding claim must say why (``note``) and name the dropped
    hypothesis in the claim's id (``id_tag``, a part of the id); an unverifiable one
    (``holds=None``) must say why (``note``).  Exploratory claims and sanity checks are not
    checked (they decide nothing or check the code); claims ``not run in quick`` are (they are
    binding in the full preset).

    Examples
    --------
    >>> c = Claim("demo/flat-uncapped", "Theorem 5.1", "flat in H", 0.0, 0.0, None, "exact",
    ...           verdict="PASS", rule="r", power=1.0, alternative="a",
    ...           conditions=[condition("eta <= 1/(128 B)", 0.1, False, note="cap dropped",
    ...                                 id_tag="uncapped")])
    >>> condition_problems(c)
    []
    """
    import re

    if claim.exploratory or claim.kind != "prediction":
        return []
    out = []
    if re.search(_CITES_STATEMENT, claim.paper_ref) and not claim.conditions:
        out.append(f"{claim.id}: cites {claim.paper_ref!r} but records no `conditions`")
    for c in claim.conditions or []:
        if c["holds"] is False:
            tag = c.get("id_tag", "")
            if not c.get("note"):
                out.append(f"{claim.id}: unmet {c['hypothesis']!r} without a `note`")
            if not tag or tag not in claim.id:
                out.append(f"{claim.id}: unmet {c['hypothesis']!r} is not named in the id "
                           f"(id_tag {tag!r})")
        elif c["holds"] is None and not c.get("note"):
            out.append(f"{claim.id}: unverifiable {c['hypothesis']!r} without a `note`")
    return out


#: Classes a claim can be moved between (``revision``): a binding prediction, an exploratory
#: prediction, or a sanity check of the code.
CLASSES = ("binding", "exploratory", "sanity")
_REVISION_KEYS = ("class", "rule", "verdict", "measured", "why")


def claim_class(claim):
    """``"sanity"``, ``"exploratory"`` or ``"binding"``: how a claim counts in the report."""
    return "sanity" if claim.kind == "sanity" else ("exploratory" if claim.exploratory else "binding")


def revision(previous, why):
    """The record of a claim that changed class or rule: what it was, and why it changed.

    Pass the result as ``revised_from`` to the rule that builds the new claim; it is kept in
    :attr:`Claim.revised_from` (and ``claims.json``) and summarised in ``details``.

    Parameters
    ----------
    previous : Claim
        The claim as the earlier class or rule decides it (build it with the earlier
        arguments on the same data, so its verdict and measured value are current).
    why : str
        One sentence: why the class or rule changed (the rule it follows, not the outcome).

    Returns
    -------
    dict
        ``{"class", "rule", "verdict", "measured", "why"}``.

    Raises
    ------
    TypeError
        If ``previous`` is not a :class:`Claim` or ``why`` is not a non-empty str.

    Examples
    --------
    >>> old = Claim("demo/x", "Thm 1", "slope <= 4", 4.0, 1.7, None, "exact", verdict="PASS",
    ...             rule="exponent at most 4", power=1.0, alternative="exponent +4.25")
    >>> revision(old, "worst-case bound not attained on the instance")["verdict"]
    'PASS'
    """
    if not isinstance(previous, Claim):
        raise TypeError(f"`previous` must be a Claim, got {type(previous).__name__}.")
    if not isinstance(why, str) or not why.strip():
        raise TypeError("`why` must be a non-empty str.")
    return {"class": claim_class(previous), "rule": previous.rule, "verdict": previous.verdict,
            "measured": previous.measured, "why": why.strip()}


def as_exploratory(rule, *args, why, **kwargs):
    """Build a claim with ``rule`` as exploratory, recording its binding version.

    ``rule(*args, **kwargs)`` is decided twice on the same data: as the binding claim it was,
    and as an exploratory claim whose ``revised_from`` is that claim's :func:`revision`.

    Parameters
    ----------
    rule : callable
        A claim rule (``exponent_claim``, ``comparison_claim``, ...), accepting ``exploratory``
        and ``revised_from``.
    *args, **kwargs
        The rule's arguments (without ``exploratory`` and ``revised_from``).
    why : str
        One sentence: why the claim is no longer binding (the rule it follows, not the outcome).

    Returns
    -------
    Claim
        The exploratory claim.

    Examples
    --------
    >>> from simulations.claims import exponent_claim
    >>> c = as_exploratory(exponent_claim, "demo/s", "Thm 1", "slope 1", [1, 2, 4, 8, 16],
    ...                    [[1.0], [2.0], [4.0], [8.0], [16.0]], predicted=1.0, tolerance=0.1,
    ...                    evaluation="exact", why="the slope is set by the step recipe")
    >>> c.verdict, c.revised_from["class"], c.revised_from["verdict"]
    ('exploratory: holds', 'binding', 'PASS')
    """
    return rule(*args, **kwargs, exploratory=True, revised_from=revision(rule(*args, **kwargs), why))


def _check_revision(value):
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != set(_REVISION_KEYS):
        raise ValueError(f"`revised_from` must be None or a dict with keys {_REVISION_KEYS} (made "
                         f"by `revision(...)`), got {value!r}.")
    if value["class"] not in CLASSES:
        raise ValueError(f"`revised_from['class']` must be one of {CLASSES}, got {value['class']!r}.")
    for k in ("rule", "verdict", "why"):
        if not isinstance(value[k], str) or not value[k]:
            raise TypeError(f"`revised_from[{k!r}]` must be a non-empty str.")
    return {k: to_jsonable(value[k]) for k in _REVISION_KEYS}


def _as_bool(value, name):
    if isinstance(value, np.bool_):
        value = bool(value)
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {type(value).__name__}.")
    return value


def optional_probability(value, name):
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
    underpowered_reason : {"structural", "sample-size", "design"} or None
        Why the power is below :data:`POWER_TARGET` (verdicts ``UNDERPOWERED`` and
        ``exploratory: inconclusive`` only; see :data:`UNDERPOWERED_REASONS`).  The rules set
        it; ``"structural"`` needs ``underpowered_evidence``.
    underpowered_evidence : str
        The evidence for ``underpowered_reason`` (a derivation or measurement, with numbers).
    revised_from : dict or None
        For a claim that changed class or rule (made by :func:`revision`): the earlier class,
        rule, verdict and measured value, and why it changed.  A rule revised after a failing
        run given as text (``revised_from="..."`` of the rules) is kept in ``details`` only.
    loose_by : float or None
        For a one-sided claim that passes while its data also reject the bound being
        attained (an ``at_most``/``at_least`` exponent whose confidence interval lies
        beyond ``predicted -/+`` :data:`EXPONENT_SHIFT`): how far the estimate is from the
        bound, in the claim's units.  The bound is not exceeded, and it is not confirmed as
        the rate either.
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
    underpowered_reason: object = None
    underpowered_evidence: str = ""
    loose_by: object = None
    revised_from: object = None
    legacy: bool = field(default=False, init=False)

    def __post_init__(self):
        set_ = object.__setattr__
        for name in ("id", "paper_ref", "statement", "details", "rule", "underpowered_evidence"):
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
        set_(self, "power", optional_probability(self.power, "power"))
        set_(self, "false_fail_rate", optional_probability(self.false_fail_rate, "false_fail_rate"))
        if self.loose_by is not None:
            if isinstance(self.loose_by, bool) or not isinstance(self.loose_by, numbers.Real) \
                    or not self.loose_by >= 0:
                raise ValueError(f"`loose_by` must be a non-negative number or None, got {self.loose_by!r}.")
            set_(self, "loose_by", float(self.loose_by))
        set_(self, "revised_from", _check_revision(self.revised_from))
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
            if v == PASS and self.power < POWER_TARGET:
                raise ValueError(f"claim {self.id!r}: power {self.power:.3f} < {POWER_TARGET} "
                                 f"requires verdict {UNDERPOWERED!r}, got {v!r}.")
        if self.exploratory and v == HOLDS and self.power is not None and self.power < POWER_TARGET:
            raise ValueError(f"claim {self.id!r}: power {self.power:.3f} < {POWER_TARGET} requires "
                             f"verdict {INCONCLUSIVE!r}, got {v!r}.")
        self._check_underpowered_reason()
        if self.loose_by is not None and v not in (PASS, HOLDS):
            raise ValueError(f"claim {self.id!r}: `loose_by` is for a claim that passes, got "
                             f"verdict {v!r}.")
        if not self.exploratory and self.conditions:
            for c in self.conditions:
                if c["holds"] is None and not c.get("note"):
                    raise ValueError(f"claim {self.id!r}: hypothesis {c['hypothesis']!r} cannot be "
                                     "verified on the instance; a binding claim must say why "
                                     "(`note`).")
                if c["holds"] is False and not c.get("note"):
                    raise ValueError(f"claim {self.id!r}: hypothesis {c['hypothesis']!r} does not "
                                     "hold on the instance; a binding claim must say why it drops "
                                     "it (`note`).")

    def _check_underpowered_reason(self):
        r, v = self.underpowered_reason, self.verdict
        if r is None:
            if self.underpowered_evidence:
                raise ValueError(f"claim {self.id!r}: `underpowered_evidence` without "
                                 "`underpowered_reason`.")
            return
        if r not in UNDERPOWERED_REASONS:
            raise ValueError(f"`underpowered_reason` must be one of {UNDERPOWERED_REASONS} or None, "
                             f"got {r!r}.")
        if v not in (UNDERPOWERED, INCONCLUSIVE):
            raise ValueError(f"claim {self.id!r}: `underpowered_reason` is for verdicts "
                             f"{UNDERPOWERED!r} and {INCONCLUSIVE!r}, got {v!r}.")
        if r == "structural" and not self.underpowered_evidence.strip():
            raise ValueError(f"claim {self.id!r}: a structural `underpowered_reason` needs "
                             "`underpowered_evidence` (the derivation or measurement).")

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
            "false_fail_rate": self.false_fail_rate,
            "underpowered_reason": self.underpowered_reason,
            "underpowered_evidence": self.underpowered_evidence, "loose_by": self.loose_by,
            "revised_from": self.revised_from, "details": self.details,
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
        elif (kw.get("exploratory") and kw.get("verdict") == HOLDS and kw.get("power") is not None
              and kw["power"] < POWER_TARGET):
            kw["verdict"] = INCONCLUSIVE      # written before the inconclusive verdict existed
            kw.pop("passed", None)
        return cls(**kw)
