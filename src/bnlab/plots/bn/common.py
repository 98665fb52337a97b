"""Drawing shared by the BatchNorm figures: series labels, min-max bands and the opt-in smoothing."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.style import color


def series(table: pd.DataFrame, by=("model", "lr")):
    """(label, model, rows) per model (and per lr where a model has several), in table order."""
    several_lrs = "lr" in by and (table.groupby("model")["lr"].nunique() > 1).any()
    keys = list(by) if several_lrs else ["model"]
    for key, rows in table.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        label = f"{key[0]} (lr {key[1]:g})" if several_lrs else key[0]
        yield label, key[0], rows


def smoothed(values: pd.Series, window: int) -> pd.Series:
    """A trailing rolling mean over ``window`` points; 0 or 1 leaves the values as they are."""
    return values.rolling(window, min_periods=1).mean() if window > 1 else values


def smoothing_note(window: int, unit: str = "points") -> str:
    return f" (rolling mean over {window} {unit})" if window > 1 else ""


def band(ax, x: pd.Series, low: pd.Series, high: pd.Series, model: str, label: str, smooth: int = 0) -> None:
    """The region between ``low`` and ``high`` in the model's colour, edged by thin lines."""
    low, high = smoothed(low, smooth), smoothed(high, smooth)
    ax.fill_between(x, low, high, color=color(model), alpha=0.3, linewidth=0, label=label)
    for edge in (low, high):
        ax.plot(x, edge, color=color(model), linewidth=0.6)
