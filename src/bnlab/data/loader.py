"""The prepared dataset held on the training device as uint8, served in augmented batches.

Keeping the whole (small) dataset on the device and augmenting whole batches there
removes the per-sample Python loop and PIL from the hot path (the airbench approach).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from bnlab.data.augment import Augmentation


def per_channel(values: list[float], channels: int, device: torch.device) -> torch.Tensor:
    """Normalisation constants shaped (1, C, 1, 1); one value serves every channel."""
    if len(values) not in (1, channels):
        raise ValueError(f"{len(values)} normalisation values for {channels}-channel images")
    return torch.tensor(values, device=device, dtype=torch.float32).expand(channels).view(1, -1, 1, 1)


class DeviceDataset:
    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        device: torch.device,
        mean: list[float],
        std: list[float],
        memory_format=torch.contiguous_format,
    ):
        # NHWC uint8 -> an NCHW view (channels-last in memory, which is what convs on CUDA prefer).
        self.images = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)
        channels = self.images.shape[1]
        self.mean = per_channel(mean, channels, device)
        self.std = per_channel(std, channels, device)
        self.memory_format = memory_format
        self.device = device

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        return tuple(self.images.shape[1:])

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.std).contiguous(memory_format=self.memory_format)

    def batches(
        self,
        batch_size: int,
        *,
        augment: Augmentation | None = None,
        generator: torch.Generator | None = None,
        shuffle: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self)
        order = (
            torch.randperm(n, device=self.device, generator=generator)
            if shuffle
            else torch.arange(n, device=self.device)
        )
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            x = self.images[index].float().div_(255)
            if augment is not None:
                x = augment(x, generator)
            yield self.normalize(x), self.labels[index]
