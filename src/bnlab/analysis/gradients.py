"""Loss gradients of a model on one batch: the building block of the gradient analyses.

Gradients are taken in training mode (BatchNorm normalises with the batch's own statistics, as
during training, which is what the paper's analysis is about) with dropout switched off, so two
gradients of the same batch differ only because the weights or the inputs differ.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parameters_to_vector

DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def gradient_mode(model: nn.Module) -> nn.Module:
    model.train()
    for module in model.modules():
        if isinstance(module, DROPOUT):
            module.eval()
    return model


def trainable(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def weight_gradient(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """grad_w L(w) of the batch as one flat vector, over the trainable parameters in ``model.parameters()`` order."""
    loss = loss_fn(model(x), y)
    return parameters_to_vector(torch.autograd.grad(loss, trainable(model)))


def input_gradient(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """grad_x of the batch's summed loss (mean loss x batch size), so it does not shrink as the batch grows."""
    x = x.detach().requires_grad_(True)
    loss = loss_fn(model(x), y) * len(y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


@torch.no_grad()
def set_weights(model: nn.Module, flat: torch.Tensor) -> None:
    """Copy the flat vector ``flat`` into the trainable parameters (the inverse of ``weight_gradient``'s layout)."""
    offset = 0
    for p in trainable(model):
        p.copy_(flat[offset : offset + p.numel()].view_as(p))
        offset += p.numel()
