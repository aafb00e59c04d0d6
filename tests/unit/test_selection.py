"""Unit tests for :mod:`simulations.learners.selection`.

The tournaments are checked against a brute-force double loop over (candidate, rival) pairs
built from :func:`theory.coverage.empirical_coverage` one pair at a time; plus tie-breaking,
chunking / threading invariance, the 0/0 and N = 1 conventions, and that only the candidates'
likelihoods enter (the selection is a function of the log-likelihood matrix alone).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.learners.selection import (TIE_TOL, best_pass_at_n, min_cross_entropy, min_kl,
                                            offset_tournament, onpolicy_coverage_matrix,
                                            pairwise_coverage, pairwise_coverage_counts,
                                            simple_tournament)
from theory.coverage import empirical_coverage, on_policy_coverage


def brute_pairwise(ll, N):
    K = ll.shape[0]
    out = np.empty((K, K))
    for j in range(K):
        for k in range(K):
            out[j, k] = float(empirical_coverage(ll[j], ll[k], N))
    return out


def brute_simple(ll, N, tie_break="loglik"):
    K = ll.shape[0]
    cov = brute_pairwise(ll, N)
    scores = [max(cov[j, k] for j in range(K)) for k in range(K)]
    best = min(scores)
    tied = [k for k in range(K) if scores[k] == best]
    if tie_break == "loglik":
        keys = [ll[k].sum() for k in tied]
        top = max(keys)
        tied = [k for k, v in zip(tied, keys) if v == top] if np.isfinite(top) else tied
    return tied[0], scores


def brute_offset(ll, on, w, N, a):
    K = ll.shape[0]
    scores = []
    for k in range(K):
        vals = []
        for j in range(K):
            held = float(empirical_coverage(ll[j], ll[k], N))
            gen = on[k] if on.shape[0] == K else on[0]
            onp = float(on_policy_coverage(gen[j], gen[k], N, weights=None if w is None else w[k]))
            vals.append(held - 2 * N ** a * onp)
        scores.append(max(vals))
    best = min(scores)
    tied = [k for k in range(K) if scores[k] <= best + TIE_TOL]
    keys = [ll[k].sum() for k in tied]
    return tied[int(np.argmax(keys))], scores


def random_loglik(rng, K, n, scale=1.5, ties=False):
    ll = -np.abs(rng.normal(scale=scale, size=(K, n))) - 0.01
    if ties:  # coarse grid of log-probabilities: exact ties in the counts are common
        ll = -np.round(-ll * 2) / 2 - 0.5
    return ll


# ----------------------------------------------------------------------------- pairwise

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 7), n=st.integers(1, 40),
       N=st.sampled_from([1.0, 1.5, 2.0, np.e, 4.0, 100.0]), ties=st.booleans())
def test_pairwise_matches_brute_force(seed, K, n, N, ties):
    rng = np.random.default_rng(seed)
    ll = random_loglik(rng, K, n, ties=ties)
    np.testing.assert_array_equal(pairwise_coverage(ll, N), brute_pairwise(ll, N))
    np.testing.assert_array_equal(pairwise_coverage_counts(ll, N, method="reference"),
                                  np.rint(brute_pairwise(ll, N) * n).astype(int))


def test_pairwise_vectorised_thresholds(rng):
    ll = random_loglik(rng, 5, 30)
    N = np.array([[1.0, 2.0], [3.0, 50.0]])
    out = pairwise_coverage(ll, N)
    assert out.shape == (2, 2, 5, 5)
    for idx in np.ndindex(2, 2):
        np.testing.assert_array_equal(out[idx], brute_pairwise(ll, float(N[idx])))


@pytest.mark.parametrize("max_bytes", [1, 97, 1000, 10**9])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_chunking_and_threads_do_not_change_counts(rng, max_bytes, workers):
    ll = random_loglik(rng, 13, 57, ties=True)
    ref = pairwise_coverage_counts(ll, [2.0, 5.0], max_bytes=10**9, workers=1)
    out = pairwise_coverage_counts(ll, [2.0, 5.0], max_bytes=max_bytes, workers=workers)
    np.testing.assert_array_equal(out, ref)
    a = simple_tournament(ll, [2.0, 5.0], max_bytes=max_bytes, workers=workers)
    b = simple_tournament(ll, [2.0, 5.0])
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_conventions_zero_probability_and_ties():
    # sample 0: both -inf (0/0, never counts); sample 1: pi_1 = 0 (ratio inf, counts);
    # sample 2: ratio exactly 2 (a tie, counts at N = 2).
    ll = np.array([[-np.inf, np.log(0.5), np.log(0.5)],
                   [-np.inf, -np.inf, np.log(0.25)]])
    c = pairwise_coverage_counts(ll, 2.0)
    assert c[0, 1] == 2 and c[1, 0] == 0 and c[0, 0] == 0 and c[1, 1] == 0
    np.testing.assert_array_equal(pairwise_coverage(ll, 2.0), brute_pairwise(ll, 2.0))
    # N = 1: every finite self-ratio is 1 >= 1, the 0/0 sample never counts.
    c1 = pairwise_coverage_counts(ll, 1.0)
    assert c1[0, 0] == 2 and c1[1, 1] == 1


def test_pairwise_input_validation():
    with pytest.raises(ValueError, match="`loglik`"):
        pairwise_coverage(np.zeros(3), 2.0)
    with pytest.raises(ValueError, match="`loglik`"):
        pairwise_coverage(np.array([[0.5, -1.0]]), 2.0)
    with pytest.raises(ValueError, match="`loglik`"):
        pairwise_coverage(np.array([[np.nan, -1.0]]), 2.0)
    with pytest.raises(ValueError, match="`N`"):
        pairwise_coverage(np.array([[-1.0]]), 0.5)
    with pytest.raises(ValueError, match="`N`"):
        simple_tournament(np.array([[-1.0]]), np.inf)
    with pytest.raises(ValueError, match="`method`"):
        pairwise_coverage_counts(np.array([[-1.0]]), 2.0, method="fast")
    with pytest.raises(ValueError, match="`tie_break`"):
        simple_tournament(np.array([[-1.0]]), 2.0, tie_break="random")


# ------------------------------------------------------------------------------ simple

@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 8), n=st.integers(1, 30),
       N=st.sampled_from([1.0, 2.0, 3.0, 8.0]), ties=st.booleans(),
       tie_break=st.sampled_from(["loglik", "index"]))
def test_simple_tournament_matches_brute_force(seed, K, n, N, ties, tie_break):
    rng = np.random.default_rng(seed)
    ll = random_loglik(rng, K, n, ties=ties)
    sel = simple_tournament(ll, N, tie_break=tie_break)
    idx, scores = brute_simple(ll, N, tie_break)
    assert sel.index == idx
    np.testing.assert_array_equal(sel.scores, scores)
    assert sel.n_tied == sum(s == min(scores) for s in scores)


def test_tie_break_rules():
    # All three candidates have score 0 at N = 100; candidate 2 has the best likelihood.
    ll = np.log([[0.5, 0.5], [0.4, 0.6], [0.6, 0.55]])
    by_ll = simple_tournament(ll, 100.0)
    by_index = simple_tournament(ll, 100.0, tie_break="index")
    assert by_ll.n_tied == 3 and by_ll.index == 2 and by_index.index == 0
    # Equal likelihoods among the tied: the lowest index.
    ll2 = np.log([[0.5, 0.5], [0.5, 0.5]])
    assert simple_tournament(ll2, 100.0).index == 0
    # A strictly better score wins whatever its likelihood.
    ll3 = np.log([[0.9, 0.9, 0.9, 0.01], [0.5, 0.5, 0.5, 0.5]])
    assert simple_tournament(ll3, 4.0).index == 1


def test_tournament_per_threshold():
    ll = np.log([[0.5, 0.5, 0.5, 0.5], [0.9, 0.9, 0.9, 0.05]])
    sel = simple_tournament(ll, [2.0, 20.0])
    # N = 2: 0.5/0.05 = 10 >= 2 -> candidate 1 scores 1/4, candidate 0 wins.
    # N = 20: nobody out-covers anybody; tie broken by likelihood -> candidate 0
    # (log .5*4 = -2.77 > log(.9^3 .05) = -3.31).
    assert sel.index.tolist() == [0, 0] and sel.scores.shape == (2, 2)
    assert sel.scores[0].tolist() == [0.0, 0.25] and sel.scores[1].tolist() == [0.0, 0.0]


def test_only_candidate_likelihoods_are_used(rng):
    """The tournament is a function of the (K, n) matrix: permuting samples, or changing how
    the matrix was produced (pi_D's density is never an input), changes nothing, and the
    selection is equivariant under relabelling the candidates."""
    ll = random_loglik(rng, 9, 40)
    base = simple_tournament(ll, 3.0, tie_break="index")
    perm = rng.permutation(40)
    assert simple_tournament(ll[:, perm], 3.0, tie_break="index").index == base.index
    order = rng.permutation(9)
    re = simple_tournament(ll[order], 3.0)
    ref = simple_tournament(ll, 3.0)
    # same score multiset and the selected candidate keeps its score
    np.testing.assert_array_equal(np.sort(re.scores), np.sort(ref.scores))
    assert re.scores[re.index] == ref.scores[ref.index]
    # Shifting every candidate's log-likelihood on one sample by the same constant (what
    # dividing by pi_D's density would do) leaves every pairwise ratio, hence the
    # selection, unchanged.
    shift = -rng.uniform(0, 3, size=40)
    assert simple_tournament(ll + shift, 3.0, tie_break="index").index == base.index


# ------------------------------------------------------------------------------ offset

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 6), n=st.integers(1, 20),
       m=st.integers(1, 5), N=st.sampled_from([1.0, 2.0, 4.0, 9.0]),
       a=st.sampled_from([0.0, 0.25, 0.5]), exact=st.booleans())
def test_offset_tournament_matches_brute_force(seed, K, n, m, N, a, exact):
    rng = np.random.default_rng(seed)
    ll = random_loglik(rng, K, n)
    n_p = 3
    if exact:
        on = random_loglik(rng, K, n_p * m).reshape(1, K, n_p, m)
        w = rng.dirichlet(np.ones(m), size=(K, n_p))
    else:
        on = random_loglik(rng, K * K, n_p * m).reshape(K, K, n_p, m)
        w = None
    sel = offset_tournament(ll, N, a, onpolicy_loglik=on, onpolicy_weights=w)
    idx, scores = brute_offset(ll, on, w, N, a)
    np.testing.assert_allclose(sel.scores, scores, rtol=0, atol=1e-12)
    assert sel.index == idx


def test_offset_corrects_over_covering_rival():
    """The simple tournament is fooled by a rival that over-covers a low-probability region;
    the on-policy offset removes it (the mechanism behind Theorem G.3 / 6.4)."""
    # support {0: bulk, 1: Z, 2: W}; pi_D = (0.85, 0.1, 0.05).
    good = np.log([0.85, 0.1, 0.05])       # = pi_D
    rival = np.log([0.05, 0.9, 0.05])      # over-covers Z by a factor 9 (misses the bulk)
    trap = np.log([0.7995, 0.2, 0.0005])   # misses W by a factor 100; rival/trap = 4.5 on Z
    lp = np.stack([good, rival, trap])
    y = np.array([0] * 17 + [1] * 2 + [2])  # held-out sample with the population frequencies
    ll = lp[:, y]
    simple = simple_tournament(ll, 8.0)
    # pi_D scores 2/20 (rival/pi_D = 9 on Z), the trap 1/20 (pi_D/trap = 100 on W).
    assert simple.index == 2 and simple.scores.tolist() == [0.1, 0.85, 0.05]
    on = lp[None, :, None, :]
    off = offset_tournament(ll, 8.0, 0.5, onpolicy_loglik=on,
                            onpolicy_weights=np.exp(lp)[:, None, :])
    offset = 2 * np.sqrt(8.0)
    # pi_D: 0.1 - offset * 0.1 < 0, so its own (zero) term is the max; trap: 0.05 - offset * 0.0005.
    np.testing.assert_allclose(off.scores, [0.0, 0.85 - offset * 0.05, 0.05 - offset * 0.0005])
    assert off.index == 0


def test_onpolicy_matrix_exact_population():
    lp = np.log([[0.5, 0.25, 0.25], [0.05, 0.05, 0.9]])
    on = lp[None, :, None, :]
    mat = onpolicy_coverage_matrix(on, 4.0, weights=np.exp(lp)[:, None, :])
    # pi_0/pi_1 >= 4 on y = 0, 1 (10, 5): mass 0.1 under pi_1; pi_1/pi_0 = 3.6 < 4.
    np.testing.assert_allclose(mat, [[0, 0.1], [0, 0]])
    with pytest.raises(ValueError, match="`weights`"):
        onpolicy_coverage_matrix(on, 4.0)
    with pytest.raises(ValueError, match="`onpolicy_loglik`"):
        offset_tournament(lp[:, :2], 4.0, 0.5, onpolicy_loglik=np.zeros((1, 3, 1, 3)))


# ---------------------------------------------------------------------------- baselines

def test_baselines():
    ll = np.log([[0.5, 0.5], [0.9, 0.4], [0.4, 0.9]])
    ce = min_cross_entropy(ll)
    assert ce.index == 1 and ce.n_tied == 2 and ce.method == "min_cross_entropy"
    np.testing.assert_allclose(ce.scores, -ll.mean(axis=1))
    assert min_kl([0.2, 0.1, 0.1]).index == 1
    assert best_pass_at_n([0.9, 0.99, 0.99]).index == 1
    with pytest.raises(ValueError, match="`pass_at_n`"):
        best_pass_at_n([1.2])
    with pytest.raises(ValueError, match="`kl`"):
        min_kl([np.nan])
    d = simple_tournament(ll, [2.0, 4.0]).to_dict()
    assert d["method"] == "simple_tournament" and len(d["index"]) == 2
