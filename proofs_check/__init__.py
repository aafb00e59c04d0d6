"""Symbolic (sympy) checks of the proof steps behind the toolkit's formulas.

``python -m proofs_check`` runs every check, prints one line per check (verdict, name,
statement reference) and exits with status 1 if any fails.  Topic modules:

* :mod:`proofs_check.kl_coverage` — Prop. 3.1, Props. F.1–F.3 / D.1–D.3;
* :mod:`proofs_check.hellinger` — Prop. F.4 / D.4, F.11 / D.11, Lemma J.1, finite-class MLE;
* :mod:`proofs_check.best_of_n` — Props. F.6/F.7 (D.6/D.7) steps, Pass@N bounds, pass@k;
* :mod:`proofs_check.linear_models` — score, Hessian and smoothness of autoregressive
  linear models, normalized SGD, Lemma K.4;
* :mod:`proofs_check.ratios` — Prop. F.5 / D.5, the Markov/L_p bound.

See :mod:`proofs_check._core` for how identities and inequalities are established.
"""

import importlib

from ._core import (CHECKS, Check, CheckResult, ProofError, assert_identity,
                    assert_true_by_assumptions, check, prove_nonnegative, run_checks)

__all__ = ["CHECKS", "Check", "CheckResult", "ProofError", "assert_identity",
           "assert_true_by_assumptions", "check", "prove_nonnegative", "run_checks", "TOPICS"]

#: Topic modules, imported on demand by :func:`run_checks`.
TOPICS = ("kl_coverage", "hellinger", "best_of_n", "linear_models", "ratios")


def _load_all():
    for name in TOPICS:
        importlib.import_module(f"{__name__}.{name}")
