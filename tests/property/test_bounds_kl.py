"""KL-to-coverage: Prop. 3.1, Props. F.1/F.2/F.3 (ICLR) = D.1/D.2/D.3 (arXiv).

Each inequality is checked on random instances (exact coverage and KL of prompt mixtures,
zero violations allowed beyond floating-point rounding ``RTOL``) and paired with a
sharpness test on its witness, with the slack derived a priori in the test, so that a
loosened constant, a wrong direction or ``>`` for ``>=`` fails.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bounds_strategies import coverage, distribution_pairs, leq, log_ratio, thresholds
from theory.bounds import (coverage_decay_to_kl, kl_tightness_witness, kl_to_coverage,
                           kl_to_coverage_sharp, uniform_coverage_decay)
from theory.instances.witnesses import (bernoulli_witness, coverage_decay_witness,
                                        kl_tightness_instance)
from theory.coverage import TIE_ATOL, coverage_profile
from theory.divergences import kl_divergence


def _kl(a, b):
    return kl_divergence(a.log_p, b.log_p, prompt_weights=a.mu)


# ----------------------------------------------------------------------------- Prop 3.1
@given(distribution_pairs(), thresholds)
def test_prop_3_1_holds(pair, N):
    data, model = pair
    cov = coverage(data, model, N)
    bound = kl_to_coverage(_kl(data, model), N)
    assert np.all(leq(cov, bound))
    assert np.all(np.isinf(bound[N <= np.e]))


@given(st.floats(1e-12, 1e-7), st.floats(np.log(20.0), 30.0).map(np.exp))
def test_prop_3_1_sharp_on_witness(p, N):
    # On Ber(p) vs Ber(p/N): Cov/bound = (log N - 1) p / KL, and KL/p <= f(N)/N + p a^2/(1 - p/N)
    # (a = 1 - 1/N; from log(1 - t) <= -t), so the ratio is at least the value below.
    w = bernoulli_witness(p, N)
    cov = coverage_profile(w.log_ratio, N, weights=[p, 1 - p])
    ratio = cov / kl_to_coverage(w.kl, N)
    a = 1 - 1 / N
    f_over_n = np.log(N) - 1 + 1 / N
    floor = (np.log(N) - 1) / (f_over_n + p * a ** 2 / (1 - p / N))
    assert floor - 1e-12 <= ratio <= 1.0 + 1e-12


# ----------------------------------------------------------------------------- Prop F.1
@given(distribution_pairs(), thresholds)
def test_prop_f1_holds(pair, N):
    data, model = pair
    cov = coverage(data, model, N)
    bound = kl_to_coverage_sharp(_kl(data, model), N)
    assert np.all(leq(cov, bound))
    assert np.all(leq(bound, kl_to_coverage(_kl(data, model), N)))   # sharper than Prop 3.1


@given(st.floats(1e-12, 1e-6), st.floats(np.log(1.5), 30.0).map(np.exp))
def test_prop_f1_attained_on_witness(p, N):
    # Exact ratio Cov/bound = (f(N)/N)/(KL/p) in [1 - p a^2/((1-p/N) f(N)/N), 1]: equality
    # as p -> 0.  The witness has ratio exactly N on its first outcome, so a ">" convention
    # would give coverage 0 here.
    w = bernoulli_witness(p, N)
    cov = coverage_profile(w.log_ratio, N, weights=[p, 1 - p])
    assert cov == p
    ratio = cov / kl_to_coverage_sharp(w.kl, N)
    a = 1 - 1 / N
    f_over_n = np.log1p(N - 1) - (N - 1) / N
    slack = p * a ** 2 / ((1 - p / N) * f_over_n)
    assert 1 - slack - 1e-9 <= ratio <= 1 + 1e-9


# ----------------------------------------------------------------------------- Prop F.2
@given(st.floats(1e-6, 0.5), st.floats(np.log(2.0), 40.0).map(np.exp))
def test_prop_f2_witness_inequality(p, N):
    w = kl_tightness_instance(p, N)
    cov = coverage_profile(w.log_ratio, N, weights=[p, 1 - p])
    assert cov == p
    assert leq(kl_tightness_witness(w.kl, N), cov)
    assert leq(cov, kl_to_coverage_sharp(w.kl, N))      # consistent with F.1


@given(st.floats(np.log(100.0), 40.0).map(np.exp))
def test_prop_f2_constant_is_sharp(N):
    # At p = 1/2 the witness violates the claim with -1/2 replaced by -3/4:
    # KL >= p (den - 2 slack) with slack <= 0.0966 + 1/(8N - 4) (derived in the module
    # docstring of proofs_check.kl_coverage / f2_inequality), so Cov * (den - 1/4)/KL < 1.
    w = kl_tightness_instance(0.5, N)
    den_tighter = np.log(N) - 0.75 + 0.5 / N
    assert 0.5 < w.kl / den_tighter


# ----------------------------------------------------------------------------- Prop F.3
@given(distribution_pairs())
def test_prop_f3_holds(pair):
    data, model = pair
    lr = log_ratio(data, model).ravel()
    C, log_w = uniform_coverage_decay(lr, weights=data.joint_weights)
    kl = _kl(data, model)
    assert leq(kl, coverage_decay_to_kl(C, log_w))
    # C is the supremum of Cov_N log N: no threshold exceeds it (coverage_profile counts ratios
    # within TIE_ATOL of N on the log scale as ties, which can add at most TIE_ATOL * Cov_N)
    N = np.exp(np.linspace(0, max(min(log_w, 50.0), 0.0), 64))
    assert np.all(leq(coverage(data, model, N) * np.log(N), C + TIE_ATOL))


@given(st.floats(0.01, 1.0), st.floats(0.5, 30.0), st.integers(50, 4000))
def test_prop_f3_tight_on_witness(C, extra, K):
    L = C + extra
    w = coverage_decay_witness(C, L, K)
    data_w = np.exp(w.log_p_data)
    with np.errstate(invalid="ignore"):
        lr = np.where(data_w > 0, w.log_p_data - w.log_p_model, -np.inf)
    C_hat, L_hat = uniform_coverage_decay(lr, weights=data_w)
    assert abs(C_hat - C) <= 1e-12 * max(1, C) and abs(L_hat - L) <= 1e-12 * L
    kl = kl_divergence(w.log_p_data, w.log_p_model)
    bound = coverage_decay_to_kl(C_hat, L_hat)
    u = np.log(L / C)
    assert leq(kl, bound)
    assert kl / bound >= 1 - u ** 2 / (2 * K * (1 + u)) - 1e-9
