"""The double-softmax bug of report 004: its three trainings as losses, and the output-layer gradient norm.

Each loss takes the model's logits ``o`` and integer labels and returns the batch mean:

- ``ce`` (in ``bnlab.train.losses``), the correct training: cross-entropy on the logits, -log softmax(o)_y.
- ``double_softmax``, the bug: the model's probabilities p = softmax(o) are fed to a cross-entropy that applies
  softmax again, -log softmax(p)_y. Since p lies in [0, 1], softmax(p) stays near uniform (at most
  e / (e + K - 1) for the true class), so the loss cannot fall below log(1 + (K - 1) / e) and its gradient
  is damped by the softmax Jacobian of p: at a uniform p exactly 1/K of the correct gradient.
- ``own_softmax_nll``, the fix: the model's own loss over its own probabilities, -log p_y, with log p
  computed in log space so it stays finite where p underflows. Equals ``ce`` in value and gradient.

``output_weight_grad_norm`` measures, after ``backward``, the quantity that shows why the doubled training
stalls: the norm of the gradient of the weight matrix that produces the logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bnlab.models.softmax_regression import log_softmax, softmax
from bnlab.registry import LOSSES


class DoubleSoftmaxCrossEntropy(nn.Module):
    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(softmax(logits), labels)


class OwnSoftmaxNLL(nn.Module):
    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.nll_loss(log_softmax(logits), labels)


@LOSSES.register("double_softmax")
def double_softmax() -> nn.Module:
    """The bug: cross-entropy (which applies softmax) on the model's softmax probabilities."""
    return DoubleSoftmaxCrossEntropy()


@LOSSES.register("own_softmax_nll")
def own_softmax_nll() -> nn.Module:
    """The fix: negative log-likelihood of the model's own softmax probabilities."""
    return OwnSoftmaxNLL()


def output_weight(model: nn.Module) -> nn.Parameter:
    """The weight matrix that produces the logits: the last 2-D parameter the model registers.

    That is the softmax regression's ``W`` and the final ``nn.Linear`` weight of the MLPs and CNNs (conv
    kernels are 4-D, and every model here registers its output layer last).
    """
    return [p for p in model.parameters() if p.dim() == 2][-1]


def output_weight_grad_norm(model: nn.Module) -> torch.Tensor:
    """L2 norm of the output weight's current gradient, as a 0-dim tensor left on the device (no sync)."""
    return output_weight(model).grad.detach().norm()
