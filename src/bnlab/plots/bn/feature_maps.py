"""Figure of the feature maps of the first conv layers for a few fixed test images, one block per model."""

from __future__ import annotations

import numpy as np

from bnlab.plots.style import save, subplots


def feature_maps(maps: dict[str, np.ndarray], png, channels: int = 8) -> None:
    """Per stored map a block of rows (one per image): the input image, then its first ``channels`` channels.

    Each channel is scaled to its own range over the images shown, so the images of one channel compare.
    """
    images, labels, classes = maps["images"], maps["labels"], maps["classes"]
    count = len(maps["models"])
    shown = min(channels, min(maps[f"map_{i}"].shape[1] for i in range(count)))
    fig, axes = subplots(
        count * len(images), shown + 1, figsize=(1.1 * (shown + 1), 1.15 * count * len(images)), squeeze=False
    )
    for i in range(count):
        activation = maps[f"map_{i}"].astype(np.float32)[:, :shown]
        low = activation.min(axis=(0, 2, 3), keepdims=True)
        span = np.maximum(activation.max(axis=(0, 2, 3), keepdims=True) - low, 1e-12)
        activation = (activation - low) / span
        for j, image in enumerate(images):
            row = axes[i * len(images) + j]
            row[0].imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
            row[0].set_ylabel(f"{maps['models'][i]}\n{maps['layers'][i]}\n{classes[labels[j]]}", fontsize=6)
            for c in range(shown):
                row[1 + c].imshow(activation[j, c], cmap="viridis", vmin=0, vmax=1)
                if i == count - 1 and j == len(images) - 1:
                    row[1 + c].set_xlabel(f"channel {c}", fontsize=7)
            for ax in row:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                ax.spines[:].set_visible(False)
    fig.suptitle("Feature maps after the first conv layers (each channel scaled to its range)", fontsize=9)
    save(fig, png)
