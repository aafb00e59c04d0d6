"""One-pass training: vectorised scores and loops against straightforward per-sample loops."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import log_softmax

from simulations.learners.optimizers import adam, chain, normalized_sgd, project_l2_ball, projected, sgd
from simulations.learners.training import (DataStream, ScoreEngine, count_scores, sequence_scores,
                                           train_one_pass)
from theory.instances import lemma_k7
from theory.models import AutoregressiveLinearModel, MarkovModel, TabularFeatures


def _random_model(seed, *, X=2, H=5, V=3, d=2, positional=False, iid=False, R=None):
    rng = np.random.default_rng(seed)
    hd = H if positional else 1
    if iid:
        t = np.broadcast_to(rng.normal(size=(X, 1, 1, V, d)), (X, 1, V + 1, V, d)).copy()
    else:
        t = rng.normal(size=(X, hd, V + 1, V, d))
    f = TabularFeatures(t, H)
    theta = rng.normal(size=(R, d) if R else (d,)) * 0.5
    return AutoregressiveLinearModel(f, theta, rng.dirichlet(np.ones(X)))


class Recorder:
    """A stream that records its draws (so a reference loop can replay them)."""

    def __init__(self, data, kind):
        self.inner = DataStream(data, kind)
        self.kind = self.inner.kind
        self.draws = []

    def draw(self, shape, rngs):
        out = self.inner.draw(shape, rngs)
        self.draws.append(out)
        return out


@pytest.mark.parametrize("positional", [False, True])
@pytest.mark.parametrize("method", ["counts", "tokens"])
def test_sequence_scores_match_model_gradients(positional, method):
    m = _random_model(1, positional=positional, R=4)
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2, size=(4, 3))
    y = rng.integers(0, 3, size=(4, 3, 5))
    ref = m.grad_log_prob(x, y, paired=True).mean(axis=1)
    np.testing.assert_allclose(sequence_scores(m.features, m.theta, x, y, method=method), ref,
                               rtol=1e-12, atol=1e-12)
    w = rng.uniform(0, 1, size=y.shape)
    ref_w = (m.grad_log_prob(x, y, paired=True, level="token") * w[..., None]).sum(-2).mean(1)
    np.testing.assert_allclose(sequence_scores(m.features, m.theta, x, y, token_weights=w, method=method),
                               ref_w, rtol=1e-12, atol=1e-12)


def test_count_scores_match_sequences_with_those_counts():
    m = _random_model(3, iid=True, R=3, H=6)
    rng = np.random.default_rng(4)
    x = rng.integers(0, 2, size=(3, 4))
    y = rng.integers(0, 3, size=(3, 4, 6))
    counts = (y[..., None] == np.arange(3)).sum(-2)
    table = m.features.table[:, 0, 0]
    np.testing.assert_allclose(count_scores(table, m.theta, x, counts),
                               m.grad_log_prob(x, y, paired=True).mean(1), rtol=1e-12, atol=1e-12)


def _reference_sequence_run(model, data, opt, draws, T, K, kind):
    """Per-replicate, per-sample Python loop of the same update on the recorded stream."""
    eng = ScoreEngine(model.features)
    table = model.features.table
    theta = np.array(model.theta, dtype=float)
    R = theta.shape[0]
    xs = np.concatenate([d[0] for d in draws])
    obs = np.concatenate([d[1] for d in draws])
    state = opt.init(theta)
    for t in range(T):
        g = np.zeros_like(theta)
        for r in range(R):
            for k in range(K):
                x = xs[t, r, k]
                if kind == "counts":
                    tok = np.repeat(np.arange(eng.vocab_size), obs[t, r, k])
                else:
                    tok = obs[t, r, k].astype(int)
                prev = eng.vocab_size
                for h, yh in enumerate(tok):
                    cand = table[x, h if table.shape[1] > 1 else 0, prev]
                    p = np.exp(log_softmax(cand @ theta[r]))
                    g[r] += cand[yh] - p @ cand
                    prev = yh
        step, state = opt.update(-g / K, state, theta)
        theta = theta + step
    return theta


@pytest.mark.parametrize("kind,positional", [("counts", False), ("tokens", False), ("tokens", True)])
def test_sequence_level_training_matches_per_sample_loop(kind, positional):
    iid = kind == "counts"
    model = _random_model(5, R=3, H=4, positional=positional, iid=iid)
    data = model[0].replace(theta=np.array([0.4, -0.3]))
    opt = chain(normalized_sgd(np.array([[0.05], [0.1], [0.2]]), 0.5), project_l2_ball(1.0))
    rec = Recorder(data, kind)
    res = train_one_pass(data, model=model, optimizer=opt, T=7, batch=2, rng=np.random.default_rng(6), stream=rec,
                         log_every=1)
    ref = _reference_sequence_run(model, data, opt, rec.draws, 7, 2, kind)
    np.testing.assert_allclose(res.final_theta, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.thetas[:, -1], ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(res.thetas[:, 0], model.theta)


def test_token_level_training_matches_per_token_loop():
    model = _random_model(7, R=2, H=3, positional=True)
    data = model[0].replace(theta=np.array([0.2, 0.1]))
    opt = projected(adam(0.05), radius=1.0)
    rec = Recorder(data, "tokens")
    res = train_one_pass(data, model=model, optimizer=opt, T=4, batch=2, level="token", rng=np.random.default_rng(8),
                         stream=rec)
    xs = np.concatenate([d[0] for d in rec.draws])
    ys = np.concatenate([d[1] for d in rec.draws]).astype(int)
    table = model.features.table
    theta = np.array(model.theta, dtype=float)
    state = opt.init(theta)
    for t in range(4):
        for h in range(3):
            g = np.zeros_like(theta)
            for r in range(2):
                for k in range(2):
                    prev = 3 if h == 0 else ys[t, r, k, h - 1]
                    cand = table[xs[t, r, k], h, prev]
                    p = np.exp(log_softmax(cand @ theta[r]))
                    g[r] += (cand[ys[t, r, k, h]] - p @ cand) / 2
            step, state = opt.update(-g, state, theta)
            theta = theta + step
    np.testing.assert_allclose(res.final_theta, theta, rtol=1e-12, atol=1e-12)


def test_deterministic_given_rng_and_metric_running_means():
    inst = lemma_k7(16, B=64.0, B_bar=4.0, mu_plus=0.3)
    opt = chain(sgd(0.01), project_l2_ball(1.0))
    metric = lambda th: th[..., 0]                                       # noqa: E731
    kw = dict(T=50, replicates=4, log_every=1, average_at=[10, 50], iterate_metric=metric)
    a = train_one_pass(inst.data, model=inst.model_class, optimizer=opt, rng=np.random.default_rng(9), **kw)
    b = train_one_pass(inst.data, model=inst.model_class, optimizer=opt, rng=np.random.default_rng(9), **kw)
    np.testing.assert_array_equal(a.thetas, b.thetas)
    # running means are means of the metric over iterates theta_0 .. theta_{T'-1}
    np.testing.assert_allclose(a.metric_means[:, 0, 0], a.thetas[:, :10, 0].mean(1), rtol=1e-12)
    np.testing.assert_allclose(a.metric_means[:, 1, 0], a.thetas[:, :50, 0].mean(1), rtol=1e-12)
    np.testing.assert_allclose(a.metric_logged[..., 0], a.thetas[..., 0], rtol=1e-12)
    np.testing.assert_allclose(a.metric_min[:, 0], a.thetas[:, :50, 0].min(1), rtol=1e-12)
    assert a.to_dict()["T"] == 50


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), kind=st.sampled_from(["tokens", "counts"]))
def test_chunking_does_not_change_the_run(seed, kind):
    """The chunk size (a memory budget) must not change the stream nor the iterates."""
    import simulations.learners.training as tr

    inst = lemma_k7(8, B=64.0, B_bar=4.0, mu_plus=0.5)
    opt = chain(sgd(0.02), project_l2_ball(1.0))
    kw = dict(T=30, replicates=2, stream=kind, log_every=3)
    old = tr._CHUNK_FLOATS
    try:
        a = train_one_pass(inst.data, model=inst.model_class, optimizer=opt, rng=np.random.default_rng(seed), **kw)
        tr._CHUNK_FLOATS = 1                                             # one step per chunk
        b = train_one_pass(inst.data, model=inst.model_class, optimizer=opt, rng=np.random.default_rng(seed), **kw)
    finally:
        tr._CHUNK_FLOATS = old
    np.testing.assert_array_equal(a.thetas, b.thetas)


def test_stream_laws():
    """Counts and tokens streams draw from pi_D: exact first moments within 6 standard errors."""
    inst = lemma_k7(5, B=64.0, B_bar=1.0, mu_plus=0.3)
    rng = np.random.default_rng(10)
    p = np.exp(inst.data.as_markov().log_probs[:, 0, 0])                # (2, 3)
    for kind in ("counts", "tokens"):
        s = DataStream(inst.data, kind)
        x, obs = s.draw((4000,), (rng, rng))
        c = obs if kind == "counts" else (obs[..., None] == np.arange(3)).sum(-2)
        n = 4000
        assert abs((x == 0).mean() - 0.3) < 6 * np.sqrt(0.21 / n)        # false-fail ~2e-9
        for xv in (0, 1):
            mean = c[x == xv].mean(0) / 5
            se = np.sqrt(p[xv] * (1 - p[xv]) / (5 * (x == xv).sum()))
            assert np.all(np.abs(mean - p[xv]) < 6 * se)
    markov = _random_model(11, H=4).as_markov()
    s = DataStream(markov, "auto")
    assert s.kind == "tokens"
    x, y = s.draw((20000,), (rng, rng))
    # first token after BOS
    for xv in range(2):
        p1 = np.exp(markov.log_probs[xv, 0, 3])
        f = (y[x == xv, 0][:, None] == np.arange(3)).mean(0)
        se = np.sqrt(p1 * (1 - p1) / (x == xv).sum())
        assert np.all(np.abs(f - p1) < 6 * se)


def test_validation():
    inst = lemma_k7(8, B=64.0, B_bar=4.0, mu_plus=0.5)
    opt = sgd(0.1)
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="`optimizer`"):
        train_one_pass(inst.data, model=inst.model_class, optimizer="sgd", T=3, rng=rng)
    with pytest.raises(ValueError, match="`level`"):
        train_one_pass(inst.data, model=inst.model_class, optimizer=opt, T=3, rng=rng, level="word")
    with pytest.raises(ValueError, match="`T`"):
        train_one_pass(inst.data, model=inst.model_class, optimizer=opt, T=0, rng=rng)
    with pytest.raises(TypeError, match="`rng`"):
        train_one_pass(inst.data, model=inst.model_class, optimizer=opt, T=3, rng=0.5)
    with pytest.raises(ValueError, match="counts"):
        m = _random_model(1, H=8)
        train_one_pass(m, model=m, optimizer=opt, T=3, rng=rng, stream="counts")
    with pytest.raises(ValueError, match="track_token_kl"):
        train_one_pass(inst.data, model=inst.model_class, optimizer=opt, T=3, rng=rng, track_token_kl=True)
    with pytest.raises(ValueError, match="share"):
        train_one_pass(lemma_k7(9, B=64.0, B_bar=4.0, mu_plus=0.5).data, model=inst.model_class, optimizer=opt, T=3, rng=rng)
    with pytest.raises(ValueError, match="`iterate_metric`"):
        train_one_pass(inst.data, model=inst.model_class, optimizer=opt, T=3, rng=rng, replicates=2,
                       iterate_metric=lambda th: np.zeros((1, 1)))
