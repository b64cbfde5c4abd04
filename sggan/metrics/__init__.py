"""Figures that do not depend on one model: the Fréchet Inception Distance."""
