"""Learners: optax-style optimizers, one-pass training loops, MLE and model selection."""
