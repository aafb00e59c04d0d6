"""The tabular token samplers draw the same tokens as their straightforward references.

The references below are the position loops the samplers replaced (a gather of every
chain's CDF row with three index arrays, then a compare-and-sum over the token axis), kept
here verbatim so that the stream of a seed stays pinned: any change of the uniforms' order,
of the CDF arithmetic or of the inversion rule makes these tests fail.  Both kernels are
checked: the numpy position loop and, when numba is installed, the compiled one.
"""

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import log_softmax

import simulations.learners.stream as stream_module
from simulations.learners.training import DataStream
from theory.models import MarkovModel, chain_sampler, markov

try:
    import numba  # noqa: F401
    KERNELS = ["numpy", "compiled"]
except ImportError:                                   # the `fast` extra is not installed
    KERNELS = ["numpy"]


@contextlib.contextmanager
def kernel(name):
    """Run the samplers with the numpy loop or the compiled kernel."""
    old = chain_sampler._KERNEL, chain_sampler.MIN_COMPILED_TOKENS
    chain_sampler._KERNEL = False if name == "numpy" else None
    chain_sampler.MIN_COMPILED_TOKENS = 0                    # small test cases use the kernel too
    try:
        if name == "compiled":
            assert chain_sampler.compiled_kernel() is not None, "numba is installed but the kernel failed"
        yield
    finally:
        chain_sampler._KERNEL, chain_sampler.MIN_COMPILED_TOKENS = old

BIT_GENERATORS = [np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64,
                  np.random.MT19937]


def reference_stream_tokens(stream, x, rng):
    """``DataStream.tokens`` as first written: one fancy gather and one reduction per position."""
    hz, v = stream.horizon, stream.vocab_size
    dtype = np.uint8 if v <= 256 else np.int64
    u = rng.random(x.shape + (hz,))
    cdf_table = stream._cdf
    if stream.iid:
        cdf = cdf_table[x, 0, -1]
        y = np.zeros(x.shape + (hz,), dtype=dtype)
        for a in range(v - 1):
            y += (u >= cdf[..., a, None])
        return y
    y = np.empty(x.shape + (hz,), dtype=dtype)
    prev = np.full(x.shape, v, dtype=np.int64)
    for h in range(hz):
        rows = cdf_table[x, h if cdf_table.shape[1] > 1 else 0, prev]
        yh = (rows <= u[..., h, None]).sum(-1)
        y[..., h] = yh
        prev = yh
    return y


def reference_markov_sample(model, n, rng):
    """``MarkovModel.sample`` as first written (prompts from ``rng.choice``, one draw per position)."""
    p, v = model.n_models, model.vocab_size
    xs = rng.choice(model.n_prompts, size=(p, n), p=model.prompt_weights)
    ys = np.empty((p, n, model.horizon), dtype=np.uint8 if v <= 256 else np.int64)
    cdf = np.cumsum(np.exp(model._flat), axis=-1)
    cdf[..., -1] = np.inf
    mod = np.arange(p)[:, None]
    prev = np.full((p, n), v, dtype=np.int64)
    u = np.empty((p, n))
    for h in range(model.horizon):
        rng.random(out=u)
        rows = cdf[mod, xs, model._pos(h), prev]
        y_h = (rows <= u[..., None]).sum(axis=-1)
        ys[:, :, h] = y_h
        prev = y_h
    return xs.reshape(model.batch_shape + (n,)), ys.reshape(model.batch_shape + (n, model.horizon))


def random_markov(rng, *, vocab, horizon, prompts, homogeneous, batch=(), zeros=False):
    hd = 1 if homogeneous else horizon
    logits = rng.normal(scale=2.0, size=batch + (prompts, hd, vocab + 1, vocab))
    if zeros and vocab > 1:                           # some impossible tokens: repeated thresholds
        logits = np.where(rng.random(logits.shape) < 0.3, -np.inf, logits)
        logits[..., 0] = np.maximum(logits[..., 0], 0.0)
    weights = rng.dirichlet(np.ones(prompts))
    return MarkovModel(log_softmax(logits, axis=-1), horizon, weights)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), vocab=st.integers(1, 6), horizon=st.integers(1, 12),
       prompts=st.integers(1, 3), homogeneous=st.booleans(), zeros=st.booleans(),
       shape=st.sampled_from([(1,), (5,), (3, 2, 4), (2, 7)]), block=st.sampled_from([1, 7, 1 << 20]),
       bitgen=st.sampled_from(BIT_GENERATORS))
def test_stream_tokens_equal_reference(seed, vocab, horizon, prompts, homogeneous, zeros, shape,
                                       block, bitgen):
    rng = np.random.default_rng(seed)
    model = random_markov(rng, vocab=vocab, horizon=horizon, prompts=prompts,
                          homogeneous=homogeneous, zeros=zeros)
    stream = DataStream(model, "tokens")
    x = stream.prompts(shape, rng)
    want = reference_stream_tokens(stream, x, np.random.Generator(bitgen(seed)))
    old_block = stream_module._TOKEN_BLOCK
    stream_module._TOKEN_BLOCK = block * horizon           # blocks of `block` sequences
    try:
        for name in KERNELS:
            with kernel(name):
                got = stream.tokens(x, np.random.Generator(bitgen(seed)))
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want, err_msg=name)
    finally:
        stream_module._TOKEN_BLOCK = old_block


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("homogeneous", [True, False])
def test_stream_generator_state_after_tokens(homogeneous, name):
    """The generator ends in the same state: later draws of the stream are unchanged too."""
    model = random_markov(np.random.default_rng(1), vocab=3, horizon=9, prompts=2,
                          homogeneous=homogeneous)
    stream = DataStream(model, "tokens")
    x = np.array([[0, 1, 1], [1, 0, 0]])
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    with kernel(name):
        stream.tokens(x, a)
    reference_stream_tokens(stream, x, b)
    assert a.random() == b.random()


@pytest.mark.parametrize("name", KERNELS)
def test_stream_pins_a_wrong_sampler(name):
    """Negative control: a sampler that reads the same uniforms position-major (a plausible
    wrong rewrite) draws other tokens, so the comparisons above can fail."""
    rng = np.random.default_rng(3)
    model = random_markov(rng, vocab=3, horizon=6, prompts=2, homogeneous=True)
    stream = DataStream(model, "tokens")
    x = stream.prompts((50,), rng)
    want = reference_stream_tokens(stream, x, np.random.default_rng(0))
    u = np.random.default_rng(0).random((6, 50))               # the same numbers, position-major
    with kernel(name):
        wrong = stream.tokens(x, _Replay(u.T))
        right = stream.tokens(x, _Replay(u.reshape(50, 6)))
    assert not np.array_equal(wrong, want)
    assert np.array_equal(right, want)


class _Replay:
    """A generator stand-in that returns fixed uniforms."""

    def __init__(self, u):
        self.u = u

    def random(self, size):
        return np.ascontiguousarray(self.u).reshape(size)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), vocab=st.integers(1, 5), horizon=st.integers(1, 10),
       prompts=st.integers(1, 3), homogeneous=st.booleans(), zeros=st.booleans(),
       batch=st.sampled_from([(), (1,), (3,)]), n=st.integers(0, 40),
       block=st.sampled_from([1, 4, 1 << 20]))
def test_markov_sample_equals_reference(seed, vocab, horizon, prompts, homogeneous, zeros, batch, n,
                                        block):
    model = random_markov(np.random.default_rng(seed), vocab=vocab, horizon=horizon,
                          prompts=prompts, homogeneous=homogeneous, batch=batch, zeros=zeros)
    xr, yr = reference_markov_sample(model, n, np.random.default_rng(seed))
    old_block = markov._UNIFORM_BLOCK
    markov._UNIFORM_BLOCK = block * model.n_models * n       # blocks of `block` positions
    try:
        for name in KERNELS:
            with kernel(name):
                x, y = model.sample(n, rng=np.random.default_rng(seed))
            np.testing.assert_array_equal(x, xr)
            assert y.dtype == yr.dtype
            np.testing.assert_array_equal(y, yr, err_msg=name)
    finally:
        markov._UNIFORM_BLOCK = old_block


def test_ci_installs_the_fast_extra():
    """The compiled kernel's tests above are only skipped without numba; CI installs it."""
    import pathlib
    import re
    import tomllib

    root = pathlib.Path(__file__).resolve().parents[2]
    installed = re.search(r'pip install -e "\.\[([a-z,]+)\]"', (root / ".ci" / "run").read_text())
    assert installed is not None and "fast" in installed.group(1).split(",")
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("numba") for dep in extras["fast"])
