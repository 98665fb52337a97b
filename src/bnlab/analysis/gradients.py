"""Loss gradients of a model on one batch: the building blocks of the gradient analyses.

Which BatchNorm statistics a gradient is taken with is the measurement protocol's choice
(bnlab.analysis.protocols): the batch's own, as during training, or the running statistics of
``model.eval()``. Dropout is off either way, so two gradients of the same batch differ only because the
weights or the inputs differ.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def gradient_mode(model: nn.Module) -> nn.Module:
    """Training mode (BatchNorm normalises with the batch's statistics) with dropout switched off."""
    model.train()
    for module in model.modules():
        if isinstance(module, DROPOUT):
            module.eval()
    return model


# BatchNorm statistics -> how the model is put in that state (dropout off in both).
STATISTICS = {"batch": gradient_mode, "running": lambda model: model.eval()}


@contextlib.contextmanager
def measuring(model: nn.Module, statistics: str) -> Iterator[nn.Module]:
    """``model`` with BatchNorm normalising by the ``batch`` statistics or the ``running`` ones (dropout off) for
    a measurement; then its parameters, buffers (BatchNorm running statistics) and the train/eval mode of each
    module are restored, whatever the measurement did to them."""
    state = {name: value.detach().clone() for name, value in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    try:
        yield STATISTICS[statistics](model)
    finally:
        model.load_state_dict(state)
        for module, training in zip(model.modules(), modes, strict=True):
            module.training = training


def trainable(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def parameter_gradients(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """grad_w L(w) of the batch, one tensor per trainable parameter, in ``model.parameters()`` order (zeros for a
    parameter the loss does not use)."""
    params = trainable(model)
    grads = torch.autograd.grad(loss_fn(model(x), y), params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def input_gradient(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, *, summed: bool) -> torch.Tensor:
    """grad_x of the batch's loss: of the summed loss (mean x batch size, which does not shrink as the batch
    grows) when ``summed``, else of the mean loss itself."""
    x = x.detach().requires_grad_(True)
    loss = loss_fn(model(x), y) * (len(y) if summed else 1)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


@torch.no_grad()
def set_weights(model: nn.Module, tensors: list[torch.Tensor]) -> None:
    """Copy ``tensors`` into the trainable parameters, in ``model.parameters()`` order."""
    for p, value in zip(trainable(model), tensors, strict=True):
        p.copy_(value)
