r"""Constructions of Section 4 (generalization of maximum likelihood) and their exact evaluation.

Each constructor returns an :class:`~theory.instances.Instance`.  Where the paper states a
construction it is implemented as stated (constants quoted in the docstring); where the
paper (or the reference notes) leaves it open, the construction is marked **[derived]** and
the derivation is given.  Every instance here has token counts as sufficient statistics
(prompt-wise i.i.d. groups of positions), so coverage and KL are evaluated **exactly** at any
``H`` through :mod:`theory.count_law` (exact evaluators are the ``*_exact`` functions),
except Prop. K.1 whose learned model has position-specific parameters (Monte Carlo, see
:func:`prop_k1_monte_carlo_coverage`).

Token convention: binary vocabularies use tokens ``{0, 1}``; the paper's ``{-1, +1}`` is
:math:`s(y) = 2y - 1`.

One module per family, each importing only :mod:`~theory.instances.mle.common`; every name is
re-exported here, so ``theory.instances.mle.<name>`` works whatever module defines it:

* :mod:`theory.instances.mle.common` -- :func:`grouped_exact_law` and the shared helpers;
* :mod:`theory.instances.mle.finite` -- finite and convex classes;
* :mod:`theory.instances.mle.linear` -- the linear families of Theorem 4.2;
* :mod:`theory.instances.mle.lower_bounds` -- Props. 3.2, K.1 / I.1, G.1 / 4.1, G.2 / E.2.
"""

from __future__ import annotations

from .common import MAX_TABLE_BYTES, grouped_exact_law
from .finite import (finite_ladder_class, finite_ladder_exact, finite_ladder_mle_coverage, finite_rare_prompt_class,
                     mixture_convex_class)
from .linear import (linear_pivotal_family, linear_variance_family, linear_variance_kl,
                     linear_variance_model, linear_variance_monte_carlo_coverage)
from .lower_bounds import (prop_3_2_kl_lower_bound, prop_g1a, prop_g1b, prop_g2_misspecified, prop_k1_high_dim,
                           prop_k1_monte_carlo_coverage)

__all__ = [
    "finite_ladder_class",
    "finite_ladder_exact",
    "finite_ladder_mle_coverage",
    "finite_rare_prompt_class",
    "prop_3_2_kl_lower_bound",
    "linear_pivotal_family",
    "linear_variance_family",
    "linear_variance_model",
    "linear_variance_kl",
    "linear_variance_monte_carlo_coverage",
    "prop_k1_high_dim",
    "prop_k1_monte_carlo_coverage",
    "prop_g1a",
    "prop_g1b",
    "prop_g2_misspecified",
    "mixture_convex_class",
    "grouped_exact_law",
]
