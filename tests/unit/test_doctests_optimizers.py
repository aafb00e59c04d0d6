"""The doctest examples of the optimizer / SGD modules run and are correct."""

import doctest
import importlib

import pytest

MODULES = ["theory.iid_tokens", "theory.instances.sgd", "simulations.learners.optimizers",
           "simulations.learners.training", "simulations.learners.ttt",
           "simulations.learners.distillation"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
