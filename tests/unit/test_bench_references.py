"""The benchmark's references compute what the toolkit computes (small sizes).

Each benchmark row checks its reference's answer against the toolkit's in the run itself;
these tests pin the references on small instances, with a negative control each.
"""

import numpy as np
import pytest

from simulations import bench
from simulations.bench import core, mle, sgd, tournament
from simulations.learners.mle import sample_replicates
from simulations.learners.selection import simple_tournament
from theory.log_ratio import exact_log_ratio
from theory.models import MarkovModel


@pytest.mark.parametrize("reference", [sgd.reference_step_loop, sgd.reference_per_sample])
def test_w1_references_end_at_the_toolkits_parameters(reference):
    data, model = sgd.w1_problem(12)
    want = sgd.w1_toolkit(data, model, R=3, T=4, seed=5)
    np.testing.assert_allclose(reference(data, 12, R=3, T=4, seed=5), want, rtol=0, atol=1e-12)
    # negative control: another stream ends elsewhere
    assert np.abs(reference(data, 12, R=3, T=4, seed=6) - want).max() > 1e-6


def test_enumeration_reference_equals_exact_coverage():
    data, model = core.enumeration_pair(8)
    N = np.geomspace(1.0, 1e3, 50)
    want = exact_log_ratio(data, model).coverage(N)
    np.testing.assert_allclose(core.reference_enumerate_coverage(data, model, N), want,
                               rtol=0, atol=1e-12)
    assert np.abs(core.reference_enumerate_coverage(model, data, N) - want).max() > 1e-3


def test_sample_score_reference_equals_toolkit():
    sampler, scorer = core.sampling_pair(horizon=9, vocab=3, dim=4)
    x0 = np.zeros(200, dtype=np.int64)
    _, y = sampler.sample(200, rng=np.random.default_rng(1), x=x0)
    _, yr, sr = core.reference_sample_score(sampler, scorer, 200, np.random.default_rng(1))
    np.testing.assert_array_equal(y, yr)
    np.testing.assert_allclose(scorer.log_prob(x0, y), sr, rtol=0, atol=1e-12)
    _, y2, _ = core.reference_sample_score(sampler, scorer, 200, np.random.default_rng(2))
    assert not np.array_equal(y2, y)


def test_markov_sample_reference_equals_sample_replicates():
    rng = np.random.default_rng(0)
    lp = np.log(rng.dirichlet(np.ones(4), size=(3, 1, 5)))
    data = MarkovModel(lp, 7, rng.dirichlet(np.ones(3)))
    x, y = sample_replicates(data, 30, 4, rng=np.random.default_rng(9))
    xr, yr = mle.reference_markov_sample(data, 30, 4, np.random.default_rng(9))
    np.testing.assert_array_equal(x, xr)
    np.testing.assert_array_equal(y, yr)
    assert not np.array_equal(mle.reference_markov_sample(data, 30, 4, np.random.default_rng(8))[1], y)


def test_tournament_reference_equals_toolkit():
    rng = np.random.default_rng(4)
    ll = np.round(-np.abs(rng.normal(3.0, 2.0, size=(30, 400))), 1)   # rounded: many ties
    for N in (1.0, 2.0, 4.0):
        sel = simple_tournament(ll, N)
        index, scores = tournament.reference_simple_tournament(ll, N)
        assert int(sel.index) == index
        np.testing.assert_array_equal(sel.scores, scores)


def test_quick_rows_run_without_verdicts():
    rows = bench.run_benchmarks(quick=True, repeat=1,
                                names=["core/enumerate-coverage", "sgd/w1-end-to-end",
                                       "sgd/large-R"])
    for r in rows[2:]:
        assert r.error == "", r.error
        assert r.passed is None and r.seconds > 0 and r.reference_ratio > 0
    assert rows[3].machine_limit == "np.exp" and rows[3].machine_ratio > 0


def test_cost_model_recovers_known_coefficients():
    from simulations.bench._scaling import fit_cost_model

    runs = [{"tokens": t, "candidates": t * v, "seconds": 2e-3 + 15e-9 * t + 4e-9 * t * v}
            for t in (4e4, 1.6e5, 6.5e5, 2.6e6) for v in (2, 3, 8)]
    fit = fit_cost_model(runs)
    assert fit["fixed_s"] == pytest.approx(2e-3, rel=1e-6)
    assert fit["per_token_s"] == pytest.approx(15e-9, rel=1e-6)
    assert fit["per_candidate_s"] == pytest.approx(4e-9, rel=1e-6)
    assert fit["max_rel_residual"] < 1e-9
    # negative control: times that do not follow the model leave a visible residual
    runs[0]["seconds"] *= 2
    assert fit_cost_model(runs)["max_rel_residual"] > 0.1
