"""Exact mathematics of the coverage principle and of value-guided backtracking."""

from __future__ import annotations

__all__ = ["allocation_budget"]


def allocation_budget(n_bytes):
    """Context manager raising (or lowering) the memory budget of :mod:`theory` calls.

    Every public function of :mod:`theory` whose memory grows with an argument estimates its
    working set in bytes before allocating and refuses (``ValueError`` saying how much would
    be needed and what to use instead) a request above the budget: 2 GiB by default
    (``theory._validation.DEFAULT_ALLOCATION_BUDGET``), never more than the physical memory
    of the machine.  Inside ``with allocation_budget(n_bytes):`` the budget is ``n_bytes``
    (for the current thread or task only).

    Parameters
    ----------
    n_bytes : int
        The budget in bytes, ``>= 1``.

    Returns
    -------
    contextlib.AbstractContextManager
        Yields ``n_bytes``.

    Examples
    --------
    >>> from theory import allocation_budget
    >>> from theory.best_of_n import pass_at_k
    >>> with allocation_budget(8 << 30):
    ...     float(pass_at_k(10, 3, 2)) > 0.5
    True
    """
    from ._validation import allocation_budget_context, check_int

    return allocation_budget_context(check_int(n_bytes, "n_bytes", low=1))
