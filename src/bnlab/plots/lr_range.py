"""The learning-rate range test: smoothed training loss against an exponentially growing learning rate, one
curve per model, with each model's suggested rate (fastai's rule: the lowest loss's rate / 10) marked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bnlab.plots import style


def draw(table: pd.DataFrame, png: str | Path, title: str = "") -> None:
    """``table``: the range test (model, lr, loss, smoothed_loss, suggested_lr, diverged)."""
    fig, ax = style.subplots()
    for model, rows in table.groupby("model", sort=False):
        color = style.color(model)
        ax.plot(rows["lr"], rows["smoothed_loss"], color=color, label=model)
        suggested = rows["suggested_lr"].iloc[0]
        ax.axvline(suggested, color=color, ls="--", lw=0.8, label=f"{model}: suggested {suggested:.2g}")
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel="training loss (smoothed)", title=title or "Learning-rate range test")
    ax.legend()
    style.save(fig, png)
