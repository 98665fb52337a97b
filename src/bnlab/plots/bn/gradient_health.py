"""Figure of the gradient health per parameter tensor at the snapshot epochs."""

from __future__ import annotations

import pandas as pd

from bnlab.plots.style import color, save, subplots

MEASURES = [
    ("grad_norm", "gradient norm"),
    ("vanishing_pct", "% entries |g| < 1e-7"),
    ("exploding_pct", "% entries |g| > 1"),
]


def gradient_health(table: pd.DataFrame, png) -> None:
    """One column per model, one row per measure; one line per epoch (darker = later), averaged over batches."""
    table = table.assign(vanishing_pct=100 * table["vanishing_frac"], exploding_pct=100 * table["exploding_frac"])
    per_parameter = (
        table.groupby(["model", "epoch", "parameter"], sort=False)[[m for m, _ in MEASURES]].mean().reset_index()
    )
    models = list(dict.fromkeys(table["model"]))
    epochs = sorted(table["epoch"].unique())
    fig, axes = subplots(
        len(MEASURES), len(models), figsize=(5.5 * len(models), 8), sharex="col", sharey="row", squeeze=False
    )
    for col, model in enumerate(models):
        rows = per_parameter[per_parameter["model"] == model]
        names = list(dict.fromkeys(rows["parameter"]))
        for shade, epoch in enumerate(epochs, start=1):
            at = rows[rows["epoch"] == epoch].set_index("parameter").loc[names]
            for row, (measure, _) in enumerate(MEASURES):
                axes[row, col].plot(
                    range(len(names)),
                    at[measure],
                    marker="o",
                    markersize=3,
                    color=color(model),
                    alpha=shade / len(epochs),
                    label=f"epoch {epoch}",
                )
        axes[0, col].set_title(model)
        axes[0, col].set_yscale("log")
        axes[-1, col].set_xticks(range(len(names)), names, rotation=90, fontsize=6)
        axes[0, col].legend()
    for row, (_, label) in enumerate(MEASURES):
        axes[row, 0].set_ylabel(label)
    fig.suptitle("Gradient health per parameter tensor (mean over batches)")
    save(fig, png)
