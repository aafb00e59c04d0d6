r"""Bounded cost from every public argument of :mod:`theory`.

Each case below reproduces a failure of the earlier code first (a request whose memory or
time grew without bound with an argument), then checks the fix:

* a huge request is refused *before* allocating, by a ``ValueError`` that says how much
  memory it would need and what to use instead (:func:`theory.validation.check_allocation`,
  budget :func:`theory.allocation_budget`);
* ``pass_at_k`` takes :math:`O(1)` memory per value and is accurate to a few ulps (exact
  rationals on small cases, ``mpmath`` at large ones);
* exact enumeration counts bytes (models x prompts x sequences), with estimates that bound
  the measured peak (``tracemalloc``);
* ``markov_kl`` and the certified bounds of time-homogeneous chains take :math:`O(\log H)`
  matrix work (``H = 10**12`` in seconds) and agree with the position-by-position path;
* ``per_prompt_coverage`` never builds the prompts x points x thresholds table;
* the Example 3.1 closed forms take :math:`O(1)` memory in ``H``.

Reproductions that would exhaust the machine on the earlier code run under an address-space
cap (:func:`memory_cap`: a ``MemoryError`` instead) and a wall-clock limit
(:func:`time_limit`: a ``TimeoutError`` instead of running for hours).
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
import tracemalloc
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import log_softmax

import theory
from theory.best_of_n import pass_at_k
from theory.coverage import comparison_log_thresholds, coverage_profile, per_prompt_coverage
from theory.models import MarkovModel, categorical_model

GiB = 1 << 30


# ---------------------------------------------------------------------------------------
# guards for the reproductions
# ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def memory_cap(headroom=1 * GiB):
    """Cap the address space at current usage + ``headroom`` (Linux), so that an unguarded
    huge allocation raises ``MemoryError`` instead of exhausting the shared machine."""
    import resource

    with open("/proc/self/statm") as fh:
        vm = int(fh.read().split()[0]) * resource.getpagesize()
    saved = resource.getrlimit(resource.RLIMIT_AS)
    cap = vm + headroom
    if saved[1] != resource.RLIM_INFINITY:
        cap = min(cap, saved[1])
    resource.setrlimit(resource.RLIMIT_AS, (cap, saved[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, saved)


@contextlib.contextmanager
def time_limit(seconds):
    """Raise ``TimeoutError`` in the main thread after ``seconds`` of wall-clock time."""
    def handler(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def peak_bytes(fn):
    """Peak traced allocation of ``fn()`` (numpy reports its buffers to ``tracemalloc``)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def markov(rng, X, V, H, *, batch=None, homogeneous=True, noise=1.0, base=None):
    shape = ((batch,) if batch else ()) + (X, 1 if homogeneous else H, V + 1, V)
    logits = rng.normal(size=shape) * noise
    if base is not None:
        logits = logits + base
    return MarkovModel(log_softmax(logits, axis=-1), H)


# ---------------------------------------------------------------------------------------
# the shared helper
# ---------------------------------------------------------------------------------------

def test_check_allocation_says_how_much_and_what_instead():
    from theory.validation import DEFAULT_ALLOCATION_BUDGET, allocation_budget_bytes, check_allocation

    with pytest.raises(ValueError, match=r"`n` = 5 needs about 3 GiB .* budget of 2 GiB; use batches"):
        check_allocation(3 * GiB, "`n` = 5", "use batches")
    check_allocation(DEFAULT_ALLOCATION_BUDGET, "`n`", "x")           # at the budget: fine
    with theory.allocation_budget(4 * GiB):
        check_allocation(3 * GiB, "`n`", "x")
        assert allocation_budget_bytes() == min(4 * GiB, theory.validation.physical_memory_bytes())
        with theory.allocation_budget(1 << 20):
            with pytest.raises(ValueError, match="budget of 1 MiB"):
                check_allocation(2 << 20, "`n`", "x")
        check_allocation(3 * GiB, "`n`", "x")
    assert allocation_budget_bytes() == min(DEFAULT_ALLOCATION_BUDGET, theory.validation.physical_memory_bytes())
    with pytest.raises(ValueError, match="`n_bytes`"):
        theory.allocation_budget(0)
    with pytest.raises(TypeError, match="`n_bytes`"):
        theory.allocation_budget("8GB")


# ---------------------------------------------------------------------------------------
# pass_at_k
# ---------------------------------------------------------------------------------------

def test_pass_at_k_issue_example_in_constant_memory():
    """``pass_at_k(10**9, 10**8, 10**8)`` used 3.9 GiB for one number."""
    with memory_cap(512 << 20), time_limit(60):
        assert pass_at_k(10**9, 10**8, 10**8) == 1.0
    # O(1) memory per value, whatever the number of factors min(c, k)
    assert peak_bytes(lambda: pass_at_k(10**7, 10**6, 10**6)) < 64 << 10
    assert peak_bytes(lambda: pass_at_k(np.full(1000, 10**12), 10**9, np.arange(1, 1001) * 10**6)) < 512 << 10


def test_pass_at_k_matches_exact_rationals():
    n, c, k = np.meshgrid(np.arange(1, 41), np.arange(0, 41), np.arange(1, 41), indexing="ij")
    ok = (c <= n) & (k <= n)
    n, c, k = n[ok], c[ok], k[ok]
    got = pass_at_k(n, c, k)
    exact = np.array([float(1 - Fraction(math.comb(a - b, d), math.comb(a, d)))
                      for a, b, d in zip(n.tolist(), c.tolist(), k.tolist())])
    assert np.array_equal(got == 0, exact == 0)
    pos = exact > 0
    assert np.max(np.abs(got[pos] - exact[pos]) / exact[pos]) < 2e-15


def _pass_at_k_mpmath(n, c, k):
    if c == 0:
        return mpmath.mpf(0)
    if n - c < k:
        return mpmath.mpf(1)
    s = (mpmath.loggamma(n - c + 1) + mpmath.loggamma(n - k + 1)
         - mpmath.loggamma(n - c - k + 1) - mpmath.loggamma(n + 1))
    return -mpmath.expm1(s)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**18), st.floats(0, 1), st.floats(0, 1), st.booleans())
def test_pass_at_k_matches_mpmath_at_large_arguments(n, fc, fk, log_scale):
    """Relative error a few ulps for n up to 10**18 (the product had O(min(c, k)) terms)."""
    if log_scale:   # c, k spread over orders of magnitude
        c, k = int(round((n + 1) ** fc)) - 1, max(1, int(round(n ** fk)))
    else:
        c, k = int(fc * n), max(1, int(fk * n))
    c, k = min(c, n), min(k, n)
    got = float(pass_at_k(n, c, k))
    with mpmath.workdps(60):
        ref = _pass_at_k_mpmath(n, c, k)
        if ref == 0:
            assert got == 0.0
        else:
            assert float(abs(got - ref) / ref) < 4e-15


def test_pass_at_k_edge_cases_of_the_stirling_form():
    with mpmath.workdps(60):
        for n, c, k in [(10**12, 5 * 10**11, 5 * 10**11 - 1), (10**12, 5 * 10**11, 5 * 10**11),
                        (10**12, 9, 9), (10**18, 10**3, 10**3), (40, 20, 20), (25, 9, 16)]:
            ref = _pass_at_k_mpmath(n, c, k)
            assert float(abs(pass_at_k(n, c, k) - ref) / ref) < 4e-15, (n, c, k)


# ---------------------------------------------------------------------------------------
# exact enumeration counts bytes
# ---------------------------------------------------------------------------------------

def test_enumeration_limit_counts_models_and_prompts(rng):
    """64 models or 200 prompts at V**H = 2**22 (within `max_sequences`) exhausted memory."""
    from theory.log_ratio import exact_log_ratio

    data = markov(rng, 1, 2, 22)
    batch = markov(rng, 1, 2, 22, batch=64)
    wide = markov(rng, 200, 2, 22)
    with memory_cap(), time_limit(120):
        with pytest.raises(ValueError, match=r"64 model\(s\) x 1 prompt\(s\).* needs about [\d.]+ GiB.*certified"):
            batch.enumerate_log_probs()
        with pytest.raises(ValueError, match=r"64 model\(s\).*GiB"):
            exact_log_ratio(data, batch)
        with pytest.raises(ValueError, match=r"200 prompt\(s\).*GiB"):
            wide.enumerate_support()
    # the budget can be raised explicitly (not run: it would allocate)
    with theory.allocation_budget(1 << 50):
        with pytest.raises(ValueError, match="`max_sequences`"):
            batch.enumerate_log_probs(max_sequences=2**21)


@pytest.mark.parametrize("P,X,H,V", [(1, 1, 10, 2), (8, 3, 8, 3), (64, 1, 6, 4), (2, 5, 12, 2)])
def test_enumeration_estimates_bound_the_measured_peak(rng, P, X, H, V):
    from theory.log_ratio import exact_log_ratio, exact_stopped_kl
    from theory.log_ratio.exact import _exact_log_ratio_bytes, _exact_stopped_kl_bytes
    from theory.models import enumerate_sequences
    from theory.models.markov import _sequences_bytes, support_bytes

    d, m = markov(rng, X, V, H), markov(rng, X, V, H, batch=P)
    cases = [(lambda: m.enumerate_log_probs(), m._enumeration_bytes()),
             (lambda: enumerate_sequences(V, H), _sequences_bytes(V**H, H)),
             (lambda: m.enumerate_support(), support_bytes(m, V**H)),
             (lambda: exact_log_ratio(d, m), _exact_log_ratio_bytes(d, m)),
             (lambda: exact_stopped_kl(d, m, 4.0), _exact_stopped_kl_bytes(d, m))]
    for fn, estimate in cases:
        measured = peak_bytes(fn)
        assert measured <= estimate <= 4 * measured + (1 << 17), (measured, estimate)


def test_callable_feature_enumeration_estimate(rng):
    from theory.models import AutoregressiveLinearModel, CallableFeatures

    X, H, V, dim = 2, 7, 3, 4
    table = rng.normal(size=(X, H, V + 1, V, dim))

    def fn(x, prefix, h):
        prev = prefix[:, h - 1] if h > 0 else np.full(len(x), V)
        return table[x, h, prev]

    m = AutoregressiveLinearModel(CallableFeatures(fn, n_prompts=X, horizon=H, vocab_size=V, dim=dim),
                                  rng.normal(size=(5, dim)))
    measured = peak_bytes(m.enumerate_log_probs)
    assert measured <= m._enumeration_bytes() <= 4 * measured + (1 << 17)


# ---------------------------------------------------------------------------------------
# markov_kl and state visits at any H
# ---------------------------------------------------------------------------------------

def _two_state_kl_closed_form(td, tm, H):
    """KL of two homogeneous 2-token chains by the eigen-decomposition of the chain (mpmath)."""
    with mpmath.workdps(50):
        P = [[mpmath.e ** mpmath.mpf(td[0, 0, p, v]) for v in range(2)] for p in range(3)]
        g = [sum(P[p][v] * (mpmath.mpf(td[0, 0, p, v]) - mpmath.mpf(tm[0, 0, p, v])) for v in range(2))
             for p in range(3)]
        a, b = P[0][1], P[1][0]                         # 0 -> 1 and 1 -> 0
        lam = 1 - a - b
        pi = [b / (a + b), a / (a + b)]
        m1 = P[2][:2]                                   # law of y_1 (after the BOS step)
        geo = (1 - lam ** (H - 1)) / (1 - lam)          # sum_{j=0}^{H-2} lam**j
        visits = [(H - 1) * pi[i] + (m1[i] - pi[i]) * geo for i in range(2)]
        return float(g[2] + visits[0] * g[0] + visits[1] * g[1])


def test_markov_kl_any_horizon(rng):
    """``markov_kl`` at H = 10**9 asked for 22 GiB (and time linear in H)."""
    from theory.log_ratio import markov_kl

    td = log_softmax(rng.normal(size=(1, 1, 3, 2)), axis=-1)
    tm = log_softmax(rng.normal(size=(1, 1, 3, 2)), axis=-1)
    for H in (10**9, 10**12):
        with memory_cap(), time_limit(60):
            start = time.perf_counter()
            kl = float(markov_kl(MarkovModel(td, H), MarkovModel(tm, H)))
            assert time.perf_counter() - start < 5.0
        assert kl == pytest.approx(_two_state_kl_closed_form(td, tm, H), rel=1e-11)


@pytest.mark.parametrize("H", [5000, 20000])
def test_markov_kl_squaring_agrees_with_stepping(rng, H):
    from theory.log_ratio import markov_kl

    X, V = 2, 3
    d, m = markov(rng, X, V, H), markov(rng, X, V, H, batch=3)
    step_d = MarkovModel(np.broadcast_to(d.log_probs, (X, H, V + 1, V)), H)
    step_m = MarkovModel(np.broadcast_to(m.log_probs, (3, X, H, V + 1, V)), H)
    fast, slow = markov_kl(d, m), markov_kl(step_d, step_m)
    assert np.allclose(fast, slow, rtol=1e-11, atol=0)
    assert np.allclose(d.state_visits(), step_d.state_visits(), rtol=1e-11, atol=1e-12)
    assert np.allclose(d.state_visits(), d.state_marginals().sum(axis=0), rtol=1e-11, atol=1e-12)


def test_per_position_outputs_are_refused_beyond_the_budget(rng):
    from theory.log_ratio import markov_token_kl_profile

    d, m = markov(rng, 1, 2, 10**10), markov(rng, 1, 2, 10**10)
    with memory_cap(), time_limit(30):
        with pytest.raises(ValueError, match=r"`horizon` = 10000000000 .*state_visits"):
            markov_token_kl_profile(d, m)
        with pytest.raises(ValueError, match="`horizon`"):
            d.state_marginals()


# ---------------------------------------------------------------------------------------
# certified bounds at any H
# ---------------------------------------------------------------------------------------

def _iid_pair(p, p_model, H):
    """I.i.d. tokens: Z = K log(p/p') + (H - K) log((1-p)/(1-p')) with K ~ Bin(H, p)."""
    return categorical_model_h([1 - p, p], H), categorical_model_h([1 - p_model, p_model], H)


def categorical_model_h(probs, H):
    lp = np.log(np.asarray(probs, dtype=float))
    return MarkovModel(np.broadcast_to(lp, (1, 1, 3, 2)), H)


def _iid_coverage(p, p_model, H, N):
    """Exact P[Z >= log N - TIE_ATOL] for the i.i.d. pair (mpmath for the cut-off)."""
    t = comparison_log_thresholds(N)
    out = []
    with mpmath.workdps(50):
        a = mpmath.log(mpmath.mpf(p) / mpmath.mpf(p_model))
        b = mpmath.log((1 - mpmath.mpf(p)) / (1 - mpmath.mpf(p_model)))
        for ti in np.atleast_1d(t):
            # Z >= t  <=>  K (a - b) >= t - H b  (a > b)
            k_star = mpmath.ceil((mpmath.mpf(float(ti)) - H * b) / (a - b))
            out.append(float(stats.binom.sf(float(k_star) - 1, H, p)))
    return np.array(out)


def test_certified_coverage_any_horizon():
    """Certified bounds advertised at any H took time linear in H (still running at 10**9)."""
    from theory.log_ratio import certified_coverage

    H = 10**12
    p, p_model = 0.3, 0.3 * (1 - 2e-6)            # log-ratio of order one at this H
    d, m = _iid_pair(p, p_model, H)
    N = np.array([1.0, 1.5, 3.0, 10.0])
    with memory_cap(2 * GiB), time_limit(120):
        start = time.perf_counter()
        b = certified_coverage(d, m, N)
        elapsed = time.perf_counter() - start
    exact = _iid_coverage(p, p_model, H, N)
    assert elapsed < 30.0                      # about 1 s unloaded
    assert np.all(b.lo <= exact + 1e-12) and np.all(exact <= b.hi + 1e-12)
    assert b.max_gap < 0.2                     # not vacuous


def test_certified_lattice_refuses_huge_horizons():
    from theory.log_ratio import certified_log_ratio

    d, m = _iid_pair(0.3, 0.2, 10**9)
    with memory_cap(), time_limit(60):
        with pytest.raises(ValueError, match=r"lattice method with `H` = 1000000000.*method='fourier'"):
            certified_log_ratio(d, m, method="lattice")


def _force_stepping(monkeypatch):
    import theory.squaring as chain

    monkeypatch.setattr(chain, "SQUARING_MIN_HORIZON", 1 << 62)


@pytest.mark.parametrize("method", ["fourier", "fft"])
def test_certified_squaring_agrees_with_stepping(rng, monkeypatch, method):
    from theory.log_ratio import certified_coverage

    H = 6000
    base = rng.normal(size=(2, 1, 4, 3))
    d = markov(rng, 2, 3, H, noise=0.0, base=base)
    m = markov(rng, 2, 3, H, noise=3e-2, base=base)
    N = np.exp(np.linspace(0.0, 6.0, 7))
    fast = certified_coverage(d, m, N, method=method, n_bins=1024, n_freq=4096)
    _force_stepping(monkeypatch)
    slow = certified_coverage(d, m, N, method=method, n_bins=1024, n_freq=4096)
    assert np.allclose(fast.lo, slow.lo, atol=1e-9) and np.allclose(fast.hi, slow.hi, atol=1e-9)


def test_certified_internals_squaring_agree_with_stepping(rng):
    from theory.log_ratio import certified as C, lattice as K

    H, X, V = 5000, 2, 3
    base = rng.normal(size=(X, 1, V + 1, V))
    d = markov(rng, X, V, H, noise=0.0, base=base)
    tm = d.log_probs.copy()
    with np.errstate(divide="ignore"):
        tm[0, 0, 1] = np.log([0.5, 0.5, 0.0])   # a model zero where the data is positive
    m = MarkovModel(tm, H)
    lpd, lpm = K.tables(d, m)
    mu = np.asarray(d.prompt_weights)
    fast, slow = K.moment_final(lpd, lpm, H, mu), K.moment_pass(lpd, lpm, H, X, mu)
    for key in ("mean", "sd", "hard_lo", "hard_hi"):
        assert fast[key][-1] == pytest.approx(slow[key][-1], rel=1e-9, abs=1e-9), key
    assert fast["inf_mass"] == pytest.approx(slow["inf_mass"], rel=1e-11)
    assert 0 < fast["inf_mass"] < 1
    step = 0.013
    w_b, _, d_b = K.step_arrays(lpd, lpm, 0, True)
    w_t, _, d_t = K.step_arrays(lpd, lpm, 1, False)
    err_b, err_t = d_b - np.rint(d_b / step) * step, d_t - np.rint(d_t / step) * step
    assert np.allclose(C._error_range(fast, w_b, err_b, w_t, err_t, H, mu),
                       C._error_range(slow, w_b, err_b, w_t, err_t, H, mu), rtol=1e-11)
    e_fast = C._tilted_mean(d, m, step)
    import theory.squaring as chain
    saved = chain.SQUARING_MIN_HORIZON
    chain.SQUARING_MIN_HORIZON = 1 << 62
    try:
        e_slow = C._tilted_mean(d, m, step)
    finally:
        chain.SQUARING_MIN_HORIZON = saved
    assert e_fast == pytest.approx(e_slow, rel=1e-10)


def test_characteristic_function_any_horizon():
    from theory.log_ratio import markov_characteristic_function

    H = 10**12
    p, p_model = 0.3, 0.3 * (1 - 2e-6)
    d, m = _iid_pair(p, p_model, H)
    t = np.array([0.0, 0.5, 2.0])
    with memory_cap(), time_limit(60):
        phi, err = markov_characteristic_function(d, m, t)
    with mpmath.workdps(40):
        a = mpmath.log(mpmath.mpf(p) / p_model)
        b = mpmath.log((1 - mpmath.mpf(p)) / (1 - p_model))
        exact = [complex((p * mpmath.expj(ti * a) + (1 - p) * mpmath.expj(ti * b)) ** H) for ti in t]
    assert np.all(np.abs(phi - np.array(exact)) <= err + 1e-15)


# ---------------------------------------------------------------------------------------
# per_prompt_coverage
# ---------------------------------------------------------------------------------------

def _per_prompt_reference(lr, N, weights=None):
    """The earlier implementation: one (n_prompts, m, |N|) comparison table."""
    lr = np.asarray(lr, dtype=float)
    log_n = comparison_log_thresholds(N)
    w = np.full(lr.shape, 1.0 / lr.shape[1]) if weights is None else np.asarray(weights, dtype=float)
    if weights is not None:
        lr = np.where(w > 0, lr, -np.inf)
    hits = lr[:, :, None] >= np.ravel(log_n)[None, None, :]
    return np.clip(np.einsum("pm,pmk->pk", w, hits), 0, 1).reshape((lr.shape[0],) + np.shape(log_n))


def test_per_prompt_coverage_issue_example_in_bounded_memory(rng):
    """2**20 points x 4096 thresholds built a 4 GiB array."""
    lr = rng.normal(size=(1, 2**20))
    N = np.exp(np.linspace(0.0, 4.0, 4096))
    with memory_cap(1 * GiB), time_limit(120):
        cov = per_prompt_coverage(lr, N)
    assert np.array_equal(cov[0], coverage_profile(lr[0], N))
    assert peak_bytes(lambda: per_prompt_coverage(lr[:, :2**16], N[:1024])) < 8 << 20


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(1, 25), st.integers(1, 6), st.booleans(), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_per_prompt_coverage_matches_the_table(n_prompts, m, k, weighted, with_inf, seed):
    r = np.random.default_rng(seed)
    lr = np.round(r.normal(size=(n_prompts, m)) * 2, 1)      # ties on purpose
    if with_inf:
        lr[r.random(lr.shape) < 0.2] = np.inf
    N = np.exp(np.round(r.uniform(0, 4, size=k), 1))
    N[0] = 1.0
    w = None
    if weighted:
        w = r.dirichlet(np.ones(m), size=n_prompts)
        w[:, : m // 3] = 0.0
        w /= w.sum(axis=1, keepdims=True)
    got = per_prompt_coverage(lr, N, weights=w)
    assert np.allclose(got, _per_prompt_reference(lr, N, w), rtol=0, atol=1e-14)
    for i in range(n_prompts):
        assert np.allclose(got[i], coverage_profile(lr[i], N, weights=None if w is None else w[i]),
                           rtol=0, atol=1e-15)


# ---------------------------------------------------------------------------------------
# Example 3.1 / 3.2 closed forms
# ---------------------------------------------------------------------------------------

def test_example_closed_forms_in_constant_memory():
    """The memory estimate of `example_3_1_action_level_tv` was 3.3x too low: now there is
    nothing to estimate, the memory does not grow with H."""
    from theory.vgb import (example_3_1_action_level_coverage_tail, example_3_1_action_level_tv,
                            example_3_2_action_level_regret)

    for fn in (lambda: example_3_1_action_level_tv(10**6, 0.01),
               lambda: example_3_2_action_level_regret(10**6, 0.7),
               lambda: example_3_1_action_level_coverage_tail(10**6, 0.01, [1.5, 3.0])):
        assert peak_bytes(fn) < 256 << 10
    with memory_cap(), time_limit(30):
        tv = example_3_1_action_level_tv(10**12, 1e-6)
    # Omega(min(eps sqrt(H), 1)): the two binomials are about normal with means
    # delta = sqrt(H - 1) eps / (2 + eps) standard deviations apart, TV = 2 Phi(delta / 2) - 1.
    delta = np.sqrt(10**12 - 1) * 1e-6 / (2 + 1e-6)
    assert tv == pytest.approx(2 * stats.norm.cdf(delta / 2) - 1, rel=1e-4)


def _exact_binomial_tv(n, q, r):
    return sum(abs(math.comb(n, k) * (q**k * (1 - q) ** (n - k) - r**k * (1 - r) ** (n - k)))
               for k in range(n + 1)) / 2


@pytest.mark.parametrize("H", [1, 2, 3, 7, 30])
@pytest.mark.parametrize("eps", [Fraction(0), Fraction(1, 4), Fraction(1), Fraction(7, 2)])
def test_example_3_1_tv_exact(H, eps):
    from theory.vgb import example_3_1_action_level_tv

    q = (1 + eps) / (2 + eps)
    exact = float(_exact_binomial_tv(H - 1, q, Fraction(1, 2)))
    assert example_3_1_action_level_tv(H, float(eps)) == pytest.approx(exact, abs=2e-15)


@pytest.mark.parametrize("H", [1, 2, 5, 30])
def test_example_3_2_tv_matches_pmf_sum(H):
    from theory.vgb import example_3_2_action_level_regret

    from scipy.special import expit
    p = expit(0.7)
    k = np.arange(H)
    ref = 0.5 * np.abs(stats.binom.pmf(k, H - 1, 0.5) - stats.binom.pmf(k, H - 1, p)).sum()
    assert example_3_2_action_level_regret(H, 0.7)[1] == pytest.approx(ref, abs=1e-14)


def test_certified_stopped_kl_any_horizon():
    """The stopped-KL lattice took time linear in H."""
    from theory.log_ratio import certified_stopped_kl

    H = 10**12
    d, m = _iid_pair(0.3, 0.2, H)          # every context has the same token KL: S = H * kl
    N = np.array([2.0, 10.0, 1e6])
    with memory_cap(2 * GiB), time_limit(120):
        start = time.perf_counter()
        b = certified_stopped_kl(d, m, N)
        elapsed = time.perf_counter() - start
    c = np.log(N)                          # D_seq,N = min(log N, H kl) = log N
    assert elapsed < 30.0                  # about 1 s unloaded
    assert np.all(b.lo <= c + 1e-12) and np.all(c <= b.hi + 1e-12)
    assert b.lo[-1] >= 0.9 * c[-1]         # not vacuous


def test_certified_stopped_kl_squaring_agrees_with_stepping(rng, monkeypatch):
    from theory.log_ratio import certified_stopped_kl

    H = 5000
    base = rng.normal(size=(2, 1, 4, 3))
    d = markov(rng, 2, 3, H, noise=0.0, base=base)
    m = markov(rng, 2, 3, H, noise=0.3, base=base)
    N = np.exp([0.5, 2.0, 5.0, 20.0])
    fast = certified_stopped_kl(d, m, N, n_bins=1024)
    _force_stepping(monkeypatch)
    slow = certified_stopped_kl(d, m, N, n_bins=1024)
    # equal up to the floating-point slack of the FFT products (added to the fast path's gap)
    assert np.allclose(fast.lo, slow.lo, atol=1e-5 * 20) and np.allclose(fast.hi, slow.hi, atol=1e-5 * 20)
    assert np.all(fast.lo <= slow.lo + 1e-12) and np.all(fast.hi >= slow.hi - 1e-12)
    assert slow.lo[-1] > 0.5 * np.log(N[-1])        # the saturation bound keeps the gap small


def test_sigma_star_sq_any_horizon(rng):
    """The tabular inherent variance summed per-position marginals: O(H) memory."""
    from theory.models import AutoregressiveLinearModel, TabularFeatures

    table = rng.normal(size=(2, 1, 3, 2, 3))
    theta = np.array([0.3, -0.2, 0.1])
    per_pos = AutoregressiveLinearModel(TabularFeatures(np.broadcast_to(table, (2, 5000, 3, 2, 3)), horizon=5000),
                                        theta).sigma_star_sq()
    fast = AutoregressiveLinearModel(TabularFeatures(table, horizon=5000), theta).sigma_star_sq()
    assert fast == pytest.approx(per_pos, rel=1e-11)
    with memory_cap(), time_limit(60):
        huge = AutoregressiveLinearModel(TabularFeatures(table, horizon=10**12), theta).sigma_star_sq()
    mid = AutoregressiveLinearModel(TabularFeatures(table, horizon=10**6), theta).sigma_star_sq()
    assert huge / 10**12 == pytest.approx(mid / 10**6, rel=1e-5)     # linear in H up to the transient


def test_iid_token_law_counts_prompts():
    """2.7 million count vectors (within MAX_COUNT_VECTORS) for 200 prompts exhausted memory."""
    from theory.iid_tokens import IidTokenLaw

    lp = np.log(np.full((200, 4), 0.25))
    with memory_cap(), time_limit(60):
        with pytest.raises(ValueError, match=r"200 prompt\(s\) needs about [\d.]+ GiB"):
            IidTokenLaw(lp, horizon=250)
    law = IidTokenLaw(lp[:2], horizon=3, drop=0.0)
    with pytest.raises(ValueError, match=r"`model_log_probs`.*`N`.*GiB"):
        law.per_prompt_coverage(np.broadcast_to(lp[:2], (10**6, 2, 4)), np.linspace(1, 9, 1000))


def test_example_3_1_coverage_tail_at_huge_horizon():
    """The first form of the log-ratio, -n log 2 - k log q - (n - k) log(1 - q), cancels to
    about 1e-4 absolute at n = 10**12; the tail is now one CDF at an accurately placed cut."""
    from theory.vgb import example_3_1_action_level_coverage_tail

    H, eps, N = 10**12, 1e-6, [1.0, 2.0, 20.0]
    got = example_3_1_action_level_coverage_tail(H, eps, N)
    n = H - 1
    ref = []
    with mpmath.workdps(50):
        e = mpmath.mpf(eps)
        a, b = mpmath.log1p(e / 2), mpmath.log1p(e / (2 + e))
        for t in N:
            # (n - k) a - k b > log N  <=>  k < (n a - log N) / (a + b)
            k_c = min(max(int(mpmath.ceil((n * a - mpmath.log(t)) / (a + b))), 0), n + 1)
            ref.append(float(stats.binom.cdf(k_c - 1, n, 0.5)) if k_c > 0 else 0.0)
    assert np.allclose(got, ref, rtol=1e-10, atol=0)
