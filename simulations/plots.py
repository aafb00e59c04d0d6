"""Figures: log-log rate plots with the fitted and predicted slopes, and simple line plots.

Figures are built as :class:`matplotlib.figure.Figure` objects drawn on an explicit ``Agg``
canvas, without :mod:`matplotlib.pyplot`: importing or calling this module never changes the
matplotlib backend (inline figures in Jupyter keep working) and leaves no figure open.
Every function saves a PNG.
"""

from __future__ import annotations

import pathlib

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from theory.validation import as_float_array

__all__ = ["rate_plot", "line_plot", "DPI"]

#: Resolution of saved PNGs.
DPI = 120


def _save(fig, path):
    path = pathlib.Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"`path` must end in .png, got {str(path)!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def _figure(figsize):
    """A new figure with one axes on its own Agg canvas (no pyplot state, no backend change)."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def rate_plot(x, y_stat, y_lo, y_hi, fit, predicted_slope, *, xlabel, ylabel, title, path):
    """Log-log plot of a rate: data with error bars, fitted line, predicted slope.

    Parameters
    ----------
    x : (K,) array_like
        Positive design points.
    y_stat : (K,) array_like
        Positive statistic per point (what was fitted).
    y_lo, y_hi : (K,) array_like or None
        Lower/upper ends of per-point error bars (e.g. bootstrap or binomial intervals).
    fit : simulations.stats.RateFit or None
        Drawn as a solid line labelled ``slope [ci_low, ci_high]``.
    predicted_slope : float or None
        Drawn as a dashed line with that slope through the data's geometric centre.
    xlabel, ylabel, title : str
    path : path-like
        Output ``.png``.

    Returns
    -------
    pathlib.Path
    """
    x = as_float_array(x, "x", ndim=1)
    y = as_float_array(y_stat, "y_stat", ndim=1)
    if y.shape != x.shape:
        raise ValueError(f"`y_stat` must have shape {x.shape}, got {y.shape}.")
    if (x <= 0).any():
        raise ValueError("`x` must be positive on a log axis.")
    fig, ax = _figure((5.2, 3.9))
    if y_lo is not None and y_hi is not None:
        lo = as_float_array(y_lo, "y_lo", ndim=1)
        hi = as_float_array(y_hi, "y_hi", ndim=1)
        yerr = np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
        ax.errorbar(x, y, yerr=yerr, fmt="o", ms=4, capsize=3, color="C0", label="measured")
    else:
        ax.plot(x, y, "o", ms=4, color="C0", label="measured")
    xs = np.geomspace(x.min(), x.max(), 50)
    if fit is not None:
        ax.plot(xs, np.exp(fit.intercept) * xs ** fit.slope, "-", color="C1",
                label=f"fit: slope {fit.slope:.3f} [{fit.ci_low:.3f}, {fit.ci_high:.3f}]")
    pos = y > 0
    if predicted_slope is not None and pos.any():
        lx0 = np.log(x[pos]).mean()
        ly0 = np.log(y[pos]).mean()
        ax.plot(xs, np.exp(ly0 + predicted_slope * (np.log(xs) - lx0)), "--", color="k",
                label=f"predicted slope {predicted_slope:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def line_plot(x, series, *, xlabel, ylabel, title, path, logx=False, logy=False, bands=None,
              styles=None):
    """Several named curves on one axis, with optional shaded bands.

    Parameters
    ----------
    x : (K,) array_like
    series : dict[str, (K,) array_like]
        Label -> y values.
    xlabel, ylabel, title : str
    path : path-like
        Output ``.png``.
    logx, logy : bool
        Log scales.
    bands : dict[str, tuple of (K,) array_like], optional
        Label -> ``(lo, hi)`` drawn with ``fill_between`` in the curve's colour.
    styles : dict[str, str], optional
        Label -> matplotlib format string (e.g. ``"--"``).

    Returns
    -------
    pathlib.Path
    """
    x = as_float_array(x, "x", ndim=1)
    if not isinstance(series, dict) or not series:
        raise TypeError("`series` must be a non-empty dict of label -> values.")
    fig, ax = _figure((5.2, 3.9))
    for i, (label, ys) in enumerate(series.items()):
        ys = as_float_array(ys, f"series[{label!r}]", ndim=1, allow_nan=True)
        if ys.shape != x.shape:
            raise ValueError(f"`series[{label!r}]` must have shape {x.shape}, got {ys.shape}.")
        fmt = (styles or {}).get(label, "-o")
        has_color = any(c in fmt for c in "bgrcmykw")  # a colour in the format string wins
        ax.plot(x, ys, fmt, ms=3, label=label, **({} if has_color else {"color": f"C{i}"}))
        if bands and label in bands:
            lo, hi = bands[label]
            ax.fill_between(x, lo, hi, color=f"C{i}", alpha=0.2, lw=0)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)
