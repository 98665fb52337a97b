"""Loss landscape, the course's version: the spread of the training loss over learning rates, step by step.

Each compared model is trained at several learning rates; at every training step the band between
the lowest and the highest loss over those runs shows how sensitive training is to the learning
rate (a narrow band = a landscape that tolerates any of them). No smoothing here: the figure
smooths only when asked to, and says so.

Table results/analysis/loss_landscape/<experiment>.csv, one row per model and training step:
    model               the model name
    step, epoch         the training step (0-based, over all epochs) and its epoch (1-based)
    lrs                 number of learning rates with a finite loss at this step (a diverged run drops out)
    loss_min, loss_max  lowest and highest training loss over those learning rates
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["model", "step", "epoch", "lrs", "loss_min", "loss_max"]


def loss_band(steps: pd.DataFrame) -> pd.DataFrame:
    """Min and max of ``loss`` over the runs of each model at each step (columns model, lr, step, epoch, loss)."""
    finite = steps[np.isfinite(steps["loss"])]
    band = (finite.groupby(["model", "step", "epoch"], sort=True)
            .agg(lrs=("lr", "nunique"), loss_min=("loss", "min"), loss_max=("loss", "max"))
            .reset_index())
    return band[COLUMNS]
