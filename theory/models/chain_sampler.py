r"""Inverse-CDF sampling along Markov chains: the token loop shared by every tabular sampler.

A chain in context row :math:`r` draws token
:math:`y = \#\{a < V-1 : F_r(a) \le u\}` from one uniform :math:`u`, where
:math:`F_r(a) = \sum_{b \le a} p_r(b)` is the next-token CDF of the row (the last entry,
:math:`F_r(V-1)`, is never compared: it is :math:`+\infty` by convention, which guards
against rounding).  Chain ``n`` at position ``h`` after token ``s`` (``s = V`` at the
start) reads row ``base[n] + h * row_step + s``.

Per position, the loop does four array operations on contiguous length-``N`` arrays: one
flat gather of the ``V - 1`` thresholds of every chain's row, one comparison with the
position's uniforms, one sum over the (leading) threshold axis and one index update.  The
uniforms are passed position-major (``(L, N)``), so each position reads one contiguous
row; samplers that draw them sequence-major transpose once per block of chains.

When numba is installed (the ``fast`` extra), :func:`compiled_kernel` returns a compiled
kernel that walks the chains directly in either layout (no transpose); it makes the same
comparisons, so the tokens are identical (``tests/unit/test_token_stream.py`` checks both
paths against a reference).  ``COVERAGE_PRINCIPLE_NUMBA=0`` disables it.
:func:`compiled_module` gives the whole kernel module, which also holds the kernels that
sample and count in one pass for one-pass SGD (:mod:`simulations.learners._sgd_loop`), one
of them stepping numpy's ``PCG64`` inline (:func:`pcg64_lanes` gives its state and jump
table, :func:`integer_thresholds` the CDF thresholds it compares with the uniforms' 53 bits).
"""

from __future__ import annotations

import functools
import os

import numpy as np

#: Infrastructure of the samplers (not user API): nothing is exported, so the fuzz battery and the
#: docstring rules of the public API do not apply; callers import the names explicitly.
__all__: list[str] = []

#: Environment variable that disables the compiled kernel when set to ``0``.
ENV_VAR = "COVERAGE_PRINCIPLE_NUMBA"

#: Fewest tokens per call for which the compiled kernel is used: importing numba and loading
#: the cached kernel cost about a second once per process, which small calls do not recover.
MIN_COMPILED_TOKENS = 1 << 17

_KERNEL = None                          # None: not looked up yet; False: unavailable


def compiled_module(n_tokens=None):
    """The module :mod:`theory.models._chain_numba` (numba kernels), or ``None``.

    ``None`` when numba is not installed, when the environment variable
    ``COVERAGE_PRINCIPLE_NUMBA`` is ``0``, when compilation fails, or when the call draws
    fewer than :data:`MIN_COMPILED_TOKENS` tokens (``n_tokens``).  Looked up once per
    process; numba is imported only here, so users without it (or with small calls) pay
    nothing.  Other compiled kernels of the package (the fused training loop) follow the
    same switch.

    Parameters
    ----------
    n_tokens : int, optional
        Number of tokens the call will draw; ``None`` asks only whether the kernels exist.

    Returns
    -------
    module or None
        :mod:`theory.models._chain_numba`, or ``None`` when the numpy path must be used.
    """
    global _KERNEL
    if os.environ.get(ENV_VAR, "1") == "0" or (n_tokens is not None and n_tokens < MIN_COMPILED_TOKENS):
        return None
    if _KERNEL is None:
        try:
            from . import _chain_numba
            _KERNEL = _chain_numba
        except Exception:                                   # not installed, or cannot compile
            _KERNEL = False
    return _KERNEL or None


def compiled_kernel(n_tokens=None):
    """The compiled chain kernel ``_chain_numba.chain_kernel``, or ``None`` (see :func:`compiled_module`).

    Parameters
    ----------
    n_tokens : int, optional
        Number of tokens the call will draw (small calls take the numpy path).

    Returns
    -------
    callable or None
        The kernel, with the signature of :func:`chain_tokens`, or ``None``.
    """
    mod = compiled_module(n_tokens)
    return None if mod is None else mod.chain_kernel


_MASK64 = (1 << 64) - 1
#: The LCG multiplier of numpy's ``PCG64``.
_PCG64_MULT = 0x2360ED051FC65DA44385DF649FCCF645


def _lcg_jump(steps, inc):
    """``(A, C)`` with ``state_{t + steps} = A state_t + C mod 2^128`` for ``PCG64``'s LCG."""
    acc_mult, acc_plus, mult, plus = 1, 0, _PCG64_MULT, inc
    while steps:
        if steps & 1:
            acc_mult = acc_mult * mult & ((1 << 128) - 1)
            acc_plus = (acc_plus * mult + plus) & ((1 << 128) - 1)
        plus = (mult + 1) * plus & ((1 << 128) - 1)
        mult = mult * mult & ((1 << 128) - 1)
        steps >>= 1
    return acc_mult, acc_plus


@functools.lru_cache(maxsize=64)
def _jump_table(length, inc, lanes):
    rows = [_lcg_jump(i * length, inc) for i in range(lanes)] + [_lcg_jump(lanes * length, inc)]
    return np.array([(a >> 64, a & _MASK64, c >> 64, c & _MASK64) for a, c in rows], dtype=np.uint64)


def pcg64_lanes(rng, length, lanes):
    """``(pcg, jumps)`` for :func:`theory.models._chain_numba.chain_counts_pcg_kernel`, or ``None``.

    ``None`` unless ``rng`` is a ``Generator`` on numpy's ``PCG64`` (the default): ``pcg`` its
    current state and increment, ``jumps`` the LCG advances by ``i * length`` (``i <
    lanes``) and ``lanes * length`` steps.  The caller advances ``rng.bit_generator`` by
    the number of doubles the kernel drew.

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator whose stream the kernel reproduces.
    length : int
        Doubles drawn per lane.
    lanes : int
        Number of independent lanes (chains stepped in registers).

    Returns
    -------
    tuple of ndarray or None
        ``(pcg, jumps)``, or ``None`` for a bit generator other than ``PCG64``.
    """
    bg = rng.bit_generator
    if type(bg) is not np.random.PCG64:
        return None
    st = bg.state["state"]
    s, inc = int(st["state"]), int(st["inc"])
    pcg = np.array([s >> 64, s & _MASK64, inc >> 64, inc & _MASK64], dtype=np.uint64)
    return pcg, _jump_table(int(length), inc, int(lanes))


def integer_thresholds(cdf):
    r"""CDF thresholds as integers for uniforms given by their 53 bits: ``(n_rows, V - 1)`` uint64.

    numpy's ``Generator.random`` returns :math:`u = m\,2^{-53}` with ``m`` the top 53 bits
    of a 64-bit output, an integer in :math:`[0, 2^{53})`.  For a threshold :math:`c`,
    :math:`c \le u \iff c\,2^{53} \le m \iff \lceil c\,2^{53}\rceil \le m` (scaling by a
    power of two is exact), so ``T = clip(ceil(c 2^53), 0, 2^53)`` (``2^53`` for ``NaN``
    and ``+inf``: never reached) gives ``T <= m`` exactly when ``c <= u``: the same tokens
    as the float comparison, without converting ``m`` to a double.

    Parameters
    ----------
    cdf : (..., V) float64 ndarray
        Next-token CDFs, one row per context (rows in C order).

    Returns
    -------
    (n_rows, V - 1) uint64 ndarray
        The first ``V - 1`` thresholds of every row (the last is never compared).
    """
    v = cdf.shape[-1]
    c = np.ceil(cdf.reshape(-1, v)[:, :-1] * 2.0 ** 53)
    np.fmin(c, 2.0 ** 53, out=c)                                        # NaN, inf -> 2^53
    np.maximum(c, 0.0, out=c)
    return c.astype(np.uint64)


def cdf_thresholds(cdf):
    """Thresholds ``(V - 1, n_rows)`` (C order) of a CDF table ``(..., V)`` (rows in C order).

    Parameters
    ----------
    cdf : (..., V) float64 ndarray
        Next-token CDFs, one row per context.

    Returns
    -------
    (V - 1, n_rows) float64 ndarray
        The first ``V - 1`` CDF values of every row, threshold-major (the last value is
        never compared).
    """
    v = cdf.shape[-1]
    return np.ascontiguousarray(cdf.reshape(-1, v)[:, :-1].T)


def chain_tokens(thresholds, base, u, out, *, prev=None, h0=0, row_step=0):
    """Fill ``out`` (``(L, N)``) with the tokens of positions ``h0 .. h0 + L - 1`` of ``N`` chains.

    Parameters
    ----------
    thresholds : (V - 1, n_rows) float64 ndarray
        From :func:`cdf_thresholds`.
    base : (N,) intp ndarray
        Row of each chain at position 0 after token 0.
    u : (L, N) float64 ndarray
        One uniform per chain and position, position-major.
    out : (L, N) integer ndarray
        Receives the tokens (``uint8`` or ``int64``).
    prev : (N,) integer ndarray, optional
        Tokens at position ``h0 - 1`` (default: begin of sequence, token ``V``).
    h0 : int
        Position of ``u[0]``.
    row_step : int
        Row offset per position (``0`` for a time-homogeneous table, else ``V + 1``).

    Returns
    -------
    (N,) ndarray
        The tokens at the last position (a view of ``out[-1]``), to pass as ``prev`` to
        the next block of positions.
    """
    n_thr, n = thresholds.shape[0], base.shape[0]
    if n_thr == 0:                                                    # V = 1
        out.fill(0)
        return out[-1] if len(out) else prev
    idx = np.empty(n, dtype=np.intp)
    t = np.empty((n_thr, n))
    hit = np.empty((n_thr, n), dtype=bool)
    for j in range(u.shape[0]):
        if prev is None:
            np.add(base, n_thr + 1, out=idx)                          # begin of sequence: s = V
        else:
            np.add(base, prev, out=idx)
        if row_step:
            idx += (h0 + j) * row_step
        # indices are in range; mode="clip" lets take write into `t` without a buffer copy
        np.take(thresholds, idx, axis=1, out=t, mode="clip")
        np.less_equal(t, u[j], out=hit)
        np.add.reduce(hit, axis=0, dtype=out.dtype, out=out[j])
        prev = out[j]
    return prev
