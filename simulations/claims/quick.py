"""Claims the quick preset does not decide (:func:`not_run_in_quick`)."""

from __future__ import annotations

import dataclasses

from simulations.claims.record import NOT_RUN_IN_QUICK, VERDICTS, Claim
from simulations.claims.shared import check_text, join_details


# ---------------------------------------------------------------------------------------
# claims the quick preset does not decide
# ---------------------------------------------------------------------------------------

#: How :func:`not_run_in_quick` records the quick-data outcome in ``details``.
_QUICK_PREFIX = "On the quick data (for information only): verdict "


def quick_data_verdict(claim):
    """The verdict a ``not run in quick`` claim had on the quick data, or ``None``.

    Reports list it next to the claim, so a quick-data FAIL is never hidden behind "not run
    in quick" (it decides nothing: the quick design lacks power, which is why the claim is
    left to the full preset).

    Examples
    --------
    >>> from simulations.claims import sanity_claim
    >>> c = sanity_claim("demo/s", "Theorem 4.2", "residual", 1.0, 0.0, tolerance=0.0)
    >>> quick_data_verdict(not_run_in_quick(c, reason="full preset only"))
    'FAIL'
    """
    text = getattr(claim, "details", "") or ""
    i = text.find(_QUICK_PREFIX)
    if i < 0:
        return None
    rest = text[i + len(_QUICK_PREFIX):]
    for v in sorted(VERDICTS, key=len, reverse=True):
        if rest.startswith(v):
            return v
    return None


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
    >>> from simulations.claims import sanity_claim
    >>> c = sanity_claim("demo/s", "Theorem 4.2", "residual", 0.0, 0.0, tolerance=0.0)
    >>> not_run_in_quick(c, reason="full preset only").verdict
    'not run in quick'
    """
    if not isinstance(claim, Claim):
        raise TypeError(f"`claim` must be a Claim, got {type(claim).__name__}.")
    reason = check_text(reason, "reason")
    if reason is None:
        raise TypeError("`reason` must be a non-empty str.")
    if claim.legacy:
        raise ValueError("`claim` must be built by a rule of simulations.claims, not the legacy way.")
    quick = (f"{_QUICK_PREFIX}{claim.verdict}"
             + (f" ({claim.underpowered_reason})" if claim.underpowered_reason else "")
             + (f", power {claim.power:.3f}" if claim.power is not None else "") + ".")
    return dataclasses.replace(
        claim, passed=None, verdict=NOT_RUN_IN_QUICK, power=None, underpowered_reason=None,
        underpowered_evidence="", loose_by=None,
        details=join_details(f"Not run in quick: {reason}.", quick, claim.details))
