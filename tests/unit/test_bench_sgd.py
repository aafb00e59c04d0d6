"""The SGD benchmark's vectorised step equals its per-sample reference loop (quick sizes)."""

import numpy as np

from simulations import bench_sgd
from simulations.bench import BenchContext
from simulations.learners.optimizers import chain, project_l2_ball, sgd
from simulations.learners.training import ScoreEngine


def test_vectorised_step_equals_reference_loop():
    features, theta, x, y = bench_sgd._problem(quick=True)
    opt = chain(sgd(0.3), project_l2_ball(0.5))
    fast, _ = bench_sgd.vectorised_step(ScoreEngine(features), opt, theta, opt.init(theta), x, y)
    ref = bench_sgd.loop_step(features, 0.3, 0.5, theta, x, y)
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-12)
    assert np.all(np.linalg.norm(fast, axis=1) <= 0.5 + 1e-12)


def test_sequence_step_workload_runs():
    ctx = BenchContext(quick=True, exp_rate=1e9, gemm_rate=1e10, repeat=1)
    out = bench_sgd._sequence_step(ctx)
    assert out["seconds"] > 0 and out["throughput"][1] == "token-cand/s" and out["reference_ratio"] > 1
