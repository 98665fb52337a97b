"""The augmentation gallery: the same few test images as they are and under each augmentation pipeline.

Every pipeline draws its randomness per image; CutMix pastes a box from another image of the row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bnlab.data.augment import build_augmentation, build_mixing
from bnlab.plots import style


def fixed_images(data: dict, count: int = 8) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The first test image of each of the first ``count`` classes: images, labels and class names."""
    labels = data["y_test"]
    picks = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)[:count]]
    return data["x_test"][picks], labels[picks], [str(data["classes"][labels[i]]) for i in picks]


def augmented(name: str, batch: torch.Tensor, labels: np.ndarray, seed: int) -> torch.Tensor:
    """``batch`` under pipeline ``name``: its image steps, then its label mixing (CutMix) if it has one."""
    generator = torch.Generator().manual_seed(seed)
    x = build_augmentation(name)(batch.clone(), generator)
    mix = build_mixing(name)
    return x if mix is None else mix(x, torch.from_numpy(labels), generator)[0]


def draw(data: dict, png: str | Path, augmentations: list[str], images: int = 8, seed: int = 0) -> None:
    """One row per augmentation pipeline (after the originals), one column per fixed image of ``data``."""
    images, labels, names = fixed_images(data, images)
    batch = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
    rows = [("original", batch)] + [
        (name, augmented(name, batch, labels, seed)) for name in augmentations if name != "none"
    ]
    fig, axes = style.subplots(
        len(rows), len(images), figsize=(1.1 * len(images) + 1, 1.2 * len(rows) + 0.4), squeeze=False
    )
    gray = images.shape[-1] == 1
    for r, (row_name, shown) in enumerate(rows):
        for c, image in enumerate(shown.clamp(0, 1).permute(0, 2, 3, 1).numpy()):
            ax = axes[r][c]
            ax.imshow(image[..., 0] if gray else image, cmap="gray" if gray else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            ax.spines[:].set_visible(False)
            if r == 0:
                ax.set_title(names[c], fontsize=8)
        axes[r][0].set_ylabel(row_name, fontsize=8)
    style.save(fig, png)
