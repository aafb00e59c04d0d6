"""The Dyck reference model: exact likelihoods, exact V*, validity."""

import itertools

import numpy as np
import pytest

from theory.instances.dyck import (DyckSpec, decode, dyck_features, dyck_model, is_valid_dyck,
                                       log_likelihood, type_blind_groups, value_table)
from theory.vgb import optimal_values


def _generator_log_prob(tokens, spec):
    """Independent re-implementation of the noisy generator's probability (one sequence)."""
    k, H, D, eta = spec.num_types, spec.length, spec.max_depth, spec.noise
    V = 2 * k
    stack, lp, broken = [], 0.0, False
    for h, a in enumerate(tokens):
        if broken:
            lp += np.log(1 / V)
            continue
        d = len(stack)
        clean = np.zeros(V)
        if d == 0:
            clean[:k] = spec.type_probs
        else:
            p = 1.0 if (d >= D or d >= H - h) else spec.pop_prob
            clean[:k] = (1 - p) * np.asarray(spec.type_probs)
            clean[k + stack[-1]] = p
        lp += np.log((1 - eta) * clean[a] + eta / V)
        if a < k:
            stack.append(a)
            if len(stack) > min(D, H - h - 1):
                broken = True
        elif d == 0 or stack[-1] != a - k:
            broken = True
        else:
            stack.pop()
    return lp


def test_likelihood_is_normalised_and_matches_generator():
    spec = DyckSpec(length=6, max_depth=2, noise=0.2)
    m = dyck_model(spec)
    seqs = np.array(list(itertools.product(range(4), repeat=6)))
    ll = log_likelihood(m, seqs)
    assert np.exp(ll).sum() == pytest.approx(1.0, abs=1e-12)
    for row in seqs[::97]:
        assert ll[seqs.tolist().index(row.tolist())] == pytest.approx(
            _generator_log_prob(row, spec), abs=1e-12)
    valid = is_valid_dyck(seqs, spec)
    assert np.exp(ll[valid]).sum() == pytest.approx(optimal_values(m.automaton)[0], abs=1e-12)
    # tau of the end state agrees with the direct parser
    s = np.zeros(len(seqs), dtype=np.int64)
    for h in range(6):
        s = m.automaton.next_state[s, seqs[:, h]]
    assert np.array_equal(m.automaton.tau[s] == 1, valid)


@pytest.mark.parametrize("spec", [DyckSpec(), DyckSpec(length=10, max_depth=3, noise=0.3,
                                                       num_types=3, type_probs=(0.5, 0.3, 0.2))])
def test_vstar_dp_matches_two_index_table(spec):
    m = dyck_model(spec)
    V = optimal_values(m.automaton)
    table = value_table(spec)
    sel = m.valid
    assert np.allclose(V[sel], table[m.automaton.depth[sel], m.stack_depth[sel]], atol=1e-13)
    assert np.all(V[~sel] == 0)


def test_clean_generator_is_always_valid():
    spec = DyckSpec(length=12, max_depth=4, noise=0.0)
    m = dyck_model(spec)
    V = optimal_values(m.automaton)
    from theory.vgb import prefix_state_mass
    reach = prefix_state_mass(m.automaton) > 0
    assert np.allclose(V[reach], 1.0)
    from simulations.samplers.baselines import reference_sample
    out = reference_sample(m.automaton, 2000, rng=np.random.default_rng(0))
    assert is_valid_dyck(out.tokens, spec).all()
    # forced pops: never deeper than max_depth
    d = np.cumsum(np.where(out.tokens < 2, 1, -1), axis=1)
    assert d.max() <= 4 and d.min() >= 0


def test_default_model_size_and_metadata():
    m = dyck_model()
    assert m.automaton.horizon == 32 and m.automaton.vocab_size == 4
    assert 10_000 < m.automaton.n_states < 200_000
    g = type_blind_groups(m)
    assert g.min() >= 0 and g.max() < 33 * 65
    assert dyck_features(m).shape == (m.automaton.n_states, 7)
    assert decode([[0, 1, 3, 2]], DyckSpec(length=4)) == ["([])"]


def test_is_valid_dyck_rejects_depth_and_mismatch():
    s = DyckSpec(length=6, max_depth=2)
    assert is_valid_dyck([[0, 0, 2, 2, 1, 3], [0, 0, 0, 2, 2, 2], [0, 1, 2, 3, 0, 2]], s).tolist() \
        == [True, False, False]


def test_spec_validation():
    with pytest.raises(ValueError, match="`length`"):
        DyckSpec(length=5)
    with pytest.raises(ValueError, match="`type_probs`"):
        DyckSpec(type_probs=(0.5, 0.4))
    with pytest.raises(ValueError, match="`noise`"):
        DyckSpec(noise=1.5)
