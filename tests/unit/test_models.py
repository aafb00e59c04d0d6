"""Unit tests of :mod:`theory.models`: closed forms, shapes, batch semantics.

Closed forms used: with one-hot features ``phi(y_h) = e_{y_h}`` (d = V) and time-homogeneous,
prompt- and prefix-independent features, the tokens are i.i.d. ``softmax(theta)``, so

* ``log pi(y) = sum_h theta_{y_h} - H logsumexp(theta)``;
* score ``sum_h (e_{y_h} - p)``; Hessian ``-H (diag p - p p^T)``;
* ``sigma_star^2 = H E||e_y - p||^2 = H (1 - ||p||^2)``.
"""

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from theory.models import (AutoregressiveLinearModel, CallableFeatures, MarkovModel,
                           TabularFeatures, categorical_model, enumerate_sequences)


def onehot_table(X=1, V=3, homogeneous=True, H=4):
    t = np.zeros((X, 1 if homogeneous else H, V + 1, V, V))
    t[..., np.arange(V), np.arange(V)] = 1.0
    return t


def onehot_model(theta, H=4, X=1, prompt_weights=None):
    V = np.shape(theta)[-1]
    return AutoregressiveLinearModel(TabularFeatures(onehot_table(X, V), horizon=H), theta,
                                     prompt_weights=prompt_weights)


def test_doc_example_three_quarters_cubed():
    t = np.zeros((1, 1, 3, 2, 1))
    t[..., 1, 0] = 1.0
    m = AutoregressiveLinearModel(TabularFeatures(t, horizon=3), theta=[np.log(3.0)])
    seqs = enumerate_sequences(2, 3)
    k = seqs.sum(1)
    np.testing.assert_allclose(np.exp(m.log_prob(np.zeros(8, int), seqs)), 0.75 ** k * 0.25 ** (3 - k),
                               rtol=1e-13)


def test_iid_onehot_closed_forms():
    theta = np.array([0.3, -1.2, 2.0])
    H = 4
    m = onehot_model(theta, H=H)
    p = softmax(theta)
    y = np.array([[0, 2, 2, 1], [1, 1, 1, 1]])
    x = np.zeros(2, int)
    np.testing.assert_allclose(m.log_prob(x, y), theta[y].sum(1) - H * logsumexp(theta), rtol=1e-13)
    np.testing.assert_allclose(m.token_log_probs(x, y), np.log(p)[y], rtol=1e-13)
    np.testing.assert_allclose(m.next_token_log_probs(x, y), np.broadcast_to(np.log(p), (2, H, 3)), rtol=1e-13)
    np.testing.assert_allclose(m.grad_log_prob(x, y), np.eye(3)[y].sum(1) - H * p, atol=1e-13)
    np.testing.assert_allclose(m.grad_log_prob(x, y, level="token"), np.eye(3)[y] - p, atol=1e-13)
    hess = -H * (np.diag(p) - np.outer(p, p))
    np.testing.assert_allclose(m.hessian_log_prob(x, y), np.broadcast_to(hess, (2, 3, 3)), atol=1e-13)
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(m.hvp(x, y, v), np.broadcast_to(hess @ v, (2, 3)), atol=1e-13)
    np.testing.assert_allclose(m.sigma_star_sq(), H * (1 - p @ p), rtol=1e-12)
    # features.bound = max ||phi|| = 1
    assert m.features.bound == 1.0


def test_sigma_star_misspecified_closed_form():
    """data i.i.d. q, model features one-hot: sigma^2 = H (1 - ||q||^2) whatever theta is."""
    q = np.array([0.1, 0.6, 0.3])
    H = 3
    data = MarkovModel(np.broadcast_to(np.log(q), (1, 1, 4, 3)), H)
    m = onehot_model(np.array([5.0, -1.0, 0.0]), H=H)
    np.testing.assert_allclose(m.sigma_star_sq(data), H * (1 - q @ q), rtol=1e-12)
    wrapped = m.replace(features=CallableFeatures(
        lambda x, prefix, h: np.broadcast_to(np.eye(3), (len(x), 3, 3)), 1, H, 3, 3))
    np.testing.assert_allclose(wrapped.sigma_star_sq(data), H * (1 - q @ q), rtol=1e-12)


def test_batched_shapes_and_dtypes():
    rng = np.random.default_rng(0)
    P, X, H, V, d = 4, 2, 3, 3, 5
    feats = TabularFeatures(rng.normal(size=(X, H, V + 1, V, d)), horizon=H)
    m = AutoregressiveLinearModel(feats, rng.normal(size=(P, d)))
    assert m.batch_shape == (P,) and m.n_models == P
    x = rng.integers(0, X, size=(2, 3))
    y = rng.integers(0, V, size=(2, 3, H))
    assert m.log_prob(x, y).shape == (P, 2, 3)
    assert m.token_log_probs(x, y).shape == (P, 2, 3, H)
    assert m.next_token_log_probs(x, y).shape == (P, 2, 3, H, V)
    assert m.grad_log_prob(x, y).shape == (P, 2, 3, d)
    assert m.grad_log_prob(x, y, level="token").shape == (P, 2, 3, H, d)
    assert m.hessian_log_prob(x, y).shape == (P, 2, 3, d, d)
    assert m.hvp(x, y, np.ones(d)).shape == (P, 2, 3, d)
    assert m.log_likelihood(x, y).shape == (P,)
    xs, ys = m.sample(7, rng=rng)
    assert xs.shape == (P, 7) and ys.shape == (P, 7, H) and ys.dtype == np.uint8
    assert m.enumerate_log_probs().shape == (P, X, V ** H)
    xe, ye, lw = m.enumerate_support()
    assert xe.shape == (X * V ** H,) and ye.shape == (X * V ** H, H) and lw.shape == (P, X * V ** H)
    # paired: leading axis = model axis
    xp = rng.integers(0, X, size=(P, 5))
    yp = rng.integers(0, V, size=(P, 5, H))
    assert m.log_prob(xp, yp, paired=True).shape == (P, 5)
    assert m.grad_log_prob(xp, yp, paired=True, level="token").shape == (P, 5, H, d)
    # unbatched member
    assert m[1].batch_shape == () and m[1].log_prob(x, y).shape == (2, 3)
    np.testing.assert_allclose(m[1].log_prob(x, y), m.log_prob(x, y)[1], atol=1e-13)
    mm = m.as_markov()
    assert isinstance(mm, MarkovModel) and mm.batch_shape == (P,)
    assert mm[2].batch_shape == ()


def test_unbatched_indexing_and_non_tabular_markov_are_errors():
    m = onehot_model(np.zeros(2))
    with pytest.raises(TypeError):
        m[0]
    with pytest.raises(TypeError):
        categorical_model([0.5, 0.5])[0]
    c = m.replace(features=CallableFeatures(lambda x, p, h: np.zeros((len(x), 2, 2)), 1, 4, 2, 2))
    with pytest.raises(TypeError, match="TabularFeatures"):
        c.as_markov()
    with pytest.raises(ValueError, match="`data`"):
        onehot_model(np.zeros((2, 2))).sigma_star_sq()


def test_replace_changes_only_the_given_field():
    m = onehot_model(np.array([0.0, 1.0]), H=2)
    m2 = m.replace(theta=np.array([1.0, 0.0]))
    assert m2.features is m.features
    np.testing.assert_array_equal(m.theta, [0.0, 1.0])
    np.testing.assert_allclose(m2.log_prob([0], [[0, 0]]), 2 * (1 - np.log1p(np.e)), rtol=1e-13)


def test_theta_and_tables_are_read_only():
    m = onehot_model(np.array([0.0, 1.0]))
    with pytest.raises(ValueError):
        m.theta[0] = 3.0
    with pytest.raises(ValueError):
        m.features.table[0, 0, 0, 0, 0] = 1.0
    with pytest.raises(ValueError):
        categorical_model([0.5, 0.5]).log_probs[..., 0] = 0.0


def test_enumerate_sequences_order_and_dtype():
    s = enumerate_sequences(3, 2)
    assert s.dtype == np.uint8
    np.testing.assert_array_equal(s, [[a, b] for a in range(3) for b in range(3)])
    assert enumerate_sequences(300, 1).dtype == np.int64
    with pytest.raises(ValueError, match="`max_sequences`"):
        enumerate_sequences(2, 10, max_sequences=1000)


def test_categorical_model_prompts_and_weights():
    m = categorical_model([[0.5, 0.5], [0.1, 0.9]], prompt_weights=[0.2, 0.8])
    assert m.n_prompts == 2 and m.horizon == 1 and m.vocab_size == 2
    np.testing.assert_allclose(np.exp(m.enumerate_log_probs()), [[0.5, 0.5], [0.1, 0.9]], rtol=1e-14)
    x, y, lw = m.enumerate_support()
    np.testing.assert_array_equal(x, [0, 0, 1, 1])
    np.testing.assert_allclose(np.exp(lw), [0.1, 0.1, 0.08, 0.72], rtol=1e-13)
    batch = categorical_model(np.array([[[0.5, 0.5]], [[0.2, 0.8]]]))
    assert batch.batch_shape == (2,) and batch.n_prompts == 1


def test_state_marginals_two_state_chain_by_hand():
    # start Ber(0.3); after 0 -> Ber(0.2); after 1 -> Ber(0.9).  P[y_1 = 1] = 0.7*0.2 + 0.3*0.9 = 0.41.
    t = np.log(np.array([[[[0.8, 0.2], [0.1, 0.9], [0.7, 0.3]]]]))
    m = MarkovModel(t, 3)
    marg = m.state_marginals()
    assert marg.shape == (3, 1, 3)
    np.testing.assert_allclose(marg[0, 0], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(marg[1, 0], [0.7, 0.3, 0.0], rtol=1e-14)
    np.testing.assert_allclose(marg[2, 0], [0.59, 0.41, 0.0], rtol=1e-14)
    # expected number of ones: 0.3 + 0.41 + P[y_2 = 1] = 0.59*0.2 + 0.41*0.9
    g = np.zeros((1, 3, 3))
    g[..., :] = np.exp(t[0, 0, :, 1])                      # g(prev) = P[next = 1 | prev]
    np.testing.assert_allclose(m.expected_token_sum(g), [0.3, 0.41, 0.59 * 0.2 + 0.41 * 0.9], rtol=1e-13)


def test_token_counts_by_hand():
    m = categorical_model([0.5, 0.5])
    counts = m.token_counts([0, 0, 0], [[1], [1], [0]])
    assert counts.shape == (1, 1, 3, 2)
    np.testing.assert_array_equal(counts[0, 0, 2], [1, 2])
    assert counts.sum() == 3
    np.testing.assert_allclose(m.log_likelihood([0, 0, 0], [[1], [1], [0]]), 3 * np.log(0.5))


def test_sampling_with_fixed_prompts_and_reproducibility():
    rng_feats = np.random.default_rng(3)
    feats = TabularFeatures(rng_feats.normal(size=(3, 2, 3, 2, 2)), horizon=2)
    m = AutoregressiveLinearModel(feats, np.array([[0.5, -0.5], [1.0, 2.0]]))
    x = np.array([2, 0, 1, 1])
    xs, ys = m.sample(4, rng=np.random.default_rng(11), x=x)
    np.testing.assert_array_equal(xs, np.stack([x, x]))
    xs2, ys2 = m.sample(4, rng=np.random.default_rng(11), x=x)
    np.testing.assert_array_equal(ys, ys2)
    x0, y0 = m.sample(0, rng=np.random.default_rng(0))
    assert x0.shape == (2, 0) and y0.shape == (2, 0, 2)
    # deterministic next tokens are always sampled
    t = np.full((1, 1, 3, 2, 1), 0.0)
    t[..., 1, 0] = 1.0
    sure = AutoregressiveLinearModel(TabularFeatures(t, horizon=5), [1e4])
    _, y = sure.sample(20, rng=np.random.default_rng(0))
    assert np.all(y == 1)


def test_callable_sampler_respects_zero_probability_tokens():
    # phi(v) = -1e4 on token 0 when the prefix is empty: the first token is never 0
    def fn(x, prefix, h):
        out = np.zeros((len(x), 3, 1))
        if h == 0:
            out[:, 0, 0] = -1e4
        return out
    m = AutoregressiveLinearModel(CallableFeatures(fn, 1, 2, 3, 1), [1.0])
    _, y = m.sample(2000, rng=np.random.default_rng(5))
    assert not np.any(y[:, 0] == 0)
    assert set(np.unique(y[:, 1])) == {0, 1, 2}
