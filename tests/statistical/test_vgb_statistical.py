"""Sampled frequencies of the VGB walker and the baselines against their exact laws.

Every test is a chi-square goodness-of-fit test at level ``ALPHA`` (false-fail rate
``ALPHA`` per test under the null, bins with expected count < 5 merged), with a fixed
per-test seed (conftest ``rng``).  Each also checks *power*: the same samples are tested
against a wrong but nearby law (the law of another sampler or of another ``T``) and must be
rejected at the same level.
"""

import numpy as np
import pytest
from scipy import stats

from simulations.samplers.baselines import (action_level_rs, block_best_of_n,
                                            block_rejection_sampling, outcome_level_rs,
                                            reference_sample)
from theory.instances.dyck import DyckSpec, dyck_model
from theory.instances.vgb_trees import random_tree
from simulations.samplers.value_functions import multiplicative_error
from simulations.samplers.vgb import VGBSampler
from theory.vgb import (action_level_law, block_sampler_law, expand_tree, first_leaf_law,
                        optimal_values, target_leaf_law, transition_matrix)

pytestmark = pytest.mark.statistical

#: Per-test false-fail rate.
ALPHA = 1e-4


def chi2_pvalue(counts, probs):
    """Chi-square GOF p-value, merging bins (in increasing expected count) until each has >= 5."""
    counts = np.asarray(counts, float)
    probs = np.asarray(probs, float) / np.sum(probs)
    n = counts.sum()
    order = np.argsort(probs)
    e, o = probs[order] * n, counts[order]
    ge, go, acc_e, acc_o = [], [], 0.0, 0.0
    for ei, oi in zip(e, o):
        acc_e += ei
        acc_o += oi
        if acc_e >= 5:
            ge.append(acc_e)
            go.append(acc_o)
            acc_e = acc_o = 0.0
    if acc_e > 0:
        if ge:
            ge[-1] += acc_e
            go[-1] += acc_o
        else:
            ge.append(acc_e)
            go.append(acc_o)
    if len(ge) < 2:
        return 1.0
    return float(stats.chisquare(go, ge).pvalue)


def _instance(seed):
    aut = random_tree(3, 3, rng=np.random.default_rng(seed), zero_fraction=0.2)
    v = multiplicative_error(aut, 1.0, mode="random", rng=np.random.default_rng(seed + 1))
    tree = expand_tree(aut)
    return aut, tree, v, tree.node_values(v)


def _leaf_counts(tree, states):
    pos = -np.ones(tree.n_nodes, dtype=np.int64)
    pos[tree.state[tree.leaves]] = np.arange(tree.leaves.size)   # state == node here
    idx = pos[states]
    assert (idx >= 0).all()
    return np.bincount(idx, minlength=tree.leaves.size)


def _fixed_t_leaf_law(tree, nv, T):
    P = transition_matrix(tree, nv).T.tocsr()
    mu = np.zeros(tree.n_nodes)
    mu[0] = 1.0
    for _ in range(T):
        mu = P @ mu
    return mu[tree.leaves] / mu[tree.leaves].sum(), mu[tree.leaves].sum()


def test_fixed_t_sampler_matches_exact_law(rng):
    aut, tree, v, nv = _instance(11)
    T = 12
    law, p_leaf = _fixed_t_leaf_law(tree, nv, T)
    out = VGBSampler(aut, v).sample_fixed_t(40000, T, rng=rng)
    counts = _leaf_counts(tree, out.state)
    assert chi2_pvalue(counts, law) > ALPHA
    # restarts are geometric: mean (1 - p)/p, checked with a normal interval at ALPHA
    m = out.restarts.mean()
    sd = np.sqrt((1 - p_leaf) / p_leaf ** 2 / out.restarts.size)
    assert abs(m - (1 - p_leaf) / p_leaf) < stats.norm.isf(ALPHA / 2) * sd
    # power: the same samples against the stationary target pi* and the T=6 law
    assert chi2_pvalue(counts, target_leaf_law(tree)) < ALPHA
    assert chi2_pvalue(counts, _fixed_t_leaf_law(tree, nv, 6)[0]) < ALPHA


def test_first_leaf_heuristic_matches_exact_law(rng):
    aut, tree, v, nv = _instance(12)
    law = first_leaf_law(tree, nv)
    out = VGBSampler(aut, v).sample_first_leaf(40000, rng=rng, pool=8192)
    assert out.done.all()
    counts = _leaf_counts(tree, out.state)
    assert chi2_pvalue(counts, law) > ALPHA
    assert chi2_pvalue(counts, target_leaf_law(tree)) < ALPHA      # power: it is biased


@pytest.mark.parametrize("kind", ["alrs", "bon", "rs"])
def test_baselines_match_exact_laws(kind, rng):
    aut, tree, v, nv = _instance(13)
    n = 40000
    if kind == "alrs":
        out = action_level_rs(aut, v, n, rng=rng)
        law, dead = action_level_law(tree, nv)
        assert dead == 0 and out.done.all()
        wrong = target_leaf_law(tree)
    elif kind == "bon":
        out = block_best_of_n(aut, v, n, 2, 3, rng=rng)
        law = block_sampler_law(tree, nv, 2, 3, "bon")
        wrong = block_sampler_law(tree, nv, 2, 2, "bon")
    else:
        out = block_rejection_sampling(aut, v, n, 1, 3, rng=rng)
        law = block_sampler_law(tree, nv, 1, 3, "rs")
        wrong = block_sampler_law(tree, nv, 1, 3, "bon")
    counts = _leaf_counts(tree, out.state)
    assert chi2_pvalue(counts, law) > ALPHA
    assert chi2_pvalue(counts, wrong) < ALPHA


def test_outcome_level_rs_is_exact(rng):
    aut, tree, v, nv = _instance(14)
    out = outcome_level_rs(aut, 30000, rng=rng)
    counts = _leaf_counts(tree, out.state)
    assert chi2_pvalue(counts, target_leaf_law(tree)) > ALPHA
    assert chi2_pvalue(counts, np.exp(tree.log_prefix[tree.leaves])) < ALPHA


def test_sinclair_jerrum_walker_matches_exact_fixed_t_law(rng):
    """The SJ walk on the compact (h, d) automaton vs the exact law on the explicit tree."""
    from simulations.samplers.sinclair_jerrum import (approximate_counts, counts_to_values,
                                                      dyck_word_automaton)
    aut, N = dyck_word_automaton(4)
    f = approximate_counts(aut, N, 3.0, mode="random", rng=np.random.default_rng(5))
    v = counts_to_values(aut, f)
    tree = expand_tree(aut)
    T = 80                      # exact: TV(law_T, uniform) = 0.07, P(leaf at T) = 0.03
    law, _ = _fixed_t_leaf_law(tree, tree.node_values(v), T)
    out = VGBSampler(aut, v).sample_fixed_t(4000, T, rng=rng)
    words = tree.leaf_tokens()
    index = {w.tobytes(): i for i, w in enumerate(words.astype(np.int64))}
    idx = np.array([index[w.tobytes()] for w in out.tokens.astype(np.int64)])
    counts = np.bincount(idx, minlength=len(words))
    assert chi2_pvalue(counts, law) > ALPHA
    # power: at T = 80 the law is still visibly non-uniform
    assert chi2_pvalue(counts, np.ones(len(words))) < ALPHA


def test_dyck_reference_validity_rate(rng):
    spec = DyckSpec(length=12, max_depth=4, noise=0.2)
    m = dyck_model(spec)
    z = optimal_values(m.automaton)[0]
    out = reference_sample(m.automaton, 20000, rng=rng)
    k = int((m.automaton.tau[out.state] == 1).sum())
    assert stats.binomtest(k, 20000, z).pvalue > ALPHA
    assert stats.binomtest(k, 20000, z * 1.1).pvalue < ALPHA     # power: 10% off is detected


def test_first_leaf_walk_length_with_exact_values_has_the_random_walk_law(rng):
    """With V-hat = V* the walk's depth is a lazy simple random walk: its length law is exact."""
    from theory.vgb import exact_value_walk_length_law
    aut = random_tree(3, 6, rng=np.random.default_rng(21), zero_fraction=0.3)
    H = aut.horizon
    pmf, tail = exact_value_walk_length_law(H, 60 * H * H)
    cdf = np.cumsum(pmf)
    edges = np.unique(np.searchsorted(cdf, np.arange(1, 30) / 30) + 1)
    probs = np.diff(np.concatenate([[0.0], cdf[edges - 1], [1.0]]))

    def counts(values):
        out = VGBSampler(aut, values).sample_first_leaf(20000, rng=rng, max_steps=60 * H * H)
        assert out.done.all()
        return np.bincount(np.searchsorted(edges, out.steps, side="right"),
                           minlength=probs.size)

    assert chi2_pvalue(counts(optimal_values(aut)), probs) > ALPHA
    # power: an over-estimating value (Assumption 4.1, eps = 1) makes moving up likelier at
    # every node, so the walk takes visibly longer
    assert chi2_pvalue(counts(multiplicative_error(aut, 1.0, pattern="over")), probs) < ALPHA
