"""Stale-results guard: a rerun into a folder written by other code refuses or warns.

Policy (documented in :mod:`simulations.store`): finished tasks computed by *different task
code* (code fingerprint differs, or unknown while the git revision / version differ) are
refused unless ``allow_stale``; a different git revision or package version with the *same*
fingerprint only warns.
"""

import importlib
import json
import sys
import warnings

import pytest
import toy_experiment

from simulations import registry
from simulations.cli import main
from simulations.store import (StaleResultsError, StaleResultsWarning, TaskStore,
                               code_fingerprint)

BASE = dict(experiment="e", seed=0, config={"n": 3})


def _meta(folder):
    return json.loads((folder / "meta.json").read_text())


def _tamper(folder, **changes):
    """Pretend the folder was written by other code (top-level fields and last session)."""
    meta = _meta(folder)
    for key, value in changes.items():
        targets = [meta] + ([meta["sessions"][-1]] if meta.get("sessions") and key != "sessions" else [])
        for target in targets:
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    (folder / "meta.json").write_text(json.dumps(meta))


def _one_finished_task(folder):
    TaskStore(folder, **BASE).append(0, 0, [{"a": 1.0}], elapsed=0.01)


def test_meta_records_revision_versions_and_fingerprint(tmp_path):
    _one_finished_task(tmp_path)
    meta = _meta(tmp_path)
    assert meta["code_fingerprint"] == code_fingerprint()
    assert "git_revision" in meta and "numpy" in meta["versions"]
    assert len(meta["sessions"]) == 1


def test_same_code_resumes_silently(tmp_path):
    _one_finished_task(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = TaskStore(tmp_path, **BASE)
    assert store.finished_tasks() == {(0, 0)}
    assert len(_meta(tmp_path)["sessions"]) == 2


def test_changed_code_is_refused(tmp_path):
    _one_finished_task(tmp_path)
    _tamper(tmp_path, code_fingerprint="0123456789abcdef")
    with pytest.raises(StaleResultsError, match="different code.*0123456789abcdef.*refusing"):
        TaskStore(tmp_path, **BASE)


def test_changed_code_resumes_with_allow_stale_and_is_recorded(tmp_path):
    _one_finished_task(tmp_path)
    _tamper(tmp_path, code_fingerprint="0123456789abcdef")
    with pytest.warns(StaleResultsWarning, match="allow_stale"):
        store = TaskStore(tmp_path, **BASE, allow_stale=True)
    assert store.finished_tasks() == {(0, 0)}
    fps = [s["code_fingerprint"] for s in _meta(tmp_path)["sessions"]]
    assert fps == ["0123456789abcdef", code_fingerprint()]


def test_other_revision_same_code_warns_and_resumes(tmp_path):
    _one_finished_task(tmp_path)
    _tamper(tmp_path, git_revision="deadbeef" * 5)
    with pytest.warns(StaleResultsWarning, match="deadbeef.*unchanged"):
        store = TaskStore(tmp_path, **BASE)
    assert store.finished_tasks() == {(0, 0)}


def test_other_package_version_same_code_warns(tmp_path):
    _one_finished_task(tmp_path)
    meta = _meta(tmp_path)
    _tamper(tmp_path, versions={**meta["versions"], "coverage-principle": "0.0.0-old"})
    with pytest.warns(StaleResultsWarning, match="0.0.0-old"):
        TaskStore(tmp_path, **BASE)


def test_no_fingerprint_and_other_revision_is_refused(tmp_path):
    _one_finished_task(tmp_path)
    _tamper(tmp_path, code_fingerprint=None, sessions=None, git_revision="0" * 40)
    with pytest.raises(StaleResultsError, match="refusing"):
        TaskStore(tmp_path, **BASE)


def test_empty_folder_is_never_stale(tmp_path):
    TaskStore(tmp_path, **BASE)
    _tamper(tmp_path, code_fingerprint="0123456789abcdef", git_revision="x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TaskStore(tmp_path, **BASE)
    assert _meta(tmp_path)["code_fingerprint"] == code_fingerprint()


def test_fingerprint_follows_the_experiment_source(tmp_path, monkeypatch):
    src = tmp_path / "fp_probe_mod.py"
    src.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("fp_probe_mod")
    try:
        before = code_fingerprint(mod)
        assert before != code_fingerprint()  # the module's file is part of it
        src.write_text("X = 2\n")
        assert code_fingerprint(mod) != before
        src.write_text("X = 1\n")
        assert code_fingerprint(mod) == before
    finally:
        sys.modules.pop("fp_probe_mod", None)


@pytest.fixture
def toy():
    registry.register_module(toy_experiment)
    yield toy_experiment
    registry.unregister(toy_experiment.NAME)


def test_cli_refuses_stale_folder_in_one_line_then_allow_stale(toy, tmp_path, capsys):
    argv = ["run", toy.NAME, "--quick", "--out", str(tmp_path)]
    assert main(argv) == 0
    folder = tmp_path / toy.NAME
    _tamper(folder, code_fingerprint="0123456789abcdef")
    capsys.readouterr()
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "error" in err[0] and "--allow-stale" in err[0]
    assert main(argv + ["--allow-stale"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("python -m simulations: warning: resuming")
    # a changed revision with identical code: one warning line, exit 0
    _tamper(folder, git_revision="feedface")
    assert main(argv) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "warning" in err[0] and "feedface" in err[0]
