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
:func:`as_sanity`           a claim built by a prediction rule that checks the code, not
                            the papers (a derived inequality, a closed form against
                            itself): counted as a sanity check.
:func:`not_run_in_quick`    a binding claim whose power the quick preset cannot reach:
                            listed with its rule, neither passed nor failed.
:func:`as_exploratory`      a rule's claim made exploratory, its binding version kept
:func:`revision`            the record of a claim that changed class (binding,
                            exploratory, sanity) or rule: the earlier class, rule,
                            verdict and measured value and why, passed to the new
                            claim's rule as ``revised_from``.
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
``exploratory: holds``, ``exploratory: fails`` or, when the point decision holds but the
power is below :data:`POWER_TARGET`, ``exploratory: inconclusive`` (the data could not have
refuted the alternative).  A claim only evaluated in the full preset ends
``not run in quick`` in the quick preset.

Every claim that lacks power (``UNDERPOWERED``, inconclusive) records why in
``underpowered_reason``: ``"sample-size"`` (the estimate lies beyond the alternative: more
replicates would give power), ``"structural"`` (the rule was given a written reason why no
instance of the design can reach the alternative, *and* the estimate lies on the
alternative's side: a reason the data contradict is refused), or ``"design"`` (the estimate
lies on the alternative's side and no reason was stated).  Structural stays
``UNDERPOWERED``: it says what more data cannot fix, it is not a pass.  A one-sided exponent
that passes while its interval also lies beyond ``predicted -/+ 0.25`` records ``loose_by``
(the bound is not exceeded, and not attained either).
``Claim.passed`` is derived from the verdict; callers never set it.

Every rule's false-fail rate is ``alpha`` (default :data:`ALPHA` = 1e-3 per claim, split
by Bonferroni over the claim's series or cells) unless its docstring says otherwise; it is
recorded in ``Claim.false_fail_rate``, which ``python -m simulations calibrate`` checks
against the failures observed over seeds.

Bootstrap resamples are drawn from ``rng``; by default a generator derived from the claim
id, so ``claims(config, records)`` stays a deterministic function of its inputs.

Layout
------
One module per idea, all names re-exported here (import them from :mod:`simulations.claims`):
:mod:`~simulations.claims.record` (the :class:`Claim` record, verdicts, constants),
:mod:`~simulations.claims.exponent`, :mod:`~simulations.claims.bound`,
:mod:`~simulations.claims.probability`, :mod:`~simulations.claims.comparison`,
:mod:`~simulations.claims.sanity` (one rule kind each),
:mod:`~simulations.claims.quick` (:func:`not_run_in_quick`), and
:mod:`~simulations.claims.shared` (argument checks, verdict from power, bootstrap intervals,
binomial bounds: the pieces the rules share).
"""

from simulations.claims.bound import bound_claim
from simulations.claims.comparison import comparison_claim
from simulations.claims.exponent import exponent_claim
from simulations.claims.probability import probability_claim
from simulations.claims.quick import not_run_in_quick, quick_data_verdict
from simulations.claims.record import (EVALUATIONS, KINDS, PASS, FAIL, UNDERPOWERED, HOLDS, FAILS,
                                       INCONCLUSIVE, UNDERPOWERED_REASONS, NOT_RUN_IN_QUICK, VERDICTS, BINDING_VERDICTS,
                                       EXPLORATORY_VERDICTS, ALPHA, POWER_TARGET, EXPONENT_SHIFT,
                                       PROBABILITY_SHIFT, BOUND_FACTOR, MAX_UNREASONED_TOLERANCE,
                                       MIN_SLOPE_POINTS, MIN_SLOPE_SPAN, MAX_FALSE_FAIL, N_BOOT,
                                       LEGACY_NOTE, CLASSES, Claim, claim_class, condition,
                                       condition_problems, revision, as_exploratory)
from simulations.claims.sanity import as_sanity, law_claim, sanity_claim

__all__ = [
    "Claim", "condition", "condition_problems", "revision", "as_exploratory", "claim_class", "CLASSES",
    "exponent_claim", "bound_claim", "probability_claim", "comparison_claim",
    "sanity_claim", "law_claim", "as_sanity", "not_run_in_quick", "quick_data_verdict",
    "EVALUATIONS", "KINDS", "VERDICTS", "BINDING_VERDICTS", "EXPLORATORY_VERDICTS",
    "PASS", "FAIL", "UNDERPOWERED", "HOLDS", "FAILS", "INCONCLUSIVE", "NOT_RUN_IN_QUICK",
    "UNDERPOWERED_REASONS",
    "ALPHA", "POWER_TARGET", "EXPONENT_SHIFT", "PROBABILITY_SHIFT", "BOUND_FACTOR",
    "MAX_UNREASONED_TOLERANCE", "MIN_SLOPE_POINTS", "MIN_SLOPE_SPAN", "MAX_FALSE_FAIL",
    "N_BOOT", "LEGACY_NOTE",
]

