"""Figures in the house style, bilingual (see :mod:`sim.plots` for the public entry points)."""
