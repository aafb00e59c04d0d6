"""Shared test configuration: hypothesis profiles and a per-test deterministic ``rng``.

Hypothesis profiles (select with ``HYPOTHESIS_PROFILE=...`` or ``--hypothesis-profile``):

``dev``
    Local default: 30 examples, no deadline.
``ci``
    Inherits hypothesis' built-in CI profile (``derandomize=True``, no database, no
    deadline) with 50 examples; loaded automatically when the ``CI`` variable is set.
``thorough``
    2000 examples, no deadline, for occasional deep runs.

Markers (declared in ``pyproject.toml``): ``slow`` (excluded from CI by ``-m "not slow"``),
``statistical`` and ``benchmark``.
"""

import os
import zlib

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("ci", settings.get_profile("ci"), max_examples=50)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def rng(request):
    """A generator seeded from the test's node id: deterministic per test, distinct across tests."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
