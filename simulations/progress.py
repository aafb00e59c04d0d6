"""Optional progress bars: tqdm when installed, a silent no-op otherwise.

``disable=None`` (the default) lets tqdm switch itself off when the output is not a TTY,
so CI logs stay clean.
"""

from __future__ import annotations

__all__ = ["progress_bar", "NoOpBar"]


class NoOpBar:
    """Stand-in with tqdm's small API (``update``, ``set_postfix``, ``set_postfix_str``,
    ``set_description``, ``set_description_str``, ``close``, iteration)."""

    def __init__(self, iterable=None, **kwargs):
        self._iterable = iterable

    def __iter__(self):
        return iter(self._iterable if self._iterable is not None else ())

    def update(self, n=1):
        return None

    def set_postfix(self, *args, **kwargs):
        return None

    def set_postfix_str(self, *args, **kwargs):
        return None

    def set_description(self, *args, **kwargs):
        return None

    def set_description_str(self, *args, **kwargs):
        return None

    def close(self):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def progress_bar(iterable=None, *, total=None, desc=None, disable=None, **kwargs):
    """Return a tqdm bar (``disable=None``: off when not a TTY) or a :class:`NoOpBar`.

    Parameters
    ----------
    iterable : iterable, optional
        Wrapped iterable.
    total : int, optional
        Expected number of updates.
    desc : str, optional
        Label.
    disable : bool or None
        ``True`` forces the bar off; ``None`` lets tqdm decide from the TTY.
    """
    if disable is True:
        return NoOpBar(iterable)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return NoOpBar(iterable)
    return tqdm(iterable, total=total, desc=desc, disable=disable, leave=False, **kwargs)
