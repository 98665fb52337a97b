"""The prepared dataset held on the training device as uint8, served in augmented batches.

Keeping the whole (small) dataset on the device and augmenting whole batches there
removes the per-sample Python loop and PIL from the hot path (the airbench approach).
A batch stays uint8 while it is only cropped and flipped (a quarter of the bytes to move), and
becomes the model's float input in one conversion that also normalises it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from bnlab.data.augment import Augmentation, select_images


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
        # NHWC uint8 -> an NCHW view (channels-last in memory, which is what convs on CUDA prefer); the one copy of
        # the images on the device (none at all on the CPU, where it shares the array's memory).
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
        """The model's input, (x - mean) / std in the model's memory format, from uint8 images or floats in [0, 1].

        One conversion into a fresh tensor, then in-place arithmetic: the same operations, hence the same values,
        as converting, dividing by 255 and normalising out of place, with a third of the memory traffic."""
        out = torch.empty(x.shape, dtype=torch.float32, device=x.device, memory_format=self.memory_format)
        out.copy_(x)
        if not x.is_floating_point():
            out.div_(255)
        return out.sub_(self.mean).div_(self.std)

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
            x = select_images(self.images, index)
            if augment is not None:
                x = augment(x, generator)
            yield self.normalize(x), self.labels[index]
