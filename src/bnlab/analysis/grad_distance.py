"""Maximum gradient difference over distance: how far the gradient stays predictive around trained weights.

From the trained weights w, with g = grad L(w) on a training batch, it moves the weights a distance d along a
direction u made from g and records
    max_grad_diff(d) = max over entries |grad L(w + d u) - grad L(w)|
A smoother landscape (the paper's claim for BatchNorm) keeps this small as d grows.

paper   u = -g / ||g||, one norm over all parameters (the direction a gradient step moves); BatchNorm with batch
        statistics; d evenly spaced in [0, d_max]; ``batches`` seeded training batches (default 4).
course  report 000's code: u_i = +g_i / ||g_i|| for each parameter tensor i, each normalised by its own norm (a
        tensor whose gradient is zero stays put), so the weights move d in every tensor at once, d sqrt(tensors)
        in all; model.eval(); d in linspace(0, 0.5, 10) without 0; one batch of the training loader. It reports
        the curve and its mean over the nine distances.

Table results/analysis/grad_distance/<protocol>/<experiment>.csv, one row per run, variant, batch and distance:
    model, lr, run, seed   the run (model name, its base learning rate, run id, seed)
    protocol, variant      how it was measured (bnlab.analysis.protocols)
    batch                  index of the training batch (the same images for every run)
    distance               d
    max_grad_diff          max |grad L(w + d u) - grad L(w)| over all gradient entries
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from bnlab.analysis import runs
from bnlab.analysis.gradients import measuring, parameter_gradients, set_weights, trainable
from bnlab.analysis.protocols import COURSE, PAPER
from bnlab.device import exact_numerics

COLUMNS = ["model", "lr", "run", "seed", "protocol", "variant", "batch", "distance", "max_grad_diff"]
SETTINGS = {
    PAPER: {"statistics": "batch", "normalisation": "global", "sign": -1},
    COURSE: {"statistics": "running", "normalisation": "tensor", "sign": 1},
}
COURSE_DISTANCES = np.linspace(0.0, 0.5, 10)[1:]
BATCHES = {PAPER: 4, COURSE: 1}  # training batches each protocol reads unless told otherwise


def direction(grads: list[torch.Tensor], normalisation: str, sign: int) -> list[torch.Tensor]:
    """sign * g / ||g|| with one ``global`` norm, or each tensor over its own norm (``tensor``; zero stays zero)."""
    if normalisation == "global":
        total = torch.sqrt(sum(g.square().sum() for g in grads))
        return [sign * g / total for g in grads]
    return [sign * g / n if (n := g.norm()) > 0 else torch.zeros_like(g) for g in grads]


def max_grad_diff(
    model: nn.Module,
    loss_fn,
    x: torch.Tensor,
    y: torch.Tensor,
    distances,
    *,
    statistics: str,
    normalisation: str,
    sign: int,
) -> list[float]:
    """max |grad L(w + d u) - grad L(w)| for each d in ``distances`` (u: see ``direction``); the model is restored."""
    with measuring(model, statistics):
        start = [p.detach().clone() for p in trainable(model)]
        grad0 = parameter_gradients(model, loss_fn, x, y)
        unit = direction(grad0, normalisation, sign)
        out = []
        for d in distances:
            set_weights(model, [w + d * u for w, u in zip(start, unit)])
            grads = parameter_gradients(model, loss_fn, x, y)
            out.append(max((g - g0).abs().max().item() for g, g0 in zip(grads, grad0)))
    return out


@exact_numerics()
def table(
    run_dirs,
    data: dict,
    device: torch.device,
    *,
    protocol: str,
    d_max: float,
    points: int,
    batches: int,
    batch_size: int,
    seed: int,
) -> pd.DataFrame:
    distances = np.linspace(0.0, d_max, points) if protocol == PAPER else COURSE_DISTANCES
    rows = []
    inputs = runs.measured_variants(
        run_dirs, data, device, protocol, SETTINGS, batches=batches, batch_size=batch_size, seed=seed
    )
    for columns, model, loss_fn, settings, sampled in inputs:
        for batch, (x, y) in enumerate(sampled):
            for d, diff in zip(distances, max_grad_diff(model, loss_fn, x, y, distances, **settings)):
                rows.append({**columns, "batch": batch, "distance": d, "max_grad_diff": diff})
    return pd.DataFrame(rows, columns=COLUMNS)
