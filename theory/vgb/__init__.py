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

from . import automaton, baselines, constants, mixing, walk
from .automaton import *  # noqa: F401,F403  (each submodule's __all__ is the list of record)
from .walk import *  # noqa: F401,F403
from .mixing import *  # noqa: F401,F403
from .constants import *  # noqa: F401,F403
from .baselines import *  # noqa: F401,F403

__all__ = [*automaton.__all__, *walk.__all__, *mixing.__all__, *constants.__all__, *baselines.__all__]
