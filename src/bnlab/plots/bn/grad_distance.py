"""Figure of the maximum gradient difference over the distance moved along the gradient, both protocols."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.bn.common import PROTOCOL_TITLES, as_specified, band, seeds_note
from bnlab.plots.style import color, save, subplots

DIRECTIONS = {"paper": "d along -g / ||g||", "course": "d along +g_i / ||g_i||, each tensor i"}


def max_grad_diff(paper: pd.DataFrame, course: pd.DataFrame, png) -> None:
    """Per protocol the mean over batches and seeds as a line, their min-max as a band; one curve per model."""
    fig, axes = subplots(1, 2, figsize=(11, 4))
    for ax, (protocol, table) in zip(axes, (("paper", paper), ("course", as_specified(course)))):
        for model, rows in table.groupby("model", sort=False):
            curve = rows.groupby("distance")["max_grad_diff"].agg(["mean", "min", "max"]).reset_index()
            band(ax, curve["distance"], curve["min"], curve["max"], model, f"{model}, min-max")
            ax.plot(
                curve["distance"], curve["mean"], color=color(model), marker="o", markersize=3, label=f"{model}, mean"
            )
        ax.set_xlabel(f"distance moved: {DIRECTIONS[protocol]}")
        ax.set_ylabel("max |grad L(w + d u) - grad L(w)|")
        ax.set_title(PROTOCOL_TITLES[protocol] + seeds_note(table))
        ax.legend()
    fig.suptitle("Maximum gradient difference over distance")
    save(fig, png)
