"""The tournament classes of :mod:`theory.instances.tournament`: the properties their docstrings state.

Exact evaluation throughout (enumerated categorical supports).
"""

from __future__ import annotations

import numpy as np
import pytest

from theory.coverage import coverage_profile
from theory.instances.tournament import missing_mass_class, offset_trap_class, perturbed_class


def _coverage(log_p, log_probs, M):
    return np.array([float(coverage_profile(log_p - row, M, weights=np.exp(log_p))) for row in log_probs])


@pytest.mark.parametrize("J, N, a", [(1, 1.0, 0.0), (5, 16.0, 0.25), (24, 1e6, 0.5), (40, 4.0, 1.0)])
def test_missing_mass_class_coverage_of_model_j_is_its_atom(J, N, a):
    """Cov_{N^(1+a)}(pi_j) = eps_j exactly (j >= 1), Cov_{N^a}(pi_0) = 0 when N^a > 1, rows normalised."""
    log_p, lp = missing_mass_class(J, N=N, a=a)
    assert lp.shape == (J + 1, J + 1) and not lp.flags.writeable
    np.testing.assert_allclose(np.logaddexp.reduce(lp, axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(_coverage(log_p, lp[1:], N ** (1 + a)), np.exp(log_p[1:]), rtol=1e-12)
    assert _coverage(log_p, lp[:1], N ** a)[0] == (0.0 if N ** a > 1 else 1.0)


@pytest.mark.parametrize("T, N, a", [(1, 64.0, 0.25), (12, 64.0, 0.25), (30, 1e3, 0.1)])
def test_offset_trap_class_meets_the_offset_hypothesis(T, N, a):
    """The good candidate is within a log N of pi_D everywhere; the rival over-covers Z by > N;
    each trap misses its own atom by more than 2N^(1+a)."""
    log_p, lp = offset_trap_class(T, N=N, a=a, rng=np.random.default_rng(3))
    assert lp.shape == (T + 2, T + 6)
    np.testing.assert_allclose(np.logaddexp.reduce(lp, axis=1), 0.0, atol=1e-12)
    assert np.abs(log_p - lp[0]).max() <= a * np.log(N)
    assert lp[1, 1] - log_p[1] > np.log(N)
    traps = lp[2:]
    miss = log_p[2 + np.arange(T)] - traps[np.arange(T), 2 + np.arange(T)]
    assert (miss >= np.log(2 * N ** (1 + a))).all()


def test_offset_trap_class_rng_is_the_only_randomness():
    a = offset_trap_class(12, N=64.0, a=0.25, rng=7)
    b = offset_trap_class(12, N=64.0, a=0.25, rng=np.random.default_rng(7))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_perturbed_class_is_normalised_read_only_and_seeded():
    log_p, lp = perturbed_class(6, 20, rng=3)
    assert lp.shape == (6, 20) and not lp.flags.writeable and not log_p.flags.writeable
    assert np.allclose(np.logaddexp.reduce(lp, axis=1), 0.0) and np.isclose(np.logaddexp.reduce(log_p), 0.0)
    again = perturbed_class(6, 20, rng=np.random.default_rng(3))
    assert np.array_equal(lp, again[1]) and not np.array_equal(lp, perturbed_class(6, 20, rng=4)[1])


@pytest.mark.parametrize("call, name", [
    (lambda: missing_mass_class(0, N=4.0, a=0.5), "n_atoms"),
    (lambda: missing_mass_class(10 ** 18, N=4.0, a=0.5), "n_atoms"),
    (lambda: missing_mass_class(60, N=4.0, a=0.5), "n_atoms"),
    (lambda: missing_mass_class(3, N=0.5, a=0.5), "N"),
    (lambda: missing_mass_class(3, N=1e300, a=0.5), "N"),
    (lambda: missing_mass_class(3, N=4.0, a=1.5), "a"),
    (lambda: offset_trap_class(2.0, N=64.0, a=0.25), "n_traps"),
    (lambda: offset_trap_class(10 ** 18, N=64.0, a=0.25), "n_traps"),
    (lambda: offset_trap_class(10 ** 6, N=1e250, a=0.0), "n_traps"),
    (lambda: offset_trap_class(12, N=1.0, a=0.25), "n_traps"),
    (lambda: offset_trap_class(12, N=64.0, a=np.nan), "a"),
    (lambda: offset_trap_class(12, N=64.0, a=0.25, rng=1.5), "rng"),
    (lambda: perturbed_class(0, 5), "n_models"),
    (lambda: perturbed_class(3, 1), "support"),
    (lambda: perturbed_class(10 ** 9, 10 ** 9), "n_models"),
    (lambda: perturbed_class(3, 5, rng="seed"), "rng"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
        call()
