"""``run_experiment`` takes a name or a module, and refuses to run inside a booting spawn child."""

import multiprocessing
import subprocess
import sys
import textwrap

import pytest
import toy_experiment

from simulations import registry
from simulations.runner import run_experiment
from simulations.pool import WorkerPool


@pytest.fixture
def toy():
    registry.register_module(toy_experiment)
    yield toy_experiment
    registry.unregister(toy_experiment.NAME)


def test_name_and_module_give_the_same_records(toy):
    config = toy.Config(xs=(16, 32, 64, 128), reps=2)
    by_name = run_experiment(toy.NAME, config, seed=3)
    by_module = run_experiment(toy, config, seed=3)
    assert by_name.name == toy.NAME
    assert by_name.records == by_module.records


def test_unknown_name_is_a_lookup_error():
    with pytest.raises(LookupError, match="no-such-experiment"):
        run_experiment("no-such-experiment", None, seed=0)


def test_refused_while_a_spawned_child_imports_main(monkeypatch, toy):
    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    with pytest.raises(RuntimeError, match='if __name__ == "__main__":'):
        run_experiment(toy, toy.Config.quick(), seed=0)
    with pytest.raises(RuntimeError, match="WorkerPool"):
        WorkerPool(2)


def test_unguarded_script_in_a_real_spawned_child(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent('''
        import multiprocessing
        from simulations.runner import run_experiment
        try:
            run_experiment("no-such-experiment", None, seed=0)  # top level: no guard
        except RuntimeError as exc:
            print("CHILD REFUSED:", exc, flush=True)
            raise SystemExit(0)
        except LookupError:
            print("PARENT RAN", flush=True)
        if __name__ == "__main__":
            p = multiprocessing.get_context("spawn").Process(target=print, args=("unreached",))
            p.start()
            p.join()
    '''))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "PARENT RAN" in proc.stdout
    assert "CHILD REFUSED: run_experiment was called while a spawned worker" in proc.stdout
    assert "unreached" not in proc.stdout
