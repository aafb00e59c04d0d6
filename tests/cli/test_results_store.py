"""A results folder never shows numbers it did not compute for the command reading it.

Each test first reproduces a way a folder could end up holding other results under its own
name (two writers, a lost or foreign ``meta.json``, a corrupted or duplicated line), then
checks the refusal: one line on stderr, exit status 2, the folder left as it was.

* One writer per folder: an exclusive lock for the whole run; a second run is refused at
  once, naming the holder; a stale lock of a dead process is detected by pid and host.
* Resume only what can be vouched for: ``meta.json`` is required; a folder with records
  and a missing or different ``meta.json`` is refused unless ``--fresh`` moves the old
  content aside (never deleting it).
* Every stored task is verified (record count, checksum, the experiment's declared schema),
  on resume and on reading; duplicated task lines are refused.
* User-caused failures (I/O, a file where a folder should be, disk full, bad meta, bad
  record) are one line and exit 2; a bug is a traceback and exit 1.
"""

import errno
import json
import socket
import subprocess
import sys
import time

import cli_driver
import fault_experiment
import pytest

from simulations import registry
from simulations.cli import main
from simulations.runner import run_experiment
from simulations.store import CorruptStoreError, read_records

NAME = fault_experiment.NAME
FAST = dict(cells=4, reps=3)
SLOW = dict(cells=4, reps=4, sleep=0.2)


@pytest.fixture
def toy(monkeypatch):
    """Register the fault toy in this process; ``toy(cfg)`` sets its quick preset."""
    registry.register_module(fault_experiment)

    def set_quick(cfg):
        monkeypatch.setattr(fault_experiment.Config, "quick", classmethod(lambda cls: cls(**cfg)))

    set_quick(FAST)
    yield set_quick
    registry.unregister(NAME)


def _one_line_error(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("python -m simulations: error: "), err
    return lines[0]


def _run(tmp_path, *extra, seed=0):
    return main(["run", NAME, "--quick", "--seed", str(seed), "--out", str(tmp_path), *extra])


def _serial_records(cfg, seed):
    result = run_experiment(fault_experiment, fault_experiment.Config(**cfg), seed=seed)
    return sorted(result.records, key=lambda r: (r["cell"], r["rep"]))


def _sorted(records):
    return sorted(records, key=lambda r: (r["cell"], r["rep"]))


def _wait_for_lines(path, n, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while len(cli_driver.complete_lines(path)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.02)


# -- one writer per folder ------------------------------------------------------------------

@pytest.mark.parametrize("other_seed", [8, 7], ids=["other-seed", "same-arguments"])
def test_a_second_run_on_a_folder_in_use_is_refused_at_once(tmp_path, toy, capsys, other_seed):
    """Two runs on one ``--out`` used to interleave their records (and duplicate lines)."""
    toy(SLOW)
    registry.all_experiments()  # import every experiment now, not while the first run goes
    folder = tmp_path / NAME
    first = cli_driver.popen(SLOW, ["run", NAME, "--quick", "--seed", "7", "--out", tmp_path])
    try:
        _wait_for_lines(folder / "records.jsonl", 1, first)
        start = time.monotonic()
        code = _run(tmp_path, seed=other_seed)
        took = time.monotonic() - start
        err = capsys.readouterr().err
    finally:
        out, first_err = first.communicate(timeout=120)
    assert code == 2 and took < 5, err
    line = _one_line_error(err)
    assert f"pid {first.pid}" in line and socket.gethostname() in line and "in use" in line
    assert first.returncode == 0, first_err
    lines = cli_driver.complete_lines(folder / "records.jsonl")
    keys = [(e["cell"], e["rep"]) for e in lines]
    assert len(keys) == len(set(keys)) == SLOW["cells"] * SLOW["reps"]
    assert _sorted(read_records(folder)) == _serial_records(SLOW, 7)
    assert json.loads((folder / "meta.json").read_text())["seed"] == 7


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path, toy, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = tmp_path / NAME
    folder.mkdir()
    (folder / ".lock").write_text(json.dumps(
        {"pid": dead.pid, "host": socket.gethostname(), "started": "2020-01-01T00:00:00+00:00",
         "argv": ["killed", "run"]}))
    assert _run(tmp_path) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("python -m simulations: warning: "), err
    assert f"pid {dead.pid}" in err[0] and "not running" in err[0]


def test_a_lock_held_on_another_host_is_refused(tmp_path, toy, capsys):
    folder = tmp_path / NAME
    folder.mkdir()
    (folder / ".lock").write_text(json.dumps(
        {"pid": 4242, "host": "node-that-is-not-this-one", "started": "2020-01-01T00:00:00+00:00",
         "argv": ["run"]}))
    assert _run(tmp_path) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "pid 4242" in line and "node-that-is-not-this-one" in line and ".lock" in line
    assert not (folder / "records.jsonl").exists()


HOLD = """
import sys, time
from simulations.store import FolderLock
lock = FolderLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_reproduce_is_refused_at_once_when_one_folder_is_in_use(tmp_path, toy, monkeypatch, capsys):
    monkeypatch.setattr(registry, "all_experiments", lambda: [fault_experiment])
    monkeypatch.setattr(registry, "import_errors", lambda: {})
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / NAME)],
                              env=cli_driver.env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 2
        line = _one_line_error(capsys.readouterr().err)
        assert f"pid {holder.pid}" in line
        assert not (tmp_path / "report.md").exists()
        assert not (tmp_path / NAME / "records.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_is_released_on_every_exit(tmp_path, toy, monkeypatch, capsys):
    from simulations.store import FolderLock

    folder = tmp_path / NAME

    def free():
        with FolderLock(folder):
            return True

    def bug(config, records):
        raise ZeroDivisionError("a bug in the analysis")

    with monkeypatch.context() as m:
        m.setattr(fault_experiment, "claims", bug)
        with pytest.raises(ZeroDivisionError):
            _run(tmp_path)
    assert free()
    assert _run(tmp_path, seed=1) == 2  # refused: the folder holds seed 0's tasks
    assert free()
    assert _run(tmp_path) == 0
    assert free()


# -- resume only what can be vouched for -----------------------------------------------------

def test_a_missing_meta_json_is_refused_and_fresh_moves_the_old_content_aside(tmp_path, toy, capsys):
    """Without ``meta.json`` a rerun with another seed used to resume the old seed's tasks."""
    folder = tmp_path / NAME
    assert _run(tmp_path, seed=0) == 0
    before = (folder / "records.jsonl").read_bytes()
    (folder / "meta.json").unlink()
    capsys.readouterr()
    assert _run(tmp_path, seed=1) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "meta.json" in line and "--fresh" in line
    assert (folder / "records.jsonl").read_bytes() == before and not (folder / "meta.json").exists()

    assert _run(tmp_path, "--fresh", seed=1) == 0
    moved = [p for p in folder.iterdir() if p.name.startswith("superseded-")]
    assert len(moved) == 1 and (moved[0] / "records.jsonl").read_bytes() == before
    assert (moved[0] / "claims.json").exists()
    assert _sorted(read_records(folder)) == _serial_records(FAST, 1)
    assert json.loads((folder / "meta.json").read_text())["seed"] == 1
    assert "moved" in capsys.readouterr().err


@pytest.mark.parametrize("meta", [
    "[1, 2, 3]", "{not json", "", '{"experiment": "fault-toy"}', "seed=1"],
    ids=["json-list", "not-json", "empty", "no-seed", "text"])
def test_an_unusable_meta_json_is_refused_in_one_line(tmp_path, toy, capsys, meta):
    folder = tmp_path / NAME
    assert _run(tmp_path) == 0
    before = (folder / "records.jsonl").read_bytes()
    (folder / "meta.json").write_text(meta)
    capsys.readouterr()
    assert _run(tmp_path) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "meta.json" in line and "--fresh" in line
    assert (folder / "records.jsonl").read_bytes() == before


@pytest.mark.parametrize("change", [{"seed": 1}, {"config": {"cells": 4, "reps": 2}},
                                    {"code_fingerprint": "0123456789abcdef"}],
                         ids=["seed", "config", "code"])
def test_a_different_meta_json_is_refused(tmp_path, toy, capsys, change):
    folder = tmp_path / NAME
    assert _run(tmp_path) == 0
    meta = json.loads((folder / "meta.json").read_text())
    meta.update(change)
    for session in meta.get("sessions", []):
        session.update({k: v for k, v in change.items() if k in session})
    (folder / "meta.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert _run(tmp_path) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "refusing to resume" in line and "--fresh" in line


def test_meta_json_is_written_before_the_first_task(tmp_path, toy, monkeypatch):
    folder = tmp_path / NAME
    seen = []
    original = fault_experiment.run_task

    def checking(config, task, *, rng):
        meta = json.loads((folder / "meta.json").read_text())
        seen.append((meta["seed"], meta["config"] == {**fault_experiment.Config(**FAST).__dict__}))
        return original(config, task, rng=rng)

    monkeypatch.setattr(fault_experiment, "run_task", checking)
    assert _run(tmp_path, seed=3) == 0
    assert seen and all(s == (3, True) for s in seen)
    assert sorted(p.name for p in folder.iterdir() if "tmp" in p.name) == []


# -- every stored task verified --------------------------------------------------------------

def _stored(tmp_path, toy):
    assert _run(tmp_path) == 0
    return tmp_path / NAME / "records.jsonl"


def _rewrite_line(path, index, edit):
    lines = path.read_bytes().split(b"\n")
    lines[index] = edit(lines[index])
    path.write_bytes(b"\n".join(lines))


def _flip_one_bit_in_a_number(line):
    start = line.index(b'"draws":[') + len(b'"draws":[')
    i = next(j for j in range(start + 3, len(line)) if chr(line[j]).isdigit())
    return line[:i] + bytes([line[i] ^ 1]) + line[i + 1:]  # '0'<->'1', ..., '8'<->'9'


def _empty_the_records(line):
    entry = json.loads(line)
    entry["records"] = []
    return json.dumps(entry, separators=(",", ":")).encode()


def _empty_the_records_and_count(line):
    entry = json.loads(line)
    entry["records"] = []
    entry["n"] = 0
    return json.dumps(entry, separators=(",", ":")).encode()


def _edit_a_string(line):
    assert b'"label":"cell ' in line
    return line.replace(b'"label":"cell ', b'"label":"cell 9')


@pytest.mark.parametrize("edit", [_flip_one_bit_in_a_number, _edit_a_string, _empty_the_records,
                                  _empty_the_records_and_count],
                         ids=["bit-flip", "string", "emptied", "emptied-and-count"])
def test_a_corrupted_task_is_refused_on_resume_and_on_reading(tmp_path, toy, capsys, edit):
    """Valid JSON with a changed value used to be read and reported (e.g. 0.9593 -> 0.9793)."""
    path = _stored(tmp_path, toy)
    _rewrite_line(path, 2, edit)
    json.loads(path.read_bytes().split(b"\n")[2])  # still valid JSON
    capsys.readouterr()
    assert _run(tmp_path) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "records.jsonl" in line and "line 3" in line
    with pytest.raises(CorruptStoreError, match=r"records\.jsonl.* line 3"):
        read_records(tmp_path / NAME)


def test_duplicate_task_lines_are_refused(tmp_path, toy, capsys):
    path = _stored(tmp_path, toy)
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(path.read_bytes() + lines[1] + b"\n")
    n = len(lines)  # the copy is line n (lines ends with an empty chunk)
    assert _run(tmp_path) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert f"line {n}" in line and "line 2" in line and "--fresh" in line
    with pytest.raises(CorruptStoreError, match=f"line {n}.*line 2"):
        read_records(tmp_path / NAME)


def test_records_breaking_the_declared_schema_fail_the_task(tmp_path, toy, monkeypatch, capsys):
    monkeypatch.setattr(fault_experiment, "record_schema", lambda config: {
        "records_per_task": 1, "fields": {"c": "integer", "label": "number"}}, raising=False)
    assert _run(tmp_path) == 1
    out = capsys.readouterr().out
    assert "FAILED fault-toy task (cell 0, rep 0)" in out and "`label`" in out and "number" in out
    assert not (tmp_path / NAME / "records.jsonl").exists() or \
        cli_driver.complete_lines(tmp_path / NAME / "records.jsonl") == []


def test_stored_records_are_checked_against_the_declared_schema(tmp_path, toy, monkeypatch, capsys):
    _stored(tmp_path, toy)
    monkeypatch.setattr(fault_experiment, "record_schema", lambda config: {
        "records_per_task": 2, "fields": {"c": "integer"}}, raising=False)
    assert _run(tmp_path, "--allow-stale") == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "records.jsonl" in line and "line 1" in line and "2 records" in line
    monkeypatch.setattr(fault_experiment, "record_schema", lambda config: {
        "fields": {"c": "integer", "label": "number"}}, raising=False)
    assert _run(tmp_path, "--allow-stale") == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "line 1" in line and "`label`" in line and "number" in line


# -- one-line errors -------------------------------------------------------------------------

def test_a_file_where_the_results_folder_should_be_exits_2(tmp_path, toy, capsys):
    (tmp_path / NAME).write_text("not a folder")
    assert _run(tmp_path) == 2
    assert NAME in _one_line_error(capsys.readouterr().err)


def test_a_folder_where_records_jsonl_should_be_exits_2(tmp_path, toy, capsys):
    (tmp_path / NAME / "records.jsonl").mkdir(parents=True)
    assert _run(tmp_path) == 2
    assert "records.jsonl" in _one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EIO])
def test_a_failed_write_mid_run_exits_2_and_keeps_what_was_stored(tmp_path, toy, monkeypatch,
                                                                  capsys, code):
    import simulations.store.task_store as store  # where TaskStore looks the helpers up

    original = store.append_line
    calls = []

    def failing(path, line):
        calls.append(path)
        if len(calls) > 3:
            raise OSError(code, __import__("os").strerror(code), str(path))
        return original(path, line)

    monkeypatch.setattr(store, "append_line", failing)
    assert _run(tmp_path) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert __import__("os").strerror(code) in line and "records.jsonl" in line
    monkeypatch.setattr(store, "append_line", original)
    assert _run(tmp_path) == 0  # the rerun resumes what was stored and completes
    assert _sorted(read_records(tmp_path / NAME)) == _serial_records(FAST, 0)


def test_an_unwritable_meta_json_exits_2(tmp_path, toy, monkeypatch, capsys):
    import simulations.store.task_store as store  # where TaskStore looks the helper up

    def denied(path, text):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(store, "write_atomic", denied)
    assert _run(tmp_path) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "Permission denied" in line and "meta.json" in line


def test_a_bug_is_a_traceback_not_a_one_line_error(tmp_path, toy, monkeypatch):
    def bug(config):
        return 1 / 0

    monkeypatch.setattr(fault_experiment, "tasks", bug)
    with pytest.raises(ZeroDivisionError):
        _run(tmp_path)


def test_a_bug_exits_1_with_a_traceback_from_the_command_line(tmp_path):
    script = cli_driver.SCRIPT.replace("from simulations.cli import main",
                                       "f.tasks = lambda config: 1 / 0\nfrom simulations.cli import main")
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(FAST), "run", NAME, "--quick",
                           "--out", str(tmp_path)], env=cli_driver.env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ZeroDivisionError" in proc.stderr


@pytest.mark.parametrize("jobs", ["0", "-2", "1025", "1000000000000", "two"])
def test_jobs_out_of_bounds_exit_2(tmp_path, toy, capsys, jobs):
    assert main(["run", NAME, "--quick", "--jobs", jobs, "--out", str(tmp_path)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "--jobs" in line and "1024" in line
    assert not (tmp_path / NAME).exists()
