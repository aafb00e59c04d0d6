"""Design pieces behind the claims of six experiments, each against an independent computation.

* ``tournament-guarantee``: the count-based tournaments of the large-``n`` offset cell select
  what :func:`simple_tournament` / :func:`offset_tournament` select on the expanded samples;
  the cell's predicted separation holds at its ``n`` and not at the grid's largest ``n``.
* ``bernoulli-case-study``: the Poisson limit ``lambda*_N`` that sets the fit window is
  ``log(1/delta)`` for large ``N``, larger for ``N = 2``, and is what ``n x`` the exact
  worst-case quantile approaches.
* ``inequalities``: the MLE witness quantile computed exactly; conditions flag a dropped
  hypothesis; the power split tells a random sweep without power from a witness with power.
* ``adaptive-optimizers``: the late-iterate average recovered from two running averages.
"""

import numpy as np
import pytest
from scipy import stats

from simulations.experiments import adaptive_optimizers as ada
from simulations.experiments import bernoulli_case_study as bern
from simulations.experiments import inequalities as ineq
from simulations.experiments import _inequality_witnesses as witnesses
from simulations.experiments import tournament_guarantee as tg
from simulations.learners.selection import offset_tournament, simple_tournament
from theory import bounds as B
from theory.instances.tournament import offset_trap_class


# ----------------------------------------------------------------------- tournaments
def test_count_tournaments_select_like_the_library_on_expanded_samples():
    rng = np.random.default_rng(3)
    N, a = 64.0, 0.25
    log_p, lp = offset_trap_class(12, N=N, a=a, rng=rng)
    p = np.exp(log_p) / np.exp(log_p).sum()
    w_on = np.exp(lp)[:, None, :]
    same = 0
    for _ in range(40):
        n = int(rng.integers(20, 3000))
        atoms = rng.choice(p.size, size=n, p=p)
        counts = np.bincount(atoms, minlength=p.size)
        s_c, o_c = (int(v[0]) for v in tg.count_tournaments(counts[None], lp, N, a))
        ll = lp[:, atoms]
        S = simple_tournament(ll, N)
        O = offset_tournament(ll, N, a, onpolicy_loglik=lp[None, :, None, :], onpolicy_weights=w_on)
        for mine, lib in ((s_c, S), (o_c, O)):
            if mine == int(lib.index):
                same += 1
                continue
            # an exact tie of score and log-likelihood, rounded apart by the summation order
            assert lib.scores[mine] == pytest.approx(lib.scores[int(lib.index)], abs=1e-12)
            assert counts @ lp[mine] == pytest.approx(counts @ lp[int(lib.index)], rel=1e-12)
    assert same >= 60                           # ties are the exception


def test_large_n_cell_separates_only_where_predicted():
    cfg = tg.Config.quick()
    K = cfg.offset_traps + 2
    bound, gap, trap = tg.large_n_design(K, 64.0, 0.25, cfg.delta, cfg.offset_large_n)
    assert gap == pytest.approx(64.0 ** -0.75)           # the N^-(1-a) term the offset removes
    assert bound < trap / 4                               # visible at the cell's n
    bound_grid, _, _ = tg.large_n_design(K, 64.0, 0.25, cfg.delta, max(cfg.n_values))
    assert bound_grid > trap                              # invisible at the grid's largest n


def test_large_n_cell_runs_and_the_simple_tournament_keeps_the_trap():
    cfg = tg.Config(offset_large_n=65536, offset_large_replicates=50)
    rec = tg._run_offset_large(cfg, 64.0, 0.25, np.random.default_rng(0))[0]
    assert np.median(rec["cov_tournament"]) == pytest.approx(rec["trap_mass"])
    assert np.quantile(rec["cov_offset"], 0.9) <= tg.large_n_design(rec["K"], 64.0, 0.25, cfg.delta, rec["n"])[0]


# ------------------------------------------------------------------------ Bernoulli
def test_poisson_limit_is_log_inverse_delta_for_large_N_and_larger_for_N_2():
    d = 0.1
    for N in (8.0, 64.0, 1024.0):
        assert bern.poisson_limit(N, d) == pytest.approx(np.log(1 / d), abs=2e-4)
    lam2 = bern.poisson_limit(2.0, d)
    assert lam2 > 2 * np.log(1 / d)
    # just below lambda*_2 the event k <= lambda/2 still has probability > delta; above, no lambda has
    assert stats.poisson.cdf(np.floor((lam2 - 1e-6) / 2), lam2 - 1e-6) > d
    lam = np.linspace(lam2 + 1e-3, 60, 20000)
    assert (stats.poisson.cdf(np.floor(lam / 2), lam) <= d).all()


@pytest.mark.parametrize("N", [2.0, 8.0])
def test_n_times_the_exact_worst_quantile_approaches_the_poisson_limit(N):
    d, n = 0.1, 2000
    lam = bern.poisson_limit(N, d)
    grid = np.linspace(0.5, 1.2, 200) * lam / n                 # fine grid around the maximiser
    q = bern._exact_quantiles(grid, n, [N], 1 - d)[:, 0]
    assert n * q.max() == pytest.approx(lam, rel=0.02)
    if N == 2.0:                                                # not the k = 0 regime of large N
        assert n * q.max() > 2 * np.log(1 / d)


# ------------------------------------------------------------------------ inequalities
def test_mle_witness_quantile_is_computed_and_can_be_zero():
    n, delta = 400, 1e-6
    level = float(B.finite_class_mle_hellinger_bound(n, 2, delta))
    assert witnesses.mle_risk_quantile(witnesses.two_point_class(0.75 * level), n, delta) == pytest.approx(0.75 * level)
    # a wrong member far beyond the level is never chosen with probability > delta: quantile 0
    assert witnesses.mle_risk_quantile(witnesses.two_point_class(5 * level), n, delta) == 0.0


def test_conditions_flag_a_dropped_hypothesis():
    ok = ineq._conditions("prop-F.7", [{"hyp": {"N": (2.0, 20.0)}}], [])
    bad = ineq._conditions("prop-F.7", [{"hyp": {"N": (1.0, 20.0)}}], [])
    assert ok[0]["holds"] is True and bad[0]["holds"] is False
    assert "N in [1, 20]" in bad[0]["value"]


def test_power_split_separates_the_random_sweep_from_the_witness():
    split = ineq._power_split("prop-F.6", [0.1, 0.3, 0.9], ["r0", "r1", "w"], 2)
    assert split["random sweep"][0] == 0.0 and split["witnesses"][0] == 1.0
    split = ineq._power_split("prop-F.6", [0.1, 0.7, 0.9], ["r0", "r1", "w"], 2)
    assert split["random sweep"][0] == 1.0


def test_sweep_and_witness_of_prop_F7_meet_N_at_least_2():
    cfg = ineq.Config(n_discrete=5)
    recs = ineq.run_task(cfg, ineq.Task(cell=0, rep=0, params={"group": "discrete"}), rng=np.random.default_rng(0))
    recs += ineq.run_task(cfg, ineq.Task(cell=3, rep=0, params={"group": "witness"}), rng=np.random.default_rng(0))
    claim = {c.id: c for c in ineq.claims(cfg, recs)}[f"{ineq.NAME}/prop-F.7"]
    assert claim.conditions and all(c["holds"] for c in claim.conditions)


# ------------------------------------------------------------------------ adaptive
def test_late_iterate_average_from_two_running_averages():
    rng = np.random.default_rng(0)
    per_iterate = rng.random((3, 100))                      # (R, T) coverage of each iterate
    m50, m100 = per_iterate[:, :50].mean(1), per_iterate.mean(1)
    rec = {"cov_lo": np.stack([m50, m100], axis=1)[:, :, None].tolist(), "average_at": [50, 100]}
    np.testing.assert_allclose(ada._tail(rec), per_iterate[:, 50:].mean(1), rtol=1e-12)
