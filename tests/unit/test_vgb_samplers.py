"""Deterministic properties of the VGB walker, baselines, value functions and the SJ walk."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.samplers.baselines import (action_level_rs, best_of_n, block_best_of_n,
                                            block_rejection_sampling, outcome_level_rs,
                                            reference_sample)
from simulations.samplers.sinclair_jerrum import (approximate_counts, catalan, completion_count,
                                                  counts_to_values, dyck_word_automaton)
from theory.instances.vgb_trees import random_tree, sparse_branching_tree
from simulations.samplers.value_functions import (average_case_error_values, delayed_values,
                                                  fit_tabular_value, fit_value_regression,
                                                  incoming_token, multiplicative_error)
from simulations.samplers.vgb import VGBSampler, categorical_cdf, move_tables
from theory.vgb import (TreeAutomaton, average_case_error, expand_tree, optimal_values,
                        uniform_error)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.0, 1e-300, 0.3, 2.0]), min_size=1, max_size=6),
       st.integers(0, 2 ** 31))
def test_categorical_cdf_never_selects_zero_weight(w, seed):
    w = np.array([w])
    if w.sum() == 0:
        w[0, -1] = 1.0
    cdf, ok = categorical_cdf(w)
    assert ok.all() and cdf[0, -1] == 1.0
    u = np.random.default_rng(seed).random(5000)
    pick = (u[:, None] >= cdf[0]).sum(axis=1)
    assert np.all(w[0, pick] > 0)


def _one_step_automaton():
    return TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log([[0.5, 0.5]] * 3), [0, 1, 1],
                         [0.0, 1.0, 3.0], 1)


def test_query_accounting_on_a_one_step_tree():
    aut = _one_step_automaton()
    cdf, cpi, cv, ct = move_tables(aut, [9.0, 1.0, 3.0])
    # root: 1 pi_ref call + 2 tau calls (children are leaves), no parent value; leaves: free
    assert cpi.tolist() == [1, 0, 0] and ct.tolist() == [2, 0, 0] and cv.tolist() == [0, 0, 0]
    out = VGBSampler(aut, [9.0, 1.0, 3.0]).sample_fixed_t(500, 1, rng=np.random.default_rng(0))
    # each run is one step: a failed run held (cost 0), the successful one moved (cost 3)
    assert np.all(out.cost_pi == 1) and np.all(out.cost == 3)
    assert out.restarts.mean() == pytest.approx(1.0, abs=0.2)   # geometric(1/2) - 1 failures


def test_long_chain_leaf_arrivals_and_costs():
    aut = random_tree(3, 4, rng=np.random.default_rng(3), zero_fraction=0.3)
    s = VGBSampler(aut, multiplicative_error(aut, 0.5))
    # a small tree: the caches cover it long before the budget, so max_steps ends the chains
    out = s.sample_chain_leaves(4, 2000, rng=np.random.default_rng(4), chunk=256, max_steps=3000)
    assert out.done.all() and aut.is_leaf[out.state].all()
    assert (aut.tau[out.state] > 0).all()                  # tau at the leaves: only reachable ones
    # per chain, the memoised cost never exceeds the uncached one and fits the chain's share
    for c in range(4):
        m, p = out.cost_memo[out.restarts == c], out.cost[out.restarts == c]
        assert np.all(np.cumsum(m) <= np.cumsum(p)) and m.sum() <= 2000 / 4
        assert np.all(m >= 0)
    # arrivals are separated by at least one step; a walk needs >= H steps to the first leaf
    assert np.all(out.steps >= 1) and out.steps.sum() <= 4 * 3000
    assert np.all(out.steps[np.r_[True, np.diff(out.restarts) != 0]] >= aut.horizon)
    # the first arrival costs at least the expansions along one root-to-leaf path
    first = np.r_[True, np.diff(out.restarts) != 0]
    assert np.all(out.cost_memo[first] >= aut.horizon)
    with pytest.raises(ValueError, match="budget"):
        s.sample_chain_leaves(2, 0, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        s.sample_chain_leaves(2, 10, rng="0")


def test_packed_counters_flush_consistently():
    aut = random_tree(3, 4, rng=np.random.default_rng(1))
    v = multiplicative_error(aut, 0.5)
    a = VGBSampler(aut, v)
    b = VGBSampler(aut, v)
    b._flush_every = 3
    ra = a.run(200, 50, rng=np.random.default_rng(2))
    rb = b.run(200, 50, rng=np.random.default_rng(2))
    assert np.array_equal(ra[3], rb[3]) and np.array_equal(ra[0], rb[0])
    # totals: pi_ref calls = non-holding moves from internal nodes
    assert ra[3][0].sum() > 0 and (ra[3][1] >= ra[3][0]).all()


def test_first_leaf_memoised_cost_is_at_most_plain_cost():
    aut = sparse_branching_tree(6, n_branch=2, branching=2, rng=np.random.default_rng(3))
    s = VGBSampler(aut, multiplicative_error(aut, 1.0))
    out = s.sample_first_leaf(300, rng=np.random.default_rng(4), memo=True, pool=64)
    assert out.done.all()
    assert np.all(out.cost_memo <= out.cost)
    # every run expands at least the H prefixes on its path
    assert np.all(out.cost_memo >= aut.horizon)
    assert np.all(out.steps >= aut.horizon)
    capped = s.sample_first_leaf(50, rng=np.random.default_rng(5), max_steps=7)
    assert np.all(capped.steps <= 7) and not capped.done.all()


def test_baseline_costs_and_shapes():
    aut = random_tree(2, 4, rng=np.random.default_rng(6))
    v = optimal_values(aut)
    rng = np.random.default_rng(7)
    ref = reference_sample(aut, 10, rng=rng)
    assert ref.tokens.shape == (10, 4) and np.all(ref.cost_pi == 4)
    al = action_level_rs(aut, v, 10, rng=rng)
    assert np.all(al.cost_pi == 4) and np.all(al.cost_value == 6) and np.all(al.cost_tau == 2)
    bon = block_best_of_n(aut, v, 10, 3, 5, rng=rng)
    assert np.all(bon.cost_pi == 20) and np.all(bon.cost_value == 5) and np.all(bon.cost_tau == 5)
    assert np.all(bon.cost_memo <= bon.cost)
    rs = block_rejection_sampling(aut, v, 50, 2, 4, rng=rng)
    assert np.all(rs.cost_pi % 2 == 0) and np.all(rs.cost_pi <= 16) and np.all(rs.cost_memo <= rs.cost)
    o = outcome_level_rs(aut, 20, rng=rng)
    assert o.done.all() and np.all(o.cost_pi == 4 * o.cost_tau)
    b = best_of_n(aut, 10, 3, rng=rng)
    assert np.all(b.cost_pi == 12) and np.all(b.cost_tau == 3)


def test_value_functions():
    aut = random_tree(2, 5, rng=np.random.default_rng(8))
    v, ea, eu = average_case_error_values(aut, 0.3, 20.0, rng=np.random.default_rng(9))
    assert ea <= 0.3 + 1e-12 and eu == pytest.approx(19.0)
    assert average_case_error(aut, v)[2] == pytest.approx(ea)
    tok = incoming_token(aut)
    assert tok[0] == -1 and set(np.unique(tok[1:])) <= {0, 1}
    eaut, vals, child = delayed_values(aut)
    vs = optimal_values(aut)
    assert optimal_values(eaut)[0] == pytest.approx(vs[0])
    assert np.allclose(optimal_values(eaut), vs[child])
    leaf = eaut.is_leaf
    assert np.allclose(vals[leaf], eaut.tau[leaf])
    phi = np.column_stack([np.ones(aut.n_states), aut.depth / aut.horizon])
    fit = fit_value_regression(aut, phi, 3000, rng=np.random.default_rng(10), link="linear")
    assert fit.values.shape == (aut.n_states,) and np.all(fit.values > 0)
    tab = fit_tabular_value(aut, aut.depth.astype(np.int64), 3000, rng=np.random.default_rng(11))
    # groups by depth: the fitted value is the mean outcome, E[tau] at every depth
    assert np.allclose(tab.theta[1:], vs[0], atol=0.05)


def test_sinclair_jerrum_automaton():
    for n in range(1, 7):
        aut, N = dyck_word_automaton(n)
        assert N[0] == catalan(n) and int(aut.is_leaf.sum()) == 1
        tree = expand_tree(aut)
        assert tree.leaves.size == catalan(n)
        V = optimal_values(aut)
        assert np.allclose(V, N * np.exp2(-(aut.horizon - aut.depth)))
    assert completion_count(5, 2) == 0
    aut, N = dyck_word_automaton(4)
    tree = expand_tree(aut)
    ta = tree.as_automaton()
    f = approximate_counts(ta, N[tree.state], 2.0)
    assert uniform_error(ta, counts_to_values(ta, f)) == pytest.approx(1.0)
