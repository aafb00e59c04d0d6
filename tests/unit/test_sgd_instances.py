"""The SGD / TTT / distillation constructions (theory.instances.sgd)."""

import numpy as np
import pytest

import theory.instances as inst_pkg
from simulations.learners.optimizers import apply_updates, chain, project_l2_ball, sgd
from simulations.learners.training import count_scores
from theory.instances import (lemma_k6, lemma_k7, lemma_k7_fixed_variance, lemma_k7_mu_plus,
                              lemma_k7_visits, rare_token_instance, sgd_lower_bound_instance)


@pytest.mark.parametrize("c", [1.0, 2.0, 8.0])
def test_lemma_k6_step_maps_v1_onto_v_minus_1(c):
    """In the deterministic limit (all-zero data, pi_theta concentrated on the argmax token) one
    projected SGD step from v(1) lands exactly on v(-1), and back (the construction of alpha)."""
    H, B = 32, 4096.0
    eta = c * 8.0 / (H * B)
    inst = lemma_k6(eta, H, B)
    a = inst.params["alpha"]
    v1, vm1 = np.array([a, np.sqrt(1 - a * a)]), np.array([a, -np.sqrt(1 - a * a)])
    table = inst.data.features.table[:, 0, 0]                              # (1, V, d)
    opt = chain(sgd(eta), project_l2_ball(1.0))
    for start, end in ((v1, vm1), (vm1, v1)):
        score = count_scores(table, start[None], [[0]], [[[0, H, 0]]])      # all-zero sequence
        step, _ = opt.update(-score, opt.init(start[None]), start[None])
        np.testing.assert_allclose(apply_updates(start[None], step)[0], end, atol=1e-12)
    # the data are the all-zero sequence up to e^{-B(1-alpha)}
    assert inst.data.log_prob([0], [[1] * H])[0] > -1e-300
    assert inst.data.sigma_star_sq() < 1e-300
    with pytest.raises(ValueError, match="lemma_k7"):
        lemma_k6(0.5 * 8 / (H * B), H, B)


def test_lemma_k7_parameters():
    inst = lemma_k7(512, 4096.0, 40.0, mu_plus=0.5)
    assert inst.data.sigma_star_sq() <= 1.0                               # sigma_* <= 1
    np.testing.assert_allclose(inst.data.theta, [0.5, 0.5])
    assert np.linalg.norm(inst.data.theta) <= 1.0
    assert inst.data.features.bound == pytest.approx(40.0)
    # default mu(+) = k*(8/(HB)) / (64 e T)
    mu = lemma_k7_mu_plus(512, 4096.0, 40.0, 1e5, 8.0)
    k = lemma_k7_visits(8 / (512 * 4096.0), 512, 40.0, 8.0)
    assert mu == pytest.approx(k / (64 * np.e * 1e5), rel=0.01)
    assert lemma_k7(512, 4096.0, 40.0, T=1e5, N=8.0).params["mu_plus"] == pytest.approx(mu)
    with pytest.raises(ValueError, match="mu_plus"):
        lemma_k7(8)
    with pytest.raises(ValueError, match="B_bar"):
        lemma_k7(8, B=10.0, B_bar=20.0, mu_plus=0.5)


def test_dispatch_and_registry():
    assert sgd_lower_bound_instance(8 / (64 * 4096.0), 64, mu_plus=0.5).name == "lemma_k6"
    assert sgd_lower_bound_instance(7.9 / (64 * 4096.0), 64, mu_plus=0.5).name == "lemma_k7"
    for name in ("lemma_k6", "lemma_k7", "lemma_k7_fixed_variance", "rare_token_instance"):
        assert name in inst_pkg.__all__


def test_rare_token():
    r = rare_token_instance(64, rate=0.5, B=8.0)
    p1 = np.exp(r.data.as_markov().log_probs[0, 0, 0, 1])
    assert 64 * p1 == pytest.approx(0.5)
    with pytest.raises(ValueError, match="increase `B`"):
        rare_token_instance(10_000, rate=0.5, B=2.0)


def test_lemma_k7_fixed_variance_holds_sigma_fixed():
    """sigma_*^2 is the target at every H; checked against the closed form H B^2 v(B c),
    v(s) = (2 cosh s + 4)/(1 + 2 cosh s)^2 (variance of a in {-1,0,1} under p ~ e^{s a})."""
    B = 30.0
    target = lemma_k7(16, B, B, mu_plus=0.5).data.sigma_star_sq()
    cs = []
    for H in (16, 64, 1024):
        inst = lemma_k7_fixed_variance(H, target, B)
        c = inst.params["c"]
        ch = np.cosh(B * c)
        assert H * B ** 2 * (2 * ch + 4) / (1 + 2 * ch) ** 2 == pytest.approx(target, rel=1e-9)
        assert inst.data.sigma_star_sq() == pytest.approx(target, rel=1e-9)
        assert np.allclose(inst.data.theta, [c, c]) and np.linalg.norm(inst.data.theta) <= 1.0
        assert np.allclose(inst.model_class.theta, 0.0)
        assert inst.data.features is inst.model_class.features or np.array_equal(
            inst.data.features.table, lemma_k7(H, B, B, mu_plus=0.5).data.features.table)
        cs.append(c)
    assert cs[0] == pytest.approx(0.5, abs=1e-12)              # H = 16 is the Lemma K.7 instance itself
    assert cs[0] < cs[1] < cs[2]
    with pytest.raises(ValueError, match="sigma_sq"):
        lemma_k7_fixed_variance(16, 1e4, B)                   # above H B^2 v(0) = 9600
    with pytest.raises(ValueError, match="sigma_sq"):
        lemma_k7_fixed_variance(4, 1e-12, B)                  # would need |theta_star| > 1


def test_lemma_k7_start_is_the_proofs_initialisation():
    """theta_0 = r - 1/B_bar with exp(r B_bar) = H/(4 log N): the start's u = H/(4 e log N)."""
    from theory.instances import lemma_k7_start
    for H in (64, 512, 4096):
        s = lemma_k7_start(H, 24.0, 8.0)
        assert np.exp(24.0 * s) == pytest.approx(H / (4 * np.e * np.log(8.0)))
    inst = lemma_k7(64, 24.0, 24.0, mu_plus=0.5, theta_init=[s, 0.25])
    np.testing.assert_allclose(inst.model_class.theta, [s, 0.25])
    assert inst.params["theta_init"] == [s, 0.25]
    with pytest.raises(ValueError, match="`H`"):
        lemma_k7_start(10 ** 6, 4.0, 8.0)
    with pytest.raises(ValueError, match="theta_init"):
        lemma_k7(8, 24.0, 24.0, mu_plus=0.5, theta_init=[1.0, 1.0])


def test_derived_visits_from_the_proofs_start_are_H_free_for_distillation_only():
    from theory.instances import lemma_k7_distillation_visits, lemma_k7_start
    B, N = 24.0, 8.0
    A = np.log(N)
    H = np.array([64, 256, 1024, 4096])
    s = np.array([lemma_k7_start(int(h), B, N) for h in H])
    eta_d = 1 / ((64 * A + 2) * B ** 2)
    kd = lemma_k7_distillation_visits(eta_d, H, B, N, start=s)
    np.testing.assert_allclose(kd, np.log(4 * np.e) * (64 * A + 2) / A, rtol=1e-12)
    kv = lemma_k7_visits(1 / (2 * H * B ** 2), H, B, N, start=s)
    np.testing.assert_allclose(kv, 2 * (H / A) * (1 - 1 / (4 * np.e)), rtol=1e-12)
    # from theta_0 = 0 distillation pays log(H/A)
    k0 = lemma_k7_distillation_visits(eta_d, H, B, N)
    np.testing.assert_allclose(k0, np.log(H / A) * (64 * A + 2) / A, rtol=1e-12)


@pytest.mark.parametrize("H", [64, 512])
def test_rare_event_instance(H):
    """Rare-token rates c/H and a_0/H exactly, sigma_*^2 = 4 B^2 c (1 - c/H) against the model's own
    (forward-marginal) sigma_*^2, theta*, theta_0 in [-1, 1], ||phi|| = B, m common tokens."""
    from theory.instances import rare_event_instance

    inst = rare_event_instance(H, rate=0.25, start_rate=11.0, B=1.0)
    m = inst.params["m"]
    assert inst.data.vocab_size == m + 1
    p_rare = np.exp(inst.data.as_markov().log_probs[0, 0, 0, 0])
    q_rare = np.exp(inst.model_class.as_markov().log_probs[0, 0, 0, 0])
    assert H * p_rare == pytest.approx(0.25, rel=1e-12)
    assert H * q_rare == pytest.approx(11.0, rel=1e-12)
    assert inst.params["sigma_sq"] == pytest.approx(inst.data.sigma_star_sq(), rel=1e-12)
    assert inst.params["sigma_sq"] == pytest.approx(4 * 0.25 * (1 - 0.25 / H), rel=1e-12)
    assert abs(inst.params["theta_star"]) <= 1 and abs(inst.params["theta_init"][0]) <= 1
    assert np.abs(inst.data.features.table).max() == 1.0
    assert "rare_event_instance" in inst_pkg.__all__


def test_rare_event_instance_rejects():
    from theory.instances import rare_event_instance

    with pytest.raises(ValueError, match="outside Theta"):
        rare_event_instance(32)                       # log(a_0/c) too large at this H for B = 1
    with pytest.raises(ValueError, match="start_rate"):
        rare_event_instance(64, rate=2.0, start_rate=1.0)
    with pytest.raises(ValueError, match="`H`"):
        rare_event_instance(0)
    with pytest.raises(ValueError, match="allocation budget"):      # the vocabulary grows like H
        rare_event_instance(10 ** 6)


@pytest.mark.parametrize("H", [128, 4096])
def test_rare_event_growing_start_reaches_the_worst_case_curvature(H):
    """Started at a_0 = H/2 (sgd-rates part D): q_theta0 = 1/2, so the sequence score's curvature
    H (2B)^2 q0 (1 - q0) at theta_0 is exactly H B^2 (against the model's own sigma_*^2 at theta_0,
    which is that curvature for a one-parameter exponential family), and both parameters lie in
    Theta at B = 2.5 up to H = 4096; B = 2 is too small at H = 4096 (log(4H) > 4B: negative control)."""
    from theory.instances import rare_event_instance

    B = 2.5
    inst = rare_event_instance(H, rate=0.25, start_rate=H / 2, B=B)
    q0 = np.exp(inst.model_class.as_markov().log_probs[0, 0, 0, 0])
    assert q0 == pytest.approx(0.5, rel=1e-12)
    assert inst.model_class.sigma_star_sq() == pytest.approx(H * B ** 2, rel=1e-12)
    assert max(abs(inst.params["theta_star"]), abs(inst.params["theta_init"][0])) <= 1.0
    with pytest.raises(ValueError, match="outside Theta"):
        rare_event_instance(4096, rate=0.25, start_rate=2048, B=2.0)
