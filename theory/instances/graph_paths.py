r"""The layered-graph path task of Figures 1 and 2 (App. D ICLR / App. C arXiv), exactly.

**Graph** (Section 7.1 of the reference notes).  A layered DAG with layers
:math:`V_1=\{s\}, V_2, \dots, V_{L+1}, V_{L+2}=\{t\}`; each intermediate layer has ``width``
(4 in the paper) nodes with distinct integer ids; a node is *passable* if it has out-edges,
and passable nodes connect to every node of the next layer.  A valid path
:math:`(s, v_2, \dots, v_{L+1}, t)` goes through passable nodes only.  The parity of a node
is :math:`p(v) = \mathrm{id}(v) \bmod 2`, the parity of layer :math:`i` is :math:`p(i) = i
\bmod 2` (paper indexing, intermediate layers :math:`i = 2..L+1`).

**Autoregressive model over node tokens.**  A prompt is a graph instance, identified by its
index ``x`` (its edge list, :math:`s` and :math:`t` are what the model may see).  The
response is the sequence of intermediate nodes, token :math:`y_h \in \{0..\text{width}-1\}`
= the *slot* of the node chosen in intermediate layer :math:`h` (0-based,
:math:`i = h + 2`); :math:`s` and :math:`t` are copied from the prompt and carry no
information, so they are not part of the response.  The horizon is ``H = L``.

**Classes.**  Each prompt belongs to a class :math:`G_c` with weight :math:`w_c`; a class
fixes how many layers have two passable nodes (one even, one odd id; the other layers have
one) and the rule :math:`\pi_D` uses in those layers:

* ``"match"``: the passable node with :math:`p(v) = p(i)` (:math:`G_1` of Figure 1);
* ``"mismatch"``: :math:`p(v) = 1 \oplus p(i)` (:math:`G_2` of Figure 1);
* ``"uniform"``: 1/2 on each passable node (:math:`G_3` of Figure 1's pre-training
  mixture, :math:`G_{H,3}` of Figure 2);
* ``"global_parity"``: :math:`p(v) = p(i) \oplus \bigoplus_{u\in V_*} p(u)`, :math:`V_*`
  the passable nodes of all intermediate layers (:math:`G_{H,2}` of Figure 2).

In Figure 1 the class of a prompt is identifiable only through the parity of a hidden fixed
half :math:`V'` of the node-id space, :math:`\bigoplus_{u\in V'} p(u) = 1` for :math:`G_1`
and 0 for :math:`G_2`; this is implemented literally (instances are drawn and assigned to
the class their hidden parity dictates).  No feature of the linear model depends on node
ids beyond the parity of passable nodes of the current layer, so neither hidden parity can
be computed by it: the rare class cannot be identified.

**Prompt distribution.**  Each class has ``prompts_per_class`` instances and
:math:`\mu(x) = w_c / |G_c|` for :math:`x \in G_c`, so class masses are exactly
:math:`w_c`; "exact" evaluation is relative to this finite prompt set (the paper evaluates
on 1024 validation prompts per class, weighted the same way).

**Exact evaluation.**  The support of :math:`\pi_D(\cdot|x)` is small (1, 4 or 16 paths)
even when :math:`V^H` is not, so KL, coverage and Pass@N are computed exactly by
enumerating it (:func:`support_log_ratio`, :func:`success_probability`); the KL also
follows by dynamic programming (:func:`theory.log_ratio.markov_kl`).

**Linear model** (:class:`~theory.models.TabularFeatures`): feature groups

* ``"passable"``: :math:`\mathbf 1\{v \text{ passable}\}`;
* ``"parity"``: :math:`\mathbf 1\{\text{layer has two passable nodes},\ v \text{ passable},\
  p(v) = p(i)\}` (the :math:`G_1` rule is linear in it);
* ``"layer_prev_cand"``: one-hot of (position, previous slot, candidate slot);
* ``"prev_cand"``: one-hot of (previous slot, candidate slot).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..validation import check_allocation, check_int, check_real, readonly
from ..best_of_n import pass_at_n
from ..log_ratio import LogRatioLaw
from ..models import AutoregressiveLinearModel, MarkovModel, TabularFeatures
from ._base import Instance

__all__ = [
    "GraphPathTask",
    "GraphClass",
    "graph_path_task",
    "figure1_finetune_task",
    "figure1_pretrain_task",
    "figure2_task",
    "graph_paths_finetune",
    "graph_paths_pretrain",
    "graph_paths_length",
    "support_log_ratio",
    "success_probability",
    "FEATURE_GROUPS",
    "RULES",
]

#: Feature groups of the linear model (see the module docstring).
FEATURE_GROUPS = ("passable", "parity", "layer_prev_cand", "prev_cand")
#: Rules of pi_D in two-passable layers.
RULES = ("match", "mismatch", "uniform", "global_parity")

PAPER_REF = "Figures 1-2; App. D (ICLR) / App. C (arXiv)"

#: Largest memory (bytes) a task may need for its instances, :math:`\pi_D` table and the
#: feature table of its linear model; the paper's tasks need a few MB, larger sizes are
#: refused (``ValueError`` naming the size argument) instead of exhausting memory.
MAX_TASK_BYTES = 1 << 31


@dataclass(frozen=True)
class GraphClass:
    """One class of graph instances.

    Attributes
    ----------
    name : str
    weight : float
        Class mass :math:`w_c`.
    n_two : int
        Number of intermediate layers with two passable nodes (chosen at random).
    rule : str
        One of :data:`RULES`.
    hidden_bit : int or None
        Required value of the hidden parity :math:`\\bigoplus_{u\\in V'} p(u)` (Figure 1),
        or ``None``.

    Examples
    --------
    >>> GraphClass("G1", 0.9, 2, "match", 1).to_dict()["rule"]
    'match'
    """

    name: str
    weight: float
    n_two: int
    rule: str
    hidden_bit: object = None

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise TypeError(f"`name` must be a str, got {type(self.name).__name__}.")
        check_real(self.weight, "weight", low=0.0, high=1.0)
        check_int(self.n_two, "n_two", low=0)
        if not isinstance(self.rule, str) or self.rule not in RULES:
            raise ValueError(f"`rule` must be one of {RULES}, got {self.rule!r}.")
        if self.hidden_bit is not None:
            check_int(self.hidden_bit, "hidden_bit", low=0, high=1)

    def to_dict(self):
        return {"name": self.name, "weight": self.weight, "n_two": self.n_two, "rule": self.rule,
                "hidden_bit": self.hidden_bit}


@dataclass(frozen=True, eq=False)
class GraphPathTask:
    r"""A finite set of graph instances with their data distribution :math:`\pi_D`.

    The graph-search task of Figures 1 and 2 (App. D ICLR / App. C arXiv), see the module
    docstring.

    Attributes
    ----------
    name : str
        Label of the task.
    classes : tuple of GraphClass
        The classes :math:`G_c` and their weights.
    n_layers, width, prompts_per_class, seed : int
        Construction parameters (see :func:`graph_path_task`).
    feature_groups : tuple of str
        Feature groups of the linear model.
    class_of_prompt : (X,) int array
        Class index of each prompt.
    prompt_weights : (X,) array
        :math:`\mu`.
    node_ids : (X, L, W) int array
        Node ids of each intermediate layer.
    passable : (X, L, W) bool array
        Passable nodes.
    two_passable : (X, L) bool array
        Layers with two passable nodes.
    target_dist : (X, L, W) array
        :math:`\pi_D(y_h = v|x)` (it does not depend on the previous token).
    data : MarkovModel
        :math:`\pi_D` as an autoregressive model (horizon ``L``, vocabulary ``W``).
    support_x, support_y, support_logp : arrays
        The support of :math:`\pi_D`: prompts ``(S,)``, paths ``(S, L)``, and
        :math:`\log\pi_D(y|x)` ``(S,)``.
    """

    name: str
    classes: tuple
    n_layers: int
    width: int
    prompts_per_class: int
    seed: int
    feature_groups: tuple
    class_of_prompt: np.ndarray
    prompt_weights: np.ndarray
    node_ids: np.ndarray
    passable: np.ndarray
    two_passable: np.ndarray
    target_dist: np.ndarray
    data: MarkovModel
    support_x: np.ndarray
    support_y: np.ndarray
    support_logp: np.ndarray

    @property
    def n_prompts(self):
        return self.class_of_prompt.size

    @property
    def horizon(self):
        return self.n_layers

    @property
    def class_weights(self):
        return np.array([c.weight for c in self.classes])

    @cached_property
    def features(self):
        """The :class:`~theory.models.TabularFeatures` of the linear model."""
        return TabularFeatures(_feature_table(self), horizon=self.n_layers)

    @property
    def dim(self):
        return _feature_dim(self.feature_groups, self.n_layers, self.width)

    def model(self, theta):
        r"""The linear model :math:`\pi_\theta` on this task's prompts (``theta`` ``(d,)`` or ``(P, d)``)."""
        return AutoregressiveLinearModel(self.features, theta, prompt_weights=self.prompt_weights)

    def feature_slices(self):
        """``{group: slice}`` of the parameter vector."""
        out, start = {}, 0
        for g in self.feature_groups:
            size = _feature_dim((g,), self.n_layers, self.width)
            out[g] = slice(start, start + size)
            start += size
        return out

    def evaluate(self, model, N, *, pass_N=None):
        r"""Exact KL, coverage profile and Pass@N of a (batch of) model(s).

        Parameters
        ----------
        model : AutoregressiveLinearModel or MarkovModel
            On this task's prompts (a batch of ``P`` models allowed).
        N : array_like
            Coverage thresholds ``>= 1``.
        pass_N : array_like, optional
            Best-of-N budgets for Pass@N (reward: the response is in the support of
            :math:`\pi_D(\cdot|x)`, i.e. the target path for deterministic classes).

        Returns
        -------
        dict
            ``kl`` ``[P]``, ``coverage`` ``[P,] + shape(N)``, ``pass_at_n``
            ``[P,] + shape(pass_N)``, ``class_coverage`` ``[P,] + (C,) + shape(N)``
            (coverage within each class), all exact.
        """
        law = support_log_ratio(self, model)
        out = {"kl": law.kl(), "coverage": law.coverage(N)}
        vals = law.values.reshape(-1, law.n_points)
        cls = self.class_of_prompt[self.support_x]
        per_class = []
        for c in range(len(self.classes)):
            keep = cls == c
            sub = LogRatioLaw(vals[:, keep], law.weights[keep] / law.weights[keep].sum(), "exact")
            per_class.append(sub.coverage(N))
        out["class_coverage"] = np.stack(per_class, axis=1).reshape(
            law.values.shape[:-1] + (len(self.classes),) + np.shape(N))
        if pass_N is not None:
            q = success_probability(self, model)
            out["pass_at_n"] = np.reshape(pass_at_n(q.reshape(-1, self.n_prompts)[:, None, :],
                                                    np.ravel(pass_N),
                                                    prompt_weights=self.prompt_weights),
                                          law.values.shape[:-1] + np.shape(pass_N))
        return out

    def to_dict(self):
        return {"name": self.name, "classes": [c.to_dict() for c in self.classes],
                "n_layers": self.n_layers, "width": self.width,
                "prompts_per_class": self.prompts_per_class, "seed": self.seed,
                "feature_groups": list(self.feature_groups), "dim": self.dim}


# ----------------------------------------------------------------------------------------
# construction
# ----------------------------------------------------------------------------------------

def _feature_dim(groups, L, W):
    sizes = {"passable": 1, "parity": 1, "layer_prev_cand": L * (W + 1) * W,
             "prev_cand": (W + 1) * W}
    return sum(sizes[g] for g in groups)


def _check_groups(feature_groups):
    """``feature_groups`` as a tuple of distinct entries of :data:`FEATURE_GROUPS`."""
    if isinstance(feature_groups, str):
        raise TypeError(f"`feature_groups` must be a sequence of str, got the str {feature_groups!r}.")
    try:
        groups = tuple(feature_groups)
    except TypeError:
        raise TypeError(f"`feature_groups` must be a sequence of str, got "
                        f"{type(feature_groups).__name__}.") from None
    if not groups or any(not isinstance(g, str) or g not in FEATURE_GROUPS for g in groups) \
            or len(set(groups)) != len(groups):
        raise ValueError(f"`feature_groups` must be distinct entries of {FEATURE_GROUPS}, got {groups}.")
    return groups


def _check_task_size(n_classes, L, W, per, groups, name):
    """Refuse tasks needing more than :data:`MAX_TASK_BYTES` (naming the size argument ``name``)."""
    X = n_classes * per
    draw = 16 * (2 * per + 8) * 2 * L * W                              # random ids and their argsort
    data = 8 * X * L * (W + 1) * W                                      # pi_D table
    feats = data * _feature_dim(groups, L, W)                           # the linear model's features
    n_bytes = draw + data + feats
    if n_bytes > MAX_TASK_BYTES:
        raise ValueError(f"`{name}` = {L} with `prompts_per_class` = {per} needs about "
                         f"{n_bytes / 2**30:.3g} GiB of tables, more than the "
                         f"{MAX_TASK_BYTES / 2**30:.3g} GiB this module allocates.")
    check_allocation(n_bytes, f"`{name}` = {L} with `prompts_per_class` = {per}",
                     "use fewer layers or prompts per class")


def _draw_instances(rng, count, L, W, n_two, id_half):
    """``count`` random instances: ids, parities, passable sets (vectorised)."""
    # Distinct ids 2 r + parity, r distinct in [0, id_half); each layer has W/2 even ids.
    r = np.argsort(rng.random((count, id_half)), axis=1)[:, :L * W].reshape(count, L, W)
    par = (np.argsort(rng.random((count, L, W)), axis=-1) < W // 2).astype(np.int64)
    ids = 2 * r + par
    two = np.zeros((count, L), dtype=bool)
    if n_two:
        layers = np.argsort(rng.random((count, L)), axis=1)[:, :n_two]
        np.put_along_axis(two, layers, True, axis=1)
    u = rng.random((count, L, W))
    even = np.argmin(np.where(par == 0, u, np.inf), axis=-1)
    odd = np.argmin(np.where(par == 1, u, np.inf), axis=-1)
    single = np.argmin(u, axis=-1)
    passable = np.zeros((count, L, W), dtype=bool)
    first = np.where(two, even, single)
    np.put_along_axis(passable, first[..., None], True, axis=-1)
    extra = passable.copy()
    np.put_along_axis(extra, odd[..., None], True, axis=-1)
    passable = np.where(two[..., None], extra, passable)
    return ids, par, passable, two


def _target(cls, ids, par, passable, two, L, W):
    """:math:`\\pi_D(y_h = v|x)` ``(X, L, W)`` for one class."""
    layer_par = (np.arange(L) + 2) % 2                                 # p(i), i = h + 2
    count = ids.shape[0]
    dist = passable.astype(float)                                     # single layers: one-hot
    if cls.rule == "uniform":
        dist = dist / dist.sum(-1, keepdims=True)
        return dist
    if cls.rule == "match":
        want = np.broadcast_to(layer_par, (count, L))
    elif cls.rule == "mismatch":
        want = np.broadcast_to(1 - layer_par, (count, L))
    else:  # global parity of all passable nodes
        b = (par * passable).sum(axis=(1, 2)) % 2
        want = (layer_par[None, :] + b[:, None]) % 2
    pick = passable & (par == want[..., None])
    dist = np.where(two[..., None], pick, passable).astype(float)
    return dist


def graph_path_task(classes, *, n_layers, width=4, prompts_per_class=256, seed=0,
                    feature_groups=("passable", "parity", "prev_cand"), name="graph_paths"):
    r"""Build a :class:`GraphPathTask` from class specifications.

    The general layered-graph construction behind Figures 1 and 2 (App. D ICLR / App. C
    arXiv); :func:`figure1_finetune_task`, :func:`figure1_pretrain_task` and
    :func:`figure2_task` are the paper's settings.  Sizes whose tables (instances,
    :math:`\pi_D`, the linear model's features) exceed ``MAX_TASK_BYTES`` are refused.

    Parameters
    ----------
    classes : sequence of GraphClass
        Weights must sum to one.
    n_layers : int
        Number ``L`` of intermediate layers (the horizon).
    width : int
        Nodes per intermediate layer (even, ``>= 2``; 4 in the paper).
    prompts_per_class : int
        Instances per class.
    seed : int
        Seed of the random instances (part of the construction's definition).
    feature_groups : tuple of str
        Subset of :data:`FEATURE_GROUPS`, in order.
    name : str
        Label of the task.

    Returns
    -------
    GraphPathTask
        The instances, :math:`\pi_D` and the support of :math:`\pi_D`.

    Examples
    --------
    >>> t = graph_path_task([GraphClass("G", 1.0, 1, "match")], n_layers=3, prompts_per_class=2)
    >>> t.data.horizon, t.data.vocab_size, t.support_y.shape
    (3, 4, (2, 3))
    """
    L = check_int(n_layers, "n_layers", low=1)
    W = check_int(width, "width", low=2)
    if W % 2:
        raise ValueError(f"`width` must be even (two-passable layers need an even and an odd id), got {W}.")
    per = check_int(prompts_per_class, "prompts_per_class", low=1)
    seed = check_int(seed, "seed", low=0)
    if isinstance(classes, (str, bytes)):
        raise TypeError("`classes` must be a non-empty sequence of GraphClass, got a str.")
    try:
        classes = tuple(classes)
    except TypeError:
        raise TypeError(f"`classes` must be a non-empty sequence of GraphClass, got "
                        f"{type(classes).__name__}.") from None
    if not classes or not all(isinstance(c, GraphClass) for c in classes):
        raise TypeError("`classes` must be a non-empty sequence of GraphClass.")
    w = np.array([check_real(c.weight, "weight", low=0.0) for c in classes])
    if not np.isclose(w.sum(), 1.0, atol=1e-12):
        raise ValueError(f"class weights must sum to one, got {w.sum()}.")
    for c in classes:
        if c.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {c.rule!r}.")
        check_int(c.n_two, "n_two", low=0, high=L)
    groups = _check_groups(feature_groups)
    _check_task_size(len(classes), L, W, per, groups, "n_layers")

    rng = np.random.default_rng([seed, L, W, per])
    id_half = 2 * L * W
    hidden = rng.random(2 * id_half) < 0.5                              # V': a fixed half of the ids
    parts = []
    for c in classes:
        chosen = []
        have = 0
        while have < per:                                               # rejection on the hidden bit
            ids, par, pas, two = _draw_instances(rng, 2 * per + 8, L, W, c.n_two, id_half)
            if c.hidden_bit is not None:
                bit = (par * hidden[ids]).sum(axis=(1, 2)) % 2
                keep = bit == int(c.hidden_bit)
                ids, par, pas, two = ids[keep], par[keep], pas[keep], two[keep]
            chosen.append((ids, par, pas, two))
            have += ids.shape[0]
        ids, par, pas, two = (np.concatenate(z)[:per] for z in zip(*chosen))
        parts.append((ids, par, pas, two, _target(c, ids, par, pas, two, L, W)))
    ids, par, pas, two, dist = (np.concatenate(z) for z in zip(*parts))
    cls = np.repeat(np.arange(len(classes)), per)
    mu = w[cls] / per

    with np.errstate(divide="ignore"):
        logd = np.log(dist)                                             # (X, L, W)
    table = np.broadcast_to(logd[:, :, None, :], (cls.size, L, W + 1, W))
    data = MarkovModel(np.ascontiguousarray(table), L, mu)
    sx, sy, slp = _enumerate_support(dist)
    return GraphPathTask(
        name=name, classes=classes, n_layers=L, width=W, prompts_per_class=per, seed=seed,
        feature_groups=groups, class_of_prompt=readonly(cls), prompt_weights=readonly(mu),
        node_ids=readonly(ids), passable=readonly(pas), two_passable=readonly(two),
        target_dist=readonly(dist), data=data, support_x=readonly(sx), support_y=readonly(sy),
        support_logp=readonly(slp))


def _enumerate_support(dist):
    r"""All paths with positive :math:`\pi_D` probability, grouped by number of branches."""
    X, L, W = dist.shape
    branches = (dist > 0).sum(-1)                                       # (X, L), 1 or 2
    n_paths = np.prod(branches, axis=1)
    options = np.argsort(-dist, axis=-1, kind="stable")[..., :2]        # the (at most) two slots
    xs, ys, lps = [], [], []
    for k in np.unique(n_paths):                                        # a few distinct counts
        rows = np.flatnonzero(n_paths == k)
        br = branches[rows]                                             # (R, L)
        u = int(round(np.log2(k)))
        choice = np.zeros((rows.size, k, L), dtype=np.int64)
        if u:
            combos = (np.arange(k)[:, None] >> np.arange(u)[None, ::-1]) & 1      # (k, u)
            rank = np.clip(np.cumsum(br == 2, axis=1) - 1, 0, u - 1)            # (R, L)
            choice = np.where(br[:, None, :] == 2, np.moveaxis(combos[:, rank], 0, 1), 0)
        opts = np.broadcast_to(options[rows][:, None], (rows.size, k, L, 2))
        y = np.take_along_axis(opts, choice[..., None], axis=-1)[..., 0]          # (R, k, L)
        p = np.take_along_axis(np.broadcast_to(dist[rows][:, None], (rows.size, k, L, W)),
                               y[..., None], axis=-1)[..., 0]
        xs.append(np.repeat(rows, k))
        ys.append(y.reshape(-1, L))
        lps.append(np.log(p).sum(-1).reshape(-1))
    x = np.concatenate(xs)
    order = np.argsort(x, kind="stable")
    return x[order], np.concatenate(ys)[order].astype(np.int64), np.concatenate(lps)[order]


def _feature_table(task):
    X, L, W = task.passable.shape
    d = task.dim
    table = np.zeros((X, L, W + 1, W, d))
    layer_par = (np.arange(L) + 2) % 2
    col = 0
    for g in task.feature_groups:
        if g == "passable":
            table[..., col] = task.passable[:, :, None, :]
            col += 1
        elif g == "parity":
            f = task.two_passable[..., None] & task.passable & (
                (task.node_ids % 2) == layer_par[None, :, None])
            table[..., col] = f[:, :, None, :]
            col += 1
        elif g == "layer_prev_cand":
            size = L * (W + 1) * W
            idx = np.arange(size).reshape(L, W + 1, W)
            onehot = np.zeros((L, W + 1, W, size))
            np.put_along_axis(onehot, idx[..., None], 1.0, axis=-1)
            table[..., col:col + size] = onehot[None]
            col += size
        else:
            size = (W + 1) * W
            onehot = np.eye(size).reshape(W + 1, W, size)
            table[..., col:col + size] = onehot[None, None]
            col += size
    return table


# ----------------------------------------------------------------------------------------
# exact evaluation
# ----------------------------------------------------------------------------------------

def _check_task_model(task, model):
    if not isinstance(task, GraphPathTask):
        raise TypeError(f"`task` must be a GraphPathTask, got {type(task).__name__}.")
    if not isinstance(model, (AutoregressiveLinearModel, MarkovModel)):
        raise TypeError(f"`model` must be an AutoregressiveLinearModel or MarkovModel, "
                        f"got {type(model).__name__}.")
    got = (model.n_prompts, model.horizon, model.vocab_size)
    want = (task.n_prompts, task.horizon, task.width)
    if got != want:
        raise ValueError(f"`model` (prompts, horizon, vocabulary) = {got} do not match `task`'s {want}.")


def support_log_ratio(task, model):
    r"""Exact law of :math:`\log\pi_D/\hat\pi` under :math:`\pi_D` by enumerating :math:`\pi_D`'s support.

    Gives the exact KL and coverage (Definition 1.1) plotted in Figures 1 and 2.

    Parameters
    ----------
    task : GraphPathTask
        The task (its prompts and :math:`\pi_D`).
    model : AutoregressiveLinearModel or MarkovModel
        On ``task``'s prompts; may be a batch of ``P`` models.

    Returns
    -------
    LogRatioLaw
        ``values`` ``[P,] (S,)``, ``weights`` :math:`\mu(x)\pi_D(y|x)`, evaluation ``"exact"``.

    Examples
    --------
    >>> t = figure1_finetune_task(prompts_per_class=4)
    >>> law = support_log_ratio(t, t.model(np.zeros(t.dim)))
    >>> bool(np.isclose(law.kl(), 8 * np.log(4)))        # uniform over 4 slots per layer
    True
    """
    _check_task_model(task, model)
    lp = model.log_prob(task.support_x, task.support_y)
    w = task.prompt_weights[task.support_x] * np.exp(task.support_logp)
    return LogRatioLaw(task.support_logp - lp, w / w.sum(), "exact")


def success_probability(task, model):
    r"""Per-prompt success probability :math:`q_x = \hat\pi(\mathrm{supp}\,\pi_D(\cdot|x)\mid x)`, ``[P,] (X,)``.

    For deterministic classes this is :math:`\hat\pi(y^\star(x)|x)`; Pass@N, the y-axis of
    Figure 1's scatter plots, is :math:`\mathbb E_\mu[1 - (1-q_x)^N]`
    (:func:`theory.best_of_n.pass_at_n`).

    Parameters
    ----------
    task : GraphPathTask
        The task (its prompts and the support of :math:`\pi_D`).
    model : AutoregressiveLinearModel or MarkovModel
        On ``task``'s prompts; may be a batch of ``P`` models.

    Returns
    -------
    ndarray
        Shape ``model.batch_shape + (X,)``, values in ``[0, 1]``.

    Examples
    --------
    >>> t = figure1_finetune_task(prompts_per_class=4)
    >>> q = success_probability(t, t.model(np.zeros(t.dim)))
    >>> q.shape, bool(np.allclose(q, 4.0 ** -8))                  # uniform over 4 slots per layer
    ((8,), True)
    """
    _check_task_model(task, model)
    lp = model.log_prob(task.support_x, task.support_y)                 # [P,] (S,)
    p = np.exp(lp).reshape(-1, task.support_x.size)
    q = np.zeros((p.shape[0], task.n_prompts))
    np.add.at(q, (slice(None), task.support_x), p)
    return np.clip(q, 0.0, 1.0).reshape(np.shape(lp)[:-1] + (task.n_prompts,))


# ----------------------------------------------------------------------------------------
# the paper's two experiments
# ----------------------------------------------------------------------------------------

def figure1_finetune_task(*, n_layers=8, prompts_per_class=256, seed=0,
                          feature_groups=("passable", "parity", "layer_prev_cand")):
    r"""Figure 1, fine-tuning: :math:`G_1` (0.9, rule "match") and :math:`G_2` (0.1, "mismatch").

    ``n_layers = 8`` intermediate layers of 4 nodes; two random layers have two passable
    nodes; the class is fixed by the hidden parity :math:`\bigoplus_{u\in V'}p(u)` (1 for
    :math:`G_1`, 0 for :math:`G_2`).  :math:`\pi_D` is deterministic within each class
    (App. D ICLR / App. C arXiv).

    Parameters
    ----------
    n_layers : int, optional
        Intermediate layers ``L`` (8 in the paper).
    prompts_per_class : int, optional
        Instances per class (the prompt set is finite; exact evaluation is relative to it).
    seed : int, optional
        Seed of the random instances (part of the construction's definition).
    feature_groups : tuple of str, optional
        Feature groups of the linear model, a subset of :data:`FEATURE_GROUPS`.

    Returns
    -------
    GraphPathTask
        Named ``"figure1_finetune"``.

    Examples
    --------
    >>> t = figure1_finetune_task(prompts_per_class=4)
    >>> t.class_weights.tolist(), t.horizon
    ([0.9, 0.1], 8)
    """
    classes = (GraphClass("G1", 0.9, 2, "match", 1), GraphClass("G2", 0.1, 2, "mismatch", 0))
    return graph_path_task(classes, n_layers=n_layers, prompts_per_class=prompts_per_class,
                           seed=seed, feature_groups=feature_groups, name="figure1_finetune")


def figure1_pretrain_task(*, n_layers=8, prompts_per_class=256, seed=1,
                          feature_groups=("passable", "parity", "layer_prev_cand")):
    r"""Figure 1, pre-training mixture: :math:`G_1, G_2, G_3` with weight 1/3 each.

    :math:`G_3` has the same structure with :math:`\pi_D` uniform over its 4 valid paths
    (App. D ICLR / App. C arXiv).

    Parameters
    ----------
    n_layers : int, optional
        Intermediate layers ``L`` (8 in the paper).
    prompts_per_class : int, optional
        Instances per class (the prompt set is finite; exact evaluation is relative to it).
    seed : int, optional
        Seed of the random instances (part of the construction's definition).
    feature_groups : tuple of str, optional
        Feature groups of the linear model, a subset of :data:`FEATURE_GROUPS`.

    Returns
    -------
    GraphPathTask
        Named ``"figure1_pretrain"``.

    Examples
    --------
    >>> t = figure1_pretrain_task(prompts_per_class=2)
    >>> [c.rule for c in t.classes]
    ['match', 'mismatch', 'uniform']
    """
    third = 1.0 / 3.0
    classes = (GraphClass("G1", third, 2, "match", 1), GraphClass("G2", third, 2, "mismatch", 0),
               GraphClass("G3", 1.0 - 2 * third, 2, "uniform", None))
    return graph_path_task(classes, n_layers=n_layers, prompts_per_class=prompts_per_class,
                           seed=seed, feature_groups=feature_groups, name="figure1_pretrain")


def figure2_task(H, *, prompts_per_class=64, seed=0, feature_groups=("passable", "parity", "prev_cand")):
    r"""Figure 2: :math:`G_{H,1}` (0.94), :math:`G_{H,2}` (0.05), :math:`G_{H,3}` (0.01), ``H`` layers.

    :math:`G_{H,1}`: one passable node per layer (one valid path).  :math:`G_{H,2}`: ``H/2``
    random layers with two passable nodes, :math:`\pi_D` deterministic through the global
    parity of all passable nodes (not learnable by the linear model).  :math:`G_{H,3}`: 4
    random layers with two passable nodes, :math:`\pi_D` uniform over the 16 valid paths
    (App. D ICLR / App. C arXiv).

    Parameters
    ----------
    H : int
        Number of intermediate layers (even, ``>= 8``; the paper uses 8, 16, 24).
    prompts_per_class : int, optional
        Instances per class (the prompt set is finite; exact evaluation is relative to it).
    seed : int, optional
        Seed of the random instances (part of the construction's definition).
    feature_groups : tuple of str, optional
        Feature groups of the linear model, a subset of :data:`FEATURE_GROUPS`.

    Returns
    -------
    GraphPathTask
        Named ``"figure2_H{H}"``.

    Examples
    --------
    >>> t = figure2_task(8, prompts_per_class=4)
    >>> t.horizon, t.n_prompts, t.class_weights.tolist()
    (8, 12, [0.94, 0.05, 0.01])
    """
    H = check_int(H, "H", low=8)
    if H % 2:
        raise ValueError(f"`H` must be even, got {H}.")
    per = check_int(prompts_per_class, "prompts_per_class", low=1)
    _check_task_size(3, H, 4, per, _check_groups(feature_groups), "H")
    classes = (GraphClass("G_H1", 0.94, 0, "match"), GraphClass("G_H2", 0.05, H // 2, "global_parity"),
               GraphClass("G_H3", 0.01, 4, "uniform"))
    return graph_path_task(classes, n_layers=H, prompts_per_class=prompts_per_class, seed=seed,
                           feature_groups=feature_groups, name=f"figure2_H{H}")


def _instance(name, task):
    return Instance(name, PAPER_REF, data=task.data, model_class=task.model(np.zeros(task.dim)),
                    params=task.to_dict())


def graph_paths_finetune(*, n_layers=8, prompts_per_class=256, seed=0):
    r"""Figure 1's fine-tuning distribution as an :class:`Instance` (see :func:`figure1_finetune_task`).

    Parameters
    ----------
    n_layers : int, optional
        Intermediate layers ``L`` (8 in the paper).
    prompts_per_class : int, optional
        Instances per class (the prompt set is finite; exact evaluation is relative to it).
    seed : int, optional
        Seed of the random instances (part of the construction's definition).

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_D`; ``model_class`` the linear model at :math:`\theta = 0`
        (its ``features`` define the class).

    Examples
    --------
    >>> inst = graph_paths_finetune(prompts_per_class=8)
    >>> inst.data.horizon, inst.model_class.dim
    (8, 162)
    """
    return _instance("graph_paths_finetune", figure1_finetune_task(
        n_layers=n_layers, prompts_per_class=prompts_per_class, seed=seed))


def graph_paths_pretrain(*, n_layers=8, prompts_per_class=256, seed=1):
    r"""Figure 1's pre-training mixture as an :class:`Instance` (see :func:`figure1_pretrain_task`).

    Parameters
    ----------
    n_layers : int, optional
        Intermediate layers ``L`` (8 in the paper).
    prompts_per_class : int, optional
        Instances per class (the prompt set is finite; exact evaluation is relative to it).
    seed : int, optional
        Seed of the random instances (part of the construction's definition).

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_D`; ``model_class`` the linear model at :math:`\theta = 0`.

    Examples
    --------
    >>> graph_paths_pretrain(prompts_per_class=2).data.n_prompts
    6
    """
    return _instance("graph_paths_pretrain", figure1_pretrain_task(
        n_layers=n_layers, prompts_per_class=prompts_per_class, seed=seed))


def graph_paths_length(H=8, *, prompts_per_class=64, seed=0):
    r"""Figure 2's mixture at sequence length ``H`` as an :class:`Instance` (see :func:`figure2_task`).

    Parameters
    ----------
    H : int, optional
        Number of intermediate layers (even, ``>= 8``).
    prompts_per_class : int, optional
        Instances per class (the prompt set is finite; exact evaluation is relative to it).
    seed : int, optional
        Seed of the random instances (part of the construction's definition).

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_D`; ``model_class`` the linear model at :math:`\theta = 0`.

    Examples
    --------
    >>> graph_paths_length(8, prompts_per_class=2).data.horizon
    8
    """
    return _instance("graph_paths_length", figure2_task(H, prompts_per_class=prompts_per_class, seed=seed))
