r"""Hypothesis properties of the coverage profile (:mod:`theory.coverage`), the divergences
(:mod:`theory.divergences`) and the law of the log-ratio (:mod:`theory.log_ratio`).

Instances are generated from seeds drawn by hypothesis, with small shapes.  Only true,
derivable relations are asserted:

* ``Cov_N`` in [0, 1], non-increasing in ``N``, equal to the direct sum of the weights of the
  points with ``log pi/pi_hat >= log N`` (convention ``>= N`` up to ``TIE_ATOL`` on the log
  scale, :func:`theory.coverage.comparison_log_thresholds`);
* ``Cov_1(pi || pi) = 1`` and ``Cov_N(pi || pi) = 0`` for ``N > 1``;
* per-prompt coverage averaged with ``mu`` is the coverage profile; the empirical coverage of a
  sample that repeats support points ``c_i`` times is the exact coverage with weights
  ``c_i / sum c``; the on-policy coverage with exact weights is the mean per-prompt coverage;
* answer-level coverage: for every ``c in (0, 1)``,
  ``Cov^ans_N <= Cov_{cN} / (1 - c)`` (derivation in
  :func:`test_answer_level_coverage_is_controlled_by_sequence_coverage`; the pointwise
  ``Cov^ans_N <= Cov_N`` is *false* in general, see ``tests/unit/test_coverage.py``);
* ``KL >= 0``; ``D_H^2`` in [0, 1] (one-half convention); ``D_H^2 <= TV <= sqrt(2 D_H^2)``;
  Pinsker ``TV <= sqrt(KL / 2)``; ``D_H^2 <= KL / 2``; ``CE = KL + entropy``;
* stopped KL: equal to the direct ``E[min(log N, S)]``, ``<= min(log N, E S)``,
  non-decreasing in ``N``, equal to ``E S`` once ``log N >= max S`` (and at ``N = inf``).
"""

import numpy as np
from hypothesis import given, strategies as st
from scipy.special import logsumexp

from theory.coverage import (TIE_ATOL, answer_level_coverage, comparison_log_thresholds,
                             coverage_profile, empirical_coverage, on_policy_coverage,
                             per_prompt_coverage)
from theory.divergences import (categorical_kl, categorical_squared_hellinger, cross_entropy,
                                kl_divergence, squared_hellinger, stopped_kl, total_variation)
from theory.instances import bernoulli_witness
from theory.log_ratio import exact_log_ratio, exact_stopped_kl, markov_kl, path_token_kls
from theory.models import AutoregressiveLinearModel, TabularFeatures

SEEDS = st.integers(0, 2 ** 32 - 1)


# --------------------------------------------------------------------------- builders
def random_log_probs(rng, shape, *, zeros=True):
    """Normalised log-probabilities along the last axis, with varied concentration and optional zeros."""
    conc = 10 ** rng.uniform(-1.5, 1.5)
    p = rng.dirichlet(np.full(shape[-1], conc), size=shape[:-1])
    if not zeros:                                  # small concentrations can underflow to exact 0
        p = 0.999 * p + 0.001 / shape[-1]
    if zeros and shape[-1] > 1:
        drop = rng.random(shape) < 0.2
        drop[..., 0] = False                       # keep at least one point of positive mass
        p = np.where(drop, 0.0, p)
        p /= p.sum(-1, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.log(p)


def random_log_ratios(rng, m):
    """Log-ratios with ties, +inf (model misses mass) and values straddling 0."""
    pool = rng.normal(scale=rng.choice([0.1, 1.0, 5.0]), size=max(1, m // 2))
    lr = rng.choice(np.concatenate([pool, [np.inf, 0.0]]), size=m)
    return lr


def thresholds_for(lr, rng):
    """Thresholds hitting every log-ratio exactly (boundary cases), plus 1, inf and random ones."""
    finite = lr[np.isfinite(lr) & (lr >= 0)]
    return np.sort(np.concatenate([[1.0, np.inf], np.exp(finite), 1 + rng.exponential(3.0, size=5)]))


def direct_coverage(lr, N, w):
    """Definition: sum of the weights of the points whose ratio is >= N (tie tolerance included)."""
    cut = comparison_log_thresholds(N)
    return np.array([w[lr >= c].sum() for c in np.ravel(cut)]).reshape(np.shape(N))


def tabular_pair(seed, X, H, V, d):
    rng = np.random.default_rng(seed)
    feats = TabularFeatures(rng.normal(size=(X, H, V + 1, V, d)), horizon=H)
    mu = rng.dirichlet(np.ones(X))
    scale = 10 ** rng.uniform(-1, 0.5)
    data = AutoregressiveLinearModel(feats, scale * rng.normal(size=d), prompt_weights=mu)
    model = AutoregressiveLinearModel(feats, scale * rng.normal(size=d), prompt_weights=mu)
    return data, model, rng


pair_specs = st.tuples(SEEDS, st.integers(1, 3), st.integers(1, 4), st.integers(2, 3), st.integers(1, 3))


# -------------------------------------------------------------- coverage profile
@given(SEEDS, st.integers(1, 30), st.booleans())
def test_coverage_in_unit_interval_nonincreasing_and_equal_to_definition(seed, m, weighted):
    rng = np.random.default_rng(seed)
    lr = random_log_ratios(rng, m)
    w = rng.dirichlet(np.ones(m)) if weighted else None
    N = thresholds_for(lr, rng)
    cov = coverage_profile(lr, N, weights=w)
    assert cov.shape == N.shape
    assert np.all((cov >= 0) & (cov <= 1))
    assert np.all(np.diff(cov) <= 0)
    np.testing.assert_allclose(cov, direct_coverage(lr, N, np.full(m, 1 / m) if w is None else w),
                               rtol=0, atol=1e-12)
    # vectorised over any shape of N, in the same order
    np.testing.assert_array_equal(coverage_profile(lr, N[::-1].reshape(1, -1), weights=w)[0], cov[::-1])


@given(SEEDS, st.integers(1, 30))
def test_unweighted_coverage_is_exact_fraction(seed, m):
    rng = np.random.default_rng(seed)
    lr = random_log_ratios(rng, m)
    N = thresholds_for(lr, rng)
    cov = coverage_profile(lr, N)
    k = np.array([np.count_nonzero(lr >= c) for c in comparison_log_thresholds(N)])
    np.testing.assert_array_equal(cov, k / m)            # exactly k/m: no summation rounding


@given(pair_specs)
def test_model_against_itself_covers_everything_at_one_and_nothing_above(spec):
    data, _, rng = tabular_pair(*spec)
    law = exact_log_ratio(data, data)
    np.testing.assert_allclose(law.coverage(1.0), 1.0, rtol=0, atol=1e-12)
    assert law.coverage(1.0 + 1e-6) == 0.0
    assert law.kl() == 0.0
    # The same distribution computed through a different code path (callable features):
    # the log-ratios are a few ulps from 0 and the tie tolerance still counts them at N = 1.
    from theory.models import CallableFeatures
    t = data.features.table
    wrapped = data.replace(features=CallableFeatures(
        lambda x, prefix, h: t[x, h, prefix[:, h - 1].astype(np.int64) if h else data.vocab_size],
        data.n_prompts, data.horizon, data.vocab_size, data.dim))
    law2 = exact_log_ratio(data, wrapped)
    assert np.max(np.abs(law2.values)) < 1e-12
    np.testing.assert_allclose(law2.coverage(1.0), 1.0, rtol=0, atol=1e-12)


@given(st.floats(1e-6, 0.5), st.one_of(st.just(1.0), st.floats(1.001, 1e12)))
def test_witness_tie_counts_and_slightly_larger_threshold_does_not(p, N):
    r"""Prop. F.2 witness Ber(p) vs Ber(p/N): the ratio is exactly N on y = 1, so Cov_N = p (>= N)."""
    inst = bernoulli_witness(p, N)
    law = exact_log_ratio(inst.data, inst.model_class)
    # Cov_N = p when N > 1 (only y = 1 reaches N); at N = 1 both ratios are 1 and Cov_1 = 1.
    expected = p if N > 1 else 1.0
    np.testing.assert_allclose(law.coverage(N), expected, rtol=1e-12, atol=1e-15)
    # A threshold clearly above the tie (factor 1 + 1e-8 >> e^TIE_ATOL - 1) no longer counts it.
    assert law.coverage(N * (1 + 1e-8)) == 0.0
    # The same tie through the empirical estimators, all with the >= convention.
    lp, lq = np.log([1 - p, p]), np.log([1 - p / N, p / N])
    assert empirical_coverage(lp[1:], lq[1:], N) == 1.0
    assert on_policy_coverage([[lp[1]]], [[lq[1]]], N) == 1.0
    assert per_prompt_coverage([[lp[1] - lq[1]]], N)[0] == 1.0


@given(st.floats(0.0, 50.0), st.sampled_from([0.0, 0.5, 0.999, 1.001, 2.0, 1e4]))
def test_tie_tolerance_boundary(log_n, multiple):
    """A log-ratio at log N - a TIE_ATOL counts iff a <= 1 (tolerance), for every estimator."""
    N = np.exp(log_n)
    lr = np.log(N) - multiple * TIE_ATOL
    counts = multiple <= 1.0
    assert coverage_profile([lr], N) == float(counts)
    assert coverage_profile([lr, -np.inf], N, weights=[1.0, 0.0]) == float(counts)
    assert per_prompt_coverage([[lr]], N)[0] == float(counts)
    # log-likelihoods must be <= 0: put the ratio in the model (lr >= 0) or in the reference
    ref, mod = (0.0, -lr) if lr >= 0 else (lr, 0.0)
    assert empirical_coverage([ref], [mod], N) == float(counts)
    assert on_policy_coverage([[ref]], [[mod]], N) == float(counts)


@given(pair_specs)
def test_per_prompt_coverage_averaged_with_mu_is_coverage_profile(spec):
    data, model, rng = tabular_pair(*spec)
    lp_d, lp_m = data.enumerate_log_probs(), model.enumerate_log_probs()
    with np.errstate(invalid="ignore"):
        lr = lp_d - lp_m
    N = np.concatenate([[1.0], np.exp(np.abs(rng.normal(size=6)) * 2), [np.inf]])
    per = per_prompt_coverage(lr, N, weights=np.exp(lp_d))
    assert per.shape == (data.n_prompts, N.size)
    assert np.all((per >= 0) & (per <= 1))
    w = (data.prompt_weights[:, None] * np.exp(lp_d)).ravel()
    total = coverage_profile(lr.ravel(), N, weights=w / w.sum())
    np.testing.assert_allclose(data.prompt_weights @ per, total, atol=1e-12)
    np.testing.assert_allclose(exact_log_ratio(data, model).coverage(N), total, atol=1e-12)


@given(SEEDS, st.integers(1, 8), st.integers(1, 3))
def test_empirical_coverage_with_repeated_points_equals_weighted_coverage(seed, m, n_models):
    """pi' = pi_D on a sample that lists support point i exactly c_i times == exact coverage with c/sum(c)."""
    rng = np.random.default_rng(seed)
    log_ref = random_log_probs(rng, (m,), zeros=False)
    log_models = random_log_probs(rng, (n_models, m))
    counts = rng.integers(1, 6, size=m)
    idx = rng.permutation(np.repeat(np.arange(m), counts))
    N = np.sort(np.concatenate([[1.0, np.inf], 1 + rng.exponential(3.0, size=4),
                                np.exp(np.clip(log_ref - log_models[0], 0, 700))]))
    emp = empirical_coverage(log_ref[idx], log_models[:, idx], N)
    assert emp.shape == (n_models, N.size)
    for k in range(n_models):
        with np.errstate(invalid="ignore"):
            lr = log_ref - log_models[k]
        exact = coverage_profile(lr, N, weights=counts / counts.sum())
        np.testing.assert_allclose(emp[k], exact, rtol=0, atol=1e-12)


@given(SEEDS, st.integers(1, 4), st.integers(1, 12))
def test_empirical_coverage_all_pairs_broadcast(seed, K, n):
    """(K, 1, n) against (1, K, n) gives every ordered pair of candidates."""
    rng = np.random.default_rng(seed)
    ll = -np.abs(rng.normal(size=(K, n)) * 3)                  # log-likelihoods are <= 0
    ll[rng.random((K, n)) < 0.1] = -np.inf
    N = [1.0, 2.0, 20.0]
    pairs = empirical_coverage(ll[:, None, :], ll[None, :, :], N)
    assert pairs.shape == (K, K, 3)
    for i in range(K):
        for j in range(K):
            np.testing.assert_array_equal(pairs[i, j], empirical_coverage(ll[i], ll[j], N))
    # a candidate against itself: every ratio is 1 (or 0/0, never counted)
    finite = np.isfinite(ll).mean(axis=1)
    np.testing.assert_allclose(pairs[np.arange(K), np.arange(K), 0], finite)
    assert np.all(pairs[np.arange(K), np.arange(K), 1:] == 0)


@given(SEEDS, st.integers(1, 4), st.integers(1, 6))
def test_on_policy_with_exact_weights_is_mean_per_prompt_coverage(seed, n, m):
    rng = np.random.default_rng(seed)
    ref = random_log_probs(rng, (n, m), zeros=False)
    mod = random_log_probs(rng, (n, m))
    pbar = np.exp(random_log_probs(rng, (n, m)))
    N = [1.0, 1.5, 4.0, 100.0]
    got = on_policy_coverage(ref, mod, N, weights=pbar)
    with np.errstate(invalid="ignore"):
        lr = ref - mod
    # 0/0 (both log-likelihoods -inf) never reaches N: the convention of the empirical estimators
    per = per_prompt_coverage(np.where(np.isnan(lr), -np.inf, lr), N, weights=pbar)
    np.testing.assert_allclose(got, per.mean(axis=0), atol=1e-12)


@given(SEEDS, st.integers(1, 3), st.integers(2, 8), st.integers(1, 4), st.floats(0.05, 0.95),
       st.floats(1.0, 1e3))
def test_answer_level_coverage_is_controlled_by_sequence_coverage(seed, n_prompts, m, n_ans, c, scale):
    r"""Cov^ans_N <= Cov_{cN} / (1 - c) for every c in (0, 1) with cN >= 1 (here N = scale / c).

    Derivation: fix an answer a with pi(a)/pi_hat(a) >= N and let B be its responses with
    pi(y)/pi_hat(y) < cN.  Then pi_hat(a) >= pi_hat(B) > pi(B)/(cN), so
    pi(B) < cN pi_hat(a) <= c pi(a): at least (1 - c) pi(a) of the answer's mass has a
    sequence-level ratio >= cN.  Summing over such answers gives the claim (the tie
    tolerance enters both sides in the same direction).
    """
    rng = np.random.default_rng(seed)
    N = scale / c
    lp = random_log_probs(rng, (n_prompts, m))
    lq = random_log_probs(rng, (n_prompts, m))
    answer = rng.integers(0, n_ans, size=m)
    mu = rng.dirichlet(np.ones(n_prompts))
    ans = answer_level_coverage(lp, lq, answer, N, prompt_weights=mu)
    assert 0.0 <= ans <= 1.0
    w = (mu[:, None] * np.exp(lp)).ravel()
    with np.errstate(invalid="ignore"):
        lr = (lp - lq).ravel()
    cN = max(1.0, c * N)                                  # = scale up to rounding
    seq = coverage_profile(np.where(w > 0, lr, -np.inf), cN, weights=w / w.sum())
    assert ans <= seq / (1 - c) + 1e-12
    # each response its own answer: answer-level == sequence-level coverage
    ident = answer_level_coverage(lp, lq, np.arange(m), N, prompt_weights=mu)
    np.testing.assert_allclose(ident, coverage_profile(np.where(w > 0, lr, -np.inf), N, weights=w / w.sum()),
                               atol=1e-12)


# ------------------------------------------------------------------- divergences
@st.composite
def distribution_pairs(draw):
    seed = draw(SEEDS)
    n_prompts = draw(st.integers(1, 3))
    m = draw(st.integers(1, 10))
    rng = np.random.default_rng(seed)
    lp = random_log_probs(rng, (n_prompts, m))
    mode = draw(st.sampled_from(["independent", "close", "equal", "q_has_zeros"]))
    if mode == "equal":
        lq = lp.copy()
    elif mode == "close":
        p = np.exp(lp) * np.exp(rng.normal(scale=1e-6, size=lp.shape))
        with np.errstate(divide="ignore"):
            lq = np.log(p / p.sum(-1, keepdims=True))
    else:
        lq = random_log_probs(rng, (n_prompts, m), zeros=mode == "q_has_zeros")
    mu = rng.dirichlet(np.ones(n_prompts))
    return lp, lq, mu


@given(distribution_pairs())
def test_kl_nonnegative_and_zero_on_equal_distributions(pair):
    lp, lq, mu = pair
    kl = kl_divergence(lp, lq, prompt_weights=mu)
    assert kl >= 0.0
    assert not np.isnan(kl)
    assert kl_divergence(lp, lp, prompt_weights=mu) == 0.0
    # per-prompt average
    per = np.array([kl_divergence(lp[i], lq[i]) for i in range(len(mu))])
    np.testing.assert_allclose(kl, mu @ per if np.all(np.isfinite(per)) else np.inf, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(per, np.where(np.isinf(per), np.inf, categorical_kl(lp, lq)), rtol=1e-12,
                               atol=1e-15)


@given(distribution_pairs())
def test_hellinger_tv_and_kl_relations(pair):
    lp, lq, mu = pair
    h2 = squared_hellinger(lp, lq, prompt_weights=mu)
    tv = total_variation(lp, lq, prompt_weights=mu)
    kl = kl_divergence(lp, lq, prompt_weights=mu)
    assert 0.0 <= h2 <= 1.0
    assert 0.0 <= tv <= 1.0
    # definition (one-half convention) computed directly
    p, q = np.exp(lp), np.exp(lq)
    np.testing.assert_allclose(h2, mu @ (0.5 * ((np.sqrt(p) - np.sqrt(q)) ** 2).sum(-1)), atol=1e-12)
    np.testing.assert_allclose(categorical_squared_hellinger(lp, lq),
                               0.5 * ((np.sqrt(p) - np.sqrt(q)) ** 2).sum(-1), atol=1e-12)
    # Compared on the squared (KL) scale with an absolute slack of 1e-14: the inputs are
    # log-probabilities rounded to ~1e-16, which limits KL and D_H^2 to an absolute accuracy
    # of that order (relations between quantities of size 1e-14 are not resolvable).
    tol = 1e-14
    assert h2 <= tv + tol                                  # D_H^2 <= TV
    assert tv ** 2 <= 2 * h2 + tol                         # TV <= sqrt(2) D_H (Jensen over prompts)
    assert 2 * tv ** 2 <= kl + tol                         # Pinsker TV <= sqrt(KL/2) (Jensen over prompts)
    assert 2 * h2 <= kl + tol                              # 2 D_H^2 <= -2 log BC <= KL


@given(distribution_pairs())
def test_cross_entropy_is_kl_plus_entropy(pair):
    lp, lq, mu = pair
    ce = cross_entropy(lp, lq, prompt_weights=mu)
    kl = kl_divergence(lp, lq, prompt_weights=mu)
    ent = cross_entropy(lp, lp, prompt_weights=mu)
    if np.isinf(kl):
        assert np.isinf(ce)
    else:
        np.testing.assert_allclose(ce, kl + ent, rtol=1e-10, atol=1e-12)


# -------------------------------------------------------------------- stopped KL
@given(SEEDS, st.integers(1, 20), st.booleans(), st.booleans())
def test_stopped_kl_direct_definition_and_bounds(seed, m, weighted, with_inf):
    rng = np.random.default_rng(seed)
    s = rng.exponential(rng.choice([0.1, 1.0, 10.0]), size=m)
    if with_inf:
        s[rng.random(m) < 0.2] = np.inf
    w = rng.dirichlet(np.ones(m)) if weighted else np.full(m, 1 / m)
    N = np.sort(np.concatenate([[1.0], np.exp(s[np.isfinite(s)]), 1 + rng.exponential(5.0, size=5)]))
    got = stopped_kl(s, N, weights=w if weighted else None)
    direct = np.array([w @ np.minimum(np.log(n), s) for n in N])
    np.testing.assert_allclose(got, direct, rtol=1e-12, atol=1e-14)
    mean = w @ s if not with_inf or np.all(np.isfinite(s)) else np.inf
    assert np.all(got <= np.minimum(np.log(N), mean) + 1e-12)
    assert np.all(np.diff(got) >= -1e-14)
    # N so large that log N >= max S: equal to E[S]; at N = inf too.
    if np.all(np.isfinite(s)):
        huge = np.array([np.exp(s.max() + 1.0), np.inf])
        np.testing.assert_allclose(stopped_kl(s, huge, weights=w if weighted else None), mean,
                                   rtol=1e-12, atol=1e-15)
    else:
        assert stopped_kl(s, np.inf, weights=w if weighted else None) == np.inf


@given(SEEDS, st.integers(1, 6))
def test_stopped_kl_accepts_per_position_matrix(seed, H):
    rng = np.random.default_rng(seed)
    eps = rng.exponential(size=(7, H))
    N = [1.0, 3.0, 1e3]
    np.testing.assert_allclose(stopped_kl(eps, N), stopped_kl(eps.sum(1), N), rtol=1e-14)


@given(pair_specs)
def test_exact_stopped_kl_on_models(spec):
    """Prop. F.10 / D.10 ingredients: path KLs, <= min(log N, KL), -> KL as N -> inf."""
    data, model, rng = tabular_pair(*spec)
    kl = markov_kl(data, model)
    N = np.array([1.0, 1.5, 4.0, 50.0, np.inf])
    skl = exact_stopped_kl(data, model, N)
    assert np.all(skl <= np.minimum(np.log(N), kl) + 1e-12)
    assert np.all(np.diff(skl) >= -1e-14)
    np.testing.assert_allclose(skl[-1], kl, rtol=1e-10, atol=1e-14)
    # direct: enumerate the support, per-position KLs along each path
    x, y, lw = data.enumerate_support()
    eps = path_token_kls(data, model, x, y)
    nxt_d, nxt_m = data.next_token_log_probs(x, y), model.next_token_log_probs(x, y)
    np.testing.assert_allclose(eps, (np.exp(nxt_d) * (nxt_d - nxt_m)).sum(-1), atol=1e-12)
    direct = np.array([np.exp(lw) @ np.minimum(np.log(n), eps.sum(-1)) for n in N])
    np.testing.assert_allclose(skl, direct, rtol=1e-10, atol=1e-14)


@given(pair_specs, st.floats(1.0, 1e6))
def test_sequence_ratio_tail_never_exceeds_kl_bound(spec, N):
    """Markov inequality on the positive part: Cov_N <= (KL + 1/e) / log N for N > 1 (sanity of the law)."""
    data, model, _ = tabular_pair(*spec)
    law = exact_log_ratio(data, model)
    kl = law.kl()
    np.testing.assert_allclose(kl, markov_kl(data, model), rtol=1e-9, atol=1e-12)
    # E[Z^+] = KL + E[Z^-] <= KL + 1/e since E[Z^-] = E_pi[(log pi_hat/pi)^+] <= sup_t t e^{-t} = 1/e.
    if np.log(N) > 2 * TIE_ATOL:                     # the tie tolerance lowers the cut to log N - TIE_ATOL
        assert law.coverage(N) <= (kl + 1 / np.e) / (np.log(N) - TIE_ATOL) + 1e-12
    np.testing.assert_allclose(logsumexp(np.log(law.weights)), 0.0, atol=1e-12)
