"""Run the command line in a subprocess with the fault-tolerance toy experiment registered.

``python -c SCRIPT CONFIG_JSON ARGS...`` registers :mod:`fault_experiment` (whose ``quick``
preset becomes ``Config(**CONFIG_JSON)``) and exits with ``simulations.cli.main(ARGS)``.
Each subprocess gets its own session, so a test can signal or kill the whole process group
(the run and its worker processes) and check that none of them is left behind.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI_DIR = pathlib.Path(__file__).resolve().parent

SCRIPT = f"""
import json, sys
sys.path.insert(0, {str(CLI_DIR)!r})
import fault_experiment as f
cfg = json.loads(sys.argv[1])
f.Config.quick = classmethod(lambda cls: cls(**cfg))
from simulations import registry
registry.register_module(f)
from simulations.cli import main
sys.exit(main(sys.argv[2:]))
"""


def env():
    """The environment of a subprocess that imports this tree (not an installed copy)."""
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(ROOT), out.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out.pop("COLUMNS", None)
    return out


def command(cfg, argv):
    """The argv of a subprocess running ``main(argv)`` with quick preset ``Config(**cfg)``."""
    return [sys.executable, "-c", SCRIPT, json.dumps(cfg), *map(str, argv)]


def _default_sigint():
    # A shell starts background jobs with SIGINT ignored, and a Python started with SIGINT
    # ignored never installs its KeyboardInterrupt handler: a test suite run in the background
    # would then see its Ctrl-C tests "finish normally".  The child gets the terminal default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen(cfg, argv):
    """Start ``main(argv)`` in its own session, with the default ``SIGINT`` disposition;
    stdout and stderr are pipes (text)."""
    return subprocess.Popen(command(cfg, argv), env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_default_sigint)


def run(cfg, argv, timeout=120):
    """Run ``main(argv)`` to completion and return the ``CompletedProcess``."""
    return subprocess.run(command(cfg, argv), env=env(), capture_output=True, text=True,
                          timeout=timeout)


def complete_lines(path):
    """The newline-terminated lines of ``path`` (parsed as JSON); ``[]`` if it is missing."""
    path = pathlib.Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().split(b"\n")[:-1] if line.strip()]


def session_processes(sid):
    """Pids of live (non-zombie) processes in session ``sid`` (Linux ``/proc``)."""
    out = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(stat.parent.name))
    return out
