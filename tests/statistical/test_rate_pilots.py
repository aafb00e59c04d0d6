"""The pilot fits of the rate properties' constants (slow): the stored constants are reproducible.

Theorems 4.2 and 5.1 are stated up to absolute constants.  The rate properties
(``tests/property/test_rates_mle.py``, ``tests/property/test_rates_optimizers.py``) hold one
constant per theorem fixed, fitted once as twice the largest measured/rate ratio on a pilot
family drawn by numpy with a fixed seed; these tests refit it and compare with the stored value.
"""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "property"))

import test_rates_mle as mle_props          # noqa: E402
import test_rates_optimizers as opt_props   # noqa: E402


@pytest.mark.slow
def test_linear_mle_pilot_constant():
    """C_MLE (Theorem 4.2) is 2 x the largest coverage/rate ratio of the MLE on its pilot family."""
    c, _ = mle_props.pilot_mle_constant()
    assert mle_props.C_MLE == pytest.approx(c, rel=1e-6)


@pytest.mark.slow
def test_nsgd_pilot_constant():
    """C_NSGD (Theorem 5.1) is 2 x the largest coverage/rate ratio of normalized SGD on its pilot family."""
    c, _ = opt_props.pilot_nsgd_constant()
    assert opt_props.C_NSGD == pytest.approx(c, rel=1e-6)
