"""The machinery of :mod:`proofs_check`: the check registry, results and the two proof tools.

A *check* is a function registered with :func:`check` that raises :class:`ProofError` (or
any exception) when its statement is not established, and returns a short detail string
otherwise.  Checks prove statements in exactly two ways:

* identities, by :func:`assert_identity`: ``sympy.simplify(lhs - rhs) == 0``;
* inequalities, by :func:`prove_nonnegative`: an expression in symbols declared
  ``nonnegative``/``positive`` is shown to be ``>= 0`` everywhere on that domain, either
  directly by sympy's assumption system (``is_nonnegative is True``), factor by factor, or
  by a derivative argument: ``F(0) >= 0`` and ``dF/dv >= 0`` on ``v >= 0`` (recursively).
  Constrained domains (``p`` in ``[0, 1]``, ``N >= 1``, ...) are reparametrised by the check
  onto non-negative symbols (``p = e^{-u}``, ``N = 1 + m``).

Nothing is ever decided by the truth value of a sympy relational.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sympy as sp

__all__ = ["ProofError", "Check", "CheckResult", "CHECKS", "check", "assert_identity",
           "assert_true_by_assumptions", "prove_nonnegative", "run_checks"]


class ProofError(AssertionError):
    """A statement could not be established."""


@dataclass(frozen=True)
class Check:
    """A registered symbolic check: ``name``, statement reference ``ref`` and function ``fn``."""

    name: str
    ref: str
    fn: object
    module: str


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check."""

    name: str
    ref: str
    passed: bool
    detail: str
    seconds: float

    def line(self):
        """One printed line: verdict, name, statement reference, detail."""
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict}  {self.name:<34s} [{self.ref}]  {self.detail} ({self.seconds:.2f}s)"

    def to_dict(self):
        return {"name": self.name, "ref": self.ref, "passed": self.passed,
                "detail": self.detail, "seconds": self.seconds}


#: name -> Check, filled by the topic modules through :func:`check`.
CHECKS = {}


def check(name, ref):
    """Decorator registering a check under ``name`` with statement reference ``ref``."""

    def register(fn):
        if name in CHECKS and CHECKS[name].fn is not fn:
            raise ValueError(f"duplicate proofs_check name {name!r}")
        CHECKS[name] = Check(name, ref, fn, fn.__module__)
        return fn

    return register


def assert_identity(lhs, rhs, what=""):
    """Raise :class:`ProofError` unless ``sympy.simplify(lhs - rhs) == 0``."""
    diff = sp.simplify(sp.sympify(lhs) - sp.sympify(rhs))
    if diff != 0:
        raise ProofError(f"identity failed{': ' + what if what else ''}: lhs - rhs = {diff}")
    return True


def assert_true_by_assumptions(prop, what=""):
    """Raise unless a sympy assumption query (e.g. ``expr.is_positive``) returned ``True``.

    ``prop`` is the *value* of the query: ``True`` proves, ``False`` or ``None`` (unknown)
    fail.  (This is not the truth value of a relational: sympy's assumption system has
    established the property from the declared symbol assumptions.)
    """
    if prop is not True:
        raise ProofError(f"not established by the assumption system: {what} (got {prop})")
    return True


def _nonneg(expr, variables, depth, trace):
    e = sp.simplify(expr)
    if e.is_nonnegative is True:
        trace.append(f"{e} >= 0 by assumptions")
        return True
    if e.is_negative is True or depth <= 0:
        return False
    f = sp.factor(e)
    if f.is_Mul:
        factors = f.args
        if all(_nonneg(a, variables, depth - 1, trace) for a in factors):
            return True
        negs = [a for a in factors if sp.simplify(-a).is_nonnegative is True]
        rest = [a for a in factors if a not in negs]
        if len(negs) % 2 == 0 and negs and all(_nonneg(a, variables, depth - 1, trace) for a in rest):
            return True
    if f.is_Pow and f.exp.is_integer and f.exp.is_even:
        trace.append(f"{f} is an even power")
        return True
    if f.is_Pow and f.exp.is_real and sp.simplify(f.base).is_positive is True:
        trace.append(f"{f} is a real power of a positive base")
        return True
    for v in variables:
        if not e.has(v):
            continue
        at0 = e.subs(v, 0)
        if _nonneg(at0, variables, depth - 1, trace) and _nonneg(sp.diff(e, v), variables, depth - 1, trace):
            trace.append(f"{e}: value at {v}=0 and d/d{v} are >= 0")
            return True
    return False


def prove_nonnegative(expr, variables=(), *, depth=5, what=""):
    """Prove ``expr >= 0`` on the domain given by the symbols' assumptions.

    Parameters
    ----------
    expr : sympy expression
    variables : sequence of sympy.Symbol
        Non-negative symbols along which the derivative argument may be used
        (``F(0) >= 0`` and ``F' >= 0`` on ``[0, inf)`` imply ``F >= 0`` there).
    depth : int
        Recursion budget.

    Returns
    -------
    list of str
        The proof trace.

    Raises
    ------
    ProofError
        When no proof was found (the statement may still be true).
    """
    for v in variables:
        if v.is_nonnegative is not True:
            raise ProofError(f"derivative variable {v} must be declared non-negative")
    trace = []
    if not _nonneg(sp.sympify(expr), tuple(variables), depth, trace):
        raise ProofError(f"could not prove {what or expr} >= 0")
    return trace


def run_checks(checks=None):
    """Run checks (all registered ones by default) and return their :class:`CheckResult` s."""
    if checks is None:
        from . import _load_all
        _load_all()
        checks = list(CHECKS.values())
    results = []
    for c in checks:
        t0 = time.perf_counter()
        try:
            detail = c.fn() or "ok"
            passed = True
        except Exception as exc:  # a failing or crashing check is a FAIL, never a pass
            detail = f"{type(exc).__name__}: {exc}"
            passed = False
        results.append(CheckResult(c.name, c.ref, passed, str(detail), time.perf_counter() - t0))
    return results
