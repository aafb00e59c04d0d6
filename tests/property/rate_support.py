"""Shared machinery of the rate properties (``tests/property/test_rates_*.py``, marker ``rates``).

Error rates.  Every statistical check of a rate property rejects a true statement with
probability at most :data:`ALPHA_PER_EXAMPLE` per hypothesis example (Bonferroni inside an
example when it makes several checks), so a property run of ``E`` examples has false-fail
probability at most ``E * ALPHA_PER_EXAMPLE`` (:func:`total_false_fail`): ``EXAMPLES`` is
10 in the ``dev`` and ``ci`` profiles (``ci`` is derandomized: the same examples every run)
and one tenth of the profile's ``max_examples`` in ``thorough`` (200).  Exact checks
(deterministic inequalities on exactly evaluated quantities) have false-fail probability 0.

Negative controls.  :func:`fails_somewhere` runs a check under ``@given`` with the
property's strategies and a *wrong* prediction or learner, and asserts that hypothesis
finds an example on which it fails (the property "then fails on the drawn instances").  A
failure of a wrong statement found by a check at level ``alpha`` is significant at that
level.  Shrinking is off there: the first failing example is enough.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings

#: False-fail probability of one example of a statistical rate property.
ALPHA_PER_EXAMPLE = 1e-5

#: Examples per rate property: 10 in ``dev``/``ci``, ``max_examples // 10`` in ``thorough``.
EXAMPLES = 10 if settings.default.max_examples <= 100 else settings.default.max_examples // 10

#: Settings of every rate property (the profile's ``derandomize``/database are inherited).
RATE_SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.filter_too_much])


def total_false_fail():
    """Bonferroni bound on a statistical rate property's false-fail probability in this profile."""
    return EXAMPLES * ALPHA_PER_EXAMPLE


class WrongPredictionRejected(AssertionError):
    """Raised by a check when it rejects the (wrong) prediction it was given."""


def fails_somewhere(check, **strategies):
    """Assert that ``check(**drawn)`` raises :class:`AssertionError` on some drawn example.

    ``check`` is the property's check run with a wrong prediction or a wrong learner; it
    must raise ``AssertionError`` when the prediction is rejected.  Up to :data:`EXAMPLES`
    (x 3, so that a control is never weaker than its property) examples are drawn.
    """
    outcome = {"failed": None}

    @settings(parent=RATE_SETTINGS, max_examples=3 * EXAMPLES, phases=[Phase.explicit, Phase.generate],
              database=None)
    @given(**strategies)
    def control(**drawn):
        check(**drawn)

    try:
        control()
    except AssertionError as exc:
        outcome["failed"] = exc
    if outcome["failed"] is None:
        pytest.fail(f"negative control: the wrong prediction was not rejected on any of {3 * EXAMPLES} drawn "
                    f"examples ({getattr(check, '__name__', check)}).")
    return outcome["failed"]


def rng_for(*keys):
    """A generator seeded from hypothesis-drawn integers (training data of one example)."""
    return np.random.default_rng([int(k) for k in keys])
