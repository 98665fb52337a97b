"""Helpers shared by the model families."""

from __future__ import annotations

from torch import nn

from bnlab.registry import MODELS


def scaled(channels: int, width: float) -> int:
    """Channel count under a width multiplier; never below one."""
    return max(1, round(channels * width))


def xavier_init(module: nn.Module) -> None:
    """Glorot init for conv/linear weights, zero biases, BatchNorm gamma=1 beta=0 (as in the paper)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_model(
    name: str, *, num_classes: int = 10, in_channels: int = 3, image_size: int = 32, width: float = 1.0
) -> nn.Module:
    return MODELS[name](num_classes=num_classes, in_channels=in_channels, image_size=image_size, width=width)


def output_weight(model: nn.Module) -> nn.Parameter:
    """The weight matrix that produces the logits: the last 2-D parameter the model registers.

    That is the softmax regression's ``W`` and the final ``nn.Linear`` weight of the MLPs and CNNs (conv
    kernels are 4-D, and every model here registers its output layer last).
    """
    return [p for p in model.parameters() if p.dim() == 2][-1]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
