"""Explicit constants of the SGD statements in theory.rates, against the formulas by hand."""

import numpy as np
import pytest

from theory.rates import distillation_step_size, normalized_sgd_explicit_bound, sgd_kl_bound


def test_sgd_kl_bound_by_hand():
    assert sgd_kl_bound(T=1000, eta=0.01, sigma_sq=3.0) == pytest.approx(4 / (0.01 * 1000) + 2 * 0.01 * 3.0)
    np.testing.assert_allclose(sgd_kl_bound(T=[10, 100], eta=0.5, sigma_sq=0.0), [0.8, 0.08])
    with pytest.raises(ValueError, match="eta"):
        sgd_kl_bound(T=10, eta=0.0, sigma_sq=1.0)


def test_normalized_sgd_explicit_bound_by_hand():
    T, K, N, s2, B, eta = 1e5, 256, 8.0, 2.0, 24.0, 1 / 3072
    M = np.log(N)
    inner = 240 * B / K + 2304 * eta ** 2 * s2 + M / (T * eta ** 2) + 4 * eta * np.sqrt(s2) / np.sqrt(K)
    assert normalized_sgd_explicit_bound(T, N=N, sigma_sq=s2, B=B, K=K, eta=eta) == pytest.approx(4 / (M - 1) * inner)
    with pytest.raises(ValueError, match="exceed e"):
        normalized_sgd_explicit_bound(T, N=2.0, sigma_sq=s2, B=B, K=K, eta=eta)


def test_distillation_step_size_proof_branch():
    A = np.log(8.0)
    stated = distillation_step_size(1e9, N=8.0, sigma_sq=1e-9, B=10.0)
    proof = distillation_step_size(1e9, N=8.0, sigma_sq=1e-9, B=10.0, proof=True)
    assert stated == pytest.approx(1 / ((64 * A + 2) * 100))
    assert proof == pytest.approx(1 / (256 * A * 100))
    # at the stated step, 128 eta A B^2 (the coefficient the proof must absorb) is about 2, not <= 1/2
    assert 128 * stated * A * 100 == pytest.approx(128 * A / (64 * A + 2))
    assert 128 * proof * A * 100 == pytest.approx(0.5)


def test_normalized_sgd_min_steps_inverts_the_bound():
    from theory.rates._sgd import normalized_sgd_min_steps

    for target, N, s2, B, K in [(0.3, 128.0, 1.0, 1.0, 8192), (0.9, 150.0, 3.0, 2.0, 4096)]:
        T = float(normalized_sgd_min_steps(target, N=N, sigma_sq=s2, B=B, K=K))
        assert normalized_sgd_explicit_bound(T, N=N, sigma_sq=s2, B=B, K=K, eta=1 / (128 * B)) == pytest.approx(target)
        assert normalized_sgd_explicit_bound(0.9 * T, N=N, sigma_sq=s2, B=B, K=K, eta=1 / (128 * B)) > target
    # Lemma K.7's scale B = 24 at K = 256: the bias floor 4/(log 8 - 1) * 240 * 24/256 = 81 > any target
    assert np.isinf(normalized_sgd_min_steps(0.5, N=8.0, sigma_sq=1.0, B=24.0, K=256))
    with pytest.raises(ValueError, match="target"):
        normalized_sgd_min_steps(0.0, N=8.0, sigma_sq=1.0, B=1.0, K=256)
