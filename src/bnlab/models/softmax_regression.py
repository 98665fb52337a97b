"""Softmax regression written from scratch (report 004, part 1): logits ``o = x W + b`` and its own softmax.

The weights are plain parameters, ``W`` drawn from N(0, 0.01^2) and ``b`` zero, as in the d2l code the report
debugs. ``forward`` returns the logits, so the shared trainer's losses see what they expect; the model's own
probabilities are ``probabilities(x) = softmax(forward(x))`` with the ``softmax`` below. The losses that
reproduce the report's three trainings (correct, doubled softmax, fixed) are in ``bnlab.train.losses``.
"""

from __future__ import annotations

import torch
from torch import nn

from bnlab.registry import MODELS

INIT_STD = 0.01


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Row-wise exp(o_i) / sum_j exp(o_j); the row maximum is subtracted first so exp cannot overflow."""
    exps = (logits - logits.amax(dim=1, keepdim=True)).exp()
    return exps / exps.sum(dim=1, keepdim=True)


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """log(softmax(o)) computed in log space, o_i - max - log(sum_j exp(o_j - max)), finite even where softmax is 0."""
    shifted = logits - logits.amax(dim=1, keepdim=True)
    return shifted - shifted.exp().sum(dim=1, keepdim=True).log()


class SoftmaxRegression(nn.Module):
    def __init__(self, num_inputs: int, num_classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_inputs, num_classes) * INIT_STD)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), -1) @ self.weight + self.bias

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return softmax(self(x))


@MODELS.register("softmax_regression")
def softmax_regression(*, num_classes: int, in_channels: int, image_size: int, width: float) -> nn.Module:
    """One linear layer from the flattened image to the classes; it has no hidden layer, so ``width`` is ignored."""
    return SoftmaxRegression(in_channels * image_size * image_size, num_classes)
