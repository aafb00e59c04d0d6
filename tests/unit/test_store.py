"""Tests for :mod:`simulations.store` and resume through :func:`simulations.runner.run`."""

import dataclasses
import json
import sys
import types

import numpy as np
import pytest

from simulations.runner import Claim, Task, TaskFailedError, run, run_experiment
from simulations.store import (CorruptStoreError, ResumeConflictError, TaskStore, read_failures,
                               read_records, to_jsonable)


def _make_toy(monkeypatch, name="store_toy_mod"):
    """A minimal experiment module living only in ``sys.modules`` (serial runs only)."""
    mod = types.ModuleType(name)

    @dataclasses.dataclass(frozen=True)
    class Config:
        cells: int = 3
        reps: int = 2

        @classmethod
        def quick(cls):
            return cls()

        @classmethod
        def full(cls):
            return cls(cells=5)

    Config.__module__ = name
    calls = []

    def tasks(config):
        return [Task(c, r, {"c": c}) for c in range(config.cells) for r in range(config.reps)]

    def run_task(config, task, *, rng):
        calls.append((task.cell, task.rep))
        return [{"v": float(rng.random()), "arr": np.arange(2)}]

    def claims(config, records):
        return [Claim("toy/n", "none", "count", len(tasks(config)), len(records), None,
                      "exact", len(records) == len(tasks(config)))]

    def plot(config, records, out_dir):
        return []

    mod.__dict__.update(NAME="store-toy", PAPER_REF="none", TITLE="toy", TOPIC="test",
                        Config=Config, tasks=tasks, run_task=run_task, claims=claims, plot=plot,
                        calls=calls)
    monkeypatch.setitem(sys.modules, name, mod)
    return mod


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_run_writes_store_and_claims(tmp_path, monkeypatch):
    mod = _make_toy(monkeypatch)
    records = run(mod, mod.Config.quick(), seed=3, out_dir=tmp_path)
    folder = tmp_path / "store-toy"
    assert len(records) == 6 and all({"cell", "rep", "v", "arr"} <= r.keys() for r in records)
    assert records[0]["arr"] == [0, 1]
    lines = _lines(folder / "records.jsonl")
    assert [(e["cell"], e["rep"]) for e in lines] == [(c, r) for c in range(3) for r in range(2)]
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["seed"] == 3 and meta["config"] == {"cells": 3, "reps": 2}
    assert meta["experiment"] == "store-toy" and "numpy" in meta["versions"] and "argv" in meta
    claims = json.loads((folder / "claims.json").read_text())
    assert claims[0]["passed"] is True and claims[0]["evaluation"] == "exact"
    assert read_records(folder) == records


def test_resume_skips_finished_tasks(tmp_path, monkeypatch):
    mod = _make_toy(monkeypatch)
    first = run(mod, mod.Config.quick(), seed=0, out_dir=tmp_path)
    assert len(mod.calls) == 6
    second = run_experiment(mod, mod.Config.quick(), seed=0, out_dir=tmp_path)
    assert len(mod.calls) == 6  # nothing re-run
    assert second.n_resumed == 6 and list(second.records) == first
    assert len(_lines(tmp_path / "store-toy" / "records.jsonl")) == 6


def test_truncated_last_line_is_redone_without_duplicates(tmp_path, monkeypatch):
    mod = _make_toy(monkeypatch)
    first = run(mod, mod.Config.quick(), seed=0, out_dir=tmp_path)
    path = tmp_path / "store-toy" / "records.jsonl"
    raw = path.read_bytes()
    path.write_bytes(raw[:-15])  # crash in the middle of writing the last task
    mod.calls.clear()
    again = run(mod, mod.Config.quick(), seed=0, out_dir=tmp_path)
    assert mod.calls == [(2, 1)]
    assert again == first
    lines = _lines(path)  # every line parses
    keys = [(e["cell"], e["rep"]) for e in lines]
    assert len(keys) == len(set(keys)) == 6


def test_garbage_last_line_is_ignored(tmp_path):
    store = TaskStore(tmp_path, experiment="e", seed=0, config={})
    store.append(0, 0, [{"a": 1}])
    with open(tmp_path / "records.jsonl", "a") as fh:
        fh.write("{not json}\n")
    store = TaskStore(tmp_path, experiment="e", seed=0, config={})
    assert store.finished_tasks() == {(0, 0)}
    store.append(0, 1, [{"a": 2}])
    assert [e["rep"] for e in _lines(tmp_path / "records.jsonl")] == [0, 1]


def test_corrupt_middle_line_is_an_error(tmp_path):
    with TaskStore(tmp_path, experiment="e", seed=0, config={}) as store:
        store.append(0, 0, [{"a": 1}])
    path = tmp_path / "records.jsonl"
    good = path.read_bytes()
    path.write_bytes(good + b"{broken\n" + good.replace(b'"rep":0', b'"rep":1'))
    with pytest.raises(CorruptStoreError, match="line 2: not valid JSON"):
        TaskStore(tmp_path, experiment="e", seed=0, config={})


def test_lines_written_behind_an_open_store_stop_it(tmp_path):
    store = TaskStore(tmp_path, experiment="e", seed=0, config={})
    store.append(0, 0, [{"a": 1}])
    with open(tmp_path / "records.jsonl", "a") as fh:
        fh.write("{broken\n")
    with pytest.raises(CorruptStoreError, match="did not write"):
        store.append(0, 1, [{"a": 2}])
    store.close()


def test_a_partial_line_left_by_a_failed_append_is_cut(tmp_path):
    with TaskStore(tmp_path, experiment="e", seed=0, config={}) as store:
        store.append(0, 0, [{"a": 1}])
        with open(tmp_path / "records.jsonl", "ab") as fh:
            fh.write(b'{"cell":0,"rep":1,"n":1,"sha')  # e.g. disk full mid-write
        store.append(0, 1, [{"a": 2}])
    assert [(e["cell"], e["rep"]) for e in _lines(tmp_path / "records.jsonl")] == [(0, 0), (0, 1)]


def test_append_is_idempotent(tmp_path):
    store = TaskStore(tmp_path, experiment="e", seed=0, config={})
    store.append(1, 1, [{"a": 1}])
    store.append(1, 1, [{"a": 99}])
    assert len(_lines(tmp_path / "records.jsonl")) == 1 and store.records_of(1, 1) == [{"a": 1}]


@pytest.mark.parametrize("change", [{"seed": 1}, {"config": {"n": 4}}, {"experiment": "f"}])
def test_refuses_to_resume_a_different_run(tmp_path, change):
    base = dict(experiment="e", seed=0, config={"n": 3})
    TaskStore(tmp_path, **base).append(0, 0, [{"a": 1}])
    with pytest.raises(ResumeConflictError, match="refusing to resume"):
        TaskStore(tmp_path, **{**base, **change})
    TaskStore(tmp_path / "fresh", **{**base, **change})  # a fresh folder is fine


def test_meta_may_change_while_folder_is_empty(tmp_path):
    TaskStore(tmp_path, experiment="e", seed=0, config={"n": 3})
    store = TaskStore(tmp_path, experiment="e", seed=1, config={"n": 4})
    assert json.loads((tmp_path / "meta.json").read_text())["seed"] == 1
    assert store.finished_tasks() == set()


def test_failing_task_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    mod = _make_toy(monkeypatch)
    original = mod.run_task

    def flaky(config, task, *, rng):
        if task.cell == 1:
            raise RuntimeError(f"boom in cell {task.cell} rep {task.rep}")
        return original(config, task, rng=rng)

    monkeypatch.setattr(mod, "run_task", flaky)
    result = run_experiment(mod, mod.Config.quick(), seed=0, out_dir=tmp_path)
    folder = tmp_path / "store-toy"
    # every other task ran and was stored; the two failures are named, with tracebacks
    assert sorted((e["cell"], e["rep"]) for e in _lines(folder / "records.jsonl")) == \
        [(0, 0), (0, 1), (2, 0), (2, 1)]
    assert [(f["cell"], f["rep"]) for f in result.failed_tasks] == [(1, 0), (1, 1)]
    assert result.failed_tasks[0]["error"] == "RuntimeError: boom in cell 1 rep 0"
    assert "Traceback" in result.failed_tasks[0]["traceback"]
    assert "in flaky" in result.failed_tasks[0]["traceback"]
    assert not result.passed and result.claims == () and result.figures == ()
    assert not (folder / "claims.json").exists()
    failures = read_failures(folder)
    assert [(f["cell"], f["rep"]) for f in failures] == [(1, 0), (1, 1)]
    assert all("RuntimeError: boom" in f["traceback"] for f in failures)
    # run() raises after the sweep, naming the first failure
    with pytest.raises(TaskFailedError, match="2 task.*cell 1, rep 0.*boom") as info:
        run(mod, mod.Config.quick(), seed=0, out_dir=tmp_path)
    assert len(info.value.failures) == 2
    # fixed code: the rerun retries only the failed tasks, and equals an uninterrupted run
    monkeypatch.setattr(mod, "run_task", original)
    mod.calls.clear()
    records = run(mod, mod.Config.quick(), seed=0, out_dir=tmp_path)
    assert sorted(mod.calls) == [(1, 0), (1, 1)] and len(records) == 6
    assert records == run(mod, mod.Config.quick(), seed=0)  # same as an uninterrupted run
    assert json.loads((folder / "claims.json").read_text())[0]["passed"] is True


def test_timings_are_stored_beside_the_records(tmp_path, monkeypatch):
    mod = _make_toy(monkeypatch)
    run(mod, mod.Config.quick(), seed=0, out_dir=tmp_path)
    folder = tmp_path / "store-toy"
    lines = _lines(folder / "records.jsonl")
    assert all(set(e) == {"cell", "rep", "n", "sha256", "records"} for e in lines)
    timings = _lines(folder / "timings.jsonl")
    assert [(t["cell"], t["rep"]) for t in timings] == [(e["cell"], e["rep"]) for e in lines]
    assert all(isinstance(t["elapsed"], float) and 0 <= t["elapsed"] < 60 for t in timings)
    assert all(isinstance(t["cpu_seconds"], float) and t["cpu_seconds"] >= 0 for t in timings)
    assert all(t["worker"].endswith(f":{__import__('os').getpid()}") for t in timings)
    with TaskStore(folder, experiment="store-toy", seed=0, config={"cells": 3, "reps": 2},
                   fingerprint=_fingerprint(mod)) as store:
        assert store.elapsed_of(0, 0) == timings[0]["elapsed"]


def _fingerprint(mod):
    from simulations.store import code_fingerprint
    return code_fingerprint(mod)


def test_to_jsonable():
    out = to_jsonable({"a": np.float64(1.5), "b": np.arange(3), "c": (np.int32(2), np.bool_(True))})
    assert out == {"a": 1.5, "b": [0, 1, 2], "c": [2, True]}
    assert json.dumps(out)
    with pytest.raises(TypeError):
        to_jsonable({"x": object()})


def test_a_folder_of_the_old_format_is_refused(tmp_path):
    (tmp_path / "records.jsonl").write_text('{"cell":0,"rep":0,"elapsed":0.1,"records":[{"a":1}]}\n')
    with pytest.raises(CorruptStoreError, match="line 1: no checksum: written by an older version"):
        TaskStore(tmp_path, experiment="e", seed=0, config={})
    with pytest.raises(CorruptStoreError, match="no checksum"):
        read_records(tmp_path)


def test_the_lock_is_reentrant_in_one_thread_and_exclusive_across_threads(tmp_path):
    import threading

    from simulations.store import FolderLock, FolderLockedError

    with FolderLock(tmp_path) as outer:
        with TaskStore(tmp_path, experiment="e", seed=0, config={}) as store:  # re-enters
            store.append(0, 0, [{"a": 1}])
        errors = []

        def other_thread():
            try:
                TaskStore(tmp_path, experiment="e", seed=0, config={})
            except FolderLockedError as exc:
                errors.append(str(exc))

        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        assert len(errors) == 1 and "another thread" in errors[0]
        assert outer.held
        info = json.loads((tmp_path / ".lock").read_text())
        assert info["pid"] == __import__("os").getpid() and info["host"]
    assert (tmp_path / ".lock").read_text() == ""  # released: the holder record is cleared
    with TaskStore(tmp_path, experiment="e", seed=0, config={}) as store:
        assert store.finished_tasks() == {(0, 0)}


def test_declared_schemas_are_checked_on_writing_and_reading(tmp_path):
    schema = {"records_per_task": 1, "fields": {"a": "integer"}}
    with TaskStore(tmp_path, experiment="e", seed=0, config={}, schema=schema) as store:
        store.append(0, 0, [{"a": 1, "cell": 0, "rep": 0}])
        with pytest.raises(ValueError, match="field `a` is a JSON string; the experiment declares integer"):
            store.append(0, 1, [{"a": "1"}])
        with pytest.raises(ValueError, match="record 0 has cell 5 but belongs to cell 0"):
            store.append(0, 2, [{"a": 1, "cell": 5}])
        assert store.finished_tasks() == {(0, 0)}
    assert read_records(tmp_path, schema={"fields": {"a": "integer"}})[0]["a"] == 1
    with pytest.raises(CorruptStoreError, match="line 1.*`a`.*string"):
        read_records(tmp_path, schema={"fields": {"a": "string"}})
    with pytest.raises(CorruptStoreError, match="line 1.*2 records per task"):
        read_records(tmp_path, schema={"records_per_task": 2})
    with pytest.raises(ValueError, match="unknown kind"):
        read_records(tmp_path, schema={"fields": {"a": "float"}})
