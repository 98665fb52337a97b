"""Training curves: loss and accuracy per epoch, in long form so train and test share columns.

Table results/analysis/training_curves/paper/<experiment>.csv (the runs the paper protocol analyses), one row per
run, epoch and split:
    model, lr, run, seed   the run (model name, its base learning rate, run id, seed)
    protocol         paper
    epoch            epochs completed (1-based)
    split            train (mean over the epoch's steps, in training mode) or test (after the epoch)
    loss, acc        mean loss and accuracy in percent
"""

from __future__ import annotations

import pandas as pd

from bnlab.analysis.protocols import PAPER

COLUMNS = ["model", "lr", "run", "seed", "protocol", "epoch", "split", "loss", "acc"]


def training_curves(metrics: pd.DataFrame) -> pd.DataFrame:
    """Long form of the runs' metrics.csv rows.

    Columns in: model, lr, run, seed, epoch, train_loss, train_acc, test_loss, test_acc.
    """
    frames = [
        metrics.rename(columns={f"{split}_loss": "loss", f"{split}_acc": "acc"}).assign(split=split, protocol=PAPER)
        for split in ("train", "test")
    ]
    return pd.concat(frames, ignore_index=True)[COLUMNS].sort_values(
        ["model", "lr", "run", "epoch", "split"], ignore_index=True
    )
