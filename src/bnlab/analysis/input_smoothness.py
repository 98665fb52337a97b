"""Input-gradient smoothness: how much the loss gradient with respect to the input moves under a small input change.

For a training batch x and Gaussian noise delta (standard deviation ``noise_std``, in the units of
the normalised input) it records
    ratio = ||grad_x L(x + delta) - grad_x L(x)|| / ||delta||
with L the batch's summed loss (see bnlab.analysis.gradients); a smaller ratio is a smoother loss in x.

Table results/analysis/input_smoothness/<experiment>.csv, one row per run and batch:
    model, lr, run     the run (model name, its base learning rate, run id)
    batch              index of the training batch (seeded random images, the same for every run)
    noise_std          standard deviation of delta
    ratio              ||grad_x L(x + delta) - grad_x L(x)|| / ||delta||
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from bnlab.analysis import runs
from bnlab.analysis.gradients import gradient_mode, input_gradient
from bnlab.device import exact_numerics
from bnlab.train.run_folder import rebuild_model

COLUMNS = ["model", "lr", "run", "batch", "noise_std", "ratio"]


def gradient_change_ratio(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor) -> float:
    change = input_gradient(model, loss_fn, x + delta, y) - input_gradient(model, loss_fn, x, y)
    return (change.norm() / delta.norm()).item()


@exact_numerics()
def table(
    run_dirs, data: dict, device: torch.device, *, noise_std: float, batches: int, batch_size: int, seed: int
) -> pd.DataFrame:
    rows = []
    for run_dir in run_dirs:
        saved, spec, loss_fn, images = runs.gradient_inputs(
            run_dir, data, device, batches=batches, batch_size=batch_size, seed=seed
        )
        model = gradient_mode(rebuild_model(saved, data, device))
        noise = torch.Generator(device=device).manual_seed(seed)  # the same perturbations for every run
        for batch, (x, y) in enumerate(images.batches(batch_size)):
            delta = noise_std * torch.randn(x.shape, generator=noise, device=device)
            rows.append(
                {
                    "model": spec["model"],
                    "lr": spec["lr"],
                    "run": spec["run"],
                    "batch": batch,
                    "noise_std": noise_std,
                    "ratio": gradient_change_ratio(model, loss_fn, x, y, delta),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
