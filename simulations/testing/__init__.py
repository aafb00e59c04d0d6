"""Support for property tests, in your suite or ours (the role of :mod:`numpy.testing`).

:mod:`~simulations.testing.strategies` holds the public ``hypothesis`` strategies of random
instances and learner settings; :mod:`~simulations.testing.instance_runs` runs the paper's
learners on those instances and returns exact per-replicate quantities.  Both build on
:mod:`simulations.random_instances` (plain numpy, also usable without hypothesis).  They live
in a folder of their own because nothing else in :mod:`simulations` depends on them: they sit
above the learners and beside the experiments, and only tests import them.
Import the modules themselves (``from simulations.testing.strategies import linear_models``);
this ``__init__`` imports nothing, so ``hypothesis`` stays optional.
"""

__all__ = []
