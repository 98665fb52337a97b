"""Losses by name."""

from __future__ import annotations

from torch import nn

from bnlab.registry import LOSSES


@LOSSES.register("ce")
def cross_entropy(*, smoothing: float = 0.0) -> nn.Module:
    return nn.CrossEntropyLoss()


@LOSSES.register("label_smoothing")
def label_smoothing(*, smoothing: float = 0.1) -> nn.Module:
    return nn.CrossEntropyLoss(label_smoothing=smoothing)


def build_loss(name: str, options: dict) -> nn.Module:
    return LOSSES[name](**options)
