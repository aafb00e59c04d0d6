"""Exact/certified log-ratio law of i.i.d.-token models against enumeration."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.iid_tokens import IidTokenLaw, iid_token_log_probs, iid_token_tables
from theory.instances.sgd import iid_token_features
from theory.log_ratio import exact_log_ratio, exact_stopped_kl, markov_kl
from theory.models import AutoregressiveLinearModel, categorical_model


def _pair(seed, X=2, V=3, d=2, H=5, P=4):
    rng = np.random.default_rng(seed)
    f = iid_token_features(rng.normal(size=(X, V, d)) * 1.5, H)
    mu = rng.dirichlet(np.ones(X))
    data = AutoregressiveLinearModel(f, rng.normal(size=d), mu)
    model = AutoregressiveLinearModel(f, rng.normal(size=(P, d)), mu)
    return data, model


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), V=st.integers(2, 4), H=st.integers(1, 6))
def test_exact_law_matches_enumeration(seed, V, H):
    data, model = _pair(seed, V=V, H=H)
    table = iid_token_tables(data)
    law = IidTokenLaw(iid_token_log_probs(table, data.theta), H, data.prompt_weights, drop=0.0)
    assert law.evaluation == "exact"
    N = np.array([1.0, 1.3, 2.0, 5.0, 50.0, np.inf])
    lo, hi = law.coverage(iid_token_log_probs(table, model.theta), N)
    ref = exact_log_ratio(data, model).coverage(N)
    np.testing.assert_allclose(lo, ref, atol=1e-12)
    np.testing.assert_array_equal(lo, hi)
    np.testing.assert_allclose(law.kl(iid_token_log_probs(table, model.theta)), markov_kl(data, model),
                               rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(law.stopped_kl(iid_token_log_probs(table, model.theta), N[:-1]),
                               exact_stopped_kl(data, model, N[:-1]), rtol=1e-10, atol=1e-13)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), drop=st.sampled_from([1e-2, 1e-4, 1e-8]))
def test_certified_interval_brackets_exact(seed, drop):
    data, model = _pair(seed, H=7)
    table = iid_token_tables(data)
    law = IidTokenLaw(iid_token_log_probs(table, data.theta), 7, data.prompt_weights, drop=drop)
    assert np.all(law.dropped <= drop)
    N = np.geomspace(1.0, 1e4, 9)
    lo, hi = law.coverage(iid_token_log_probs(table, model.theta), N)
    ref = exact_log_ratio(data, model).coverage(N)
    assert np.all(lo <= ref + 1e-12) and np.all(ref <= hi + 1e-12)        # 1e-12: rounding of the reference
    assert np.all(hi - lo <= drop + 1e-12)


def test_support_size_guard():
    with pytest.raises(ValueError, match="`horizon`"):
        IidTokenLaw(np.log(np.full((1, 8), 1 / 8)), 200)


def test_zero_probability_tokens_and_markov_tables():
    # data never emits token 2; the model gives it mass: ratios only over the support
    data = categorical_model([[0.5, 0.5, 0.0]])
    lp = iid_token_tables(data)
    law = IidTokenLaw(lp, 1, drop=0.0)
    lo, _ = law.coverage(np.log([[0.25, 0.5, 0.25]]), [2.0, 2.5])
    np.testing.assert_allclose(lo, [0.5, 0.0])
    # a model missing the data's support: infinite ratio, always counted
    lo, _ = law.coverage(np.log([[1.0, 1e-300, 0.0]]) + 0.0, [1e6])
    assert lo[0] == pytest.approx(0.5)


def test_detection_rejects_history_dependent_models():
    rng = np.random.default_rng(0)
    from theory.models import TabularFeatures

    f = TabularFeatures(rng.normal(size=(1, 1, 3, 2, 1)), 4)
    with pytest.raises(ValueError, match="previous token"):
        iid_token_tables(AutoregressiveLinearModel(f, [0.1]))
    with pytest.raises(ValueError, match="`model_log_probs`"):
        IidTokenLaw(np.log([[0.5, 0.5]]), 3).coverage(np.log([[0.2, 0.3, 0.5]]), 2.0)
    with pytest.raises(ValueError, match="normalised"):
        IidTokenLaw(np.log([[0.5, 0.6]]), 3)
