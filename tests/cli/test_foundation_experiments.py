"""The two foundation experiments end to end, and their claims' ability to fail.

* ``kl-vs-coverage`` (Props 3.1, F.1/D.1, F.2/D.2) and ``bernoulli-case-study`` (Section 3):
  the quick presets run through the command line (``python -m simulations run NAME --quick``)
  into a temporary folder; every claim passes, ``claims.json`` follows the schema, the PNG
  figures exist, and the stored records agree with closed forms computed here.
* "Could fail": each claims function is fed records produced by a deliberately wrong model
  (a bound tightened below the truth, witness coverage evaluated with the strict ``>``
  convention, infinite-KL counts from a different ``p*``, a ``1/sqrt(n)`` rate, ...) and the
  corresponding claim must fail while the others are unaffected where independent.
"""

import dataclasses
import json

import numpy as np
import pytest

import theory.coverage
from simulations.cli import main
from simulations.runner import EVALUATIONS, Task
from simulations.experiments import bernoulli_case_study as bern
from simulations.experiments import kl_vs_coverage as klc
from simulations.store import read_records

SCHEMA = {"id", "paper_ref", "statement", "predicted", "measured", "interval", "evaluation", "passed",
          "exploratory", "kind", "verdict", "rule", "tolerance", "power", "alternative", "conditions"}
PNG = b"\x89PNG\r\n\x1a\n"
EXPECTED_IDS = {
    klc.NAME: {f"{klc.NAME}/prop-3.1", f"{klc.NAME}/prop-F.1", f"{klc.NAME}/prop-F.2-equality",
               f"{klc.NAME}/prop-F.2-tightness"},
    bern.NAME: ({f"{bern.NAME}/infinite-kl-probability", f"{bern.NAME}/infinite-kl-iff-p-hat-zero",
                 f"{bern.NAME}/fixed-p-step"}
                | {f"{bern.NAME}/coverage-rate-N{N:g}" for N in bern.Config.quick().N_values}),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run both quick presets once through the CLI; return {name: (folder, stdout-less exit code)}."""
    out = tmp_path_factory.mktemp("foundation")
    codes = {m.NAME: main(["run", m.NAME, "--quick", "--seed", "0", "--out", str(out)]) for m in (klc, bern)}
    return {name: (out / name, code) for name, code in codes.items()}


def by_id(claims):
    return {c.id: c for c in claims}


# ------------------------------------------------------------------ end to end
@pytest.mark.parametrize("module", [klc, bern], ids=lambda m: m.NAME)
def test_quick_run_passes_with_schema_and_figures(module, runs):
    folder, code = runs[module.NAME]
    assert code == 0
    claims = json.loads((folder / "claims.json").read_text())
    assert {c["id"] for c in claims} == EXPECTED_IDS[module.NAME]
    for c in claims:
        assert SCHEMA <= c.keys(), c
        assert c["passed"] is True and c["verdict"] == "PASS" and "legacy" not in c, c
        assert (c["power"] is None) == (c["kind"] == "sanity") and c["rule"], c
        assert c["evaluation"] in EVALUATIONS
        assert isinstance(c["statement"], str) and c["statement"]
        assert isinstance(c["paper_ref"], str) and c["paper_ref"]
        if c["interval"] is not None:
            lo, hi = c["interval"]
            assert lo <= hi
    pngs = sorted(folder.glob("*.png"))
    assert len(pngs) >= 2
    for p in pngs:
        assert p.read_bytes()[:8] == PNG
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["seed"] == 0
    records = read_records(folder)
    assert len({(r["cell"], r["rep"]) for r in records}) == len(module.tasks(module.Config.quick()))


def test_kl_vs_coverage_records_match_closed_forms(runs):
    records = read_records(runs[klc.NAME][0])
    wit = [r for r in records if r["kind"] == "witness"]
    cfg = klc.Config.quick()
    assert len(wit) == len(cfg.witness_log2_p) * len(cfg.witness_log2_N)
    for r in wit:
        p, N = r["p"], r["N"]
        kl = p * np.log(N) + (1 - p) * np.log((1 - p) / (1 - p / N))        # KL(Ber p || Ber p/N)
        np.testing.assert_allclose(r["coverage"], p, rtol=1e-12)
        np.testing.assert_allclose(r["kl"], kl, rtol=1e-10)
        np.testing.assert_allclose(r["tight_value"], kl / (np.log(N) - 0.5 + 0.5 / N), rtol=1e-10)
    rand = [r for r in records if r["kind"] != "witness"]
    assert {r["kind"] for r in rand} == {"categorical", "autoregressive"}
    assert all(r["violations_3_1"] == 0 and r["violations_F_1"] == 0 for r in rand)
    assert all(r["kl"] >= 0 for r in rand)


def test_bernoulli_records_match_closed_forms(runs):
    records = read_records(runs[bern.NAME][0])
    cfg = bern.Config.quick()
    assert sorted(r["n"] for r in records) == sorted(cfg.n_grid)
    for r in records:
        np.testing.assert_allclose(r["prob_p_hat_zero"], (1 - cfg.p_star) ** r["n"], rtol=1e-12)
        assert r["n_infinite_kl"] == r["n_p_hat_zero"]
        assert r["replicates"] == cfg.replicates
        # the exact quantile at fixed p* takes only the two values of the two-case argument
        assert set(r["exact_quantile_fixed"]) <= {0.0, cfg.p_star}
        assert all(0 <= q <= 0.5 for q in r["exact_quantile_worst"])


# ------------------------------------------------------------ "could fail" checks
def kl_records(config, kinds):
    out = []
    for i, kind in enumerate(kinds):
        task = Task(cell=i, rep=0, params={"kind": kind})
        out += klc.run_task(config, task, rng=np.random.default_rng(100 + i))
    return out


@pytest.fixture(scope="module")
def kl_cfg():
    return dataclasses.replace(klc.Config.quick(), n_categorical=100, n_autoregressive=20)


def test_kl_claims_pass_on_honest_records(kl_cfg):
    claims = by_id(klc.claims(kl_cfg, kl_records(kl_cfg, ["categorical", "autoregressive", "witness"])))
    assert all(c.passed for c in claims.values()), {k: c.measured for k, c in claims.items()}


def test_strict_convention_fails_the_witness_equality(kl_cfg, monkeypatch):
    """Witness coverage with '>' instead of '>=': the tie pi/pi_hat = N is no longer counted."""
    honest = kl_records(kl_cfg, ["categorical"])
    monkeypatch.setattr(theory.coverage, "TIE_ATOL", -1e-9)          # cut at log N + 1e-9: strict
    strict = kl_records(kl_cfg, ["witness"])
    claims = by_id(klc.claims(kl_cfg, honest + strict))
    assert not claims[f"{klc.NAME}/prop-F.2-equality"].passed
    assert not claims[f"{klc.NAME}/prop-F.2-tightness"].passed
    assert all(r["coverage"] == 0.0 for r in strict)


def test_tightened_bounds_are_violated(kl_cfg, monkeypatch):
    """A bound 10% below Prop. F.1 and Prop. 3.1 with the sign of the constant flipped must fail."""
    sharp = klc.kl_to_coverage_sharp
    monkeypatch.setattr(klc, "kl_to_coverage_sharp", lambda kl, N: 0.9 * sharp(kl, N))
    monkeypatch.setattr(klc, "kl_to_coverage",
                        lambda kl, N: np.where(np.asarray(N) >= np.e, np.asarray(kl) / (np.log(N) + 1.0), np.inf))
    records = kl_records(kl_cfg, ["categorical", "autoregressive", "witness"])
    claims = by_id(klc.claims(kl_cfg, records))
    assert not claims[f"{klc.NAME}/prop-F.1"].passed
    assert not claims[f"{klc.NAME}/prop-3.1"].passed
    assert claims[f"{klc.NAME}/prop-F.2-equality"].passed                # exact coverage untouched


def test_witness_value_above_coverage_fails_tightness(kl_cfg, monkeypatch):
    """Using the F.1 upper bound as the 'tightness' lower value: Cov_N >= it is false on the witness."""
    monkeypatch.setattr(klc, "kl_tightness_witness", lambda kl, N: 1.01 * klc.kl_to_coverage_sharp(kl, N))
    claims = by_id(klc.claims(kl_cfg, kl_records(kl_cfg, ["categorical", "witness"])))
    assert not claims[f"{klc.NAME}/prop-F.2-tightness"].passed
    assert claims[f"{klc.NAME}/prop-F.2-equality"].passed


@pytest.fixture(scope="module")
def bern_records(runs):
    return read_records(runs[bern.NAME][0])


def test_bernoulli_claims_pass_on_stored_records(bern_records):
    claims = bern.claims(bern.Config.quick(), bern_records)
    assert all(c.passed for c in claims)


def test_infinite_kl_counts_from_a_different_p_star_fail():
    """Monte Carlo counts simulated with p* = 0.025 against the prediction (1 - 0.02)^n."""
    cfg = bern.Config.quick()
    wrong_cfg = dataclasses.replace(cfg, p_star=0.025, p_grid_size=10)
    records = []
    for i, n in enumerate(cfg.n_grid[:4]):
        recs = bern.run_task(wrong_cfg, Task(cell=i, rep=0, params={"n": n}), rng=np.random.default_rng(i))
        for r in recs:
            r["prob_p_hat_zero"] = (1 - cfg.p_star) ** n              # the claimed p*
        records += recs
    claim = by_id(bern.claims(cfg, records))[f"{bern.NAME}/infinite-kl-probability"]
    assert not claim.passed and claim.kind == "sanity"
    assert claim.measured < 1e-3                                      # adjusted p-value


def test_infinite_kl_count_disagreeing_with_p_hat_zero_fails(bern_records):
    records = [dict(r) for r in bern_records]
    records[0]["n_infinite_kl"] = records[0]["n_p_hat_zero"] + 1
    claim = by_id(bern.claims(bern.Config.quick(), records))[f"{bern.NAME}/infinite-kl-iff-p-hat-zero"]
    assert not claim.passed


def test_a_one_over_sqrt_n_rate_fails_the_rate_claims(bern_records):
    records = [dict(r) for r in bern_records]
    for r in records:
        r["exact_quantile_worst"] = [q * np.sqrt(r["n"]) for q in r["exact_quantile_worst"]]
    claims = bern.claims(bern.Config.quick(), records)
    rate = [c for c in claims if "/coverage-rate-" in c.id]
    assert rate and not any(c.passed for c in rate)
    assert all(abs(c.measured + 0.5) < 0.15 for c in rate)


def test_a_quantile_that_never_drops_fails_the_step_claim(bern_records):
    cfg = bern.Config.quick()
    records = [dict(r) for r in bern_records]
    for r in records:
        r["exact_quantile_fixed"] = [cfg.p_star] * len(r["exact_quantile_fixed"])
    claim = by_id(bern.claims(cfg, records))[f"{bern.NAME}/fixed-p-step"]
    assert not claim.passed
