"""Classification losses by name: the mean over a batch of a per-example loss of (logits, class labels).

- ``ce``: cross-entropy.
- ``label_smoothing``: cross-entropy against targets smoothed to (1 - s) one-hot + s / classes (torch's definition;
  report 000's code put 1 - s on the true class and s / (classes - 1) on each other one).
- ``focal``: alpha * (1 - p_true)^gamma * cross-entropy (Lin et al., 2017); report 000 ran alpha 1, gamma 2.
- ``double_softmax``: report 004's bug: the model's probabilities softmax(o) fed to a cross-entropy that applies
  softmax again, -log softmax(softmax(o))_y. softmax(o) lies in [0, 1], so the second softmax stays near uniform:
  the loss cannot fall below log(1 + (K - 1) / e) and its gradient is damped (at a uniform p, 1/K of the correct one).
- ``own_softmax_nll``: report 004's fix: the model's own loss over its own probabilities, -log p_y, with log p
  computed in log space so it stays finite where p underflows. Equals ``ce`` in value and gradient.
- ``center``: cross-entropy + weight * ||f - c_y||^2 / 2 on the penultimate features f (Wen et al., 2016), with
  report 000's settings: weight 0.001, centers drawn from N(0, 1) and moved after every step by plain SGD at lr 0.5
  on the center term's gradient rescaled by 1 / weight, i.e. c_j += 0.5 * sum_{i: y_i = j} (f_i - c_j) / batch size.

Every loss is a ``ClassificationLoss``; the training loop calls it in three places:

1. ``loss_fn.attach(model)`` once, after building the model and before loading a checkpoint (the center loss sizes
   its centers from the model's final ``nn.Linear`` and hooks that layer to read its input, the penultimate
   features, on every forward; the other losses do nothing);
2. ``loss_fn(logits, y)`` right after the forward that produced ``logits`` (or ``mixed_loss`` under CutMix);
3. ``loss_fn.after_step()`` right after ``optimizer.step()`` (moves the centers; nothing for the other losses).

Its ``state_dict()`` (the centers; empty for the others) goes into the checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bnlab.errors import ConfigError
from bnlab.models.softmax_regression import log_softmax, softmax
from bnlab.registry import LOSSES


class ClassificationLoss(nn.Module):
    """Mean over the batch of ``per_example(logits, target)``."""

    def per_example(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.per_example(logits, target).mean()

    def attach(self, model: nn.Module) -> None:
        """Prepare for training ``model``; only losses that read the model's features need to."""

    def after_step(self) -> None:
        """Update the loss's own state after an optimizer step; only the center loss has any."""


class CrossEntropy(ClassificationLoss):
    def __init__(self, smoothing: float = 0.0):
        super().__init__()
        self.smoothing = smoothing

    def extra_repr(self) -> str:
        return f"smoothing={self.smoothing}"

    def per_example(self, logits, target):
        return F.cross_entropy(logits, target, reduction="none", label_smoothing=self.smoothing)


class DoubleSoftmaxCrossEntropy(ClassificationLoss):
    def per_example(self, logits, target):
        return F.cross_entropy(softmax(logits), target, reduction="none")


class OwnSoftmaxNLL(ClassificationLoss):
    def per_example(self, logits, target):
        return F.nll_loss(log_softmax(logits), target, reduction="none")


class FocalLoss(ClassificationLoss):
    """alpha * (1 - p)^gamma * (-log p), p the predicted probability of the true class; gamma 0 is cross-entropy."""

    def __init__(self, alpha: float = 1.0, gamma: float = 2.0):
        super().__init__()
        self.alpha, self.gamma = alpha, gamma

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}"

    def per_example(self, logits, target):
        ce = F.cross_entropy(logits, target, reduction="none")
        return self.alpha * (1 - torch.exp(-ce)) ** self.gamma * ce


def final_linear(model: nn.Module) -> nn.Linear:
    """The model's output layer: its last registered ``nn.Linear`` (true of every family in ``bnlab.models``)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError(f"model {type(model).__name__} has no nn.Linear output layer to read features from")
    return linears[-1]


class CenterLoss(ClassificationLoss):
    """Cross-entropy + ``weight`` * ||f - c_y||^2 / 2, f the input of the model's final linear layer.

    The centers are a buffer, not a parameter: the model's optimizer never sees them; ``after_step`` moves them as
    report 000's code did (its own SGD, lr ``center_lr``, on the center term's gradient divided by ``weight``), using
    the features and labels of the last ``forward`` call.
    """

    centers: torch.Tensor

    def __init__(self, weight: float = 0.001, center_lr: float = 0.5):
        super().__init__()
        self.weight, self.center_lr = weight, center_lr
        self.features: torch.Tensor | None = None  # the final layer's input in the model's latest forward
        self.last_batch: tuple[torch.Tensor, torch.Tensor] | None = None  # (features, labels) of the last loss

    def extra_repr(self) -> str:
        return f"weight={self.weight}, center_lr={self.center_lr}"

    def attach(self, model: nn.Module) -> None:
        layer = final_linear(model)
        self.register_buffer("centers", torch.randn(layer.out_features, layer.in_features, device=layer.weight.device))
        layer.register_forward_hook(self._keep_features)

    def _keep_features(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        self.features = inputs[0]

    def per_example(self, logits, target):
        features = self.features
        if features is None or features.shape[0] != logits.shape[0]:
            raise RuntimeError("the center loss saw no features from this batch's forward: attach(model) first")
        features = features.float()
        self.last_batch = (features.detach(), target)
        spread = (features - self.centers[target]).pow(2).sum(1) / 2
        return F.cross_entropy(logits, target, reduction="none") + self.weight * spread

    @torch.no_grad()
    def after_step(self) -> None:
        features, target = self.last_batch
        pull = torch.zeros_like(self.centers).index_add_(0, target, features - self.centers[target])
        self.centers += self.center_lr * pull / len(target)


def mixed_loss(
    loss_fn: ClassificationLoss, logits: torch.Tensor, target_a: torch.Tensor, target_b: torch.Tensor, lam: torch.Tensor
) -> torch.Tensor:
    """CutMix's loss: mean over the batch of lam * loss(target_a) + (1 - lam) * loss(target_b), lam per example."""
    if isinstance(loss_fn, CenterLoss):
        raise ConfigError("loss 'center' cannot train on mixed images: its centers need one label per image")
    return (lam * loss_fn.per_example(logits, target_a) + (1 - lam) * loss_fn.per_example(logits, target_b)).mean()


# Factories take the experiment's ``loss_options`` (shared by every loss on its axis) and ignore the others' keys.


@LOSSES.register("ce")
def cross_entropy(**_) -> ClassificationLoss:
    return CrossEntropy()


@LOSSES.register("label_smoothing")
def label_smoothing(*, smoothing: float = 0.1, **_) -> ClassificationLoss:
    return CrossEntropy(smoothing)


@LOSSES.register("focal")
def focal(*, alpha: float = 1.0, gamma: float = 2.0, **_) -> ClassificationLoss:
    return FocalLoss(alpha, gamma)


@LOSSES.register("double_softmax")
def double_softmax(**_) -> ClassificationLoss:
    """The bug: cross-entropy (which applies softmax) on the model's softmax probabilities."""
    return DoubleSoftmaxCrossEntropy()


@LOSSES.register("own_softmax_nll")
def own_softmax_nll(**_) -> ClassificationLoss:
    """The fix: negative log-likelihood of the model's own softmax probabilities."""
    return OwnSoftmaxNLL()


@LOSSES.register("center")
def center(*, center_weight: float = 0.001, center_lr: float = 0.5, **_) -> ClassificationLoss:
    return CenterLoss(center_weight, center_lr)


def build_loss(name: str, options: dict) -> ClassificationLoss:
    return LOSSES[name](**options)
