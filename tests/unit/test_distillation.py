"""Truncated token weights (Theorem G.2 / 6.2 arXiv) and Lemma K.4."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simulations.learners.distillation import train_distillation, truncated_token_weights
from simulations.learners.optimizers import chain, project_l2_ball, sgd
from simulations.learners.training import DataStream, ScoreEngine, sequence_scores, train_one_pass
from theory.instances import lemma_k7
from theory.models import AutoregressiveLinearModel, TabularFeatures

kls = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 12)),
             elements=st.one_of(st.just(0.0), st.floats(1e-6, 50.0)))


@given(eps=kls, A=st.floats(1e-3, 100.0))
def test_lemma_k4_identity(eps, A):
    """sum_h alpha_h eps_h = min{A, sum_h eps_h}, alpha in [0, 1], non-increasing in h."""
    a = truncated_token_weights(eps, A)
    assert a.shape == eps.shape and np.all((a >= 0) & (a <= 1))
    np.testing.assert_allclose((a * eps).sum(-1), np.minimum(A, eps.sum(-1)), rtol=1e-10, atol=1e-10)
    s_before = np.cumsum(eps, -1) - eps
    assert np.all(a[s_before + eps <= A * (1 - 1e-12)] == 1.0)          # fully inside the budget
    assert np.all(a[s_before >= A * (1 + 1e-12)] == 0.0)                # after the budget


def test_weights_definition_cases():
    np.testing.assert_allclose(truncated_token_weights([0.5, 1.0, 1.0, 0.2], 1.0), [1, 0.5, 0, 0])
    np.testing.assert_allclose(truncated_token_weights([0.0, 0.0], 1.0), [1, 1])
    np.testing.assert_allclose(truncated_token_weights([2.0, 0.0], 1.0), [0.5, 0.0])
    with pytest.raises(ValueError, match="`token_kls`"):
        truncated_token_weights([-0.1], 1.0)
    with pytest.raises(ValueError, match="`A`"):
        truncated_token_weights([0.1], 0.0)


def test_distillation_step_matches_by_hand():
    """One distillation step equals sum_h alpha_h grad log pi, alpha from the teacher's token KLs."""
    rng = np.random.default_rng(0)
    X, H, V, d = 2, 5, 3, 2
    f = TabularFeatures(rng.normal(size=(X, 1, V + 1, V, d)), H)
    teacher = AutoregressiveLinearModel(f, np.array([0.8, -0.4]))
    student = AutoregressiveLinearModel(f, np.array([[0.0, 0.0], [0.3, 0.3]]))

    class Rec:
        kind = "tokens"

        def __init__(self):
            self.inner, self.draws = DataStream(teacher, "tokens"), []

        def draw(self, shape, rngs):
            out = self.inner.draw(shape, rngs)
            self.draws.append(out)
            return out

    rec = Rec()
    A = np.log(3.0)
    res = train_distillation(teacher, model=student, optimizer=sgd(0.1), N=3.0, T=1, batch=2, rng=rng, stream=rec)
    x, y = rec.draws[0]
    x, y = x[0], y[0].astype(int)                                        # (R, K), (R, K, H)
    from theory.log_ratio import path_token_kls
    eps = np.stack([path_token_kls(teacher, student[r], x[r], y[r]) for r in range(2)])
    alpha = truncated_token_weights(eps, A)
    score = sequence_scores(f, student.theta, x, y, token_weights=alpha)
    np.testing.assert_allclose(res.final_theta, student.theta + 0.1 * score, rtol=1e-12, atol=1e-14)


def test_truncation_caps_the_step_far_from_the_teacher():
    """Far from pi_D the truncated gradient uses ~A/eps tokens: its norm does not grow with H."""
    norms = []
    for H in (64, 512):
        inst = lemma_k7(H, B=4096.0, B_bar=8.0, mu_plus=1.0 - 1e-12)
        res = train_distillation(inst.data, model=inst.model_class, optimizer=sgd(1.0), N=8.0, T=1, replicates=4,
                                 rng=np.random.default_rng(1))
        norms.append(np.linalg.norm(res.final_theta - inst.model_class.theta, axis=1).max())
    assert norms[1] < 1.5 * norms[0]
