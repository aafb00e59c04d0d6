"""Kill a sweep with SIGKILL midway, rerun it into the same folder: nothing lost, nothing doubled.

The sweep runs in a subprocess (its own session, so a process pool's workers die with it).
Once some tasks are on disk the whole process group gets ``SIGKILL``; a half-written line
is then appended by hand (the signature of a kill in the middle of a write).  The rerun
must detect and cut the truncated line, skip exactly the finished tasks, redo the rest, and
end with a ``records.jsonl`` byte-identical to an uninterrupted run's, each task stored once.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import fault_experiment
import pytest

from simulations.runner import run_experiment
from simulations.store import read_records

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI_DIR = pathlib.Path(__file__).resolve().parent
CFG = dict(cells=6, reps=5, sleep=0.04)

DRIVER = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {cli_dir!r})
    import fault_experiment as f
    from simulations.runner import run_experiment
    from simulations.sweep import make_executor
    cfg = f.Config(**{cfg!r})
    with make_executor({spec!r}, {jobs!r}) as ex:
        r = run_experiment(f, cfg, seed=3, out_dir={out!r}, executor=ex)
    print(json.dumps({{"n_resumed": r.n_resumed, "failed": len(r.failed_tasks),
                      "passed": r.passed}}))
""")


def _driver(out, spec, jobs):
    return DRIVER.format(cli_dir=str(CLI_DIR), cfg=CFG, spec=spec, jobs=jobs, out=str(out))


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _complete_lines(path):
    if not path.exists():
        return []
    raw = path.read_bytes()
    return [json.loads(line) for line in raw.split(b"\n")[:-1] if line.strip()]


@pytest.mark.parametrize("spec, jobs", [("serial", 1), ("process", 2)])
def test_sigkill_midway_then_resume_equals_uninterrupted_run(tmp_path, spec, jobs):
    n_tasks = CFG["cells"] * CFG["reps"]
    folder = tmp_path / fault_experiment.NAME
    records_path = folder / "records.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", _driver(tmp_path, spec, jobs)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(_complete_lines(records_path)) < 6:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sweep never got going"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = _complete_lines(records_path)
    assert 6 <= len(done) < n_tasks, "the kill must land midway"
    # a kill in the middle of a write leaves an unterminated last line
    with open(records_path, "ab") as fh:
        fh.write(b'{"cell":5,"rep":4,"elapsed":0.04,"records":[{"c":5,"dra')

    rerun = subprocess.run([sys.executable, "-c", _driver(tmp_path, spec, jobs)], env=_env(),
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary == {"n_resumed": len(done), "failed": 0, "passed": True}

    lines = _complete_lines(records_path)
    keys = [(e["cell"], e["rep"]) for e in lines]
    assert len(keys) == len(set(keys)) == n_tasks  # none lost, none duplicated
    assert records_path.read_bytes().endswith(b"\n")  # the partial line was cut, not kept
    by_key = {(e["cell"], e["rep"]): e for e in lines}
    assert all(by_key[(e["cell"], e["rep"])] == e for e in done)  # finished tasks kept as they were
    uninterrupted = run_experiment(fault_experiment, fault_experiment.Config(**CFG), seed=3,
                                   out_dir=tmp_path / "uninterrupted")
    key = lambda r: (r["cell"], r["rep"])  # noqa: E731
    assert json.dumps(sorted(read_records(folder), key=key)) == \
        json.dumps(sorted(uninterrupted.records, key=key))
    clean = (tmp_path / "uninterrupted" / fault_experiment.NAME / "records.jsonl").read_bytes()
    assert records_path.read_bytes() == clean
