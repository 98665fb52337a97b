"""Confusion matrices of an experiment's runs: for each true class (row), the percent of its test images
predicted as each class (column); one panel per run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bnlab.plots import style


def draw(confusion: pd.DataFrame, png: str | Path, title: str = "") -> None:
    """``confusion``: the long table (label, true, predicted, images) in class order."""
    labels = list(dict.fromkeys(confusion["label"]))
    classes = list(dict.fromkeys(confusion["true"]))
    k = len(classes)
    fig, axes = style.subplots(1, len(labels), figsize=(0.45 * k * len(labels) + 1.5, 0.45 * k + 1.6), squeeze=False)
    for ax, label in zip(axes[0], labels):
        counts = confusion[confusion["label"] == label]["images"].to_numpy(dtype=float).reshape(k, k)
        rows = counts.sum(axis=1, keepdims=True)
        shares = 100.0 * np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
        image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=100)
        ax.set_xticks(range(k), classes, rotation=90, fontsize=6)
        ax.set_yticks(range(k), classes, fontsize=6)
        ax.set(xlabel="predicted", ylabel="true", title=label)
        ax.grid(False)
    fig.colorbar(image, ax=axes[0].tolist(), label="% of the true class")
    fig.suptitle(title or "Confusion matrices (test split)")
    style.save(fig, png)
