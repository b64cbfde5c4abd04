"""Keras layers both models build from: initialisers, instance norm, spectral-norm and
small-map convolutions."""
