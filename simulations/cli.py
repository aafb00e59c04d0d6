"""Command line: ``python -m simulations {list,run,reproduce,calibrate,bench}``.

Exit status: 0 success (every binding claim PASS -- 'not run in quick' claims are listed and
neither pass nor fail; every benchmark passed), 1 a binding claim is FAIL or UNDERPOWERED,
a benchmark failed, a task failed or an experiment crashed (``calibrate``: a claim fails
more often than its stated false-fail rate allows, or is underpowered), 2 bad input (unknown
experiment, bad flag value, unwritable output folder, a results folder from a different
run or computed by different code).  Errors of kind 2 are one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import pathlib
import sys
import time
import traceback
import warnings

__all__ = ["main", "build_parser"]

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


def _pos_int(text):
    value = _nonneg_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed_list(text):
    from simulations.calibrate import parse_seeds

    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _executor_spec(text):
    if text in ("serial", "process", "dask-local"):
        return text
    if text.startswith("dask://"):
        host, sep, port = text[len("dask://"):].rpartition(":")
        if host and sep and port.isdigit():
            return text
    raise argparse.ArgumentTypeError(
        f"expected serial, process, dask-local or dask://HOST:PORT, got {text!r}")


def build_parser():
    """Return the argparse parser (exposed for documentation and tests)."""
    parser = _Parser(
        prog=PROG, description="Simulations and claim checks for the coverage principle "
                               "(arXiv 2510.15020).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("list", help="list experiments with their paper references")

    def common(p, jobs_help):
        p.add_argument("--quick", action="store_true", help="quick preset (seconds; CI)")
        p.add_argument("--seed", type=_nonneg_int, default=0, help="root seed (default 0)")
        p.add_argument("--jobs", type=_pos_int, default=1, help=jobs_help)
        p.add_argument("--executor", type=_executor_spec, default=None,
                       help="serial | process | dask-local | dask://HOST:PORT "
                            "(default: process if --jobs > 1, else serial)")
        p.add_argument("--out", default="results", help="output folder (default: results)")
        p.add_argument("--allow-stale", action="store_true",
                       help="resume an --out folder whose finished tasks were computed by "
                            "different code (refused by default)")

    run = sub.add_parser("run", help="run one experiment")
    run.add_argument("name", help="experiment name (see `list`)")
    common(run, "worker processes (default 1)")

    rep = sub.add_parser("reproduce", help="run every experiment and write OUT/report.md")
    common(rep, "worker processes (default 1)")
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
    cal.add_argument("--jobs", type=_pos_int, default=1, help="worker processes (default 1)")
    cal.add_argument("--executor", type=_executor_spec, default=None,
                     help="serial | process | dask-local | dask://HOST:PORT")
    cal.add_argument("--out", default="calibration",
                     help="output folder; rerunning resumes its stores (default: calibration)")

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


def _print_not_run(claims, stream=None):
    stream = sys.stdout if stream is None else stream
    for c in claims:
        if c.verdict == "not run in quick":
            stream.write(f"NOT RUN IN QUICK {c.id}\n")


def cmd_list(args):
    from simulations import registry

    experiments = registry.all_experiments()
    errors = registry.import_errors()
    width = max((len(m.NAME) for m in experiments), default=0)
    for m in experiments:
        print(f"{m.NAME.ljust(width)}  {m.PAPER_REF}  —  {m.TITLE}")
    for modname, err in sorted(errors.items()):
        print(f"{PROG}: warning: experiment module {modname} failed to load: "
              f"{err.splitlines()[-1]}", file=sys.stderr)
    return 1 if errors else 0


def _run_one(module, args, executor, out):
    from simulations.experiment import run_experiment

    config = module.Config.quick() if args.quick else module.Config.full()
    return run_experiment(module, config, seed=args.seed, out_dir=out, executor=executor,
                          progress=True, allow_stale=args.allow_stale)


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
                     "tasks are kept)\n")


def cmd_run(args):
    from simulations import registry
    from simulations.sweep import make_executor

    module = registry.get(args.name)  # UnknownExperimentError -> exit 2
    _check_executor(args.executor)
    out = _prepare_out_dir(args.out)
    with make_executor(args.executor, args.jobs) as executor:
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
    from simulations.store import CorruptStoreError, ResumeConflictError
    from simulations.sweep import make_executor

    _check_executor(args.executor)
    out = _prepare_out_dir(args.out)
    experiments = registry.all_experiments()
    errors = dict(registry.import_errors())
    if not experiments and not errors:
        print(f"{PROG}: error: no experiments found in simulations/experiments", file=sys.stderr)
        return 1
    start = time.perf_counter()
    results = []
    with make_executor(args.executor, args.jobs) as executor:
        for i, module in enumerate(experiments, 1):
            try:
                result = _run_one(module, args, executor, out)
            except (ResumeConflictError, CorruptStoreError) as exc:
                raise UsageError(str(exc)) from None
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
            update_readme(readme, results, figures_dir=readme.parent / "docs" / "figures",
                          seed=args.seed, elapsed=elapsed, errors=errors)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot update `--readme` {readme}: {exc}") from None
    claims = [c for r in results for c in r.claims]
    print()
    _print_claims(claims)
    _print_not_run(claims)
    for c in claims:
        if c.blocking:
            print(f"{c.verdict} {c.id}")
    for name, msg in sorted(errors.items()):
        print(f"CRASHED {name}: {msg.splitlines()[-1] if msg else ''}")
    ok = not errors and all(r.passed for r in results)
    print(f"{_summary(claims)}; {len(errors)} crashed; report: {report}")
    return 0 if ok else 1


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


_COMMANDS = {"list": cmd_list, "run": cmd_run, "reproduce": cmd_reproduce,
             "calibrate": cmd_calibrate, "bench": cmd_bench}


def main(argv=None):
    """Entry point; returns the exit status instead of exiting.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).
    """
    from simulations.registry import UnknownExperimentError
    from simulations.store import CorruptStoreError, ResumeConflictError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        with _one_line_warnings():
            return _COMMANDS[args.command](args)
    except (UsageError, UnknownExperimentError, ResumeConflictError, CorruptStoreError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        if "dask extra" in str(exc):
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 2
        raise


@contextlib.contextmanager
def _one_line_warnings():
    """Show the toolkit's own warnings (e.g. stale results) as one line on stderr."""
    from simulations.store import StaleResultsWarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, StaleResultsWarning):
            print(f"{PROG}: warning: {message}", file=sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        original = warnings.showwarning
        warnings.showwarning = show
        warnings.simplefilter("always", StaleResultsWarning)
        yield
