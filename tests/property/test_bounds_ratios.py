"""Density-ratio statements: chain rule Prop. F.5 / D.5 and the Markov / L_p coverage bound."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bounds_strategies import (coverage, distribution_pairs, distribution_triples, leq, log_ratio, tail,
                               thresholds)
from theory.bounds import coverage_chain_rule, log_density_ratio_moment, markov_lp_coverage_bound
from theory.instances.witnesses import bernoulli_witness, chain_rule_witness
from theory.coverage import coverage_profile

Ms = st.floats(np.log(2.0), 8.0).map(np.exp)


# ----------------------------------------------------------------------------- Prop F.5
@given(distribution_triples(), Ms, Ms)
def test_chain_rule_holds(triple, M1, M2):
    target, data, model = triple
    lhs = coverage(target, model, M1)
    # Cov_{M1/M2}(pi_D || pi) may sit below N = 1 (M1 < M2): use the tail directly, and check
    # it against theory.coverage where N >= 1.
    cov_dm = tail(log_ratio(data, model), data.joint_weights, np.log(M1 / M2))
    if M1 >= M2:
        assert abs(cov_dm - coverage(data, model, M1 / M2)) <= 1e-12
    rhs = coverage_chain_rule(min(cov_dm, 1.0), coverage(target, data, M2), M2)
    assert leq(lhs, rhs)


@given(st.floats(1.0, 6.0), st.floats(0.05, 3.0), st.floats(0.0, 1.0), st.floats(1e-6, 0.1))
def test_chain_rule_factor_m2_is_attained(log_m2, log_gap, t_unit, slack):
    M2 = np.exp(log_m2)
    M1 = M2 * np.exp(log_gap)
    t = 0.05 + 0.9 * t_unit
    slack = min(slack, (M2 - 1) / 2)
    w = chain_rule_witness(M1, M2, t, slack)
    from bounds_strategies import Discrete
    T, Dd, P = (Discrete(w.log_p_target[None], np.ones(1)), Discrete(w.log_p_data[None], np.ones(1)),
                Discrete(w.log_p_model[None], np.ones(1)))
    lhs = coverage(T, P, M1)
    rhs = coverage_chain_rule(coverage(Dd, P, M1 / M2), coverage(T, Dd, M2), M2)
    assert abs(lhs - t) <= 1e-12
    assert abs(rhs - t * (1 + slack)) <= 1e-12
    assert leq(lhs, rhs) and lhs >= rhs / (1 + slack) - 1e-12    # equality up to the slack


# --------------------------------------------------------------------- Markov / L_p
@given(distribution_pairs(), thresholds, st.floats(0.05, 3.0))
def test_markov_lp_bound_holds(pair, N, p):
    data, model = pair
    lr = log_ratio(data, model).ravel()
    lm = log_density_ratio_moment(lr, p, weights=data.joint_weights)
    assert np.all(leq(coverage(data, model, N), markov_lp_coverage_bound(lm, N, p)))


@given(st.floats(1e-6, 0.3), st.floats(0.2, 3.0), st.floats(2.0, 12.0))
def test_markov_lp_bound_attained_on_witness(pdata, p, excess):
    # Ber(q) vs Ber(q/N) with N^p = 10^excess / q: Cov = q and
    # E[r^p] = q N^p + (1-q) r0^p with r0 < 1, so Cov/bound >= q/(q + N^-p) >= 1 - N^-p/q.
    N = (10 ** excess / pdata) ** (1 / p)
    w = bernoulli_witness(pdata, N)
    cov = coverage_profile(w.log_ratio, N, weights=[pdata, 1 - pdata])
    bound = markov_lp_coverage_bound(log_density_ratio_moment(w.log_ratio, p, weights=[pdata, 1 - pdata]), N, p)
    assert cov == pdata
    assert leq(cov, bound)
    assert cov / bound >= 1 - N ** -p / pdata - 1e-9
