r"""Exact analysis of value-guided backtracking (VGB) and its baselines on prefix trees.

VGB (arXiv 2510.03149, Algorithm 1) is a lazy random walk on the tree of prefixes of a
response, reversible with a stationary law whose restriction to the leaves is the target
:math:`\pi^\star \propto \pi_{\rm ref}\tau` for any value estimate :math:`\hat V`.  Everything
in this package is deterministic and exact.  One module per topic, imports pointing one way
(each module imports only those listed before it, and :mod:`theory.vgb.constants` imports none):

======================================  ==========================================================
module                                  what it holds
======================================  ==========================================================
:mod:`theory.vgb.automaton`             :class:`TreeAutomaton`, :func:`optimal_values` and the
                                        value errors, :func:`expand_tree` / :class:`PrefixTree`
:mod:`theory.vgb.walk`                  transition matrix, stationary law, target law, distances,
                                        the first-leaf law of the walk
:mod:`theory.vgb.mixing`                exact fixed-``T`` output law, mixing and relaxation times
:mod:`theory.vgb.constants`             constants of Theorems 4.1 and 4.2, closed forms of
                                        Examples 3.1 and 3.2
:mod:`theory.vgb.baselines`             exact laws of ActionLevelRS, Best-of-N, block samplers;
                                        the coverage tail of Theorem 4.2
======================================  ==========================================================

Every public name is re-exported here, so ``theory.vgb.<name>`` works whatever module
defines it.

Numbering: the VGB paper's statements are cited as in arXiv 2510.03149 v1 (the ICLR 2026
version uses the same numbers as far as our sources show; see
``../shared/reference/vgb-and-sampling.md``).
"""

from __future__ import annotations

from .automaton import (MAX_TREE_NODES, PrefixTree, TreeAutomaton, average_case_error, expand_tree,
                        optimal_values, prefix_state_mass, target_state_marginals, uniform_error)
from .walk import (edge_log_weights, exact_value_walk_length_law, first_leaf_law, kl_probs, leaf_mass,
                   stationarity_residual, stationary_from_transitions, stationary_law, target_leaf_law,
                   total_variation_probs, transition_matrix)
from .mixing import CurveResult, MixingResult, leaf_conditional_curves, mixing_times, relaxation_time
from .constants import (example_3_1_action_level_coverage_tail, example_3_1_action_level_tv,
                        example_3_2_action_level_regret, stationary_leaf_mass_bound,
                        theorem_4_1_leaf_probability_bound, theorem_4_1_steps_shape,
                        theorem_4_2_threshold)
from .baselines import action_level_law, best_of_n_law, block_sampler_law, coverage_tail

__all__ = [
    "TreeAutomaton",
    "PrefixTree",
    "optimal_values",
    "prefix_state_mass",
    "target_state_marginals",
    "uniform_error",
    "average_case_error",
    "expand_tree",
    "edge_log_weights",
    "transition_matrix",
    "stationary_law",
    "stationary_from_transitions",
    "stationarity_residual",
    "target_leaf_law",
    "leaf_mass",
    "leaf_conditional_curves",
    "CurveResult",
    "mixing_times",
    "MixingResult",
    "relaxation_time",
    "first_leaf_law",
    "exact_value_walk_length_law",
    "action_level_law",
    "best_of_n_law",
    "block_sampler_law",
    "total_variation_probs",
    "kl_probs",
    "coverage_tail",
    "theorem_4_1_leaf_probability_bound",
    "stationary_leaf_mass_bound",
    "theorem_4_1_steps_shape",
    "theorem_4_2_threshold",
    "example_3_1_action_level_tv",
    "example_3_2_action_level_regret",
    "example_3_1_action_level_coverage_tail",
]
