"""Rate fits and intervals used to accept or reject the paper's predictions.

* :func:`loglog_fit_draws` -- the same fit, also returning the bootstrap slopes (for power
  computations, see :mod:`simulations.claims`).
* :func:`loglog_fit` -- slope of ``log statistic(y | x)`` against ``log x`` with a stratified
  bootstrap interval (replicates resampled within each ``x``; vectorised, no loop over
  resamples) and Theil--Sen as a robust cross-check.
* :func:`binomial_interval` -- exact Clopper--Pearson interval, vectorised.
* :func:`bonferroni` -- per-assertion level/alpha for ``m`` simultaneous assertions.
* :func:`slope_test` -- the acceptance rule ``predicted in [ci_low - tol, ci_high + tol]``.
* :func:`bounded_mean_interval` -- Chernoff--Hoeffding (relative-entropy) confidence bounds for
  the mean of i.i.d. variables with a known range, and :func:`exceeds_bound`, the one-sided
  test "the mean is above a predicted upper bound" built on it (rate properties).

See ``../shared/reference/style-anchors.md`` section 4 for the recipe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from theory.validation import as_finite_array, check_int, check_real, check_rng
from theory.intervals import clopper_pearson

__all__ = ["RateFit", "loglog_fit", "loglog_fit_draws", "stratified_bootstrap", "binomial_interval", "bonferroni",
           "slope_test", "weighted_quantile", "bounded_mean_interval", "exceeds_bound"]


def _statistic_iv(statistic, q):
    """Validate the per-x summary (``"mean"`` or ``"quantile"`` with its level ``q``); return ``q``."""
    if statistic not in ("mean", "quantile"):
        raise ValueError(f"`statistic` must be 'mean' or 'quantile', got {statistic!r}.")
    if statistic == "quantile":
        if q is None:
            raise ValueError("`q` is required when `statistic` is 'quantile'.")
        return check_real(q, "q", low=0, high=1)
    elif q is not None:
        raise ValueError("`q` is only used with statistic='quantile'.")
    return q


@dataclass(frozen=True)
class RateFit:
    """Result of :func:`loglog_fit`.

    Attributes
    ----------
    slope, intercept : float
        OLS fit of ``log statistic`` on ``log x``: ``statistic ~ exp(intercept) * x**slope``.
    ci_low, ci_high : float
        Stratified-bootstrap percentile interval for ``slope`` at confidence ``level``.
    level : float
        Confidence level of both intervals.
    method : str
        Description of the fit and interval.
    n_points : int
        Number of ``x`` values used in the fit.
    theil_slope, theil_low, theil_high : float
        Theil--Sen slope and its interval (``scipy.stats.theilslopes``) on the same points.
    statistic : str
        ``"mean"`` or ``"quantile(q)"``.
    n_dropped : int
        Points dropped because their statistic was not positive (``nonpositive="drop"``).
    n_boot_invalid : int
        Bootstrap resamples discarded because a resampled statistic was not positive.
    """

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    level: float
    method: str
    n_points: int
    theil_slope: float
    theil_low: float
    theil_high: float
    statistic: str = "mean"
    n_dropped: int = 0
    n_boot_invalid: int = 0

    def to_dict(self):
        """Return a JSON-ready dict."""
        return asdict(self)


def _replicates_iv(x, y_replicates):
    """Return ``x`` (K,), padded replicates (K, R) with NaN padding, and counts (K,)."""
    x = as_finite_array(x, "x", ndim=1)
    if (x <= 0).any():
        raise ValueError(f"`x` must be positive for a log-log fit, got minimum {x.min()}.")
    if np.unique(x).size != x.size:
        raise ValueError("`x` must not contain repeated values (put replicates in `y_replicates`).")
    if isinstance(y_replicates, np.ndarray) and y_replicates.dtype != object:
        arr = as_finite_array(y_replicates, "y_replicates", ndim=2)
        rows = list(arr)
    else:
        try:
            rows = [as_finite_array(r, "y_replicates", ndim=1) for r in y_replicates]
        except TypeError:
            raise TypeError("`y_replicates` must be a 2-D array or a sequence of 1-D arrays.") from None
    if len(rows) != x.size:
        raise ValueError(f"`y_replicates` must have one row per `x` value ({x.size}), got {len(rows)}.")
    counts = np.array([r.size for r in rows])
    if counts.min() < 1:
        raise ValueError("`y_replicates` must have at least one replicate per `x` value.")
    padded = np.full((x.size, counts.max()), np.nan)
    for k, r in enumerate(rows):
        padded[k, :r.size] = r
    return x, padded, counts


def _reduce(values, statistic, q, axis=-1):
    """Mean or quantile along ``axis``, ignoring NaN padding."""
    if statistic == "mean":
        return np.nanmean(values, axis=axis)
    return np.nanquantile(values, q, axis=axis)


#: Cap on the elements of one (resamples, K, R) bootstrap block (about 32 MB of float64).
_BOOT_BLOCK_ELEMENTS = 4_000_000


def _stratified_bootstrap(data, counts, n_boot, statistic, q, rng):
    """Per-x statistic of ``n_boot`` stratified resamples, shape (n_boot, K).

    Resamples are drawn as whole ``(b, K, Rmax)`` index arrays (replicates drawn with
    replacement within each x, respecting each x's own count); only the memory cap splits
    them into a few blocks.
    """
    K, rmax = data.shape
    block = max(1, _BOOT_BLOCK_ELEMENTS // (K * rmax))
    valid_slot = np.arange(rmax)[None, None, :] < counts[None, :, None]
    rows = np.arange(K)[None, :, None]
    out = np.empty((n_boot, K))
    for start in range(0, n_boot, block):
        b = min(block, n_boot - start)
        idx = np.floor(rng.random((b, K, rmax)) * counts[None, :, None]).astype(np.intp)
        boot = np.where(valid_slot, data[rows, idx], np.nan)
        out[start:start + b] = _reduce(boot, statistic, q)
    return out


def _ols_slopes(lx, ly):
    """OLS slope and intercept of ``ly`` on ``lx`` along the last axis (vectorised)."""
    xc = lx - lx.mean(axis=-1, keepdims=True)
    yc = ly - ly.mean(axis=-1, keepdims=True)
    slope = (xc * yc).sum(axis=-1) / (xc * xc).sum(axis=-1)
    return slope, ly.mean(axis=-1) - slope * lx.mean(axis=-1)


def loglog_fit(x, y_replicates, *, level=0.95, n_boot=2000, rng, statistic="mean", q=None,
               nonpositive="raise"):
    """Fit ``statistic(y | x) ~ C x^slope`` on log-log axes with a stratified bootstrap CI.

    Parameters
    ----------
    x : (K,) array_like
        Positive, distinct design points (e.g. sample sizes ``n``), ``K >= 2``.
    y_replicates : (K, R) array_like or sequence of K 1-D arrays
        Replicates of the response at each ``x`` (ragged allowed).
    level : float
        Confidence level in (0, 1) of the bootstrap and Theil--Sen intervals.
    n_boot : int
        Number of bootstrap resamples (>= 100).
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Source of the bootstrap resampling.
    statistic : {"mean", "quantile"}
        Per-``x`` summary that the claim is about (fit the mean for claims on expectations).
    q : float, optional
        Quantile in (0, 1); required iff ``statistic == "quantile"``.
    nonpositive : {"raise", "drop"}
        What to do with points whose statistic is ``<= 0`` (no logarithm): raise a
        ``ValueError`` naming them, or drop them (counted in ``RateFit.n_dropped``).

    Returns
    -------
    RateFit

    Raises
    ------
    ValueError
        Bad shapes or values, fewer than two usable points, or more than ``(1 - level) / 2``
        of the bootstrap resamples having a non-positive statistic (the interval would then
        be unreliable).

    Notes
    -----
    With :math:`s_k` the statistic of the replicates at :math:`x_k`, the slope is the OLS
    coefficient of :math:`\\log s_k` on :math:`\\log x_k`.  Each bootstrap resample draws
    :math:`R_k` replicates with replacement *within* each :math:`x_k` (the design is kept),
    recomputes :math:`s_k^*` and refits; the interval is the percentile interval of the
    :math:`B` refitted slopes.  Resamples are vectorised as ``(B, K, R)`` index arrays
    (split into a few blocks only to cap memory); there is no loop over single resamples.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = np.array([64, 128, 256, 512, 1024])
    >>> y = n[:, None] ** -0.5 * rng.lognormal(0, 0.1, size=(5, 40))
    >>> fit = loglog_fit(n, y, rng=rng)
    >>> bool(fit.ci_low < -0.5 < fit.ci_high)
    True
    """
    return loglog_fit_draws(x, y_replicates, level=level, n_boot=n_boot, rng=rng,
                            statistic=statistic, q=q, nonpositive=nonpositive)[0]


def loglog_fit_draws(x, y_replicates, *, level=0.95, n_boot=2000, rng, statistic="mean", q=None,
                     nonpositive="raise"):
    """:func:`loglog_fit` that also returns the bootstrap slopes.

    Parameters
    ----------
    x, y_replicates, level, n_boot, rng, statistic, q, nonpositive
        As in :func:`loglog_fit` (same validation, same use of ``rng``).

    Returns
    -------
    fit : RateFit
        Identical to ``loglog_fit(...)`` with the same arguments and generator state.
    draws : (B',) ndarray
        The refitted slopes of the valid bootstrap resamples (``B' = n_boot -
        fit.n_boot_invalid``), from which ``fit.ci_low``/``fit.ci_high`` are quantiles.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = np.array([64, 128, 256, 512])
    >>> fit, draws = loglog_fit_draws(n, n[:, None] ** -1.0 * rng.lognormal(0, 0.1, (4, 30)), rng=rng)
    >>> draws.shape, bool(abs(fit.slope + 1) < 0.1)
    ((2000,), True)
    """
    rng = check_rng(rng)
    level = check_real(level, "level", low=0, high=1, low_open=True, high_open=True)
    n_boot = check_int(n_boot, "n_boot", low=100)
    q = _statistic_iv(statistic, q)
    if nonpositive not in ("raise", "drop"):
        raise ValueError(f"`nonpositive` must be 'raise' or 'drop', got {nonpositive!r}.")
    x, data, counts = _replicates_iv(x, y_replicates)

    stat = _reduce(data, statistic, q)
    bad = stat <= 0
    if bad.any() and nonpositive == "raise":
        raise ValueError(
            f"`y_replicates`: the {statistic} is <= 0 at x = {x[bad].tolist()}, so its "
            "logarithm is undefined; pass nonpositive='drop' to fit the remaining points.")
    keep = ~bad
    if keep.sum() < 2:
        raise ValueError(f"need at least 2 points with a positive {statistic}, got {keep.sum()}.")
    x, data, counts, stat = x[keep], data[keep], counts[keep], stat[keep]
    lx, ly = np.log(x), np.log(stat)
    slope, intercept = _ols_slopes(lx, ly)

    boot_stat = _stratified_bootstrap(data, counts, n_boot, statistic, q, rng)
    valid = (boot_stat > 0).all(axis=-1)
    n_invalid = int((~valid).sum())
    alpha = 1.0 - level
    if n_invalid > alpha / 2 * n_boot:
        raise ValueError(
            f"{n_invalid} of {n_boot} bootstrap resamples have a {statistic} <= 0 at some x; "
            "the interval would be unreliable (add replicates or drop the near-zero points).")
    boot_slopes, _ = _ols_slopes(lx, np.log(boot_stat[valid]))
    ci_low, ci_high = np.quantile(boot_slopes, [alpha / 2, 1 - alpha / 2])

    if x.size >= 3:
        theil = stats.theilslopes(ly, lx, alpha=level)
        t_slope, t_low, t_high = float(theil.slope), float(theil.low_slope), float(theil.high_slope)
    else:
        t_slope, t_low, t_high = float(slope), float("nan"), float("nan")
    name = "mean" if statistic == "mean" else f"quantile({q:g})"
    return RateFit(
        slope=float(slope), intercept=float(intercept), ci_low=float(ci_low),
        ci_high=float(ci_high), level=level,
        method=f"OLS on log-log of per-x {name}; stratified bootstrap percentile CI (B={n_boot})",
        n_points=int(x.size), theil_slope=t_slope, theil_low=t_low, theil_high=t_high,
        statistic=name, n_dropped=int(bad.sum()), n_boot_invalid=n_invalid), boot_slopes


def stratified_bootstrap(y_replicates, *, n_boot=2000, rng, statistic="mean", q=None):
    """Per-group statistic of ``n_boot`` stratified bootstrap resamples.

    Parameters
    ----------
    y_replicates : (K, R) array_like or sequence of K 1-D arrays
        Replicates of each of ``K`` groups (ragged allowed); each group is resampled with
        replacement within itself (the design is kept), as in :func:`loglog_fit`.
    n_boot : int
        Number of resamples (>= 100).
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
    statistic : {"mean", "quantile"}
    q : float, optional
        Quantile in (0, 1); required iff ``statistic == "quantile"``.

    Returns
    -------
    point : (K,) ndarray
        The statistic of each group on the data.
    draws : (n_boot, K) ndarray
        The statistic of each group on each resample.

    Examples
    --------
    >>> point, draws = stratified_bootstrap([[1.0, 2.0, 3.0], [5.0, 5.0]], rng=np.random.default_rng(0))
    >>> point.tolist(), draws.shape, bool((draws[:, 1] == 5).all())
    ([2.0, 5.0], (2000, 2), True)
    """
    rng = check_rng(rng)
    n_boot = check_int(n_boot, "n_boot", low=100)
    q = _statistic_iv(statistic, q)
    try:
        k = len(y_replicates)
    except TypeError:
        raise TypeError("`y_replicates` must be a 2-D array or a sequence of 1-D arrays.") from None
    _, data, counts = _replicates_iv(np.arange(1.0, k + 1.0), y_replicates)
    return _reduce(data, statistic, q), _stratified_bootstrap(data, counts, n_boot, statistic, q, rng)


def binomial_interval(k, n, *, level=0.95):
    """Exact Clopper--Pearson interval; see :func:`theory.intervals.clopper_pearson`.

    Examples
    --------
    >>> lo, hi = binomial_interval(0, 10, level=0.95)
    >>> float(lo), round(float(hi), 4)
    (0.0, 0.3085)
    """
    return clopper_pearson(k, n, level=level)


def bonferroni(level_or_alpha, m):
    """Per-assertion level (or alpha) for ``m`` simultaneous assertions.

    Parameters
    ----------
    level_or_alpha : float
        A family-wise *confidence level* when in ``[0.5, 1)`` (e.g. 0.95), or a family-wise
        *false-fail rate* ``alpha`` when in ``(0, 0.5)`` (e.g. 1e-4).  The return value is of
        the same kind.
    m : int
        Number of assertions (>= 1).

    Returns
    -------
    float
        ``1 - (1 - level) / m`` for a level, ``alpha / m`` for an alpha.

    Examples
    --------
    >>> round(bonferroni(0.95, 5), 6), bonferroni(1e-4, 4)
    (0.99, 2.5e-05)
    """
    value = check_real(level_or_alpha, "level_or_alpha", low=0, high=1, low_open=True,
                       high_open=True)
    m = check_int(m, "m", low=1)
    if value >= 0.5:
        return 1.0 - (1.0 - value) / m
    return value / m


def slope_test(fit, predicted, tol=0.0):
    """Acceptance rule for a rate: ``predicted in [fit.ci_low - tol, fit.ci_high + tol]``.

    Parameters
    ----------
    fit : RateFit
    predicted : float
        The theorem's exponent.
    tol : float
        Non-negative slack absorbing known finite-``n`` corrections (state it in the claim).

    Returns
    -------
    bool
    """
    if not isinstance(fit, RateFit):
        raise TypeError(f"`fit` must be a RateFit, got {type(fit).__name__}.")
    predicted = check_real(predicted, "predicted")
    tol = check_real(tol, "tol", low=0)
    return bool(fit.ci_low - tol <= predicted <= fit.ci_high + tol)


def weighted_quantile(values, weights, q):
    r"""Quantile of a discrete law along the last axis: :math:`\inf\{c : P[X \le c] \ge q\}`.

    Parameters
    ----------
    values : (..., m) array_like
        Support points (any order).
    weights : (..., m) array_like
        Non-negative probabilities (normalised along the last axis here).
    q : float
        Level in (0, 1].  The cumulative probability is compared with ``q - 1e-12`` so that
        rounding in the weights cannot skip an atom.

    Returns
    -------
    ndarray
        Shape ``values.shape[:-1]``.

    Examples
    --------
    >>> float(weighted_quantile([0.0, 1.0, 2.0], [0.5, 0.3, 0.2], 0.8))
    1.0
    """
    v = as_finite_array(values, "values", min_ndim=1)
    w = as_finite_array(weights, "weights", min_ndim=1)
    if w.shape != v.shape:
        raise ValueError(f"`weights` must have the shape of `values` {v.shape}, got {w.shape}.")
    if (w < 0).any():
        raise ValueError("`weights` must be non-negative.")
    q = check_real(q, "q", low=0.0, high=1.0, low_open=True)
    total = w.sum(axis=-1, keepdims=True)
    if (total <= 0).any():
        raise ValueError("`weights` must have positive total mass along the last axis.")
    order = np.argsort(v, axis=-1, kind="stable")
    sv = np.take_along_axis(v, order, axis=-1)
    cdf = np.cumsum(np.take_along_axis(w, order, axis=-1), axis=-1) / total
    idx = np.minimum((cdf < q - 1e-12).sum(axis=-1), v.shape[-1] - 1)
    return np.take_along_axis(sv, idx[..., None], axis=-1)[..., 0]



def _bernoulli_kl(a, b):
    """kl(a || b) of Bernoulli laws, elementwise, with 0 log 0 = 0 (``b`` in (0, 1))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(a > 0, a * np.log(a / b), 0.0)
        t2 = np.where(a < 1, (1 - a) * np.log((1 - a) / (1 - b)), 0.0)
    return t1 + t2


def bounded_mean_interval(values, *, low=0.0, high=1.0, level=0.95, alternative="two-sided"):
    r"""Chernoff--Hoeffding confidence bounds for the mean of i.i.d. variables in ``[low, high]``.

    With :math:`\bar x` the sample mean of ``n`` values rescaled to ``[0, 1]`` and
    :math:`\mathrm{kl}` the Bernoulli relative entropy, Hoeffding's (1963) inequality
    :math:`P[\bar x \ge \mu + t] \le e^{-n\,\mathrm{kl}(\mu+t\,\|\,\mu)}` (and its mirror)
    holds for *any* law on ``[0, 1]`` with mean :math:`\mu` (the Bernoulli law is extremal),
    so

    .. math::

        \mathrm{lo} = \inf\{m \le \bar x : n\,\mathrm{kl}(\bar x\|m) \le \log(1/\alpha)\},\qquad
        \mathrm{hi} = \sup\{m \ge \bar x : n\,\mathrm{kl}(\bar x\|m) \le \log(1/\alpha)\}

    satisfy :math:`P[\mathrm{lo} > \mu] \le \alpha` and :math:`P[\mathrm{hi} < \mu] \le \alpha`,
    with :math:`\alpha = 1 -` ``level`` for a one-sided bound and :math:`(1-` ``level``:math:`)/2`
    per side for a two-sided interval.  Conservative for every law (exact only for
    Bernoulli-like extremes); no normal approximation.

    Parameters
    ----------
    values : (..., n) array_like
        i.i.d. values along the last axis, within ``[low, high]``.
    low, high : float
        Known range (``low < high``).
    level : float
        Confidence level in (0, 1).
    alternative : {"two-sided", "greater", "less"}
        ``"greater"``: only the lower bound (``hi = high``), for "the mean is above";
        ``"less"``: only the upper bound (``lo = low``).

    Returns
    -------
    lo, hi : float or ndarray
        Shape ``values.shape[:-1]``.

    Examples
    --------
    >>> lo, hi = bounded_mean_interval(np.r_[np.ones(30), np.zeros(70)], level=0.95)
    >>> bool(lo < 0.3 < hi), round(float(lo), 3), round(float(hi), 3)
    (True, 0.187, 0.432)
    """
    x = as_finite_array(values, "values", min_ndim=1)
    low = check_real(low, "low")
    high = check_real(high, "high")
    if not low < high:
        raise ValueError(f"`low` must be < `high`, got {low} and {high}.")
    if (x < low).any() or (x > high).any():
        raise ValueError(f"`values` must lie in [`low`, `high`] = [{low}, {high}].")
    level = check_real(level, "level", low=0, high=1, low_open=True, high_open=True)
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"`alternative` must be 'two-sided', 'greater' or 'less', got {alternative!r}.")
    n = x.shape[-1]
    mean = ((x - low) / (high - low)).mean(axis=-1)
    alpha = (1.0 - level) / (2.0 if alternative == "two-sided" else 1.0)
    budget = np.log(1.0 / alpha) / n

    def invert(a, b):                       # bisection on m between a (kl = 0) and b (kl large)
        for _ in range(64):
            m = 0.5 * (a + b)
            inside = _bernoulli_kl(mean, np.clip(m, 1e-300, 1 - 1e-16)) <= budget
            a, b = np.where(inside, m, a), np.where(inside, b, m)
        return a

    lo = np.zeros_like(mean) if alternative == "less" else invert(mean, np.zeros_like(mean))
    hi = np.ones_like(mean) if alternative == "greater" else invert(mean, np.ones_like(mean))
    lo, hi = low + (high - low) * lo, low + (high - low) * hi
    if np.ndim(lo) == 0:
        return float(lo), float(hi)
    return lo, hi


def exceeds_bound(values, bound, *, alpha, clip=2.0):
    r"""One-sided test that the mean of i.i.d. non-negative values exceeds a predicted upper ``bound``.

    The rate properties check statements of the form :math:`\mathbb E X \le b` (``b`` a
    predicted bound, ``X >= 0`` one replicate's value).  The values are clipped at
    ``clip * b``: :math:`\mathbb E\min(X, cb) \le \mathbb E X`, so a rejection of
    :math:`\mathbb E\min(X, cb) \le b` is a rejection of :math:`\mathbb E X \le b`, and the
    clipped values have the known range ``[0, c b]`` that :func:`bounded_mean_interval` needs
    (no range assumption on ``X``).  Rejects iff the one-sided Chernoff--Hoeffding lower
    confidence bound of :math:`\mathbb E\min(X, cb)` at level ``1 - alpha`` is above ``b``.

    Parameters
    ----------
    values : (n,) array_like
        Non-negative i.i.d. replicate values.
    bound : float
        The predicted upper bound ``b > 0`` (``b = 0`` rejects iff some value is positive,
        which has probability zero under :math:`\mathbb E X \le 0`).
    alpha : float
        False-fail probability when :math:`\mathbb E X \le b` (in ``(0, 1)``).
    clip : float
        ``c > 1``.  With ``c = 2`` a sample whose every value is at least ``2b`` is
        rejected once :math:`n\log 2 \ge \log(1/\alpha)`.

    Returns
    -------
    bool
        ``True`` when the data reject :math:`\mathbb E X \le b` (false-fail probability
        ``<= alpha``).

    Examples
    --------
    >>> exceeds_bound(np.full(20, 3.0), 1.0, alpha=1e-5), exceeds_bound(np.full(20, 0.9), 1.0, alpha=1e-5)
    (True, False)
    """
    x = as_finite_array(values, "values", ndim=1)
    if (x < 0).any():
        raise ValueError("`values` must be non-negative.")
    bound = check_real(bound, "bound", low=0.0)
    alpha = check_real(alpha, "alpha", low=0, high=1, low_open=True, high_open=True)
    clip = check_real(clip, "clip", low=1.0, low_open=True)
    if bound == 0:
        return bool((x > 0).any())
    cap = clip * bound
    lo, _ = bounded_mean_interval(np.minimum(x, cap), low=0.0, high=cap, level=1.0 - alpha,
                                  alternative="greater")
    return bool(lo > bound)
