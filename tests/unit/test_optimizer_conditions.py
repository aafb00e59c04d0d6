"""Assumptions 2.1-2.2 of the optimizer claims are computed from the instance, not asserted.

``instance_geometry`` reads the norms of theta* and theta_0 and the largest feature norm;
``assumption_conditions`` turns them into conditions. Each check has a negative control: an
instance that violates it must be recorded as not holding.
"""

import dataclasses

import numpy as np
import pytest

from simulations.experiments._optimizers_common import (assumption_conditions, instance_geometry, nsgd_conditions,
                                                        sgd_upper_conditions)
from theory.instances import lemma_k7, rare_event_instance


def _holds(conds):
    return {c["hypothesis"].split(":")[0].split(" (")[0]: c["holds"] for c in conds}


def test_geometry_of_the_rare_event_instance():
    inst = rare_event_instance(256, rate=0.25, start_rate=128, B=2.5)
    g = instance_geometry(inst)
    assert g["max_phi_norm"] == 2.5 and g["same_features"]
    assert g["theta_star_norm"] == pytest.approx(abs(inst.params["theta_star"]), rel=1e-12)
    assert g["init_distance"] == pytest.approx(abs(inst.params["theta_init"][0] - inst.params["theta_star"]))
    assert all(c["holds"] for c in assumption_conditions(g, 2.5))


def test_assumptions_fail_where_the_instance_violates_them():
    inst = lemma_k7(64, 24.0, 24.0, mu_plus=0.5)
    g = instance_geometry(inst)
    assert g["max_phi_norm"] == 24.0
    h = _holds(assumption_conditions(g, 24.0))
    assert all(h.values())
    # B below the largest feature norm: Assumption 2.2 is violated
    assert _holds(assumption_conditions(g, 12.0))["Assumption 2.2"] is False
    assert _holds(assumption_conditions(g, 0.5))["B >= 1"] is False
    # theta* outside the unit ball, and a start outside it
    far = dataclasses.replace(inst, data=inst.data.replace(theta=np.array([1.5, 0.0])))
    assert _holds(assumption_conditions(instance_geometry(far), 24.0))["Assumption 2.1"] is False
    out = dataclasses.replace(inst, model_class=inst.model_class.replace(theta=np.array([0.0, 1.2])))
    assert _holds(assumption_conditions(instance_geometry(out), 24.0))["initialisation theta_0 in Theta"] is False
    # pi_D outside the model class (other features): not well specified
    other = dataclasses.replace(inst, data=lemma_k7(64, 24.0, 12.0, mu_plus=0.5).data)
    assert _holds(assumption_conditions(instance_geometry(other), 24.0))["Assumption 2.1"] is False
    # the worst case over a grid is reported
    assert _holds(assumption_conditions([g, instance_geometry(far)], 24.0))["Assumption 2.1"] is False


def test_condition_builders_need_the_instance():
    g = instance_geometry(rare_event_instance(64))
    with pytest.raises(TypeError):
        nsgd_conditions(eta=1 / 128, lam=40.0, B=1.0, N=128.0, K=8192, T=10 ** 6, sigma_sq=1.0)
    with pytest.raises(TypeError):
        sgd_upper_conditions(eta=1e-3, H=64, B=1.0)
    with pytest.raises(ValueError, match="geometry"):
        assumption_conditions([], 1.0)
    conds = sgd_upper_conditions(eta=1 / (2 * 64), H=64, B=1.0, geometry=g)
    assert [c["holds"] for c in conds] == [True, True, True, True, True]
    assert sgd_upper_conditions(eta=1.0, H=64, B=1.0, geometry=g)[-1]["holds"] is False
