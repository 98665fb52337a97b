"""Figure of the two loss landscapes side by side: the paper's along the gradient, report 000's over learning rates."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.bn.common import PROTOCOL_TITLES, band, over_seeds, seeds_note, smoothing_note
from bnlab.plots.style import save, subplots


def loss_landscape(paper: pd.DataFrame, course: pd.DataFrame, png, smooth: int = 0) -> None:
    """Left the line-search band (loss over the step sizes eta at each probed step), right the band of the training
    loss over the learning rates at each step; models overlaid, each band averaged over its seeds."""
    fig, axes = subplots(1, 2, figsize=(11, 4))
    panels = (
        (paper, "paper", "probed training step", "loss at w - eta grad L(w)\nmin-max over eta"),
        (course, "course", "training step", f"training loss\nmin-max over {course['lrs'].max()} learning rates"),
    )
    for ax, (table, protocol, xlabel, ylabel) in zip(axes, panels):
        for model, rows in over_seeds(table, ["model", "step"], ["loss_min", "loss_max"]).groupby("model", sort=False):
            band(ax, rows["step"], rows["loss_min"], rows["loss_max"], model, model, smooth)
        ax.set_title(PROTOCOL_TITLES[protocol] + seeds_note(table))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="best")
    fig.suptitle("Loss landscape" + smoothing_note(smooth, "points"))
    save(fig, png)
