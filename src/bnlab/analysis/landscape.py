"""Loss landscape, report 000's version (the ``course`` protocol): the spread of the training loss over learning
rates, step by step. (The paper's is the line-search probe, bnlab.analysis.probe_bands.)

Each compared model is trained at several learning rates, repeated with each seed; at every training step of a
seed the band between
the lowest and the highest loss over those runs shows how sensitive training is to the learning
rate (a narrow band = a landscape that tolerates any of them). No smoothing here: the figure
smooths only when asked to, and says so. A learning rate whose loss blew up (NaN or inf) makes the band
unbounded from that step on, for the rest of training: a network that diverges never looks smoother.

Table results/analysis/loss_landscape/course/<experiment>.csv, one row per model, seed and training step:
    protocol            course
    model, seed         the model name and the seed of its runs
    step, epoch         the training step (0-based, over all epochs) and its epoch (1-based)
    lrs                 number of learning rates with a finite loss at this step
    diverged            number of learning rates whose loss was not finite at or before this step
    loss_min            lowest finite training loss over the learning rates
    loss_max            highest training loss over them: inf when any has diverged
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnlab.analysis.protocols import COURSE

COLUMNS = ["protocol", "model", "seed", "step", "epoch", "lrs", "diverged", "loss_min", "loss_max"]


def loss_band(steps: pd.DataFrame) -> pd.DataFrame:
    """Min and max of ``loss`` over the runs of each model and seed at each step (columns model, lr, seed, step,
    epoch, loss)."""
    # One column per learning rate; a run that stopped at its diverged step keeps an infinite loss afterwards.
    steps = steps.assign(loss=steps["loss"].where(np.isfinite(steps["loss"]), np.inf))
    wide = steps.pivot_table(index=["model", "seed", "step", "epoch"], columns="lr", values="loss", aggfunc="first")
    wide = wide.where(~np.isinf(wide).groupby(level=["model", "seed"]).cummax(), np.inf)
    finite = wide.where(np.isfinite(wide))
    band = pd.DataFrame(
        {
            "lrs": finite.notna().sum(axis=1),
            "diverged": np.isinf(wide).sum(axis=1),
            "loss_min": finite.min(axis=1),
            "loss_max": wide.max(axis=1),
        }
    )
    return band.reset_index().assign(protocol=COURSE)[COLUMNS]
