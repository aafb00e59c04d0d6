"""The layered-graph path task (Figures 1-2): structure, exactness of the evaluation, and the
checkpoint training loop."""

import numpy as np
import pytest

import theory.instances as instances
from simulations.learners.checkpoints import dataset_sampler, online_sampler, train_with_checkpoints
from simulations.learners.optimizers import adam, sgd
from theory.best_of_n import best_of_n_success
from theory.instances.graph_paths import (GraphClass, figure1_finetune_task, figure1_pretrain_task,
                                          figure2_task, graph_path_task, success_probability,
                                          support_log_ratio)
from theory.log_ratio import exact_log_ratio, markov_kl


@pytest.fixture(scope="module")
def fig1():
    return figure1_finetune_task(prompts_per_class=16, seed=3,
                                 feature_groups=("passable", "parity", "prev_cand"))


def test_structure_figure1(fig1):
    t = fig1
    L = t.n_layers
    assert t.data.horizon == L == 8 and t.data.vocab_size == 4
    # class masses exactly 0.9 / 0.1
    np.testing.assert_allclose([t.prompt_weights[t.class_of_prompt == c].sum() for c in (0, 1)], [0.9, 0.1])
    # two two-passable layers per instance, one even and one odd passable node there
    assert (t.two_passable.sum(1) == 2).all()
    npass = t.passable.sum(-1)
    assert ((npass == 2) == t.two_passable).all() and (npass >= 1).all()
    par = t.node_ids % 2
    both = (t.passable & t.two_passable[..., None])
    assert ((par * both).sum(-1)[t.two_passable] == 1).all()
    # distinct ids within an instance
    flat = t.node_ids.reshape(t.n_prompts, -1)
    assert all(np.unique(r).size == r.size for r in flat)
    # pi_D deterministic and on passable nodes; G1 picks p(v) = p(i), G2 the opposite
    assert ((t.target_dist == 0) | (t.target_dist == 1)).all()
    assert (t.target_dist <= t.passable).all()
    layer_par = (np.arange(L) + 2) % 2
    chosen_par = (par * t.target_dist).sum(-1)
    g1 = t.class_of_prompt == 0
    assert (chosen_par[g1][t.two_passable[g1]] == np.broadcast_to(layer_par, (g1.sum(), L))[t.two_passable[g1]]).all()
    assert (chosen_par[~g1][t.two_passable[~g1]] != np.broadcast_to(layer_par, ((~g1).sum(), L))[t.two_passable[~g1]]).all()


def test_hidden_parity_identifies_the_class():
    t = figure1_finetune_task(prompts_per_class=8, seed=5)
    # reconstruct V' exactly as the constructor does: the first draw of its generator
    rng = np.random.default_rng([5, t.n_layers, t.width, 8])
    hidden = rng.random(2 * 2 * t.n_layers * t.width) < 0.5
    bit = ((t.node_ids % 2) * hidden[t.node_ids]).sum(axis=(1, 2)) % 2
    np.testing.assert_array_equal(bit, np.where(t.class_of_prompt == 0, 1, 0))


def test_support_enumeration_and_exact_evaluation(fig1):
    t = fig1
    # support masses: each prompt's paths sum to one
    mass = np.bincount(t.support_x, weights=np.exp(t.support_logp), minlength=t.n_prompts)
    np.testing.assert_allclose(mass, 1.0)
    np.testing.assert_allclose(t.data.log_prob(t.support_x, t.support_y), t.support_logp)
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(3, t.dim))
    model = t.model(theta)
    law = support_log_ratio(t, model)
    # exact KL by DP over the Markov structure and by full V^H enumeration agree
    np.testing.assert_allclose(law.kl(), markov_kl(t.data, model), rtol=1e-10)
    full = exact_log_ratio(t.data, model)
    N = np.array([1.5, 4.0, 30.0])
    np.testing.assert_allclose(law.coverage(N), full.coverage(N), atol=1e-12)
    # Pass@N from the success probability equals best_of_n_success on the enumeration
    ev = t.evaluate(model, N, pass_N=np.array([1.0, 4.0, 12.0]))
    lp = model.enumerate_log_probs()                                    # (3, X, 4^8)
    reward = np.exp(t.data.enumerate_log_probs()) > 0
    ref = best_of_n_success(lp[:, None], reward, np.array([1.0, 4.0, 12.0]),
                            prompt_weights=t.prompt_weights)
    np.testing.assert_allclose(ev["pass_at_n"], ref, rtol=1e-10)
    q = success_probability(t, model)
    assert (t.support_x == np.arange(t.n_prompts)).all()                # one target path each
    np.testing.assert_allclose(q, np.exp(model.log_prob(t.support_x, t.support_y)))
    # class coverage averages to the coverage with the class weights
    np.testing.assert_allclose(np.einsum("pcn,c->pn", ev["class_coverage"], t.class_weights), ev["coverage"])


def test_figure2_classes():
    t = figure2_task(8, prompts_per_class=4, seed=2)
    counts = np.bincount(t.support_x, minlength=t.n_prompts)
    per_class = [counts[t.class_of_prompt == c] for c in range(3)]
    assert (per_class[0] == 1).all() and (per_class[1] == 1).all() and (per_class[2] == 16).all()
    assert (t.two_passable.sum(1)[t.class_of_prompt == 1] == 4).all()
    np.testing.assert_allclose(t.class_weights, [0.94, 0.05, 0.01])
    # G_H2's choice follows the global parity of the passable nodes
    par = t.node_ids % 2
    b = (par * t.passable).sum(axis=(1, 2)) % 2
    layer_par = (np.arange(8) + 2) % 2
    g2 = np.flatnonzero(t.class_of_prompt == 1)
    chosen = (par * t.target_dist).sum(-1)
    for x in g2:
        two = t.two_passable[x]
        np.testing.assert_array_equal(chosen[x][two], ((layer_par + b[x]) % 2)[two])
    with pytest.raises(ValueError, match="`H`"):
        figure2_task(9)


def test_instances_are_exported_and_validated():
    inst = instances.graph_paths_length(8, prompts_per_class=2)
    assert inst.data.horizon == 8 and inst.to_dict()["params"]["classes"][0]["weight"] == 0.94
    assert instances.graph_paths_pretrain(prompts_per_class=2).model_class.dim == 162
    with pytest.raises(ValueError, match="sum to one"):
        graph_path_task([GraphClass("G", 0.5, 0, "match")], n_layers=3)
    with pytest.raises(ValueError, match="`width`"):
        graph_path_task([GraphClass("G", 1.0, 0, "match")], n_layers=3, width=3)
    with pytest.raises(ValueError, match="feature_groups"):
        graph_path_task([GraphClass("G", 1.0, 0, "match")], n_layers=3, feature_groups=("nope",))


def test_pretraining_optimum_is_unbiased_at_two_passable_layers():
    """With G1/G2/G3 in equal proportion the parity feature has population-optimal weight 0
    (checked by the exact gradient at theta_parity = 0 being ~0 once passability is learned)."""
    t = figure1_pretrain_task(prompts_per_class=64, seed=4, feature_groups=("passable", "parity"))
    theta = np.array([12.0, 0.0])
    x, y, lw = t.support_x, t.support_y, t.support_logp
    w = t.prompt_weights[x] * np.exp(lw)
    g = (w[:, None] * t.model(theta).grad_log_prob(x, y)).sum(0)
    assert abs(g[1]) < 0.05 * np.abs(g).max() + 1e-6


# ----------------------------------------------------------------------------------- training

def test_training_recovers_data_parameters_and_replicates_are_independent():
    t = figure1_finetune_task(prompts_per_class=8, seed=1, feature_groups=("passable", "parity"))
    model = t.model(np.zeros(t.dim))
    traj = train_with_checkpoints(online_sampler(t.data), model, adam(0.05), steps=400, batch=64,
                                  checkpoint_steps=[0, 100, 400], rng=np.random.default_rng(0))
    assert traj.thetas.shape == (3, 2) and traj.steps.tolist() == [0, 100, 400]
    # the parity weight moves toward log(0.9 / 0.1) = 2.2 and KL decreases
    kl = t.evaluate(t.model(traj.thetas), [2.0])["kl"]
    assert kl[2] < kl[1] < kl[0] and traj.thetas[-1, 1] > 1.0
    # replicate axis: R runs in one array computation equal R separate runs on the same data
    xs, ys = t.data.sample(600, rng=np.random.default_rng(1))
    x2, y2 = xs.reshape(2, 300), ys.reshape(2, 300, -1)
    rep = train_with_checkpoints(_exact_batches(x2, y2), t.model(np.zeros((2, t.dim))), adam(0.1),
                                 steps=5, batch=300, checkpoint_steps=[5], rng=np.random.default_rng(2))
    for r in range(2):
        one = train_with_checkpoints(_exact_batches(x2[r], y2[r]), t.model(np.zeros(t.dim)), adam(0.1),
                                     steps=5, batch=300, checkpoint_steps=[5], rng=np.random.default_rng(3))
        np.testing.assert_allclose(rep.thetas[-1, r], one.thetas[-1], rtol=1e-10)


def _exact_batches(x, y):
    return lambda n, rng: (x, y)


def test_training_validation():
    t = figure1_finetune_task(prompts_per_class=2, seed=1, feature_groups=("passable",))
    with pytest.raises(ValueError, match="checkpoint_steps"):
        train_with_checkpoints(online_sampler(t.data), t.model(np.zeros(1)), sgd(0.1), steps=3, batch=2,
                               checkpoint_steps=[5], rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        train_with_checkpoints(online_sampler(t.data), t.model(np.zeros(1)), sgd(0.1), steps=3, batch=2,
                               checkpoint_steps=[3], rng=1.5)
