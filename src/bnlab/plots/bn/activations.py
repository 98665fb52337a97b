"""Figure of the per-layer activation statistics: the paper protocol's ReLU units above, report 000's layer
outputs below."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.bn.common import PROTOCOL_TITLES, over_seeds
from bnlab.plots.style import color, save, subplots


def activation_stats(paper: pd.DataFrame, course: pd.DataFrame, png) -> None:
    paper = paper.assign(dead_pct=100 * paper["dead_units"] / paper["units"])
    course = course.assign(dead_pct=100 * course["dead_frac"])
    rows = (
        (paper, "paper", f"dead units, % (mean activation < {paper['threshold'].iloc[0]:g})", "ReLU"),
        (course, "course", f"dead entries, % (|a| < {course['threshold'].iloc[0]:g})", "layer"),
    )
    fig, axes = subplots(2, 3, figsize=(13, 7))
    for row, (table, protocol, dead, unit) in zip(axes, rows):
        means = over_seeds(table, ["model", "layer_index", "layer"], ["mean", "std", "dead_pct"])
        for ax, (column, title) in zip(
            row, (("mean", "mean activation"), ("std", "activation std"), ("dead_pct", dead))
        ):
            for model, lines in means.groupby("model", sort=False):
                ax.plot(lines["layer_index"], lines[column], color=color(model), marker="o", markersize=3, label=model)
            ax.set_title(f"{PROTOCOL_TITLES[protocol]}: {title}", fontsize=9)
            ax.set_xlabel(f"{unit} in forward order")
        row[0].legend()
    fig.suptitle(
        "Activations: after every ReLU over the test set (paper); every Conv2d, Linear, BatchNorm2d output (report 000)"
    )
    save(fig, png)
