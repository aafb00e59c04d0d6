"""The objects the theory talks about: feature maps, autoregressive linear models, Markov
(tabular) autoregressive models, categorical distributions and parameter projections."""

from .features import CallableFeatures, TabularFeatures
from .linear import AutoregressiveLinearModel
from .markov import MarkovModel, categorical_model, enumerate_sequences
from .projection import project_box, project_l2_ball, projection_box, projection_l2_ball

__all__ = [
    "AutoregressiveLinearModel",
    "CallableFeatures",
    "MarkovModel",
    "TabularFeatures",
    "categorical_model",
    "enumerate_sequences",
    "projection_box",
    "projection_l2_ball",
]
