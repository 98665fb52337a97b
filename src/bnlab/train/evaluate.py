"""Evaluation of a model on a whole split: mean loss, accuracy and per-class accuracy from one pass.

The trainer's test accuracy and the report's per-class table both come from this function, with the
training precision (bnlab.device.training_autocast), so on any device they agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bnlab.data.loader import DeviceDataset
from bnlab.device import EVAL_BATCH, training_autocast


@dataclass
class Evaluation:
    loss: float  # mean loss per image
    accuracy: float  # percent of images classified correctly
    per_class: list[float]  # percent correct within each class (NaN for a class without images)


@torch.no_grad()
def evaluate(model, data: DeviceDataset, loss_fn, num_classes: int) -> Evaluation:
    model.eval()
    device = data.device
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros(num_classes, device=device)
    seen = torch.zeros(num_classes, device=device)
    for x, y in data.batches(EVAL_BATCH):
        with training_autocast(device):
            logits = model(x)
        total_loss += loss_fn(logits.float(), y) * len(y)
        seen += torch.bincount(y, minlength=num_classes)
        correct += torch.bincount(y[logits.argmax(1) == y], minlength=num_classes)
    n = len(data)
    return Evaluation(
        loss=total_loss.item() / n,
        accuracy=100.0 * correct.sum().item() / n,
        per_class=(100.0 * correct / seen).tolist(),
    )
