"""Ctrl-C (SIGINT) and SIGTERM stop a run promptly and lose nothing.

Before, ``--jobs 2`` submitted every task up front and, after SIGINT, waited for the whole
queue while the workers kept running; a serial Ctrl-C printed a long traceback and no word
about resuming.  Now tasks are submitted in a bounded window, an interrupt cancels the
queued ones, terminates the workers, keeps every finished task, prints
``interrupted: k/n tasks stored in OUT/NAME; rerun the same command to resume`` and exits
with 130 (SIGINT) or 143 (SIGTERM).  The rerun resumes the k tasks and ends with a
``records.jsonl`` byte-identical to an uninterrupted run's.
"""

import concurrent.futures
import os
import signal
import time

import cli_driver
import fault_experiment
import pytest

from simulations import registry
from simulations.cli import main
from simulations.runner import run_experiment

NAME = fault_experiment.NAME
CFG = dict(cells=4, reps=5, sleep=0.12)
N_TASKS = CFG["cells"] * CFG["reps"]


def _interrupt(tmp_path, executor, jobs, sig, *, group):
    folder = tmp_path / NAME
    proc = cli_driver.popen(CFG, ["run", NAME, "--quick", "--seed", "4", "--executor", executor,
                                  "--jobs", jobs, "--out", tmp_path])
    try:
        deadline = time.monotonic() + 60
        while len(cli_driver.complete_lines(folder / "records.jsonl")) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.02)
        sent = time.monotonic()
        (os.killpg if group else os.kill)(proc.pid, sig)  # a terminal's Ctrl-C signals the group
        out, err = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc, out, err, took


def _check_interrupted_run(tmp_path, capsys, proc, err, took, code):
    folder = tmp_path / NAME
    assert took < 10
    assert proc.returncode == code, err
    stored = cli_driver.complete_lines(folder / "records.jsonl")
    k = len(stored)
    assert 3 <= k < N_TASKS
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [f"interrupted: {k}/{N_TASKS} tasks stored in {folder}; "
                     "rerun the same command to resume"], err
    # every process of the run (workers included) is gone
    deadline = time.monotonic() + 5
    while cli_driver.session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cli_driver.session_processes(proc.pid) == []
    # rerun the same command: resumes the k stored tasks, nothing lost, nothing doubled
    with pytest.MonkeyPatch.context() as m:
        m.setattr(fault_experiment.Config, "quick", classmethod(lambda cls: cls(**CFG)))
        registry.register_module(fault_experiment)
        try:
            assert main(["run", NAME, "--quick", "--seed", "4", "--out", str(tmp_path)]) == 0
        finally:
            registry.unregister(NAME)
    assert f"({k} task(s) resumed)" in capsys.readouterr().out
    clean = run_experiment(fault_experiment, fault_experiment.Config(**{**CFG, "sleep": 0.0}),
                           seed=4, out_dir=tmp_path / "clean")
    assert not clean.failed_tasks
    assert (folder / "records.jsonl").read_bytes() == \
        (tmp_path / "clean" / NAME / "records.jsonl").read_bytes()


def test_ctrl_c_stops_a_two_job_run_within_10_seconds_and_loses_nothing(tmp_path, capsys):
    proc, out, err, took = _interrupt(tmp_path, "process", "2", signal.SIGINT, group=True)
    _check_interrupted_run(tmp_path, capsys, proc, err, took, 130)


def test_sigterm_stops_a_serial_run(tmp_path, capsys):
    proc, out, err, took = _interrupt(tmp_path, "serial", "1", signal.SIGTERM, group=False)
    _check_interrupted_run(tmp_path, capsys, proc, err, took, 143)


@pytest.mark.slow
@pytest.mark.parametrize("executor, jobs, sig, group, code", [
    ("process", "2", signal.SIGTERM, False, 143),
    ("process", "2", signal.SIGINT, False, 130),
    ("serial", "1", signal.SIGINT, True, 130),
    ("dask-local", "2", signal.SIGINT, True, 130),
    ("dask-local", "2", signal.SIGTERM, False, 143),
])
def test_every_executor_stops_promptly(tmp_path, capsys, executor, jobs, sig, group, code):
    if executor.startswith("dask"):
        pytest.importorskip("distributed")
    proc, out, err, took = _interrupt(tmp_path, executor, jobs, sig, group=group)
    _check_interrupted_run(tmp_path, capsys, proc, err, took, code)


class _CountingPool:
    """A thread pool that records how many submitted tasks are unfinished at each submit."""

    parallelism = 2

    def __init__(self):
        self._pool = concurrent.futures.ThreadPoolExecutor(2)
        self._futures = []
        self.outstanding = []

    def submit(self, fn, *args):
        self.outstanding.append(sum(not f.done() for f in self._futures))
        fut = self._pool.submit(fn, *args)
        self._futures.append(fut)
        return fut

    def shutdown(self, wait=True):
        self._pool.shutdown(wait=wait)


def test_tasks_are_submitted_in_a_bounded_window():
    pool = _CountingPool()
    cfg = fault_experiment.Config(cells=5, reps=4, sleep=0.01)
    try:
        result = run_experiment(fault_experiment, cfg, seed=0, executor=pool)
    finally:
        pool.shutdown()
    assert not result.failed_tasks and len(pool.outstanding) == 20
    assert max(pool.outstanding) <= 2 * pool.parallelism  # never the whole queue at once
    assert max(pool.outstanding) >= pool.parallelism  # but enough to keep the workers busy


def test_the_progress_bar_starts_at_the_resumed_count(tmp_path, monkeypatch):
    import simulations.progress as progress

    cfg = fault_experiment.Config(cells=3, reps=2)
    first = run_experiment(fault_experiment, cfg, seed=0, out_dir=tmp_path)
    lines = (tmp_path / NAME / "records.jsonl").read_bytes().split(b"\n")
    (tmp_path / NAME / "records.jsonl").write_bytes(b"\n".join(lines[:4]) + b"\n")  # 4 of 6 kept
    bars = []
    real = progress.progress_bar

    def spy(*args, **kwargs):
        bar = real(*args, **{**kwargs, "disable": True})
        bars.append((kwargs, bar))
        return bar

    monkeypatch.setattr(progress, "progress_bar", spy)
    again = run_experiment(fault_experiment, cfg, seed=0, out_dir=tmp_path, progress=True)
    assert again.n_resumed == 4 and list(again.records) == list(first.records)
    (kwargs, _), = bars
    assert kwargs["total"] == 6 and kwargs["initial"] == 4


def test_reproduce_shows_an_overall_bar_over_every_task(tmp_path, monkeypatch, capsys):
    import simulations.progress as progress
    import toy_experiment

    monkeypatch.setattr(registry, "all_experiments", lambda: [fault_experiment, toy_experiment])
    monkeypatch.setattr(registry, "import_errors", lambda: {})
    registry.register_module(fault_experiment)
    registry.register_module(toy_experiment)
    bars = []
    real = progress.progress_bar

    class Spy:
        def __init__(self, bar, kwargs):
            self.bar, self.kwargs, self.updates = bar, kwargs, 0

        def update(self, n=1):
            self.updates += n
            return self.bar.update(n)

        def __getattr__(self, name):
            return getattr(self.bar, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.bar.__exit__(*exc)

    def spy(*args, **kwargs):
        bar = Spy(real(*args, **{**kwargs, "disable": True}), kwargs)
        bars.append(bar)
        return bar

    monkeypatch.setattr(progress, "progress_bar", spy)
    n_fault = len(fault_experiment.tasks(fault_experiment.Config.quick()))
    n_toy = len(toy_experiment.tasks(toy_experiment.Config.quick()))
    try:
        # a first experiment already done: the overall bar starts at its task count
        run_experiment(fault_experiment, fault_experiment.Config.quick(), seed=0, out_dir=tmp_path)
        assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 0
    finally:
        registry.unregister(fault_experiment.NAME)
        registry.unregister(toy_experiment.NAME)
    overall = [b for b in bars if b.kwargs.get("desc") == "reproduce"]
    assert len(overall) == 1
    bar = overall[0]
    assert bar.kwargs["total"] == n_fault + n_toy and bar.kwargs["initial"] == n_fault
    assert bar.updates == n_toy
