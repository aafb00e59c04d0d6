"""Lemma 20 of the Foster–Rakhlin notes (arXiv 2312.16730, Eq. 6.7; Prop. F.9 / D.9 of the coverage paper).

``sup P/Q <= V  =>  D_KL(P||Q) <= (2 + log V) D_H^2(P, Q)`` with the notes' un-halved
``D_H^2 = 2 * theory.divergences.squared_hellinger``.  Lemma 19 (``D_TV^2 <= D_H^2 <= D_KL``) is
checked in ``tests/property/test_coverage_properties.py::test_hellinger_tv_and_kl_relations``.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bounds_strategies import distribution_pairs, leq
from theory.divergences import kl_divergence, squared_hellinger


def _lemma_20_sides(log_p, log_q, mu):
    """(KL, (2 + log V) * un-halved D_H^2) with V = max over the data's support of p/q."""
    kl = kl_divergence(log_p, log_q, prompt_weights=mu)
    h2 = 2.0 * squared_hellinger(log_p, log_q, prompt_weights=mu)
    with np.errstate(invalid="ignore"):
        log_ratio = np.where(np.isfinite(log_p), log_p - log_q, -np.inf)
    log_v = max(float(np.max(log_ratio)), 0.0)                 # sup P/Q >= 1 for distributions
    return kl, (2.0 + log_v) * h2


@given(distribution_pairs(model_zeros=False, data_zeros=True))
def test_lemma_20_holds(pair):
    """KL <= (2 + log V) D_H^2 on random prompt mixtures (V: largest density ratio)."""
    data, model = pair
    kl, bound = _lemma_20_sides(data.log_p, model.log_p, data.mu)
    assert np.isfinite(kl)                                      # the model covers the data's support
    # absolute slack 1e-14: log-probabilities rounded to ~1e-16 limit KL and D_H^2 to that accuracy
    assert leq(kl, bound + 1e-14)


@given(st.floats(1e-4, 5e-3))
def test_lemma_20_constant_is_attained_near_equal_distributions(eps):
    """As Q -> P both sides are ~ chi^2/2: a constant 1% below (2 + log V) would be violated."""
    log_p = np.log([0.5, 0.5])
    log_q = np.log([0.5 + eps, 0.5 - eps])
    kl, bound = _lemma_20_sides(log_p, log_q, None)
    assert kl <= bound
    assert kl > 0.99 * bound
