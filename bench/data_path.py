"""Benchmark: images/s of the training data path, device-resident batches vs a torchvision DataLoader.

Both produce the same thing per epoch (random 4-px-padded crop, horizontal flip, normalisation,
shuffled batches of 128) from the same uint8 images; no model runs, so this isolates the data path.

    python bench/data_path.py [--images 20000] [--threads 2]

Prints both rates and their ratio measured in the same process.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torchvision.transforms as T
from torch.utils.data import DataLoader, Dataset

from bnlab.data.augment import build_augmentation
from bnlab.data.loader import DeviceDataset
from bnlab.train.trainer import pick_device


class PILDataset(Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray):
        from PIL import Image

        self.images = [Image.fromarray(i) for i in images]
        self.labels = labels
        self.transform = T.Compose(
            [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)]
        )

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.labels[i]


def rate(batches, n: int) -> float:
    start = time.perf_counter()
    for x, _ in batches:
        x.sum().item()  # force the work (and a device sync) per batch
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, args.images)
    device = pick_device()

    loader = DataLoader(PILDataset(images, labels), batch_size=128, shuffle=True, num_workers=0)
    baseline = rate(((x.to(device), y) for x, y in loader), args.images)

    data = DeviceDataset(images, labels, device, [0.5], [0.5])
    augment, generator = build_augmentation("crop+flip"), torch.Generator(device=device).manual_seed(0)
    rate(data.batches(128, augment=augment, generator=generator, shuffle=True), args.images)  # warm-up
    ours = rate(data.batches(128, augment=augment, generator=generator, shuffle=True), args.images)

    print(f"device {device}, {args.images:,} images, {args.threads} threads")
    print(f"torchvision DataLoader (PIL transforms): {baseline:12,.0f} img/s")
    print(f"bnlab DeviceDataset (batched on device):  {ours:12,.0f} img/s")
    print(f"ratio: {ours / baseline:.1f}x")


if __name__ == "__main__":
    main()
