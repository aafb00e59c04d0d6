"""Quick presets of the optimizer experiments: verdicts, conditions, figures.

Every claim goes through :mod:`simulations.claims` (stated false-fail rate and power inside the
verdict).  Seeds are fixed (``seed=0``), so each outcome is deterministic; the rates apply to a
fresh seed (``python -m simulations calibrate --quick --only ...`` checks them over seeds).

The explicit-constant KL bounds (Prop. 5.1, Theorem 6.1) are expected ``UNDERPOWERED``: they
hold with a margin far above the factor-2 alternative of ``bound_claim`` (an online-to-batch
bound of this form cannot come within a factor 2, see ``docs/optimizers.md``); the test checks
that they hold.
"""

import json

import numpy as np
import pytest

from simulations.claims import NOT_RUN_IN_QUICK, PASS, UNDERPOWERED
from simulations.runner import run_experiment
from simulations.experiments import (adaptive_optimizers, distillation, sgd_lower_bound, sgd_rates,
                                     test_time_training)

pytestmark = pytest.mark.statistical

MODULES = [sgd_lower_bound, sgd_rates, test_time_training, distillation, adaptive_optimizers]

#: Binding claims that hold but cannot reach the factor-2 power of a bound claim.
UNDERPOWERED_BY_CONSTRUCTION = {"sgd-rates/sgd-kl-bound", "test-time-training/prop-3.2/ttt-kl-bound",
                                "test-time-training/lemma-k7/ttt-kl-bound",
                                "sgd-rates/nsgd-explicit-bound-nonvacuous"}
#: Binding claims decided in the full preset only (reason in the claim).
FULL_ONLY = {"sgd-rates/nsgd-below-vanilla-per-step-vacuous-bound", "sgd-rates/nsgd-explicit-bound-growing-start",
             "sgd-rates/sgd-over-nsgd-grows-in-H-growing-start"}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("optimizers")
    return {m.NAME: run_experiment(m, m.Config.quick(), seed=0, out_dir=out) for m in MODULES}


def _bound_holds(c):
    bounds = json.loads(c.predicted.split("<= ", 1)[1]) if "[" in c.predicted else [float(c.predicted[3:])]
    return c.interval[1] <= min(bounds)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_quick_verdicts_and_figures(results, module):
    res = results[module.NAME]
    assert res.claims, "no claims"
    assert not any(c.legacy for c in res.claims)
    for c in res.claims:
        if c.exploratory:
            continue
        if c.id in UNDERPOWERED_BY_CONSTRUCTION:
            assert c.verdict == UNDERPOWERED and _bound_holds(c), (c.id, c.verdict, c.interval, c.predicted)
        elif c.id in FULL_ONLY:
            assert c.verdict == NOT_RUN_IN_QUICK, (c.id, c.verdict)
        else:
            assert c.verdict == PASS, (c.id, c.verdict, c.measured, c.interval, c.power)
    assert res.figures and all(p.exists() and p.stat().st_size > 1000 for p in res.figures)
    on_disk = json.loads((res.out_dir / "claims.json").read_text())
    assert [c["id"] for c in on_disk] == [c.id for c in res.claims]
    if module is adaptive_optimizers:
        assert all(c.exploratory for c in res.claims)


#: A binding claim may leave a condition unmet only if its id names it: id tag -> words of the
#: unmet hypotheses the tag covers.
UNMET_TAGS = {"uncapped": ("128 B", "8 B log N", "bias term", "non-vacuous", "coverage x T"),
              "vacuous-bound": ("non-vacuous", "unit constants"),
              "stated-step": ("256 log N B^2",), "k7-variant": ("prompt mass", "start theta_0")}


def test_conditions_of_theorem_claims(results):
    """Claims citing Theorem 5.1 / 6.1 / 6.2 or Prop. 5.1 record their hypotheses; a binding claim
    meets all of them or names every unmet one in its id (``UNMET_TAGS``); the ones that drop the
    step cap say so in their id."""
    seen = 0
    for res in results.values():
        for c in res.claims:
            if c.kind != "prediction" or not any(
                    s in c.paper_ref for s in ("Theorem 5.1", "Theorem 6.1", "6.2 (arXiv)", "Prop. 5.1")):
                continue
            if c.id.startswith("test-time-training") and "proper" in c.id:
                continue
            if c.exploratory and not c.conditions:
                continue
            assert c.conditions, c.id
            dropped = [d["hypothesis"] for d in c.conditions if d["holds"] is False]
            # an unverifiable hypothesis (an unstated absolute constant) is recorded as unknown, with a note
            assert all(d.get("note") for d in c.conditions if d["holds"] is None), c.id
            if "uncapped" in c.id:
                assert any("128 B" in h for h in dropped), c.id
            if c.exploratory:
                continue
            covered = [w for tag, words in UNMET_TAGS.items() if tag in c.id for w in words]
            unnamed = [h for h in dropped if not any(w in h for w in covered)]
            assert not unnamed, (c.id, unnamed)
            assert all(d.get("note") for d in c.conditions if d["holds"] is False), c.id
            seen += 1
    assert seen >= 8


def test_unknown_constant_conditions_are_not_recorded_as_met(results):
    """Prop. 5.1's lower bound needs B >= c log^2(T H) with an unstated c: recorded as unknown."""
    c = next(c for c in results["sgd-lower-bound"].claims if c.id.endswith("k7-variant/vanilla-best-eta-slope-in-H"))
    d = next(d for d in c.conditions if "c log^2(T H)" in d["hypothesis"])
    assert d["holds"] is None and "unknown" in d["note"]


def test_unmet_conditions_are_recorded_where_the_review_found_them(results):
    """The level checks are recorded as unmet where they are: Theorem 5.1's bound with the proof's
    constants is vacuous in sgd-rates, the uncapped runs are decided by their first iterates, and
    distillation's stated step is not covered by its proof."""
    def unmet(name, cid):
        c = next(c for c in results[name].claims if c.id == cid)
        return [d["hypothesis"] for d in c.conditions if not d["holds"]]

    assert any("non-vacuous" in h for h in unmet("sgd-rates", "sgd-rates/nsgd-flat-in-H-vacuous-bound"))
    assert any("coverage x T" in h for h in unmet("sgd-lower-bound",
                                                  "sgd-lower-bound/nsgd-uncapped-worst-instance-flat-in-H"))
    assert any("256 log N B^2" in h for h in unmet("distillation",
                                                   "distillation/distill-below-vanilla-above-crossing-stated-step"))
    assert not unmet("distillation", "distillation/proof-step-below-vanilla-above-crossing")


def test_nonvacuous_theorem_5_1_claims_meet_every_condition(results):
    """On the rare-event instance every hypothesis of Theorem 5.1 and every design check holds
    (bound with the proof's constants below 1, coverage x T >= 100, start coverage >= 0.9), in the
    quick preset too; the shape check passes (a sanity check: the family is H-invariant by
    construction) and the level holds."""
    claims = {c.id: c for c in results["sgd-rates"].claims if c.id.endswith("-nonvacuous")}
    for cid in ("sgd-rates/nsgd-flat-in-H-nonvacuous", "sgd-rates/nsgd-explicit-bound-nonvacuous"):
        c = claims[cid]
        assert c.conditions and all(d["holds"] for d in c.conditions), (cid, c.conditions)
        assert any("non-vacuous" in d["hypothesis"] for d in c.conditions)
    shape = claims["sgd-rates/nsgd-flat-in-H-nonvacuous"]
    assert shape.kind == "sanity" and shape.verdict == "PASS" and "H-invariant" not in shape.id
    assert "same process at every H" in shape.details
    assert claims["sgd-rates/nsgd-explicit-bound-nonvacuous"].underpowered_reason == "structural"
    assert claims["sgd-rates/sgd-step-limited-in-H-nonvacuous"].exploratory


def test_nonvacuous_shape_rule_fails_on_vanilla_sgd(results):
    """Negative control of nsgd-flat-in-H-nonvacuous: the same rule (at most the rate's local slope,
    tolerance 0.1) applied to vanilla SGD on the same instances, whose step shrinks like 1/H, fails."""
    from simulations.claims import FAIL, exponent_claim

    recs = [r for r in results["sgd-rates"].records if r["part"] == "re-sgd"]
    recs.sort(key=lambda r: r["H"])
    shape = next(c for c in results["sgd-rates"].claims if c.id == "sgd-rates/nsgd-flat-in-H-nonvacuous")
    c = exponent_claim("control/vanilla-flat-in-H", "control", "vanilla SGD is H-free", [r["H"] for r in recs],
                       [np.asarray(r["cov_lo"])[:, -1, 0] for r in recs], predicted=shape.predicted,
                       mode="at_most", tolerance=0.1, evaluation="exact")
    assert c.verdict == FAIL, (c.measured, c.interval)


def test_lower_bound_mechanism_matches_derived_prediction(results):
    """The measured best-step coverage is within 25% of the noise-free derived dynamics."""
    claim = next(c for c in results["sgd-lower-bound"].claims if c.id.endswith("vanilla-best-eta-slope-in-H"))
    text = claim.details.split("dynamics of the mechanism give ")[1]
    derived = np.array([float(v) for v in text.split(" (slope")[0].split(", ")])
    measured = np.array([float(v.rstrip(".")) for v in text.split("measured means ")[1].split(". ")[0].split(", ")])
    assert np.all(np.abs(measured / derived - 1) < 0.25)


def _gs_ratio_rule(config, Hs, num, den):
    from simulations.claims import exponent_claim

    return exponent_claim("control/ratio", "control", "ratio grows", Hs,
                          [np.asarray(a) / np.asarray(b) for a, b in zip(num, den)],
                          predicted=config.gs_ratio_exponent, mode="at_least", evaluation="monte_carlo")


def test_growing_start_ratio_rule_has_power(results):
    """sgd-over-nsgd-grows-in-H-growing-start (part D, exploratory): on the quick data its rule passes (vanilla's
    coverage grows like H, normalized SGD's like log H); negative control: normalized SGD with
    lambda scaled like H (lambda = 8 B log N H/128, breaking the proof's eta lambda <= log N/16) takes
    steps that shrink like 1/H once |g| < lambda, its transient grows like vanilla's, and the same
    rule on vanilla / control fails."""
    from simulations.claims import FAIL, HOLDS, PASS as OK, quick_data_verdict
    from simulations.experiments import _sgd_rates_rare_event as _rare_event

    config = sgd_rates.Config.quick()
    recs = results["sgd-rates"].records
    ns = sorted([r for r in recs if r["part"] == "gs-nsgd"], key=lambda r: r["H"])
    vs = sorted([r for r in recs if r["part"] == "gs-sgd"], key=lambda r: r["H"])
    Hs = [r["H"] for r in ns]
    cov = [np.asarray(r["cov_lo"])[:, -1, 0] for r in ns]
    cov_v = [np.asarray(r["cov_lo"])[:, -1, 0] for r in vs]
    claim = next(c for c in results["sgd-rates"].claims if c.id == "sgd-rates/sgd-over-nsgd-grows-in-H-growing-start")
    assert claim.verdict == NOT_RUN_IN_QUICK and claim.exploratory      # the step recipe's ratio
    assert all(d["holds"] for d in claim.conditions if "lower bound" not in d["hypothesis"])
    assert [d["holds"] for d in claim.conditions if "lower bound" in d["hypothesis"]] == [None]
    assert _gs_ratio_rule(config, Hs, cov_v, cov).verdict == OK
    assert quick_data_verdict(claim) == HOLDS
    control = [_rare_event.run_rare_event(config, {"part": "gs-nsgd", "H": h, "lam_factor": h / Hs[0]},
                                          np.random.default_rng(1))[0] for h in Hs]
    cov_c = [np.asarray(r["cov_lo"])[:, -1, 0] for r in control]
    bad = _gs_ratio_rule(config, Hs, cov_v, cov_c)
    assert bad.verdict == FAIL, (bad.measured, bad.interval)
