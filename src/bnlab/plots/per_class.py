"""Per-class test accuracy of an experiment's runs, as a heatmap (runs x classes)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bnlab.plots import style


def draw(accuracy: pd.DataFrame, png: str | Path, title: str = "") -> None:
    """``accuracy``: the long per-class table (label, class, accuracy), drawn in its row and class order."""
    wide = accuracy.pivot(index="label", columns="class", values="accuracy")
    wide = wide.reindex(index=accuracy["label"].drop_duplicates(), columns=accuracy["class"].drop_duplicates())
    fig, ax = style.subplots(figsize=(1.0 + 0.75 * wide.shape[1], 1.2 + 0.45 * wide.shape[0]))
    image = ax.imshow(wide.to_numpy(), cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for (r, c), value in pd.DataFrame(wide.to_numpy()).stack().items():
        ax.text(c, r, f"{value:.0f}", ha="center", va="center", fontsize=7, color="white" if value < 60 else "black")
    ax.set_xticks(range(wide.shape[1]), wide.columns, rotation=45, ha="right")
    ax.set_yticks(range(wide.shape[0]), wide.index)
    ax.grid(False)
    fig.colorbar(image, ax=ax, label="test accuracy (%)")
    ax.set_title(title or "Per-class test accuracy")
    style.save(fig, png)
