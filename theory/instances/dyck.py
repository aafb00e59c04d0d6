r"""A Dyck-language reference model with exact likelihoods and an exact :math:`V^\star`.

The generator is the random-walk Dyck generator of the VGB paper's Dyck experiment (the
``dyck_k2_0.2_0.8_m12_len32`` configuration of github.com/YuchenLi01/LM_Query_Complexity,
``src/dyck.py``): ``k`` bracket types opened with probabilities ``type_probs``; at a non-empty
stack the top is closed with probability ``pop_prob`` (forced to 1 when the stack depth equals
the remaining length or reaches ``max_depth``), otherwise a new bracket is opened; an empty
stack always opens.  That generator never errs, so we model an *imperfect* language model:

.. math::

    \pi_{\rm ref}(a \mid u) = (1-\eta)\,\pi_{\rm Dyck}(a \mid u) + \eta/(2k)

on prefixes that are still completable; once a prefix is broken (a close on an empty stack, a
mismatched close, depth above ``max_depth`` or above the remaining length) the model emits
uniformly random brackets.  The outcome is :math:`\tau(y) = 1` iff :math:`y` is a valid and
complete bounded Dyck word (balanced, matched types, depth at most ``max_depth``, length
``H``).  With :math:`\eta = 0` the model is the clean generator (then :math:`V^\star \equiv 1`
on every reachable prefix).

States
------
A valid prefix is summarised by ``(h, stack)`` (stack of bracket types, depth at most
``min(max_depth, H - h)``), a broken one by ``(h, d')`` with ``d'`` the type-blind depth
(#opens - #closes).  The automaton has about 6e4 states for the default configuration.
By symmetry of the noise over bracket types, :math:`V^\star` of a valid prefix depends only
on ``(h, depth)``: :func:`value_table` computes it by a two-index dynamic programme, an
independent check of :func:`theory.vgb.optimal_values` on the automaton.

Moved from ``simulations.samplers.dyck`` (that path still resolves, with a
``DeprecationWarning``): the model is deterministic (exact likelihoods, exact
:math:`V^\star`), so it belongs with the instances in :mod:`theory`; the samplers that run on
it stay in :mod:`simulations.samplers`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..validation import as_finite_array, as_int_array, check_int, check_real, readonly
from ..vgb import TreeAutomaton

__all__ = ["DyckSpec", "DyckModel", "dyck_model", "value_table", "is_valid_dyck",
           "log_likelihood", "type_blind_groups", "dyck_features", "decode"]


@dataclass(frozen=True)
class DyckSpec:
    r"""Parameters of the Dyck reference model of the VGB Dyck experiment (Fig. 1 of arXiv 2510.03149, as the reference notes report it).

    Attributes
    ----------
    num_types : int
        Bracket types ``k`` (tokens ``0..k-1`` open, ``k..2k-1`` close).
    type_probs : tuple of float
        Probability of each type when opening.
    pop_prob : float
        Probability of closing at a non-empty stack (before forcing).
    max_depth : int
        Maximum stack depth of a valid word (closing is forced there).
    length : int
        Response length ``H`` (even).
    noise : float
        :math:`\eta`: probability that a token is uniformly random instead.
    """

    num_types: int = 2
    type_probs: tuple = (0.2, 0.8)
    pop_prob: float = 0.5
    max_depth: int = 12
    length: int = 32
    noise: float = 0.1

    def __post_init__(self):
        k = check_int(self.num_types, "num_types", low=1)
        tp = tuple(float(x) for x in as_finite_array(self.type_probs, "type_probs", ndim=1))
        if len(tp) != k or min(tp) < 0 or not np.isclose(sum(tp), 1.0):
            raise ValueError("`type_probs` must be a probability vector of length `num_types`.")
        object.__setattr__(self, "type_probs", tp)
        check_real(self.pop_prob, "pop_prob", low=0, high=1, low_open=True, high_open=True)
        check_int(self.max_depth, "max_depth", low=1)
        H = check_int(self.length, "length", low=2)
        if H % 2:
            raise ValueError(f"`length` must be even, got {H}.")
        check_real(self.noise, "noise", low=0, high=1)

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True, eq=False)
class DyckModel:
    r"""The Dyck reference model as a :class:`~theory.vgb.TreeAutomaton`, with state metadata.

    The reference model :math:`\pi_{\rm ref}` and reward :math:`\tau` of the VGB Dyck experiment
    (Fig. 1 of arXiv 2510.03149, as the reference notes report it).

    Attributes
    ----------
    spec : DyckSpec
        Its parameters.
    automaton : TreeAutomaton
        :math:`\pi_{\rm ref}` and :math:`\tau` in finite-state form.
    valid : (S,) ndarray of bool
        Whether the state's prefixes are completable valid prefixes.
    stack_depth : (S,) ndarray of int
        Stack depth (valid states) or type-blind depth ``d'`` (broken states).
    top : (S,) ndarray of int
        Type on top of the stack (``-1`` when empty or broken).
    """

    spec: DyckSpec
    automaton: TreeAutomaton
    valid: np.ndarray
    stack_depth: np.ndarray
    top: np.ndarray

    @property
    def horizon(self):
        return self.automaton.horizon


def _spec_iv(spec):
    if spec is None:
        return DyckSpec()
    if not isinstance(spec, DyckSpec):
        raise TypeError(f"`spec` must be a DyckSpec, got {type(spec).__name__}.")
    return spec


def _model_iv(model):
    if not isinstance(model, DyckModel):
        raise TypeError(f"`model` must be a DyckModel, got {type(model).__name__}.")
    return model


def _tokens_iv(tokens, length, vocab_size, *, ndim=2):
    """Token rows ``(n, length)`` with entries in ``[0, vocab_size)`` (``ndim=None``: any leading shape)."""
    t = as_int_array(tokens, "tokens", low=0, high=vocab_size)
    if ndim is None:
        t = np.atleast_2d(t)
    if t.ndim != 2 or t.shape[1] != length:
        raise ValueError(f"`tokens` must have shape (n, {length}), got {t.shape}.")
    return t


def _clean_probs(spec, h, d, top):
    """Clean generator's next-token law at valid states (vectorised), shape (m, 2k)."""
    k = spec.num_types
    H = spec.length
    tp = np.asarray(spec.type_probs)
    m = h.size
    p = np.full(m, spec.pop_prob)
    p[(d >= spec.max_depth) | (d >= H - h)] = 1.0
    p[d == 0] = 0.0
    out = np.zeros((m, 2 * k))
    out[:, :k] = (1.0 - p)[:, None] * tp[None, :]
    rows = np.flatnonzero(d > 0)
    out[rows, k + top[rows]] = p[rows]
    return out


def dyck_model(spec=None):
    r"""Build the Dyck reference model (automaton over valid stacks and broken depths).

    The reference model of the VGB Dyck experiment
    (Fig. 1 of arXiv 2510.03149, as the reference notes report it).

    Parameters
    ----------
    spec : DyckSpec, optional
        Default ``DyckSpec()`` (2 types (0.2, 0.8), pop 0.5, max depth 12, length 32,
        noise 0.1).

    Returns
    -------
    DyckModel
        The automaton and its state metadata.

    Examples
    --------
    >>> m = dyck_model(DyckSpec(length=4, max_depth=2, noise=0.0))
    >>> from theory.vgb import optimal_values
    >>> float(optimal_values(m.automaton)[0])       # the clean generator is always valid
    1.0
    """
    spec = _spec_iv(spec)
    k, H, D = spec.num_types, spec.length, spec.max_depth
    V = 2 * k
    eta = spec.noise
    # per level: valid states as (d, code) with code the stack in base k (top = code % k)
    level_valid = [(np.array([0]), np.array([0]))]
    level_broken = [np.array([], dtype=np.int64)]
    trans = []  # per level: (n_valid, V) child index into next level's valid list or broken list
    for h in range(H):
        d, code = level_valid[-1]
        bd = level_broken[-1]
        top = np.where(d > 0, code % k, -1)
        cap = min(D, H - h - 1)
        # children of valid states
        cd = np.empty((d.size, V), dtype=np.int64)
        cc = np.zeros((d.size, V), dtype=np.int64)
        ok = np.zeros((d.size, V), dtype=bool)
        for t in range(k):
            cd[:, t] = d + 1
            cc[:, t] = code * k + t
            ok[:, t] = d + 1 <= cap
            cd[:, k + t] = d - 1
            cc[:, k + t] = code // k
            ok[:, k + t] = (d > 0) & (top == t)
        # children of broken states: type-blind depth
        bcd = np.concatenate([np.repeat(bd[:, None] + 1, k, axis=1),
                              np.repeat(bd[:, None] - 1, k, axis=1)], axis=1)
        bcd = np.clip(bcd, -H, H)
        # next level valid set
        key_valid = cd[ok] * 0 + _stack_key(cd[ok], cc[ok], k)
        uniq_valid, inv_valid = np.unique(key_valid, return_inverse=True)
        nd, ncode = _unkey(uniq_valid, k)
        broken_depths = np.concatenate([cd[~ok], bcd.ravel()])
        uniq_b, inv_b = np.unique(broken_depths, return_inverse=True)
        vchild = np.full((d.size, V), -1, dtype=np.int64)
        vchild[ok] = inv_valid
        bchild_valid = np.full((d.size, V), -1, dtype=np.int64)
        bchild_valid[~ok] = inv_b[:int((~ok).sum())]
        bchild_broken = inv_b[int((~ok).sum()):].reshape(bd.size, V)
        trans.append((vchild, bchild_valid, bchild_broken, d, top))
        level_valid.append((nd, ncode))
        level_broken.append(uniq_b)
    # global indexing: per level, valid states then broken states
    sizes = [lv[0].size + lb.size for lv, lb in zip(level_valid, level_broken)]
    offs = np.concatenate([[0], np.cumsum(sizes)])
    S = int(offs[-1])
    nxt = -np.ones((S, V), dtype=np.int64)
    lp = np.zeros((S, V))
    depth = np.zeros(S, dtype=np.int64)
    valid = np.zeros(S, dtype=bool)
    sdepth = np.zeros(S, dtype=np.int64)
    top_all = np.full(S, -1, dtype=np.int64)
    tau = np.zeros(S)
    for h in range(H + 1):
        nv = level_valid[h][0].size
        vidx = offs[h] + np.arange(nv)
        bidx = offs[h] + nv + np.arange(level_broken[h].size)
        depth[offs[h]:offs[h + 1]] = h
        valid[vidx] = True
        sdepth[vidx] = level_valid[h][0]
        sdepth[bidx] = level_broken[h]
        top_all[vidx] = np.where(level_valid[h][0] > 0, level_valid[h][1] % k, -1)
        if h == H:
            tau[vidx] = (level_valid[h][0] == 0).astype(float)
            continue
        vchild, bchild_valid, bchild_broken, d, top = trans[h]
        nv1 = level_valid[h + 1][0].size
        nxt[vidx] = np.where(vchild >= 0, offs[h + 1] + vchild, offs[h + 1] + nv1 + bchild_valid)
        nxt[bidx] = offs[h + 1] + nv1 + bchild_broken
        clean = _clean_probs(spec, np.full(nv, h), d, top)
        with np.errstate(divide="ignore"):
            lp[vidx] = np.log((1.0 - eta) * clean + eta / V)
        lp[bidx] = np.log(1.0 / V)
    aut = TreeAutomaton(next_state=nxt, log_probs=lp, depth=depth, tau=tau, horizon=H)
    return DyckModel(spec=spec, automaton=aut, valid=readonly(valid),
                     stack_depth=readonly(sdepth), top=readonly(top_all))


def _stack_key(d, code, k):
    # unique key over (depth, stack code): offset of depth d is sum_{j<d} k^j
    if k == 1:
        return d
    off = (k ** d - 1) // (k - 1)
    return off + code


def _unkey(key, k):
    if k == 1:
        return key.copy(), np.zeros_like(key)
    d = np.zeros_like(key)
    # find d with off(d) <= key < off(d+1)
    while True:
        nxt_off = (k ** (d + 1) - 1) // (k - 1)
        more = key >= nxt_off
        if not more.any():
            break
        d = d + more
    return d, key - (k ** d - 1) // (k - 1)


def value_table(spec=None):
    r""":math:`V^\star(h, d)` of a valid prefix of length ``h`` and stack depth ``d`` (exact DP).

    The ideal verifier :math:`V^\star_{\rm tilt}` of Assumptions 4.1/4.2 (VGB) for the Dyck model.

    By symmetry of the noise over bracket types, the probability of a valid completion
    depends on a valid prefix only through ``(h, d)``:

    .. math::

        V(H, d) = \mathbb 1[d = 0],\qquad
        V(h, d) = q_{\rm push}(h, d)\,V(h+1, d+1)\,\mathbb 1[d+1 \le c_h]
                  + q_{\rm pop}(h, d)\,V(h+1, d-1),

    with :math:`c_h = \min(D, H-h-1)`, :math:`q_{\rm push} = (1-\eta)(1-p) + \eta/2` and
    :math:`q_{\rm pop} = (1-\eta)p + \eta/(2k)` (``p`` the clean pop probability, 0 at
    ``d = 0``, where also :math:`q_{\rm pop} = 0`).

    Parameters
    ----------
    spec : DyckSpec, optional
        Default ``DyckSpec()``.

    Returns
    -------
    (H + 1, D + 1) ndarray
        Zero outside the valid range ``d <= min(D, H - h)``.

    Examples
    --------
    >>> V = value_table(DyckSpec(length=2, max_depth=1, noise=0.5, num_types=1, type_probs=(1.0,)))
    >>> float(V[0, 0])   # open w.p. (1-.5)*1+.5/2, then close w.p. .5*1+.5/2
    0.5625
    """
    spec = _spec_iv(spec)
    k, H, D, eta = spec.num_types, spec.length, spec.max_depth, spec.noise
    V = np.zeros((H + 1, D + 1))
    V[H, 0] = 1.0
    for h in range(H - 1, -1, -1):
        for d in range(0, min(D, H - h) + 1):
            if d == 0:
                p = 0.0
            elif d >= D or d >= H - h:
                p = 1.0
            else:
                p = spec.pop_prob
            q_push = (1 - eta) * (1 - p) + eta / 2
            q_pop = ((1 - eta) * p + eta / (2 * k)) if d > 0 else 0.0
            val = 0.0
            if d + 1 <= min(D, H - h - 1):
                val += q_push * V[h + 1, d + 1]
            if d > 0:
                val += q_pop * V[h + 1, d - 1]
            V[h, d] = val
    return V


def is_valid_dyck(tokens, spec=None):
    r"""Whether each row of ``tokens`` is a valid, complete bounded Dyck word (direct parse).

    The outcome reward :math:`\tau` of the VGB Dyck experiment
    (Fig. 1 of arXiv 2510.03149, as the reference notes report it).

    Parameters
    ----------
    tokens : (n, H) array_like of int
        Responses.
    spec : DyckSpec
        The language (length, types, maximum depth).

    Returns
    -------
    (n,) ndarray of bool
        ``True`` for valid complete words.

    Examples
    --------
    >>> s = DyckSpec(length=4)
    >>> is_valid_dyck([[0, 2, 1, 3], [0, 3, 1, 2], [0, 1, 3, 2]], s).tolist()
    [True, False, True]
    """
    spec = _spec_iv(spec)
    t = _tokens_iv(tokens, spec.length, 2 * spec.num_types)
    k, D = spec.num_types, spec.max_depth
    n, H = t.shape
    stack = np.zeros((n, H + 1), dtype=np.int64)
    d = np.zeros(n, dtype=np.int64)
    ok = np.ones(n, dtype=bool)
    rows = np.arange(n)
    for h in range(H):
        a = t[:, h]
        opn = a < k
        stack[rows[opn], d[opn]] = a[opn]
        d = np.where(opn, d + 1, d)
        ok &= ~(opn & (d > D))
        cls = ~opn
        top = stack[rows, np.maximum(d - 1, 0)]
        ok &= ~(cls & ((d == 0) | (top != a - k)))
        d = np.where(cls, np.maximum(d - 1, 0), d)
    return ok & (d == 0)


def log_likelihood(model, tokens):
    r"""Exact :math:`\log\pi_{\rm ref}(y)` of each row of ``tokens`` (walk through the automaton).

    The reference model of the VGB Dyck experiment
    (Fig. 1 of arXiv 2510.03149, as the reference notes report it).

    Parameters
    ----------
    model : DyckModel
        The reference model.
    tokens : (n, H) array_like of int
        Responses.

    Returns
    -------
    (n,) ndarray
        :math:`\log\pi_{\rm ref}(y)` (``-inf`` for impossible rows).

    Examples
    --------
    >>> m = dyck_model(DyckSpec(length=2, max_depth=1, noise=0.0))
    >>> float(np.exp(log_likelihood(m, [[1, 3]])[0]))   # open type 1 (0.8), forced close
    0.8
    """
    aut = _model_iv(model).automaton
    t = _tokens_iv(tokens, aut.horizon, aut.vocab_size)
    s = np.zeros(t.shape[0], dtype=np.int64)
    out = np.zeros(t.shape[0])
    for h in range(aut.horizon):
        out += aut.log_probs[s, t[:, h]]
        s = aut.next_state[s, t[:, h]]
    return out


def type_blind_groups(model):
    r"""Group id of each state by ``(h, d')`` (length and type-blind depth).

    A value function that is constant on these groups cannot see mismatched bracket types:
    the imperfect verifier of the Dyck frontier experiment (VGB Fig. 1 analogue).

    Parameters
    ----------
    model : DyckModel
        The reference model.

    Returns
    -------
    (S,) ndarray of int
        In ``[0, (H + 1)(2H + 1))``.

    Examples
    --------
    >>> type_blind_groups(dyck_model(DyckSpec(length=2, max_depth=1))).shape
    (8,)
    """
    H = _model_iv(model).horizon
    return model.automaton.depth * (2 * H + 1) + (model.stack_depth + H)


def dyck_features(model):
    r"""Small type-blind feature map for a parametric (logistic) value function, shape ``(S, 7)``.

    Columns: 1, :math:`h/H`, :math:`d'/H`, :math:`(d'/H)^2`, slack :math:`(H-h-d')/H`,
    :math:`\mathbb 1[d'<0]`, :math:`\mathbb 1[d' > \min(D, H-h)]`.  A learned type-blind verifier
    for the Dyck frontier experiment (VGB Fig. 1 analogue; the paper uses an MLP value head).

    Parameters
    ----------
    model : DyckModel
        The reference model.

    Returns
    -------
    (S, 7) ndarray
        Features of every automaton state.

    Examples
    --------
    >>> dyck_features(dyck_model(DyckSpec(length=2, max_depth=1))).shape
    (8, 7)
    """
    H = _model_iv(model).horizon
    h = model.automaton.depth.astype(float)
    d = model.stack_depth.astype(float)
    D = model.spec.max_depth
    return np.column_stack([np.ones_like(h), h / H, d / H, (d / H) ** 2, (H - h - d) / H,
                            (d < 0).astype(float), (d > np.minimum(D, H - h)).astype(float)])


def decode(tokens, spec=None):
    """Render token rows as bracket strings (``([{<`` / ``)]}>`` for up to four types).

    Parameters
    ----------
    tokens : (n, H) array_like of int
        Responses.
    spec : DyckSpec, optional
        Default ``DyckSpec()``.

    Returns
    -------
    list of str
        One bracket string per row.

    Examples
    --------
    >>> decode([[0, 1, 3, 2]], DyckSpec(length=4))
    ['([])']
    """
    spec = _spec_iv(spec)
    k = spec.num_types
    if k > 4:
        raise ValueError("decode supports at most 4 bracket types.")
    alphabet = "([{<"[:k] + ")]}>"[:k]
    t = _tokens_iv(tokens, spec.length, 2 * k, ndim=None)
    return ["".join(alphabet[int(a)] for a in row) for row in t]
