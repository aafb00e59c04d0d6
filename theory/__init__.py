"""Exact mathematics of the coverage principle and of value-guided backtracking.

The main entry points are available at the package level and are imported lazily (on first
attribute access), so ``import theory`` stays cheap::

    >>> import theory
    >>> float(theory.pass_at_k(10, 3, 2)) > 0.5
    True

Coverage and divergences (:mod:`theory.coverage`, :mod:`theory.divergences`)
    :func:`coverage_profile`, :func:`per_prompt_coverage`, :func:`answer_level_coverage`,
    :func:`empirical_coverage`, :func:`on_policy_coverage`, :func:`log_thresholds`,
    :func:`kl_divergence`,
    :func:`cross_entropy`, :func:`squared_hellinger`, :func:`total_variation`,
    :func:`categorical_kl`, :func:`categorical_squared_hellinger`, :func:`stopped_kl`.
Best-of-N and pass@k (:mod:`theory.best_of_n`)
    :func:`pass_at_n`, :func:`pass_at_k`, :func:`best_of_n_success`,
    :func:`best_of_n_expected_reward`.
Models (:mod:`theory.models`)
    :class:`AutoregressiveLinearModel`, :class:`MarkovModel`, :class:`TabularFeatures`,
    :class:`CallableFeatures`, :func:`categorical_model`.
Laws of the log-likelihood ratio (:mod:`theory.log_ratio`, :mod:`theory.iid_tokens`)
    exact: :func:`exact_log_ratio` (a :class:`LogRatioLaw`), :func:`exact_stopped_kl`;
    certified: :func:`certified_log_ratio`, :func:`certified_coverage`,
    :func:`certified_stopped_kl`; i.i.d. tokens: :class:`IidTokenLaw`; sampled:
    :func:`sampled_log_ratio`.
Bounds, rates and instances
    the modules :mod:`theory.bounds` (the inequalities between divergences and coverage;
    :func:`kl_to_coverage` and :func:`hellinger_to_coverage` are also exported here),
    :mod:`theory.rates` (predicted rates of the theorems), :mod:`theory.instances` (every
    construction of the paper, by name); :func:`clopper_pearson` intervals.
"""

from __future__ import annotations

import importlib

#: Exported name -> submodule defining it (functions and classes), or ``None`` for the
#: exported submodules themselves.
_EXPORTS = {
    # theory.coverage
    "coverage_profile": "coverage",
    "per_prompt_coverage": "coverage",
    "answer_level_coverage": "coverage",
    "empirical_coverage": "coverage",
    "on_policy_coverage": "coverage",
    "log_thresholds": "coverage",
    # theory.divergences
    "kl_divergence": "divergences",
    "cross_entropy": "divergences",
    "squared_hellinger": "divergences",
    "total_variation": "divergences",
    "categorical_kl": "divergences",
    "categorical_squared_hellinger": "divergences",
    "stopped_kl": "divergences",
    # theory.best_of_n
    "pass_at_n": "best_of_n",
    "pass_at_k": "best_of_n",
    "best_of_n_success": "best_of_n",
    "best_of_n_expected_reward": "best_of_n",
    # theory.models
    "AutoregressiveLinearModel": "models",
    "MarkovModel": "models",
    "TabularFeatures": "models",
    "CallableFeatures": "models",
    "categorical_model": "models",
    # laws of the log-likelihood ratio
    "LogRatioLaw": "log_ratio",
    "exact_log_ratio": "log_ratio",
    "exact_stopped_kl": "log_ratio",
    "sampled_log_ratio": "log_ratio",
    "certified_log_ratio": "log_ratio",
    "certified_coverage": "log_ratio",
    "certified_stopped_kl": "log_ratio",
    "IidTokenLaw": "iid_tokens",
    # bounds and intervals
    "kl_to_coverage": "bounds",
    "hellinger_to_coverage": "bounds",
    "clopper_pearson": "intervals",
    # submodules
    "bounds": None,
    "rates": None,
    "instances": None,
    "models": None,
}

__all__ = ["allocation_budget", *_EXPORTS]


def __getattr__(name):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'theory' has no attribute {name!r}") from None
    if module is None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


def allocation_budget(n_bytes):
    """Context manager raising (or lowering) the memory budget of :mod:`theory` calls.

    Every public function of :mod:`theory` whose memory grows with an argument estimates its
    working set in bytes before allocating and refuses (``ValueError`` saying how much would
    be needed and what to use instead) a request above the budget: 2 GiB by default
    (``theory.validation.DEFAULT_ALLOCATION_BUDGET``), never more than the physical memory
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
    from .validation import allocation_budget_context, check_int

    return allocation_budget_context(check_int(n_bytes, "n_bytes", low=1))
