"""The textbook training loop, the benchmark's baseline: a torchvision ``DataLoader`` over PIL images with
``num_workers`` worker processes and the PIL transforms RandomCrop(side, padding round(side / 8)),
RandomHorizontalFlip, ToTensor and Normalize, then per batch a copy to the device, a plain fp32 forward, backward and
optimizer step, and the running loss read back (as in PyTorch's CIFAR-10 tutorial).

The dataset turns one stored uint8 image into a PIL image per item, as torchvision's CIFAR10 does, so the images are
held once and the forked workers share them.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from bnlab.models import build_model
from bnlab.train.optimizers import build_optimizer


class PILImages(Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, mean: list[float], std: list[float]):
        self.images, self.labels = images, labels
        side, channels = images.shape[1], images.shape[-1]
        self.transform = transforms.Compose(
            [
                transforms.RandomCrop(side, padding=round(side / 8)),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                transforms.Normalize(np.broadcast_to(mean, channels).tolist(), np.broadcast_to(std, channels).tolist()),
            ]
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        image = self.images[i]
        return self.transform(Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)), int(self.labels[i])


class TextbookLoop:
    """The textbook loop on its own copy of ``spec``'s model and optimizer (seeded like the trainer's)."""

    def __init__(self, spec: dict, data: dict, mean, std, device: torch.device, workers: int):
        torch.manual_seed(spec["seed"])
        images = data["x_train"]
        self.model = build_model(
            spec["model"],
            num_classes=len(data["classes"]),
            in_channels=images.shape[-1],
            image_size=images.shape[1],
            width=spec["width"],
        ).to(device)
        self.optimizer = build_optimizer(
            spec["optimizer"], self.model.parameters(), spec["lr"], spec.get("optimizer_options", {})
        )
        self.loss_fn = nn.CrossEntropyLoss()
        self.device = device
        self.loader = DataLoader(
            PILImages(images, data["y_train"], mean, std),
            batch_size=spec["batch_size"],
            shuffle=True,
            num_workers=workers,
            pin_memory=device.type == "cuda",
        )

    def epoch_rate(self) -> float:
        """Images per second over one whole epoch, the workers' start included."""
        self.model.train()
        seen, running_loss = 0, 0.0
        start = time.perf_counter()
        for x, y in self.loader:
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            running_loss += loss.item()
            seen += len(y)
        return seen / (time.perf_counter() - start)
