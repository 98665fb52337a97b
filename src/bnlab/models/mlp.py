"""Fully-connected classifiers on flattened images: logits from ``in_channels * image_size**2`` pixel values.

- ``fc_net``: the plain fully-connected net of report 003's 28x28 grayscale study.
- ``two_layer_nn`` and ``residual_mlp``: the two fully-connected nets of report 004's 84x84 ImageNet subset.

The input size comes from ``(in_channels, image_size)``, so every net builds for any image size; the width
multiplier scales the hidden sizes. Weights keep PyTorch's default init, as the reports' code did.
"""

from __future__ import annotations

import torch
from torch import nn

from bnlab.models.common import scaled
from bnlab.registry import MODELS

# Report 003 gives only the FC net's accuracy (86-88%), not its layers; these two hidden sizes are our choice.
FC_NET_HIDDEN = (256, 128)
TWO_LAYER_HIDDEN = 1024
RESIDUAL_MLP_HIDDEN = (2048, 1024, 512, 256)


def flat_size(in_channels: int, image_size: int) -> int:
    return in_channels * image_size * image_size


def linear_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(c_in, c_out), nn.BatchNorm1d(c_out))


def hidden_layer(c_in: int, c_out: int, dropout: float) -> nn.Sequential:
    """Linear, BatchNorm, ReLU, dropout: report 004's fully-connected layer."""
    return nn.Sequential(linear_bn(c_in, c_out), nn.ReLU(), nn.Dropout(dropout))


@MODELS.register("fc_net")
def fc_net(*, num_classes: int, in_channels: int, image_size: int, width: float) -> nn.Module:
    """Flatten, then 256 and 128 hidden units with ReLU (our choice: report 003 names no sizes), then classes."""
    layers: list[nn.Module] = [nn.Flatten()]
    c = flat_size(in_channels, image_size)
    for hidden in FC_NET_HIDDEN:
        layers += [nn.Linear(c, scaled(hidden, width)), nn.ReLU()]
        c = scaled(hidden, width)
    layers.append(nn.Linear(c, num_classes))
    return nn.Sequential(*layers)


@MODELS.register("two_layer_nn")
def two_layer_nn(*, num_classes: int, in_channels: int, image_size: int, width: float) -> nn.Module:
    """Report 004's 2-layer net: flatten, 1024 units with BatchNorm, ReLU and dropout 0.5, then classes."""
    hidden = scaled(TWO_LAYER_HIDDEN, width)
    return nn.Sequential(
        nn.Flatten(),
        hidden_layer(flat_size(in_channels, image_size), hidden, dropout=0.5),
        nn.Linear(hidden, num_classes),
    )


class ResidualMLP(nn.Module):
    """Report 004's MLP with two projection shortcuts.

    input dropout 0.2; 2048; 1024 + Linear shortcut from the flattened input (taken before the input
    dropout, as the report draws it); 512; 256 + Linear shortcut from the 1024-unit layer's output; classes.
    Every hidden layer is Linear, BatchNorm, ReLU, dropout 0.5; a shortcut is added after the BatchNorm,
    before the ReLU.
    """

    def __init__(self, *, num_classes: int, in_channels: int, image_size: int, width: float):
        super().__init__()
        features = flat_size(in_channels, image_size)
        h1, h2, h3, h4 = (scaled(h, width) for h in RESIDUAL_MLP_HIDDEN)
        self.input_dropout = nn.Dropout(0.2)
        self.layer1 = hidden_layer(features, h1, dropout=0.5)
        self.layer2 = linear_bn(h1, h2)
        self.shortcut2 = nn.Linear(features, h2)
        self.activate2 = nn.Sequential(nn.ReLU(), nn.Dropout(0.5))  # one module per use, so activation hooks see each
        self.layer3 = hidden_layer(h2, h3, dropout=0.5)
        self.layer4 = linear_bn(h3, h4)
        self.shortcut4 = nn.Linear(h2, h4)
        self.activate4 = nn.Sequential(nn.ReLU(), nn.Dropout(0.5))
        self.output = nn.Linear(h4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        a2 = self.activate2(self.layer2(self.layer1(self.input_dropout(x))) + self.shortcut2(x))
        a4 = self.activate4(self.layer4(self.layer3(a2)) + self.shortcut4(a2))
        return self.output(a4)


@MODELS.register("residual_mlp")
def residual_mlp(**shape) -> nn.Module:
    """Report 004's residual MLP: 2048-1024-512-256 with shortcuts input->1024 and 1024->256."""
    return ResidualMLP(**shape)
