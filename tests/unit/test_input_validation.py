"""Bad input raises ``ValueError``/``TypeError`` whose message names the argument in backticks.

Each case is ``(call, exception, name)``: ``call()`` must raise ``exception`` and the message must
contain ```name```.  Valid calls of the same functions are exercised by the other test files;
here one valid call per function is also checked (``test_valid_baselines_do_not_raise``) so that
a case cannot pass merely because the function rejects everything.
"""

import numpy as np
import pytest

from theory.bounds import kl_to_coverage, kl_to_coverage_sharp, kl_tightness_witness
from theory.coverage import (answer_level_coverage, coverage_profile, empirical_coverage,
                             on_policy_coverage, per_prompt_coverage)
from theory.divergences import (cross_entropy, kl_divergence, squared_hellinger, stopped_kl,
                                total_variation)
from theory.intervals import clopper_pearson
from theory.log_ratio import exact_log_ratio, exact_stopped_kl, markov_kl, sampled_log_ratio
from theory.models import (AutoregressiveLinearModel, CallableFeatures, MarkovModel,
                           TabularFeatures, categorical_model, enumerate_sequences,
                           projection_box, projection_l2_ball)

LP = np.log([0.25, 0.75])
TABLE = np.random.default_rng(0).normal(size=(2, 3, 3, 2, 2))       # X=2, H=3, V=2, d=2
FEATS = TabularFeatures(TABLE, horizon=3)
MODEL = AutoregressiveLinearModel(FEATS, [0.5, -0.5])
BATCH = AutoregressiveLinearModel(FEATS, [[0.5, -0.5], [1.0, 0.0]])
CALL = AutoregressiveLinearModel(
    CallableFeatures(lambda x, prefix, h: TABLE[x, h, prefix[:, h - 1] if h else 2], 2, 3, 2, 2), [0.5, -0.5])
BAD_SHAPE_CALL = AutoregressiveLinearModel(
    CallableFeatures(lambda x, prefix, h: np.zeros((len(x), 3, 2)), 2, 3, 2, 2), [0.5, -0.5])
MARKOV = MODEL.as_markov()
X_OK = np.array([0, 1])
Y_OK = np.array([[0, 1, 1], [1, 0, 0]])
RNG = np.random.default_rng(0)


def unnormalised_markov():
    t = np.array(MARKOV.log_probs)
    t[0, 0, 0, 0] += 0.1
    return t


CASES = {
    # ------------------------------------------------------------- coverage
    "coverage/log_ratio-2d": (lambda: coverage_profile([[0.0]], 2.0), ValueError, "log_ratio"),
    "coverage/log_ratio-empty": (lambda: coverage_profile([], 2.0), ValueError, "log_ratio"),
    "coverage/log_ratio-nan": (lambda: coverage_profile([np.nan, 0.0], 2.0), ValueError, "log_ratio"),
    "coverage/log_ratio-nan-positive-weight":
        (lambda: coverage_profile([np.nan, 0.0], 2.0, weights=[0.5, 0.5]), ValueError, "log_ratio"),
    "coverage/log_ratio-str": (lambda: coverage_profile("abc", 2.0), TypeError, "log_ratio"),
    "coverage/N<1": (lambda: coverage_profile([0.0], 0.5), ValueError, "N"),
    "coverage/N-nan": (lambda: coverage_profile([0.0], np.nan), ValueError, "N"),
    "coverage/N-negative-array": (lambda: coverage_profile([0.0], [2.0, -1.0]), ValueError, "N"),
    "coverage/N-empty": (lambda: coverage_profile([0.0], []), ValueError, "N"),
    "coverage/weights-shape": (lambda: coverage_profile([0.0, 1.0], 2.0, weights=[1.0]), ValueError, "weights"),
    "coverage/weights-sum": (lambda: coverage_profile([0.0, 1.0], 2.0, weights=[0.5, 0.6]), ValueError, "weights"),
    "coverage/weights-negative":
        (lambda: coverage_profile([0.0, 1.0], 2.0, weights=[1.5, -0.5]), ValueError, "weights"),
    "coverage/weights-nan": (lambda: coverage_profile([0.0, 1.0], 2.0, weights=[np.nan, 1.0]), ValueError, "weights"),
    "per_prompt/log_ratio-1d": (lambda: per_prompt_coverage([0.0, 1.0], 2.0), ValueError, "log_ratio"),
    "per_prompt/weights-shape":
        (lambda: per_prompt_coverage([[0.0, 1.0]], 2.0, weights=[[1.0]]), ValueError, "weights"),
    "per_prompt/weights-rows":
        (lambda: per_prompt_coverage([[0.0, 1.0]], 2.0, weights=[[0.2, 0.2]]), ValueError, "weights"),
    "per_prompt/N<1": (lambda: per_prompt_coverage([[0.0]], 0.0), ValueError, "N"),
    "answer/log_p-unnormalised":
        (lambda: answer_level_coverage([[-1.0, -1.0]], [LP], [0, 1], 2.0), ValueError, "log_p"),
    "answer/log_q-shape": (lambda: answer_level_coverage([LP], [LP, LP], [0, 1], 2.0), ValueError, "log_q"),
    "answer/log_p-positive": (lambda: answer_level_coverage([[0.5, -2.0]], [LP], [0, 1], 2.0), ValueError, "log_p"),
    "answer/answer-negative": (lambda: answer_level_coverage([LP], [LP], [0, -1], 2.0), ValueError, "answer"),
    "answer/answer-shape": (lambda: answer_level_coverage([LP], [LP], [0, 1, 1], 2.0), ValueError, "answer"),
    "answer/answer-float": (lambda: answer_level_coverage([LP], [LP], [0, 0.5], 2.0), TypeError, "answer"),
    "answer/prompt_weights":
        (lambda: answer_level_coverage([LP], [LP], [0, 1], 2.0, prompt_weights=[0.5, 0.5]), ValueError,
         "prompt_weights"),
    "answer/N<1": (lambda: answer_level_coverage([LP], [LP], [0, 1], 0.9), ValueError, "N"),
    "empirical/samples-mismatch": (lambda: empirical_coverage([0.0, 0.0], [0.0], 2.0), ValueError, "loglik_ref"),
    "empirical/no-broadcast":
        (lambda: empirical_coverage(np.zeros((2, 3)), np.zeros((3, 3)), 2.0), ValueError, "loglik_ref"),
    "empirical/nan-ref": (lambda: empirical_coverage([np.nan], [0.0], 2.0), ValueError, "loglik_ref"),
    "empirical/posinf-model": (lambda: empirical_coverage([0.0], [np.inf], 2.0), ValueError, "loglik_model"),
    "empirical/empty": (lambda: empirical_coverage([], [], 2.0), ValueError, "loglik_ref"),
    "empirical/N<1": (lambda: empirical_coverage([0.0], [0.0], 0.5), ValueError, "N"),
    "on_policy/1d": (lambda: on_policy_coverage([0.0], [0.0], 2.0), ValueError, "loglik_ref"),
    "on_policy/weights-shape":
        (lambda: on_policy_coverage([[0.0, 0.0]], [[0.0, 0.0]], 2.0, weights=[[1.0]]), ValueError, "weights"),
    "on_policy/no-broadcast":
        (lambda: on_policy_coverage(np.zeros((2, 3)), np.zeros((3, 3)), 2.0), ValueError, "loglik_ref"),
    # ---------------------------------------------------------- divergences
    "kl/log_p-positive": (lambda: kl_divergence([0.1, -3.0], LP), ValueError, "log_p"),
    "kl/log_p-unnormalised": (lambda: kl_divergence(np.log([0.5, 0.6]), LP), ValueError, "log_p"),
    "kl/log_q-nan": (lambda: kl_divergence(LP, [np.nan, 0.0]), ValueError, "log_q"),
    "kl/log_q-shape": (lambda: kl_divergence(LP, [0.0]), ValueError, "log_q"),
    "kl/log_p-3d": (lambda: kl_divergence(LP[None, None], LP[None, None]), ValueError, "log_p"),
    "kl/empty": (lambda: kl_divergence([], []), ValueError, "log_p"),
    "kl/prompt_weights": (lambda: kl_divergence([LP, LP], [LP, LP], prompt_weights=[1.0]), ValueError,
                          "prompt_weights"),
    "ce/log_q-posinf": (lambda: cross_entropy(LP, [np.inf, 0.0]), ValueError, "log_q"),
    "hellinger/log_q-unnormalised": (lambda: squared_hellinger(LP, [0.0, 0.0]), ValueError, "log_q"),
    "tv/prompt_weights-negative":
        (lambda: total_variation([LP, LP], [LP, LP], prompt_weights=[1.5, -0.5]), ValueError, "prompt_weights"),
    "stopped/negative": (lambda: stopped_kl([-0.1, 1.0], 2.0), ValueError, "token_kl_sums"),
    "stopped/3d": (lambda: stopped_kl(np.ones((2, 2, 2)), 2.0), ValueError, "token_kl_sums"),
    "stopped/nan": (lambda: stopped_kl([np.nan], 2.0), ValueError, "token_kl_sums"),
    "stopped/empty": (lambda: stopped_kl([], 2.0), ValueError, "token_kl_sums"),
    "stopped/N<1": (lambda: stopped_kl([1.0], 0.5), ValueError, "N"),
    "stopped/weights": (lambda: stopped_kl([1.0, 2.0], 2.0, weights=[1.0]), ValueError, "weights"),
    # --------------------------------------------------------------- bounds
    "bounds/kl-negative": (lambda: kl_to_coverage(-0.1, 10.0), ValueError, "kl"),
    "bounds/kl-nan": (lambda: kl_to_coverage_sharp(np.nan, 10.0), ValueError, "kl"),
    "bounds/N<1": (lambda: kl_tightness_witness(0.1, 0.5), ValueError, "N"),
    # ------------------------------------------------------------ intervals
    "cp/k>n": (lambda: clopper_pearson(5, 4), ValueError, "k"),
    "cp/k<0": (lambda: clopper_pearson(-1, 4), ValueError, "k"),
    "cp/n<1": (lambda: clopper_pearson(0, 0), ValueError, "n"),
    "cp/k-fraction": (lambda: clopper_pearson(0.5, 4), TypeError, "k"),
    "cp/level": (lambda: clopper_pearson(1, 4, level=1.0), ValueError, "level"),
    # ---------------------------------------------------------- features
    "tabular/table-4d": (lambda: TabularFeatures(np.zeros((1, 3, 2, 1)), horizon=2), ValueError, "table"),
    "tabular/table-V+1": (lambda: TabularFeatures(np.zeros((1, 1, 2, 2, 1)), horizon=2), ValueError, "table"),
    "tabular/table-positions": (lambda: TabularFeatures(np.zeros((1, 3, 3, 2, 1)), horizon=2), ValueError, "table"),
    "tabular/table-nan": (lambda: TabularFeatures(np.full((1, 1, 3, 2, 1), np.nan), horizon=2), ValueError, "table"),
    "tabular/table-empty-d": (lambda: TabularFeatures(np.zeros((1, 1, 3, 2, 0)), horizon=2), ValueError, "table"),
    "tabular/horizon-0": (lambda: TabularFeatures(np.zeros((1, 1, 3, 2, 1)), horizon=0), ValueError, "horizon"),
    "tabular/horizon-float": (lambda: TabularFeatures(np.zeros((1, 1, 3, 2, 1)), horizon=2.0), TypeError, "horizon"),
    "callable/fn": (lambda: CallableFeatures(3, 1, 2, 2, 1), TypeError, "fn"),
    "callable/horizon-0": (lambda: CallableFeatures(lambda *a: None, 1, 0, 2, 1), ValueError, "horizon"),
    "callable/vocab_size-0": (lambda: CallableFeatures(lambda *a: None, 1, 2, 0, 1), ValueError, "vocab_size"),
    "callable/n_prompts-0": (lambda: CallableFeatures(lambda *a: None, 0, 2, 2, 1), ValueError, "n_prompts"),
    "callable/dim-0": (lambda: CallableFeatures(lambda *a: None, 1, 2, 2, 0), ValueError, "dim"),
    "callable/fn-returns-wrong-shape": (lambda: BAD_SHAPE_CALL.log_prob(X_OK, Y_OK), ValueError, "fn"),
    # ------------------------------------------------------ linear model
    "linear/features": (lambda: AutoregressiveLinearModel(np.zeros(3), [0.0]), TypeError, "features"),
    "linear/theta-dim": (lambda: AutoregressiveLinearModel(FEATS, [0.0, 0.0, 0.0]), ValueError, "theta"),
    "linear/theta-3d": (lambda: AutoregressiveLinearModel(FEATS, np.zeros((1, 1, 2))), ValueError, "theta"),
    "linear/theta-nan": (lambda: AutoregressiveLinearModel(FEATS, [np.nan, 0.0]), ValueError, "theta"),
    "linear/theta-inf": (lambda: AutoregressiveLinearModel(FEATS, [np.inf, 0.0]), ValueError, "theta"),
    "linear/prompt_weights":
        (lambda: AutoregressiveLinearModel(FEATS, [0.0, 0.0], prompt_weights=[0.5, 0.6]), ValueError,
         "prompt_weights"),
    "linear/x-out-of-range": (lambda: MODEL.log_prob([0, 2], Y_OK), ValueError, "x"),
    "linear/x-negative": (lambda: MODEL.log_prob([0, -1], Y_OK), ValueError, "x"),
    "linear/y-out-of-range": (lambda: MODEL.log_prob(X_OK, Y_OK + 1), ValueError, "y"),
    "linear/y-shape": (lambda: MODEL.log_prob(X_OK, Y_OK[:, :2]), ValueError, "y"),
    "linear/y-float": (lambda: MODEL.log_prob(X_OK, Y_OK + 0.5), TypeError, "y"),
    "linear/callable-y-out-of-range": (lambda: CALL.token_log_probs(X_OK, Y_OK + 1), ValueError, "y"),
    "linear/paired-unbatched": (lambda: MODEL.log_prob(X_OK, Y_OK, paired=True), ValueError, "x"),
    "linear/paired-wrong-axis": (lambda: BATCH.log_prob(np.zeros((3, 1), int), np.zeros((3, 1, 3), int),
                                                        paired=True), ValueError, "x"),
    "linear/grad-level": (lambda: MODEL.grad_log_prob(X_OK, Y_OK, level="word"), ValueError, "level"),
    "linear/hvp-vector": (lambda: MODEL.hvp(X_OK, Y_OK, [1.0, 2.0, 3.0]), ValueError, "vector"),
    "linear/sample-rng": (lambda: MODEL.sample(3, rng=1.5), TypeError, "rng"),
    "linear/sample-legacy-rng": (lambda: MODEL.sample(3, rng=np.random.RandomState(0)), TypeError, "rng"),
    "linear/callable-sample-rng": (lambda: CALL.sample(3, rng="0"), TypeError, "rng"),
    "linear/sample-n": (lambda: MODEL.sample(-1, rng=RNG), ValueError, "n"),
    "linear/sample-x": (lambda: MODEL.sample(2, rng=RNG, x=[0, 5]), ValueError, "x"),
    "linear/callable-sample-x": (lambda: CALL.sample(2, rng=RNG, x=[0, 5]), ValueError, "x"),
    "linear/sigma-data": (lambda: MODEL.sigma_star_sq(categorical_model([0.5, 0.5])), ValueError, "data"),
    "linear/enumerate-too-large": (lambda: MODEL.enumerate_log_probs(max_sequences=4), ValueError, "max_sequences"),
    # ------------------------------------------------------ Markov model
    "markov/log_probs-unnormalised": (lambda: MarkovModel(unnormalised_markov(), 3), ValueError, "log_probs"),
    "markov/log_probs-nan": (lambda: MarkovModel(np.full((1, 1, 3, 2), np.nan), 3), ValueError, "log_probs"),
    "markov/log_probs-posinf": (lambda: MarkovModel(np.full((1, 1, 3, 2), np.inf), 3), ValueError, "log_probs"),
    "markov/log_probs-3d": (lambda: MarkovModel(np.log(np.full((1, 3, 2), 0.5)), 3), ValueError, "log_probs"),
    "markov/log_probs-V+1": (lambda: MarkovModel(np.log(np.full((1, 1, 2, 2), 0.5)), 3), ValueError, "log_probs"),
    "markov/log_probs-positions":
        (lambda: MarkovModel(np.log(np.full((1, 2, 3, 2), 0.5)), 3), ValueError, "log_probs"),
    "markov/horizon-0": (lambda: MarkovModel(np.log(np.full((1, 1, 3, 2), 0.5)), 0), ValueError, "horizon"),
    "markov/prompt_weights":
        (lambda: MarkovModel(np.log(np.full((2, 1, 3, 2), 0.5)), 2, prompt_weights=[1.0]), ValueError,
         "prompt_weights"),
    "markov/x-out-of-range": (lambda: MARKOV.log_prob([0, 3], Y_OK), ValueError, "x"),
    "markov/y-out-of-range": (lambda: MARKOV.token_log_probs(X_OK, Y_OK * 2), ValueError, "y"),
    "markov/sample-rng": (lambda: MARKOV.sample(2, rng=np.random.default_rng), TypeError, "rng"),
    "categorical/probs-sum": (lambda: categorical_model([0.5, 0.6]), ValueError, "probs"),
    "categorical/probs-negative": (lambda: categorical_model([1.5, -0.5]), ValueError, "probs"),
    "categorical/probs-nan": (lambda: categorical_model([np.nan, 1.0]), ValueError, "probs"),
    "categorical/probs-empty": (lambda: categorical_model([]), ValueError, "probs"),
    "categorical/prompt_weights":
        (lambda: categorical_model([0.5, 0.5], prompt_weights=[0.5, 0.5]), ValueError, "prompt_weights"),
    "sequences/vocab_size": (lambda: enumerate_sequences(0, 2), ValueError, "vocab_size"),
    "sequences/horizon": (lambda: enumerate_sequences(2, 0), ValueError, "horizon"),
    # --------------------------------------------------------- log-ratio
    "law/data-type": (lambda: exact_log_ratio(np.zeros(2), MODEL), TypeError, "data"),
    "law/model-type": (lambda: exact_log_ratio(MODEL, "model"), TypeError, "model"),
    "law/data-batch": (lambda: exact_log_ratio(BATCH, MODEL), ValueError, "data"),
    "law/mismatch": (lambda: exact_log_ratio(categorical_model([0.5, 0.5]), MODEL), ValueError, "data"),
    "law/prompt-weights":
        (lambda: exact_log_ratio(MODEL, MODEL.replace(prompt_weights=[0.9, 0.1])), ValueError, "data"),
    "law/sampled-n": (lambda: sampled_log_ratio(MODEL, MODEL, 0, rng=RNG), ValueError, "n"),
    "law/sampled-rng": (lambda: sampled_log_ratio(MODEL, MODEL, 5, rng=1.5), TypeError, "rng"),
    "law/stopped-N": (lambda: exact_stopped_kl(MODEL, MODEL, 0.5), ValueError, "N"),
    "law/markov-mismatch": (lambda: markov_kl(categorical_model([0.5, 0.5]), MODEL), ValueError, "data"),
    "law/callable-markov": (lambda: markov_kl(CALL, CALL), TypeError, "TabularFeatures"),
    # -------------------------------------------------------- projections
    "proj/radius-negative": (lambda: projection_l2_ball([1.0], -1.0), ValueError, "radius"),
    "proj/radius-nan": (lambda: projection_l2_ball([1.0], np.nan), ValueError, "radius"),
    "proj/theta-nan": (lambda: projection_l2_ball([np.nan], 1.0), ValueError, "theta"),
    "proj/theta-scalar": (lambda: projection_l2_ball(1.0, 1.0), ValueError, "theta"),
    "proj/box-order": (lambda: projection_box([0.0], 1.0, -1.0), ValueError, "low"),
    "proj/box-theta-inf": (lambda: projection_box([np.inf], -1.0, 1.0), ValueError, "theta"),
    "proj/box-high-type": (lambda: projection_box([0.0], -1.0, "1"), TypeError, "high"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_names_the_argument(case):
    call, exc, name = CASES[case]
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    needle = name if name == "TabularFeatures" else f"`{name}`"
    assert needle in message, f"{case}: message {message!r} does not name {needle}"


def test_valid_baselines_do_not_raise():
    """The same functions accept valid input (the cases above fail for the stated reason only)."""
    coverage_profile([0.0, 1.0], [1.0, 2.0], weights=[0.5, 0.5])
    per_prompt_coverage([[0.0, 1.0]], 2.0, weights=[[0.5, 0.5]])
    answer_level_coverage([LP], [LP], [0, 1], 2.0)
    empirical_coverage([0.0, 0.0], [0.0, 0.0], 2.0)
    on_policy_coverage([[0.0, 0.0]], [[0.0, 0.0]], 2.0, weights=[[0.5, 0.5]])
    kl_divergence([LP, LP], [LP, LP], prompt_weights=[0.5, 0.5])
    stopped_kl([1.0, 2.0], 2.0, weights=[0.5, 0.5])
    kl_to_coverage(0.1, 10.0), kl_to_coverage_sharp(0.1, 10.0), kl_tightness_witness(0.1, 2.0)
    clopper_pearson(4, 4, level=0.5)
    CallableFeatures(lambda *a: None, 1, 2, 2, 1)
    MODEL.log_prob(X_OK, Y_OK), CALL.log_prob(X_OK, Y_OK), MARKOV.log_prob(X_OK, Y_OK)
    BATCH.log_prob(np.zeros((2, 1), int), np.zeros((2, 1, 3), int), paired=True)
    MODEL.hvp(X_OK, Y_OK, [1.0, 2.0])
    MODEL.sample(2, rng=RNG, x=[0, 1]), CALL.sample(2, rng=RNG, x=[0, 1])
    MODEL.sigma_star_sq(MARKOV)
    exact_log_ratio(MODEL, CALL), sampled_log_ratio(MODEL, MODEL, 5, rng=RNG)
    projection_l2_ball([1.0], 0.0), projection_box([0.0], -1.0, 1.0)
    categorical_model([0.5, 0.5], prompt_weights=[1.0])


def test_integers_beyond_64_bits():
    """Python ints above int64: thresholds become floats (exact comparison of a huge N), counts
    are refused by name instead of wrapping around (2**63 used to come back negative)."""
    import numpy as np

    from theory.best_of_n import pass_at_k
    from theory.coverage import coverage_profile

    lr, w = np.log([2.0, 0.5, 1.0]), np.array([0.2, 0.3, 0.5])
    assert coverage_profile(lr, 10 ** 20, weights=w) == 0.0
    np.testing.assert_array_equal(coverage_profile(lr, [1, 10 ** 20], weights=w), [0.7, 0.0])
    for n in (2 ** 63, 2 ** 70):
        with pytest.raises(ValueError, match="`n` entries must fit in 64-bit"):
            pass_at_k(n, 3, 2)
    assert 0 < pass_at_k(2 ** 62, 3, 2) < 1e-17


@pytest.mark.parametrize("N", [True, [True, False], np.array([True])])
def test_boolean_thresholds_are_refused(N):
    from theory.coverage import coverage_profile

    with pytest.raises(TypeError, match="`N` must be real numbers >= 1, got a boolean"):
        coverage_profile(np.zeros(2), N, weights=[0.5, 0.5])
