"""Contract battery over every optimizer (optax ``test_scalers`` / sklearn estimator checks).

Every optimizer, with and without projection, must: keep a finite state; return steps of
the parameters' shape; be deterministic given the gradient stream; be the identity at
``lr = 0``; not mutate its inputs; and agree with the same transform written as an
explicit :func:`chain` of primitives.  Normalised SGD's step has norm ``< lr``.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulations.learners.optimizers import (
    AdamState, EmptyState, Optimizer, adam, apply_updates, chain, identity, normalized_sgd,
    project_box, project_l2_ball, projected, scale, scale_by_adam, scale_by_norm,
    scale_by_sign, sgd, sign_sgd)

R, D = 5, 3


def _factories():
    return {
        "sgd": lambda lr: sgd(lr),
        "normalized_sgd": lambda lr: normalized_sgd(lr, lam=0.7),
        "sign_sgd": lambda lr: sign_sgd(lr),
        "adam": lambda lr: adam(lr),
        "adam_no_bias_correction": lambda lr: adam(lr, bias_correction=False),
        "sgd_l2": lambda lr: projected(sgd(lr), radius=1.0),
        "normalized_sgd_l2": lambda lr: projected(normalized_sgd(lr, lam=0.7), radius=1.0),
        "sign_sgd_box": lambda lr: projected(sign_sgd(lr), box=(-1.0, 1.0)),
        "adam_l2": lambda lr: projected(adam(lr), radius=1.0),
    }


FACTORIES = _factories()


def _flatten(state):
    if isinstance(state, tuple):
        out = []
        for s in state:
            out.extend(_flatten(s))
        return out
    return [np.asarray(state)]


def _run(opt, grads, params):
    state = opt.init(params)
    steps, states = [], []
    for g in grads:
        step, state = opt.update(g, state, params)
        params = apply_updates(params, step)
        steps.append(step)
        states.append(state)
    return params, steps, states


def _stream(seed, n=6):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(R, D)) * rng.choice([1e-3, 1.0, 1e3]) for _ in range(n)]


def _params(seed):
    rng = np.random.default_rng(seed + 1)
    p = rng.normal(size=(R, D))
    return 0.5 * p / np.linalg.norm(p, axis=1, keepdims=True)          # inside B_2(1) and the box


@pytest.mark.parametrize("name", sorted(FACTORIES))
class TestContract:
    def test_is_optimizer(self, name):
        assert isinstance(FACTORIES[name](0.1), Optimizer)

    def test_shapes_and_finite_state(self, name):
        params, steps, states = _run(FACTORIES[name](0.1), _stream(0), _params(0))
        assert params.shape == (R, D) and np.isfinite(params).all()
        for s in steps:
            assert s.shape == (R, D) and np.isfinite(s).all()
        for st_ in states:
            for leaf in _flatten(st_):
                assert np.isfinite(leaf).all()

    def test_deterministic_given_stream(self, name):
        a = _run(FACTORIES[name](0.1), _stream(3), _params(3))[0]
        b = _run(FACTORIES[name](0.1), _stream(3), _params(3))[0]
        np.testing.assert_array_equal(a, b)

    def test_zero_lr_is_identity(self, name):
        p0 = _params(4)
        params, steps, _ = _run(FACTORIES[name](0.0), _stream(4), p0)
        np.testing.assert_array_equal(params, p0)
        for s in steps:
            assert not np.any(s)

    def test_inputs_not_mutated(self, name):
        opt = FACTORIES[name](0.1)
        p = _params(5)
        g = _stream(5)[0]
        p_copy, g_copy = p.copy(), g.copy()
        state = opt.init(p)
        leaves = [x.copy() for x in _flatten(state)]
        opt.update(g, state, p)
        np.testing.assert_array_equal(p, p_copy)
        np.testing.assert_array_equal(g, g_copy)
        for a, b in zip(_flatten(state), leaves):
            np.testing.assert_array_equal(a, b)

    def test_per_replicate_learning_rate(self, name):
        """An (R, 1) learning-rate column equals R separate runs with scalar rates."""
        lrs = np.linspace(0.01, 0.2, R)[:, None]
        grads, p0 = _stream(6), _params(6)
        together = _run(FACTORIES[name](lrs), grads, p0)[0]
        for r in range(R):
            alone = _run(FACTORIES[name](float(lrs[r, 0])), [g[r:r + 1] for g in grads], p0[r:r + 1])[0]
            np.testing.assert_allclose(together[r:r + 1], alone, rtol=1e-12, atol=1e-15)


@given(seed=st.integers(0, 2 ** 32 - 1), radius=st.floats(0.0, 10.0), scale_=st.floats(1e-3, 1e3))
def test_projections_are_theorys(seed, radius, scale_):
    """The transforms use exactly theory.models.projection_l2_ball / projection_box."""
    from theory.models import projection_box as tb, projection_l2_ball as tl

    p = np.random.default_rng(seed).normal(size=(R, D)) * scale_
    z = np.zeros_like(p)
    step, _ = project_l2_ball(radius).update(p, (), z)
    np.testing.assert_allclose(step, tl(p, radius), rtol=1e-15, atol=0)
    step, _ = project_box(-radius, radius / 2).update(p, (), z)
    np.testing.assert_array_equal(step, tb(p, -radius, radius / 2))


def test_projections_keep_iterates_in_theta():
    grads = [g * 100 for g in _stream(7, 20)]
    p, _, _ = _run(projected(sgd(1.0), radius=1.0), grads, _params(7))
    assert np.all(np.linalg.norm(p, axis=1) <= 1.0 + 1e-12)
    p, _, _ = _run(projected(sgd(1.0), box=(-0.5, 0.25)), grads, _params(7) * 0.2)
    assert p.min() >= -0.5 and p.max() <= 0.25


@given(seed=st.integers(0, 2 ** 32 - 1), lr=st.floats(1e-3, 1e3), lam=st.floats(1e-6, 1e3))
def test_normalized_step_norm_below_lr(seed, lr, lam):
    g = np.random.default_rng(seed).normal(size=(R, D)) * 10.0 ** np.random.default_rng(seed).uniform(-6, 6)
    opt = normalized_sgd(lr, lam)
    step, _ = opt.update(g, opt.init(g))
    assert np.all(np.linalg.norm(step, axis=1) < lr)
    # direction: opposite to the gradient
    np.testing.assert_allclose(step, -lr * g / (lam + np.linalg.norm(g, axis=1, keepdims=True)), rtol=1e-12)


@given(seed=st.integers(0, 2 ** 32 - 1), c=st.floats(1e-3, 1e3))
def test_normalized_sgd_scale_behaviour(seed, c):
    """With lam -> 0 normalised SGD is scale invariant; with lam >> |g| it is SGD with lr/lam."""
    g = np.random.default_rng(seed).normal(size=(R, D))
    opt = normalized_sgd(0.1, 0.0)
    s1, _ = opt.update(g, opt.init(g))
    s2, _ = opt.update(c * g, opt.init(g))
    np.testing.assert_allclose(s1, s2, rtol=1e-12)
    big = 1e9
    opt = normalized_sgd(0.1, big)
    s3, _ = opt.update(g, opt.init(g))
    np.testing.assert_allclose(s3, -0.1 / big * g, rtol=1e-6)


def test_chain_equivalence_with_explicit_formulas():
    """Each alias equals its update rule written out, step after step."""
    grads, p = _stream(8, 10), _params(8)
    lr, lam, b1, b2, eps = 0.05, 0.3, 0.8, 0.95, 1e-8

    def by_hand(rule):
        params, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
        for t, g in enumerate(grads, start=1):
            if rule == "sgd":
                params = params - lr * g
            elif rule == "nsgd":
                params = params - lr * g / (lam + np.linalg.norm(g, axis=1, keepdims=True))
            elif rule == "sign":
                params = params - lr * np.sign(g)
            else:
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * g * g
                mh, vh = (m / (1 - b1 ** t), v / (1 - b2 ** t)) if rule == "adam" else (m, v)
                params = params - lr * mh / (np.sqrt(vh) + eps)
        return params

    cases = {"sgd": sgd(lr), "nsgd": normalized_sgd(lr, lam), "sign": sign_sgd(lr),
             "adam": adam(lr, b1, b2, eps), "adam_nobc": adam(lr, b1, b2, eps, bias_correction=False)}
    for rule, opt in cases.items():
        np.testing.assert_allclose(_run(opt, grads, p)[0], by_hand(rule), rtol=1e-12, atol=1e-14,
                                   err_msg=rule)
    # chain of primitives vs the alias
    np.testing.assert_allclose(_run(chain(scale_by_norm(lam), scale(-lr)), grads, p)[0],
                               _run(normalized_sgd(lr, lam), grads, p)[0], rtol=1e-15)
    # chain(a, chain(b, c)) == chain(a, b, c)
    nested = chain(scale_by_sign(), chain(scale(-lr), project_l2_ball(1.0)))
    flat = chain(scale_by_sign(), scale(-lr), project_l2_ball(1.0))
    np.testing.assert_array_equal(_run(nested, grads, p)[0], _run(flat, grads, p)[0])


def test_adam_without_moments_is_sign_sgd():
    grads, p = _stream(9), _params(9)
    a = _run(adam(0.1, b1=0.0, b2=0.0, eps=0.0, bias_correction=False), grads, p)[0]
    b = _run(sign_sgd(0.1), grads, p)[0]
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_adam_state_counts_steps():
    opt = scale_by_adam()
    state = opt.init(np.zeros((R, D)))
    assert isinstance(state, AdamState) and int(state.count) == 0
    for g in _stream(10, 3):
        _, state = opt.update(g, state)
    assert int(state.count) == 3


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="`lam`"):
        scale_by_norm(-1.0)
    with pytest.raises(ValueError, match="`b1`"):
        scale_by_adam(b1=1.0)
    with pytest.raises(ValueError, match="`params`"):
        project_l2_ball(1.0).update(np.zeros(2), EmptyState())
    with pytest.raises(ValueError, match="`low`"):
        project_box(1.0, 0.0)
    with pytest.raises(TypeError, match="transforms"):
        chain(identity(), "sgd")
    with pytest.raises(ValueError, match="chain"):
        chain(identity(), identity()).update(np.zeros(2), (EmptyState(),))
    with pytest.raises(ValueError, match="exactly one"):
        projected(sgd(0.1))
    with pytest.raises(ValueError, match="`lr`"):
        sgd(float("nan"))
