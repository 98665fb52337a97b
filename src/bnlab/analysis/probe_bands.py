"""The paper's line-search probe along training, reduced to one row per probed step (Santurkar et al., Fig. 4).

The trainer's probe (bnlab.train.line_search, every ``probe_every`` steps) records, for each
step size eta in ``probe_step_sizes`` x lr, the loss L(w - eta g), the gradient difference
||grad L(w) - grad L(w - eta g)|| and beta = that difference / ||eta g||. Here each probed step
becomes the band over eta of the loss (Fig. 4a) and of the gradient difference (gradient
predictiveness, 4b), and the maximum of beta over eta (effective beta-smoothness, 4c).
A step size that blew the loss up (NaN or inf) is never dropped: it makes that step's maxima infinite,
so a landscape that blows up can never look smoother; ``step_sizes`` counts the finite ones.

This is the ``paper`` protocol's landscape and gradient predictiveness (bnlab.analysis.protocols); report 000's
are bnlab.analysis.landscape and bnlab.analysis.grad_predictiveness.

Table results/analysis/line_search/paper/<experiment>.csv, one row per run and probed step:
    model, lr, run, seed            the run (model name, its base learning rate, run id, seed)
    protocol                        paper
    step, epoch                     the training step probed (0-based) and its epoch (1-based)
    step_sizes                      number of step sizes with finite results (the rest make the maxima inf)
    loss_at_w                       L(w) on the probe's batch
    loss_min, loss_max              min and max over eta of L(w - eta g)
    grad_diff_min, grad_diff_mean, grad_diff_max   min, mean and max over eta of ||grad L(w) - grad L(w - eta g)||
    beta_max                        max over eta of beta (the effective beta-smoothness)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnlab.analysis.protocols import PAPER

COLUMNS = [
    "model",
    "lr",
    "run",
    "seed",
    "protocol",
    "step",
    "epoch",
    "step_sizes",
    "loss_at_w",
    "loss_min",
    "loss_max",
    "grad_diff_min",
    "grad_diff_mean",
    "grad_diff_max",
    "beta_max",
]


def probe_bands(probes: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, lr, run, step) from the probe records (columns as in probes.csv plus model, lr, run,
    seed)."""
    values = ["loss", "grad_diff", "beta"]
    finite = np.isfinite(probes[values]).all(axis=1)
    probes = probes.assign(
        **{v: probes[v].where(np.isfinite(probes[v]), np.inf) for v in values},
        finite_size=probes["step_size"].where(finite),
    )
    bands = (
        probes.groupby(["model", "lr", "run", "seed", "step", "epoch"], sort=True)
        .agg(
            step_sizes=("finite_size", "nunique"),
            loss_at_w=("loss_at_w", "first"),
            loss_min=("loss", "min"),
            loss_max=("loss", "max"),
            grad_diff_min=("grad_diff", "min"),
            grad_diff_mean=("grad_diff", "mean"),
            grad_diff_max=("grad_diff", "max"),
            beta_max=("beta", "max"),
        )
        .reset_index()
    )
    return bands.assign(protocol=PAPER)[COLUMNS]
