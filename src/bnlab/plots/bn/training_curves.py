"""Figure of the training curves: loss and accuracy per epoch, train dashed and test solid, models on shared axes."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.bn.common import over_seeds, seeds_note, series
from bnlab.plots.style import color, save, subplots

STYLES = {"train": "--", "test": "-"}


def training_curves(table: pd.DataFrame, png) -> None:
    fig, axes = subplots(1, 2, figsize=(10, 3.8))
    for label, model, rows in series(over_seeds(table, ["model", "lr", "epoch", "split"], ["loss", "acc"])):
        for split, style in STYLES.items():
            part = rows[rows["split"] == split]
            for ax, column in zip(axes, ("loss", "acc")):
                ax.plot(
                    part["epoch"],
                    part[column],
                    style,
                    color=color(model),
                    marker="o",
                    markersize=3,
                    label=f"{label} {split}",
                )
    for ax, title in zip(axes, ("loss", "accuracy (%)")):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[1].legend()
    fig.suptitle(f"Training curves (train: mean over the epoch's steps; test: after the epoch{seeds_note(table)})")
    save(fig, png)
