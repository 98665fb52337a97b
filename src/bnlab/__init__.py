"""bnlab: a reproducible deep-learning study driven by Snakemake."""

__version__ = "0.1.0"
