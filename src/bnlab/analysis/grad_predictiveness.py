"""Gradient predictiveness at the trained weights, as report 000's code measured it (the ``course`` protocol).

For each training batch, with g = grad L(w): the weights take a step of 0.1 g (along +g, not normalised),
the gradient g' is taken there, and
    grad_diff          sum over parameter tensors i of ||g'_i - g_i||   (report 000's number)
    grad_diff_global   ||g' - g||, one l2 norm over all parameters (the paper's norm, for the quirk's size)
then the weights are restored. model.eval(), 50 batches of the training loader; report 000 shows the
distribution over batches and its mean. The paper's own gradient predictiveness, ||grad L(w) - grad L(w - eta
g)|| along training, is the line-search probe (bnlab.analysis.probe_bands).

Table results/analysis/grad_predictiveness/course/<experiment>.csv, one row per run, variant and batch:
    model, lr, run, seed   the run (model name, its base learning rate, run id, seed)
    protocol, variant      how it was measured (bnlab.analysis.protocols)
    batch                  index of the training batch (the same images for every run)
    step                   the step length factor (0.1)
    grad_diff, grad_diff_global   as above
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from bnlab.analysis import runs
from bnlab.analysis.gradients import measuring, parameter_gradients, set_weights, trainable
from bnlab.analysis.protocols import COURSE, PAPER
from bnlab.device import exact_numerics

COLUMNS = ["model", "lr", "run", "seed", "protocol", "variant", "batch", "step", "grad_diff", "grad_diff_global"]
# Report 000's settings, and the paper's where it differs (for the quirks' variants).
SETTINGS = {PAPER: {"statistics": "batch", "sign": -1}, COURSE: {"statistics": "running", "sign": 1}}
STEP = 0.1
BATCHES = {COURSE: 50}
PROTOCOLS = (COURSE,)


def gradient_change(
    model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, *, step: float, statistics: str, sign: int
) -> tuple[float, float]:
    """(sum over tensors of ||g'_i - g_i||, ||g' - g||) for g' the gradient at w + sign * step * g."""
    with measuring(model, statistics):
        grad0 = parameter_gradients(model, loss_fn, x, y)
        set_weights(model, [w.detach() + sign * step * g for w, g in zip(trainable(model), grad0)])
        change = [g - g0 for g, g0 in zip(parameter_gradients(model, loss_fn, x, y), grad0)]
    per_tensor = [c.norm() for c in change]
    return sum(per_tensor).item(), torch.sqrt(sum(n.square() for n in per_tensor)).item()


@exact_numerics()
def table(run_dirs, data: dict, device: torch.device, *, batches: int, batch_size: int, seed: int) -> pd.DataFrame:
    rows = []
    inputs = runs.measured_variants(
        run_dirs, data, device, COURSE, SETTINGS, batches=batches, batch_size=batch_size, seed=seed
    )
    for columns, model, loss_fn, settings, sampled in inputs:
        for batch, (x, y) in enumerate(sampled):
            summed, overall = gradient_change(model, loss_fn, x, y, step=STEP, **settings)
            rows.append({**columns, "batch": batch, "step": STEP, "grad_diff": summed, "grad_diff_global": overall})
    return pd.DataFrame(rows, columns=COLUMNS)
