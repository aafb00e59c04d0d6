"""Statistical identities of the SGD engine, with stated false-fail rates and power checks.

1. Section 6.1's identity in expectation: the training-path per-token KL sums are unbiased
   for the average-iterate KL(pi_D || pi^TTT_{theta_t}) computed exactly by enumeration.
2. The two data streams (token counts sampled directly vs counted from sampled tokens) give
   the same law of the SGD iterates.

Each check is a two-sided z-test at 5.5 standard errors over independent replicates
(false-fail rate ~4e-8 per check under the normal approximation, with ``R >= 400``
replicates); fixed seeds make the outcome deterministic.  Power: each test also runs a
deliberately wrong variant and asserts rejection.
"""

import numpy as np
import pytest

from simulations.learners.optimizers import chain, project_l2_ball, sgd
from simulations.learners.training import train_one_pass
from simulations.learners.ttt import TTTDecoder
from theory.instances import lemma_k7

pytestmark = pytest.mark.statistical

Z = 5.5


def _ttt_identity(decoder_eta, seed=0, R=400, T=6, H=5):
    inst = lemma_k7(H, B=64.0, B_bar=1.5, mu_plus=0.4)
    opt = chain(sgd(0.3), project_l2_ball(1.0))
    res = train_one_pass(data=inst.data, model=inst.model_class, optimizer=opt, T=T, replicates=R, level="token",
                         rng=np.random.default_rng(seed), track_token_kl=True, log_every=1)
    path = res.path_token_kl[:, -1]                                          # (R,)
    thetas = res.thetas[:, :T].reshape(-1, 2)
    dec = TTTDecoder(inst.model_class.replace(theta=thetas), chain(sgd(decoder_eta), project_l2_ball(1.0)))
    exact = dec.exact_log_ratio(inst.data).kl().reshape(R, T).mean(1)
    d = path - exact
    return d.mean(), d.std(ddof=1) / np.sqrt(R)


def test_training_path_kl_is_unbiased_for_ttt_kl():
    mean, se = _ttt_identity(decoder_eta=0.3)
    assert abs(mean) < Z * se


def test_training_path_kl_power_wrong_decoder():
    """The proper model (decoder step 0) has a different KL: the same test must reject it."""
    mean, se = _ttt_identity(decoder_eta=0.0)
    assert abs(mean) > Z * se


def _final_theta(kind, data_theta=None, R=600, T=15, seed=1):
    inst = lemma_k7(6, B=64.0, B_bar=1.0, mu_plus=0.5)
    data = inst.data if data_theta is None else inst.data.replace(theta=np.asarray(data_theta))
    res = train_one_pass(data=data, model=inst.model_class, optimizer=chain(sgd(0.05), project_l2_ball(1.0)), T=T,
                         replicates=R, stream=kind, rng=np.random.default_rng(seed))
    return res.final_theta


def _two_sample_z(a, b):
    diff = a.mean(0) - b.mean(0)
    se = np.sqrt(a.var(0, ddof=1) / len(a) + b.var(0, ddof=1) / len(b))
    return np.abs(diff) / se


def test_counts_and_tokens_streams_give_the_same_iterates_in_law():
    z = _two_sample_z(_final_theta("counts"), _final_theta("tokens", seed=2))
    assert np.all(z < Z)                                  # two coordinates: false-fail <~ 8e-8


def test_stream_comparison_power():
    z = _two_sample_z(_final_theta("counts"), _final_theta("tokens", data_theta=[0.5, 0.2], seed=2))
    assert np.any(z > Z)
