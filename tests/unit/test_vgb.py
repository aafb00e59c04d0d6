"""Exact identities of the VGB walk (the package theory/vgb/): stationary law, leaf mass, laws of the samplers."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from theory.instances.vgb_trees import (example_3_1_automaton, example_3_2_automaton,
                                        random_tree, sparse_branching_tree)
from simulations.samplers.value_functions import (delayed_values, multiplicative_error,
                                                  single_action_perturbation)
from theory.vgb import (TreeAutomaton, action_level_law, average_case_error, best_of_n_law,
                        block_sampler_law, coverage_tail, example_3_1_action_level_coverage_tail,
                        example_3_1_action_level_tv, example_3_2_action_level_regret, expand_tree,
                        first_leaf_law, kl_probs, leaf_conditional_curves, leaf_mass, mixing_times,
                        optimal_values, prefix_state_mass, relaxation_time, relaxation_time_lower_bound,
                        stationarity_residual,
                        stationary_from_transitions, stationary_law, stationary_leaf_mass_bound,
                        target_leaf_law, target_state_marginals, total_variation_probs,
                        transition_matrix, uniform_error)

trees = st.builds(lambda V, H, seed, z: (V, H, seed, z), st.integers(2, 3), st.integers(1, 4),
                  st.integers(0, 2 ** 31), st.sampled_from([0.0, 0.3]))


def _instance(V, H, seed, zero):
    rng = np.random.default_rng(seed)
    aut = random_tree(V, H, rng=rng, zero_fraction=zero)
    tree = expand_tree(aut)
    vstar = tree.node_values(optimal_values(aut))
    noisy = vstar * np.exp(rng.uniform(-1, 1, vstar.size) * np.log(3.0))
    return aut, tree, vstar, noisy


@settings(max_examples=12, deadline=None)
@given(trees)
def test_stationary_law_is_pi_star_on_leaves_for_any_value(params):
    aut, tree, vstar, noisy = _instance(*params)
    target = target_leaf_law(tree)
    for v in (vstar, noisy):
        P = transition_matrix(tree, v)
        pi = stationary_law(tree, v)
        assert stationarity_residual(pi, P) <= 1e-13
        pi2 = stationary_from_transitions(tree, P)
        assert np.allclose(pi, pi2, rtol=0, atol=1e-13)
        cond = pi[tree.leaves] / pi[tree.leaves].sum()
        assert np.allclose(cond, target, rtol=0, atol=1e-13)
        assert np.allclose(P.sum(axis=1), 1.0, atol=1e-14)


@settings(max_examples=12, deadline=None)
@given(trees)
def test_leaf_mass_with_vstar_is_one_over_2h_and_bounded_under_assumption_41(params):
    aut, tree, vstar, _ = _instance(*params)
    assert leaf_mass(tree, vstar) == pytest.approx(1.0 / (2 * aut.horizon), abs=1e-13)
    v = multiplicative_error(aut, 1.5, mode="random", rng=np.random.default_rng(params[2]))
    eps = uniform_error(aut, v)
    assert eps <= 1.5 + 1e-12
    assert leaf_mass(tree, tree.node_values(v)) >= stationary_leaf_mass_bound(aut.horizon, eps) - 1e-15


def test_leaf_mass_bound_is_not_vacuous():
    """Power: the bound 1/(2(1+eps)H) is attained up to a small factor by an over-valued V."""
    aut = random_tree(2, 4, rng=np.random.default_rng(0))
    tree = expand_tree(aut)
    eps = 3.0
    v = multiplicative_error(aut, eps, mode="adversarial", pattern="over")
    m = leaf_mass(tree, tree.node_values(v))
    assert m < 1 / (2 * aut.horizon)                # strictly below the V* value
    assert m < 1.5 * stationary_leaf_mass_bound(aut.horizon, eps)


def test_optimal_values_match_brute_force_enumeration():
    aut = random_tree(3, 3, rng=np.random.default_rng(1), zero_fraction=0.3)
    tree = expand_tree(aut)
    v = tree.node_values(optimal_values(aut))
    leaves = tree.leaves
    tau = aut.tau[tree.state[leaves]]
    p_leaf = np.exp(tree.log_prefix[leaves])
    for node in range(tree.n_nodes):
        # leaves below node: walk up from every leaf
        below = np.zeros(leaves.size, dtype=bool)
        cur = leaves.copy()
        for _ in range(aut.horizon + 1):
            below |= cur == node
            cur = np.where(cur > 0, tree.parent[np.maximum(cur, 0)], -1)
        expect = (p_leaf[below] * tau[below]).sum() / np.exp(tree.log_prefix[node])
        assert v[node] == pytest.approx(expect, rel=1e-12, abs=1e-15)
    assert prefix_state_mass(aut)[tree.leaves].sum() == pytest.approx(1.0, abs=1e-12)
    m = target_state_marginals(aut)
    for h in range(aut.horizon + 1):
        assert m[aut.depth == h].sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=12, deadline=None)
@given(trees)
def test_exact_samplers_with_vstar(params):
    aut, tree, vstar, noisy = _instance(*params)
    target = target_leaf_law(tree)
    law, dead = action_level_law(tree, vstar)
    assert dead == 0.0 and np.allclose(law, target, atol=1e-13)
    assert np.allclose(first_leaf_law(tree, vstar), target, atol=1e-10)
    law_n, dead_n = action_level_law(tree, noisy)
    assert law_n.sum() + dead_n == pytest.approx(1.0, abs=1e-12)


def test_first_leaf_and_alrs_are_biased_with_noisy_values():
    """Power of the exactness checks above: with a noisy value both laws move away from pi*."""
    aut, tree, vstar, noisy = _instance(3, 3, 5, 0.0)
    target = target_leaf_law(tree)
    assert total_variation_probs(first_leaf_law(tree, noisy), target) > 1e-3
    assert total_variation_probs(action_level_law(tree, noisy)[0], target) > 1e-2


def test_fixed_t_curves_and_certified_mixing_time():
    aut = sparse_branching_tree(8, n_branch=2, branching=3, rng=np.random.default_rng(2))
    tree = expand_tree(aut)
    v = tree.node_values(multiplicative_error(aut, 1.0))
    delta = 0.01
    res = mixing_times(tree, v, delta)
    t = int(res.t_mix[0])
    cert = int(res.certified_at[0])
    curve = leaf_conditional_curves(tree, v, cert + 300)
    tv = curve.tv_leaf[0]
    assert tv[t - 1] > delta or np.isnan(tv[t - 1])
    assert np.all(tv[t:] <= delta)
    assert np.all(np.diff(curve.tv_full[0]) <= 1e-15)      # full-law TV never increases
    assert res.p_leaf_at_mix[0] == pytest.approx(curve.p_leaf[0, t], abs=1e-15)
    # several deltas in one pass agree with separate passes
    multi = mixing_times(tree, v, [0.05, delta])
    assert multi.t_mix[0, 1] == res.t_mix[0]
    assert multi.t_mix[0, 0] == mixing_times(tree, v, 0.05).t_mix[0]
    # the curve's T=0 law is the root: no leaf
    assert curve.p_leaf[0, 0] == 0.0


def test_relaxation_time_matches_dense_spectrum():
    aut = random_tree(2, 3, rng=np.random.default_rng(3))
    tree = expand_tree(aut)
    v = tree.node_values(multiplicative_error(aut, 0.5))
    P = transition_matrix(tree, v).toarray()
    ev = np.sort(np.real(np.linalg.eigvals(P)))
    assert relaxation_time(tree, v) == pytest.approx(1 / (1 - ev[-2]), rel=1e-8)


@pytest.mark.parametrize("H", [1, 3, 6])
def test_relaxation_time_lower_bound_is_attained_by_the_depth_walk(H):
    """The derived bound is the path's relaxation time (V* on a path tree: equality), and a
    branching root doubles the path (the mode antisymmetric across two root subtrees)."""
    aut = random_tree(1, H, rng=np.random.default_rng(0))          # a single path of length H
    tree = expand_tree(aut)
    t_path = relaxation_time(tree, tree.node_values(optimal_values(aut)))
    assert t_path == pytest.approx(float(relaxation_time_lower_bound(H, 0.0)), rel=1e-10)
    aut = sparse_branching_tree(H + 3, n_branch=1, branching=2, rng=np.random.default_rng(H))
    tree = expand_tree(aut)
    t_branch = relaxation_time(tree, tree.node_values(optimal_values(aut)))
    assert t_branch == pytest.approx(float(relaxation_time_lower_bound(2 * (H + 3), 0.0)), rel=1e-10)


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 3), st.integers(1, 4), st.integers(0, 2 ** 31), st.floats(0.0, 3.0))
def test_relaxation_time_lower_bound_holds_under_assumption_41(V, H, seed, eps):
    aut = random_tree(V, H, rng=np.random.default_rng(seed))
    tree = expand_tree(aut)
    v = multiplicative_error(aut, eps, mode="random", rng=np.random.default_rng(seed + 1))
    e = uniform_error(aut, v)
    assert e <= eps + 1e-12
    for vals, err in ((optimal_values(aut), 0.0), (v, e)):
        t_rel = relaxation_time(tree, tree.node_values(vals))
        assert t_rel >= relaxation_time_lower_bound(H, err) * (1 - 1e-10)


def test_relaxation_time_lower_bound_needs_the_comparison_factor():
    """Negative control: an over-valued V-hat (eps_V = 1) mixes faster than the V* depth walk,
    so the bound without (1+eps_V)^-4 would be false."""
    aut = random_tree(1, 6, rng=np.random.default_rng(0))
    tree = expand_tree(aut)
    v = multiplicative_error(aut, 1.0, mode="adversarial", pattern="over")
    t_rel = relaxation_time(tree, tree.node_values(v))
    assert t_rel < relaxation_time_lower_bound(6, 0.0)
    assert t_rel >= relaxation_time_lower_bound(6, uniform_error(aut, v))


def test_mixing_times_reports_the_tv_at_the_evaluation_step():
    aut = sparse_branching_tree(8, n_branch=2, branching=3, rng=np.random.default_rng(2))
    tree = expand_tree(aut)
    v = tree.node_values(multiplicative_error(aut, 1.0))
    res = mixing_times(tree, v, 0.01)
    cert = int(res.certified_at[0])
    curve = leaf_conditional_curves(tree, v, cert + 50)
    early, late = mixing_times(tree, v, 0.01, T_eval=[cert // 2]), mixing_times(tree, v, 0.01, T_eval=[cert + 40])
    assert early.p_leaf_eval_exact[0] and not late.p_leaf_eval_exact[0]
    assert early.tv_full_at_eval[0] == pytest.approx(curve.tv_full[0, cert // 2], abs=1e-15)
    assert late.tv_full_at_eval[0] == late.tv_full_at_certified[0] >= curve.tv_full[0, cert + 40]
    for r in (early, late):
        assert r.p_leaf_at_eval[0] >= r.stationary_leaf_mass[0] - r.tv_full_at_eval[0] - 1e-15
    assert np.isnan(res.tv_full_at_eval[0])


def test_best_of_n_law_matches_enumeration():
    p = np.array([0.1, 0.2, 0.3, 0.15])      # 0.25 missing mass
    s = np.array([1.0, 3.0, 3.0, 0.0])
    N = 3
    law = best_of_n_law(p, s, N)
    full = np.append(p, 1 - p.sum())
    sc = np.append(s, -np.inf)
    brute = np.zeros(4)
    for combo in itertools.product(range(5), repeat=N):
        w = np.prod(full[list(combo)])
        best = max(sc[list(combo)])
        win = [c for c in combo if sc[c] == best and c < 4]
        for c in win:
            brute[c] += w / len(win)
    assert np.allclose(law, brute, atol=1e-14)


def test_block_sampler_laws_limits():
    aut = random_tree(2, 4, rng=np.random.default_rng(4))
    tree = expand_tree(aut)
    v = tree.node_values(multiplicative_error(aut, 1.0, mode="random", rng=np.random.default_rng(5)))
    ref = np.exp(tree.log_prefix[tree.leaves])
    for kind in ("bon", "rs"):
        assert np.allclose(block_sampler_law(tree, v, 2, 1, kind), ref, atol=1e-14)
        assert block_sampler_law(tree, v, 1, 4, kind).sum() == pytest.approx(1.0, abs=1e-12)
    # one block of the full length with K candidates is Best-of-N on tau
    tau = aut.tau[tree.state[tree.leaves]]
    assert np.allclose(block_sampler_law(tree, v, aut.horizon, 3, "bon"),
                       best_of_n_law(ref, tau, 3), atol=1e-14)


def test_example_closed_forms_match_trees():
    for H in (2, 3, 5):
        aut, ones, last = example_3_1_automaton(H)
        tree = expand_tree(aut)
        v = tree.node_values(single_action_perturbation(aut, last, 0.4))
        law, _ = action_level_law(tree, v)
        assert total_variation_probs(law, target_leaf_law(tree)) == pytest.approx(
            example_3_1_action_level_tv(H, 0.4), abs=1e-13)
        # coverage tail of ALRS, exact on the tree vs closed form
        thr = np.array([1.5, 3.0])
        assert np.allclose(coverage_tail(target_leaf_law(tree), law, thr),
                           example_3_1_action_level_coverage_tail(H, 0.4, thr), atol=1e-13)
        aut2, _, _ = example_3_2_automaton(H, 0.7)
        eaut, vals, _ = delayed_values(aut2)
        tree2 = expand_tree(eaut)
        law2, _ = action_level_law(tree2, tree2.node_values(vals))
        reg, tv = example_3_2_action_level_regret(H, 0.7)
        target2 = target_leaf_law(tree2)
        assert kl_probs(law2, target2) / (0.7 * H) == pytest.approx(reg, abs=1e-12)
        assert total_variation_probs(law2, target2) == pytest.approx(tv, abs=1e-12)


def test_example_3_1_tv_order_sqrt_h():
    tv = example_3_1_action_level_tv(np.array([101, 401, 1601]), 0.01)
    slope = np.polyfit(np.log([100, 400, 1600]), np.log(tv), 1)[0]
    assert slope == pytest.approx(0.5, abs=0.02)


def test_uniform_and_average_case_errors():
    aut = random_tree(3, 3, rng=np.random.default_rng(6))
    for pattern in ("sawtooth", "sibling", "alternating", "over", "under"):
        v = multiplicative_error(aut, 0.7, pattern=pattern)
        assert uniform_error(aut, v) == pytest.approx(0.7, abs=1e-12)
    v = multiplicative_error(aut, 0.7, pattern="over")
    over, under, eps = average_case_error(aut, v)
    assert np.allclose(over[:-1], 1.7) and np.allclose(under[:-1], 1 / 1.7)
    assert over[-1] == pytest.approx(1.0)      # leaves: tau
    bad = v.copy()
    bad[aut.is_leaf] *= 2
    assert uniform_error(aut, bad) == np.inf


def test_coverage_tail_simple():
    assert coverage_tail([0.5, 0.5], [0.5, 0.5], 1.0) == 0.0
    assert coverage_tail([0.5, 0.5], [1.0, 0.0], 10.0) == 0.5      # pi_hat = 0: ratio inf
    assert np.allclose(coverage_tail([0.2, 0.8], [0.1, 0.9], [1.0, 1.5, 2.0, 3.0]),
                       [0.2, 0.2, 0.0, 0.0])


def test_tree_automaton_validation():
    lp = np.log(np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="`next_state`"):
        TreeAutomaton([[1, 5], [-1, -1], [-1, -1]], lp, [0, 1, 1], [0, 1, 1], 1)
    with pytest.raises(ValueError, match="`tau`"):
        TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], lp, [0, 1, 1], [1.0, 1, 1], 1)
    with pytest.raises(ValueError, match="`log_probs`"):
        TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], np.log(np.full((3, 2), 0.4)), [0, 1, 1],
                      [0, 1, 1], 1)
    with pytest.raises(ValueError, match="depth"):
        TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], lp, [0, 1, 2], [0, 0, 1], 2)
    with pytest.raises(TypeError, match="`horizon`"):
        TreeAutomaton([[1, 2], [-1, -1], [-1, -1]], lp, [0, 1, 1], [0, 1, 1], 1.5)
    aut = random_tree(2, 5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="`max_nodes`"):
        expand_tree(aut, max_nodes=10)
    with pytest.raises(ValueError, match="`node_values`"):
        transition_matrix(expand_tree(aut), np.ones(3))


def test_binomial_helper_consistency():
    """The closed forms use scipy's binomial law; check one value by hand."""
    assert example_3_1_action_level_tv(3, 1.0) == pytest.approx(
        0.5 * np.abs(stats.binom.pmf(np.arange(3), 2, 2 / 3) - stats.binom.pmf(np.arange(3), 2, 0.5)).sum())


@pytest.mark.parametrize("H", [1, 2, 5, 12])
def test_exact_value_walk_length_law_mean_is_2h2_and_matches_absorbing_chain(H):
    from theory.vgb import exact_value_walk_length_law
    pmf, tail = exact_value_walk_length_law(H, 200 * H * H)
    t = np.arange(pmf.size)
    assert tail < 1e-12 and abs(pmf.sum() + tail - 1) < 1e-12
    assert pmf[:H].sum() == 0                          # a leaf is at least H moves away
    assert abs(pmf @ t - 2 * H * H) < 1e-6
    # the same law from the explicit depth chain (a direct matrix power, independent code)
    P = np.zeros((H + 1, H + 1))
    for d in range(H):
        P[d, d] += 0.5
        if d == 0:
            P[0, 1] += 0.5
        else:
            P[d, d - 1] += 0.25
            P[d, d + 1] += 0.25
    P[H, H] = 1.0
    mu = np.zeros(H + 1)
    mu[0] = 1.0
    absorbed = [0.0]
    for _ in range(4 * H * H):
        mu = mu @ P
        absorbed.append(mu[H])
    assert np.allclose(np.diff(absorbed), pmf[1:4 * H * H + 1], atol=1e-14)


def test_exact_value_walk_length_law_validation():
    from theory.vgb import exact_value_walk_length_law
    with pytest.raises(ValueError, match="horizon"):
        exact_value_walk_length_law(0, 10)
    with pytest.raises(ValueError, match="t_max"):
        exact_value_walk_length_law(3, -1)


def test_relaxation_time_is_bit_reproducible_across_calls():
    """ARPACK starts from a fixed vector: repeated calls (and so executors) agree to the bit."""
    aut = random_tree(3, 5, rng=np.random.default_rng(5))
    tree = expand_tree(aut)
    v = tree.node_values(multiplicative_error(aut, 0.5))
    first = relaxation_time(tree, v)
    assert all(relaxation_time(tree, v) == first for _ in range(5))
