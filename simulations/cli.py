"""Command line: ``python -m simulations {list,run,reproduce,calibrate,bench,export,timings}``.

``--version`` prints the package version and git revision; ``list [--json]`` groups the
experiments by topic (coverage-paper topics first) with their task counts and measured run
times (quick / full preset, from ``simulations/timings.json``, written by ``timings OUT...``
from the per-task seconds a finished run stored); ``run NAME --set KEY=VALUE`` overrides a
``Config`` field; ``reproduce --only NAME...`` runs a subset and ends with a short summary
(headline, counts per verdict, the binding claims that are not PASS, the report path).

Exit status: 0 success (every binding claim PASS -- 'not run in quick' claims are listed and
neither pass nor fail; every benchmark passed), 1 a binding claim is FAIL or UNDERPOWERED,
a benchmark failed, a task failed, an experiment crashed, or a bug (with its traceback)
(``calibrate``: a claim fails more often than its stated false-fail rate allows, or is
underpowered), 2 a user-caused failure (unknown experiment, bad flag value, a results folder in
use by another run, from a different run, computed by different code or failing
verification, an unreachable or non-dask ``dask://`` address, and any I/O error: permissions,
a file where a folder should be, disk full), 130 interrupted by Ctrl-C (``SIGINT``), 143 by
``SIGTERM`` (``interrupted: k/n tasks stored in OUT/NAME; rerun the same command to
resume``), 141 the reader of the output went away (``list | head``).  Errors of kind 2 are
one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import os
import pathlib
import signal
import sys
import time
import traceback
import warnings

__all__ = ["main", "build_parser", "version_text", "config_with_overrides"]

PROG = "python -m simulations"


class UsageError(Exception):
    """Bad user input: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (no usage dump) and exit status 2.

    ``--help`` still prints the full help; subcommand parsers inherit this class.
    """

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _nonneg_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _jobs(text):
    from simulations.sweep import MAX_JOBS

    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to {MAX_JOBS}, got {text!r}")
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds in (0, 3600], got {text!r}")
    return value


def _seed_list(text):
    from simulations.calibrate import parse_seeds

    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _executor_spec(text):
    from simulations.sweep import parse_dask_address

    if text in ("serial", "process", "dask-local"):
        return text
    if text.startswith("dask://"):
        try:
            parse_dask_address(text)
        except ValueError:
            pass
        else:
            return text
    raise argparse.ArgumentTypeError(
        "expected serial, process, dask-local or dask://HOST:PORT (port 1..65535), "
        f"got {text!r}")


def version_text(source_dir=None):
    """Return ``"coverage-principle VERSION (git REVISION)"`` for ``--version``.

    Parameters
    ----------
    source_dir : path-like, optional
        Folder whose git checkout is described (default: this package's folder).  Outside a
        git checkout (or without ``git``) the revision reads ``git revision unknown``.
    """
    from importlib import metadata

    from simulations.store import git_revision

    try:
        version = metadata.version("coverage-principle")
    except metadata.PackageNotFoundError:
        version = "unknown (not installed)"
    rev = git_revision(source_dir)
    where = f"git {rev}" if rev else "git revision unknown: not a git checkout"
    return f"coverage-principle {version} ({where})"


class _VersionAction(argparse.Action):
    """``--version``: computed only when asked (it runs ``git``)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit(0)


def _convert(text, like, key):
    """Convert ``text`` to the type of ``like`` (a Config value); raise UsageError if it fails."""
    def fail(what):
        raise UsageError(f"--set {key}={text}: expected {what}")

    if isinstance(like, bool):
        low = text.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        fail("a boolean (true/false)")
    if isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            fail("an integer")
    if isinstance(like, float):
        try:
            value = float(text)
        except ValueError:
            fail("a number")
        if not math.isfinite(value):
            fail("a finite number")
        return value
    if isinstance(like, str):
        return text
    if isinstance(like, (tuple, list)):
        parts = [p for p in text.split(",") if p.strip()] if text.strip() else []
        if like:
            item = like[0]
            kinds = {type(v) for v in like}
            if len(kinds) > 1 and kinds <= {int, float}:
                item = 1.0
        else:
            item = 1.0
        if isinstance(item, (tuple, list)):
            fail(f"a value of type {type(like).__name__} (nested sequences cannot be set)")
        return type(like)(_convert(p.strip(), item, key) for p in parts)
    raise UsageError(f"--set {key}: a field of type {type(like).__name__} cannot be set from "
                     "the command line")


def _numbers(value):
    """The numbers of a numeric field value (a number or a tuple of numbers), else None."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        return None
    return list(items)


def _check_like_preset(key, text, value, module):
    """Refuse an override that leaves the domain both presets agree on.

    Every numeric ``Config`` field of the experiments is positive in both presets (sizes,
    counts, thresholds, steps, probabilities), and no tuple field is empty; an override
    that breaks this (``replicates=0``, ``ns=``, ``N_max=-5``) would only fail inside the
    tasks, after they ran, with an error that names an internal variable.
    """
    presets = [getattr(module.Config, name, None) for name in ("quick", "full")]
    if not all(callable(p) for p in presets):
        return
    olds = [getattr(p(), key) for p in presets]
    if isinstance(value, (tuple, list)) and not value and all(len(o) for o in olds
                                                                if isinstance(o, (tuple, list))):
        raise UsageError(f"--set {key}={text}: must not be empty")
    new = _numbers(value)
    old = [x for o in olds for x in (_numbers(o) or [])]
    if new and old and all(x > 0 for x in old) and not all(x > 0 for x in new):
        raise UsageError(f"--set {key}={text}: every value must be > 0 (a size, count, "
                         "threshold or step; both presets have it positive)")


def config_with_overrides(module, config, overrides):
    """Return ``config`` with ``KEY=VALUE`` overrides applied (``run --set``).

    Each value is converted to the type of the field's current value (``bool``, ``int``,
    ``float``, ``str``, or a tuple of those written as a comma list).

    Raises
    ------
    UsageError
        Naming the key, if it is malformed, not a field of ``module.Config``, its value cannot
        be converted, it empties a tuple or makes a value ``<= 0`` where both presets are
        positive, or the ``Config`` rejects it.
    """
    import dataclasses

    fields = {f.name for f in dataclasses.fields(module.Config)}
    changes = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        if key not in fields:
            raise UsageError(f"--set {key}: not a Config field of {module.NAME}; fields: "
                             f"{', '.join(sorted(fields))}")
        changes[key] = _convert(text, getattr(config, key), key)
        _check_like_preset(key, text, changes[key], module)
    if not changes:
        return config
    try:
        return dataclasses.replace(config, **changes)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--set: {module.NAME}.Config rejects {changes}: {exc}") from None


def _config(module, args):
    config = module.Config.quick() if args.quick else module.Config.full()
    return config_with_overrides(module, config, getattr(args, "overrides", None) or [])


def build_parser():
    """Return the argparse parser (exposed for documentation and tests)."""
    parser = _Parser(
        prog=PROG, description="Simulations and claim checks for the coverage principle "
                               "(arXiv 2510.15020).")
    parser.add_argument("--version", action=_VersionAction,
                        help="print the package version and git revision, then exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lst = sub.add_parser("list", help="list experiments by topic with their paper references, "
                                      "task counts and measured run times")
    lst.add_argument("--json", action="store_true",
                     help="print a JSON array (name, topic, paper_ref, title, tasks_quick, "
                          "tasks_full, time_quick, time_full: the measurement or null; "
                          "time_notes when a measurement timed an older preset)")

    def common(p, jobs_help):
        p.add_argument("--quick", action="store_true", help="quick preset (seconds; CI)")
        p.add_argument("--seed", type=_nonneg_int, default=0, help="root seed (default 0)")
        p.add_argument("--jobs", type=_jobs, default=1, help=jobs_help)
        p.add_argument("--executor", type=_executor_spec, default=None,
                       help="serial | process | dask-local | dask://HOST:PORT "
                            "(default: process if --jobs > 1, else serial)")
        p.add_argument("--out", default="results", help="output folder (default: results)")
        p.add_argument("--allow-stale", action="store_true",
                       help="resume an --out folder whose finished tasks were computed by "
                            "different code (refused by default)")
        p.add_argument("--fresh", action="store_true",
                       help="start OUT/NAME afresh: move its previous content into "
                            "OUT/NAME/superseded-<time>/ (never deleted)")
        p.add_argument("--connect-timeout", type=_seconds, default=10.0, metavar="SECONDS",
                       help="seconds to reach a dask://HOST:PORT scheduler (default 10)")

    run = sub.add_parser("run", help="run one experiment")
    run.add_argument("name", help="experiment name (see `list`)")
    common(run, "worker processes (default 1)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                     help="override a Config field of the chosen preset (repeatable); the value "
                          "is converted to the field's type, tuples as comma lists: "
                          "--set ns=4,8,16 --set replicates=500")

    rep = sub.add_parser("reproduce", help="run every experiment and write OUT/report.md")
    common(rep, "worker processes (default 1)")
    rep.add_argument("--only", nargs="+", default=None, metavar="NAME",
                     help="run only these experiments (default: all)")
    rep.add_argument("--readme", default=None, metavar="PATH",
                     help="also rewrite the claims table and gallery of this README "
                          "(figures copied to docs/figures next to it)")

    cal = sub.add_parser(
        "calibrate", help="rerun experiments over seeds and test each binding claim's failure "
                          "count against its stated false-fail rate")
    cal.add_argument("--seeds", type=_seed_list, default=list(range(20)), metavar="LIST",
                     help="root seeds, e.g. 0-19 (default) or 3,5,8")
    cal.add_argument("--quick", action="store_true", help="quick presets (default: full)")
    cal.add_argument("--only", nargs="+", default=None, metavar="NAME",
                     help="restrict to these experiments (default: all)")
    cal.add_argument("--jobs", type=_jobs, default=1, help="worker processes (default 1)")
    cal.add_argument("--executor", type=_executor_spec, default=None,
                     help="serial | process | dask-local | dask://HOST:PORT")
    cal.add_argument("--out", default="calibration",
                     help="output folder; rerunning resumes its stores (default: calibration)")

    exp = sub.add_parser("export", help="write every run of OUT as tidy CSV or Parquet files "
                                        "(needs the `tidy` extra: pandas, pyarrow)")
    exp.add_argument("out", metavar="OUT", help="the --out folder of finished runs")
    exp.add_argument("--format", choices=("csv", "parquet"), default="csv", dest="fmt",
                     help="file format (default csv)")
    exp.add_argument("--dest", default=None, metavar="PATH",
                     help="where to write (default OUT/tidy)")

    tim = sub.add_parser(
        "timings", help="record the run times of the finished runs in OUT folders into "
                        "simulations/timings.json (what `list` shows)")
    tim.add_argument("outs", nargs="+", metavar="OUT",
                     help="--out folders of runs (quick or full presets; unfinished runs and "
                          "runs with --set are skipped)")
    tim.add_argument("--file", default=None, metavar="PATH",
                     help="timings file to update (default: simulations/timings.json)")

    bench = sub.add_parser("bench", help="print the benchmark table")
    bench.add_argument("--quick", action="store_true", help="smaller sizes")
    bench.add_argument("--json", default=None, metavar="PATH", help="also write rows as JSON")
    return parser


def _prepare_out_dir(path):
    """Create ``path`` and check it is writable; raise UsageError otherwise."""
    path = pathlib.Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to output folder {str(path)!r}: "
                         f"{exc.strerror or exc}") from None
    return path


def _check_executor(spec):
    if spec is not None and spec.startswith("dask") and importlib.util.find_spec("distributed") is None:
        raise UsageError(f"--executor {spec} needs dask: python -m pip install -e \".[dask]\"")


def _executor(args):
    from simulations.sweep import make_executor

    return make_executor(args.executor, args.jobs, connect_timeout=args.connect_timeout)


def _print_claims(claims, stream=None):
    from simulations.report import claims_table_markdown

    stream = sys.stdout if stream is None else stream
    if claims:
        stream.write(claims_table_markdown(claims))
    else:
        stream.write("(no claims)\n")


def _summary(claims):
    from simulations.report import headline

    return headline(claims)


def _in_paper_order(modules):
    """``modules`` sorted as ``list`` and the report show them (:func:`order_topics`)."""
    from simulations.report import order_topics

    order = order_topics((m.TOPIC, m.PAPER_REF) for m in modules)
    return sorted(modules, key=lambda m: (order.index(m.TOPIC), m.NAME))


def _only(names):
    """The experiments named in ``--only`` (in list order, duplicates dropped)."""
    from simulations import registry

    return _in_paper_order([registry.get(n) for n in dict.fromkeys(names)])


def _task_count(module, preset):
    try:
        return len(module.tasks(getattr(module.Config, preset)()))
    except Exception:  # reported when the experiment runs
        return None


def _list_rows(experiments):
    from simulations.timings import load_timings, lookup

    try:
        measured = load_timings()
    except ValueError as exc:
        print(f"{PROG}: warning: {exc}; run times not shown", file=sys.stderr)
        measured = {}
    rows = []
    for m in _in_paper_order(experiments):
        (quick, note_q), (full, note_f) = (lookup(m, p, measured) for p in ("quick", "full"))
        rows.append({"name": m.NAME, "topic": m.TOPIC, "paper_ref": m.PAPER_REF, "title": m.TITLE,
                     "tasks_quick": _task_count(m, "quick"), "tasks_full": _task_count(m, "full"),
                     "time_quick": quick, "time_full": full,
                     **({"time_notes": [n for n in (note_q, note_f) if n]}
                        if note_q or note_f else {})})
    return rows


def _times_text(row):
    """``quick ~12s, full ~3.4 min (measured DATE, --jobs 2 on 2 cores)``: one context when the
    two measurements share it, else one each; ``not measured`` where there is none (with the
    reason when an older preset was measured)."""
    from simulations.timings import describe, format_duration

    quick, full = row["time_quick"], row["time_full"]

    def context(e):
        return "(" + describe(e).split(" (", 1)[1]

    if quick and full and context(quick) == context(full):
        text = (f"quick {format_duration(quick['seconds'])}, full "
                f"{format_duration(full['seconds'])} {context(quick)}")
    else:
        text = f"quick {describe(quick)}, full {describe(full)}"
    return text + "".join(f"; {note}" for note in row.get("time_notes", ()))


def cmd_list(args):
    import json

    from simulations import registry

    errors = registry.import_errors()
    rows = _list_rows(registry.all_experiments())
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max((len(r["name"]) for r in rows), default=0)
        topic = None
        for r in rows:
            if r["topic"] != topic:
                topic = r["topic"]
                n = sum(x["topic"] == topic for x in rows)
                print(f"{'' if r is rows[0] else chr(10)}{topic} ({n} experiment"
                      f"{'s' if n != 1 else ''})")
            quick, full = ("?" if r[k] is None else str(r[k]) for k in ("tasks_quick", "tasks_full"))
            print(f"  {r['name'].ljust(width)}  tasks quick {quick:>4} / full {full:>5}  "
                  f"{r['paper_ref']}  —  {r['title']}")
            print(f"  {''.ljust(width)}  time {_times_text(r)}")
        print("\ntimes: wall-clock of a finished run on a machine under whatever load it had "
              "(tasks, claims and figures; for a resumed run an estimate from its task "
              "seconds); `python -m simulations timings OUT` records them")
    for modname, err in sorted(errors.items()):
        print(f"{PROG}: warning: experiment module {modname} failed to load: "
              f"{err.splitlines()[-1]}", file=sys.stderr)
    return 1 if errors else 0


def cmd_timings(args):
    from simulations import registry
    from simulations.timings import TIMINGS_PATH, update_timings

    path = pathlib.Path(args.file) if args.file else TIMINGS_PATH
    try:
        written, skipped = update_timings(args.outs, registry.all_experiments(), path)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    for folder, reason in skipped:
        print(f"skipped {folder}: {reason}")
    for name, preset in written:
        print(f"measured {name} ({preset})")
    print(f"{len(written)} measurement(s) written to {path}")
    return 0


def _run_one(module, args, executor, out, overall=None):
    from simulations.runner import run_experiment

    config = _config(module, args)
    return run_experiment(module, config, seed=args.seed, out_dir=out, executor=executor,
                          progress=True, allow_stale=args.allow_stale, fresh=args.fresh,
                          overall=overall)


def _print_failures(result, stream=None):
    """Name every failed task of ``result`` (one line each) and where the tracebacks are."""
    stream = sys.stdout if stream is None else stream
    for f in result.failed_tasks:
        stream.write(f"FAILED {result.name} task (cell {f['cell']}, rep {f['rep']}): "
                     f"{f['error'].splitlines()[-1] if f['error'] else ''}\n")
    if result.failed_tasks:
        where = (f"tracebacks in {result.out_dir / 'failures.jsonl'}; "
                 if result.out_dir is not None else "")
        stream.write(f"{result.name}: {len(result.failed_tasks)} task(s) failed, claims not "
                     f"evaluated; {where}rerun the same command to retry them (finished "
                     "tasks are kept; a failure caused by the input, e.g. a --set value, "
                     "fails again: change the command)\n")


def cmd_run(args):
    from simulations import registry
    from simulations.store import FolderLock

    module = registry.get(args.name)  # UnknownExperimentError -> exit 2
    _config(module, args)  # a bad --set is refused before anything is written
    _check_executor(args.executor)
    out = _prepare_out_dir(args.out)
    with FolderLock(out / module.NAME), _executor(args) as executor:  # refused at once if in use
        result = _run_one(module, args, executor, out)
    if result.failed_tasks:
        _print_failures(result)
        return 1
    _print_claims(result.claims)
    print(f"{result.name}: {_summary(result.claims)} in {result.elapsed:.1f} s "
          f"({result.n_resumed} task(s) resumed); results in {result.out_dir}")
    return 0 if result.passed else 1


def cmd_reproduce(args):
    from simulations import registry
    from simulations.report import write_report
    from simulations.store import FolderLock, StoreError
    from simulations.sweep import ExecutorError

    _check_executor(args.executor)
    if args.only and args.readme:
        raise UsageError("--readme rewrites the README's whole claims table and gallery from this "
                         "run: use it without --only")
    out = _prepare_out_dir(args.out)
    if args.only:
        experiments = _only(args.only)  # UnknownExperimentError -> exit 2
        errors = {}
    else:
        experiments = _in_paper_order(registry.all_experiments())
        errors = dict(registry.import_errors())
    if not experiments and not errors:
        print(f"{PROG}: error: no experiments found in simulations/experiments", file=sys.stderr)
        return 1
    start = time.perf_counter()
    results = []
    with contextlib.ExitStack() as stack:
        for module in experiments:  # every folder locked up front: a clash is refused at once
            stack.enter_context(FolderLock(out / module.NAME))
        executor = stack.enter_context(_executor(args))
        overall = stack.enter_context(_overall_bar(experiments, args, out))
        for i, module in enumerate(experiments, 1):
            overall.use(module)
            try:
                result = _run_one(module, args, executor, out, overall)
            except (StoreError, ExecutorError, OSError):
                raise  # the user's to fix: one line, exit status 2
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                errors[module.NAME] = f"{type(exc).__name__}: {exc}"
                print(f"[{i}/{len(experiments)}] {module.NAME}: CRASHED ({type(exc).__name__})")
                continue
            if result.failed_tasks:
                _print_failures(result)
                first = result.failed_tasks[0]
                errors[module.NAME] = (f"{len(result.failed_tasks)} task(s) failed, first (cell "
                                       f"{first['cell']}, rep {first['rep']}): {first['error']}")
                print(f"[{i}/{len(experiments)}] {module.NAME}: "
                      f"{len(result.failed_tasks)} TASK(S) FAILED")
                continue
            results.append(result)
            print(f"[{i}/{len(experiments)}] {module.NAME}: {_summary(result.claims)} "
                  f"in {result.elapsed:.1f} s")
    elapsed = time.perf_counter() - start
    report = write_report(results, out, seed=args.seed, elapsed=elapsed, errors=errors)
    if args.readme:
        from simulations.report import update_readme
        readme = pathlib.Path(args.readme)
        try:
            command = " ".join(["python -m simulations reproduce"] + (["--quick"] if args.quick else [])
                               + ([f"--seed {args.seed}"] if args.seed else [])
                               + (["--allow-stale"] if getattr(args, "allow_stale", False) else [])
                               + [f"--out {args.out}", f"--readme {args.readme}"])
            update_readme(readme, results, figures_dir=readme.parent / "docs" / "figures",
                          seed=args.seed, elapsed=elapsed, errors=errors, command=command,
                          report_dir=args.out)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot update `--readme` {readme}: {exc}") from None
    claims = [c for r in results for c in r.claims]
    print()
    print(_final_summary(claims, errors, report, n_experiments=len(experiments),
                         elapsed=elapsed), end="")
    ok = not errors and all(r.passed for r in results)
    return 0 if ok else 1


def _final_summary(claims, errors, report, *, n_experiments, elapsed):
    """The end of ``reproduce``: headline, counts per verdict, the binding claims that are not
    PASS (and those not run in quick) by name, crashed experiments, the report path."""
    import textwrap

    from simulations.claims import NOT_RUN_IN_QUICK, condition_problems, quick_data_verdict
    from simulations.report import headline, verdict, verdict_counts

    lines = [f"reproduce: {n_experiments} experiment(s) in {elapsed:.1f} s",
             headline(claims, crashed=len(errors))]
    counts = verdict_counts(claims)
    lines.append("verdicts: " + (", ".join(f"{v} {n}" for v, n in counts.items()) or "none"))
    blocking = [c for c in claims if c.blocking]
    if blocking:
        lines.append(f"binding claims that are not PASS ({len(blocking)}):")
        lines += [f"  {verdict(c)} {c.id}" for c in blocking]
    not_run = [c.id + (" (quick data: FAIL)" if quick_data_verdict(c) == "FAIL" else "")
               for c in claims if c.binding and c.verdict == NOT_RUN_IN_QUICK]
    if not_run:
        lines.append(f"not run in quick ({len(not_run)}; evaluated by the full preset only):")
        lines += textwrap.wrap(", ".join(not_run), width=100, initial_indent="  ",
                               subsequent_indent="  ", break_on_hyphens=False)
    problems = [p for c in claims for p in condition_problems(c)]
    if problems:
        lines.append(f"binding claims with incomplete hypotheses (`conditions`) ({len(problems)}):")
        lines += [f"  {p}" for p in problems]
    for name, msg in sorted(errors.items()):
        lines.append(f"CRASHED {name}: {msg.splitlines()[-1] if msg else ''}")
    lines.append(f"report: {report} (and {report.with_suffix('.html').name}); every claim with "
                 "its rule and details is there")
    return "\n".join(lines) + "\n"


def _overall_bar(experiments, args, out):
    """The ``reproduce`` bar over every task of every experiment, started at those stored and
    weighted by measured seconds per task (see :class:`simulations.progress.WeightedBar`)."""
    from simulations import progress
    from simulations.store import count_stored_tasks

    preset = "quick" if args.quick else "full"
    counts, stored = {}, {}
    for module in experiments:
        try:
            counts[module.NAME] = len(module.tasks(getattr(module.Config, preset)()))
        except Exception:  # reported when the experiment runs
            continue
        stored[module.NAME] = min(count_stored_tasks(out / module.NAME), counts[module.NAME])
    weights = progress.task_weights(experiments, preset)
    total = sum(weights[n] * k for n, k in counts.items())
    initial = sum(weights[n] * k for n, k in stored.items())
    bar = progress.progress_bar(
        total=total, initial=initial, desc="reproduce", position=0,
        bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
    return progress.WeightedBar(bar, weights, total=total, initial=initial, tasks=sum(counts.values()),
                        stored=sum(stored.values()))


def cmd_bench(args):
    from simulations import bench

    if args.json is not None:
        parent = pathlib.Path(args.json).resolve().parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise UsageError(f"cannot write --json file {args.json!r}: folder {str(parent)!r} "
                             "does not exist or is not writable")
    rows = bench.run_benchmarks(quick=args.quick)
    print(bench.format_table(rows))
    if args.json is not None:
        try:
            bench.write_json(rows, args.json)
        except OSError as exc:
            raise UsageError(f"cannot write --json file {args.json!r}: {exc.strerror or exc}") from None
    return 1 if any(r.passed is False for r in rows) else 0


def cmd_calibrate(args):
    from simulations import registry
    from simulations.calibrate import calibrate
    from simulations.store import CorruptStoreError, ResumeConflictError
    from simulations.sweep import make_executor

    modules = ([registry.get(n) for n in args.only] if args.only else registry.all_experiments())
    _check_executor(args.executor)
    out = _prepare_out_dir(args.out)
    with make_executor(args.executor, args.jobs) as executor:
        try:
            rows, failed_runs = calibrate(modules, args.seeds, quick=args.quick, out_dir=out,
                                          executor=executor, progress=True,
                                          log=lambda line: print(line, flush=True))
        except (ResumeConflictError, CorruptStoreError) as exc:
            raise UsageError(str(exc)) from None
    print((out / "calibration.md").read_text())
    bad = [r for r in rows if r.consistent is False or r.underpowered]
    return 1 if bad or failed_runs else 0


def cmd_export(args):
    from simulations.results import TidyDependencyError, export

    try:
        paths = export(args.out, fmt=args.fmt, dest=args.dest)
    except (TidyDependencyError, FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    for path in paths:
        print(path)
    return 0


_COMMANDS = {"export": cmd_export, "list": cmd_list, "timings": cmd_timings, "run": cmd_run,
             "reproduce": cmd_reproduce, "calibrate": cmd_calibrate, "bench": cmd_bench}


def main(argv=None):
    """Entry point; returns the exit status instead of exiting.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).
    """
    from simulations.runner import RunInterrupted
    from simulations.registry import UnknownExperimentError
    from simulations.store import StoreError
    from simulations.sweep import ExecutorError, sigterm_as_interrupt

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        with _one_line_warnings(), sigterm_as_interrupt():
            return _COMMANDS[args.command](args)
    except (UsageError, UnknownExperimentError, StoreError, ExecutorError) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `list | head`: the reader left; say nothing more
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # our own I/O (a task's errors are recorded, not raised)
        print(f"{PROG}: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except RunInterrupted as exc:
        print(exc.message, file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 128 + signum


def _one_line(exc):
    return " ".join(str(exc).split())


def _os_error(exc):
    """One line for an ``OSError``: what failed on which path."""
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return _one_line(f"I/O error: {what}")
    target = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "")
    return _one_line(f"I/O error on {target}: {what}")


@contextlib.contextmanager
def _one_line_warnings():
    """Show the toolkit's own warnings (stale results, stale lock, --fresh) as one line on stderr."""
    from simulations.store import StoreWarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, StoreWarning):
            print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        original = warnings.showwarning
        warnings.showwarning = show
        warnings.simplefilter("always", StoreWarning)
        yield
