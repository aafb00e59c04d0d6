r"""Figures: log-log rate plots, line plots with bounds drawn as regions, and their building blocks.

Every figure is a :class:`matplotlib.figure.Figure` drawn on its own ``Agg`` canvas, without
:mod:`matplotlib.pyplot`: importing or calling this module never changes the matplotlib backend
(inline figures in Jupyter keep working) and leaves no figure open in pyplot.

Conventions, shared by every experiment's ``plot``:

* each helper draws on ``ax`` when given one (a notebook's own axes) and returns the
  :class:`~matplotlib.figure.Figure`; :func:`save_figure` writes it as PNG **and** SVG and
  returns the PNG path (what ``plot(config, records, out_dir)`` lists);
* a log axis never shows a clamped zero: non-positive values (and the ``1e-300`` clamps older
  code used) are left out of the curve and marked by a hollow triangle on the bottom edge
  (:func:`mark_zeros`), so "measured 0" stays visible and the axis spans only real values;
* log axes get readable ticks (:func:`readable_log_axis`): base-2 design points are labelled
  16, 32, 64, ...; a narrow axis gets its design points or 1-2-5 labels in plain numbers;
  minor ticks are never labelled (no overprinting);
* a curve that coincides with an earlier one (within 1.2% of the axis range) is drawn with a
  different line style and hollow markers and says so in its legend entry, so it cannot hide;
* a prediction "grows at most like x^s" is the region under that slope (``rate_plot``'s
  ``slope_bound``);
* an upper bound with explicit constants is a shaded "at most" region (:func:`bound_region`),
  a lower bound an "at least" region; a rate known only up to a constant is a dashed
  "shape" line;
* titles are wrapped to the axes width (never truncated) and labels use mathtext
  (``$\mathrm{Cov}_N$``, ``$\hat\pi$``, ``$\sigma_\star^2$``).
"""

from __future__ import annotations

import math
import pathlib
import re

import numpy as np
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from theory.validation import as_float_array

__all__ = ["DPI", "FORMATS", "new_figure", "save_figure", "rate_plot", "line_plot",
           "bound_region", "mark_zeros", "readable_log_axis", "positive_or_nan", "COV"]

#: Resolution of saved PNGs.
DPI = 120
#: Formats :func:`save_figure` writes (the first one's path is returned).
FORMATS = ("png", "svg")
#: Values at or below this are clamps of a zero (older code wrote ``max(v, 1e-300)``).
_ZERO = 1e-300
#: Mathtext for the coverage profile, ``COV.format(N="N")`` -> ``$\mathrm{Cov}_{N}$``.
COV = r"$\mathrm{{Cov}}_{{{N}}}$"


def new_figure(nrows=1, ncols=1, *, figsize=(5.4, 4.0), **subplot_kw):
    """Return ``(fig, ax)`` (or ``(fig, axes)`` for a grid) on an ``Agg`` canvas, without pyplot.

    Parameters
    ----------
    nrows, ncols : int, default 1
        Grid of axes.
    figsize : tuple of float, default ``(5.4, 4.0)``
        Inches.
    **subplot_kw
        Passed to :meth:`matplotlib.figure.Figure.subplots` (e.g. ``sharey=True``).

    Returns
    -------
    fig : matplotlib.figure.Figure
        With constrained layout, so titles and labels are never clipped.
    ax : matplotlib.axes.Axes or numpy.ndarray of Axes
    """
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=True, **subplot_kw)


def _axes(ax, figsize):
    if ax is None:
        return new_figure(figsize=figsize)
    if not hasattr(ax, "figure") or not hasattr(ax, "plot"):
        raise TypeError(f"`ax` must be a matplotlib Axes, got {type(ax).__name__}.")
    return ax.figure, ax


def _visible_length(text):
    """Approximate printed width of ``text`` in characters (mathtext commands count as one)."""
    text = re.sub(r"\\[a-zA-Z]+", "x", text)
    return len(re.sub(r"[${}_^]", "", text))


def _wrap(text, width):
    """Wrap ``text`` at spaces outside ``$...$`` so that no line is longer than ``width``."""
    tokens = re.findall(r"(?:\$[^$]*\$|[^\s$])+", text)
    lines, cur = [], ""
    for tok in tokens:
        cand = f"{cur} {tok}" if cur else tok
        if cur and _visible_length(cand) > width:
            lines.append(cur)
            cur = tok
        else:
            cur = cand
    return "\n".join(lines + [cur]) if cur else text


def _wrap_titles(fig):
    width_in = fig.get_figwidth()
    for ax in fig.axes:
        title = ax.title
        text = title.get_text()
        if not text or "\n" in text:
            continue
        axes_in = width_in * ax.get_position().width
        chars = max(int(axes_in * 72 / (0.56 * title.get_fontsize())), 16)
        title.set_text(_wrap(text, chars))


#: Metadata key holding a figure's caption in its PNG and SVG files (:func:`figure_caption_of`).
CAPTION_KEY = "Description"

_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "Delta": "Δ", "epsilon": "ε",
          "varepsilon": "ε", "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π",
          "Pi": "Π", "sigma": "σ", "tau": "τ", "phi": "φ", "rho": "ρ", "star": "*",
          "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "times": "×", "cdot": "·", "ln": "ln",
          "log": "log", "sqrt": "√", "infty": "∞", "approx": "≈", "propto": "∝", "|": "‖"}


def plain_text(text):
    r"""``text`` with matplotlib mathtext turned into plain Unicode (for captions and alt text).

    ``$T_\delta$`` becomes ``T_δ``; ``\mathrm{TV}`` becomes ``TV``; braces and dollars go.

    Examples
    --------
    >>> plain_text(r"$T_\delta$ vs $1 + \varepsilon_V$ ($\mathrm{TV}$)")
    'T_δ vs 1 + ε_V (TV)'
    """
    def math(m):
        t = re.sub(r"\\(?:mathrm|mathbf|mathit|text|operatorname)\{([^{}]*)\}", r"\1", m.group(1))
        t = re.sub(r"\\([A-Za-z]+|\|)", lambda g: _GREEK.get(g.group(1), g.group(1)), t)
        t = re.sub(r"\\[,;!: ]", " ", t)
        return t.replace("{", "").replace("}", "")
    return re.sub(r"\s+", " ", re.sub(r"\$([^$]*)\$", math, text)).strip()


def figure_caption(fig):
    """A one-sentence caption made from the figure's own titles and axis labels.

    The fallback of :func:`save_figure` when the experiment gives no ``caption``: per axes,
    ``"<title>: <y label> against <x label>"``, joined by semicolons, mathtext made plain.

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    str
        Ends with a full stop; empty when the figure has no title and no labels.
    """
    parts = []
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text():
        parts.append(plain_text(sup.get_text()))
    for ax in fig.axes:
        title = plain_text(ax.get_title().replace("\n", " "))
        y, x = plain_text(ax.get_ylabel()), plain_text(ax.get_xlabel())
        axes_text = f"{y} against {x}" if x and y else (y or x)
        part = ": ".join(t for t in (title, axes_text) if t)
        if part and part not in parts:
            parts.append(part)
    text = "; ".join(parts)
    return f"{text[0].upper()}{text[1:]}." if text else ""


def save_figure(fig, path, *, caption=None, formats=FORMATS):
    """Write ``fig`` as PNG and SVG next to each other, with its caption, and return the PNG path.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path-like
        Output path ending in ``.png``; the other formats replace the suffix.
    caption : str, optional
        One sentence saying what the figure shows; stored in the files' metadata
        (:data:`CAPTION_KEY`) and shown under the figure in the reports.  Default: built from
        the figure's titles and axis labels (:func:`figure_caption`).
    formats : tuple of str, default ``("png", "svg")``
        Must start with ``"png"`` (the path listed by ``plot`` and shown in reports).

    Returns
    -------
    pathlib.Path
        The PNG file.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"`fig` must be a matplotlib Figure, got {type(fig).__name__}.")
    if caption is not None and (not isinstance(caption, str) or not caption.strip()):
        raise TypeError(f"`caption` must be a non-empty str or None, got {caption!r}.")
    path = pathlib.Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"`path` must end in .png, got {str(path)!r}.")
    if not formats or formats[0] != "png":
        raise ValueError(f"`formats` must start with 'png', got {formats!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    _wrap_titles(fig)
    caption = " ".join((caption or figure_caption(fig)).split())
    for fmt in formats:
        out = path.with_suffix(f".{fmt}")
        meta = {"Date": None} if fmt == "svg" else {}
        if caption and fmt in ("png", "svg", "pdf"):
            meta[CAPTION_KEY] = caption
        fig.savefig(out, dpi=DPI, metadata=meta or None)
    return path


def figure_caption_of(path):
    """The caption :func:`save_figure` stored in a PNG or SVG file, or None.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    str or None
        None for another format, a file without a caption, or a file that cannot be read.
    """
    path = pathlib.Path(path)
    try:
        if path.suffix.lower() == ".png":
            from PIL import Image

            with Image.open(path) as im:
                text = getattr(im, "text", None) or im.info
                value = text.get(CAPTION_KEY)
        elif path.suffix.lower() == ".svg":
            m = re.search(r"<dc:description>(.*?)</dc:description>", path.read_text(), re.S)
            value = None if m is None else re.sub(r"&lt;", "<", re.sub(r"&gt;", ">", re.sub(
                r"&amp;", "&", m.group(1))))
        else:
            return None
    except (OSError, ValueError, SyntaxError):
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


def positive_or_nan(values):
    """``values`` with non-positive entries and zero clamps (``<= 1e-300``) replaced by NaN.

    Parameters
    ----------
    values : array_like

    Returns
    -------
    numpy.ndarray of float
    """
    v = np.array(values, dtype=float)
    return np.where(v > _ZERO, v, np.nan)


def _is_power_of_two(x):
    x = np.asarray(x, float)
    x = x[np.isfinite(x) & (x > 0)]
    if x.size < 2:
        return False
    e = np.log2(x)
    return bool(np.all(np.abs(e - np.round(e)) < 1e-9))


def _plain(v, _pos=None):
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e5:
        return f"{v:g}"
    e = int(math.floor(math.log10(abs(v)) + 1e-9))
    m = v / 10 ** e
    return rf"$10^{{{e}}}$" if abs(m - 1) < 1e-9 else rf"${m:g}\times10^{{{e}}}$"


def readable_log_axis(ax, axis="x", *, data=None):
    """Give a log axis of ``ax`` readable major ticks and no minor labels.

    Base-2 design points (every value of ``data`` a power of two) get ticks at the powers of two,
    labelled 16, 32, 64, ... (every second one past ten ticks, and ``2^k`` past 2^16).  An axis
    spanning less than about 1.5 decades gets 1-2-5 ticks in plain numbers; wider axes keep
    matplotlib's decade ticks.  Minor ticks are never labelled.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        With a log ``axis`` already set.
    axis : {"x", "y"}
    data : array_like, optional
        The design points on that axis; decides base 2.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.
    """
    if axis not in ("x", "y"):
        raise ValueError(f"`axis` must be 'x' or 'y', got {axis!r}.")
    a = ax.xaxis if axis == "x" else ax.yaxis
    if a.get_scale() != "log":
        return ax
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        return ax
    a.set_minor_formatter(ticker.NullFormatter())
    if data is not None and _is_power_of_two(data):
        e_lo, e_hi = math.ceil(math.log2(lo) - 1e-9), math.floor(math.log2(hi) + 1e-9)
        step = max(1, math.ceil((e_hi - e_lo + 1) / 10))
        ticks = [2.0 ** e for e in range(e_lo, e_hi + 1) if (e - e_lo) % step == 0]
        big = hi > 2.0 ** 16

        def fmt(v, _pos=None):
            e = round(math.log2(v))
            return rf"$2^{{{e}}}$" if big else (f"{v:g}" if v >= 1 else rf"$2^{{{e}}}$")

        a.set_major_locator(ticker.FixedLocator(ticks))
        a.set_major_formatter(ticker.FuncFormatter(fmt))
        a.set_minor_locator(ticker.NullLocator())
        return ax
    span = math.log10(hi / lo)
    pts = None if data is None else np.unique(np.asarray(data, float))
    if pts is not None:
        pts = pts[np.isfinite(pts) & (pts >= lo) & (pts <= hi)]
    if (pts is not None and 3 <= pts.size <= 12 and span < 1.5
            and np.diff(np.log10(pts)).min() >= span / 20):  # few design points on a narrow axis: label them
        a.set_major_locator(ticker.FixedLocator(pts))
        a.set_major_formatter(ticker.FuncFormatter(_plain))
        a.set_minor_locator(ticker.NullLocator())
    elif span < 3.2:  # a narrow axis: labelled 1-2-5 (or denser) ticks in plain numbers
        ticks = []
        for subs in ((1,), (1, 3), (1, 2, 5), (1, 2, 3, 5, 7), (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9)):
            ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
                     for m in subs if lo <= m * 10.0 ** e <= hi]
            if len(ticks) >= 3:
                break
        a.set_major_locator(ticker.FixedLocator(ticks))
        a.set_major_formatter(ticker.FuncFormatter(_plain))
    else:
        a.set_major_locator(ticker.LogLocator(base=10, numticks=8))
        a.set_major_formatter(ticker.LogFormatterSciNotation())
    return ax


def mark_zeros(ax, x, y, *, color, label=None):
    """Mark points where ``y`` is zero (or a zero clamp) on a log y axis.

    Drawn as hollow triangles on the bottom edge of the axes (x in data, y in axes units), so
    they are visible without putting a fake value on the log axis.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x, y : (K,) array_like
    color : colour
    label : str, optional
        Legend entry (e.g. ``"0 of 1000 (below the axis)"``).

    Returns
    -------
    int
        Number of points marked.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    zero = np.isfinite(y) & (y <= _ZERO)
    if zero.any():
        ax.plot(x[zero], np.full(zero.sum(), 0.025), "v", ms=7, mfc="none", mec=color, mew=1.4,
                transform=ax.get_xaxis_transform(), clip_on=False, label=label, gid="zero-marker")
    return int(zero.sum())


def bound_region(ax, x, bound, *, kind="upper", label=None, color="0.45"):
    """Shade the region a bound allows: below an upper bound ("at most"), above a lower one.

    The bound's curve is drawn as a thin solid edge; the region extends to the edge of the
    axes (set the axis limits from the data first, as :func:`line_plot` does).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x, bound : (K,) array_like
    kind : {"upper", "lower"}
    label : str, optional
        Legend entry; ``"at most ..."`` / ``"at least ..."`` reads best.
    color : colour, default ``"0.45"``

    Returns
    -------
    matplotlib.collections.PolyCollection
    """
    if kind not in ("upper", "lower"):
        raise ValueError(f"`kind` must be 'upper' or 'lower', got {kind!r}.")
    x = as_float_array(x, "x", ndim=1)
    b = np.asarray(bound, dtype=float)
    if b.shape != x.shape:
        raise ValueError(f"`bound` must have shape {x.shape}, got {b.shape}.")
    lim = ax.get_ylim()
    edge = min(lim) if kind == "upper" else max(lim)
    b_drawn = np.clip(b, min(lim), max(lim))
    ax.plot(x, b_drawn, "-", lw=0.9, color=color)
    poly = ax.fill_between(x, b_drawn, edge, color=color, alpha=0.14 if kind == "upper" else 0.09, lw=0,
                           label=label)
    ax.set_ylim(lim)
    return poly


def _style(fmt_user, i, coincide_rank, n_points):
    """Keyword style of series ``i``; later coinciding curves change line style and markers."""
    if fmt_user is not None:
        return {"fmt": fmt_user}
    if coincide_rank == 0:
        return {"fmt": "-o", "ms": 3.5} if n_points <= 30 else {"fmt": "-"}
    ls = ["--", ":", "-."][(coincide_rank - 1) % 3]
    if n_points > 30:  # a dense curve: a thicker broken line, markers would merge into a band
        return {"fmt": ls, "lw": 1.6 + 0.6 * coincide_rank}
    return {"fmt": ls, "marker": "os^D"[coincide_rank % 4], "ms": 6 + 2 * coincide_rank, "mfc": "none",
            "mew": 1.3}


def _coincides(a, b, tol, log):
    """Whether curves ``a`` and ``b`` would print on top of each other (within ``tol`` of the
    axis range, measured in log10 units on a log axis) wherever both have a value."""
    both = np.isfinite(a) & np.isfinite(b)
    if not both.any():
        return False
    d = np.abs(np.log10(a[both]) - np.log10(b[both])) if log else np.abs(a[both] - b[both])
    return bool(np.all(d <= tol))


def _overlap_tolerance(curves, log, fraction=0.012):
    vals = np.concatenate([np.asarray(c, float).ravel() for c in curves])
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        return 0.0
    if log:
        return fraction * max(np.log10(vals.max() / vals.min()), 1.0)
    return fraction * max(vals.max() - vals.min(), 1e-12 + abs(vals).max() * 1e-3)


def line_plot(x, series, *, xlabel, ylabel, title, path=None, ax=None, logx=False, logy=False,
              bands=None, styles=None, upper=None, lower=None, zero_label=r"$\leq 0$ (not on the log axis)",
              legend_loc="best", figsize=(5.4, 4.0)):
    """Several named curves on one axes, with optional bands and bound regions.

    On a log y axis, zeros (and ``1e-300`` clamps) are not plotted but marked by
    :func:`mark_zeros`; bands are clipped to the visible range.  A curve equal to an earlier
    one (within 1.2% of the axis range) is drawn dashed with hollow markers and its label says
    which curve it coincides with.

    Parameters
    ----------
    x : (K,) array_like
    series : dict[str, (K,) array_like]
        Label -> y values (NaN: no value).
    xlabel, ylabel, title : str
        Mathtext allowed.
    path : path-like, optional
        If given, also :func:`save_figure` there (PNG and SVG).
    ax : matplotlib.axes.Axes, optional
        Draw here instead of on a new figure.
    logx, logy : bool
        Log scales (with :func:`readable_log_axis` ticks).
    bands : dict[str, tuple of (K,) array_like], optional
        Label -> ``(lo, hi)`` drawn with ``fill_between`` in the curve's colour.
    styles : dict[str, str], optional
        Label -> matplotlib format string (e.g. ``"k--"`` for a reference shape).
    upper, lower : dict[str, (K,) array_like], optional
        Label -> a bound with explicit constants, shaded as an "at most" / "at least" region
        (:func:`bound_region`); the label is used as given.
    zero_label : str
        Legend entry of the zero markers.
    legend_loc : str, default ``"best"``
    figsize : tuple of float
        Of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = as_float_array(x, "x", ndim=1)
    if not isinstance(series, dict) or not series:
        raise TypeError("`series` must be a non-empty dict of label -> values.")
    if (logx and (x <= 0).any()):
        raise ValueError("`x` must be positive on a log axis.")
    own_figure = ax is None
    fig, ax = _axes(ax, figsize)
    drawn = []
    clean = {}
    for label, ys in series.items():
        ys = as_float_array(ys, f"series[{label!r}]", ndim=1, allow_nan=True)
        if ys.shape != x.shape:
            raise ValueError(f"`series[{label!r}]` must have shape {x.shape}, got {ys.shape}.")
        clean[label] = ys
    all_zero = logy and not any(np.any(ys[np.isfinite(ys)] > _ZERO) for ys in clean.values())
    if all_zero:  # nothing positive to place on a log axis: a linear axis shows the zeros honestly
        logy = False
        ax.text(0.02, 0.98, "every value is 0 (linear axis)", transform=ax.transAxes,
                va="top", ha="left", fontsize="small", color="0.3")
    zeros_marked = False
    colors = {}
    shown_all = {label: positive_or_nan(ys) if logy else ys for label, ys in clean.items()}
    tol = _overlap_tolerance(shown_all.values(), logy)
    for i, (label, ys) in enumerate(clean.items()):
        shown = shown_all[label]
        same = [lab for lab, prev in drawn if _coincides(prev, shown, tol, logy)]
        user = (styles or {}).get(label)
        kw = _style(user, i, len(same), x.size)
        fmt = kw.pop("fmt")
        has_color = bool(re.search(r"C\d|[bgrcmykw]", fmt))
        color = None if has_color else f"C{i}"
        text = label if not same or user else f"{label} (coincides with {same[0]})"
        line, = ax.plot(x, shown, fmt, label=text, **({"color": color} if color else {}),
                        **({"ms": 3.5} if user and "ms" not in kw else {}), **kw)
        drawn.append((label, shown))
        colors[label] = line.get_color()
        if logy and mark_zeros(ax, x, ys, color=line.get_color(),
                               label=None if zeros_marked else zero_label):
            zeros_marked = True
    if logx:
        ax.set_xscale("log")
    limits = [(kind, label, np.asarray(b, float)) for kind, bounds in (("upper", upper), ("lower", lower))
              for label, b in (bounds or {}).items()]
    if logy:
        ax.set_yscale("log")
        vals = np.concatenate([v for _, v in drawn])
        vals = vals[np.isfinite(vals)]
        lo_, hi_ = (vals.min() / 1e3, vals.max() * 1e3) if vals.size else (0, np.inf)
        _fit_log_ylim(ax, [v for _, v in drawn] + [np.clip(b, lo_, hi_) for _, _, b in limits])
    else:
        for _, _, b in limits:
            ok = np.isfinite(b)
            ax.update_datalim(np.column_stack([x[ok], b[ok]]))
        ax.autoscale_view()
    for label, (lo, hi) in (bands or {}).items():
        if label not in colors:
            raise ValueError(f"`bands` has {label!r}, which is not a key of `series`.")
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        if logy:  # a band reaching 0 (or a clamp) is clipped at the bottom of the visible range
            lim = ax.get_ylim()
            lo = np.where(lo > _ZERO, lo, lim[0])
            hi = np.where(hi > _ZERO, hi, lim[0])
        ax.fill_between(x, lo, hi, color=colors[label], alpha=0.18, lw=0)
        if logy:
            ax.set_ylim(lim)
    for kind, label, b in limits:
        bound_region(ax, x, b, kind=kind, label=label)
    if logx:
        readable_log_axis(ax, "x", data=x)
    elif x.size <= 12 and np.allclose(x, np.round(x)):  # a few integer design points: label them
        ax.set_xticks(x, [f"{v:g}" for v in x])
    if logy:
        readable_log_axis(ax, "y")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    _legend(ax, legend_loc, own_figure)
    ax.grid(True, which="major", alpha=0.3)
    ax.grid(True, which="minor", alpha=0.1)
    if path is not None:
        save_figure(fig, path)
    return fig


def _legend(ax, loc, own_figure, crowded=5):
    """A legend inside the axes, or to their right when it has ``crowded`` entries or more."""
    handles, labels = ax.get_legend_handles_labels()
    if own_figure and loc == "best" and len(labels) >= crowded:
        fig = ax.figure
        fig.set_figwidth(fig.get_figwidth() + min(3.4, 0.4 + 0.062 * max(_visible_length(t) for t in labels)))
        ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        ax.legend(fontsize=7.5, loc=loc)


def _fit_log_ylim(ax, curves, pad=1.6):
    vals = np.concatenate([np.asarray(c, float).ravel() for c in curves]) if curves else np.array([])
    vals = vals[np.isfinite(vals) & (vals > _ZERO)]
    if vals.size:
        lo, hi = vals.min(), vals.max()
        if hi / lo < 4:  # keep a narrow axis narrow, but not degenerate
            mid = math.sqrt(lo * hi)
            lo, hi = min(lo, mid / 2), max(hi, mid * 2)
        ax.set_ylim(lo / pad, hi * pad)


def rate_plot(x, y_stat, y_lo=None, y_hi=None, fit=None, predicted_slope=None, *, xlabel, ylabel, title,
              slope_bound=None, path=None, ax=None, figsize=(5.4, 4.0)):
    """Log-log plot of a rate: data with error bars, fitted line, predicted slope.

    Parameters
    ----------
    x : (K,) array_like
        Positive design points.
    y_stat : (K,) array_like
        Statistic per point (what was fitted); zeros are marked, not plotted.
    y_lo, y_hi : (K,) array_like or None
        Lower/upper ends of per-point error bars (e.g. bootstrap or binomial intervals).
    fit : simulations.stats.RateFit or None
        Drawn as a solid line labelled ``slope [ci_low, ci_high]``.
    predicted_slope : float or None
        Drawn as a dashed line with that slope through the data's geometric centre, or, with
        ``slope_bound``, as a shaded region.
    xlabel, ylabel, title : str
        Mathtext allowed.
    slope_bound : {None, "upper", "lower"}
        ``"upper"``: the prediction is "grows at most like x^slope", drawn as the region below
        the line of that slope through the first (smallest-x) measured point
        (:func:`bound_region`); ``"lower"`` likewise above it.
    path : path-like, optional
        If given, also :func:`save_figure` there (PNG and SVG).
    ax : matplotlib.axes.Axes, optional
        Draw here instead of on a new figure.
    figsize : tuple of float
        Of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if slope_bound not in (None, "upper", "lower"):
        raise ValueError(f"`slope_bound` must be None, 'upper' or 'lower', got {slope_bound!r}.")
    x = as_float_array(x, "x", ndim=1)
    y = as_float_array(y_stat, "y_stat", ndim=1)
    if y.shape != x.shape:
        raise ValueError(f"`y_stat` must have shape {x.shape}, got {y.shape}.")
    if (x <= 0).any():
        raise ValueError("`x` must be positive on a log axis.")
    fig, ax = _axes(ax, figsize)
    shown = positive_or_nan(y)
    if y_lo is not None and y_hi is not None:
        lo = as_float_array(y_lo, "y_lo", ndim=1)
        hi = as_float_array(y_hi, "y_hi", ndim=1)
        lo = np.where(lo > _ZERO, lo, shown)  # an interval reaching 0 is drawn from the point up
        yerr = np.vstack([np.clip(shown - lo, 0, None), np.clip(hi - shown, 0, None)])
        ax.errorbar(x, shown, yerr=yerr, fmt="o", ms=4, capsize=3, color="C0", label="measured")
    else:
        ax.plot(x, shown, "o", ms=4, color="C0", label="measured")
    mark_zeros(ax, x, y, color="C0", label="measured 0 (below the axis)")
    xs = np.geomspace(x.min(), x.max(), 50)
    if fit is not None:
        ax.plot(xs, np.exp(fit.intercept) * xs ** fit.slope, "-", color="C1",
                label=f"fit: slope {fit.slope:.3f} [{fit.ci_low:.3f}, {fit.ci_high:.3f}]")
    pos = np.isfinite(shown)
    if predicted_slope is not None and pos.any() and slope_bound is None:
        lx0 = np.log(x[pos]).mean()
        ly0 = np.log(shown[pos]).mean()
        ax.plot(xs, np.exp(ly0 + predicted_slope * (np.log(xs) - lx0)), "--", color="k",
                label=f"predicted slope {predicted_slope:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if predicted_slope is not None and pos.any() and slope_bound is not None:
        i0 = np.flatnonzero(pos)[np.argmin(x[pos])]
        line = shown[i0] * (xs / x[i0]) ** predicted_slope
        vals = shown[pos]
        _fit_log_ylim(ax, [vals, np.clip(line, vals.min() / 1e3, vals.max() * 1e3)])
        word = "at most" if slope_bound == "upper" else "at least"
        bound_region(ax, xs, line, kind=slope_bound,
                     label=f"growth {word} slope {predicted_slope:g} (from the first point)")
    readable_log_axis(ax, "x", data=x)
    readable_log_axis(ax, "y")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7.5)
    ax.grid(True, which="major", alpha=0.3)
    ax.grid(True, which="minor", alpha=0.1)
    if path is not None:
        save_figure(fig, path)
    return fig
