"""Samplers: Best-of-N, value-guided backtracking and baselines, random walks."""
