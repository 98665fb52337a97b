"""LeNet-5 ("simple CNN"): conv 6@5x5, pool, conv 16@5x5, pool, 120, 84, classes."""

from __future__ import annotations

from torch import nn

from bnlab.models.common import scaled
from bnlab.registry import MODELS


@MODELS.register("simple_cnn")
def simple_cnn(*, num_classes: int, in_channels: int, image_size: int, width: float) -> nn.Module:
    """LeNet-5: two 5x5 conv+pool stages, then 120-84-classes."""
    c1, c2 = scaled(6, width), scaled(16, width)
    spatial = ((image_size - 4) // 2 - 4) // 2  # two valid 5x5 convs, each followed by a 2x2 pool
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * spatial * spatial, scaled(120, width)), nn.ReLU(),
        nn.Linear(scaled(120, width), scaled(84, width)), nn.ReLU(),
        nn.Linear(scaled(84, width), num_classes),
    )
