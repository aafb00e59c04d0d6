"""Quick presets of the optimizer experiments: claims, power, figures.

Calibration: every non-exploratory claim is a slope/ratio test at a Bonferroni-split level
(family-wise false-fail rate ``FALSE_FAIL`` of the experiment module, 1e-3, over its
statistical claims), or an exact check.  Seeds are fixed (``seed=0``), so each outcome is
deterministic; the rates apply to a fresh seed.

Power: each slope claim also requires its interval to be narrow (``max_width``); here we
assert that the alternative exponent that would contradict the paper (``H``-free for vanilla
SGD, linear for normalized SGD/TTT/distillation) lies outside ``[lo - tol, hi + tol]``, i.e.
the same data would reject it.
"""

import json

import numpy as np
import pytest

from simulations.experiment import run_experiment
from simulations.experiments import (adaptive_optimizers, distillation, sgd_lower_bound, sgd_rates,
                                     test_time_training)

pytestmark = pytest.mark.statistical

MODULES = [sgd_lower_bound, sgd_rates, test_time_training, distillation, adaptive_optimizers]

# claim id suffix -> (tolerance of the claim, an exponent the data must reject)
ALTERNATIVES = {
    "sgd-lower-bound/vanilla-best-eta-slope-in-H": (0.15, 0.0),
    "sgd-lower-bound/nsgd-worst-instance-flat-in-H": (0.3, 1.0),
    "sgd-lower-bound/vanilla-best-eta-slope-in-T": (0.1, -0.5),
    "sgd-rates/sgd-slope-in-T": (0.15, -0.5),
    "sgd-rates/sgd-slope-in-H": (0.15, 0.0),
    "sgd-rates/sgd-slope-in-H-fixed-sigma": (0.15, 0.0),
    "sgd-rates/nsgd-slope-in-H-fixed-sigma": (0.3, 1.0),
    "test-time-training/prop-3.2/proper-kl-slope-in-H": (0.15, 0.5),
    "test-time-training/lemma-k7/ttt-kl-slope-in-H": (0.25, 1.0),
    "distillation/vanilla-slope-in-H-same-stream": (0.15, 0.0),
    "distillation/distill-slope-in-H": (None, 1.0),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("optimizers")
    return {m.NAME: run_experiment(m, m.Config.quick(), seed=0, out_dir=out) for m in MODULES}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_quick_claims_pass_and_figures_exist(results, module):
    res = results[module.NAME]
    assert res.claims, "no claims"
    failed = [c.id for c in res.claims if not c.exploratory and not c.passed]
    assert not failed, f"failed claims: {failed}"
    assert res.figures and all(p.exists() and p.stat().st_size > 1000 for p in res.figures)
    on_disk = json.loads((res.out_dir / "claims.json").read_text())
    assert [c["id"] for c in on_disk] == [c.id for c in res.claims]
    for c in res.claims:
        assert c.evaluation in ("exact", "certified", "monte_carlo")
    if module is adaptive_optimizers:
        assert all(c.exploratory for c in res.claims)


def test_power_against_the_wrong_exponent(results):
    checked = 0
    for res in results.values():
        for c in res.claims:
            if c.id not in ALTERNATIVES or c.interval is None:
                continue
            tol, wrong = ALTERNATIVES[c.id]
            if tol is None:                                   # tolerance recorded in the details
                tol = float(c.details.split("[lo - ")[1].split(",")[0])
            lo, hi = c.interval
            assert not (lo - tol <= wrong <= hi + tol), f"{c.id}: cannot reject slope {wrong}"
            checked += 1
    assert checked >= 8


def test_lower_bound_mechanism_matches_derived_prediction(results):
    """The measured best-step coverage is within 25% of the noise-free derived dynamics."""
    claim = next(c for c in results["sgd-lower-bound"].claims if c.id.endswith("vanilla-best-eta-slope-in-H"))
    text = claim.details.split("derived prediction of the same dynamics gives ")[1]
    derived = np.array([float(v) for v in text.split(" (slope")[0].split(", ")])
    measured = np.array([float(v) for v in text.split("measured means ")[1].split(", ")])
    assert np.all(np.abs(measured / derived - 1) < 0.25)
