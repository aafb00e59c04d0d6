r"""Every public callable has a numpydoc docstring citing the statement it implements.

What is checked
---------------
The public callables are found automatically: every function and class listed in the
``__all__`` of a public module (no ``_``-prefixed part in its dotted name) under
:mod:`theory`, :mod:`simulations.learners` and :mod:`simulations.samplers` (the walk of
``tests/property/test_fuzz_theory.py``), deduplicated by defining module.  Constants listed
in an ``__all__`` (``TIE_BREAKS``, ``RULES``, ...) are not callables and are not checked.
For each callable, :func:`docstring_problems` requires

1. a docstring with a one-line summary;
2. a numpydoc ``Parameters`` section naming every parameter of the signature (except
   ``self``/``cls``); for a class, its constructor's parameters may be documented under
   ``Parameters`` or ``Attributes``;
3. for a function that returns a value (a ``return <expr>`` in its own body), a ``Returns``
   section; for a generator, a ``Yields`` section;
4. a **statement reference**: the paper statement it computes or instantiates
   (``Definition 1.1``, ``Prop. F.1``, ``Theorem 4.2``, ``Lemma K.4``, ``Eq. (13)``,
   ``Assumption 4.1``, ``Example 3.1``, ``Algorithm 1``, ``Section 3``, ``Figure 1``, ...,
   or the paper's unnumbered "Related Work" section),
   unless the callable is in :data:`NO_STATEMENT` (infrastructure, with a one-line reason);
   citations of the reference notes' own sections ("reference notes §A.7", "Section 2.4 of
   the reference notes") do not count (:data:`NOTES_RE`);
5. **both numberings** where the ICLR camera-ready and arXiv v2 differ
   (``/work/shared/reference/coverage-principle.md`` section 10): a label of one version
   requires its counterpart in the same docstring (:data:`COUNTERPARTS`), e.g.
   ``Prop. F.1`` requires ``D.1`` and ``Lemma K.7`` requires ``I.7``; ``Theorem 6.2`` is
   ambiguous (simple tournament in ICLR, distillation in arXiv) and requires ``6.3`` or
   ``G.2``; an equation number other than ``(1)`` must say which version it is from
   (the word ``ICLR`` or ``arXiv`` in the docstring); an appendix-J label (Lemma/Prop. J.x),
   whose arXiv number the reference notes do not give, must say what it knows about arXiv.

The checker is exercised on fake functions (:func:`test_checker_reports_*`) so that it is
shown to fail on the defects it is meant to catch.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap

import pytest

import simulations.learners
import simulations.samplers
import theory

# ---------------------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------------------

PACKAGES = (theory, simulations.learners, simulations.samplers)
PREFIXES = tuple(p.__name__ for p in PACKAGES)


def _public_modules(package):
    mods = [package]
    for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        mods.append(importlib.import_module(info.name))
    return mods


def public_callables():
    """``{qualified name: object}`` of every function/class in a public ``__all__``."""
    out = {}
    for package in PACKAGES:
        for mod in _public_modules(package):
            for name in getattr(mod, "__all__", ()):
                obj = getattr(mod, name)
                if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                    continue  # constants
                if obj.__module__.startswith(PREFIXES):
                    out.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return dict(sorted(out.items()))


# ---------------------------------------------------------------------------------------
# the rule
# ---------------------------------------------------------------------------------------

#: A statement reference: a statement kind followed by its label.
STATEMENT_RE = re.compile(
    r"(?:\bDefinition|\bDef\.|\bPropositions?|\bProps?\.|\bTheorems?|\bThms?\.|\bLemmas?"
    r"|\bCorollary|\bCor\.|\bAssumptions?|\bRemark|\bExamples?|\bAlgorithms?|\bAlg\."
    r"|\bEqs?\.|\bEquations?|\bSections?|\bSec\.|§|\bAppendix|\bApp\.|\bFigures?|\bFig\."
    r"|\bTable)"
    r"\s*\(?[A-Z]?\.?\d"
    r"|\bRelated Work\b")  # the one unnumbered section the reference notes cite by name

#: Citations of the reference notes' own sections (not paper statements): removed before
#: looking for a statement reference.
NOTES_RE = re.compile(
    r"reference notes[,;]?\s*(?:§|Sections?\s|Sec\.\s*)\s*[A-Z]?[\d.]*\d"
    r"|(?:§|\bSections?\s|\bSec\.\s*)\s*[A-Z]?[\d.]*\d\s+of the reference notes")

#: ``(pattern of a version-specific label, pattern its counterpart must match, source)``.
#: The counterparts are those of the numbering map (reference section 10).
COUNTERPARTS = [
    (r"\bProps?\.?\s*F\.(\d+)|\bPropositions?\s+F\.(\d+)", r"D\.{0}\b", "Prop. F.k = D.k"),
    (r"(?<![\w.])D\.(\d+)\b", r"F\.{0}\b", "Prop. D.k = F.k"),
    (r"\bProp(?:\.|osition)\s*G\.1", r"\b4\.1", "Prop. G.1 = Prop. 4.1 (arXiv)"),
    (r"\bProp(?:\.|osition)\s*4\.1", r"G\.1", "Prop. 4.1 (arXiv) = Prop. G.1"),
    (r"\bProp(?:\.|osition)\s*G\.2", r"E\.2", "Prop. G.2 = Prop. E.2"),
    (r"\bTh(?:m\.?|eorem)\s*G\.1", r"E\.1", "Theorem G.1 = Theorem E.1"),
    (r"\bTh(?:m\.?|eorem)\s*G\.2", r"\b6\.2", "Theorem G.2 = Theorem 6.2 (arXiv)"),
    (r"\bTh(?:m\.?|eorem)\s*G\.3", r"\b6\.4", "Theorem G.3 = Theorem 6.4 (arXiv)"),
    (r"\bTh(?:m\.?|eorem)s?\s*6\.2", r"\b6\.3|G\.2", "Theorem 6.2 is ambiguous"),
    (r"\bTh(?:m\.?|eorem)s?\s*6\.3", r"\b6\.2", "Theorem 6.3 (arXiv) = Theorem 6.2 (ICLR)"),
    (r"\bTh(?:m\.?|eorem)s?\s*6\.4", r"G\.3", "Theorem 6.4 (arXiv) = Theorem G.3"),
    (r"(?<![\w.])K\.(\d+)\b", r"I\.{0}\b", "App. K = App. I"),
    (r"(?<![\w.])I\.(\d+)\b", r"K\.{0}\b", "App. I = App. K"),
    (r"\bRemark\s*E\.(\d+)", r"\b2\.{0}\b", "Remark E.k = Remark 2.k"),
    (r"\bSec(?:\.|tion)\s*A\.1", r"\b7\.1", "Sec. A.1 = Sec. 7.1"),
    (r"(?<![\w.])J\.\d+", r"arXiv", "App. J: arXiv number not in the reference notes"),
    (r"\bEqs?\.\s*\((?!1\))\d+\)", r"ICLR|arXiv", "equation numbers differ"),
]

#: Callables with no paper statement: ``{qualified name: reason}``.  Infrastructure that
#: implements a definition of the paper cites it instead (e.g. the autoregressive linear
#: model cites Assumption 2.2); what is left here computes no statement of either paper.
NO_STATEMENT = {
    "theory.allocation_budget":
        "infrastructure: the memory budget of every theory call, not a paper result",
    "theory.docstrings.DocTemplate":
        "infrastructure: fills shared parameter descriptions into docstrings",
    "theory.deprecation.legacy_positional":
        "infrastructure: keeps a former positional order working for one release",
    "theory.deprecation.reordered":
        "infrastructure: keeps a former argument order working for one release",
    "theory.deprecation.renamed":
        "infrastructure: keeps a former name working for one release",
    "theory.deprecation.moved_names":
        "infrastructure: keeps a former import path working for one release",
    # --- theory: enumeration utilities, records, statistics
    "theory.count_law.count_vectors":
        "enumeration utility (count vectors and multinomial coefficients) behind exact laws",
    "theory.count_law.grouped_count_support":
        "enumeration utility (joint count vectors of groups) behind exact laws",
    "theory.count_law.group_sequence_log_probs":
        "helper of count_log_ratio_law: the log-probability of one sequence from its counts",
    "theory.instances._base.Instance":
        "record returned by every instance constructor; each instance's paper_ref field cites it",
    "theory.intervals.clopper_pearson":
        "exact binomial confidence interval (statistics) for Monte Carlo coverage, not a paper result",
    "theory.models.markov.MarkovModel":
        "model container for the factorisation pi(y|x) = prod_h pi(y_h|x, y_<h) of the paper's "
        "(unnumbered) notation; exact backend of tabular linear models",
    "theory.models.markov.categorical_model":
        "constructor of a one-step MarkovModel from response probabilities",
    "theory.models.markov.enumerate_sequences":
        "enumeration utility: all V**H sequences in lexicographic order",
    # --- simulations.learners: optax-style plumbing
    "simulations.learners.mle.data.as_markov_model":
        "input conversion (a tabular linear model to its Markov form) behind the MLE solvers",
    "simulations.learners.optimizers.Optimizer":
        "container of an optax-style (init, update) pair",
    "simulations.learners.optimizers.EmptyState":
        "state record of stateless transforms",
    "simulations.learners.optimizers.AdamState":
        "state record (moment estimates) of scale_by_adam",
    "simulations.learners.optimizers.apply_updates":
        "generic parameter update params + step shared by every optimizer",
    "simulations.learners.optimizers.chain":
        "composition of transforms (plumbing)",
    "simulations.learners.optimizers.identity":
        "the identity transform (plumbing)",
    "simulations.learners.optimizers.scale":
        "multiplication by a learning rate, the building block of every step rule",
    # --- simulations.samplers: sampling primitives and utilities
    "simulations.samplers.baselines.reference_rollout":
        "sampling primitive: extend prefixes by tokens drawn from pi_ref",
    "simulations.samplers.baselines.reference_sample":
        "sampling primitive: plain responses from pi_ref (no guidance, no statement)",
    "theory.instances.dyck.decode":
        "rendering utility: token rows as bracket strings",
    "simulations.samplers.sinclair_jerrum.catalan":
        "combinatorial utility: the number of Dyck words with n pairs",
    "simulations.samplers.value_functions.incoming_token":
        "automaton utility: the token on an edge into each state",
    "simulations.samplers.vgb.categorical_cdf":
        "sampling utility: row-wise CDFs safe for zero weights",
    "simulations.samplers.vgb.sample_rows":
        "sampling utility: one inverse-CDF draw per row",
}


def _sections(doc):
    """``{section title: [lines]}`` of a cleaned numpydoc docstring."""
    lines = doc.splitlines()
    out, current = {}, None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and re.fullmatch(r"\s*-{3,}\s*", lines[i + 1]) and line.strip():
            current = line.strip()
            out[current] = []
            continue
        if re.fullmatch(r"\s*-{3,}\s*", line):
            continue
        if current is not None:
            out[current].append(line)
    return out


def _documented_names(lines):
    """Names of the numpydoc entries (``name : type`` or ``name``) of a section."""
    names = set()
    for line in lines:
        if not line.strip() or line[:1].isspace():
            continue
        head = line.split(" : ")[0].strip()
        for part in head.split(","):
            names.add(part.strip().lstrip("*"))
    return names


def _returns_value(func):
    """``(returns a value, yields)`` from the function's own body (not nested functions)."""
    try:
        source = textwrap.dedent(inspect.getsource(inspect.unwrap(func)))
    except (OSError, TypeError):
        return False, False
    tree = ast.parse(source)
    fdef = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    returns = yields = False
    stack = list(fdef.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            returns = True
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            yields = True
        stack.extend(ast.iter_child_nodes(node))
    return returns, yields


def _parameters(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values() if p.name not in ("self", "cls")]


def docstring_problems(obj, name=None, *, no_statement=None):
    """Problems of ``obj``'s docstring under the rule of this module (empty if none).

    Parameters
    ----------
    obj : function or class
        The callable to check.
    name : str, optional
        Its qualified name (looked up in ``no_statement``).
    no_statement : dict, optional
        Allow-list of callables without a statement reference (default
        :data:`NO_STATEMENT`).

    Returns
    -------
    list of str
        One message per problem.
    """
    no_statement = NO_STATEMENT if no_statement is None else no_statement
    doc = inspect.getdoc(obj)
    if not doc or not doc.strip():
        return ["no docstring"]
    problems = []
    first = doc.strip().splitlines()[0].strip()
    if not first or re.fullmatch(r"-{3,}", first):
        problems.append("no one-line summary")
    sections = _sections(doc)
    params = _parameters(obj)
    if inspect.isclass(obj):
        documented = _documented_names(sections.get("Parameters", []) + sections.get("Attributes", []))
        if params and not ({"Parameters", "Attributes"} & sections.keys()):
            problems.append("class without a Parameters or Attributes section")
    else:
        documented = _documented_names(sections.get("Parameters", []))
        if params and "Parameters" not in sections:
            problems.append("no Parameters section")
        returns, yields = _returns_value(obj)
        if yields and "Yields" not in sections:
            problems.append("generator without a Yields section")
        elif returns and not yields and "Returns" not in sections:
            problems.append("no Returns section")
    missing = [p for p in params if p not in documented]
    if missing and (not inspect.isclass(obj) or {"Parameters", "Attributes"} & sections.keys()):
        problems.append(f"parameters not documented: {', '.join(missing)}")
    if name not in no_statement and not STATEMENT_RE.search(NOTES_RE.sub("", doc)):
        problems.append("no statement reference (add one or allow-list it with a reason)")
    for pattern, counterpart, source in COUNTERPARTS:
        for m in re.finditer(pattern, doc):
            groups = [g for g in m.groups() if g is not None] if m.groups() else []
            need = counterpart.format(*groups) if groups else counterpart
            if not re.search(need, doc):
                problems.append(f"'{m.group(0)}' without its counterpart /{need}/ ({source})")
    return problems


PUBLIC = public_callables()


# ---------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------

def test_discovery_finds_the_known_public_callables():
    # Spot checks across the three packages (a broken walk would find nothing).
    for name in ["theory.coverage.coverage_profile", "theory.bounds.kl_to_coverage_sharp",
                 "theory.models.linear.AutoregressiveLinearModel",
                 "simulations.learners.selection.simple_tournament",
                 "simulations.samplers.vgb.VGBSampler"]:
        assert name in PUBLIC
    assert len(PUBLIC) > 200


@pytest.mark.parametrize("name", list(PUBLIC))
def test_docstring(name):
    problems = docstring_problems(PUBLIC[name], name)
    assert not problems, f"{name}: " + "; ".join(problems)


def test_allow_list_is_current():
    stale = [n for n in NO_STATEMENT if n not in PUBLIC]
    assert not stale, f"allow-listed names that are not public callables: {stale}"
    cites = [n for n in NO_STATEMENT if STATEMENT_RE.search(NOTES_RE.sub("", inspect.getdoc(PUBLIC[n]) or ""))]
    assert not cites, f"allow-listed callables that do cite a statement (remove them): {cites}"
    assert all(isinstance(r, str) and len(r) > 20 for r in NO_STATEMENT.values())


# ----------------------------------------------------------------- the checker can fail

def _fake_no_reference(p, N):
    """Coverage at one threshold.

    Parameters
    ----------
    p : float
        A probability.
    N : float
        The threshold.

    Returns
    -------
    float
        The coverage.
    """
    return p * N


def _fake_good(p, N):
    """Coverage bound of Prop. F.1 (ICLR) / D.1 (arXiv).

    Parameters
    ----------
    p : float
        A probability.
    N : float
        The threshold.

    Returns
    -------
    float
        The bound.
    """
    return p * N


def _fake_one_numbering(p):
    """Coverage bound of Prop. F.1, as printed in the camera-ready.

    Parameters
    ----------
    p : float
        A probability.

    Returns
    -------
    float
        The bound.
    """
    return p


def _fake_no_sections(p, N):
    """Coverage bound of Theorem 4.2."""
    return p * N


def _fake_missing_parameter(p, N):
    """Coverage bound of Theorem 4.2.

    Parameters
    ----------
    p : float
        A probability.

    Returns
    -------
    float
        The bound.
    """
    return p * N


def _fake_generator(n):
    """Draws of Algorithm 1.

    Parameters
    ----------
    n : int
        How many.
    """
    yield from range(n)


class _FakeRecord:
    """Result of Theorem 4.1's sampler."""

    def __init__(self, value):
        self.value = value


def test_checker_reports_a_missing_statement_reference():
    problems = docstring_problems(_fake_no_reference, "fake")
    assert any("no statement reference" in p for p in problems), problems
    assert docstring_problems(_fake_no_reference, "fake", no_statement={"fake": "a reason"}) == []
    assert docstring_problems(_fake_good, "fake") == []


def test_checker_reports_a_single_numbering():
    problems = docstring_problems(_fake_one_numbering, "fake")
    assert problems and "counterpart" in problems[0] and "D\\.1" in problems[0], problems


def test_checker_reports_missing_sections_and_parameters():
    assert set(docstring_problems(_fake_no_sections)) == {"no Parameters section", "no Returns section",
                                                         "parameters not documented: p, N"}
    assert docstring_problems(_fake_missing_parameter) == ["parameters not documented: N"]
    assert docstring_problems(_fake_generator) == ["generator without a Yields section"]
    assert docstring_problems(_FakeRecord) == ["class without a Parameters or Attributes section"]
    assert docstring_problems(lambda: None) == ["no docstring"]


@pytest.mark.parametrize("text, ok", [
    ("Prop. F.10 (ICLR) / D.10 (arXiv).", True),
    ("Prop. F.10 (ICLR) / D.1 (arXiv).", False),
    ("Theorem 6.2 (ICLR) / 6.3 (arXiv): simple tournament.", True),
    ("Theorem 6.2 of the paper.", False),
    ("Theorem G.2 (ICLR) / Theorem 6.2 (arXiv).", True),
    ("Lemma K.7 (ICLR) / I.7 (arXiv).", True),
    ("Lemma K.7.", False),
    ("Eq. (13) ICLR / (28) arXiv.", True),
    ("Eq. (13).", False),
    ("Definition 1.1, Eq. (1).", True),
    ("Lemma J.1 (ICLR; arXiv number not in the reference notes).", True),
    ("Lemma J.1.", False),
    ("Section 3 (Bernoulli case study).", True),
    ("Concave (Section 2.4 of the reference notes).", False),
    ("Biased otherwise (reference notes §A.7).", False),
    ("Biased otherwise (reference notes §A.7); not VGB Theorem 4.1's sampler.", True),
])
def test_counterpart_rule(text, ok):
    def f():
        pass
    f.__doc__ = text
    problems = [p for p in docstring_problems(f) if "counterpart" in p or "statement" in p]
    assert (not problems) == ok, problems
