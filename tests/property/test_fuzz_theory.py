r"""Fuzz every public callable of :mod:`theory` with invalid inputs.

What is fuzzed
--------------
Every function and class listed in the ``__all__`` of a public module under ``theory/``
(found by walking the package, so modules added later are picked up automatically), and
every public method of those classes.  For each callable a **valid baseline call** is
obtained, in this order:

1. :data:`BASELINES` (explicit, for callables without a usable doctest);
2. the callable's own doctest examples, run with the callable wrapped so the first call
   that returns normally is recorded;
3. synthesis from :data:`KINDS` (a valid value per parameter name of the toolkit's
   conventions: ``N``, ``n``, ``delta``, ``sigma_sq``, ``data``, ``x``, ...).

Then each argument in turn is replaced by invalid values while the others stay valid:

* generic (any numeric argument): NaN injected at a drawn position, a string, an object,
  ``None`` (unless ``None`` is the default), a complex array, an empty array, an array of
  strings; for non-numeric arguments (models, callables, generators): wrong types;
* by parameter name (:data:`KINDS`): thresholds ``N < 1`` (also the VGB ``threshold``);
  log-probabilities that are positive, ``+inf`` or unnormalized; probability vectors with
  negative entries or not summing to one (``pi_star``; ``pi_hat`` may be a sub-probability
  but not exceed one); probabilities outside ``[0, 1]``; negative KLs/variances/radii/``eps``,
  ``lam <= 0``; non-positive or non-integer counts and sizes (horizons, walk lengths, lattice
  and Fourier sizes, instance sizes); out-of-range tokens and prompts; features and
  parameters of the wrong shape; mismatched data/model pairs; non-generator ``rng``;
* huge sizes (``horizon``/``vocab_size`` up to ``10^6``, counts up to ``10^18``, ``N`` up to
  ``1e300``): these may be valid, so the call must either raise as below or return a
  finite, non-NaN result, quickly.

Hypothesis draws the random parts (positions, magnitudes, which bad value).  A call passes
when it raises ``ValueError`` or ``TypeError`` whose message names the perturbed argument in
backticks (e.g. ``\`N\```); returning anything, or raising anything else, fails.  The
number of invalid inputs tried is printed at the end of the module.

Allow-lists (documented; each entry has targeted tests below)
-------------------------------------------------------------
:data:`NOT_FUZZED` lists callables whose inputs cannot be fuzzed generically;
:data:`SKIP_PARAMS` lists parameters that are not inputs of the mathematics (labels for
error messages, boolean flags).
"""

from __future__ import annotations

import doctest
import functools
import importlib
import inspect
import numbers
import pkgutil
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import theory
from theory.models import (AutoregressiveLinearModel, CallableFeatures, TabularFeatures,
                           categorical_model)

# ---------------------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------------------

#: Callables that are not fuzzed generically, with the reason; each has a targeted test.
NOT_FUZZED = {
    "theory.instances._base.Instance": "plain record of an already-validated construction "
                                       "(fields are arbitrary objects); see test_records",
    "theory.log_ratio.exact.LogRatioLaw": "result record built by exact_log_ratio/sampled_log_ratio, "
                                    "which validate their inputs; see test_records",
    "theory.instances.witnesses.Witness": "result record returned by the witness constructions "
                                          "(coverage_decay_witness, ...), which validate their "
                                          "inputs; see test_records",
    "theory.instances.witnesses.BernoulliWitness": "result record returned by bernoulli_witness, "
                                                   "which validates `p` and `N`; see test_records",
    "theory.log_ratio.certified.CertifiedBounds": "result record of certified_coverage/"
                                        "certified_stopped_kl (validated there); see test_records",
    "theory.log_ratio.certified.CertifiedLogRatioLaw": "result record of certified_log_ratio, which "
                                             "validates its inputs; see test_records",
    "theory.vgb.automaton.PrefixTree": "result record of expand_tree, which validates the automaton; "
                             "see test_records",
    "theory.vgb.mixing.CurveResult": "result record of leaf_conditional_curves; see test_records",
    "theory.vgb.mixing.MixingResult": "result record of mixing_times; see test_records",
    "theory.instances.dyck.DyckModel": "result record of dyck_model, which validates its spec; "
                                       "see test_records",
    "theory.instances.graph_paths.GraphPathTask": "result record of graph_path_task, which "
                                                  "validates its inputs; see test_records",
    "theory.deprecation.legacy_positional": "decorator factory (parameter names); see test_signatures",
    "theory.deprecation.reordered": "decorator factory (names and a predicate); see test_signatures",
    "theory.deprecation.renamed": "wraps a function under its former name; see test_signatures",
}

#: Parameters never perturbed: ``{name: reason}``.
SKIP_PARAMS = {
    "name": "label used in error messages (any string is valid)",
    "paired": "boolean flag selecting the batch semantics",
}

#: Single mutations not applied to one parameter of one callable:
#: ``{(callable, parameter, mutation label): reason}`` (each has a targeted test below).
SKIP_MUTATIONS = {
    ("theory.vgb.baselines.best_of_n_law", "probs", "unnormalized"):
        "documented sub-probability measure (missing mass = no candidate); a total above one "
        "is still rejected, see test_best_of_n_law_sub_probability",
}

#: Methods that are not fuzzed, with the reason.
SKIP_METHODS = {
    "replace": "dataclasses.replace re-runs the constructor, which is fuzzed itself",
    "candidates": "feature-map protocol called by AutoregressiveLinearModel in its hot loops "
                  "with arguments it has validated (see test_feature_protocol)",
    "path_candidates": "feature-map protocol (as candidates)",
    "position_index": "feature-map protocol (as candidates)",
}


def _public_modules():
    mods = [theory]
    for info in pkgutil.walk_packages(theory.__path__, prefix="theory."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        mods.append(importlib.import_module(info.name))
    return mods


def _qualname(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


def public_callables():
    """``{qualified name: object}`` of every function/class in a public ``__all__``."""
    out = {}
    for mod in _public_modules():
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if inspect.isfunction(obj) or (inspect.isclass(obj) and not issubclass(obj, BaseException)):
                if obj.__module__.startswith("theory"):
                    out.setdefault(_qualname(obj), obj)
    return dict(sorted(out.items()))


PUBLIC = public_callables()


# ---------------------------------------------------------------------------------------
# small valid objects used by baselines and synthesis
# ---------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _ctx():
    """A fixed small problem: X = 2 prompts, H = 3, V = 2, d = 2 (tabular and callable)."""
    rng = np.random.default_rng(0)
    table = rng.normal(size=(2, 3, 3, 2, 2))
    feats = TabularFeatures(table, horizon=3)
    data = AutoregressiveLinearModel(feats, np.array([0.3, -0.2]), prompt_weights=[0.4, 0.6])
    model = AutoregressiveLinearModel(feats, np.array([-0.5, 0.4]), prompt_weights=[0.4, 0.6])
    t = feats.table

    def fn(x, prefix, h):
        prev = prefix[:, h - 1] if h > 0 else np.full(len(x), 2)
        return t[x, h, prev]

    cfeats = CallableFeatures(fn, n_prompts=2, horizon=3, vocab_size=2, dim=2)
    x = np.array([0, 1, 1])
    y = np.array([[0, 1, 1], [1, 1, 0], [0, 0, 0]])
    return {"table": table, "features": feats, "cfeatures": cfeats, "data": data,
            "model": model, "markov_data": data.as_markov(), "x": x, "y": y}


# ---------------------------------------------------------------------------------------
# mutations
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutation:
    """An invalid replacement for one argument.

    ``make(value, draw)`` returns the replacement (``draw`` is hypothesis' ``data.draw``) or
    ``None`` to skip.  ``mode="raise"``: the call must raise naming the argument;
    ``mode="raise_or_finite"``: it may also return a finite result (huge but valid sizes).
    """

    label: str
    make: object
    mode: str = "raise"
    any_param: bool = False  # the error may name any parameter (e.g. sizes that interact)
    numeric: bool = True     # applies to numeric baseline values only
    only: tuple = ()         # restrict to targets whose name contains one of these


_SKIP = object()


def _is_numeric(value):
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (numbers.Number, np.number)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "iuf"
    if isinstance(value, (list, tuple)) and value:
        try:
            arr = np.asarray(value)
        except ValueError:
            return False
        return arr.dtype.kind in "iuf"
    return False


def _is_int_typed(value):
    return np.asarray(value).dtype.kind in "iu"


def _with_element(value, draw, new):
    """``value`` as a float array with one drawn element set to ``new`` (scalar stays scalar)."""
    arr = np.array(value, dtype=float)
    if arr.ndim == 0:
        return float(new) if not isinstance(new, complex) else new
    if arr.size == 0:
        return _SKIP
    i = draw(st.integers(0, arr.size - 1))
    arr.flat[i] = new
    return arr


def _generic(param):
    """Mutations valid for any numeric argument."""
    muts = [
        Mutation("NaN", lambda v, d: _with_element(v, d, np.nan)),
        Mutation("str", lambda v, d: "abc"),
        Mutation("object", lambda v, d: object()),
        Mutation("complex", lambda v, d: np.asarray(v, dtype=float) + 1j),
        Mutation("empty", lambda v, d: np.array([]) if np.ndim(v) > 0 else _SKIP),
        Mutation("str-array", lambda v, d: np.full(np.shape(v) or (2,), "a")),
    ]
    if param.default is not None:
        muts.append(Mutation("None", lambda v, d: None))
    return muts


def _generic_object(param):
    """Mutations for non-numeric arguments (models, features, callables, generators)."""
    muts = [Mutation("str", lambda v, d: "abc"), Mutation("float", lambda v, d: 3.0),
            Mutation("array", lambda v, d: np.zeros(3))]
    if param.default is not None:
        muts.append(Mutation("None", lambda v, d: None))
    return muts


def _below_one(v, d):
    bad = d(st.one_of(st.floats(-1e300, 1.0, exclude_max=True, allow_nan=False),
                      st.just(-np.inf), st.just(0.0)))
    return _with_element(v, d, bad)


def _negative(v, d):
    return _with_element(v, d, d(st.floats(-1e300, -1e-300)))


def _outside_unit(v, d):
    bad = d(st.one_of(st.floats(-1e300, -1e-12), st.floats(1.0 + 1e-9, 1e300), st.just(np.inf)))
    return _with_element(v, d, bad)


def _positive_log(v, d):
    return _with_element(v, d, d(st.one_of(st.floats(1e-6, 1e300), st.just(np.inf))))


def _unnormalized_log(v, d):
    arr = np.array(v, dtype=float)
    return arr + d(st.sampled_from([np.log(0.5), np.log(0.9), -3.0]))


def _negative_prob(v, d):
    arr = np.array(v, dtype=float)
    if arr.ndim == 0 or arr.size < 2:
        return _SKIP
    i = d(st.integers(0, arr.size - 1))
    arr.flat[i] = -abs(arr.flat[i]) - d(st.floats(1e-6, 1.0))
    return arr


def _unnormalized_prob(v, d):
    return np.array(v, dtype=float) * d(st.sampled_from([0.5, 1.5, 3.0]))


def _nonpositive_count(v, d):
    if np.ndim(v):
        return _with_element(v, d, d(st.integers(-10**6, 0))).astype(np.int64)
    return d(st.integers(-10**6, 0))


def _negative_count(v, d):
    if np.ndim(v):
        return _with_element(v, d, d(st.integers(-10**6, -1))).astype(np.int64)
    return d(st.integers(-10**6, -1))


def _non_integer(v, d):
    if not _is_int_typed(v):
        return _SKIP
    return _with_element(v, d, d(st.sampled_from([0.5, 2.5, 1.0 + 1e-9])))


def _huge_count(v, d):
    # 10**6 is a valid size on any machine (must compute); 10**18 exceeds any memory (must
    # raise a ValueError naming a size, not try to allocate).
    return d(st.sampled_from([10**6, 10**18]))


def _out_of_range_index(v, d):
    arr = np.array(v)
    if arr.size == 0:
        return _SKIP
    arr = arr.astype(np.int64)
    arr.flat[d(st.integers(0, arr.size - 1))] = d(st.sampled_from([-1, -7, 10**6]))
    return arr


def _drop_last_column(v, d):
    arr = np.asarray(v)
    return arr[..., :-1] if arr.ndim >= 1 and arr.shape[-1] > 1 else _SKIP


def _extra_column(v, d):
    arr = np.asarray(v, dtype=float)
    return np.concatenate([arr, np.zeros(arr.shape[:-1] + (1,))], axis=-1) if arr.ndim else _SKIP


def _drop_axis(v, d):
    arr = np.asarray(v)
    return arr[0] if arr.ndim >= 1 else _SKIP


def _huge_label(v, d):
    arr = np.array(v, dtype=np.int64)
    arr.flat[d(st.integers(0, arr.size - 1))] = 10**18
    return arr


def _mismatched_model(v, d):
    cand = categorical_model(np.full(7, 1 / 7))
    if (getattr(v, "vocab_size", None), getattr(v, "horizon", None)) == (7, 1):
        return _SKIP
    return cand


def _bad_option(v, d):
    return "no-such-option" if isinstance(v, str) else _SKIP


def _not_a_seed(v, d):
    """Not a SPEC 7 seed (None, an int >= 0, a SeedSequence and a Generator are all valid)."""
    return d(st.sampled_from([-1, 0.5, "seed", np.random.RandomState(0)]))


def _above(limit):
    def make(v, d):
        return _with_element(v, d, d(st.floats(limit * (1 + 1e-9) + 1e-12, 1e300)))
    return make


def _low_above_high(v, d):
    return float(v) + 1e6


def _high_below_low(v, d):
    return float(v) - 1e6


def _huge_threshold(v, d):
    return _with_element(v, d, d(st.sampled_from([1e100, 1e300])))


@dataclass(frozen=True)
class Kind:
    """Conventions for a family of parameter names: a valid value and semantic mutations.

    ``exempt`` names generic mutations that are *valid* for this parameter (documented).
    """

    valid: object  # callable() -> valid value, or None (no synthesis)
    mutations: tuple = field(default_factory=tuple)
    exempt: tuple = ()


_THRESH = (Mutation("N<1", _below_one), Mutation("huge N", _huge_threshold, "raise_or_finite"))
_LOGP = (Mutation("log-prob > 0", _positive_log), Mutation("unnormalized", _unnormalized_log))
_PROBVEC = (Mutation("negative prob", _negative_prob), Mutation("unnormalized", _unnormalized_prob),
            Mutation("inf", lambda v, d: _with_element(v, d, np.inf)))
_SUBPROBVEC = (Mutation("negative prob", _negative_prob),
               Mutation("total > 1", lambda v, d: np.array(v, dtype=float) * d(st.sampled_from([1.5, 3.0]))),
               Mutation("inf", lambda v, d: _with_element(v, d, np.inf)))
_UNIT = (Mutation("outside [0,1]", _outside_unit),)
_NONNEG = (Mutation("negative", _negative), Mutation("-inf", lambda v, d: _with_element(v, d, -np.inf)))
_COUNT = (Mutation("<= 0", _nonpositive_count), Mutation("non-integer", _non_integer),
          Mutation("huge", _huge_count, "raise_or_finite", any_param=True))
_INDEX = (Mutation("out of range", _out_of_range_index), Mutation("non-integer", _non_integer))


def _pair_member(key):
    return lambda: _ctx()[key]


#: Parameter-name conventions of the toolkit.
KINDS = {
    # thresholds / budgets
    "N": Kind(lambda: 4.0, _THRESH),
    "M": Kind(lambda: 4.0, _THRESH),
    # VGB coverage thresholds N >= 1 (elsewhere `threshold` is a Hellinger risk level >= 0)
    "threshold": Kind(lambda: 4.0, tuple(Mutation(m.label, m.make, m.mode, only=("theory.vgb",))
                                         for m in _THRESH)),
    # log-probabilities (normalized along the last axis)
    "log_p": Kind(None, _LOGP), "log_q": Kind(None, _LOGP), "log_probs": Kind(None, _LOGP),
    "log_p_target": Kind(None, (Mutation("log-prob > 0", _positive_log),)),
    "log_p_model": Kind(None, (Mutation("log-prob > 0", _positive_log),)),
    # log-probabilities of given points (not normalized over them)
    "loglik_ref": Kind(None, (Mutation("log-prob > 0", _positive_log),)),
    "loglik_model": Kind(None, (Mutation("log-prob > 0", _positive_log),)),
    # probability vectors
    "weights": Kind(None, _PROBVEC), "prompt_weights": Kind(None, _PROBVEC),
    "probs": Kind(None, _PROBVEC), "pi_star": Kind(None, _PROBVEC),
    # sub-probability vectors (a sampler's output law may miss mass)
    "pi_hat": Kind(None, _SUBPROBVEC), "pi": Kind(None, _PROBVEC),
    # probabilities
    "cov_M": Kind(lambda: 0.1, _UNIT), "cov_2N": Kind(lambda: 0.1, _UNIT),
    "success_prob": Kind(None, _UNIT), "best_coverage": Kind(lambda: 0.1, _UNIT),
    "delta": Kind(lambda: 0.1, _UNIT + (Mutation("zero", lambda v, d: _with_element(v, d, 0.0)),)),
    "level": Kind(lambda: 0.95, _UNIT),
    "p": Kind(lambda: 0.25, _UNIT), "p_star": Kind(lambda: 0.05, _UNIT), "q": Kind(None, _UNIT),
    "drop": Kind(None, _UNIT),
    "reward": Kind(None, _UNIT), "alpha": Kind(lambda: 0.5, _UNIT), "a": Kind(lambda: 0.5, _UNIT),
    # non-negative reals
    "kl": Kind(lambda: 0.1, _NONNEG), "token_kl_sums": Kind(None, _NONNEG),
    "sigma_sq": Kind(lambda: 1.0, _NONNEG), "B": Kind(lambda: 1.0, _NONNEG),
    "radius": Kind(lambda: 1.0, _NONNEG), "eps": Kind(lambda: 0.1, _NONNEG),
    "tau": Kind(None, _NONNEG),
    "lam": Kind(lambda: 0.7, (Mutation("<= 0", lambda v, d: _with_element(
        v, d, d(st.floats(-1e300, 0.0)))),)),
    "epsilon": Kind(lambda: 0.1, (Mutation("<= 0", lambda v, d: _with_element(
        v, d, d(st.floats(-1e300, 0.0)))),)),
    # counts and sizes
    "n": Kind(lambda: 100, _COUNT),
    "k": Kind(None, (Mutation("negative", _negative_count), Mutation("non-integer", _non_integer))),
    "c": Kind(None, (Mutation("negative", _negative_count), Mutation("non-integer", _non_integer))),
    "T": Kind(lambda: 100, _COUNT), "K": Kind(lambda: 10, _COUNT), "H": Kind(lambda: 3, _COUNT),
    "d": Kind(lambda: 3, _COUNT), "class_size": Kind(lambda: 10, _COUNT),
    "horizon": Kind(lambda: 3, _COUNT), "vocab_size": Kind(lambda: 2, _COUNT),
    "n_prompts": Kind(lambda: 2, _COUNT[:2]), "dim": Kind(lambda: 2, _COUNT[:2]),
    "max_sequences": Kind(None, _COUNT[:2]),
    # sizes of samplers, walks and lattices
    "T_max": Kind(None, (Mutation("negative", _negative_count), Mutation("non-integer", _non_integer),
                         Mutation("huge", lambda v, d: 10**18, "raise_or_finite", any_param=True))),
    "T_cap": Kind(None, _COUNT), "n_candidates": Kind(None, _COUNT),
    "block_length": Kind(None, _COUNT), "max_nodes": Kind(None, _COUNT), "n_bins": Kind(None, _COUNT),
    "n_freq": Kind(None, _COUNT), "n_lambdas": Kind(None, _COUNT), "max_shifts": Kind(None, _COUNT),
    "n_samples": Kind(None, _COUNT), "n_atoms": Kind(None, _COUNT), "n_levels": Kind(None, _COUNT),
    "n_members": Kind(None, _COUNT), "T_eval": Kind(None, (Mutation("negative", _negative_count),
                                                            Mutation("non-integer", _non_integer))),
    "width_sd": Kind(None, (Mutation("<= 0", lambda v, d: _with_element(v, d, d(st.floats(-1e300, 0.0)))),)),
    # tokens, prompts, answers
    "x": Kind(lambda: _ctx()["x"], _INDEX),
    "answer": Kind(None, (Mutation("negative", _negative_count), Mutation("non-integer", _non_integer),
                          Mutation("huge label", _huge_label, "raise_or_finite"))),
    "y": Kind(lambda: _ctx()["y"], _INDEX + (Mutation("wrong length", _drop_last_column),)),
    # parameters and features
    "theta": Kind(None, (Mutation("inf", lambda v, d: _with_element(v, d, np.inf)),
                         Mutation("wrong d", _extra_column, only=("AutoregressiveLinearModel",)))),
    "bound": Kind(None, (Mutation("negative", _negative),), exempt=("NaN",)),
    "table": Kind(None, (Mutation("inf", lambda v, d: _with_element(v, d, np.inf)),
                         Mutation("wrong ndim", _drop_axis))),
    "vector": Kind(None, (Mutation("wrong d", _extra_column),)),
    # NaN is allowed in contexts of zero probability (documented); see test_expected_token_sum
    "values": Kind(None, (), exempt=("NaN",)),
    "low": Kind(None, (Mutation("low > high", _low_above_high),)),
    "high": Kind(None, (Mutation("high < low", _high_below_low),)),
    "axis": Kind(None, (Mutation("out of bounds", lambda v, d: 99),)),
    # models and generators
    "data": Kind(_pair_member("data"), (Mutation("mismatched", _mismatched_model, numeric=False),)),
    "model": Kind(_pair_member("model"), (Mutation("mismatched", _mismatched_model, numeric=False),)),
    "rng": Kind(lambda: np.random.default_rng(0),
                (Mutation("not a seed", _not_a_seed, numeric=False),), exempt=("None",)),
}


def mutations_for(param, value, target_name=""):
    """All mutations applicable to ``param`` whose baseline value is ``value``."""
    kind = KINDS.get(param.name, Kind(None))
    if isinstance(value, (bool, np.bool_)):
        return []
    if isinstance(value, str):
        muts = [Mutation("option", _bad_option, numeric=False),
                Mutation("float", lambda v, d: 3.0, numeric=False)]
    elif _is_numeric(value):
        muts = _generic(param) + [m for m in kind.mutations if m.numeric]
    else:  # objects, or None for an absent optional argument
        muts = _generic_object(param) + [m for m in kind.mutations if not m.numeric]
    return [m for m in muts if m.label not in kind.exempt
            and (not m.only or any(o in target_name for o in m.only))]


# ---------------------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------------------

@dataclass
class Target:
    """A callable with a valid call: ``fn(*args, **kwargs)`` (``self`` bound for methods)."""

    name: str
    fn: object
    signature: inspect.Signature
    arguments: dict  # parameter name -> valid value (every parameter, defaults included)
    source: str


def _bm(key, method):
    return lambda: getattr(_ctx()[key], method)


#: Explicit valid calls ``{qualified name: () -> (args, kwargs)}``.
BASELINES = {
    "theory.log_ratio.markov.path_token_kls": lambda: (
        (_ctx()["data"], _ctx()["model"], _ctx()["x"], _ctx()["y"]), {}),
    "theory.log_ratio.exact.exact_stopped_kl": lambda: ((_ctx()["data"], _ctx()["model"], 4.0), {}),
    "theory.log_ratio.markov.markov_token_kl_profile": lambda: ((_ctx()["data"], _ctx()["model"]), {}),
    "theory.log_ratio.markov.markov_kl": lambda: ((_ctx()["data"], _ctx()["model"]), {}),
    "theory.log_ratio.exact.exact_log_ratio": lambda: ((_ctx()["data"], _ctx()["model"]), {}),
    "theory.log_ratio.exact.sampled_log_ratio": lambda: (
        (_ctx()["data"], _ctx()["model"], 50), {"rng": np.random.default_rng(0)}),
    "theory.models.markov.MarkovModel": lambda: (
        (_ctx()["markov_data"].log_probs, 3), {"prompt_weights": [0.4, 0.6]}),
    "theory.models.linear.AutoregressiveLinearModel": lambda: (
        (_ctx()["features"], [0.3, -0.2]), {"prompt_weights": [0.4, 0.6]}),
    "theory.models.features.TabularFeatures": lambda: ((_ctx()["table"], 3), {}),
    "theory.models.features.CallableFeatures": lambda: (
        (_ctx()["cfeatures"].fn, 2, 3, 2, 2), {}),
}


def _record_doctest_call(obj):
    """Run ``obj``'s doctest examples and return the first call of ``obj`` that succeeded."""
    calls = []
    module = sys.modules[obj.__module__]
    patched = []
    if inspect.isclass(obj):
        original_init = obj.__init__

        @functools.wraps(original_init)
        def init(self, *args, **kwargs):
            original_init(self, *args, **kwargs)
            calls.append((args, kwargs))

        obj.__init__ = init
        restore = lambda: setattr(obj, "__init__", original_init)  # noqa: E731
    else:
        @functools.wraps(obj)
        def wrapper(*args, **kwargs):
            out = obj(*args, **kwargs)
            calls.append((args, kwargs))
            return out

        for mod_name, mod in list(sys.modules.items()):
            if mod_name.startswith("theory") and vars(mod).get(obj.__name__) is obj:
                setattr(mod, obj.__name__, wrapper)
                patched.append(mod)
        restore = lambda: [setattr(m, obj.__name__, obj) for m in patched]  # noqa: E731
    try:
        finder = doctest.DocTestFinder(exclude_empty=True, recurse=False)
        for test in finder.find(obj, obj.__name__, module=module, globs=dict(module.__dict__)):
            runner = doctest.DocTestRunner(verbose=False, optionflags=doctest.ELLIPSIS)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                runner.run(test, out=lambda s: None)
            if calls:
                break
    finally:
        restore()
    return calls[0] if calls else None


def _synthesize(signature, skip_first=False):
    args = {}
    for i, (name, param) in enumerate(signature.parameters.items()):
        if skip_first and i == 0:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is not inspect.Parameter.empty:
            continue
        kind = KINDS.get(name)
        if kind is None or kind.valid is None:
            return None
        args[name] = kind.valid()
    return args


def _bind(signature, args, kwargs):
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _call(fn, signature, arguments):
    args, kwargs = [], {}
    for name, param in signature.parameters.items():
        if name not in arguments:
            continue
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            args.append(arguments[name])
        elif param.kind == param.KEYWORD_ONLY:
            kwargs[name] = arguments[name]
    return fn(*args, **kwargs)


def build_target(qualname, obj):
    """The valid baseline call of a public callable, or a reason string if there is none."""
    sig = inspect.signature(obj)
    call = None
    source = None
    if qualname in BASELINES:
        call, source = BASELINES[qualname](), "explicit"
    if call is None:
        call = _record_doctest_call(obj)
        source = "doctest" if call is not None else None
    if call is not None:
        arguments = _bind(sig, *call)
    else:
        arguments = _synthesize(sig)
        source = "synthesized"
        if arguments is None:
            return (f"no valid baseline for {qualname}: add a doctest example, a BASELINES "
                    "entry, or a KINDS entry for its parameters")
        arguments = _bind(sig, (), arguments)
    try:
        _call(obj, sig, arguments)
    except Exception as exc:
        return f"the {source} baseline of {qualname} fails: {type(exc).__name__}: {exc}"
    return Target(qualname, obj, sig, arguments, source)


#: Instances on which public methods are fuzzed.
def _instances():
    c = _ctx()
    callable_model = AutoregressiveLinearModel(c["cfeatures"], [0.3, -0.2], prompt_weights=[0.4, 0.6])
    batch = AutoregressiveLinearModel(c["features"], [[0.3, -0.2], [0.1, 0.1]], prompt_weights=[0.4, 0.6])
    return {
        "AutoregressiveLinearModel(tabular)": c["data"],
        "AutoregressiveLinearModel(callable)": callable_model,
        "AutoregressiveLinearModel(batch)": batch,
        "MarkovModel": c["markov_data"],
        "TabularFeatures": c["features"],
        "CallableFeatures": c["cfeatures"],
    }


#: Explicit arguments for methods: ``{method name: {param: () -> value}}``.
METHOD_ARGS = {
    "hvp": {"vector": lambda: np.array([0.5, -1.0])},
    "expected_token_sum": {"values": lambda: np.ones((2, 3, 3))},
    "sample": {"n": lambda: 5, "x": lambda: np.array([0, 1, 1, 0, 1])},
    "sigma_star_sq": {"data": lambda: _ctx()["data"]},
}


def method_targets():
    """Baseline calls of the public methods of the model classes (bound to instances)."""
    out, problems = [], []
    for label, inst in _instances().items():
        for name, member in inspect.getmembers(type(inst), predicate=inspect.isfunction):
            if name.startswith("_") or name in SKIP_METHODS:
                continue
            bound = getattr(inst, name)
            sig = inspect.signature(bound)
            if not sig.parameters:
                continue
            if True:
                arguments = {}
                for pname, param in sig.parameters.items():
                    explicit = METHOD_ARGS.get(name, {})
                    if pname in explicit:
                        arguments[pname] = explicit[pname]()
                    elif param.default is not inspect.Parameter.empty:
                        arguments[pname] = param.default
                    elif pname in KINDS and KINDS[pname].valid is not None:
                        arguments[pname] = KINDS[pname].valid()
                    else:
                        problems.append(f"{label}.{name}: no valid value for `{pname}`")
                        arguments = None
                        break
                if arguments is None:
                    continue
            try:
                _call(bound, sig, arguments)
            except Exception as exc:
                problems.append(f"{label}.{name} baseline fails: {type(exc).__name__}: {exc}")
                continue
            out.append(Target(f"{label}.{name}", bound, sig, arguments, "method"))
    return out, problems


# ---------------------------------------------------------------------------------------
# the check
# ---------------------------------------------------------------------------------------

TRIED = {"inputs": 0, "callables": set(), "params": set()}
SECONDS_LIMIT = 10.0
#: Address-space headroom during one fuzzed call: an unguarded huge allocation becomes a
#: MemoryError (reported as a failure) instead of an out-of-memory kill of the machine.
HEADROOM_BYTES = 4 << 30


class _memory_cap:
    """Cap the address space (Linux ``RLIMIT_AS``) to current usage + headroom."""

    def __enter__(self):
        self.saved = None
        try:
            import resource
            with open("/proc/self/statm") as fh:
                vm = int(fh.read().split()[0]) * resource.getpagesize()
            self.saved = resource.getrlimit(resource.RLIMIT_AS)
            hard = self.saved[1]
            cap = vm + HEADROOM_BYTES
            if hard != resource.RLIM_INFINITY:
                cap = min(cap, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        except (ImportError, OSError, ValueError):
            self.saved = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, self.saved)
        return False


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})" + (
            f" {value.ravel()[:6]}" if value.size else "")
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def _finite_result(out):
    """True when ``out`` holds only finite numbers (or non-numeric objects)."""
    if isinstance(out, tuple):
        return all(_finite_result(o) for o in out)
    if isinstance(out, (numbers.Number, np.ndarray, np.number)):
        arr = np.asarray(out)
        return arr.dtype.kind not in "fc" or bool(np.isfinite(arr).all())
    return True


def check_invalid_call(target, pname, mutation, bad):
    """Return ``None`` if the invalid call was handled correctly, else a failure message."""
    arguments = dict(target.arguments)
    arguments[pname] = bad
    TRIED["inputs"] += 1
    where = f"{target.name}({pname}={_describe(bad)}) [{mutation.label}]"
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), _memory_cap():
            warnings.simplefilter("ignore")
            out = _call(target.fn, target.signature, arguments)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        names = list(target.signature.parameters) if mutation.any_param else [pname]
        if not any(f"`{n}`" in message for n in names):
            return f"{where}: {type(exc).__name__} does not name `{pname}`: {message!r}"
        return None
    except Exception as exc:  # noqa: BLE001 - any other exception type is a failure
        return f"{where}: raised {type(exc).__name__} (expected ValueError/TypeError): {exc}"
    finally:
        elapsed = time.perf_counter() - start
    if elapsed > SECONDS_LIMIT:
        return f"{where}: took {elapsed:.1f} s"
    if mutation.mode == "raise_or_finite":
        if _finite_result(out):
            return None
        return f"{where}: returned non-finite values {_describe(out)}"
    return f"{where}: returned {_describe(out)} instead of raising"


def fuzz_target(target, draw):
    failures = []
    for pname, param in target.signature.parameters.items():
        if pname in SKIP_PARAMS or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        value = target.arguments.get(pname, param.default)
        muts = mutations_for(param, value, target.name)
        if not muts:
            continue
        TRIED["params"].add((target.name, pname))
        for mutation in muts:
            bad = mutation.make(value, draw)
            if bad is _SKIP:
                continue
            if (target.name, pname, mutation.label) in SKIP_MUTATIONS:
                continue
            if mutation.label == "non-integer" and _accepts_float(target, pname, value):
                continue  # a real-valued parameter that happens to have an integer baseline
            msg = check_invalid_call(target, pname, mutation, bad)
            if msg:
                failures.append(msg)
    TRIED["callables"].add(target.name)
    return failures


def _accepts_float(target, pname, value):
    arguments = dict(target.arguments)
    arguments[pname] = np.asarray(value, dtype=float) if np.ndim(value) else float(value)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _call(target.fn, target.signature, arguments)
    except (ValueError, TypeError):
        return False
    return True


def _examples():
    return max(2, settings.default.max_examples // 10)


FUNCTION_NAMES = [name for name in PUBLIC if name not in NOT_FUZZED]


@pytest.mark.parametrize("qualname", FUNCTION_NAMES)
def test_public_callable_rejects_invalid_input(qualname):
    target = build_target(qualname, PUBLIC[qualname])
    assert isinstance(target, Target), target

    @settings(max_examples=_examples(), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        failures = fuzz_target(target, data.draw)
        assert not failures, "\n".join(failures)

    run()


METHODS, METHOD_PROBLEMS = method_targets()


def test_every_public_method_has_a_baseline():
    assert not METHOD_PROBLEMS, "\n".join(METHOD_PROBLEMS)


@pytest.mark.parametrize("target", METHODS, ids=[t.name for t in METHODS])
def test_public_method_rejects_invalid_input(target):
    @settings(max_examples=_examples(), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        failures = fuzz_target(target, data.draw)
        assert not failures, "\n".join(failures)

    run()


def test_discovery_covers_the_known_modules():
    """The walk finds every module's ``__all__`` (guards against a silent empty fuzz)."""
    modules = {name.rsplit(".", 1)[0] for name in PUBLIC}
    for expected in ("theory.coverage", "theory.divergences", "theory.log_ratio.exact",
                     "theory.best_of_n", "theory.bounds", "theory.rates", "theory.intervals",
                     "theory.models.linear", "theory.models.markov", "theory.models.features",
                     "theory.models.projection", "theory.instances.bernoulli"):
        assert any(m == expected or m.startswith(expected + ".") for m in modules), expected  # or its package
    assert len(PUBLIC) >= 60


# ---------------------------------------------------------------------------------------
# targeted tests for the allow-listed callables and parameters
# ---------------------------------------------------------------------------------------

def test_records():
    from theory.instances import Instance
    from theory.log_ratio import LogRatioLaw

    with pytest.raises(ValueError, match="`evaluation`"):
        LogRatioLaw(np.zeros(3), None, "guessed")
    law = LogRatioLaw(np.zeros(3), None, "monte_carlo")
    with pytest.raises(ValueError, match="`N`"):
        law.coverage(0.5)
    with pytest.raises(ValueError, match="`level`"):
        law.coverage_interval(2.0, level=1.5)
    assert Instance("x", "ref", data=None).to_dict() == {"name": "x", "paper_ref": "ref", "params": {}}
    # result records are produced (and validated) by their constructors
    from theory import log_ratio, vgb
    from theory.instances import dyck, graph_paths, witnesses

    assert isinstance(witnesses.bernoulli_witness(0.5, 4.0), witnesses.BernoulliWitness)
    with pytest.raises(ValueError, match="`p`"):
        witnesses.bernoulli_witness(1.5, 4.0)
    assert isinstance(witnesses.lemma_j1_witness(1.0), witnesses.Witness)
    spec = dyck.DyckSpec(length=2, max_depth=1)
    assert isinstance(dyck.dyck_model(spec), dyck.DyckModel)
    with pytest.raises(TypeError, match="`spec`"):
        dyck.dyck_model({"length": 2})
    c = _ctx()
    cb = log_ratio.certified_coverage(c["data"], c["model"], 4.0, n_bins=256)
    assert isinstance(cb, log_ratio.CertifiedBounds) and np.all(cb.lo <= cb.hi)
    assert isinstance(log_ratio.certified_log_ratio(c["data"], c["model"], n_bins=256),
                      log_ratio.CertifiedLogRatioLaw)
    with pytest.raises(ValueError, match="`N`"):
        log_ratio.certified_coverage(c["data"], c["model"], 0.5, n_bins=256)
    with pytest.raises(TypeError, match="`automaton`"):
        vgb.expand_tree("abc")
    with pytest.raises(ValueError, match="`n_layers`"):
        graph_paths.graph_path_task([graph_paths.GraphClass("G", 1.0, 1, "match")], n_layers=0)


def test_best_of_n_law_sub_probability():
    from theory.vgb import best_of_n_law

    law = best_of_n_law([0.25, 0.25], [0.0, 1.0], 2)   # missing mass 1/2 = "no candidate"
    assert np.isclose(law.sum(), 1 - 0.5 ** 2)
    for bad in ([0.75, 0.75], [3.0, 3.0]):
        with pytest.raises(ValueError, match="`probs`"):
            best_of_n_law(bad, [0.0, 1.0], 2)


def test_moment_order_p():
    from theory.bounds import log_density_ratio_moment, markov_lp_coverage_bound

    lr = np.array([0.0, np.log(2.0)])
    assert np.isclose(log_density_ratio_moment(lr, 2.0), np.log((1 + 4) / 2))
    assert np.isclose(markov_lp_coverage_bound(np.log(2.5), 2.0, 2.0), 2.5 / 4)
    for bad in (0.0, -1.0, -np.inf, np.nan):
        with pytest.raises(ValueError, match="`exponent`"):
            log_density_ratio_moment(lr, bad)
        with pytest.raises(ValueError, match="`exponent`"):
            markov_lp_coverage_bound(np.log(2.5), 2.0, bad)


def test_label_and_flag_parameters():
    from theory.coverage import log_thresholds

    with pytest.raises(ValueError, match="`budget`"):
        log_thresholds(0.5, name="budget")
    c = _ctx()
    with pytest.raises(ValueError, match="paired=True"):
        c["data"].log_prob(c["x"], c["y"], paired=True)  # unbatched model cannot be paired


def test_zz_report_inputs_tried(capsys):
    """Print how many invalid inputs the fuzz tried (runs last in this module)."""
    with capsys.disabled():
        print(f"\n[fuzz] {TRIED['inputs']} invalid inputs tried on {len(TRIED['params'])} "
              f"parameters of {len(TRIED['callables'])} public callables/methods of theory "
              f"({len(PUBLIC)} public callables discovered; {len(NOT_FUZZED)} allow-listed)")
    assert TRIED["inputs"] > 0


def test_feature_protocol():
    """Feature maps are validated where they enter: a callable returning the wrong shape."""
    c = _ctx()
    bad = CallableFeatures(lambda x, prefix, h: np.zeros((len(x), 3, 2)), n_prompts=2,
                           horizon=3, vocab_size=2, dim=2)
    model = AutoregressiveLinearModel(bad, [0.1, 0.2])
    with pytest.raises(ValueError, match="`fn` returned shape"):
        model.log_prob(c["x"], c["y"])
    with pytest.raises(ValueError, match="`fn` returned shape"):
        model.sample(3, rng=np.random.default_rng(0))


def test_expected_token_sum_nan_only_where_the_context_is_unreachable():
    m = _ctx()["markov_data"]
    g = np.ones((2, 3, 3))
    g[:, 0, :2] = np.nan  # h = 0 sees only the begin-of-sequence context (index V = 2)
    assert np.allclose(m.expected_token_sum(g), 1.0)
    g[0, 1, 0] = np.nan  # reachable
    with pytest.raises(ValueError, match="`values`"):
        m.expected_token_sum(g)


@settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_the_fuzz_catches_missing_validation(data):
    """Power check: functions that skip validation, or name the wrong argument, are flagged."""
    def unvalidated(N, weights=None):
        return float(np.log(np.asarray(N, dtype=float)).sum())

    def misnamed(N):
        if not np.all(np.asarray(N) >= 1):
            raise ValueError("`threshold` must be >= 1")
        return 0.0

    for fn in (unvalidated, misnamed):
        sig = inspect.signature(fn)
        target = Target(fn.__name__, fn, sig, _bind(sig, (4.0,), {}), "test")
        before = TRIED["inputs"]
        failures = fuzz_target(target, data.draw)
        TRIED["inputs"] = before  # not part of the theory count
        TRIED["callables"].discard(fn.__name__)
        TRIED["params"].discard((fn.__name__, "N"))
        assert any("[N<1]" in f for f in failures), failures
        assert any("[NaN]" in f for f in failures), failures
