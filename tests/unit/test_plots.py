"""The shared plotting layer: Figures on a given ``ax``, PNG + SVG, readable log axes, no clamped zeros."""

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from simulations import plots
from simulations.plots import (bound_region, line_plot, mark_zeros, new_figure, rate_plot, readable_log_axis,
                               save_figure)
from simulations.stats import loglog_fit

X = np.array([16.0, 32.0, 64.0, 128.0, 256.0])


def _data_ys(fig):
    """Every y value plotted in data coordinates on a log y axis of ``fig``."""
    out = []
    for ax in fig.axes:
        if ax.get_yscale() != "log":
            continue
        for line in ax.get_lines():
            if line.get_gid() == "zero-marker":  # drawn in axes units on purpose
                continue
            out.append(np.asarray(line.get_ydata(), float))
        for coll in ax.collections:
            for p in coll.get_paths():
                out.append(p.vertices[:, 1])
    return np.concatenate(out) if out else np.array([])


def _assert_no_clamp(fig):
    ys = _data_ys(fig)
    ys = ys[np.isfinite(ys)]
    assert ys.size and not (ys <= 1e-300).any(), ys[ys <= 1e-300]


def _helpers(ax=None, path=None):
    fit = loglog_fit(X, [np.array([1 / x, 1.1 / x]) for x in X], n_boot=100, rng=np.random.default_rng(0))
    return {
        "line_plot": lambda: line_plot(X, {"a": 1 / X}, xlabel="$x$", ylabel="$y$", title="t", ax=ax, path=path,
                                       logx=True, logy=True, upper={"at most": 2 / X}),
        "rate_plot": lambda: rate_plot(X, 1 / X, 0.9 / X, 1.1 / X, fit, -1.0, xlabel="x", ylabel="y", title="t",
                                       ax=ax, path=path),
    }


@pytest.mark.parametrize("name", ["line_plot", "rate_plot"])
def test_helpers_return_a_figure_and_draw_on_the_given_ax(name):
    fig, ax = new_figure()
    out = _helpers(ax=ax)[name]()
    assert out is fig and isinstance(out, Figure)
    assert ax.get_lines(), "nothing drawn on the given axes"
    assert len(fig.axes) == 1
    assert isinstance(_helpers()[name](), Figure)  # and a figure of its own without ax


@pytest.mark.parametrize("name", ["line_plot", "rate_plot"])
def test_helpers_write_png_and_svg(tmp_path, name):
    path = tmp_path / "sub" / f"{name}.png"
    _helpers(path=path)[name]()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in path.with_suffix(".svg").read_bytes()[:2000]


def test_save_figure_returns_the_png_path_and_refuses_other_suffixes(tmp_path):
    fig, ax = new_figure()
    ax.plot([1, 2], [1, 2])
    assert save_figure(fig, tmp_path / "f.png") == tmp_path / "f.png"
    assert (tmp_path / "f.svg").exists()
    with pytest.raises(ValueError, match="path"):
        save_figure(fig, tmp_path / "f.pdf")
    with pytest.raises(TypeError, match="fig"):
        save_figure(ax, tmp_path / "g.png")
    with pytest.raises(TypeError, match="ax"):
        line_plot(X, {"a": X}, xlabel="x", ylabel="y", title="t", ax="not an axes")


def test_building_blocks_draw_on_the_given_ax():
    fig, ax = new_figure()
    ax.plot(X, 1 / X)
    ax.set_yscale("log")
    assert mark_zeros(ax, X, np.array([0.0, 1.0, 0.0, 1e-300, 2.0]), color="C0", label="0") == 3
    poly = bound_region(ax, X, 2 / X, kind="upper", label="at most")
    assert poly in ax.collections
    assert readable_log_axis(ax, "y") is ax
    with pytest.raises(ValueError, match="kind"):
        bound_region(ax, X, X, kind="sideways")
    with pytest.raises(ValueError, match="bound"):
        bound_region(ax, X, X[:2])


def test_zeros_and_clamps_are_marked_not_plotted():
    y = np.array([1e-2, 0.0, 1e-300, 1e-4, 5e-5])
    band = (np.full(5, 1e-300), y * 2)  # a +-2 se band clamped at 1e-300, as mean_and_band makes it
    fig = line_plot(X, {"measured": y}, bands={"measured": band}, xlabel="x", ylabel="y", title="t",
                    logx=True, logy=True)
    _assert_no_clamp(fig)
    ax = fig.axes[0]
    markers = [line for line in ax.get_lines() if line.get_gid() == "zero-marker"]
    assert len(markers) == 1 and len(markers[0].get_xdata()) == 2
    assert ax.get_ylim()[0] > 1e-6  # the axis spans the real values, not the clamp
    fig = rate_plot(X, y, y / 2, y * 2, None, None, xlabel="x", ylabel="y", title="t")
    _assert_no_clamp(fig)


def test_the_clamp_check_detects_a_clamped_zero():
    # negative control: plotting max(y, 1e-300) directly on a log axis is caught
    fig, ax = new_figure()
    ax.plot(X, np.maximum(np.array([1e-2, 0.0, 1e-3, 1e-4, 0.0]), 1e-300))
    ax.set_yscale("log")
    with pytest.raises(AssertionError):
        _assert_no_clamp(fig)


def test_an_experiment_plot_has_no_clamped_zeros(tmp_path, monkeypatch):
    from simulations.experiments import convex_class as cc

    config = cc.Config.quick()
    rng = np.random.default_rng(0)
    k = len(config.Ns)
    records = []
    for n in config.ns:
        for rep in range(3):  # coverage profiles that reach exactly 0 at large N, as on the real runs
            cov = np.sort(rng.uniform(0, 0.3, k))[::-1]
            cov[k // 2:] = 0.0
            records.append({"n": n, "cov": cov.tolist(), "kl": 0.1, "residual": 0.0, "converged": True,
                            "cell": 0, "rep": rep})
    figs = []
    real_save = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: figs.append(fig) or real_save(fig, path))
    paths = cc.plot(config, records, tmp_path)
    assert figs and len(paths) == len(figs)
    for fig, path in zip(figs, paths):
        assert path.exists() and path.with_suffix(".svg").exists()
        _assert_no_clamp(fig)
        assert any(line.get_gid() == "zero-marker" for line in fig.axes[0].get_lines())


def test_coinciding_curves_get_distinct_styles_and_say_so():
    y = 1 / X
    fig = line_plot(X, {"tournament": y, "min cross-entropy": y * (1 + 1e-6), "other": 3 / X},
                    xlabel="x", ylabel="y", title="t", logx=True, logy=True)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    hidden = lines["min cross-entropy (coincides with tournament)"]
    first = lines["tournament"]
    assert (hidden.get_linestyle(), hidden.get_marker()) != (first.get_linestyle(), first.get_marker())
    assert hidden.get_markerfacecolor() == "none"
    assert lines["other"].get_linestyle() == first.get_linestyle()  # a distinct curve keeps the default


def _major_labels(ax, axis):
    ax.figure.canvas.draw()
    a = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    return [t.get_text() for t in a.get_majorticklabels() if lo <= t.get_position()[0 if axis == "x" else 1] <= hi
            and t.get_text()]


def test_base_two_design_points_are_labelled_16_32_64():
    fig = line_plot(X, {"a": 1 / X}, xlabel="x", ylabel="y", title="t", logx=True, logy=True)
    assert _major_labels(fig.axes[0], "x") == ["16", "32", "64", "128", "256"]
    assert not any(t.get_text() for t in fig.axes[0].xaxis.get_minorticklabels())


def test_a_narrow_log_axis_has_several_plain_labels_and_no_minor_labels():
    x = np.array([300.0, 500.0, 800.0, 1500.0, 2900.0])
    fig = line_plot(x, {"a": np.array([0.11, 0.12, 0.12, 0.125, 0.13])}, xlabel="x", ylabel="y", title="t",
                    logx=True, logy=True)
    ax = fig.axes[0]
    for axis in ("x", "y"):
        labels = _major_labels(ax, axis)
        assert len(labels) >= 3, (axis, labels)
        assert all("10^" not in t for t in labels), labels
        minor = ax.xaxis if axis == "x" else ax.yaxis
        assert not any(t.get_text() for t in minor.get_minorticklabels())


def test_long_titles_are_wrapped_not_truncated(tmp_path):
    title = ("A deliberately long title with $\\mathrm{Cov}_N$ mathtext that would run off the right "
             "edge of a five-inch figure")
    fig = line_plot(X, {"a": X}, xlabel="x", ylabel="y", title=title, path=tmp_path / "t.png")
    text = fig.axes[0].get_title()
    assert "\n" in text and text.replace("\n", " ") == title
    fig.canvas.draw()
    bbox = fig.axes[0].title.get_window_extent()
    assert bbox.x0 >= 0 and bbox.x1 <= fig.bbox.x1


def test_upper_bounds_are_shaded_at_most_regions():
    fig = line_plot(X, {"measured": 0.5 / X}, upper={"at most $1/n$": 1 / X}, xlabel="x", ylabel="y",
                    title="t", logx=True, logy=True)
    ax = fig.axes[0]
    (poly,) = [c for c in ax.collections if c.get_label() == "at most $1/n$"]
    ys = poly.get_paths()[0].vertices[:, 1]
    assert np.isclose(ys.min(), ax.get_ylim()[0])  # shaded from the bound down to the axis edge
    assert "at most $1/n$" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_all_zero_series_on_a_log_axis_fall_back_to_a_linear_axis(tmp_path):
    from simulations.plots import line_plot, save_figure
    x = np.array([16.0, 32.0, 64.0])
    fig = line_plot(x, {"a": np.zeros(3), "b": np.zeros(3)}, xlabel="x", ylabel="y", title="t",
                    logx=True, logy=True)
    save_figure(fig, tmp_path / "zeros.png")              # drew without a log-locator error
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear"
    assert any("every value is 0" in t.get_text() for t in ax.texts)
    fig = line_plot(x, {"a": np.array([0.0, 1e-3, 1e-2])}, xlabel="x", ylabel="y", title="t",
                    logx=True, logy=True)
    assert fig.axes[0].get_yscale() == "log"              # one positive value keeps the log axis
