"""Figure of the maximum gradient difference over the distance moved along the gradient."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.bn.common import band, series
from bnlab.plots.style import color, save, subplots


def max_grad_diff(table: pd.DataFrame, png) -> None:
    """Mean over batches as a line, min-max over batches as a band; one curve per model."""
    fig, ax = subplots()
    for label, model, rows in series(table):
        curve = rows.groupby("distance")["max_grad_diff"].agg(["mean", "min", "max"]).reset_index()
        band(ax, curve["distance"], curve["min"], curve["max"], model, f"{label}, min-max over batches")
        ax.plot(curve["distance"], curve["mean"], color=color(model), marker="o", markersize=3, label=f"{label}, mean")
    ax.set_xlabel("distance d moved along the normalised gradient")
    ax.set_ylabel("max |grad L(w + d u) - grad L(w)|")
    ax.set_title("Maximum gradient difference over distance")
    ax.legend()
    save(fig, png)
