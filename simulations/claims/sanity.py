"""Sanity rules: two computations that must agree (:func:`sanity_claim`), a sampler against its
exact law (:func:`law_claim`)."""

from __future__ import annotations

import numpy as np
from scipy import stats as _sps

from simulations.claims.record import PASS, FAIL, ALPHA, Claim, optional_probability
from simulations.claims.shared import check_real, check_alpha, join_details, check_labels, revised_note


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
    tolerance = check_real(tolerance, "tolerance", low=0)
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
        tolerance=tolerance, details=join_details(f"{dev.size} values; largest {what} deviation {worst:.3g}.",
                                           details),
        conditions=conditions, false_fail_rate=optional_probability(false_fail_rate, "false_fail_rate"))


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
    alpha = check_alpha(alpha)
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
    names = check_labels(labels, K, "row")
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
        details=join_details(rows + ".", details), false_fail_rate=alpha)


def as_sanity(claim, *, reason, revised_from=None):
    """Count a claim built by a prediction rule as a sanity check of the code.

    For statements that are not predictions of the papers although a prediction rule is the
    natural way to check them: an inequality derived by the toolkit (not stated in the
    papers), a closed form compared with an algebraic consequence of itself, a witness
    evaluated against the formula it was built from.  The verdict (PASS/FAIL) is kept, the
    power is dropped (sanity checks have none), and ``reason`` goes first in ``details``.

    Parameters
    ----------
    claim : Claim
        A binding claim returned by a rule, with verdict ``PASS`` or ``FAIL``.
    reason : str
        Why the statement checks the code rather than the papers.
    revised_from : dict, optional
        A :func:`~simulations.claims.record.revision` record, when the claim was a binding
        prediction before (kept in :attr:`Claim.revised_from`, summarised in ``details``).

    Returns
    -------
    Claim
        ``kind="sanity"``, ``power`` and ``alternative`` None, same verdict.

    Raises
    ------
    TypeError
        If ``claim`` is not a :class:`Claim` or ``reason`` is not a non-empty str.
    ValueError
        If ``claim`` is exploratory or its verdict is not PASS or FAIL.

    Examples
    --------
    >>> from simulations.claims import bound_claim
    >>> c = bound_claim("demo/b", "derived", "x <= 1", bound=1.0, constants="1",
    ...                 measured=[0.7, 0.9], evaluation="exact")
    >>> s = as_sanity(c, reason="a consequence of the closed form it is checked against")
    >>> s.kind, s.verdict, s.power
    ('sanity', 'PASS', None)
    """
    import dataclasses

    if not isinstance(claim, Claim):
        raise TypeError(f"`claim` must be a Claim, got {type(claim).__name__}.")
    if not isinstance(reason, str) or not reason.strip():
        raise TypeError("`reason` must be a non-empty str.")
    if claim.exploratory or claim.verdict not in (PASS, FAIL):
        raise ValueError(f"`claim` must be binding with verdict PASS or FAIL, got "
                         f"{claim.verdict!r} (exploratory={claim.exploratory}).")
    return dataclasses.replace(
        claim, kind="sanity", power=None, alternative=None, revised_from=revised_from,
        details=join_details(f"Counted as a sanity check: {reason}.", revised_note(revised_from),
                             claim.details))
