"""`bnlab` verbs of the analysis stage (registered by `bnlab.cli`)."""

from __future__ import annotations


def add_verbs(verbs) -> None:
    """Add this stage's sub-commands to the `bnlab` parser's subparsers."""
