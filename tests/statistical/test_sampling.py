r"""Sampling frequencies of the models match their exact probabilities.

For each sampler, ``n`` pairs ``(x, y)`` are drawn and counted on the enumerated joint support
``X x V^H``; the counts are compared with ``n mu(x) pi(y|x)`` by Pearson's chi-square test
(:func:`scipy.stats.chisquare`), after pooling the cells whose expected count is below
``MIN_EXPECTED = 20`` into one cell (so that the chi-square approximation of the null law is
accurate far into its tail).

Acceptance rule and calibration
-------------------------------
Accept iff the p-value is ``>= ALPHA = 1e-6``: each check has a false-fail rate of about
``1e-6`` (asymptotic chi-square law); the module makes 4 such checks, family-wise rate
``<= 4e-6`` (union bound).  Seeds are fixed (per-test ``rng`` fixture), so the outcome is
deterministic; the rate applies to a fresh draw of the seeds.

Power
-----
Each test also shows that the same rule rejects a *slightly wrong* sampler: the same model
with ``theta`` moved by ``delta`` = 0.05 (tabular) or 0.1 (callable), or a Markov table with
log-probabilities jittered by 0.05 (total variation distance between 0.5% and 5% from the
true joint law, checked and printed in the assertion messages).  The rejection is asserted on a realized sample
of the wrong sampler, and the *analytic* power of the rule against that alternative (noncentral
chi-square with ``lambda = n sum (p' - p)^2 / p``) must be at least ``1 - 1e-3``.
"""

import numpy as np
import pytest
from scipy import stats

from theory.models import AutoregressiveLinearModel, CallableFeatures, MarkovModel, TabularFeatures

pytestmark = pytest.mark.statistical

ALPHA = 1e-6
MIN_EXPECTED = 20.0
N_SAMPLES = 200_000


def joint_cell(model, x, y):
    """Index of (x, y) on the enumerated joint support (prompt-major, lexicographic y)."""
    V, H = model.vocab_size, model.horizon
    powers = V ** np.arange(H - 1, -1, -1)
    return x * V ** H + y.astype(np.int64) @ powers


def exact_joint(model):
    lp = model.enumerate_log_probs()                                 # (X, V^H)
    return (model.prompt_weights[:, None] * np.exp(lp)).ravel()


def pooled(counts, probs, n):
    """Pool the cells with expected count < MIN_EXPECTED into one (kept only if non-empty)."""
    expected = n * probs
    small = expected < MIN_EXPECTED
    obs = np.append(counts[~small], counts[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    keep = exp > 0
    return obs[keep], exp[keep], small


def chisquare_pvalue(counts, probs, n):
    obs, exp, _ = pooled(counts, probs, n)
    exp = exp * obs.sum() / exp.sum()                               # exact totals for scipy
    return stats.chisquare(obs, exp).pvalue


def analytic_power(p_true, p_wrong, n):
    """P[reject] when the sampler draws from ``p_wrong`` and the rule tests ``p_true``."""
    _, exp, small = pooled(np.zeros_like(p_true), p_true, n)
    q_cells = np.append(p_wrong[~small], p_wrong[small].sum())[: len(exp)]
    p_cells = exp / n
    lam = n * np.sum((q_cells - p_cells) ** 2 / p_cells)
    df = len(exp) - 1
    return stats.ncx2.sf(stats.chi2.isf(ALPHA, df), df, lam)


def check_sampler(model, wrong, rng):
    probs = exact_joint(model)
    probs_wrong = exact_joint(wrong)
    n = N_SAMPLES
    xs, ys = model.sample(n, rng=rng)
    counts = np.bincount(joint_cell(model, xs, ys), minlength=probs.size)
    assert counts.sum() == n
    assert np.all(counts[probs == 0] == 0), "a zero-probability sequence was sampled"
    p_value = chisquare_pvalue(counts, probs, n)
    assert p_value >= ALPHA, f"sampler rejected: p = {p_value:.3g}"
    # power against a slightly wrong sampler
    tv = 0.5 * np.abs(probs - probs_wrong).sum()
    power = analytic_power(probs, probs_wrong, n)
    assert power >= 1 - 1e-3, f"analytic power {power:.4f} against TV = {tv:.4f}"
    xw, yw = wrong.sample(n, rng=rng)
    wrong_counts = np.bincount(joint_cell(model, xw, yw), minlength=probs.size)
    p_wrong = chisquare_pvalue(wrong_counts, probs, n)
    assert p_wrong < ALPHA, f"wrong sampler (TV = {tv:.4f}) not rejected: p = {p_wrong:.3g}"
    assert tv < 0.05, f"TV = {tv:.4f}: the alternative should be only slightly wrong"
    return p_value, tv


def tabular_model(seed, X=2, H=3, V=3, d=3):
    rng = np.random.default_rng(seed)
    feats = TabularFeatures(rng.normal(size=(X, H, V + 1, V, d)), horizon=H)
    return AutoregressiveLinearModel(feats, rng.normal(size=d), prompt_weights=rng.dirichlet(np.ones(X) * 3))


def prefix_model(seed, X=2, H=4, V=2, d=3, n_classes=3):
    """Non-Markov features: a hash of the whole prefix selects the feature block."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(X, n_classes, V, d))

    def fn(x, prefix, h):
        return A[x, (prefix.astype(np.int64) @ np.arange(1, h + 1)) % n_classes]

    feats = CallableFeatures(fn, X, H, V, d)
    return AutoregressiveLinearModel(feats, rng.normal(size=d), prompt_weights=rng.dirichlet(np.ones(X) * 3))


def perturbed(model, seed, delta):
    direction = np.random.default_rng(seed).normal(size=model.dim)
    return model.replace(theta=model.theta + delta * direction / np.linalg.norm(direction))


def test_markov_sampler_matches_exact_probabilities(rng):
    model = tabular_model(1)
    mm = model.as_markov()
    check_sampler(mm, perturbed(model, 2, 0.05).as_markov(), rng)


def test_markov_sampler_with_zero_probability_transitions(rng):
    """A Markov table with forbidden transitions (-inf): never sampled, the rest matches."""
    base = np.array(tabular_model(3).as_markov().log_probs)
    base[..., 0, 1] = -np.inf                                        # after token 0, never token 1
    from scipy.special import logsumexp
    table = base - logsumexp(base, axis=-1, keepdims=True)
    model = MarkovModel(table, 3, prompt_weights=[0.4, 0.6])
    wrong_table = table + np.random.default_rng(4).normal(scale=0.05, size=table.shape)
    wrong_table = wrong_table - logsumexp(wrong_table, axis=-1, keepdims=True)
    check_sampler(model, MarkovModel(wrong_table, 3, prompt_weights=[0.4, 0.6]), rng)


def test_callable_sampler_matches_exact_probabilities(rng):
    model = prefix_model(5)
    check_sampler(model, perturbed(model, 6, 0.1), rng)


def test_batched_callable_sampler_with_fixed_prompts(rng):
    """Batch of two models, prompts given: each model's rows follow its own law."""
    model = prefix_model(7)
    thetas = np.stack([model.theta, -model.theta])
    batch = model.replace(theta=thetas)
    x = np.repeat([0, 1], [N_SAMPLES // 4, N_SAMPLES - N_SAMPLES // 4])
    xs, ys = batch.sample(len(x), rng=rng, x=x)
    assert xs.shape == (2, len(x)) and ys.shape == (2, len(x), model.horizon)
    np.testing.assert_array_equal(xs[0], x)
    mu = np.bincount(x) / len(x)
    p_values = []
    for i in range(2):
        probs = (mu[:, None] * np.exp(batch[i].enumerate_log_probs())).ravel()
        counts = np.bincount(joint_cell(model, xs[i], ys[i]), minlength=probs.size)
        p_values.append(chisquare_pvalue(counts, probs, len(x)))
    # the two models' laws are far apart: row 1 against model 0's law must be rejected
    probs0 = (mu[:, None] * np.exp(batch[0].enumerate_log_probs())).ravel()
    swapped = chisquare_pvalue(np.bincount(joint_cell(model, xs[1], ys[1]), minlength=probs0.size), probs0, len(x))
    assert min(p_values) >= ALPHA / 2, p_values          # two checks at ALPHA / 2 each
    assert swapped < ALPHA
