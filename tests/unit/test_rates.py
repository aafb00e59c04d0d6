"""Unit tests of :mod:`theory.rates` against independent evaluations of the statements' formulas.

Each formula is evaluated at points where **every term is of the same order** (so that a
dropped or mis-scaled term changes the value by a large factor) and, for the functions with
a ``min``/``max``, at points on **both sides of every branch**; the reference values are
computed independently with scalar ``math`` from the statement (ICLR numbering; arXiv in the
docstrings of :mod:`theory.rates`).  The step sizes and proof constants the experiments pass
to the learners are pinned at their configurations.  Calls use keyword arguments.
"""

import math

import numpy as np
import pytest

from theory import rates

LOG = math.log


def _close(a, b):
    assert float(a) == pytest.approx(b, rel=1e-12, abs=0.0)


# ----------------------------------------------------------------------------- rate shapes
# (function, kwargs, independent formula, kwargs at which each term is O(1) relative to the others)
SHAPES = [
    ("bernoulli_coverage_rate", dict(n=50, delta=0.05), lambda n, delta: LOG(1 / delta) / n),
    ("finite_class_mle_coverage_rate", dict(n=40, N=20.0, class_size=30, delta=0.1),
     lambda n, N, class_size, delta: LOG(class_size) / (n * LOG(N)) + (LOG(class_size) + LOG(1 / delta)) / n),
    ("linear_mle_coverage_rate", dict(n=64, N=8.0, sigma_sq=9.0, B=3.0),
     lambda n, N, sigma_sq, B: math.sqrt(sigma_sq / (n * LOG(N))) + B ** 2 / n),
    ("kl_lower_bound_prop_3_2", dict(n=30, H=7), lambda n, H: H / (4 * n)),
    ("coarse_lower_bound_prop_g1", dict(n=30, d=7), lambda n, d: d / n),
    ("fine_lower_bound_prop_g1", dict(n=30, d=7, N=12.0), lambda n, d, N: d / (n * LOG(N))),
    ("misspecification_lower_bound", dict(alpha=0.6, M=5.0), lambda alpha, M: alpha ** 2 / LOG(M)),
    ("sgd_coverage_rate", dict(T=100, N=10.0, sigma_sq=25.0, B=2.0, H=12),
     lambda T, N, sigma_sq, B, H: (math.sqrt(sigma_sq / T) + B ** 2 * H / T) / LOG(N)),
    ("normalized_sgd_coverage_rate", dict(T=100, K=4, N=10.0, sigma_sq=25.0, B=2.0),
     lambda T, K, N, sigma_sq, B: math.sqrt(sigma_sq / (T * LOG(N))) + B ** 2 / T + B / (K * LOG(N))),
    ("ttt_kl_rate", dict(T=100, sigma_sq=16.0, B=2.0), lambda T, sigma_sq, B: math.sqrt(sigma_sq / T) + B ** 2 / T),
    ("ttt_coverage_rate", dict(T=100, N=10.0, sigma_sq=16.0, B=2.0),
     lambda T, N, sigma_sq, B: (math.sqrt(sigma_sq / T) + B ** 2 / T) / LOG(N)),
    ("distillation_coverage_rate", dict(T=64, N=8.0, sigma_sq=9.0, B=3.0),
     lambda T, N, sigma_sq, B: math.sqrt(sigma_sq / (T * LOG(N))) + B ** 2 / T),
    ("tournament_coverage_rate", dict(N=16.0, a=0.5, best_coverage=0.2, class_size=20, n=15, delta=0.1),
     lambda N, a, best_coverage, class_size, n, delta: best_coverage + N ** (-(1 - a)) + LOG(class_size / delta) / n),
    ("offset_tournament_coverage_rate", dict(class_size=20, n=15, delta=0.1),
     lambda class_size, n, delta: LOG(class_size / delta) / n),
]


@pytest.mark.parametrize("name, kwargs, formula", SHAPES, ids=[s[0] for s in SHAPES])
def test_rate_shape_matches_the_statement(name, kwargs, formula):
    """Each rate shape equals the statement's formula, evaluated independently, where its terms are comparable."""
    _close(getattr(rates, name)(**kwargs), formula(**kwargs))


@pytest.mark.parametrize("name, kwargs, formula", SHAPES, ids=[s[0] for s in SHAPES])
def test_every_argument_enters_the_formula(name, kwargs, formula):
    """Changing any one argument by 10% changes the value exactly as the formula does (no term dropped)."""
    f = getattr(rates, name)
    for key, value in kwargs.items():
        new = dict(kwargs)
        if key in ("a", "alpha", "best_coverage", "delta"):
            new[key] = value * 0.9
        elif key in ("H", "d", "K", "class_size"):
            new[key] = value + 1
        else:
            new[key] = value * 1.1
        assert float(f(**new)) != pytest.approx(float(f(**kwargs)), rel=1e-6), (name, key)
        _close(f(**new), formula(**new))


def test_rate_shapes_broadcast():
    """Vectorised evaluation equals the scalar formula elementwise."""
    n = np.array([10.0, 100.0, 1000.0])
    N = np.array([[4.0], [64.0]])
    got = rates.linear_mle_coverage_rate(n=n, N=N, sigma_sq=4.0, B=1.5)
    want = [[math.sqrt(4.0 / (nn * LOG(NN))) + 1.5 ** 2 / nn for nn in n] for NN in N[:, 0]]
    np.testing.assert_allclose(got, want, rtol=1e-12)


# ------------------------------------------------------------------------- min / max branches
@pytest.mark.parametrize("T, H, B, s2, cap_binds", [(100, 4, 2.0, 1.0, True),      # 1/(2HB^2) binds
                                                    (100, 1, 0.1, 50.0, False)])   # sqrt(2/(s2 T)) binds
def test_sgd_step_size_both_branches(T, H, B, s2, cap_binds):
    """Prop. 5.1's step min{1/(2HB^2), sqrt(2/(sigma^2 T))} on both sides of the min."""
    cap, opt = 1 / (2 * H * B ** 2), math.sqrt(2 / (s2 * T))
    assert (cap < opt) == cap_binds
    _close(rates.sgd_step_size(T=T, H=H, B=B, sigma_sq=s2), min(cap, opt))


@pytest.mark.parametrize("T, B, s2, cap_binds", [(10, 2.0, 1.0, True), (100, 0.1, 50.0, False)])
def test_ttt_step_size_both_branches(T, B, s2, cap_binds):
    """Theorem 6.1's step min{1/(2B^2), (sigma^2 T)^(-1/2)} on both sides of the min."""
    cap, opt = 1 / (2 * B ** 2), 1 / math.sqrt(s2 * T)
    assert (cap < opt) == cap_binds
    _close(rates.ttt_step_size(T=T, B=B, sigma_sq=s2), min(cap, opt))


@pytest.mark.parametrize("T, N, B, s2", [(10_000, 8.0, 2.0, 1.0), (100, 8.0, 0.01, 50.0)])
def test_distillation_step_size_both_branches(T, N, B, s2):
    """Theorem G.2 / 6.2 step min{1/((64 log N + 2) B^2), (T sigma^2 log N)^(-1/2)} on both sides."""
    cap, opt = 1 / ((64 * LOG(N) + 2) * B ** 2), 1 / math.sqrt(T * s2 * LOG(N))
    assert (cap < opt) == (B == 2.0)
    _close(rates.distillation_step_size(T=T, N=N, B=B, sigma_sq=s2), min(cap, opt))


@pytest.mark.parametrize("T, N, B, s2, cap_binds", [(10.0, 16.0, 1.0, 1.0, True),      # cap 1/(128 B) binds
                                                    (1e12, 16.0, 1.0, 1.0, False)])   # (M/(sigma^2 T))^(1/4) binds
def test_normalized_sgd_parameters_both_branches(T, N, B, s2, cap_binds):
    """Theorem 5.1's proof choices: eta = min{1/(128B), (M/(sigma^2T))^(1/4)}, lambda = M/(16 eta)."""
    M = LOG(N)
    cap, opt = 1 / (128 * B), (M / (s2 * T)) ** 0.25
    assert (cap < opt) == cap_binds
    eta, lam = rates.normalized_sgd_parameters(T=T, N=N, B=B, sigma_sq=s2)
    _close(eta, min(cap, opt))
    _close(lam, M / (16 * min(cap, opt)))


def test_normalized_sgd_parameters_meet_the_proof_conditions():
    """With the cap binding, lambda = 8 B log N exactly (the proof's condition lambda >= 8BM at equality) and eta lambda = M/16."""
    for B in (1.0, 3.0, 30.0):
        for N in (3.0, 8.0, 1e6):
            eta, lam = rates.normalized_sgd_parameters(T=1.0, N=N, B=B, sigma_sq=1.0)
            _close(eta, 1 / (128 * B))
            _close(lam, 8 * B * LOG(N))
            _close(eta * lam, LOG(N) / 16)


@pytest.mark.parametrize("n, H, N", [(1000, 10, 8.0), (10, 100, 8.0)])
def test_high_dim_lower_bound_both_branches(n, H, N):
    """Prop. K.1 / I.1: min{1, H/(n log N)} below and at the cap."""
    _close(rates.high_dim_coverage_lower_bound(n=n, H=H, N=N), min(1.0, H / (n * LOG(N))))


@pytest.mark.parametrize("T, H, N", [(1000, 10, 8.0), (10, 100, 8.0)])
def test_sgd_lower_bound_both_branches(T, H, N):
    """Prop. 5.1 lower bound: min{H/(T log N), 1} below and at the cap."""
    _close(rates.sgd_coverage_lower_bound(T=T, H=H, N=N), min(1.0, H / (T * LOG(N))))


# ------------------------------------------------------------------- explicit-constant bounds
def test_sgd_kl_bound_terms():
    """Prop. 5.1: 4/(eta T) + 2 eta sigma^2, both terms equal at the optimal eta = sqrt(2/(sigma^2 T))."""
    T, s2 = 400, 3.0
    eta = math.sqrt(2 / (s2 * T))
    _close(4 / (eta * T), 2 * eta * s2)
    _close(rates.sgd_kl_bound(T=T, eta=eta, sigma_sq=s2), 4 / (eta * T) + 2 * eta * s2)
    _close(rates.sgd_kl_bound(T=T, eta=2 * eta, sigma_sq=s2), 4 / (2 * eta * T) + 4 * eta * s2)


def test_sgd_step_size_minimises_the_kl_bound():
    """sgd_step_size is the minimiser of sgd_kl_bound under eta <= 1/(2HB^2) (a grid search agrees)."""
    for T, H, B, s2 in [(1000, 2, 1.0, 4.0), (50, 8, 1.0, 0.5)]:
        eta = float(rates.sgd_step_size(T=T, H=H, B=B, sigma_sq=s2))
        grid = np.linspace(1e-6, 1 / (2 * H * B ** 2), 20001)
        best = grid[np.argmin(rates.sgd_kl_bound(T=T, eta=grid, sigma_sq=s2))]
        assert eta == pytest.approx(best, rel=1e-3)


def test_ttt_kl_bound_is_the_online_to_batch_sum_per_sequence():
    """Theorem 6.1: (4/eta + 2 eta T sigma^2)/T."""
    T, eta, s2 = 250, 0.07, 5.0
    _close(rates.ttt_kl_bound(T=T, eta=eta, sigma_sq=s2), (4 / eta + 2 * eta * T * s2) / T)


@pytest.mark.parametrize("C", [math.log(4.0), 2.0])
def test_finite_class_mle_coverage_bound_terms(C):
    """Theorem 4.1 (finite class, proof constants): fine 4 log(2|Pi|/delta)/((log N - C) n) + coarse 16 log(4|Pi|/delta)/n."""
    n, N, P, delta = 200, 50.0, 12, 0.05
    fine = 4 * LOG(2 * P / delta) / ((LOG(N) - C) * n)
    coarse = 16 * LOG(4 * P / delta) / n
    _close(rates.finite_class_mle_coverage_bound(n=n, N=N, class_size=P, delta=delta, C=C), fine + coarse)
    # the fine term decays with log N, the coarse one does not
    big = rates.finite_class_mle_coverage_bound(n=n, N=1e12, class_size=P, delta=delta, C=C)
    _close(big, 4 * LOG(2 * P / delta) / ((LOG(1e12) - C) * n) + coarse)


def test_finite_class_mle_coverage_bound_domain():
    """The bound needs log N > C >= log 4."""
    with pytest.raises(ValueError, match="`N`"):
        rates.finite_class_mle_coverage_bound(n=10, N=4.0, class_size=2, delta=0.1)
    with pytest.raises(ValueError, match="`C`"):
        rates.finite_class_mle_coverage_bound(n=10, N=100.0, class_size=2, delta=0.1, C=1.0)
    with pytest.raises(ValueError, match="`eta`"):
        rates.sgd_kl_bound(T=10, eta=0.0, sigma_sq=1.0)


# ------------------------------------------------------- step sizes the experiments pass to learners
def test_pinned_sgd_rates_steps():
    """sgd-rates: vanilla eta = min{1/(2HB^2), sqrt(2/(sigma^2 T))}; NSGD under Theorem 5.1's own conditions: eta = min{1/(128B), (log N/(sigma^2 T))^(1/4)}, lambda = log N/(16 eta) >= 8 B log N."""
    from simulations.experiments import sgd_rates

    cfg = sgd_rates.Config.quick()
    for H in cfg.H_values[:1]:
        inst = sgd_rates._instance(cfg, H)
        s2 = float(inst.data.sigma_star_sq())
        T = cfg.T
        _close(rates.sgd_step_size(T, H=H, sigma_sq=s2, B=cfg.B),
               min(1 / (2 * H * cfg.B ** 2), math.sqrt(2 / (s2 * T))))
        eta, lam = rates.normalized_sgd_parameters(T, N=cfg.N, sigma_sq=s2, B=cfg.B)
        _close(eta, min(1 / (128 * cfg.B), (LOG(cfg.N) / (s2 * T)) ** 0.25))
        _close(lam, LOG(cfg.N) / (16 * eta))
        assert float(eta) <= 1 / (128 * cfg.B) and float(lam) >= 8 * cfg.B * LOG(cfg.N) * (1 - 1e-12)


def test_pinned_distillation_and_ttt_steps():
    """distillation and test-time-training (quick): the theorems' steps at the configurations' (T, N, B, sigma^2)."""
    from simulations.experiments import distillation, test_time_training
    from theory.instances import lemma_k7

    cfg = distillation.Config.quick()
    for H in cfg.H_values:
        s2 = float(lemma_k7(H, cfg.B, cfg.B, mu_plus=0.5).data.sigma_star_sq())
        _close(rates.distillation_step_size(T=cfg.T, N=cfg.N, B=cfg.B, sigma_sq=s2),
               min(1 / ((64 * LOG(cfg.N) + 2) * cfg.B ** 2), 1 / math.sqrt(cfg.T * s2 * LOG(cfg.N))))
    tcfg = test_time_training.Config.quick()
    for name in ("prop-3.2", "lemma-k7"):
        for H in tcfg.H_values:
            inst, _, B = test_time_training._instance(tcfg, name, H)
            s2 = float(inst.data.sigma_star_sq())
            _close(rates.ttt_step_size(T=tcfg.T, B=B, sigma_sq=s2), min(1 / (2 * B ** 2), 1 / math.sqrt(s2 * tcfg.T)))
