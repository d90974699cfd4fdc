"""Behavioural self-awareness: what a model says about itself, scored from its token probabilities."""
