"""Figure of the per-ReLU activation statistics: mean, std and the two dead-unit measures."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.bn.common import series
from bnlab.plots.style import color, save, subplots


def activation_stats(table: pd.DataFrame, png) -> None:
    threshold = table["threshold"].iloc[0]
    panels = [
        ("mean", "mean activation"),
        ("std", "activation std"),
        ("dead_pct", f"dead units, % (mean activation < {threshold:g})"),
        ("never_active_pct", "never-active units, % (0 on every test image)"),
    ]
    table = table.assign(
        dead_pct=100 * table["dead_units"] / table["units"],
        never_active_pct=100 * table["never_active_units"] / table["units"],
    )
    fig, axes = subplots(2, 2, figsize=(10, 6.5), sharex=True)
    for ax, (column, title) in zip(axes.flat, panels):
        for label, model, rows in series(table):
            ax.plot(rows["layer_index"], rows[column], color=color(model), marker="o", markersize=3, label=label)
        ax.set_title(title)
    layers = table.drop_duplicates("layer_index").sort_values("layer_index")
    for ax in axes[1]:
        ax.set_xticks(layers["layer_index"], [f"ReLU {i + 1}" for i in layers["layer_index"]], rotation=45, ha="right")
    axes[0, 0].legend()
    fig.suptitle("Activations after every ReLU over the test set")
    save(fig, png)
