"""Figures of the paper's line-search probe along training (Santurkar et al., 2018, Fig. 4a-c)."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.bn.common import band, series, smoothed, smoothing_note
from bnlab.plots.style import color, save, subplots


def _probe_band(table: pd.DataFrame, png, low: str, high: str, ylabel: str, title: str, smooth: int) -> None:
    fig, ax = subplots()
    for label, model, rows in series(table):
        band(ax, rows["step"], rows[low], rows[high], model, label, smooth)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.set_title(title + smoothing_note(smooth, "probes"))
    ax.legend()
    save(fig, png)


def probe_loss(table: pd.DataFrame, png, smooth: int = 0) -> None:
    _probe_band(
        table,
        png,
        "loss_min",
        "loss_max",
        "loss at w - eta grad L(w), min-max over eta",
        "Loss landscape along the gradient (line search)",
        smooth,
    )


def gradient_predictiveness(table: pd.DataFrame, png, smooth: int = 0) -> None:
    _probe_band(
        table,
        png,
        "grad_diff_min",
        "grad_diff_max",
        "||grad L(w) - grad L(w - eta grad L(w))||",
        "Gradient predictiveness (min-max over eta)",
        smooth,
    )


def beta_smoothness(table: pd.DataFrame, png, smooth: int = 0) -> None:
    fig, ax = subplots()
    for label, model, rows in series(table):
        ax.plot(rows["step"], smoothed(rows["beta_max"], smooth), color=color(model), label=label)
    ax.set_xlabel("training step")
    ax.set_ylabel("max over eta of gradient change / step length")
    ax.set_title('"Effective" beta-smoothness' + smoothing_note(smooth, "probes"))
    ax.legend()
    save(fig, png)
