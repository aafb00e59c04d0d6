"""Import paths kept by the layout renovation: package re-exports and deprecated aliases.

* ``theory.vgb`` and ``theory.instances.mle`` became packages: every name of their former
  ``__all__`` is still an attribute of the package, and is the object its submodule defines.
* The witnesses moved from ``theory.bounds`` to ``theory.instances.witnesses``;
  ``simulations.samplers.dyck`` / ``trees`` moved to ``theory.instances.dyck`` / ``vgb_trees``.
  The old paths resolve to the same objects for one release and warn (``DeprecationWarning``
  naming the new path); an unknown name still raises ``AttributeError``.
* Nothing in the repository uses the old paths (the source is scanned), so the warnings only
  reach users.
"""

from __future__ import annotations

import importlib
import pathlib
import re
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

VGB_NAMES = [
    "TreeAutomaton", "PrefixTree", "optimal_values", "prefix_state_mass", "target_state_marginals",
    "uniform_error", "average_case_error", "expand_tree", "edge_log_weights", "transition_matrix",
    "stationary_law", "stationary_from_transitions", "stationarity_residual", "target_leaf_law",
    "leaf_mass", "leaf_conditional_curves", "CurveResult", "mixing_times", "MixingResult",
    "relaxation_time", "first_leaf_law", "exact_value_walk_length_law", "action_level_law",
    "best_of_n_law", "block_sampler_law", "total_variation_probs", "kl_probs", "coverage_tail",
    "theorem_4_1_leaf_probability_bound", "stationary_leaf_mass_bound", "relaxation_time_lower_bound",
    "theorem_4_1_steps_shape",
    "theorem_4_2_threshold", "example_3_1_action_level_tv", "example_3_2_action_level_regret",
    "example_3_1_action_level_coverage_tail",
]

MLE_NAMES = [
    "finite_ladder_class", "finite_ladder_exact", "finite_rare_prompt_class", "prop_3_2_kl_lower_bound",
    "linear_pivotal_family", "linear_variance_family", "linear_variance_model", "linear_variance_kl",
    "linear_variance_monte_carlo_coverage", "prop_k1_high_dim", "prop_k1_monte_carlo_coverage",
    "prop_g1a", "prop_g1b", "prop_g2_misspecified", "mixture_convex_class", "grouped_exact_law",
    "finite_ladder_mle_coverage",   # added after the move
]

#: ``(old module, new module, names)`` of the deprecated aliases.
MOVED = [
    ("theory.bounds", "theory.instances.witnesses",
     ["Witness", "BernoulliWitness", "bernoulli_witness", "kl_tightness_instance",
      "coverage_decay_witness", "chain_rule_witness", "hellinger_converse_witness", "lemma_j1_witness"]),
    ("simulations.samplers.dyck", "theory.instances.dyck",
     ["DyckSpec", "DyckModel", "dyck_model", "value_table", "is_valid_dyck", "log_likelihood",
      "type_blind_groups", "dyck_features", "decode"]),
    ("simulations.samplers.trees", "theory.instances.vgb_trees",
     ["random_tree", "sparse_branching_tree", "example_3_1_automaton", "example_3_2_automaton",
      "tree_from_levels"]),
]


@pytest.mark.parametrize("package, names, submodules", [
    ("theory.vgb", VGB_NAMES, ("automaton", "walk", "mixing", "constants", "baselines")),
    ("theory.instances.mle", MLE_NAMES, ("common", "finite", "linear", "lower_bounds")),
])
def test_package_reexports_every_former_public_name(package, names, submodules):
    """The package lists exactly its former names, each the object of the one submodule defining it."""
    pkg = importlib.import_module(package)
    assert sorted(pkg.__all__) == sorted(names)
    owners = {}
    for sub in submodules:
        mod = importlib.import_module(f"{package}.{sub}")
        for name in mod.__all__:
            assert name not in owners, f"{name} defined in {owners.get(name)} and {sub}"
            owners[name] = sub
            assert getattr(pkg, name) is getattr(mod, name)
    assert sorted(owners) == sorted(names)


@pytest.mark.parametrize("old, new, names", MOVED, ids=[m[0] for m in MOVED])
def test_old_path_resolves_and_warns(old, new, names):
    """Each moved name resolves at its old path to the same object, with a warning naming the new path."""
    old_mod, new_mod = importlib.import_module(old), importlib.import_module(new)
    assert set(names) <= set(new_mod.__all__)
    for name in names:
        with pytest.warns(DeprecationWarning, match=re.escape(f"{new}.{name}")):
            obj = getattr(old_mod, name)
        assert obj is getattr(new_mod, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            getattr(old_mod, "no_such_name")


def test_from_import_of_an_old_path_warns():
    """``from <old module> import <name>`` warns too (module ``__getattr__``)."""
    with pytest.warns(DeprecationWarning, match="theory.instances.witnesses.bernoulli_witness"):
        from theory.bounds import bernoulli_witness  # noqa: F401
    with pytest.warns(DeprecationWarning, match="theory.instances.vgb_trees.random_tree"):
        from simulations.samplers.trees import random_tree  # noqa: F401


def test_bounds_no_longer_lists_the_witnesses():
    """``theory.bounds.__all__`` holds inequalities only."""
    bounds = importlib.import_module("theory.bounds")
    assert not set(MOVED[0][2]) & set(bounds.__all__)


_WITNESS = "|".join(MOVED[0][2])
#: Uses of an old path: an import, an attribute of the old module, a witness through bounds.
OLD_USE = [
    re.compile(r"(?:from|import)\s+simulations\.samplers\.(?:dyck|trees)\b"),
    re.compile(r"simulations\.samplers\.(?:dyck|trees)\.\w"),
    re.compile(r"from\s+simulations\.samplers\s+import\s+[^\n]*\b(?:dyck|trees)\b"),
    re.compile(r"from\s+theory\.bounds\s+import\s+\([^)]*\b(?:" + _WITNESS + r")\b"),
    re.compile(r"from\s+theory\.bounds\s+import\s+[^(\n]*\b(?:" + _WITNESS + r")\b"),
    re.compile(r"\b(?:bounds|B)\.(?:" + _WITNESS + r")\b"),
]


def _old_uses(text):
    return [m.group(0) for p in OLD_USE for m in p.finditer(text)]


def test_nothing_in_the_repository_uses_an_old_path():
    """Scan the source: no import or use of a moved name through its deprecated module."""
    allowed = {ROOT / "simulations" / "samplers" / "dyck.py", ROOT / "simulations" / "samplers" / "trees.py",
               ROOT / "theory" / "bounds.py", pathlib.Path(__file__).resolve()}
    hits = []
    for folder in ("theory", "simulations", "tests", "proofs_check", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".md", ".rst") or path in allowed or "_build" in path.parts:
                continue
            if path.name == "tests.md":
                continue  # generated index of test names
            hits += [f"{path.relative_to(ROOT)}: {u}" for u in _old_uses(path.read_text(encoding="utf-8"))]
    assert not hits, hits


def test_scan_detects_old_uses():
    """Negative control: the scan flags each kind of old use, and not a mere mention."""
    for text in ("from simulations.samplers.trees import random_tree",
                 "import simulations.samplers.dyck as d",
                 ":func:`simulations.samplers.dyck.type_blind_groups`",
                 "from theory.bounds import (kl_to_coverage,\n    lemma_j1_witness)",
                 "from theory.bounds import hellinger_to_coverage, lemma_j1_witness",
                 "w = B.bernoulli_witness(0.1, 2.0)",
                 "isinstance(w, bounds.Witness)"):
        assert _old_uses(text), text
    assert not _old_uses("moved from ``simulations.samplers.trees`` (still resolves)")
    assert not _old_uses("from theory.bounds import kl_to_coverage, kl_tightness_witness\n"
                         "from theory.instances.witnesses import (bernoulli_witness)")
