"""Maximum gradient difference over distance: how far the gradient stays predictive around trained weights.

From the trained weights w, with g = grad L(w) on a training batch and u = -g / ||g|| (the
direction a gradient step moves), it records for each distance d in [0, d_max]
    max_grad_diff(d) = max over entries |grad L(w + d u) - grad L(w)|
A smoother landscape (the paper's claim for BatchNorm) keeps this small as d grows.

Table results/analysis/grad_distance/<experiment>.csv, one row per run, batch and distance:
    model, lr, run     the run (model name, its base learning rate, run id)
    batch              index of the training batch (seeded random images, the same for every run)
    distance           d, the l2 distance moved in weight space
    max_grad_diff      max |grad L(w + d u) - grad L(w)| over all gradient entries
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector

from bnlab.analysis import runs
from bnlab.analysis.gradients import gradient_mode, set_weights, trainable, weight_gradient
from bnlab.device import exact_numerics
from bnlab.train.run_folder import rebuild_model

COLUMNS = ["model", "lr", "run", "batch", "distance", "max_grad_diff"]


def max_grad_diff(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, distances) -> list[float]:
    """max |grad L(w + d u) - grad L(w)| for each d in ``distances``; the weights are restored afterwards."""
    start = parameters_to_vector(trainable(model)).detach().clone()
    grad0 = weight_gradient(model, loss_fn, x, y)
    direction = -grad0 / grad0.norm()
    out = []
    try:
        for d in distances:
            set_weights(model, start + d * direction)
            out.append((weight_gradient(model, loss_fn, x, y) - grad0).abs().max().item())
    finally:
        set_weights(model, start)
    return out


@exact_numerics()
def table(
    run_dirs, data: dict, device: torch.device, *, d_max: float, points: int, batches: int, batch_size: int, seed: int
) -> pd.DataFrame:
    distances = np.linspace(0.0, d_max, points)
    rows = []
    for run_dir in run_dirs:
        saved, spec, loss_fn, images = runs.gradient_inputs(
            run_dir, data, device, batches=batches, batch_size=batch_size, seed=seed
        )
        model = gradient_mode(rebuild_model(saved, data, device))
        for batch, (x, y) in enumerate(images.batches(batch_size)):
            for d, diff in zip(distances, max_grad_diff(model, loss_fn, x, y, distances)):
                rows.append(
                    {
                        "model": spec["model"],
                        "lr": spec["lr"],
                        "run": spec["run"],
                        "batch": batch,
                        "distance": d,
                        "max_grad_diff": diff,
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS)
