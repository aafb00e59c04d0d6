"""Statistical tests of the maximum-likelihood experiments.

Default run: every quick preset end to end (claims pass, figures written), plus the power
checks that the quick designs can afford: the same slope pipeline, on the same replicates
rescaled to an exponent off by 0.25, must be rejected.  Each claim's false-fail rate is
<= 1e-3 (Bonferroni inside the claim, see simulations/experiments/_mle_common.py).
``slow``: the full presets (every non-exploratory claim, power checks binding).
"""

import numpy as np
import pytest

from simulations import registry
from simulations.experiment import run_experiment
from simulations.experiments._mle_common import POWER_SHIFT, slope_claim

pytestmark = pytest.mark.statistical

MLE_EXPERIMENTS = ["mle-finite-class", "prop-3-2", "linear-mle-rate", "prop-k1", "prop-g1", "prop-g2", "convex-class"]

# Power checks that the quick designs resolve (asserted); the others are binding in the full presets.
QUICK_POWER = ["mle-finite-class/slope-n-mean/K8/power", "prop-g1/a-slope-n/power", "prop-g1/b-slope-n/power",
               "prop-k1/slope-n/H=64/power", "mle-finite-class/slope-n-large-N/K8/power"]


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("mle")
    return {name: run_experiment(registry.get(name), registry.get(name).Config.quick(), seed=0, out_dir=out)
            for name in MLE_EXPERIMENTS}


@pytest.mark.parametrize("name", MLE_EXPERIMENTS)
def test_quick_preset_claims_pass(quick_results, name):
    res = quick_results[name]
    failed = [c.id for c in res.claims if not c.exploratory and not c.passed]
    assert not failed, failed
    assert res.claims and res.figures and all(p.exists() for p in res.figures)
    assert all(c.evaluation in ("exact", "monte_carlo") for c in res.claims)


@pytest.mark.parametrize("cid", QUICK_POWER)
def test_quick_power_checks(quick_results, cid):
    claims = {c.id: c for r in quick_results.values() for c in r.claims}
    assert cid in claims and claims[cid].passed, claims.get(cid)


@pytest.mark.parametrize("true_exp", [-1.0, -0.5])
def test_slope_pipeline_accepts_truth_rejects_shift(true_exp):
    """The claim pipeline on synthetic replicates: accepts the true exponent, rejects +-0.25."""
    rng = np.random.default_rng(123)
    x = np.geomspace(16, 4096, 6)
    reps = [xi ** true_exp * rng.exponential(size=400) for xi in x]       # heavy-ish noise, mean x^e
    claim, power = slope_claim("t", "t", "t", x, [reps], true_exp, 0.05, rng=rng, evaluation="exact")
    assert claim.passed and power.passed
    for s in (POWER_SHIFT, -POWER_SHIFT):
        bad, _ = slope_claim("t", "t", "t", x, [reps], true_exp + s, 0.05, rng=rng, evaluation="exact")
        assert not bad.passed


@pytest.mark.slow
@pytest.mark.parametrize("name", MLE_EXPERIMENTS)
def test_full_preset_claims_pass(tmp_path, name):
    mod = registry.get(name)
    res = run_experiment(mod, mod.Config.full(), seed=0, out_dir=tmp_path)
    failed = [c.id for c in res.claims if not c.exploratory and not c.passed]
    assert not failed, failed
