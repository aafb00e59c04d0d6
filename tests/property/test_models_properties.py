"""Hypothesis properties of the autoregressive models (:mod:`theory.models`) and the Markov KL.

Every instance is built from a seed drawn by hypothesis, with small shapes (``V**H <= 81``
sequences per prompt), so each example is an exact computation.  Three feature maps are
exercised everywhere:

* ``tabular``: :class:`~theory.models.TabularFeatures` (Markov path, forward marginals);
* ``wrapped``: the *same* table wrapped in a :class:`~theory.models.CallableFeatures`
  (general path: per-position feature calls, prefix enumeration), so that every tabular
  result is checked against an independent code path;
* ``prefix``: a genuinely non-Markov callable (features depend on a hash of the whole
  prefix).

References for the facts checked: Section 2.4 of the reference notes (score, Hessian,
inherent variance; Eq. (6) ICLR / (8) arXiv), Assumption 2.2 (``||phi|| <= B``).
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy.special import logsumexp

from theory.divergences import kl_divergence
from theory.log_ratio import exact_log_ratio, markov_kl, markov_token_kl_profile
from theory.models import (AutoregressiveLinearModel, CallableFeatures, MarkovModel,
                           TabularFeatures, enumerate_sequences, projection_box, projection_l2_ball)

SEEDS = st.integers(0, 2 ** 32 - 1)
KINDS = ("tabular", "wrapped", "prefix")


# --------------------------------------------------------------------------- builders
def tabular_features(rng, X, H, V, d, *, homogeneous=False, scale=1.0):
    table = scale * rng.normal(size=(X, 1 if homogeneous else H, V + 1, V, d))
    return TabularFeatures(table, horizon=H)


def wrap_as_callable(tab):
    """The same feature map as a general callable (no Markov shortcut)."""
    t, V = tab.table, tab.vocab_size

    def fn(x, prefix, h):
        prev = prefix[:, h - 1].astype(np.int64) if h > 0 else np.full(len(x), V)
        return t[x, h if t.shape[1] > 1 else 0, prev]

    return CallableFeatures(fn, tab.n_prompts, tab.horizon, V, tab.dim, bound=tab.bound)


def prefix_features(rng, X, H, V, d, n_classes=3):
    """Non-Markov features: phi(x, y_{1:h}, v) = A[x, c(y_{1:h}), v] with c a hash of the whole prefix."""
    A = rng.normal(size=(X, n_classes, V, d))

    def fn(x, prefix, h):
        c = (prefix.astype(np.int64) @ np.arange(1, h + 1)) % n_classes
        return A[x, c]

    return CallableFeatures(fn, X, H, V, d, bound=float(np.linalg.norm(A, axis=-1).max()))


def build_features(kind, rng, X, H, V, d):
    if kind == "prefix":
        return prefix_features(rng, X, H, V, d)
    tab = tabular_features(rng, X, H, V, d, homogeneous=bool(rng.integers(2)))
    return tab if kind == "tabular" else wrap_as_callable(tab)


@st.composite
def model_specs(draw, kinds=KINDS, max_h=4, batch=(None, 1, 3)):
    return dict(seed=draw(SEEDS), kind=draw(st.sampled_from(kinds)), X=draw(st.integers(1, 3)),
                H=draw(st.integers(1, max_h)), V=draw(st.integers(2, 3)), d=draw(st.integers(1, 4)),
                P=draw(st.sampled_from(batch)))


def build_model(spec, *, theta_scale=1.0):
    rng = np.random.default_rng(spec["seed"])
    feats = build_features(spec["kind"], rng, spec["X"], spec["H"], spec["V"], spec["d"])
    shape = (spec["d"],) if spec["P"] is None else (spec["P"], spec["d"])
    mu = rng.dirichlet(np.ones(spec["X"]))
    return AutoregressiveLinearModel(feats, theta_scale * rng.normal(size=shape), prompt_weights=mu), rng


def random_paths(rng, model, shape):
    x = rng.integers(0, model.n_prompts, size=shape)
    y = rng.integers(0, model.vocab_size, size=shape + (model.horizon,))
    return x, y


# ------------------------------------------------------------------ normalisation
@given(model_specs())
def test_sequence_probabilities_sum_to_one_for_every_prompt(spec):
    model, _ = build_model(spec)
    lp = model.enumerate_log_probs()
    assert lp.shape == model.batch_shape + (model.n_prompts, model.vocab_size ** model.horizon)
    np.testing.assert_allclose(logsumexp(lp, axis=-1), 0.0, atol=1e-12)


@given(model_specs())
def test_enumeration_agrees_with_path_evaluation(spec):
    """enumerate_log_probs (level-by-level expansion) == log_prob on enumerate_sequences."""
    model, _ = build_model(spec)
    seqs = enumerate_sequences(model.vocab_size, model.horizon)
    x = np.repeat(np.arange(model.n_prompts), len(seqs))
    y = np.tile(seqs, (model.n_prompts, 1))
    direct = model.log_prob(x, y).reshape(model.batch_shape + (model.n_prompts, len(seqs)))
    np.testing.assert_allclose(model.enumerate_log_probs(), direct, rtol=0, atol=1e-12)
    # enumerate_support carries the prompt weights on the same order
    xs, ys, lw = model.enumerate_support()
    np.testing.assert_array_equal(xs, x)
    np.testing.assert_array_equal(ys, y)
    np.testing.assert_allclose(lw, direct.reshape(model.batch_shape + (-1,)) + np.log(np.repeat(
        model.prompt_weights, len(seqs))), atol=1e-12)


@given(model_specs(kinds=("tabular",)))
def test_tabular_and_wrapped_callable_agree(spec):
    """Markov path (as_markov) and general path give the same log-probs, scores and Hessians."""
    model, rng = build_model(spec)
    other = model.replace(features=wrap_as_callable(model.features))
    x, y = random_paths(rng, model, (2, 3))
    for method in ("log_prob", "token_log_probs", "next_token_log_probs", "hessian_log_prob"):
        np.testing.assert_allclose(getattr(model, method)(x, y), getattr(other, method)(x, y),
                                   rtol=1e-12, atol=1e-12, err_msg=method)
    for level in ("sequence", "token"):
        np.testing.assert_allclose(model.grad_log_prob(x, y, level=level),
                                   other.grad_log_prob(x, y, level=level), atol=1e-12)
    np.testing.assert_allclose(model.enumerate_log_probs(), other.enumerate_log_probs(), atol=1e-12)
    np.testing.assert_allclose(model.log_likelihood(x, y), other.log_likelihood(x, y), atol=1e-10)


@given(model_specs(batch=(2, 3)))
def test_paired_is_the_diagonal_of_unpaired(spec):
    """paired=True evaluates model i on x[i]: the (i, i) block of the all-pairs evaluation."""
    model, rng = build_model(spec)
    P = model.n_models
    x, y = random_paths(rng, model, (P, 4))
    v = rng.normal(size=model.dim)
    diag = np.arange(P)
    for name, fn in {
        "log_prob": lambda **k: model.log_prob(x, y, **k),
        "token_log_probs": lambda **k: model.token_log_probs(x, y, **k),
        "next_token_log_probs": lambda **k: model.next_token_log_probs(x, y, **k),
        "grad_seq": lambda **k: model.grad_log_prob(x, y, **k),
        "grad_tok": lambda **k: model.grad_log_prob(x, y, level="token", **k),
        "hessian": lambda **k: model.hessian_log_prob(x, y, **k),
        "hvp": lambda **k: model.hvp(x, y, v, **k),
    }.items():
        paired = fn(paired=True)
        unpaired = fn()
        assert unpaired.shape[:3] == (P, P, 4), name
        np.testing.assert_allclose(paired, unpaired[diag, diag], atol=1e-12, err_msg=name)


@given(model_specs(batch=(None, 3)))
def test_batch_members_equal_unbatched_models(spec):
    model, rng = build_model(spec)
    x, y = random_paths(rng, model, (5,))
    full = model.log_prob(x, y)
    members = [model] if not model.batch_shape else [model[i] for i in range(model.n_models)]
    expected = np.stack([m.log_prob(x, y) for m in members]).reshape(full.shape)
    np.testing.assert_allclose(full, expected, atol=1e-12)


@given(model_specs())
def test_log_prob_is_sum_of_token_log_probs_and_matches_next_token_table(spec):
    model, rng = build_model(spec)
    x, y = random_paths(rng, model, (6,))
    tok = model.token_log_probs(x, y)
    np.testing.assert_allclose(model.log_prob(x, y), tok.sum(-1), atol=1e-12)
    nxt = model.next_token_log_probs(x, y)
    np.testing.assert_allclose(logsumexp(nxt, axis=-1), 0.0, atol=1e-12)
    gathered = np.take_along_axis(nxt, np.broadcast_to(y[..., None], nxt.shape[:-1] + (1,)).astype(np.int64),
                                  axis=-1)[..., 0]
    np.testing.assert_allclose(gathered, tok, atol=1e-12)


@given(model_specs())
def test_log_likelihood_is_sum_of_log_prob(spec):
    model, rng = build_model(spec)
    x, y = random_paths(rng, model, (int(rng.integers(1, 30)),))
    np.testing.assert_allclose(model.log_likelihood(x, y), model.log_prob(x, y).sum(-1),
                               rtol=1e-12, atol=1e-10)


# ------------------------------------------------------------------- derivatives
def _theta_batch(model, thetas):
    """Evaluate an unbatched model at many parameter vectors at once (a (2d, d) batch)."""
    return model.replace(theta=thetas)


@given(model_specs(batch=(None,)))
def test_gradients_match_central_finite_differences(spec):
    model, rng = build_model(spec)
    x, y = random_paths(rng, model, (3,))
    eps = 1e-5
    E = np.eye(model.dim) * eps
    plus = _theta_batch(model, model.theta + E)
    minus = _theta_batch(model, model.theta - E)
    fd_seq = (plus.log_prob(x, y) - minus.log_prob(x, y)).T / (2 * eps)              # (3, d)
    np.testing.assert_allclose(model.grad_log_prob(x, y), fd_seq, rtol=1e-6, atol=1e-7)
    fd_tok = np.moveaxis(plus.token_log_probs(x, y) - minus.token_log_probs(x, y), 0, -1) / (2 * eps)
    np.testing.assert_allclose(model.grad_log_prob(x, y, level="token"), fd_tok, rtol=1e-6, atol=1e-7)


@given(model_specs(batch=(None,)))
def test_hessian_matches_finite_differences_and_is_nsd_and_bounded(spec):
    model, rng = build_model(spec)
    x, y = random_paths(rng, model, (3,))
    eps = 1e-5
    E = np.eye(model.dim) * eps
    g_plus = _theta_batch(model, model.theta + E).grad_log_prob(x, y)                # (d_j, 3, d)
    g_minus = _theta_batch(model, model.theta - E).grad_log_prob(x, y)
    fd = np.moveaxis((g_plus - g_minus) / (2 * eps), 0, -1)                          # (3, d, d_j)
    hess = model.hessian_log_prob(x, y)
    np.testing.assert_allclose(hess, fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(hess, np.swapaxes(hess, -1, -2), atol=1e-12)
    eig = np.linalg.eigvalsh(hess)
    B = model.features.bound
    assert np.all(eig <= 1e-12 * max(1.0, B ** 2))
    assert np.all(-eig.min(axis=-1) <= model.horizon * B ** 2 * (1 + 1e-12))


@given(model_specs())
def test_hvp_equals_hessian_times_vector(spec):
    model, rng = build_model(spec)
    x, y = random_paths(rng, model, (4,))
    v = rng.normal(size=model.dim)
    np.testing.assert_allclose(model.hvp(x, y, v), model.hessian_log_prob(x, y) @ v, atol=1e-11)


@given(model_specs(batch=(None,)))
def test_sigma_star_equals_expected_squared_score(spec):
    r"""Realizable case: sigma_star^2 = E_{pi_theta}||grad log pi_theta(y|x)||^2 (martingale score)."""
    model, _ = build_model(spec)
    x, y, lw = model.enumerate_support()
    g = model.grad_log_prob(x, y)
    expected = float(np.exp(lw) @ (g ** 2).sum(-1))
    np.testing.assert_allclose(model.sigma_star_sq(), expected, rtol=1e-9, atol=1e-12)


@given(model_specs(kinds=("tabular",), batch=(None,)))
def test_sigma_star_misspecified_forward_marginals_equal_enumeration(spec):
    """With pi_D != pi_theta, the tabular (forward-marginal) and callable (enumeration) paths agree."""
    model, rng = build_model(spec)
    data = model.replace(theta=rng.normal(size=model.dim)).as_markov()
    wrapped = model.replace(features=wrap_as_callable(model.features))
    np.testing.assert_allclose(model.sigma_star_sq(data), wrapped.sigma_star_sq(data), rtol=1e-9, atol=1e-12)


# -------------------------------------------------------------------- Markov KL
@given(model_specs(kinds=("tabular",), batch=(None, 2)))
def test_markov_kl_equals_enumeration_and_sequence_kl(spec):
    r"""Chain rule: sum of expected per-position KLs == KL of the enumerated sequence laws."""
    model, rng = build_model(spec)
    data = AutoregressiveLinearModel(model.features, rng.normal(size=model.dim),
                                     prompt_weights=model.prompt_weights)
    mk = markov_kl(data, model)
    assert mk.shape == model.batch_shape
    assert np.all(mk >= 0)
    profile = markov_token_kl_profile(data, model)
    assert profile.shape == model.batch_shape + (model.horizon,)
    assert np.all(profile >= 0)
    law_kl = exact_log_ratio(data, model).kl()
    lp_d = data.enumerate_log_probs()
    lp_m = model.enumerate_log_probs().reshape((-1,) + lp_d.shape)
    direct = np.array([kl_divergence(lp_d, row, prompt_weights=data.prompt_weights) for row in lp_m])
    np.testing.assert_allclose(mk, profile.sum(-1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.reshape(mk, -1), direct, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.reshape(law_kl, -1), direct, rtol=1e-9, atol=1e-12)


@given(model_specs(kinds=("tabular",), batch=(None,)))
def test_state_marginals_and_expected_token_sum_match_enumeration(spec):
    model, rng = build_model(spec)
    mm = model.as_markov()
    marg = mm.state_marginals()
    np.testing.assert_allclose(marg.sum(axis=(1, 2)), 1.0, atol=1e-12)
    g = rng.normal(size=(mm.n_prompts, mm.horizon, mm.vocab_size + 1))
    x, y, lw = mm.enumerate_support()
    prev = np.concatenate([np.full((len(x), 1), mm.vocab_size), y[:, :-1].astype(np.int64)], axis=1)
    along = g[x[:, None], np.arange(mm.horizon), prev]                               # (S, H)
    np.testing.assert_allclose(mm.expected_token_sum(g), np.exp(lw) @ along, atol=1e-12)


@given(model_specs(kinds=("tabular",)))
def test_markov_model_from_table_matches_linear_model(spec):
    """A MarkovModel built from the softmax table evaluates exactly like the linear model."""
    model, rng = build_model(spec)
    table = np.asarray(model.as_markov().log_probs)
    mm = MarkovModel(table, model.horizon, model.prompt_weights)
    x, y = random_paths(rng, model, (5,))
    np.testing.assert_allclose(mm.log_prob(x, y), model.log_prob(x, y), atol=1e-12)
    counts = mm.token_counts(x, y)
    assert counts.sum() == x.size * model.horizon
    np.testing.assert_allclose(mm.log_likelihood(x, y), model.log_prob(x, y).sum(-1), atol=1e-10)


# ------------------------------------------------------------------ projections
@given(SEEDS, st.integers(1, 6), st.sampled_from([(), (3,), (2, 2)]),
       st.one_of(st.just(0.0), st.floats(1e-3, 5.0)))
def test_l2_ball_projection(seed, d, lead, radius):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=lead + (d,)) * rng.choice([0.1, 1.0, 10.0])
    proj = projection_l2_ball(theta, radius)
    norm = np.linalg.norm(proj, axis=-1)
    assert np.all(norm <= radius * (1 + 1e-12))
    np.testing.assert_allclose(projection_l2_ball(proj, radius), proj, rtol=1e-12, atol=1e-15)   # idempotent
    inside = np.linalg.norm(theta, axis=-1) <= radius
    np.testing.assert_array_equal(proj[inside], theta[inside])                         # identity inside
    # It is the nearest point of the ball: no random point of the ball is closer.
    z = rng.normal(size=(50,) + theta.shape)
    z = z / np.maximum(1.0, np.linalg.norm(z, axis=-1, keepdims=True) / radius) if radius > 0 else 0 * z
    assert np.all(np.linalg.norm(theta - proj, axis=-1) <= np.linalg.norm(theta - z, axis=-1) + 1e-12)


@given(SEEDS, st.integers(1, 6), st.floats(-3, 3), st.floats(0, 3))
def test_box_projection(seed, d, low, width):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(4, d)) * 3
    high = low + width
    proj = projection_box(theta, low, high)
    assert np.all((proj >= low) & (proj <= high))
    np.testing.assert_array_equal(projection_box(proj, low, high), proj)
    inside = (theta >= low) & (theta <= high)
    np.testing.assert_array_equal(proj[inside], theta[inside])
    np.testing.assert_array_equal(proj[theta < low], low)
    np.testing.assert_array_equal(proj[theta > high], high)


@pytest.mark.parametrize("kind", KINDS)
def test_builders_produce_distinct_feature_kinds(kind):
    """Guard on the test fixtures themselves: the three kinds really take different code paths."""
    feats = build_features(kind, np.random.default_rng(0), 2, 3, 2, 2)
    assert isinstance(feats, TabularFeatures) == (kind == "tabular")
    assert feats.is_markov == (kind == "tabular")
