"""Report 004's CNN for the 84x84 ImageNet subset: logits from three conv blocks and a 512-unit hidden layer.

Each block is two (3x3 conv, BatchNorm, ReLU) at 64, 128, then 256 channels, then a 2x2 max-pool and dropout;
at 84x84 the last block leaves 256 maps of 10x10, flattened to 25,600 features. The report names the dropout
layers but not their rates: 0.25 after each block and 0.5 in the classifier are our choice. The flattened size
is derived from ``image_size`` (any size of 8 or more builds) and the width multiplier scales every channel
count and the hidden layer. Weights keep PyTorch's default init, as the report's code did.
"""

from __future__ import annotations

from torch import nn

from bnlab.models.common import scaled
from bnlab.registry import MODELS

BLOCK_CHANNELS = (64, 128, 256)
HIDDEN = 512
BLOCK_DROPOUT = 0.25
HIDDEN_DROPOUT = 0.5


def conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    """Two 3x3 same-size convs with BatchNorm and ReLU, then a 2x2 max-pool (halves the size) and dropout."""
    return [
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(BLOCK_DROPOUT),
    ]


@MODELS.register("cnn84")
def cnn84(*, num_classes: int, in_channels: int, image_size: int, width: float) -> nn.Module:
    """Three conv blocks (64, 128, 256 channels), flatten, 512 units with BatchNorm, ReLU and dropout, classes."""
    layers: list[nn.Module] = []
    c, spatial = in_channels, image_size
    for channels in BLOCK_CHANNELS:
        layers += conv_block(c, scaled(channels, width))
        c, spatial = scaled(channels, width), spatial // 2
    hidden = scaled(HIDDEN, width)
    return nn.Sequential(
        *layers,
        nn.Flatten(),
        nn.Linear(c * spatial * spatial, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Dropout(HIDDEN_DROPOUT),
        nn.Linear(hidden, num_classes),
    )
