r"""Maximum likelihood over finite classes, convex parameter sets and mixture classes.

Three estimators of Section 4 of arXiv 2510.15020, all **vectorised over replicates**
(a leading replicate axis ``R`` on the data; no Python loop over replicates or samples):

* :func:`finite_class_mle` -- :math:`\hat\pi = \arg\max_{\pi\in\Pi}\hat L_n(\pi)` over a
  finite class given as a *batched* :class:`~theory.models.MarkovModel` or tabular
  :class:`~theory.models.AutoregressiveLinearModel` (Theorem 4.1, Corollary 4.1).  The
  log-likelihood of every replicate's data under every member is one GEMM between the
  replicates' sufficient statistics (transition counts) and the members' log-probability
  tables.  Ties are broken by a documented rule (``tie_break``).
* :func:`convex_mle` -- the MLE of a tabular autoregressive linear model over
  :math:`\Theta = \{\|\theta\|_2\le R\}` or a box (Theorem 4.2, Props 3.2, G.1(a), K.1), by a
  batched projected-Newton method (the local quadratic model is maximised over the constraint
  set -- exactly for the ball, in the Hessian's eigenbasis; for the box by the active-set projected
  Newton point, with accelerated projected gradient on the model as fallback -- then Armijo
  backtracking) run until the first-order optimality residual is
  below ``tol``.
* :func:`mixture_mle` -- the MLE over the convex hull of fixed components (a class with
  :math:`\theta\mapsto\pi_\theta(y|x)` concave, Assumption G.1 / Theorem G.1), by EM, with the
  KKT conditions on the simplex checked.

Every solver reports its optimality residual, so a claim can state to which tolerance its
"MLE" is an MLE.

Modules: :mod:`~simulations.learners.mle.data` (replicate samples and counts),
:mod:`~simulations.learners.mle.finite`, :mod:`~simulations.learners.mle.convex`,
:mod:`~simulations.learners.mle.mixture` (one estimator family each).
"""

from simulations.learners.mle.convex import (ConvexMLEResult, convex_mle, sample_group_counts,
                                             separable_ball_mle)
from simulations.learners.mle.data import as_markov_model, replicate_token_counts, sample_replicates
from simulations.learners.mle.finite import (TIE_BREAKS, FiniteMLEResult,
                                             finite_class_log_likelihood, finite_class_mle)
from simulations.learners.mle.mixture import MixtureMLEResult, mixture_mle

#: Former private name of :func:`~simulations.learners.mle.data.as_markov_model`, kept for
#: callers not yet moved to the public name.

__all__ = [
    "TIE_BREAKS",
    "FiniteMLEResult",
    "ConvexMLEResult",
    "MixtureMLEResult",
    "sample_replicates",
    "replicate_token_counts",
    "finite_class_log_likelihood",
    "finite_class_mle",
    "convex_mle",
    "separable_ball_mle",
    "sample_group_counts",
    "mixture_mle",
]
