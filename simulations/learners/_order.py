"""Telling the former ``(model, data)`` argument order from the new ``(data, model)`` one.

The learners now take the reference distribution :math:`\\pi_D` first, as in
:math:`D_{KL}(\\pi_D\\|\\hat\\pi)`; for one release :func:`theory.deprecation.reordered` accepts
the former order where the argument types tell it apart, with these predicates.
"""

from __future__ import annotations

from theory.models import AutoregressiveLinearModel, MarkovModel, TabularFeatures


def _can_be_trained(obj):
    """Only an unbatched-or-batched linear model with tabular features can be the trained model."""
    return isinstance(obj, AutoregressiveLinearModel) and isinstance(obj.features, TabularFeatures)


def _can_be_data(obj):
    """``pi_D`` is a single (unbatched) Markov or linear model."""
    return isinstance(obj, (AutoregressiveLinearModel, MarkovModel)) and obj.n_models == 1


def model_data_order(first, second):
    """``True`` if ``(first, second)`` reads as ``(model, data)`` only, ``False`` if as ``(data, model)`` only, else ``None``."""
    old = _can_be_trained(first) and _can_be_data(second)
    new = _can_be_data(first) and _can_be_trained(second)
    if old and new:
        return None if first is not second else False
    return old


def model_sampler_order(first, second):
    """``True`` if ``(first, second)`` is ``(model, sampler)``: a model (not callable) and then a callable."""
    return isinstance(first, AutoregressiveLinearModel) and callable(second) and not callable(first)
