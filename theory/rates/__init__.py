r"""Predicted rates of the paper's theorems, as vectorised functions.

The main theorems are stated up to unspecified absolute constants ("≲").  Each function
here returns the **rate shape** with every constant set to one, so experiments compare
*shapes* (log-log slopes, dependence on ``H`` and ``N``) and fit at most one overall
constant.  Constants that appear explicitly in the proofs (step sizes, thresholds) are
implemented exactly, in the ``*_step_size`` / ``*_parameters`` functions.

Signatures.  The first argument (the sample size ``n`` or the number of steps ``T``; ``alpha``
for :func:`misspecification_lower_bound`) is positional; every other argument is
keyword-only, listed in one order across the module: ``N, a, H, d, class_size,
best_coverage, sigma_sq, B, M, K, eta, proof, delta, C``, e.g.
``sgd_step_size(T, H=H, sigma_sq=s2, B=B)``.  The former all-positional calls (whose order of
``B`` and ``sigma_sq`` changed from one function to the next) still work for one release and
raise a ``DeprecationWarning`` naming the keyword call.

All arguments broadcast (numpy semantics) and are validated: NaN, complex or non-numeric
values and values outside the parameter's domain (``n, T, K > 0``; ``N >= 1``;
``M > 1``; ``0 < delta <= 1``; ``class_size, H, d >= 1``; ``sigma_sq, B >= 0``; ``eta > 0``;
``C >= log 4``;
``alpha, a, best_coverage`` in ``[0, 1]``) raise ``ValueError``/``TypeError`` naming the
argument.  At ``N = 1`` (:math:`\log N = 0`) a term :math:`x/\log N` is ``+inf`` (the bound says
nothing there), or ``0`` when :math:`x = 0` (its limit as :math:`N \downarrow 1`); never NaN.
Numbering: ICLR camera-ready first, arXiv v2 second.

The code is organised by paper section: Sections 3-4 (maximum likelihood, and the lower
bounds), Section 5 (SGD and normalized SGD) and Section 6 (test-time training, distillation,
tournaments).

Examples
--------
>>> from theory.rates import sgd_step_size, ttt_step_size
>>> float(sgd_step_size(200, H=10, sigma_sq=1.0, B=1.0)), float(ttt_step_size(100, sigma_sq=1.0, B=1.0))
(0.05, 0.1)
"""

from __future__ import annotations

from ._lower_bounds import (coarse_lower_bound_prop_g1, fine_lower_bound_prop_g1, high_dim_coverage_lower_bound,
                            kl_lower_bound_prop_3_2, misspecification_lower_bound)
from ._mle import (bernoulli_coverage_rate, finite_class_mle_coverage_bound, finite_class_mle_coverage_rate,
                   linear_mle_coverage_rate)
from ._section6 import (distillation_coverage_rate, distillation_step_size, offset_tournament_coverage_rate,
                        tournament_coverage_rate, ttt_coverage_rate, ttt_kl_bound, ttt_kl_rate, ttt_step_size)
from ._sgd import (normalized_sgd_coverage_rate, normalized_sgd_explicit_bound, normalized_sgd_min_steps,
                   normalized_sgd_parameters,
                   sgd_coverage_lower_bound, sgd_coverage_rate, sgd_kl_bound, sgd_step_size)

__all__ = [
    "bernoulli_coverage_rate",
    "finite_class_mle_coverage_rate",
    "finite_class_mle_coverage_bound",
    "linear_mle_coverage_rate",
    "kl_lower_bound_prop_3_2",
    "high_dim_coverage_lower_bound",
    "coarse_lower_bound_prop_g1",
    "fine_lower_bound_prop_g1",
    "misspecification_lower_bound",
    "sgd_coverage_rate",
    "sgd_coverage_lower_bound",
    "sgd_step_size",
    "sgd_kl_bound",
    "normalized_sgd_coverage_rate",
    "normalized_sgd_parameters",
    "normalized_sgd_explicit_bound",
    "normalized_sgd_min_steps",
    "ttt_kl_rate",
    "ttt_coverage_rate",
    "ttt_step_size",
    "ttt_kl_bound",
    "distillation_coverage_rate",
    "distillation_step_size",
    "tournament_coverage_rate",
    "offset_tournament_coverage_rate",
]
