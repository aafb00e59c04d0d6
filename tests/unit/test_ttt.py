"""Test-time-training decoder: exact probabilities, sampling, and the training-path identity."""

import numpy as np
import pytest
from scipy.special import log_softmax
from scipy.stats import chi2

from simulations.learners.optimizers import adam, chain, project_l2_ball, projected, sgd
from simulations.learners.training import DataStream, train_one_pass
from simulations.learners.ttt import TTTDecoder
from theory.instances import lemma_k7, prop_3_2_kl_lower_bound
from theory.models import AutoregressiveLinearModel, TabularFeatures, enumerate_sequences


def _markov_model(seed, X=2, H=4, V=3, d=2, P=3):
    rng = np.random.default_rng(seed)
    f = TabularFeatures(rng.normal(size=(X, H, V + 1, V, d)), H)
    return AutoregressiveLinearModel(f, rng.normal(size=(P, d)) * 0.5, rng.dirichlet(np.ones(X)))


def _reference_path(model_1, eta, radius, x, y):
    """Straightforward TTT along one sequence with projected SGD (the definition, Eq. (22))."""
    table = model_1.features.table
    theta = np.array(model_1.theta, dtype=float)
    total, prev = 0.0, model_1.vocab_size
    for h, yh in enumerate(y):
        cand = table[x, h if table.shape[1] > 1 else 0, prev]
        lq = log_softmax(cand @ theta)
        total += lq[yh]
        theta = theta + eta * (cand[yh] - np.exp(lq) @ cand)
        n = np.linalg.norm(theta)
        theta = theta if n <= radius else theta * radius / n
        prev = yh
    return total


@pytest.mark.parametrize("make_opt", [lambda: projected(sgd(0.7), radius=0.8),
                                      lambda: projected(adam(0.1), radius=1.0)])
def test_enumeration_matches_paths_and_normalises(make_opt):
    m = _markov_model(0)
    dec = TTTDecoder(m, make_opt())
    E = dec.enumerate_log_probs()                                          # (P, X, V^H)
    ys = enumerate_sequences(3, 4).astype(int)
    for x in range(2):
        np.testing.assert_allclose(dec.log_prob(np.full(len(ys), x), ys), E[:, x], rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.logaddexp.reduce(E, axis=-1), 0.0, atol=1e-12)


def test_definition_by_hand():
    m = _markov_model(1, P=2)
    dec = TTTDecoder(m, chain(sgd(0.7), project_l2_ball(0.8)))
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2, 5)
    y = rng.integers(0, 3, (5, 4))
    got = dec.log_prob(x, y)
    for p in range(2):
        for b in range(5):
            assert got[p, b] == pytest.approx(_reference_path(m[p], 0.7, 0.8, x[b], y[b]), abs=1e-12)


def test_zero_step_is_the_model():
    m = _markov_model(3)
    dec = TTTDecoder(m, projected(sgd(0.0), radius=1.0))
    np.testing.assert_allclose(dec.enumerate_log_probs(), m.enumerate_log_probs(), atol=1e-12)


def test_chain_rule_kl_equals_enumerated_kl():
    m = _markov_model(4)
    data = m[1].replace(theta=np.array([0.3, -0.6]))
    dec = TTTDecoder(m, projected(sgd(0.5), radius=1.0))
    law = dec.exact_log_ratio(data)
    x, y, lw = data.enumerate_support()
    kls = dec.path_token_kls(data, x, np.asarray(y, dtype=int))
    np.testing.assert_allclose((kls.sum(-1) * np.exp(lw)).sum(-1), law.kl(), rtol=1e-10)


def test_sampling_law_matches_exact_probabilities():
    """Chi-square goodness of fit of 40,000 TTT samples; false-fail rate 1e-6 per decoder."""
    m = _markov_model(5, X=1, H=3, V=2, d=2, P=2)
    dec = TTTDecoder(m, projected(sgd(0.8), radius=1.0))
    E = np.exp(dec.enumerate_log_probs())[:, 0]                            # (P, 8)
    _, ys = dec.sample(40_000, rng=np.random.default_rng(6))
    idx = (ys * np.array([4, 2, 1])).sum(-1)
    for p in range(2):
        obs = np.bincount(idx[p], minlength=8)
        stat = ((obs - 40_000 * E[p]) ** 2 / (40_000 * E[p])).sum()
        assert stat < chi2.ppf(1 - 1e-6, df=7)
    # power: a decoder with another step size is rejected
    E_wrong = np.exp(TTTDecoder(m, projected(sgd(0.0), radius=1.0)).enumerate_log_probs())[:, 0]
    obs = np.bincount(idx[0], minlength=8)
    assert ((obs - 40_000 * E_wrong[0]) ** 2 / (40_000 * E_wrong[0])).sum() > chi2.ppf(1 - 1e-6, df=7)


def test_monte_carlo_law_agrees_with_exact():
    data = prop_3_2_kl_lower_bound(2, 8).data                             # mu(1) = 1/4
    dec = TTTDecoder(data.replace(theta=np.array([[0.0], [-0.5]])), projected(sgd(0.5), box=(-1.0, 1.0)))
    exact = dec.exact_log_ratio(data)
    mc = dec.sampled_log_ratio(data, 20_000, rng=np.random.default_rng(7))
    N = np.array([1.5, 3.0, 10.0])
    lo, hi = mc.coverage_interval(N, level=1 - 1e-6)
    cov = exact.coverage(N)
    assert np.all((lo <= cov) & (cov <= hi))
    se = mc.values.std(axis=-1) / np.sqrt(20_000)
    assert np.all(np.abs(mc.kl() - exact.kl()) < 5.5 * se)                 # false-fail ~4e-8 each


def test_training_iterates_are_the_ttt_path():
    """Section 6.1: theta_{t,h} = TTT(x_t, y_{<h}; theta_t), so the token KLs along the training
    sequence are the chain-rule terms of KL(pi_D || pi^TTT_{theta_t}) on that sequence."""
    inst = lemma_k7(6, B=64.0, B_bar=2.0, mu_plus=0.5)
    opt = chain(sgd(0.2), project_l2_ball(1.0))

    class Rec:
        kind = "tokens"

        def __init__(self):
            self.inner, self.draws = DataStream(inst.data, "tokens"), []

        def draw(self, shape, rngs):
            out = self.inner.draw(shape, rngs)
            self.draws.append(out)
            return out

    rec = Rec()
    res = train_one_pass(data=inst.data, model=inst.model_class, optimizer=opt, T=5, replicates=3, level="token",
                         rng=np.random.default_rng(8), stream=rec, track_token_kl=True,
                         log_every=1, average_at=[1, 2, 3, 4, 5])
    x = np.concatenate([d[0] for d in rec.draws])[..., 0]                  # (T, R)
    y = np.concatenate([d[1] for d in rec.draws])[:, :, 0].astype(int)     # (T, R, H)
    per_step = np.empty((5, 3))
    for t in range(5):
        for r in range(3):
            dec = TTTDecoder(inst.model_class.replace(theta=res.thetas[r, t]), opt)
            per_step[t, r] = dec.path_token_kls(inst.data, x[t, r:r + 1], y[t, r:r + 1]).sum()
            # and the next iterate is where the TTT path ends (the last token's update included)
    running = np.cumsum(per_step, axis=0) / np.arange(1, 6)[:, None]
    np.testing.assert_allclose(res.path_token_kl, running.T, rtol=1e-10, atol=1e-14)


def test_validation():
    m = _markov_model(9)
    with pytest.raises(TypeError, match="`optimizer`"):
        TTTDecoder(m, "sgd")
    dec = TTTDecoder(m, sgd(0.1))
    with pytest.raises(ValueError, match="`y`"):
        dec.log_prob([0, 1], [[0, 1, 2, 0]])
    with pytest.raises(ValueError, match="share"):
        dec.exact_log_ratio(lemma_k7(5, B=64.0, B_bar=2.0, mu_plus=0.5).data)
    with pytest.raises(TypeError, match="`rng`"):
        dec.sample(3, rng=1.5)
