"""Registry of experiments: modules of :mod:`simulations.experiments` that define ``NAME``.

Discovery uses :func:`pkgutil.iter_modules` (private ``_*`` modules are skipped).  Tests and
downstream code can add modules that live elsewhere with :func:`register_module` (and remove
them with :func:`unregister`), without touching the package.

Modules are checked against the contract of :mod:`simulations.experiments.contract`
(:func:`check_experiment`, re-exported here).
"""

from __future__ import annotations

import importlib
import pkgutil
import traceback

from simulations.experiments.contract import REQUIRED_ATTRIBUTES, check_experiment

__all__ = ["REQUIRED_ATTRIBUTES", "check_experiment", "UnknownExperimentError", "RegistryError",
           "get", "all_experiments", "register_module", "unregister", "import_errors", "names"]

_EXTRA = {}


class UnknownExperimentError(LookupError):
    """No experiment of that name."""

    def __str__(self):  # LookupError would quote the message
        return str(self.args[0])


class RegistryError(RuntimeError):
    """Two experiments share a NAME, or a module breaks the contract."""


def _discover():
    """Return ({name: module}, {module_name: error}) for the experiments package."""
    import simulations.experiments as pkg

    found, errors = {}, {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        modname = f"{pkg.__name__}.{info.name}"
        try:
            module = importlib.import_module(modname)
        except Exception as exc:  # a broken module must not hide the others
            errors[modname] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            continue
        if not hasattr(module, "NAME"):
            continue
        try:
            check_experiment(module)
        except TypeError as exc:
            errors[modname] = str(exc)
            continue
        if module.NAME in found:
            errors[modname] = (f"duplicate experiment NAME {module.NAME!r} "
                               f"(also {found[module.NAME].__name__})")
            continue
        found[module.NAME] = module
    for name, module in _EXTRA.items():
        if name in found:
            errors[module.__name__] = f"duplicate experiment NAME {name!r}"
            continue
        found[name] = module
    return found, errors


def import_errors():
    """Return ``{module name: error text}`` for experiment modules that failed to load."""
    return _discover()[1]


def all_experiments():
    """Return every loadable experiment module, sorted by ``TOPIC`` then ``NAME``."""
    found, _ = _discover()
    return sorted(found.values(), key=lambda m: (m.TOPIC, m.NAME))


def names():
    """Return the sorted experiment names."""
    return sorted(_discover()[0])


def get(name):
    """Return the experiment module called ``name``.

    Raises
    ------
    UnknownExperimentError
        If no loadable experiment has that name (the message lists the known names and any
        module that failed to import).
    """
    found, errors = _discover()
    if name in found:
        return found[name]
    import difflib

    known = ", ".join(sorted(found)) or "none"
    close = difflib.get_close_matches(str(name), sorted(found), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    msg = f"unknown experiment {name!r}{hint}; known: {known}"
    if errors:
        msg += f" ({len(errors)} module(s) failed to load: {', '.join(sorted(errors))})"
    raise UnknownExperimentError(msg)


def register_module(module):
    """Add an experiment module that lives outside :mod:`simulations.experiments`.

    The module must be importable by ``module.__name__`` (or present in ``sys.modules``) so
    worker processes can find it.  Returns the module.
    """
    check_experiment(module)
    _EXTRA[module.NAME] = module
    return module


def unregister(name):
    """Remove a module added by :func:`register_module` (no error if absent)."""
    _EXTRA.pop(name, None)
