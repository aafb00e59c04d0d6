"""Sequence-level SGD on token streams: the numpy path and the compiled one agree bit for bit.

Both paths of :mod:`simulations.learners._sgd_loop` run the same floating-point operations
in the same order (logits summed over coordinates in order, the score over contexts and
tokens in order, ``np.exp`` from numpy), so the iterates must be *equal*, not close.  The
compiled half is skipped when numba (the ``fast`` extra) is not installed.  A per-sample
Python loop checks the numbers themselves (to rounding), and the negative controls show
that the equality checks can fail.
"""

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import log_softmax

import simulations.learners._sgd_loop as loop
from simulations.learners.optimizers import (adam, chain, normalized_sgd, project_l2_ball, projected,
                                             scale, sgd)
from simulations.learners.training import DataStream, ScoreEngine, train_one_pass
from theory.models import AutoregressiveLinearModel, TabularFeatures, chain_sampler

try:
    import numba  # noqa: F401
    HAVE_NUMBA = True
except ImportError:                                   # the `fast` extra is not installed
    HAVE_NUMBA = False


@contextlib.contextmanager
def path(name):
    """Run training with the numpy loop or with the compiled kernels (also on tiny runs)."""
    old = chain_sampler._KERNEL, chain_sampler.MIN_COMPILED_TOKENS, loop._STEP
    chain_sampler._KERNEL = False if name == "numpy" else None
    chain_sampler.MIN_COMPILED_TOKENS = 0
    try:
        if name == "compiled":
            assert chain_sampler.compiled_module() is not None and loop.compiled_step() is not None
        yield
    finally:
        chain_sampler._KERNEL, chain_sampler.MIN_COMPILED_TOKENS, loop._STEP = old


def _problem(seed, *, X, H, V, d, positional, data_positional):
    rng = np.random.default_rng(seed)
    feats = TabularFeatures(rng.normal(size=(X, H if positional else 1, V + 1, V, d)), H)
    dfeats = TabularFeatures(rng.normal(size=(X, H if data_positional else 1, V + 1, V, d)), H)
    w = rng.dirichlet(np.ones(X))
    return (AutoregressiveLinearModel(feats, rng.normal(size=d) * 0.3, w),
            AutoregressiveLinearModel(dfeats, rng.normal(size=d), w))


def _run(name, model, data, opt, *, T, K, R, seed, **kw):
    with path(name):
        return train_one_pass(data, model=model, optimizer=opt, T=T, batch=K, replicates=R,
                              rng=np.random.default_rng(seed), log_every=1, **kw)


OPTIMIZERS = {
    "sgd": lambda R: sgd(0.3),
    "projected sgd, per-replicate rates": lambda R: chain(sgd(np.linspace(0.1, 0.5, R)[:, None]),
                                                          project_l2_ball(0.4)),
    "normalized sgd (numpy update)": lambda R: projected(normalized_sgd(0.2, 0.5), radius=1.0),
    "adam (numpy update)": lambda R: adam(0.1),
}


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), X=st.integers(1, 3), H=st.integers(1, 6),
       V=st.integers(2, 4), d=st.integers(1, 5), positional=st.booleans(),
       data_positional=st.booleans(), K=st.integers(1, 3), R=st.integers(1, 3))
@pytest.mark.skipif(not HAVE_NUMBA, reason="numba (the `fast` extra) is not installed")
def test_compiled_and_numpy_paths_give_identical_iterates(opt_name, seed, X, H, V, d, positional,
                                                          data_positional, K, R):
    model, data = _problem(seed, X=X, H=H, V=V, d=d, positional=positional,
                           data_positional=data_positional)
    opt = OPTIMIZERS[opt_name](R)
    kw = dict(T=9, K=K, R=R, seed=seed % 1000, stream="tokens")
    a = _run("numpy", model, data, opt, **kw)
    b = _run("compiled", model, data, opt, **kw)
    np.testing.assert_array_equal(a.thetas, b.thetas)
    np.testing.assert_array_equal(a.final_theta, b.final_theta)


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba (the `fast` extra) is not installed")
def test_fused_counts_are_the_counts_of_the_stream():
    """Sampling-and-counting in one kernel sees the stream's tokens (same uniforms, same order)."""
    model, data = _problem(3, X=3, H=7, V=3, d=2, positional=False, data_positional=True)
    eng, src = ScoreEngine(model.features), DataStream(data, "tokens")
    shape = (4, 3, 2)
    x, y = src.draw(shape, tuple(np.random.default_rng(5).spawn(2)))
    want = eng.context_token_counts(x, y).reshape(4, 3, -1)
    with path("compiled"):
        kernels = chain_sampler.compiled_module()
    old = loop._TOKEN_BLOCK
    try:
        for block in (1, 7 * 2 * 5, 1 << 16):                          # blocks of K .. all sequences
            loop._TOKEN_BLOCK = block
            got = loop._fused_counts(eng, src, shape, tuple(np.random.default_rng(5).spawn(2)),
                                     kernels)
            np.testing.assert_array_equal(got, want)
    finally:
        loop._TOKEN_BLOCK = old
    other = loop._fused_counts(eng, src, shape, tuple(np.random.default_rng(6).spawn(2)),
                               kernels)
    assert not np.array_equal(other, want)                             # negative control


def _per_sample_reference(model, data, opt, T, K, R, seed):
    """Per-replicate, per-sequence, per-token loop on the same stream (uniforms in C order)."""
    src = DataStream(data, "tokens")
    rng_x, rng_y = np.random.default_rng(seed).spawn(2)
    table = model.features.table
    theta = np.broadcast_to(np.asarray(model.theta, float), (R, model.dim)).copy()
    state = opt.init(theta)
    for _ in range(T):
        x = src.prompts((R, K), rng_x)
        y = src.tokens(x, rng_y)
        g = np.zeros_like(theta)
        for r in range(R):
            for k in range(K):
                prev = model.vocab_size
                for h in range(model.horizon):
                    cand = table[x[r, k], h if table.shape[1] > 1 else 0, prev]
                    p = np.exp(log_softmax(cand @ theta[r]))
                    g[r] += cand[y[r, k, h]] - p @ cand
                    prev = y[r, k, h]
        step, state = opt.update(-g / K, state, theta)
        theta = theta + step
    return theta


@pytest.mark.parametrize("name", ["numpy", "compiled"] if HAVE_NUMBA else ["numpy"])
def test_count_steps_match_the_per_sample_loop(name):
    model, data = _problem(11, X=2, H=5, V=3, d=3, positional=True, data_positional=False)
    opt = chain(sgd(np.array([[0.2], [0.5]])), project_l2_ball(0.8))
    res = _run(name, model, data, opt, T=6, K=3, R=2, seed=4, stream="tokens")
    ref = _per_sample_reference(model, data, opt, 6, 3, 2, 4)
    np.testing.assert_allclose(res.final_theta, ref, rtol=1e-12, atol=1e-12)
    other = _per_sample_reference(model, data, opt, 6, 3, 2, 5)              # negative control
    assert np.max(np.abs(other - res.final_theta)) > 1e-6


def test_step_spec_recognises_plain_and_projected_sgd_only():
    R = 3
    f, r = loop.step_spec(sgd(0.1), R, 2)
    np.testing.assert_array_equal(f, np.full(R, -0.1))
    assert r == -1.0
    f, r = loop.step_spec(chain(sgd(np.array([[1.0], [2.0], [3.0]])), project_l2_ball(2.0)), R, 2)
    np.testing.assert_array_equal(f, [-1.0, -2.0, -3.0])
    assert r == 2.0
    assert loop.step_spec(chain(scale(0.5)), R, 2) is not None
    for opt in (adam(0.1), normalized_sgd(0.1, 1.0), chain(sgd(np.ones((R, 2))), project_l2_ball(1.0)),
                chain(project_l2_ball(1.0), sgd(0.1)), projected(sgd(0.1), box=(-1.0, 1.0))):
        assert loop.step_spec(opt, R, 2) is None
    assert loop.step_spec(chain(sgd(0.1), project_l2_ball(1.0)), R, 8) is None   # numpy's pairwise norm


def test_shared_sums_are_numpys_orders():
    """The two orders the compiled projection relies on: numpy sums < 8 terms in order."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 7)) * 10.0 ** rng.integers(-8, 8, size=(20000, 7))
    seq = a[:, 0].copy()
    for j in range(1, 7):
        seq += a[:, j]
    np.testing.assert_array_equal(a.sum(-1), seq)
    b = rng.normal(size=(20000, 8)) * 10.0 ** rng.integers(-8, 8, size=(20000, 8))
    seq8 = b[:, 0].copy()
    for j in range(1, 8):
        seq8 += b[:, j]
    assert not np.array_equal(b.sum(-1), seq8)        # 8 terms: pairwise, hence the d < 8 rule


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba (the `fast` extra) is not installed")
@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.Philox, np.random.SFC64])
@pytest.mark.parametrize("positional", [False, True])
def test_compiled_sampler_keeps_the_stream_across_chunks(bit_generator, positional):
    """Numpy's default PCG64 is stepped inline (lanes jump ahead, the generator is advanced
    after); other generators fill a buffer.  Either way the chunks continue the same stream,
    and the generator ends where the numpy path leaves it."""
    import simulations.learners.training as tr

    model, data = _problem(2, X=2, H=9, V=3, d=2, positional=positional, data_positional=True)
    opt = chain(sgd(0.2), project_l2_ball(1.0))
    runs = {}
    for name, chunk in (("numpy", 1 << 22), ("compiled", 1 << 22), ("compiled", 1)):
        old = tr._CHUNK_FLOATS
        tr._CHUNK_FLOATS = chunk                                           # 1: one step per chunk
        rng = np.random.Generator(bit_generator(7))
        try:
            with path(name):
                res = train_one_pass(data, model=model, optimizer=opt, T=5, batch=3, replicates=2, rng=rng,
                                     stream="tokens", log_every=1)
        finally:
            tr._CHUNK_FLOATS = old
        runs[name, chunk] = res.thetas, rng.random(3)
    ref_thetas, ref_next = runs["numpy", 1 << 22]
    for key, (thetas, nxt) in runs.items():
        np.testing.assert_array_equal(thetas, ref_thetas, err_msg=str(key))
        np.testing.assert_array_equal(nxt, ref_next, err_msg=str(key))


def test_pcg64_lane_jumps_are_the_streams_offsets():
    """``pcg64_lanes``'s jump table: lane ``i`` starts ``i * length`` doubles into the stream."""
    rng = np.random.default_rng(3)
    pcg, jumps = chain_sampler.pcg64_lanes(rng, 5, 4)
    state = int(pcg[0]) << 64 | int(pcg[1])
    inc = rng.bit_generator.state["state"]["inc"]
    for i in range(5):
        a = int(jumps[i, 0]) << 64 | int(jumps[i, 1])
        c = int(jumps[i, 2]) << 64 | int(jumps[i, 3])
        moved = np.random.default_rng(3)
        moved.bit_generator.advance(5 * i)
        assert (a * state + c) % (1 << 128) == moved.bit_generator.state["state"]["state"]
        assert moved.bit_generator.state["state"]["inc"] == inc
    assert chain_sampler.pcg64_lanes(np.random.Generator(np.random.Philox(0)), 5, 4) is None


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba (the `fast` extra) is not installed")
@pytest.mark.parametrize("V, iid_features", [(8, False), (9, False), (3, True), (2, True)])
@pytest.mark.parametrize("data_positional", [False, True])
def test_compiled_sampler_branches_outside_the_hypothesis_range(V, iid_features, data_positional):
    """The PCG64 kernel has copies of its loop for ``V = 2 .. 8`` with previous-token contexts
    (the hypothesis test above covers ``V <= 4``) and a general one (``V >= 9``, or features
    that ignore the previous token, whose contexts are the prompts): all give the numpy
    path's iterates bit for bit."""
    model, data = _problem(5, X=3, H=11, V=V, d=2, positional=False,
                           data_positional=data_positional)
    if iid_features:                                # the same features after every token
        t = model.features.table[:, :, -1:]
        model = AutoregressiveLinearModel(TabularFeatures(np.broadcast_to(t, model.features.table.shape),
                                                          11), model.theta, model.prompt_weights)
        assert ScoreEngine(model.features).ctx_shape[2] == 1
    opt = chain(sgd(0.2), project_l2_ball(1.0))
    kw = dict(T=6, K=3, R=5, seed=9, stream="tokens")       # 5 replicates x 3: a partial lane group
    a = _run("numpy", model, data, opt, **kw)
    b = _run("compiled", model, data, opt, **kw)
    np.testing.assert_array_equal(a.thetas, b.thetas)
    c = _run("compiled", model, data, opt, **{**kw, "seed": 10})
    assert not np.array_equal(c.thetas, a.thetas)                       # negative control


def _uniform_bits():
    """Integers ``m`` of ``u = m 2^-53`` around the thresholds' edges."""
    rng = np.random.default_rng(0)
    m = rng.integers(0, 1 << 53, size=4000, dtype=np.uint64)
    return np.concatenate([m, np.array([0, 1, 2, (1 << 52), (1 << 53) - 2, (1 << 53) - 1],
                                       dtype=np.uint64)])


def test_integer_thresholds_compare_as_the_doubles_do():
    """``T <= m`` exactly when ``c <= m 2^-53``, thresholds on the uniforms' grid and next to it included."""
    m = _uniform_bits()
    grid = m[:200].astype(np.float64) * 2.0 ** -53               # thresholds equal to some u
    c = np.concatenate([grid, np.nextafter(grid, 2.0), np.nextafter(grid, -1.0),
                        np.random.default_rng(1).random(300),
                        [0.0, -0.0, 5e-324, 1e-300, 2.0 ** -53, 1.0, np.nextafter(1.0, 0.0),
                         1.0000000000000002, 3.5, np.inf, np.nan, -1e-300]])
    c = c[: c.size // 3 * 3].reshape(-1, 3)                         # 3 thresholds: rows of V = 4
    t = chain_sampler.integer_thresholds(np.pad(c, ((0, 0), (0, 1)), constant_values=np.inf))
    assert t.dtype == np.uint64 and t.shape == c.shape
    want = c.reshape(-1)[:, None] <= (m.astype(np.float64) * 2.0 ** -53)[None]
    got = t.reshape(-1)[:, None] <= m[None]
    np.testing.assert_array_equal(got, want)
    floor = np.floor(np.nan_to_num(c, nan=1.0, posinf=1.0) * 2.0 ** 53).clip(0).astype(np.uint64)
    assert not np.array_equal(floor.reshape(-1)[:, None] <= m[None], want)    # negative control
