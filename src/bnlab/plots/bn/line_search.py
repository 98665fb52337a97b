"""Figures of gradient predictiveness (the paper's line search beside report 000's) and effective beta-smoothness
(Santurkar et al., 2018, Fig. 4b-c)."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.bn.common import (
    PROTOCOL_TITLES,
    as_specified,
    band,
    boxes,
    over_seeds,
    seeds_note,
    smoothed,
    smoothing_note,
)
from bnlab.plots.style import color, save, subplots


def gradient_predictiveness(paper: pd.DataFrame, course: pd.DataFrame, png, smooth: int = 0) -> None:
    """Left the band over eta of ||grad L(w) - grad L(w - eta grad L(w))|| along training; right report 000's
    sum over tensors of ||g'_i - g_i|| after w += 0.1 g at the trained weights, one point per batch."""
    fig, axes = subplots(1, 2, figsize=(11, 4))
    means = over_seeds(paper, ["model", "step"], ["grad_diff_min", "grad_diff_max"])
    for model, rows in means.groupby("model", sort=False):
        band(axes[0], rows["step"], rows["grad_diff_min"], rows["grad_diff_max"], model, model, smooth)
    axes[0].set_xlabel("probed training step")
    axes[0].set_ylabel("||grad L(w) - grad L(w - eta g)||\nmin-max over eta")
    axes[0].set_title(PROTOCOL_TITLES["paper"] + seeds_note(paper) + smoothing_note(smooth, "probes"))
    axes[0].legend()
    boxes(axes[1], as_specified(course), "grad_diff")
    axes[1].set_ylabel("sum over tensors of ||g'_i - g_i||\nafter w += 0.1 g")
    axes[1].set_title(PROTOCOL_TITLES["course"] + ", trained weights, per batch")
    fig.suptitle("Gradient predictiveness")
    save(fig, png)


def beta_smoothness(table: pd.DataFrame, png, smooth: int = 0) -> None:
    fig, ax = subplots()
    for model, rows in over_seeds(table, ["model", "step"], ["beta_max"]).groupby("model", sort=False):
        ax.plot(rows["step"], smoothed(rows["beta_max"], smooth), color=color(model), label=model)
    ax.set_xlabel("probed training step")
    ax.set_ylabel("max over eta of gradient change / step length")
    ax.set_title('"Effective" beta-smoothness' + seeds_note(table) + smoothing_note(smooth, "probes"))
    ax.legend()
    save(fig, png)
