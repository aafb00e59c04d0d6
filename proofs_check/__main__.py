"""``python -m proofs_check [NAME ...] [--list]``: run the symbolic checks."""

import argparse
import sys

from . import CHECKS, _load_all, run_checks


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m proofs_check",
                                     description="Run the sympy checks of the proof steps.")
    parser.add_argument("names", nargs="*", help="run only these checks (default: all)")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    args = parser.parse_args(argv)
    _load_all()
    if args.list:
        for c in CHECKS.values():
            print(f"{c.name:<34s} [{c.ref}]")
        return 0
    unknown = [n for n in args.names if n not in CHECKS]
    if unknown:
        print(f"unknown check(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    selected = [CHECKS[n] for n in args.names] if args.names else list(CHECKS.values())
    results = run_checks(selected)
    for r in results:
        print(r.line(), flush=True)
    failed = [r for r in results if not r.passed]
    print(f"{len(results) - len(failed)}/{len(results)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
