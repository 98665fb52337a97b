"""The LeNet-5 family: logits from 5x5 convs with 2x2 pooling, then 120 and 84 units, then the classes.

- ``simple_cnn`` (report 001): conv 6@5x5, max-pool, conv 16@5x5, max-pool, then Linear 120, 84, classes.
- ``lenet5`` (report 003): conv 6@5x5, max-pool, conv 16@5x5, avg-pool, conv 120@5x5, then Linear 84, classes,
  on 32x32 inputs: smaller images (28x28) are zero-padded up to 32x32 inside the model, as a first conv with
  padding 2 would do, so the conv-120 layer sees 5x5 maps and leaves 1x1; larger images pass unpadded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bnlab.models.common import scaled
from bnlab.registry import MODELS


@MODELS.register("simple_cnn")
def simple_cnn(*, num_classes: int, in_channels: int, image_size: int, width: float) -> nn.Module:
    """LeNet-5: two 5x5 conv+pool stages, then 120-84-classes."""
    c1, c2 = scaled(6, width), scaled(16, width)
    spatial = ((image_size - 4) // 2 - 4) // 2  # two valid 5x5 convs, each followed by a 2x2 pool
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * spatial * spatial, scaled(120, width)),
        nn.ReLU(),
        nn.Linear(scaled(120, width), scaled(84, width)),
        nn.ReLU(),
        nn.Linear(scaled(84, width), num_classes),
    )


LENET5_INPUT_SIZE = 32


class PadTo(nn.Module):
    """Zero-pads images smaller than ``size`` x ``size`` evenly on both sides up to it; others pass unchanged."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def extra_repr(self) -> str:
        return f"size={self.size}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        missing_h, missing_w = (max(0, self.size - n) for n in x.shape[-2:])
        if not (missing_h or missing_w):
            return x
        return F.pad(x, (missing_w // 2, missing_w - missing_w // 2, missing_h // 2, missing_h - missing_h // 2))


@MODELS.register("lenet5")
def lenet5(*, num_classes: int, in_channels: int, image_size: int, width: float) -> nn.Module:
    """Report 003's LeNet-5: pad to 32x32, conv 6, max-pool, conv 16, avg-pool, conv 120 (5x5, ReLU), 84, classes."""
    c1, c2, c3, hidden = (scaled(n, width) for n in (6, 16, 120, 84))
    spatial = ((max(image_size, LENET5_INPUT_SIZE) - 4) // 2 - 4) // 2 - 4  # three valid 5x5 convs, two 2x2 pools
    return nn.Sequential(
        PadTo(LENET5_INPUT_SIZE),
        nn.Conv2d(in_channels, c1, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(c2, c3, 5),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(c3 * spatial * spatial, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )
