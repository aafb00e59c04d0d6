"""Statistical tests of the maximum-likelihood experiments (generalization of maximum likelihood).

Default run: every quick preset end to end.  Each binding claim must be ``PASS`` (which, by the
rules of :mod:`simulations.claims`, includes power >= 0.9 against the stated alternative) or
``not run in quick``; no claim is built the legacy way; every prediction citing a theorem
records its hypotheses.  The acceptance rules themselves (false-fail rates, power, negative
controls on synthetic data) are tested in ``tests/unit/test_claims.py``.  ``slow``: the full
presets.
"""

import pytest

from simulations import registry
from simulations.claims import NOT_RUN_IN_QUICK, PASS, POWER_TARGET
from simulations.runner import run_experiment

pytestmark = pytest.mark.statistical

MLE_EXPERIMENTS = ["mle-finite-class", "prop-3-2", "linear-mle-rate", "prop-k1", "prop-g1", "prop-g2", "convex-class"]


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("mle")
    return {name: run_experiment(registry.get(name), registry.get(name).Config.quick(), seed=0, out_dir=out)
            for name in MLE_EXPERIMENTS}


@pytest.mark.parametrize("name", MLE_EXPERIMENTS)
def test_quick_preset_claims_pass(quick_results, name):
    res = quick_results[name]
    bad = [(c.id, c.verdict) for c in res.claims if c.binding and c.verdict not in (PASS, NOT_RUN_IN_QUICK)]
    assert not bad, bad
    assert not [c.id for c in res.claims if c.legacy]
    assert all(c.power >= POWER_TARGET for c in res.claims
               if c.binding and c.kind == "prediction" and c.verdict == PASS)
    assert res.claims and res.figures and all(p.exists() for p in res.figures)


def test_theorem_claims_record_their_hypotheses(quick_results):
    claims = [c for name in ("linear-mle-rate", "mle-finite-class", "prop-k1", "convex-class")
              for c in quick_results[name].claims if c.kind == "prediction"]
    assert claims and all(c.conditions for c in claims), [c.id for c in claims if not c.conditions]
    held = [c for c in claims if c.binding and c.verdict == PASS]
    assert all(all(h["holds"] or h.get("note") for h in c.conditions) for c in held)
    from simulations.claims import condition_problems
    problems = [p for res in quick_results.values() for c in res.claims for p in condition_problems(c)]
    assert not problems, problems


#: Binding claims whose full-preset verdict is a documented finding, not a pass (docs/mle.md):
#: on the width family with theta* on the sphere the pilot constant's bound is within a few per
#: cent of loose by the factor 2 the power rule asks for (largest ratio 0.5088 x bound with 2400
#: replicates, the count computed before the run from the previous run's spread and margin).
FINDINGS = {"linear-mle-rate/pilot-constant/width-sphere": "UNDERPOWERED"}


@pytest.mark.slow
@pytest.mark.parametrize("name", MLE_EXPERIMENTS)
def test_full_preset_claims_pass(tmp_path, name):
    mod = registry.get(name)
    res = run_experiment(mod, mod.Config.full(), seed=0, out_dir=tmp_path)
    failed = [(c.id, c.verdict) for c in res.claims if c.binding and c.verdict != PASS
              and FINDINGS.get(c.id) != c.verdict]
    assert not failed, failed
    # a documented finding that no longer shows must be re-documented, not silently passed
    changed = [(c.id, c.verdict) for c in res.claims if c.id in FINDINGS and c.verdict != FINDINGS[c.id]]
    assert not changed, changed
