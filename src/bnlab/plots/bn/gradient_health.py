"""Figure of the gradient health per parameter tensor: the paper protocol at the snapshot epochs, report 000's at
the final weights."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.bn.common import PROTOCOL_TITLES, as_specified
from bnlab.plots.style import color, save, subplots

MEASURES = [
    ("grad_norm", "gradient norm"),
    ("vanishing_pct", "% entries |g| < 1e-7"),
    ("exploding_pct", "% entries |g| > 1"),
]


def _per_parameter(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Each measure averaged over batches and seeds, per ``keys`` and parameter."""
    table = table.assign(vanishing_pct=100 * table["vanishing_frac"], exploding_pct=100 * table["exploding_frac"])
    return table.groupby([*keys, "parameter"], sort=False)[[m for m, _ in MEASURES]].mean().reset_index()


def gradient_health(paper: pd.DataFrame, course: pd.DataFrame, png) -> None:
    """One column per model, one row per measure: a line per snapshot epoch of the paper protocol (darker = later)
    and a dashed black line for report 000's protocol; averaged over batches and seeds."""
    paper, course = _per_parameter(paper, ["model", "epoch"]), _per_parameter(as_specified(course), ["model"])
    models = list(dict.fromkeys(paper["model"]))
    epochs = sorted(paper["epoch"].unique())
    fig, axes = subplots(
        len(MEASURES), len(models), figsize=(5.5 * len(models), 8), sharex="col", sharey="row", squeeze=False
    )
    for col, model in enumerate(models):
        rows = paper[paper["model"] == model]
        names = list(dict.fromkeys(rows["parameter"]))
        lines = [
            (
                rows[rows["epoch"] == epoch],
                f"{PROTOCOL_TITLES['paper']}, epoch {epoch}",
                color(model),
                shade / len(epochs),
                "-",
            )
            for shade, epoch in enumerate(epochs, start=1)
        ]
        lines.append(
            (course[course["model"] == model], f"{PROTOCOL_TITLES['course']}, final weights", "black", 1.0, "--")
        )
        for at, label, line_color, alpha, style in lines:
            at = at.set_index("parameter").reindex(names)
            for row, (measure, _) in enumerate(MEASURES):
                axes[row, col].plot(
                    range(len(names)),
                    at[measure],
                    style,
                    marker="o",
                    markersize=3,
                    color=line_color,
                    alpha=alpha,
                    label=label,
                )
        axes[0, col].set_title(model)
        axes[0, col].set_yscale("log")
        axes[-1, col].set_xticks(range(len(names)), names, rotation=90, fontsize=6)
        axes[0, col].legend(fontsize=7)
    for row, (_, label) in enumerate(MEASURES):
        axes[row, 0].set_ylabel(label)
    fig.suptitle("Gradient health per parameter tensor (mean over batches and seeds)")
    save(fig, png)
