"""``ScoreEngine.context_token_counts`` equals a brute-force count over every token."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import simulations.learners.scores as scores
from simulations.learners.training import ScoreEngine
from theory.models import TabularFeatures


def brute_force(engine, x, y, w):
    lead = x.shape[:-1]
    m = int(np.prod(lead)) if lead else 1
    xf = x.reshape(m, -1)
    yf = np.asarray(y, dtype=np.int64).reshape(m, xf.shape[1], -1)
    wf = np.ones(yf.shape) if w is None else w.reshape(yf.shape)
    out = np.zeros((m, engine.n_ctx, engine.vocab_size))
    for i in range(m):
        ctx = engine.context_index(xf[i], yf[i])
        np.add.at(out[i], (ctx, yf[i]), wf[i])
    return out.reshape(lead + out.shape[1:])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), vocab=st.integers(1, 17), horizon=st.integers(1, 9),
       prompts=st.integers(1, 3), kind=st.sampled_from(["markov", "position", "iid", "both"]),
       lead=st.sampled_from([(), (3,), (2, 3)]), weighted=st.booleans(),
       block=st.sampled_from([1, 5, 1 << 17]), uint8=st.booleans())
def test_counts_equal_brute_force(seed, vocab, horizon, prompts, kind, lead, weighted, block, uint8):
    rng = np.random.default_rng(seed)
    hd = horizon if kind in ("position", "both") else 1
    table = rng.normal(size=(prompts, hd, vocab + 1, vocab, 2))
    if kind in ("iid", "position"):                     # features ignore the previous token
        table = np.broadcast_to(table[:, :, -1:], table.shape).copy()
    engine = ScoreEngine(TabularFeatures(table, horizon))
    x = rng.integers(0, prompts, size=lead + (4,))
    y = rng.integers(0, vocab, size=lead + (4, horizon)).astype(np.uint8 if uint8 else np.int64)
    w = rng.random(y.shape) if weighted else None
    old = scores._COUNT_BLOCK
    scores._COUNT_BLOCK = block * 4 * horizon
    try:
        got = engine.context_token_counts(x, y, w)
    finally:
        scores._COUNT_BLOCK = old
    want = brute_force(engine, x, y, w)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_counts_detect_a_wrong_context():
    """Negative control: shifting one token changes the counts of its context and the next."""
    engine = ScoreEngine(TabularFeatures(np.random.default_rng(0).normal(size=(2, 1, 4, 3, 2)), 5))
    x = np.array([[0, 1]])
    y = np.array([[[0, 1, 2, 0, 1], [2, 2, 1, 0, 0]]], dtype=np.uint8)
    base = engine.context_token_counts(x, y)
    y2 = y.copy()
    y2[0, 0, 2] = 1
    assert not np.array_equal(engine.context_token_counts(x, y2), base)
    np.testing.assert_array_equal(base, brute_force(engine, x, y, None))
