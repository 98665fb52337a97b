"""Training curves of one experiment: training loss per step, train and test accuracy per epoch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb
from matplotlib.ticker import FuncFormatter, MaxNLocator

from bnlab.plots import style
from bnlab.train.run_folder import METRICS, STEPS, read_table


def run_colors(models: list[str]) -> list[tuple[float, float, float]]:
    """Each run in its model's colour; several runs of one model in lighter shades of it."""
    runs_of, seen, colors = Counter(models), Counter(), []
    for model in models:
        base = np.array(to_rgb(style.color(model)))
        colors.append(tuple(base + (1 - base) * 0.6 * seen[model] / runs_of[model]))
        seen[model] += 1
    return colors


def draw(runs: pd.DataFrame, data: dict, png: str | Path, title: str = "") -> None:
    """``runs``: the experiment's runs table (label, model, status, run_dir); ``data``: its prepared arrays."""
    chance = 100.0 / len(data["classes"])
    fig, (loss_ax, acc_ax) = style.subplots(1, 2, figsize=(12, 4))
    last_epoch = 1
    for run, color in zip(runs.itertuples(), run_colors(list(runs["model"]))):
        label = run.label + (f" (diverged at step {run.diverged_step:.0f})" if run.status == "diverged" else "")
        steps, metrics = read_table(run.run_dir, STEPS), read_table(run.run_dir, METRICS)
        last_epoch = max(last_epoch, metrics["epoch"].max())
        loss_ax.plot(steps["step"], steps["loss"], color=color, lw=0.8, alpha=0.8)
        acc_ax.plot(metrics["epoch"], metrics["test_acc"], color=color, marker="o", ms=3, label=label)
        acc_ax.plot(metrics["epoch"], metrics["train_acc"], color=color, ls="--", marker=".", ms=3, lw=0.9)
    # Log scale: the first steps' loss and a diverging run's would squash the rest against the axis.
    loss_ax.set_yscale("log")
    for set_formatter in (loss_ax.yaxis.set_major_formatter, loss_ax.yaxis.set_minor_formatter):
        set_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    acc_ax.axhline(chance, color="0.5", lw=0.8, ls=":", label="chance")
    loss_ax.set(xlabel="step", ylabel="training loss (per step)", title="Training loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy (solid: test, dashed: train)")
    acc_ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    acc_ax.set_xlim(0.5, last_epoch + 0.5)
    acc_ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    if title:
        fig.suptitle(title)
    style.save(fig, png)
