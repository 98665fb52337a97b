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
    confusion: list[list[int]]  # images of true class i (row) predicted as class j (column)

    @property
    def per_class(self) -> list[float]:
        """Percent correct within each class (NaN for a class without images)."""
        return [100.0 * row[i] / sum(row) if sum(row) else float("nan") for i, row in enumerate(self.confusion)]


@torch.no_grad()
def evaluate(model, data: DeviceDataset, loss_fn, num_classes: int) -> Evaluation:
    model.eval()
    device = data.device
    total_loss = torch.zeros((), device=device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.long, device=device)
    for x, y in data.batches(EVAL_BATCH):
        with training_autocast(device):
            logits = model(x)
        total_loss += loss_fn(logits.float(), y) * len(y)
        confusion += torch.bincount(y * num_classes + logits.argmax(1), minlength=num_classes * num_classes)
    confusion = confusion.view(num_classes, num_classes)
    n = len(data)
    return Evaluation(
        loss=total_loss.item() / n,
        accuracy=100.0 * confusion.diagonal().sum().item() / n,
        confusion=confusion.tolist(),
    )
