"""The record every instance constructor returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, eq=False)
class Instance:
    r"""A construction of the paper.

    Attributes
    ----------
    name : str
        Constructor name (e.g. ``"prop_3_2_kl_lower_bound"``).
    paper_ref : str
        The statement it comes from, in both numberings.
    data : object
        The data distribution :math:`\pi_D` (a :class:`~theory.models.MarkovModel` or
        :class:`~theory.models.AutoregressiveLinearModel`).
    model_class : object
        The model class :math:`\Pi`: an :class:`~theory.models.AutoregressiveLinearModel`
        whose ``theta`` holds the members (finite class), or one whose ``features`` define
        a parametric class together with ``params["radius"]``/``params["box"]``.
    params : dict
        The construction's parameters (JSON-serialisable), e.g. ``{"n": 64, "B": 2.0}``.
    """

    name: str
    paper_ref: str
    data: object
    model_class: object = None
    params: dict = field(default_factory=dict)

    def to_dict(self):
        return {"name": self.name, "paper_ref": self.paper_ref, "params": dict(self.params)}
