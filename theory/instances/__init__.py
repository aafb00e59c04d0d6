"""Every construction of the paper, by name.

Each submodule of this package holds the constructions of one part of the paper (e.g.
:mod:`theory.instances.bernoulli`) and lists them in its ``__all__``.  The modules whose
constructors return a frozen :class:`Instance` (data distribution, model class and the
parameters of the construction) are re-exported here, so ``theory.instances.bernoulli_case_study()``
works whatever module defines it: :mod:`~theory.instances.bernoulli`,
:mod:`~theory.instances.graph_paths`, :mod:`~theory.instances.mle` and
:mod:`~theory.instances.sgd`.

The other modules return other objects and are imported by their own path:

* :mod:`theory.instances.witnesses` -- the witnesses of the inequalities of
  :mod:`theory.bounds` (log-probability records; ``bernoulli_witness`` there is not the
  :class:`Instance` of the same name here);
* :mod:`theory.instances.vgb_trees` -- the trees of the VGB paper's examples and the synthetic
  trees of its experiments, as :class:`theory.vgb.TreeAutomaton`;
* :mod:`theory.instances.dyck` -- the Dyck-language reference model of the VGB Dyck
  experiment, an automaton with exact likelihoods.
* :mod:`theory.instances.tournament` -- the finite categorical classes on which the
  tournament guarantees are sharp (log-probability arrays).
"""

from __future__ import annotations

from . import bernoulli, graph_paths, mle, sgd
from ._base import Instance

__all__ = ["Instance"]

for _module in (bernoulli, graph_paths, mle, sgd):
    for _name in _module.__all__:
        if _name in globals() and globals()[_name] is not getattr(_module, _name):
            raise ImportError(f"instance name {_name!r} is defined twice (in {_module.__name__})")
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)
del _module, _name
