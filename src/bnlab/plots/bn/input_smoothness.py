"""Figure of the input-gradient smoothness ratio per batch, the paper's definition beside report 000's."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.bn.common import PROTOCOL_TITLES, as_specified, boxes
from bnlab.plots.style import save, subplots


def input_smoothness(paper: pd.DataFrame, course: pd.DataFrame, png) -> None:
    fig, axes = subplots(1, 2, figsize=(10, 4))
    labels = {
        "paper": "||G(x + delta) - G(x)|| / ||delta||\nG of the summed loss",
        "course": "||G(x + delta) - G(x)|| / mean_i ||delta_i||\nG of the mean loss",
    }
    for ax, (protocol, table) in zip(axes, (("paper", paper), ("course", as_specified(course)))):
        boxes(ax, table, "ratio")
        ax.set_ylabel(labels[protocol])
        ax.set_title(f"{PROTOCOL_TITLES[protocol]} (delta ~ N(0, {table['noise_std'].iloc[0]:g}^2))")
    fig.suptitle("Input-gradient smoothness per batch (G = grad_x of the loss)")
    save(fig, png)
