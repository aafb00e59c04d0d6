"""Measured run times of the experiments: what ``python -m simulations list`` shows.

The numbers live in ``simulations/timings.json`` (committed), written by::

    python -m simulations timings OUT [OUT ...]

which reads the runs stored in each ``OUT/NAME`` folder.  Only measurements are written:

- a run counts once it is finished (``claims.json`` present), its stored configuration equals
  the current ``Config.quick()`` or ``Config.full()`` (so a ``--set`` run or a changed preset
  is skipped), and every stored task has its line in ``timings.jsonl``;
- ``task_seconds`` is the sum over tasks of the wall-clock seconds each task took on its
  worker (``elapsed`` in ``timings.jsonl``), ``cpu_seconds`` the sum of their CPU seconds,
  ``longest_task_seconds`` the slowest task;
- ``jobs`` is the run's ``--jobs`` (from the command line stored in ``meta.json``; else the
  number of distinct workers that ran its tasks), ``cores`` the machine's CPU count when the
  workers ran on the machine that writes the file (else ``None``);
- ``wall_seconds`` is the run's wall-clock time, tasks, claims and figures included: from the
  start of its session (``created`` in ``meta.json``, whole seconds) to the last file it wrote
  (modification times), kept only for a run done in one session whose span is at least its
  longest task (``None`` otherwise: a resumed run, or a copied folder);
- ``seconds``, the time ``list`` shows, is ``wall_seconds`` when there is one, else the
  estimate ``max(task_seconds / jobs, longest_task_seconds)`` from task time only; the source
  is named in ``seconds_from``.  Both are measured on whatever load the machine had.

Experiments without a finished run stay as they were in the file ("not measured" if absent).
Each entry keeps ``config_sha256``, the digest of the preset it timed: once the preset changes,
:func:`lookup` (and so ``list``) no longer shows the old time.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import pathlib
import socket

__all__ = ["TIMINGS_PATH", "PRESETS", "measure_run", "update_timings", "load_timings",
           "lookup", "config_digest", "describe", "format_duration"]

#: The committed file ``list`` reads.
TIMINGS_PATH = pathlib.Path(__file__).with_name("timings.json")
#: The presets a measurement can belong to.
PRESETS = ("quick", "full")
_FORMAT = 1
_COMMAND = "python -m simulations timings OUT [OUT ...]"


def _preset_config(module, preset):
    """The preset's configuration as it reads back from ``meta.json`` (JSON types only)."""
    from simulations.store import to_jsonable

    config = getattr(module.Config, preset)()
    return json.loads(json.dumps(to_jsonable(dataclasses.asdict(config))))


def config_digest(config):
    """SHA-256 (hex) of a configuration in canonical JSON (sorted keys)."""
    import hashlib

    text = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def lookup(module, preset, experiments):
    """The measurement of ``module``'s ``preset`` in ``experiments`` (:func:`load_timings`).

    Returns
    -------
    (entry, note) : (dict or None, str)
        ``entry`` is ``None`` when there is no measurement, or when it timed another version
        of the preset (``note`` then says so); ``note`` is ``""`` otherwise.
    """
    entry = experiments.get(module.NAME, {}).get(preset)
    if not entry:
        return None, ""
    try:
        current = config_digest(_preset_config(module, preset))
    except Exception:  # a preset that cannot be built is reported when it runs
        return None, ""
    if entry.get("config_sha256") != current:
        return None, f"the {preset} preset changed after the measurement of {entry.get('measured')}"
    return entry, ""


def measure_run(folder, module):
    """Return the timing of the finished run in ``folder``, or a reason why there is none.

    Parameters
    ----------
    folder : path-like
        ``OUT/NAME``, the store of one experiment's run.
    module : module
        The experiment (its ``Config`` presets identify the run's preset).

    Returns
    -------
    (preset, entry) : tuple of (str, dict), or (None, str)
        ``entry`` has the keys ``tasks``, ``task_seconds``, ``cpu_seconds``,
        ``longest_task_seconds``, ``jobs``, ``cores``, ``wall_seconds``, ``seconds``,
        ``seconds_from``, ``measured`` (UTC date of the last session), ``git_revision`` and
        ``source`` (the folder); on ``None`` the second item says why the folder gives no
        measurement.
    """
    from simulations.store import count_stored_tasks, read_timings

    folder = pathlib.Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None, "not started or unreadable (no valid meta.json)"
    if not (folder / "claims.json").is_file():
        return None, "not finished (no claims.json)"
    stored = meta.get("config")
    preset = next((p for p in PRESETS if stored == _preset_config(module, p)), None)
    if preset is None:
        return None, "its configuration is neither the current quick nor the full preset"
    timings = {(t["cell"], t["rep"]): t for t in read_timings(folder)
               if isinstance(t.get("elapsed"), (int, float))}
    n = count_stored_tasks(folder)
    if n == 0 or len(timings) < n:
        return None, f"{len(timings)} of {n} stored tasks have a timing"
    elapsed = [float(t["elapsed"]) for t in timings.values()]
    cpu = [t.get("cpu_seconds") for t in timings.values()]
    workers = {str(t.get("worker")) for t in timings.values()}
    hosts = {w.rsplit(":", 1)[0] for w in workers}
    jobs = _jobs_of(_last_argv(meta)) or max(len(workers), 1)
    total = sum(elapsed)
    sessions = meta.get("sessions") or [meta]
    created = str(sessions[-1].get("created") or meta.get("created") or "")
    wall = _wall_seconds(folder, created) if len(sessions) == 1 else None
    if wall is not None and wall < max(elapsed) - 1.0:  # "created" is rounded to whole seconds
        wall = None
    estimate = max(total / jobs, max(elapsed))
    return preset, {
        "tasks": len(timings),
        "task_seconds": round(total, 3),
        "cpu_seconds": (round(sum(cpu), 3) if all(isinstance(c, (int, float)) for c in cpu)
                        else None),
        "longest_task_seconds": round(max(elapsed), 3),
        "jobs": jobs,
        "cores": os.cpu_count() if hosts == {socket.gethostname()} else None,
        "wall_seconds": None if wall is None else round(wall, 1),
        "seconds": round(estimate if wall is None else wall, 1),
        "seconds_from": ("task seconds: max(task_seconds / jobs, longest_task_seconds)"
                         if wall is None else "wall_seconds"),
        "measured": created[:10] or None,
        "config_sha256": config_digest(stored),
        "git_revision": meta.get("git_revision"),
        "source": str(folder.resolve()),
    }


def _last_argv(meta):
    """The command line of the last session of a run (``meta.json``), or ``[]``."""
    sessions = meta.get("sessions") or [meta]
    argv = sessions[-1].get("argv") or meta.get("argv") or []
    return [str(a) for a in argv]


def _jobs_of(argv):
    """``--jobs J`` / ``--jobs=J`` of a command line, or ``None``."""
    for i, arg in enumerate(argv):
        text = argv[i + 1] if arg == "--jobs" and i + 1 < len(argv) else (
            arg.split("=", 1)[1] if arg.startswith("--jobs=") else None)
        if text is not None:
            try:
                return int(text)
            except ValueError:
                return None
    return None


def _wall_seconds(folder, created):
    """Seconds from ``created`` (ISO time) to the last modification of a file in ``folder``."""
    try:
        start = _dt.datetime.fromisoformat(created).timestamp()
        last = max(p.stat().st_mtime for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith("."))
    except (ValueError, OSError):
        return None
    return last - start if last >= start else None


def load_timings(path=None):
    """Return ``{name: {preset: entry}}`` from the timings file (empty if it is missing).

    Parameters
    ----------
    path : path-like, optional
        Default :data:`TIMINGS_PATH`.

    Raises
    ------
    ValueError
        If the file exists but is not a timings file.
    """
    path = TIMINGS_PATH if path is None else pathlib.Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ValueError(f"{path} is not a timings file: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("experiments"), dict):
        raise ValueError(f"{path} is not a timings file (no 'experiments' object)")
    return data["experiments"]


def update_timings(out_dirs, modules, path=None):
    """Measure the finished runs under ``out_dirs`` and merge them into the timings file.

    Parameters
    ----------
    out_dirs : sequence of path-like
        ``--out`` folders of runs (each holding ``NAME/`` stores).
    modules : sequence of module
        The experiments to look for.
    path : path-like, optional
        The file to update (default :data:`TIMINGS_PATH`).

    Returns
    -------
    (written, skipped) : (list of (str, str), list of (str, str))
        ``(name, preset)`` pairs measured, and ``(folder, reason)`` pairs for the stores that
        gave no measurement.  Entries of experiments not measured now are kept as they were.
    """
    path = TIMINGS_PATH if path is None else pathlib.Path(path)
    experiments = load_timings(path)
    written, skipped = [], []
    for out in out_dirs:
        out = pathlib.Path(out)
        if not out.is_dir():
            raise FileNotFoundError(f"no results folder {str(out)!r}")
        for module in modules:
            folder = out / module.NAME
            if not folder.is_dir():
                continue
            preset, entry = measure_run(folder, module)
            if preset is None:
                skipped.append((str(folder), entry))
                continue
            experiments.setdefault(module.NAME, {})[preset] = entry
            written.append((module.NAME, preset))
    data = {"format": _FORMAT,
            "written_by": _COMMAND,
            "updated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "fields": "seconds: wall_seconds (session start to last file written) for a run "
                      "done in one session, else max(task_seconds / jobs, "
                      "longest_task_seconds) from the per-task seconds in timings.jsonl",
            "experiments": {k: experiments[k] for k in sorted(experiments)}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)  # readers never see half a file
    return written, skipped


def format_duration(seconds):
    """``"~12s"``, ``"~3.4 min"`` or ``"~1.2 h"`` for a duration in seconds."""
    if seconds < 60:
        return f"~{seconds:.0f}s" if seconds >= 9.5 else f"~{seconds:.1g}s"
    if seconds < 3600:
        return f"~{seconds / 60:.1f} min"
    return f"~{seconds / 3600:.1f} h"


def describe(entry):
    """One phrase for a measurement: ``"~12s (measured 2026-12-04, --jobs 2 on 2 cores)"``,
    or ``"not measured"`` for ``None``."""
    if not entry:
        return "not measured"
    where = f"--jobs {entry['jobs']}"
    if entry.get("cores"):
        where += f" on {entry['cores']} cores"
    return f"{format_duration(entry['seconds'])} (measured {entry['measured']}, {where})"
