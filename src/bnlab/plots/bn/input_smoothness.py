"""Figure of the input-gradient smoothness ratio, its distribution over batches per model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnlab.plots.bn.common import series
from bnlab.plots.style import color, save, subplots


def input_smoothness(table: pd.DataFrame, png) -> None:
    """A box per model with every batch's ratio drawn over it."""
    fig, ax = subplots()
    groups = list(series(table))
    boxes = ax.boxplot(
        [rows["ratio"] for _, _, rows in groups],
        widths=0.5,
        showfliers=False,
        medianprops={"color": "black"},
        patch_artist=True,
    )
    ax.set_xticks(range(1, len(groups) + 1), [label for label, _, _ in groups])
    for position, (patch, (_, model, rows)) in enumerate(zip(boxes["boxes"], groups), start=1):
        patch.set(facecolor=color(model), alpha=0.3)
        jitter = np.linspace(-0.12, 0.12, len(rows)) if len(rows) > 1 else np.zeros(1)
        ax.scatter(position + jitter, rows["ratio"], color=color(model), s=14, zorder=3)
    noise = table["noise_std"].iloc[0]
    ax.set_ylabel("||grad_x L(x + delta) - grad_x L(x)|| / ||delta||")
    ax.set_title(f"Input-gradient smoothness per batch (delta ~ N(0, {noise:g}^2))")
    save(fig, png)
