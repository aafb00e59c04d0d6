"""Where results came from: git revision, code fingerprint of the sources that run inside
tasks, package versions.

Part of :mod:`simulations.store` (see there for the folder layout and the guarantees).
"""

from __future__ import annotations

import hashlib
import inspect
import os
import pathlib
import platform
import subprocess




#: Top-level modules of :mod:`simulations` that never run inside a task (UI, reports, the
#: deprecated forwarding shims); they are left out of :func:`code_fingerprint`.
_NOT_IN_TASKS = ("cli.py", "report.py", "progress.py", "registry.py", "__main__.py", "bench.py",
                 "pool.py", "results.py", "record_schemas.py", "docs_map.py", "calibrate.py")

#: Sub-packages of :mod:`simulations` left out of :func:`code_fingerprint`: the experiments
#: (only the one being run counts), the benchmarks, the process pool's plumbing and the
#: property-test support.
_PACKAGES_NOT_IN_TASKS = ("experiments", "bench", "pool", "testing")


# -- environment ----------------------------------------------------------------------------

def git_revision(path=None):
    """Return the git commit of the source tree (with ``+dirty`` if modified), or ``None``."""
    cwd = pathlib.Path(path) if path is not None else pathlib.Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "") if rev else None


def code_fingerprint(module=None):
    """SHA-256 (hex, 16 chars) of the source code that runs inside tasks.

    Covers every ``.py`` file of :mod:`theory` and :mod:`simulations` except the
    command-line, report, progress, process-pool, benchmark and tidy-results modules
    (:data:`_NOT_IN_TASKS`) and the experiment modules, plus the source file of ``module`` (the experiment being run) when it has one.
    Paths enter the hash relative to their package, so the fingerprint does not depend on
    where the toolkit is installed.

    Examples
    --------
    >>> len(code_fingerprint())
    16
    >>> code_fingerprint() == code_fingerprint()
    True
    """
    import theory

    sim_root = pathlib.Path(__file__).resolve().parents[1]
    theory_root = pathlib.Path(theory.__file__).resolve().parent
    files = [("theory", theory_root, f) for f in theory_root.rglob("*.py")]
    for f in sim_root.rglob("*.py"):
        rel = f.relative_to(sim_root)
        if rel.parts[0] in _PACKAGES_NOT_IN_TASKS or (len(rel.parts) == 1 and (
                rel.name in _NOT_IN_TASKS or rel.name.startswith(("bench_", "benchmarks_")))):
            continue
        files.append(("simulations", sim_root, f))
    digest = hashlib.sha256()
    for pkg, root, f in sorted(files, key=lambda t: (t[0], t[2].relative_to(t[1]).as_posix())):
        digest.update(f"{pkg}/{f.relative_to(root).as_posix()}\0".encode())
        digest.update(f.read_bytes() + b"\0")
    if module is not None:
        try:
            src = inspect.getsourcefile(module)
        except TypeError:  # built in sys.modules only (tests): no file
            src = None
        if src is not None and os.path.exists(src):
            digest.update(f"module/{getattr(module, '__name__', '')}\0".encode())
            digest.update(pathlib.Path(src).read_bytes())
    return digest.hexdigest()[:16]


def environment_info():
    """Return Python, platform and key package versions as a JSON-ready dict."""
    from importlib import metadata

    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("coverage-principle", "numpy", "scipy", "sympy", "matplotlib", "tqdm",
                 "hypothesis", "dask", "distributed"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions
