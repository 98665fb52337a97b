"""Drawing shared by the BatchNorm figures: series labels, min-max bands, the opt-in smoothing, protocol titles and
means over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnlab.analysis.protocols import AS_SPECIFIED, COURSE, PAPER
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


# How a figure names each protocol (bnlab.analysis.protocols).
PROTOCOL_TITLES = {PAPER: "The paper's protocol", COURSE: "Report 000's protocol"}


def as_specified(table: pd.DataFrame) -> pd.DataFrame:
    """The rows measured as the protocol specifies (a course table also holds its quirks' variants)."""
    return table[table["variant"] == AS_SPECIFIED] if "variant" in table else table


def over_seeds(table: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    """``columns`` averaged over the seeds (and any other rows) that share ``keys``, in table order."""
    return table.groupby(keys, sort=False)[columns].mean().reset_index()


def seeds_note(table: pd.DataFrame) -> str:
    seeds = table["seed"].nunique()
    return f", mean over {seeds} seeds" if seeds > 1 else ""


def boxes(ax, table: pd.DataFrame, column: str) -> None:
    """A box per model of ``column`` over all its rows (batches and seeds), with every value drawn over it."""
    groups = list(table.groupby("model", sort=False))
    drawn = ax.boxplot(
        [rows[column] for _, rows in groups],
        widths=0.5,
        showfliers=False,
        medianprops={"color": "black"},
        patch_artist=True,
    )
    ax.set_xticks(range(1, len(groups) + 1), [model for model, _ in groups])
    for position, (patch, (model, rows)) in enumerate(zip(drawn["boxes"], groups), start=1):
        patch.set(facecolor=color(model), alpha=0.3)
        jitter = np.linspace(-0.12, 0.12, len(rows)) if len(rows) > 1 else np.zeros(1)
        ax.scatter(position + jitter, rows[column], color=color(model), s=14, zorder=3)
