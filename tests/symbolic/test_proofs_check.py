"""``python -m proofs_check``: every symbolic check passes, and wrong statements are reported as failing."""

import os
import pathlib
import subprocess
import sys

import pytest
import sympy as sp

from proofs_check import CHECKS, Check, ProofError, assert_identity, prove_nonnegative, run_checks

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_module_runs_and_passes():
    proc = subprocess.run([sys.executable, "-m", "proofs_check"], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("PASS", "FAIL"))]
    assert len(lines) >= 14
    assert all(ln.startswith("PASS") for ln in lines)
    # one line per check: verdict, name, statement reference in brackets
    assert all("[" in ln and "]" in ln for ln in lines)
    assert f"{len(lines)}/{len(lines)} checks passed" in proc.stdout


def _f(t):
    return t * sp.log(t) - t + 1


def _wrong_constant():
    N = sp.Symbol("N", positive=True)
    assert_identity(N / _f(N), 1 / (sp.log(N) - 1))          # drops the 1/N term: false


def _wrong_direction():
    u = sp.Symbol("u", nonnegative=True)
    m = sp.Symbol("m", nonnegative=True)
    N = 1 + m
    # claims 1 - (1-p)^N >= N p (the reverse of the union bound): false for p, m > 0
    prove_nonnegative(1 - sp.exp(-u * N) - N * (1 - sp.exp(-u)), [u, m])


def _wrong_hellinger_constant():
    beta, gamma = sp.symbols("beta gamma", nonnegative=True)
    a, b = 1 / (1 + beta + gamma), 1 / (1 + beta)
    # reversed pointwise step of Prop. F.4
    prove_nonnegative((1 - b) ** 2 - (1 - a) ** 2, [gamma])


def _crashes():
    raise RuntimeError("boom")


@pytest.mark.parametrize("fn", [_wrong_constant, _wrong_direction, _wrong_hellinger_constant, _crashes])
def test_wrong_checks_fail(fn):
    (res,) = run_checks([Check(fn.__name__, "test", fn, __name__)])
    assert res.passed is False
    assert res.line().startswith("FAIL")


def test_wrong_check_makes_cli_exit_nonzero():
    script = (
        "import sys, sympy as sp\n"
        "from proofs_check import check, assert_identity\n"
        "from proofs_check.__main__ import main\n"
        "@check('deliberately_wrong', 'test')\n"
        "def _w():\n"
        "    x = sp.Symbol('x', positive=True)\n"
        "    assert_identity(sp.log(x * x), sp.log(x))\n"
        "sys.exit(main(['deliberately_wrong']))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.startswith("FAIL  deliberately_wrong")


def test_prover_rejects_unprovable_and_accepts_true():
    u = sp.Symbol("u", nonnegative=True)
    with pytest.raises(ProofError):
        prove_nonnegative(u - 1, [u])                  # false at u = 0
    with pytest.raises(ProofError):
        prove_nonnegative(sp.Symbol("z", real=True))   # sign unknown
    assert prove_nonnegative(sp.exp(u) - 1 - u, [u])   # true, needs two derivatives


def test_registry_has_unique_named_checks_with_references():
    run_checks([])  # no-op; registry filled on import below
    from proofs_check import _load_all
    _load_all()
    assert len(CHECKS) >= 14
    assert all(c.ref for c in CHECKS.values())
