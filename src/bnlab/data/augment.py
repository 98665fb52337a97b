"""Batched augmentations that run on the training device.

Each works on a float batch in [0, 1], NCHW, and draws its randomness from the
run's generator, so a checkpoint that stores the generator resumes the same stream.
Pipelines are named by joining registry names with '+', e.g. ``crop+flip+cutout``.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from bnlab.registry import AUGMENTATIONS

Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@AUGMENTATIONS.register("none")
def identity(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x


@AUGMENTATIONS.register("crop")
def random_crop(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Zero-pad by ``pad`` pixels, then take a random crop of the original size per image."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n, 1), device=x.device, generator=generator)
    rows = dy + torch.arange(h, device=x.device)  # (n, h)
    cols = dx + torch.arange(w, device=x.device)  # (n, w)
    batch = torch.arange(n, device=x.device)[:, None, None]
    # Advanced indices around a slice put the indexed dims first: (n, h, w, c).
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


@AUGMENTATIONS.register("flip")
def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


@AUGMENTATIONS.register("cutout")
def cutout(x: torch.Tensor, generator: torch.Generator, size_fraction: float = 0.25) -> torch.Tensor:
    """Zero one square of side ``size_fraction`` x image side, centred anywhere (DeVries & Taylor, 2017)."""
    n, _, h, w = x.shape
    half = max(1, round(size_fraction * min(h, w))) / 2
    cy = torch.randint(0, h, (n, 1, 1), device=x.device, generator=generator)
    cx = torch.randint(0, w, (n, 1, 1), device=x.device, generator=generator)
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    hole = ((rows - cy).abs() < half) & ((cols - cx).abs() < half)
    return x * ~hole[:, None]


def build_augmentation(name: str) -> Augmentation:
    steps = [AUGMENTATIONS[part] for part in name.split("+")]

    def pipeline(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for step in steps:
            x = step(x, generator)
        return x

    return pipeline
