"""Figure of the course's loss landscape: the band of per-step training loss over learning rates."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.bn.common import band, series, smoothing_note
from bnlab.plots.style import save, subplots


def loss_landscape(table: pd.DataFrame, png, smooth: int = 0) -> None:
    """All models on the first axis, then one panel per model (same y range)."""
    models = list(dict.fromkeys(table["model"]))
    fig, axes = subplots(1, len(models) + 1, figsize=(4.2 * (len(models) + 1), 3.8), sharey=True, squeeze=False)
    axes = axes[0]
    lrs = table["lrs"].max()
    for label, model, rows in series(table, by=("model",)):
        for ax in (axes[0], axes[1 + models.index(model)]):
            band(ax, rows["step"], rows["loss_min"], rows["loss_max"], model, label, smooth)
    axes[0].set_title("all models")
    for model, ax in zip(models, axes[1:]):
        ax.set_title(model)
    for ax in axes:
        ax.set_xlabel("training step")
        ax.legend(loc="upper right")
    axes[0].set_ylabel(f"training loss, min-max over {lrs} learning rates")
    fig.suptitle("Loss landscape: spread of the training loss over learning rates" + smoothing_note(smooth, "steps"))
    save(fig, png)
