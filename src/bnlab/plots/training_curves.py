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
    """``runs``: the experiment's runs table (label, setting, model, status, run_dir); ``data``: its prepared
    arrays. Repeats of one setting over seeds are drawn as their mean with a band of ± one std."""
    chance = 100.0 / len(data["classes"])
    fig, (loss_ax, acc_ax) = style.subplots(1, 2, figsize=(12, 4))
    last_epoch = 1
    settings = list(runs.groupby("setting", sort=False))
    for (setting, group), color in zip(settings, run_colors([g["model"].iloc[0] for _, g in settings])):
        diverged = group[group["status"] == "diverged"]
        label = setting + (f" ({len(group)} seeds)" if len(group) > 1 else "")
        label += "".join(f" (diverged at step {step:.0f})" for step in diverged["diverged_step"])
        steps = pd.concat([read_table(d, STEPS) for d in group["run_dir"]]).groupby("step")["loss"]
        metrics = pd.concat([read_table(d, METRICS) for d in group["run_dir"]]).groupby("epoch")
        last_epoch = max(last_epoch, max(metrics.groups))
        loss_ax.plot(steps.mean().index, steps.mean(), color=color, lw=0.8, alpha=0.8)
        for column, line in (
            ("test_acc", {"marker": "o", "ms": 3, "label": label}),
            ("train_acc", {"ls": "--", "marker": ".", "ms": 3, "lw": 0.9}),
        ):
            mean, std = metrics[column].mean(), metrics[column].std().fillna(0)
            acc_ax.plot(mean.index, mean, color=color, **line)
            if len(group) > 1:
                acc_ax.fill_between(mean.index, mean - std, mean + std, color=color, alpha=0.15, lw=0)
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
