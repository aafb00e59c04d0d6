"""Edge cases, domains and argument validation of :mod:`theory.bounds`."""

import numpy as np
import pytest

from theory import bounds as B
from theory.instances import witnesses as W


def test_vectorised_over_thresholds_and_domains():
    N = np.array([[1.0, 2.0], [np.e, np.inf]])
    assert B.kl_to_coverage(0.3, N).shape == (2, 2)
    assert np.isinf(B.kl_to_coverage(0.3, N)[:, 0]).all()          # N <= e: vacuous
    assert B.kl_to_coverage(0.3, np.inf) == 0.0
    assert np.isinf(B.kl_to_coverage_sharp(0.3, 1.0))
    assert B.kl_to_coverage_sharp(np.inf, 4.0) == np.inf
    assert B.hellinger_to_coverage(0.1, np.inf) == pytest.approx(0.2)
    assert np.isinf(B.hellinger_to_coverage(0.1, 1.0))
    assert np.isinf(B.stopped_kl_to_coverage(0.1, 2.0))
    np.testing.assert_allclose(B.kl_to_coverage_sharp([0.1, 0.2], 4.0),
                               np.array([0.1, 0.2]) / (np.log(4) - 0.75))


def test_sharp_bound_accurate_near_one():
    N = 1 + 1e-9
    # log N - 1 + 1/N = (N-1)^2/2 + O((N-1)^3) without cancellation
    assert B.kl_to_coverage_sharp(1e-18, N) == pytest.approx(1e-18 / (0.5e-18), rel=1e-6)


def test_coverage_decay_edge_cases():
    assert B.coverage_decay_to_kl(0.0, 3.0) == 0.0
    assert B.coverage_decay_to_kl(0.5, np.inf) == np.inf
    with pytest.raises(ValueError, match="decay_constant"):
        B.coverage_decay_to_kl(2.0, 1.0)
    C, L = B.uniform_coverage_decay([np.inf, 0.0], weights=[0.5, 0.5])
    assert C == np.inf and L == np.inf
    assert B.uniform_coverage_decay([-1.0, 0.0], weights=[0.5, 0.5])[0] == 0.0


@pytest.mark.parametrize("call, arg", [
    (lambda: B.kl_to_coverage(-0.1, 4.0), "kl"),
    (lambda: B.kl_to_coverage(0.1, 0.5), "N"),
    (lambda: B.hellinger_to_coverage(1.5, 4.0), "hellinger_sq"),
    (lambda: B.coverage_chain_rule(0.1, 0.1, 0.0), "M2"),
    (lambda: B.coverage_chain_rule(1.1, 0.1, 2.0), "cov_data_vs_model"),
    (lambda: B.hellinger_partial_converse([1.0], 2.0, 1.0), "delta"),
    (lambda: B.hellinger_partial_converse([-1.0], 2.0, 0.5), "hellinger_sums"),
    (lambda: B.markov_lp_coverage_bound(0.0, 2.0, 0.0), "exponent"),
    (lambda: B.finite_class_mle_hellinger_bound(0, 2, 0.1), "n"),
    (lambda: B.finite_class_mle_hellinger_bound(10, 2, 1.0), "delta"),
    (lambda: W.kl_tightness_instance(0.6, 4.0), "p"),
    (lambda: W.kl_tightness_instance(0.3, 1.5), "N"),
    (lambda: W.bernoulli_witness(0.3, 1.0), "N"),
    (lambda: W.chain_rule_witness(2.0, 4.0, 0.5, 0.1), "M1"),
    (lambda: W.coverage_decay_witness(0.5, 0.4, 10), "log_w_max"),
    (lambda: W.lemma_j1_witness(2.0), "C"),
])
def test_validation_names_the_argument(call, arg):
    with pytest.raises((ValueError, TypeError), match=arg):
        call()


def test_type_errors():
    with pytest.raises(TypeError):
        B.kl_to_coverage("a", 2.0)
    with pytest.raises(TypeError):
        W.coverage_decay_witness(0.5, 2.0, 3.5)


def test_witness_records_serialise():
    w = W.coverage_decay_witness(0.5, 2.0, 4)
    d = w.to_dict()
    assert d["name"] == "F.3" and d["log_p_data"][-1] is None     # -inf as None
    assert not w.log_p_data.flags.writeable
    bw = W.bernoulli_witness([1e-3, 1e-2], 4.0)
    assert bw.kl.shape == (2,) and bw.to_dict()["coverage"] == [1e-3, 1e-2]
