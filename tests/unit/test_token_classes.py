"""Lumping tokens with identical features (simulations.learners.pooled.TokenClasses, train_lumped)
against the full vocabulary: the count law's coverage and KL, and training step for step."""

import numpy as np
import pytest

from simulations.learners.optimizers import chain, normalized_sgd, project_box, sgd
from simulations.learners.pooled import TokenClasses, train_lumped
from simulations.learners.training import train_one_pass
from theory.iid_tokens import IidTokenLaw, iid_token_log_probs, iid_token_tables
from theory.instances import rare_event_instance


@pytest.fixture(scope="module")
def small():
    # H = 8 tokens over V = m + 1 = 8: 6 435 count vectors, enumerable on the full vocabulary
    return rare_event_instance(8, rate=0.5, start_rate=2.0, B=1.0)


def test_classes_of_the_rare_event_instance(small):
    tc = TokenClasses(small.data)
    assert tc.tokens == [[[0], list(range(1, small.params["m"] + 1))]]
    np.testing.assert_allclose(np.exp(tc.data_log_probs()).sum(-1), 1.0)
    assert np.exp(tc.data_log_probs())[0, 0] * 8 == pytest.approx(0.5)


def test_lumped_law_equals_the_full_vocabulary_law(small):
    """Coverage (certified interval) and KL from class counts equal those over all token counts."""
    tc = TokenClasses(small.data)
    full = IidTokenLaw(iid_token_log_probs(iid_token_tables(small.data), small.data.theta), 8,
                       small.data.prompt_weights, drop=0.0)
    lumped = IidTokenLaw(tc.data_log_probs(), 8, tc.prompt_weights, drop=0.0)
    assert full.counts.shape[1] > 100 * lumped.counts.shape[1]
    thetas = np.linspace(-1, 1, 9)[:, None]
    lq_full = iid_token_log_probs(iid_token_tables(small.data), thetas)
    N = [2.0, 8.0, 30.0]
    for a, b in zip(full.coverage(lq_full, N), lumped.coverage(tc.log_probs(thetas), N)):
        np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(full.kl(lq_full), lumped.kl(tc.log_probs(thetas)), rtol=1e-10, atol=1e-14)
    # negative control: a wrong multiplicity changes the coverage
    tc.log_mult = tc.log_mult + np.array([[0.0, 0.1]])
    assert not np.allclose(full.coverage(lq_full, N)[0], lumped.coverage(tc.log_probs(thetas), N)[0])


class _Expanded:
    """The class counts of ``train_lumped``'s draws, each class placed on its first token, as a
    counts stream for ``train_one_pass`` (same generator calls, so the same data)."""

    kind = "counts"

    def __init__(self, tc, V):
        self.p = np.exp(tc.data_log_probs())
        self.first = [g[0] for g in tc.tokens[0]]
        self.tc, self.V = tc, V

    def draw(self, shape, rngs):
        *lead, k = shape
        n = rngs[0].multinomial(k, self.tc.prompt_weights, size=tuple(lead))
        cc = rngs[1].multinomial(n * self.tc.horizon, self.p)
        counts = np.zeros(tuple(lead) + (1, self.V))
        counts[..., self.first] = cc
        return np.broadcast_to(np.arange(1), tuple(lead) + (1,)), counts


@pytest.mark.parametrize("make", [lambda: chain(normalized_sgd(1 / 128, 30.0), project_box()),
                                  lambda: chain(sgd(0.01), project_box())], ids=["nsgd", "sgd"])
def test_train_lumped_equals_train_one_pass_step_for_step(small, make):
    tc = TokenClasses(small.data)
    T, K, R = 60, 64, 3
    metric = lambda th: th[..., 0]                                         # noqa: E731
    a = train_lumped(tc, small.model_class.theta, make(), T=T, rng=7, batch=K, replicates=R,
                     iterate_metric=metric, average_at=[10, T])
    b = train_one_pass(small.data, model=small.model_class, optimizer=make(), T=T, rng=np.random.default_rng(7),
                       batch=K, replicates=R, iterate_metric=metric, average_at=[10, T],
                       stream=_Expanded(tc, small.data.vocab_size))
    assert not np.allclose(a.final_theta, small.model_class.theta)       # it moved
    np.testing.assert_allclose(a.final_theta, b.final_theta, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(a.metric_means, b.metric_means, rtol=1e-11, atol=1e-13)


def test_train_lumped_rejects():
    tc = TokenClasses(rare_event_instance(64).data)
    opt = chain(sgd(0.01), project_box())
    with pytest.raises(TypeError, match="TokenClasses"):
        train_lumped(object(), [0.0], opt, T=2, rng=0)
    with pytest.raises(ValueError, match="theta_init"):
        train_lumped(tc, [0.0, 0.0], opt, T=2, rng=0)
    with pytest.raises(ValueError, match="`T`"):
        train_lumped(tc, [0.0], opt, T=0, rng=0)
    with pytest.raises(TypeError, match="AutoregressiveLinearModel"):
        TokenClasses(object())
