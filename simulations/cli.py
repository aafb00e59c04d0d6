"""Command line: ``python -m simulations {list,run,reproduce,bench}``.

Exit status: 0 success (every non-exploratory claim passed; every benchmark passed),
1 a claim/benchmark failed or an experiment crashed, 2 bad input (unknown experiment, bad
flag value, unwritable output folder, a results folder from a different run).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import sys
import time
import traceback

__all__ = ["main", "build_parser"]

PROG = "python -m simulations"


class UsageError(Exception):
    """Bad user input: reported as one line on stderr, exit status 2."""


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
    parser = argparse.ArgumentParser(
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

    run = sub.add_parser("run", help="run one experiment")
    run.add_argument("name", help="experiment name (see `list`)")
    common(run, "worker processes (default 1)")

    rep = sub.add_parser("reproduce", help="run every experiment and write OUT/report.md")
    common(rep, "worker processes (default 1)")

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
    binding = [c for c in claims if not c.exploratory]
    return f"{sum(c.passed for c in binding)}/{len(binding)} claims passed"


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
                          progress=True)


def cmd_run(args):
    from simulations import registry
    from simulations.sweep import make_executor

    module = registry.get(args.name)  # UnknownExperimentError -> exit 2
    _check_executor(args.executor)
    out = _prepare_out_dir(args.out)
    with make_executor(args.executor, args.jobs) as executor:
        result = _run_one(module, args, executor, out)
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
            results.append(result)
            print(f"[{i}/{len(experiments)}] {module.NAME}: {_summary(result.claims)} "
                  f"in {result.elapsed:.1f} s")
    elapsed = time.perf_counter() - start
    report = write_report(results, out, seed=args.seed, elapsed=elapsed, errors=errors)
    claims = [c for r in results for c in r.claims]
    print()
    _print_claims(claims)
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


_COMMANDS = {"list": cmd_list, "run": cmd_run, "reproduce": cmd_reproduce, "bench": cmd_bench}


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
    except SystemExit as exc:  # argparse: 2 for bad flags, 0 for --help
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _COMMANDS[args.command](args)
    except (UsageError, UnknownExperimentError, ResumeConflictError, CorruptStoreError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        if "dask extra" in str(exc):
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 2
        raise
