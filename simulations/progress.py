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


class WeightedBar:
    """The overall ``reproduce`` bar: a finished task advances it by its experiment's measured
    seconds per task (``simulations/timings.json``), so the ETA knows a slow task from a fast
    one.  ``use(module)`` selects the weight of the experiment that runs next; the label
    counts tasks."""

    def __init__(self, bar, weights, *, total, initial, tasks, stored):
        self.bar, self.weights, self.total, self.value = bar, weights, total, initial
        self.tasks, self.done, self.weight = tasks, stored, 1.0
        self._label(refresh=True)

    def _label(self, refresh=False):
        self.bar.set_description_str(f"reproduce {self.done}/{self.tasks} tasks",
                                     refresh=refresh)

    def use(self, module):
        self.weight = self.weights.get(module.NAME, 1.0)

    def update(self, n=1):
        self.done += n
        self._label()
        new = min(self.value + n * self.weight, self.total)  # no float overshoot
        step, self.value = new - self.value, new
        return self.bar.update(step)

    def __getattr__(self, name):
        return getattr(self.bar, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


def task_weights(experiments, preset):
    """Measured seconds per task of each experiment for ``preset``: the mean of the measured
    experiments for the others, and 1 for every experiment when none is measured (the bar then
    counts tasks)."""
    from simulations.timings import load_timings, lookup

    try:
        measured = load_timings()
    except ValueError:
        measured = {}
    per_task = {}
    for module in experiments:
        entry, _ = lookup(module, preset, measured)
        if entry and entry.get("tasks") and entry.get("seconds"):
            per_task[module.NAME] = entry["seconds"] / entry["tasks"]
    if not per_task:
        return {m.NAME: 1.0 for m in experiments}
    fallback = sum(per_task.values()) / len(per_task)
    return {m.NAME: per_task.get(m.NAME, fallback) for m in experiments}
