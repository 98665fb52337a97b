"""Figures of the BatchNorm study: one module per analysis table, one function per figure."""
