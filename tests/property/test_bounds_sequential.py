"""Per-token statements on random small autoregressive linear models (H <= 5, V <= 3):
stopped KL, Prop. F.10 / D.10, and the Hellinger partial converse, Prop. F.11 / D.11."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bounds_strategies import leq, small_autoregressive_models
from theory.bounds import hellinger_partial_converse, stopped_kl_to_coverage
from theory.instances.witnesses import bernoulli_witness, hellinger_converse_witness
from theory.log_ratio import exact_log_ratio, exact_stopped_kl, path_token_hellinger
from theory.models import categorical_model

log_thresholds_gt_e = st.lists(st.floats(1.0 + 1e-6, 14.0), min_size=1, max_size=5).map(np.array)


@given(small_autoregressive_models(), log_thresholds_gt_e)
def test_prop_f10_holds(models, log_n):
    data, model = models
    N = np.exp(log_n)
    cov = exact_log_ratio(data, model).coverage(N)
    d_seq = exact_stopped_kl(data, model, N)
    assert np.all(leq(d_seq, log_n))                      # D_seq,N <= log N
    assert np.all(leq(cov, stopped_kl_to_coverage(d_seq, N)))


@given(st.floats(1e-8, 1e-6), st.floats(np.log(20.0), 30.0).map(np.exp))
def test_prop_f10_attained_up_to_its_factor_2(p, N):
    # H = 1, Ber(p) vs Ber(p/N): D_seq,N = KL (< log N), Cov = p, so
    # Cov/bound = (log N - 1) p/(2 KL) >= (log N - 1)/(2 (f(N)/N + p a^2/(1 - p/N))) -> 1/2 as N grows.
    # (Evaluated at N' = N (1 - 1e-9): the models are rebuilt from probabilities, so the ratio
    # on the first outcome is N only up to rounding, and p >= 1e-8 keeps log(1 - p) accurate.)
    w = bernoulli_witness(p, N)
    data = categorical_model(np.exp(w.log_p_data))
    model = categorical_model(np.exp(w.log_p_model))
    Nq = N * (1 - 1e-9)
    cov = exact_log_ratio(data, model).coverage(Nq)
    ratio = cov / stopped_kl_to_coverage(exact_stopped_kl(data, model, Nq), Nq)
    a = 1 - 1 / N
    floor = (np.log(Nq) - 1) / (2 * (np.log(N) - 1 + 1 / N + p * a ** 2 / (1 - p / N)))
    assert abs(cov - p) <= 1e-12 * p
    assert floor * (1 - 1e-6) <= ratio <= 0.5 + 1e-9


@given(small_autoregressive_models(), st.lists(st.floats(0.0, 4.0), min_size=1, max_size=5).map(np.array),
       st.floats(np.log(1e-2), np.log(0.9)).map(np.exp))
def test_prop_f11_holds(models, log_n, delta):
    data, model = models
    N = np.exp(log_n)
    cov = exact_log_ratio(data, model).coverage(N)
    x, y, log_w = data.enumerate_support()
    w = np.exp(log_w)
    keep = w > 0
    sums = path_token_hellinger(data, model, x[keep], y[keep]).sum(-1)
    bound = hellinger_partial_converse(sums, N, delta, weights=w[keep] / w[keep].sum())
    assert np.all(leq(bound, cov))


@given(st.integers(1, 6), st.floats(0.05, 0.95), st.floats(0.01, 0.9), st.floats(1e-6, 1 - 1e-6))
def test_prop_f11_gap_is_exactly_delta_on_witness(H, mass, delta, frac):
    # N > 1 with threshold log(N/delta) < H: the converse gives mass - delta, coverage is mass.
    N = max(1.0, np.exp(frac * (H + np.log(delta))))
    data, model = hellinger_converse_witness(H, mass)
    cov = exact_log_ratio(data, model).coverage(N)
    x, y, log_w = data.enumerate_support()
    w = np.exp(log_w)
    keep = w > 0
    sums = path_token_hellinger(data, model, x[keep], y[keep]).sum(-1)
    bound = hellinger_partial_converse(sums, N, delta, weights=w[keep] / w[keep].sum())
    if N > 1 and np.log(N / delta) <= H * (1 - 1e-12):
        assert abs(cov - mass) <= 1e-12
        assert abs((cov - bound) - delta) <= 1e-12
    assert leq(bound, cov)
