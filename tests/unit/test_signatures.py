"""Consistent signatures: keyword-only rates, and the old spellings kept for one release.

* every public function of :mod:`theory.rates` takes its first argument positionally and the
  rest by keyword, in one order across the module;
* the former all-positional calls (whose order of ``B`` and ``sigma_sq`` changed from one
  function to the next) return the same number and raise a ``DeprecationWarning`` that
  names the keyword call; the comparison would fail if the legacy order were mapped wrongly
  (negative control: the same call with two arguments swapped gives another number);
* :func:`theory.deprecation.legacy_positional` rejects what Python would reject.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest

from theory import rates
from theory.deprecation import legacy_positional

#: One value per argument name; distinct magnitudes so that a swap changes the result.
VALUES = dict(n=64, T=100, N=10.0, a=0.5, H=7, d=3, class_size=20, best_coverage=0.2, sigma_sq=9.0,
              B=2.0, M=5.0, K=4, eta=0.01, proof=False, delta=0.1, C=math.log(4.0), alpha=0.6)

#: The order of the keyword-only arguments across the module.
ORDER = ("N", "a", "H", "d", "class_size", "best_coverage", "sigma_sq", "B", "M", "K", "eta", "proof",
         "delta", "C")

FUNCS = [getattr(rates, n) for n in rates.__all__]
LEGACY = [f for f in FUNCS if hasattr(f, "legacy_order")]


def _kwargs(f):
    return {p: VALUES[p] for p in inspect.signature(f).parameters if p in VALUES}


@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f.__name__)
def test_rates_take_one_positional_then_keywords_in_the_module_order(f):
    params = list(inspect.signature(f).parameters.values())
    assert params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params[0].name in ("n", "T", "alpha", "target")
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:]), f.__name__
    names = [p.name for p in params[1:]]
    assert names == sorted(names, key=ORDER.index), f"{f.__name__}: {names} not in the module order"


def test_every_formerly_positional_rate_keeps_its_legacy_order():
    assert {f.__name__ for f in LEGACY} == set(rates.__all__) - {
        "finite_class_mle_coverage_bound", "sgd_kl_bound", "ttt_kl_bound",
        "normalized_sgd_min_steps"}   # keyword-only already


@pytest.mark.parametrize("f", LEGACY, ids=lambda f: f.__name__)
def test_legacy_positional_call_gives_the_same_number_and_warns(f):
    kw = _kwargs(f)
    new = f(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = f(kw.pop(next(iter(inspect.signature(f).parameters))), **kw)   # the new spelling: silent
    np.testing.assert_array_equal(again, new)
    kw = _kwargs(f)
    legacy = [kw[name] for name in f.legacy_order]
    with pytest.warns(DeprecationWarning, match=rf"call {f.__name__}\(") as rec:
        old = f(*legacy)
    assert "=..." in str(rec[0].message) and rec[0].filename == __file__   # names the keyword call, at the caller
    np.testing.assert_array_equal(old, new)
    # negative control: the same positional values in another order give another number
    swapped = legacy[:]
    i, j = (f.legacy_order.index("sigma_sq"), f.legacy_order.index("B")) if "B" in f.legacy_order else (0, 1)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            other = f(*swapped)
        except ValueError:            # the swap left an argument's domain: also not the same number
            return
    assert not np.allclose(other, new), f"{f.__name__}: the check cannot tell the orders apart"


def test_the_b_sigma_swap_is_no_longer_silent():
    """Old orders differed (``sgd_step_size(T, H, B, sigma_sq)`` vs ``ttt_kl_rate(T, sigma_sq, B)``); now both read names."""
    T, H, s2, B = 100, 7, 9.0, 2.0
    with pytest.warns(DeprecationWarning):
        old = rates.sgd_step_size(T, H, B, s2)
    assert old == rates.sgd_step_size(T, H=H, sigma_sq=s2, B=B) == min(1 / (2 * H * B ** 2), math.sqrt(2 / (s2 * T)))
    with pytest.warns(DeprecationWarning):
        old = rates.ttt_kl_rate(T, s2, B)
    assert old == rates.ttt_kl_rate(T, sigma_sq=s2, B=B) == pytest.approx(math.sqrt(s2 / T) + B ** 2 / T)


def test_legacy_first_argument_with_the_rest_by_keyword():
    """``tournament_coverage_rate``'s first parameter was ``N``; ``f(N, ..., n=n)`` still means that."""
    kw = dict(a=0.5, best_coverage=0.2, class_size=20, delta=0.1)
    new = rates.tournament_coverage_rate(15, N=16.0, **kw)
    with pytest.warns(DeprecationWarning):
        old = rates.tournament_coverage_rate(16.0, n=15, **kw)
    assert old == new
    with pytest.warns(DeprecationWarning):
        assert rates.offset_tournament_coverage_rate(20, n=15, delta=0.1) == \
            rates.offset_tournament_coverage_rate(15, class_size=20, delta=0.1)


def test_legacy_positional_rejects_what_python_rejects():
    with pytest.raises(TypeError, match="at most 4"):
        rates.linear_mle_coverage_rate(1, 2, 3, 4, 5)
    with pytest.raises(TypeError, match="multiple values for `N`"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        rates.linear_mle_coverage_rate(64, 10.0, 9.0, N=10.0)
    with pytest.raises(TypeError, match="B"):                      # missing keyword: Python's own message
        rates.linear_mle_coverage_rate(64, N=10.0, sigma_sq=9.0)
    with pytest.raises(ValueError, match="not parameters"):
        legacy_positional("x", "y")(lambda x, *, z: x)


def test_legacy_positional_keeps_the_signature_and_docstring():
    f = rates.sgd_step_size
    assert str(inspect.signature(f)) == "(T, *, H, sigma_sq, B)"
    assert "sigma_sq : array_like" in f.__doc__ and "%(" not in f.__doc__


# ----------------------------------------------------------------------------- one name per thing
def test_projection_function_and_transform_have_different_names():
    """``theory.models.projection_*`` are array functions; ``optimizers.project_*`` are transforms."""
    import theory.models as tm
    from simulations.learners import optimizers

    assert "projection_l2_ball" in tm.__all__ and "project_l2_ball" not in tm.__all__
    assert "project_l2_ball" in optimizers.__all__ and "projection_l2_ball" not in optimizers.__all__
    theta = np.array([[3.0, 4.0], [0.1, 0.2]])
    np.testing.assert_allclose(tm.projection_l2_ball(theta, 1.0), [[0.6, 0.8], [0.1, 0.2]], rtol=1e-15)
    for old, new, args in [("project_l2_ball", "projection_l2_ball", (theta, 1.0)),
                           ("project_box", "projection_box", (theta, -1.0, 0.5))]:
        with pytest.warns(DeprecationWarning, match=rf"theory\.models\.{old} is deprecated.*{new}") as rec:
            got = getattr(tm, old)(*args)
        assert rec[0].filename == __file__
        np.testing.assert_array_equal(got, getattr(tm, new)(*args))
        from theory.models import projection
        assert getattr(projection, old) is getattr(tm, old)


# ----------------------------------------------------------------------------- data first
def _k7():
    from theory.instances import lemma_k7
    return lemma_k7(8, B=8.0, B_bar=4.0, mu_plus=0.5)


def _distill(*args, **kwargs):
    from simulations.learners.distillation import train_distillation
    from simulations.learners.optimizers import sgd
    return train_distillation(*args, optimizer=sgd(0.05), N=8.0, T=6, rng=3, **kwargs).final_theta


def test_train_distillation_takes_the_teacher_first():
    inst = _k7()
    teacher_markov = inst.data.as_markov()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = _distill(teacher_markov, inst.model_class, replicates=2)
        keyword = _distill(inst.data, model=inst.model_class, replicates=2)     # ALM teacher, by keyword
    # former order, told apart by type (a Markov model cannot be the student): swapped, with a warning
    with pytest.warns(DeprecationWarning, match=r"train_distillation\(teacher, model, \.\.\.\)") as rec:
        old = _distill(inst.model_class, teacher_markov, replicates=2)
    assert rec[0].filename == __file__
    np.testing.assert_array_equal(old, new)
    # a batched student cannot be the teacher either
    batched = inst.model_class.replace(theta=np.zeros((2, inst.model_class.dim)))
    with pytest.warns(DeprecationWarning):
        old = _distill(batched, inst.data)
    np.testing.assert_array_equal(old, keyword)
    # two unbatched linear models: undecidable, read in the new order, and said so
    with pytest.warns(FutureWarning, match="cannot tell"):
        ambiguous = _distill(inst.data, inst.model_class, replicates=2)
    np.testing.assert_array_equal(ambiguous, keyword)
    assert not np.array_equal(new, np.zeros_like(new))          # the comparison is not vacuous


def test_train_with_checkpoints_takes_the_data_first():
    from simulations.learners.checkpoints import online_sampler, train_with_checkpoints
    from simulations.learners.optimizers import sgd
    from theory.instances import prop_3_2_kl_lower_bound
    data = prop_3_2_kl_lower_bound(10, 4).data
    kw = dict(steps=5, batch=4, checkpoint_steps=[0, 5], rng=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = train_with_checkpoints(online_sampler(data, buffer=64), data.replace(theta=[0.0]), sgd(0.1), **kw)
    with pytest.warns(DeprecationWarning, match=r"train_with_checkpoints\(sampler, model"):
        old = train_with_checkpoints(data.replace(theta=[0.0]), online_sampler(data, buffer=64), sgd(0.1), **kw)
    np.testing.assert_array_equal(old.thetas, new.thetas)
    assert not np.array_equal(new.thetas[0], new.thetas[-1])


def test_train_one_pass_takes_the_data_first():
    from simulations.learners.optimizers import chain, project_l2_ball, sgd
    from simulations.learners.training import train_one_pass
    inst = _k7()
    markov = inst.data.as_markov()
    opt = chain(sgd(0.05), project_l2_ball(1.0))
    kw = dict(T=6, replicates=2, rng=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = train_one_pass(markov, inst.model_class, opt, **kw).final_theta
    with pytest.warns(DeprecationWarning, match=r"train_one_pass\(data, model, \.\.\.\)") as rec:
        old = train_one_pass(inst.model_class, markov, opt, **kw).final_theta
    assert rec[0].filename == __file__
    np.testing.assert_array_equal(old, new)
    assert not np.array_equal(new, np.zeros_like(new))


def test_reordered_needs_the_same_two_names():
    from theory.deprecation import reordered
    with pytest.raises(ValueError, match="same two names"):
        reordered(("a", "b"), ("a", "c"), is_old_order=lambda x, y: False)
