"""Old spellings kept working for one release, with a ``DeprecationWarning`` naming the new one.

Three kinds of change are deprecated this way, each by a small decorator or wrapper:

* :func:`legacy_positional`: a function whose parameters after the first became keyword-only
  still accepts the old positional order (mapped to keywords by the old order);
* :func:`reordered`: a function whose two leading parameters swapped (data first, as in
  :math:`D_{KL}(\\pi_D\\|\\hat\\pi)`) still accepts the old order where the argument types tell
  the two orders apart;
* :func:`renamed`: an old public name that now calls the new one;
* :func:`moved_names`: names that moved to another module stay importable from the old one.

Every warning is raised at the caller's line (``stacklevel=2``) and says the call to write
instead.  The wrapped functions keep their signature and docstring (``functools.wraps``), so
``help()``, :mod:`inspect` and Sphinx show the new spelling only.

Examples
--------
>>> import warnings
>>> from theory.deprecation import legacy_positional
>>> @legacy_positional("x", "scale", "shift")
... def affine(x, *, shift=0.0, scale=1.0):
...     return scale * x + shift
>>> affine(2.0, scale=3.0, shift=1.0)
7.0
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     value = affine(2.0, 3.0, 1.0)          # the old positional order: x, scale, shift
>>> value, caught[0].category.__name__
(7.0, 'DeprecationWarning')
"""

from __future__ import annotations

import functools
import importlib
import inspect
import warnings

__all__ = ["legacy_positional", "reordered", "renamed", "moved_names"]


def _call_spelling(func, passed):
    """``name(first, key=..., ...)`` for the keyword call of ``func`` with the ``passed`` names."""
    params = list(inspect.signature(func).parameters.values())
    first = params[0].name
    keys = [p.name for p in params[1:]
            if p.kind is inspect.Parameter.KEYWORD_ONLY
            and (p.name in passed or p.default is inspect.Parameter.empty)]
    return f"{func.__name__}({', '.join([first] + [f'{k}=...' for k in keys])})"


def legacy_positional(*legacy):
    """Accept the former all-positional order of a function whose later parameters are keyword-only.

    Parameters
    ----------
    *legacy : str
        The parameter names in their former positional order.

    Returns
    -------
    callable
        A decorator.  The decorated function runs unchanged when called with at most one
        positional argument (its new first parameter).  Called with more, the positional
        arguments are bound to ``legacy`` names in order, a ``DeprecationWarning`` names the
        keyword call, and the function runs on those keywords.  With exactly one positional
        argument and the new first parameter passed by keyword (possible only when the first
        parameter changed), the positional argument is the former first one.

    Notes
    -----
    Too many positional arguments, or a name given both positionally and by keyword, raise
    ``TypeError`` as Python would.
    """
    legacy = tuple(legacy)

    def decorate(func):
        params = list(inspect.signature(func).parameters)
        first = params[0]
        unknown = sorted(set(legacy) - set(params))
        if unknown:
            raise ValueError(f"legacy names {unknown} are not parameters of {func.__name__}.")

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            old_first = (len(args) == 1 and legacy[0] != first and first in kwargs
                         and legacy[0] not in kwargs)
            if len(args) <= 1 and not old_first:
                return func(*args, **kwargs)
            if len(args) > len(legacy):
                raise TypeError(f"{func.__name__}() takes at most {len(legacy)} positional arguments "
                                f"in its deprecated form ({len(args)} given).")
            bound = dict(zip(legacy, args))
            twice = sorted(set(bound) & set(kwargs))
            if twice:
                raise TypeError(f"{func.__name__}() got multiple values for `{twice[0]}`.")
            kwargs.update(bound)
            warnings.warn(
                f"calling {func.__name__}() with positional arguments after the first is deprecated "
                f"(the order was {', '.join(legacy)}) and will stop working in the next release; "
                f"call {_call_spelling(func, kwargs)}.",
                DeprecationWarning, stacklevel=2)
            return func(**kwargs)

        wrapper.legacy_order = legacy
        return wrapper

    return decorate


def reordered(old, new, *, is_old_order):
    """Accept the former order of a function's two leading parameters, where it is detectable.

    Parameters
    ----------
    old : tuple of str
        The two leading parameter names in their former order, e.g. ``("model", "data")``.
    new : tuple of str
        The same names in the new order (the decorated function's signature).
    is_old_order : callable
        ``is_old_order(first, second) -> bool or None`` on the two leading positional
        arguments: ``True`` when they can be read in the former order only, ``False`` when in
        the new order only, ``None`` when their types cannot tell.

    Returns
    -------
    callable
        A decorator.  Former order: the arguments are swapped and a ``DeprecationWarning``
        names the new call.  New order, or fewer than two positional arguments: the call
        passes through unchanged.  Undecidable: the call is read in the new order and a
        ``FutureWarning`` (shown to every user, unlike a ``DeprecationWarning``) says so and
        how to silence it (pass the second argument by keyword), since a call written for
        the former order would otherwise give another number without a word.
    """
    if sorted(old) != sorted(new) or len(old) != 2:
        raise ValueError("`old` and `new` must be the same two names.")

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            verdict = is_old_order(args[0], args[1]) if len(args) >= 2 else False
            if verdict:
                warnings.warn(
                    f"{func.__name__}({old[0]}, {old[1]}, ...) is deprecated: the order is now "
                    f"{func.__name__}({new[0]}, {new[1]}, ...) (the reference distribution first); "
                    f"the old order will stop working in the next release.",
                    DeprecationWarning, stacklevel=2)
                args = (args[1], args[0]) + tuple(args[2:])
            elif verdict is None:
                warnings.warn(
                    f"{func.__name__}() now takes ({new[0]}, {new[1]}, ...), formerly ({old[0]}, {old[1]}, "
                    f"...), and the types of these two arguments cannot tell the orders apart: they "
                    f"are read as ({new[0]}, {new[1]}).  Pass {new[1]}= by keyword "
                    f"({func.__name__}({new[0]}, {new[1]}=..., ...)) to silence this warning.",
                    FutureWarning, stacklevel=2)
            return func(*args, **kwargs)

        return wrapper

    return decorate


def renamed(func, old_name):
    """Return ``func`` under its former name ``old_name``, warning on every call.

    Parameters
    ----------
    func : callable
        The function under its new name.
    old_name : str
        The former public name.

    Returns
    -------
    callable
        A wrapper calling ``func`` after a ``DeprecationWarning`` that names the new spelling.
    """
    new = f"{func.__module__}.{func.__name__}"

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        warnings.warn(f"{old_name} is deprecated and will be removed in the next release; use {new}.",
                      DeprecationWarning, stacklevel=2)
        return func(*args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = old_name.rsplit(".", 1)[-1]
    wrapper.__doc__ = f"Deprecated alias of :func:`{new}` (removed in the next release)."
    return wrapper


def moved_names(old, moved):
    """Return the module-level ``__getattr__`` (PEP 562) of a module whose names moved away.

    Parameters
    ----------
    old : str
        Dotted name of the module the names left (the deprecated path).
    moved : dict
        Old name -> dotted name of the module that now defines it (imported on access only,
        so the old module points no import arrow at the new one).

    Returns
    -------
    callable
        ``__getattr__(name)``: a moved name is returned from its new module with a
        ``DeprecationWarning`` naming ``new.name``; any other name raises ``AttributeError``.

    Examples
    --------
    >>> import warnings
    >>> getattr_ = moved_names("old.place", {"sqrt": "math"})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     value = getattr_("sqrt")(4.0)
    >>> value, str(caught[0].message)
    (2.0, '`old.place.sqrt` is deprecated and will be removed in the next release; use `math.sqrt`.')
    """
    if not isinstance(old, str) or not all(part.isidentifier() for part in old.split(".")):
        raise ValueError(f"`old` must be a dotted module name, got {old!r}.")
    if not isinstance(moved, dict) or not all(
            isinstance(k, str) and k.isidentifier() and isinstance(v, str)
            and all(part.isidentifier() for part in v.split(".")) for k, v in moved.items()):
        raise TypeError("`moved` must be a dict of attribute name -> dotted module name, "
                        f"got {type(moved).__name__}.")
    moved = dict(moved)

    def __getattr__(name):
        if name not in moved:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(f"`{old}.{name}` is deprecated and will be removed in the next release; "
                      f"use `{moved[name]}.{name}`.", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(moved[name]), name)

    return __getattr__
