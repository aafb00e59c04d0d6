"""The process pool behind ``--jobs``: a dead worker fails only its own task; stops at once.

(:class:`concurrent.futures.ProcessPoolExecutor` marks itself broken when one worker dies
and fails every pending task; leaving it waits for the whole queue.)
"""

import operator
import os
import pathlib
import signal
import time

import pytest

from simulations.pool import WorkerLostError, WorkerPool


def _die(code):
    os.kill(os.getpid(), code)


def _sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def _raise(message):
    raise ValueError(message)


def _pid(_=None):
    return os.getpid()


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(2) as p:
        yield p


def test_results_and_exceptions_come_back(pool):
    assert pool.submit(operator.add, 2, 3).result(timeout=60) == 5
    with pytest.raises(ValueError, match="from the worker") as info:
        pool.submit(_raise, "from the worker").result(timeout=60)
    assert any("Worker traceback" in note for note in getattr(info.value, "__notes__", []))
    # a call that cannot be pickled fails its own future, not the pool
    with pytest.raises(Exception):
        pool.submit(operator.add, lambda: 1, 2).result(timeout=60)
    assert pool.submit(operator.mul, 3, 4).result(timeout=60) == 12


def test_a_dead_worker_fails_only_its_own_task(pool):
    before = {pool.submit(_pid).result(timeout=60) for _ in range(6)}
    doomed = pool.submit(_die, signal.SIGKILL)
    others = [pool.submit(_sleep_then, 0.05, i) for i in range(8)]
    with pytest.raises(WorkerLostError, match=r"pid \d+.*killed by SIGKILL"):
        doomed.result(timeout=60)
    assert [f.result(timeout=60) for f in others] == list(range(8))
    after = {pool.submit(_pid).result(timeout=60) for _ in range(6)}
    assert after - before  # a replacement worker took over


def test_shutdown_with_kill_stops_running_tasks_at_once(tmp_path):
    p = WorkerPool(2)
    running = [p.submit(_sleep_then, 60, i) for i in range(2)]
    queued = [p.submit(_sleep_then, 60, i) for i in range(3)]
    deadline = time.monotonic() + 30
    while len(p._workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = {w.process.pid for w in p._workers}
    assert len(pids) == 2
    time.sleep(0.2)
    start = time.monotonic()
    p.shutdown(wait=True, kill=True)
    assert time.monotonic() - start < 10
    assert all(f.cancelled() for f in queued)
    assert all(isinstance(f.exception(timeout=1), WorkerLostError) for f in running)
    for pid in pids:
        assert not pathlib.Path(f"/proc/{pid}").exists() or \
            pathlib.Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
    with pytest.raises(RuntimeError, match="after shutdown"):
        p.submit(operator.add, 1, 1)


def test_max_workers_is_validated():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_workers"):
            WorkerPool(bad)
