"""Figures: one function per figure, all drawn in the shared style of ``bnlab.plots.style``."""
