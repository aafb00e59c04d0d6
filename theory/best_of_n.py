r"""Best-of-N: exact Pass@N, the unbiased pass@k estimator and the coverage bounds.

Best-of-N sampling :math:`\hat\pi^{\mathrm{BoN}}_N` draws :math:`y^1, \dots, y^N` i.i.d.
from :math:`\hat\pi(\cdot|x)` and returns :math:`\arg\max_i r(x, y^i)` (Section 2 of
arXiv 2510.15020).  With a 0/1 reward and per-prompt success probability
:math:`q_x = \hat\pi(\{y : r(x, y) = 1\} \mid x)`,

.. math::

    \mathrm{Pass@}N(\hat\pi) = \mathbb E_{x\sim\mu}\left[1 - (1 - q_x)^N\right].

This module computes

* :func:`pass_at_n`, :func:`best_of_n_success`, :func:`best_of_n_expected_reward`: the exact
  Best-of-N success probability / expected reward of an enumerated model;
* :func:`pass_at_k`: the unbiased estimator of Chen et al. (2021) used by Yue et al.
  (arXiv 2504.13837);
* the coverage quantities of Props. F.6/F.7 (ICLR numbering) = D.6/D.7 (arXiv numbering):
  :func:`bon_sufficiency_bound`, :func:`bon_sufficient_n`, :func:`bon_necessity_reward`,
  :func:`bon_necessity_bound`, and two derived bounds, :func:`pass_at_n_coverage_bound` and
  :func:`deterministic_target_sandwich`.

Budgets ``N`` (and coverage thresholds ``M``) are validated as reals ``>= 1``; non-integer
``N`` gives the analytic continuation :math:`1 - (1-q)^N` of the formulas.  Everything is
computed in log space (``log1p``/``expm1``), vectorized over prompts and over arrays of ``N``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from .coverage import comparison_log_thresholds

from .validation import (as_finite_array, as_float_array, as_int_array,
                          check_log_probabilities, check_thresholds, check_weights,
                          readonly)

__all__ = [
    "pass_at_n",
    "pass_at_k",
    "best_of_n_success",
    "best_of_n_expected_reward",
    "bon_sufficiency_bound",
    "bon_sufficient_n",
    "bon_necessity_reward",
    "bon_necessity_bound",
    "pass_at_n_coverage_bound",
    "deterministic_target_sandwich",
]

# ----------------------------------------------------------------------------------------
# internal helpers (trust their inputs)
# ----------------------------------------------------------------------------------------

def _broadcast_shapes(names_and_arrays):
    """``np.broadcast_shapes`` with an error naming the arguments."""
    try:
        return np.broadcast_shapes(*(np.shape(a) for _, a in names_and_arrays))
    except ValueError:
        desc = ", ".join(f"`{n}` {np.shape(a)}" for n, a in names_and_arrays)
        raise ValueError(f"Shapes do not broadcast: {desc}.") from None


def _as_result(arr):
    """Read-only array; a 0-d result is returned as a NumPy scalar."""
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 0:
        return arr[()]
    return readonly(arr)


def _prompt_weights_iv(prompt_weights, n_prompts):
    if prompt_weights is None:
        return np.full(n_prompts, 1.0 / n_prompts)
    w = check_weights(prompt_weights, "prompt_weights", (n_prompts,))
    return w / w.sum()


def _fail_pow(log_fail, N):
    r"""``(1 - q)^N = exp(N log(1 - q))`` broadcasting ``N`` against ``log_fail``.

    ``log_fail`` and ``N`` broadcast elementwise.  ``0 * inf`` (``q = 0``, ``N = inf``) is
    resolved as ``(1 - 0)^inf = 1``.
    """
    with np.errstate(invalid="ignore"):
        t = N * log_fail
    t = np.where(log_fail == 0.0, 0.0, t)
    return np.exp(t)


#: Below this log success mass (:math:`q < 2^{-60}`), :math:`N\log(1-q)` is taken as
#: :math:`-e^{\log N + \log q}` (relative error :math:`q/2`), which stays exact when
#: :math:`q` underflows as a float (logits of ``-1e4``) and gives 1 at ``N = inf``.
_LOG_TINY = -60 * np.log(2.0)


def _fail_exponent(log_fail, N_exp, log_success=None):
    r""":math:`N\log(1-q)` broadcast; ``0 * inf`` (``q = 0``, ``N = inf``) is ``0``.

    With ``log_success`` (:math:`\log q`, same shape as ``log_fail``) a tiny :math:`q` is
    handled in log space, so a success mass below the smallest double still counts.
    """
    with np.errstate(invalid="ignore"):
        t = N_exp * log_fail
    t = np.where(log_fail == 0.0, 0.0, t)
    if log_success is not None:
        tiny = log_success < _LOG_TINY
        if tiny.any():
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                t_tiny = -np.exp(np.log(N_exp) + log_success)
            t = np.where(tiny, np.where(np.isneginf(log_success), 0.0, t_tiny), t)
    return t


def _success_from_log_fail(log_fail, N, weights, log_success=None):
    r"""Pass@N :math:`\sum_x w_x (1 - e^{N \log(1-q_x)})` for ``log_fail`` of shape ``L+(P,)``.

    Output shape ``broadcast(L, shape(N))``; ``log_success`` as in :func:`_fail_exponent`.
    """
    per_prompt = -np.expm1(_fail_exponent(log_fail, np.asarray(N)[..., None], log_success))
    out = per_prompt @ weights
    return np.clip(out, 0.0, 1.0)


def _log_fail_from_masses(log_success, log_failure):
    r"""Accurate :math:`\log(1 - q)` from the log success and log failure masses.

    For :math:`q < 1/2` ``log1p(-q)`` keeps tiny success masses (``q = 1e-300``); for
    :math:`q \ge 1/2` the failure mass itself is accurate (``1 - q = 1e-300``).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.exp(log_success)
        small = np.log1p(-np.minimum(q, 1.0))
    return np.where(q < 0.5, small, log_failure)


# ----------------------------------------------------------------------------------------
# Pass@N
# ----------------------------------------------------------------------------------------

def _pass_at_n_iv(success_prob, N, prompt_weights):
    q = as_finite_array(success_prob, "success_prob", min_ndim=1)
    if (q < 0).any() or (q > 1).any():
        raise ValueError(
            f"`success_prob` must lie in [0, 1], got range [{q.min()}, {q.max()}].")
    N = check_thresholds(N, "N")
    w = _prompt_weights_iv(prompt_weights, q.shape[-1])
    _broadcast_shapes([("success_prob[..., 0]", q[..., 0]), ("N", N)])
    return q, N, w


def pass_at_n(success_prob, N, *, prompt_weights=None):
    r"""Exact Pass@N from per-prompt success probabilities.

    .. math::

        \mathrm{Pass@}N = \sum_x \mu(x)\left[1 - (1 - q_x)^N\right]
                        = -\sum_x \mu(x)\,
                            \operatorname{expm1}\!\big(N \operatorname{log1p}(-q_x)\big).

    For a single prompt this is the formula used in Sec. 2 of arXiv 2510.15020 and by
    Chen et al. (arXiv 2502.07154); with a deterministic target it is the Pass@N of
    Figure 1 (App. D ICLR / App. C arXiv).

    Parameters
    ----------
    success_prob : (n_prompts,) or (..., n_prompts) array_like
        Per-prompt success probabilities :math:`q_x \in [0, 1]`.  Leading axes index
        independent models (e.g. checkpoints).
    N : float or array_like
        Best-of-N budgets, every entry ``>= 1`` (``inf`` allowed; non-integer values give
        the analytic continuation).  Any shape.
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution :math:`\mu` (sums to one).  Default: uniform.

    Returns
    -------
    float or ndarray
        Pass@N, shape ``np.broadcast_shapes(success_prob.shape[:-1], np.shape(N))`` (the
        leading axes of ``success_prob`` broadcast against the shape of ``N``; to get a
        grid use ``N[:, None]`` or add axes to ``success_prob``).  A NumPy scalar when
        that shape is ``()``.  Values in ``[0, 1]``, non-decreasing in ``N``.

    Notes
    -----
    ``q = 1`` gives exactly 1 (``log1p(-1) = -inf``); ``q = 1e-300`` with ``N = 1e300``
    gives :math:`1 - e^{-1}` without underflow, and ``N`` up to ``1e300`` (or ``inf``) is
    fine.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.best_of_n import pass_at_n
    >>> float(pass_at_n([0.5, 0.0], 2))           # (0.75 + 0) / 2
    0.375
    >>> pass_at_n([0.5, 0.0], [1, 2, 3], prompt_weights=[0.5, 0.5])
    array([0.25  , 0.375 , 0.4375])
    >>> round(float(pass_at_n([1e-300], 1e300)), 12)   # 1 - exp(-1)
    0.632120558829
    """
    q, N, w = _pass_at_n_iv(success_prob, N, prompt_weights)
    with np.errstate(divide="ignore"):
        log_fail = np.log1p(-q)
    return _as_result(_success_from_log_fail(log_fail, N, w))


# ----------------------------------------------------------------------------------------
# pass@k
# ----------------------------------------------------------------------------------------

def _pass_at_k_iv(n, c, k):
    n = as_int_array(n, "n", low=1)
    c = as_int_array(c, "c", low=0)
    k = as_int_array(k, "k", low=1)
    shape = _broadcast_shapes([("n", n), ("c", c), ("k", k)])
    n, c, k = (np.broadcast_to(a, shape) for a in (n, c, k))
    if (c > n).any():
        raise ValueError("`c` (number of correct samples) must be <= `n`, "
                         f"got c={c[c > n].flat[0]} with n={n[c > n].flat[0]}.")
    if (k > n).any():
        raise ValueError("`k` must be <= `n` (pass@k needs n >= k samples), "
                         f"got k={k[k > n].flat[0]} with n={n[k > n].flat[0]}.")
    return n, c, k, shape


def pass_at_k(n, c, k):
    r"""Unbiased pass@k estimator from ``n`` samples of which ``c`` are correct.

    .. math::

        \widehat{\mathrm{pass@}k} = 1 - \frac{\binom{n-c}{k}}{\binom{n}{k}}
          = 1 - \prod_{i=n-c+1}^{n}\Big(1 - \frac{k}{i}\Big)
          = 1 - \prod_{j=0}^{k-1}\Big(1 - \frac{c}{n-j}\Big),

    equal to 1 when :math:`n - c < k`.  Chen et al. (2021, HumanEval), as used by Yue et al.
    (arXiv 2504.13837); it is unbiased for :math:`1 - (1 - q)^k` when
    :math:`c \sim \mathrm{Bin}(n, q)`.  Averaging over problems gives the benchmark pass@k:
    a sample estimate of the Pass@N of Sec. 2 (:func:`pass_at_n`).

    Parameters
    ----------
    n : int or array_like of int
        Samples per problem, ``n >= 1`` (any size up to ``2**62``).
    c : int or array_like of int
        Correct samples, ``0 <= c <= n``.
    k : int or array_like of int
        Budget, ``1 <= k <= n``.

    Returns
    -------
    float or ndarray
        The estimate, shape ``np.broadcast_shapes(n.shape, c.shape, k.shape)`` (a NumPy
        scalar for scalar inputs).

    Notes
    -----
    The result is :math:`-\operatorname{expm1}(S)` with :math:`S = \log\binom{n-c}{k} -
    \log\binom{n}{k}`, at a cost of :math:`O(1)` time and memory per element whatever
    ``n``, ``c`` and ``k``.  With :math:`m = \min(c, k) \le 8` factors, :math:`S` is the sum
    :math:`\sum_{j<m}\operatorname{log1p}(-\max(c,k)/(n-j))` (terms of one sign, relative
    error :math:`O(m\epsilon)`).  Otherwise Stirling's series
    :math:`\log x! = x\log x - x + \tfrac12\log(2\pi x) + \delta(x)` is arranged so that
    no term is larger than the result: with :math:`d = n - c - k \ge 1`,

    .. math::

        S = (d + \tfrac12)\operatorname{log1p}\Big(\frac{ck}{nd}\Big)
            + k\operatorname{log1p}\Big(-\frac cn\Big) + c\operatorname{log1p}\Big(-\frac kn\Big)
            + \delta(n-c) + \delta(n-k) - \delta(d) - \delta(n)

    (the :math:`x\log x` and :math:`x` terms of the four factorials cancel exactly before
    any rounding; each of the three leading terms is of the size of :math:`ck/n`), and with
    :math:`d = 0`, :math:`S = -c\log(n/c) - k\log(n/k) + \tfrac12\log(2\pi ck/n) +
    \delta(c) + \delta(k) - \delta(n)`.  :math:`\delta` is the Stirling remainder
    (:func:`_stirling_remainder`).  Differences of ``gammaln`` values would instead lose
    all digits when :math:`S` is small and ``n`` large.

    Examples
    --------
    >>> from theory.best_of_n import pass_at_k
    >>> round(float(pass_at_k(10, 3, 2)), 12)      # 1 - C(7,2)/C(10,2) = 1 - 21/45
    0.533333333333
    >>> pass_at_k(10, [0, 3, 9], 2)                # n - c < k  ->  1
    array([0.        , 0.53333333, 1.        ])
    >>> float(pass_at_k(10**9, 10**8, 10**8))      # one number, O(1) memory
    1.0
    """
    n, c, k, shape = _pass_at_k_iv(n, c, k)
    n, c, k = n.ravel(), c.ravel(), k.ravel()
    out = np.ones(n.size)
    out[c == 0] = 0.0
    # Elements needing a formula: c > 0 and n - c >= k (otherwise exactly 0 or 1).
    active = np.flatnonzero((c > 0) & (n - c >= k))
    few = active[np.minimum(c[active], k[active]) <= _FEW_FACTORS]
    many = active[np.minimum(c[active], k[active]) > _FEW_FACTORS]
    if few.size:
        out[few] = -np.expm1(_log_ratio_product(n[few], c[few], k[few]))
    if many.size:
        out[many] = -np.expm1(_log_ratio_stirling(n[many], c[many], k[many]))
    return _as_result(out.reshape(shape))


#: Largest number of factors :math:`\min(c, k)` for which :func:`pass_at_k` sums the
#: ``log1p`` terms of the product directly (beyond it: Stirling's series).
_FEW_FACTORS = 8


def _log_ratio_product(n, c, k):
    r""":math:`\sum_{j<\min(c,k)}\operatorname{log1p}(-\max(c,k)/(n-j))`, for ``min(c, k) <= 8``."""
    m = np.minimum(c, k)
    a = np.maximum(c, k).astype(np.float64)
    total = np.zeros(n.size)
    for j in range(int(m.max(initial=0))):
        on = m > j
        total[on] += np.log1p(-a[on] / (n[on] - j).astype(np.float64))
    return total


def _stirling_remainder(x):
    r"""Stirling remainder :math:`\delta(x) = \log x! - x\log x + x - \tfrac12\log(2\pi x)`, ``x >= 1``.

    ``gammaln`` for :math:`x \le 15` (absolute error :math:`\sim 10^{-15}`, where the results
    that need it are of order one), else the asymptotic series
    :math:`\frac1{12x} - \frac1{360x^3} + \frac1{1260x^5} - \frac1{1680x^7} + \frac1{1188x^9}`
    (truncation error below :math:`10^{-16}\delta(x)` for :math:`x > 15`).
    """
    from scipy.special import gammaln

    x = np.asarray(x, dtype=np.float64)
    small = x <= 15
    xs = np.where(small, x, 1.0)
    exact = gammaln(xs + 1) - xs * np.log(xs) + xs - 0.5 * np.log(2 * np.pi * xs)
    xl = np.where(small, 16.0, x)
    r2 = 1.0 / (xl * xl)
    series = (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 / 1188)))) / xl
    return np.where(small, exact, series)


def _log_ratio_stirling(n, c, k):
    r""":math:`\log\binom{n-c}{k} - \log\binom{n}{k}` by the cancellation-free Stirling form of :func:`pass_at_k`."""
    d_int = n - c - k                                     # exact integer, >= 0
    nf, cf, kf, df = (a.astype(np.float64) for a in (n, c, k, d_int))
    out = np.empty(n.size)
    pos = d_int > 0
    if pos.any():
        nn, cc, kk, dd = nf[pos], cf[pos], kf[pos], df[pos]
        lead = ((dd + 0.5) * np.log1p(cc * kk / (nn * dd)) + kk * np.log1p(-cc / nn)
                + cc * np.log1p(-kk / nn))
        rem = (_stirling_remainder((n - c)[pos]) + _stirling_remainder((n - k)[pos])
               - _stirling_remainder(d_int[pos]) - _stirling_remainder(n[pos]))
        out[pos] = lead + rem
    zero = ~pos                                            # n = c + k
    if zero.any():
        nn, cc, kk = nf[zero], cf[zero], kf[zero]
        lead = -cc * np.log(nn / cc) - kk * np.log(nn / kk) + 0.5 * np.log(2 * np.pi * cc * kk / nn)
        rem = (_stirling_remainder(c[zero]) + _stirling_remainder(k[zero])
               - _stirling_remainder(n[zero]))
        out[zero] = lead + rem
    return np.minimum(out, 0.0)


# ----------------------------------------------------------------------------------------
# Best-of-N for enumerated models
# ----------------------------------------------------------------------------------------

def _bon_iv(log_probs, reward, N, prompt_weights, *, binary):
    lp = check_log_probabilities(log_probs, "log_probs", min_ndim=2)
    r = as_finite_array(reward, "reward")
    try:
        r = np.broadcast_to(r, lp.shape)
    except ValueError:
        raise ValueError(f"`reward` of shape {np.shape(reward)} must broadcast to the shape "
                         f"{lp.shape} of `log_probs`.") from None
    if binary:
        if not np.isin(r, (0.0, 1.0)).all():
            raise ValueError("`reward` must be 0/1 (use best_of_n_expected_reward for "
                             "rewards in [0, 1]).")
    elif (r < 0).any() or (r > 1).any():
        raise ValueError(f"`reward` must lie in [0, 1], got range [{r.min()}, {r.max()}].")
    N = check_thresholds(N, "N")
    _broadcast_shapes([("log_probs[..., 0, 0]", lp[..., 0, 0]), ("N", N)])
    w = _prompt_weights_iv(prompt_weights, lp.shape[-2])
    return lp, r, N, w


def best_of_n_success(log_probs, reward, N, *, prompt_weights=None):
    r"""Exact Best-of-N success probability of an enumerated model under a 0/1 reward.

    .. math::

        q_x = \sum_y \hat\pi(y|x)\, r(x, y), \qquad
        \mathbb E_{x\sim\mu}\big[r(x, \hat\pi^{\mathrm{BoN}}_N(x))\big]
          = \sum_x \mu(x)\left[1 - (1 - q_x)^N\right]
          = \mathrm{Pass@}N .

    The Best-of-N success of Sec. 2 whose gap to :math:`\pi_T` Props. F.6/F.7 (ICLR) /
    D.6/D.7 (arXiv) bound by coverage.

    Parameters
    ----------
    log_probs : (..., n_prompts, m) array_like
        :math:`\log\hat\pi(y|x)` over an enumerated support of ``m`` responses, normalized
        per prompt (``-inf`` allowed).  Leading axes index independent models.
    reward : array_like, broadcastable to ``log_probs.shape``
        0/1 reward :math:`r(x, y)`.
    N : float or array_like
        Budgets ``>= 1``, any shape.
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution :math:`\mu`; default uniform.

    Returns
    -------
    float or ndarray
        Shape ``np.broadcast_shapes(log_probs.shape[:-2], np.shape(N))``; see
        :func:`pass_at_n`.

    Notes
    -----
    :math:`\log(1 - q_x)` is taken from the failure mass (``logsumexp`` over
    :math:`r = 0`) when :math:`q_x \ge 1/2` and from ``log1p(-q_x)`` otherwise, so both tiny
    success and tiny failure masses are kept to full relative precision.  A success mass
    below :math:`2^{-60}` enters as :math:`N\log(1-q_x) = -e^{\log N + \log q_x}`, so it
    counts even when it underflows as a float: with logits of ``-1e4``,
    :math:`q_x = e^{-10^4} > 0` and Pass@``inf`` is 1.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.best_of_n import best_of_n_success
    >>> lp = np.log([[0.2, 0.8], [0.5, 0.5]])
    >>> r = [[1, 0], [0, 1]]                        # q = (0.2, 0.5)
    >>> best_of_n_success(lp, r, [1, 2]).round(6)   # mean of 1-(0.8)^N and 1-(0.5)^N
    array([0.35 , 0.555])
    """
    lp, r, N, w = _bon_iv(log_probs, reward, N, prompt_weights, binary=True)
    with np.errstate(divide="ignore"):
        log_s = logsumexp(np.where(r == 1.0, lp, -np.inf), axis=-1)
        log_f = logsumexp(np.where(r == 0.0, lp, -np.inf), axis=-1)
    log_fail = _log_fail_from_masses(log_s, log_f)
    return _as_result(_success_from_log_fail(log_fail, N, w, log_s))


def best_of_n_expected_reward(log_probs, reward, N, *, prompt_weights=None):
    r"""Exact expected reward of Best-of-N for a reward in :math:`[0, 1]`.

    With the responses of prompt :math:`x` sorted by reward,
    :math:`r_{(1)} \le \dots \le r_{(m)}`, :math:`r_{(0)} := 0` and
    :math:`F_x(r^-) = \hat\pi(r(x, Y) < r \mid x)`,

    .. math::

        \mathbb E\Big[\max_{i \le N} r(x, y^i)\Big]
          = \int_0^1 \mathbb P\big[\max_i r(x, y^i) \ge t\big]\, dt
          = \sum_{j=1}^{m} \big(r_{(j)} - r_{(j-1)}\big)\big(1 - F_x(r_{(j)}^-)^N\big),

    averaged over :math:`x \sim \mu`.  This is the BoN value
    :math:`\mathbb E_x[r_T(x, \hat\pi^{\mathrm{BoN}}_N(x))]` of Props. F.6/F.7 (ICLR) =
    D.6/D.7 (arXiv) for a reward in :math:`[0, 1]`; for a 0/1 reward it equals
    :func:`best_of_n_success`.

    Parameters
    ----------
    log_probs : (..., n_prompts, m) array_like
        Normalized log-probabilities of the model over an enumerated support.
    reward : array_like, broadcastable to ``log_probs.shape``
        Reward in :math:`[0, 1]`.
    N : float or array_like
        Budgets ``>= 1``, any shape.
    prompt_weights : (n_prompts,) array_like, optional
        Prompt distribution; default uniform.

    Returns
    -------
    float or ndarray
        Shape ``np.broadcast_shapes(log_probs.shape[:-2], np.shape(N))``.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.best_of_n import best_of_n_expected_reward
    >>> lp = np.log([[0.5, 0.5]])
    >>> # rewards 0.2 and 1.0: E[max of 2] = 0.2 + 0.8 * (1 - 0.5**2) = 0.8
    >>> round(float(best_of_n_expected_reward(lp, [[0.2, 1.0]], 2)), 12)
    0.8
    """
    lp, r, N, w = _bon_iv(log_probs, reward, N, prompt_weights, binary=False)
    order = np.argsort(r, axis=-1, kind="stable")
    r_s = np.take_along_axis(r, order, axis=-1)
    lp_s = np.take_along_axis(lp, order, axis=-1)
    p_s = np.exp(lp_s)
    # Mass strictly before position j (prefix) and from j on (tail), both by cumulative sums
    # in the direction that keeps the small one accurate; the tail also in log space.
    prefix = np.cumsum(p_s, axis=-1) - p_s
    tail = np.flip(np.cumsum(np.flip(p_s, -1), axis=-1), -1)
    with np.errstate(divide="ignore"):
        log_tail = np.flip(np.logaddexp.accumulate(np.flip(lp_s, -1), axis=-1), -1)
        log_below = np.where(tail < 0.5, np.log1p(-np.minimum(tail, 1.0)),
                             np.log(np.maximum(prefix, 0.0)))
    delta = np.diff(r_s, axis=-1, prepend=0.0)      # >= 0, sums to max reward
    t = _fail_exponent(log_below, np.asarray(N)[..., None, None], log_tail)
    per_prompt = np.sum(delta * -np.expm1(t), axis=-1)
    out = np.clip(per_prompt @ w, 0.0, 1.0)
    return _as_result(out)


# ----------------------------------------------------------------------------------------
# Props. F.6 / F.7 (ICLR) = D.6 / D.7 (arXiv) and derived bounds
# ----------------------------------------------------------------------------------------

def _prob_iv(value, name):
    arr = as_finite_array(value, name)
    if (arr < 0).any() or (arr > 1).any():
        raise ValueError(f"`{name}` must lie in [0, 1], got range [{arr.min()}, {arr.max()}].")
    return arr


def _positive_iv(value, name, *, below_one=False):
    arr = as_finite_array(value, name)
    if (arr <= 0).any():
        raise ValueError(f"`{name}` must be > 0, got minimum {arr.min()}.")
    if below_one and (arr >= 1).any():
        raise ValueError(f"`{name}` must be < 1, got maximum {arr.max()}.")
    return arr


def bon_sufficiency_bound(cov_M, epsilon):
    r"""Right-hand side of the Best-of-N sufficiency bound, :math:`\mathrm{Cov}_M + \varepsilon`.

    Prop. F.6 (ICLR) = Prop. D.6 (arXiv): let :math:`M \ge 1` and :math:`\varepsilon > 0`.
    **If** :math:`N \ge 2M\log(1/\varepsilon)` (see :func:`bon_sufficient_n`) **and**
    :math:`\mathrm{Cov}_M(\pi_T\|\hat\pi) \le 1/2`, then for every reward
    :math:`r_T \in [0, 1]`

    .. math::

        \mathbb E_{x\sim\mu}\big[r_T(x, \pi_T(x)) - r_T(x, \hat\pi^{\mathrm{BoN}}_N(x))\big]
          \le \mathrm{Cov}_M(\pi_T\|\hat\pi) + \varepsilon .

    The function only evaluates the right-hand side; it is a bound only when both
    conditions hold (they are not checked here, since ``N`` and ``M`` are not arguments).

    Parameters
    ----------
    cov_M : float or array_like
        :math:`\mathrm{Cov}_M(\pi_T\|\hat\pi) \in [0, 1]`.
    epsilon : float or array_like
        :math:`\varepsilon > 0`.

    Returns
    -------
    float or ndarray
        ``cov_M + epsilon`` broadcast (not clipped to 1).

    Examples
    --------
    >>> from theory.best_of_n import bon_sufficiency_bound
    >>> float(bon_sufficiency_bound(0.1, 0.01))
    0.11
    """
    cov = _prob_iv(cov_M, "cov_M")
    eps = _positive_iv(epsilon, "epsilon")
    _broadcast_shapes([("cov_M", cov), ("epsilon", eps)])
    return _as_result(cov + eps)


def bon_sufficient_n(M, epsilon):
    r"""Smallest Best-of-N budget allowed by Prop. F.6 (ICLR) = D.6 (arXiv).

    .. math::

        N_{\mathrm{suff}}(M, \varepsilon) = \left\lceil 2 M \log\frac{1}{\varepsilon} \right\rceil .

    Parameters
    ----------
    M : float or array_like
        Coverage threshold, ``>= 1``.
    epsilon : float or array_like
        Slack, ``0 < epsilon < 1``.

    Returns
    -------
    float or ndarray
        Broadcast shape of ``M`` and ``epsilon``; integral values stored as float64 (so
        that huge ``M`` do not overflow).

    Examples
    --------
    >>> from theory.best_of_n import bon_sufficient_n
    >>> float(bon_sufficient_n(10, 0.01))           # ceil(20 * 4.605...) = 93
    93.0
    """
    M = check_thresholds(M, "M")
    if np.isinf(M).any():
        raise ValueError("`M` must be finite.")
    eps = _positive_iv(epsilon, "epsilon", below_one=True)
    _broadcast_shapes([("M", M), ("epsilon", eps)])
    return _as_result(np.ceil(-2.0 * M * np.log(eps)))


def bon_necessity_reward(log_p_target, log_p_model, N):
    r"""Witness reward of Prop. F.7 (ICLR) = D.7 (arXiv), :math:`\mathbf 1\{\pi_T/\hat\pi \ge 2N\}`.

    .. math::

        r_T(x, y) = \mathbf 1\{y \in S_x\}, \qquad
        S_x = \Big\{y : \frac{\pi_T(y|x)}{\hat\pi(y|x)} \ge 2N\Big\}.

    For this reward Best-of-N succeeds on prompt :math:`x` with probability
    :math:`1 - (1 - \hat\pi(S_x|x))^N \le N\hat\pi(S_x|x) \le \tfrac12\pi_T(S_x|x)`, so its
    suboptimality against :math:`\pi_T` is at least
    :math:`\tfrac12\mathrm{Cov}_{2N}(\pi_T\|\hat\pi)`
    (:func:`bon_necessity_bound`).  The paper states it for :math:`N \ge 2`; the argument
    holds for every :math:`N \ge 1`.

    Parameters
    ----------
    log_p_target, log_p_model : array_like
        :math:`\log\pi_T(y|x)` and :math:`\log\hat\pi(y|x)` on the same points (broadcast;
        ``-inf`` allowed, e.g. ``(n_prompts, m)`` for an enumerated support).
    N : float or array_like
        Budgets ``>= 1``.

    Returns
    -------
    ndarray of int8
        0/1 reward of shape ``np.shape(N) + broadcast(log_p_target, log_p_model)``.  Points
        with :math:`\pi_T = 0` get reward 0; points with :math:`\hat\pi = 0 < \pi_T` get 1.
        The comparison is ``log_p_target - log_p_model >= log(2N)``, the ``>=`` convention of
        :func:`theory.coverage.coverage_profile`.

    Examples
    --------
    >>> import numpy as np
    >>> from theory.best_of_n import bon_necessity_reward
    >>> bon_necessity_reward(np.log([0.5, 0.5]), np.log([0.05, 0.95]), 2)   # ratios 10, 0.53
    array([1, 0], dtype=int8)
    """
    lt = as_float_array(log_p_target, "log_p_target", allow_posinf=False)
    lm = as_float_array(log_p_model, "log_p_model", allow_posinf=False)
    for name, arr in (("log_p_target", lt), ("log_p_model", lm)):
        if (arr > 1e-12).any():
            raise ValueError(f"`{name}` are log-probabilities and must be <= 0, "
                             f"got maximum {arr.max()}.")
    shape = _broadcast_shapes([("log_p_target", lt), ("log_p_model", lm)])
    N = check_thresholds(N, "N")
    with np.errstate(invalid="ignore"):
        lr = np.broadcast_to(lt, shape) - np.broadcast_to(lm, shape)
    lr = np.where(np.isneginf(lt), -np.inf, lr)  # pi_T = 0: never in S_x
    with np.errstate(over="ignore"):
        log_2n = comparison_log_thresholds(2.0 * N)   # the cut-off coverage_profile(., 2N) uses
    out = lr >= log_2n.reshape(log_2n.shape + (1,) * lr.ndim)
    return readonly(out.astype(np.int8))


def bon_necessity_bound(cov_2N):
    r"""Lower bound of Prop. F.7 (ICLR) = D.7 (arXiv), :math:`\tfrac12\mathrm{Cov}_{2N}`.

    .. math::

        \mathbb E_{x\sim\mu}\big[r_T(x, \pi_T(x)) - r_T(x, \hat\pi^{\mathrm{BoN}}_N(x))\big]
          \ge \tfrac12\,\mathrm{Cov}_{2N}(\pi_T\|\hat\pi)

    for the witness reward :func:`bon_necessity_reward`.

    Parameters
    ----------
    cov_2N : float or array_like
        :math:`\mathrm{Cov}_{2N}(\pi_T\|\hat\pi) \in [0, 1]`.

    Returns
    -------
    float or ndarray
        ``cov_2N / 2``, same shape.

    Examples
    --------
    >>> from theory.best_of_n import bon_necessity_bound
    >>> float(bon_necessity_bound(0.3))
    0.15
    """
    return _as_result(0.5 * _prob_iv(cov_2N, "cov_2N"))


def _cov_n_m_iv(cov_M, N, M):
    cov = _prob_iv(cov_M, "cov_M")
    N = check_thresholds(N, "N")
    M = check_thresholds(M, "M")
    _broadcast_shapes([("cov_M", cov), ("N", N), ("M", M)])
    return cov, N, M


def pass_at_n_coverage_bound(cov_M, N, M):
    r"""Derived sufficiency bound on the Best-of-N failure, :math:`\mathrm{Cov}_M + e^{-N/M}`.

    If :math:`r \in \{0, 1\}` and :math:`\pi_T` is supported on correct responses, then for
    every :math:`M \ge 1` (derived in the reference from Prop. F.6 ICLR = D.6 arXiv; not a
    numbered statement of the paper)

    .. math::

        1 - \mathrm{Pass@}N(\hat\pi) \le \mathrm{Cov}_M(\pi_T\|\hat\pi) + e^{-N/M}.

    Proof sketch: :math:`q_x \ge \pi_T(G_x|x)/M` with
    :math:`G_x = \{\pi_T/\hat\pi < M\}`, :math:`(1-q)^N \le e^{-Nq}`, and convexity of
    :math:`a \mapsto e^{-Na/M}` on :math:`[0, 1]`.  Choosing :math:`M = N/\ln(1/\varepsilon)`
    gives :math:`\mathrm{Cov}_{N/\ln(1/\varepsilon)} + \varepsilon`.  Applying the same
    argument to each level set :math:`\{r \ge t\}` and integrating over :math:`t` shows
    that, for any comparator :math:`\pi_T` and any reward in :math:`[0, 1]`, the BoN
    suboptimality :math:`\mathbb E_x[r(x, \pi_T(x)) - r(x, \hat\pi^{\mathrm{BoN}}_N(x))]`
    is also at most :math:`\mathrm{Cov}_M + e^{-N/M}`; with
    :math:`N \ge 2M\log(1/\varepsilon)` this recovers Prop. F.6 / D.6 (without needing
    :math:`\mathrm{Cov}_M \le 1/2`).

    Parameters
    ----------
    cov_M : float or array_like
        :math:`\mathrm{Cov}_M(\pi_T\|\hat\pi) \in [0, 1]`.
    N, M : float or array_like
        Budget and coverage threshold, both ``>= 1``.

    Returns
    -------
    float or ndarray
        Broadcast of the three arguments (not clipped to 1).

    Examples
    --------
    >>> from theory.best_of_n import pass_at_n_coverage_bound
    >>> round(float(pass_at_n_coverage_bound(0.1, 20, 10)), 6)   # 0.1 + e^{-2}
    0.235335
    """
    cov, N, M = _cov_n_m_iv(cov_M, N, M)
    with np.errstate(invalid="ignore"):
        ratio = N / M
    ratio = np.where(np.isnan(ratio), 1.0, ratio)   # inf / inf: the bound is cov + e^{-1}
    return _as_result(cov + np.exp(-ratio))


def deterministic_target_sandwich(cov_M, N, M):
    r"""Two-sided bound on :math:`1 - \mathrm{Pass@}N` for a deterministic target.

    With one target response :math:`y^\star(x)` per prompt (the Figure-1 fine-tuning
    setting, App. D ICLR / App. C arXiv), :math:`q_x = \hat\pi(y^\star(x)|x)`,
    :math:`\mathrm{Cov}_M(\pi_D\|\hat\pi) = P_x[q_x \le 1/M]` and (derived in the
    reference, companion of Props. F.6/F.7 ICLR = D.6/D.7 arXiv)

    .. math::

        \Big(1 - \frac1M\Big)^N \mathrm{Cov}_M
          \;\le\; 1 - \mathrm{Pass@}N \;\le\;
        \mathrm{Cov}_M + \Big(1 - \frac1M\Big)^N,

    with :math:`(1 - 1/M)^N = \exp(N\,\operatorname{log1p}(-1/M))`.

    Parameters
    ----------
    cov_M : float or array_like
        :math:`\mathrm{Cov}_M(\pi_D\|\hat\pi) \in [0, 1]`.
    N, M : float or array_like
        Budget and threshold, both ``>= 1``.

    Returns
    -------
    (lower, upper) : tuple of float or ndarray
        Bounds on :math:`1 - \mathrm{Pass@}N`, each of the broadcast shape of the
        arguments.

    Examples
    --------
    >>> from theory.best_of_n import deterministic_target_sandwich
    >>> lo, hi = deterministic_target_sandwich(0.5, 2, 2)   # (1 - 1/2)^2 = 0.25
    >>> float(lo), float(hi)
    (0.125, 0.75)
    """
    cov, N, M = _cov_n_m_iv(cov_M, N, M)
    with np.errstate(divide="ignore"):
        log_base = np.log1p(-1.0 / M)               # M = 1 -> -inf, M = inf -> 0
    factor = _fail_pow(log_base, N)
    return _as_result(factor * cov), _as_result(cov + factor)
