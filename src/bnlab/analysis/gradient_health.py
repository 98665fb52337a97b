"""Gradient health per parameter tensor at chosen epochs: norm, and the shares of vanishing and exploding entries.

The epochs are the run's ``snapshot_epochs`` (the trainer keeps those weights in model.pt; 0 = at
initialisation). For each, the gradient of the mean training loss is taken on seeded random
training batches (see bnlab.analysis.gradients for the mode) and, per parameter tensor:
    grad_norm        ||g|| of the tensor's gradient
    vanishing_frac   share of its entries with |g| < 1e-7
    exploding_frac   share of its entries with |g| > 1
A conv bias directly followed by BatchNorm has a zero gradient (the normalisation subtracts it
out), so it shows up as vanishing; it is a handful of entries against the weights.

Table results/analysis/gradient_health/<experiment>.csv, one row per run, epoch, batch and parameter:
    model, lr, run     the run (model name, its base learning rate, run id)
    epoch              epochs of training before the snapshot (0 = initial weights)
    batch              index of the training batch (the same images for every run and epoch)
    parameter          the parameter's name, e.g. features.0.weight
    numel              its number of entries
    grad_norm, vanishing_frac, exploding_frac   as above
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from bnlab.analysis import runs
from bnlab.analysis.gradients import gradient_mode
from bnlab.device import exact_numerics
from bnlab.errors import AnalysisError
from bnlab.train.run_folder import rebuild_model

VANISHING = 1e-7
EXPLODING = 1.0
COLUMNS = [
    "model",
    "lr",
    "run",
    "epoch",
    "batch",
    "parameter",
    "numel",
    "grad_norm",
    "vanishing_frac",
    "exploding_frac",
]


def parameter_gradient_health(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> pd.DataFrame:
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss_fn(model(x), y), [p for _, p in named])
    return pd.DataFrame(
        [
            {
                "parameter": name,
                "numel": g.numel(),
                "grad_norm": g.norm().item(),
                "vanishing_frac": (g.abs() < VANISHING).double().mean().item(),
                "exploding_frac": (g.abs() > EXPLODING).double().mean().item(),
            }
            for (name, _), g in zip(named, grads)
        ]
    )


@exact_numerics()
def table(run_dirs, data: dict, device: torch.device, *, batches: int, batch_size: int, seed: int) -> pd.DataFrame:
    frames = []
    for run_dir in run_dirs:
        saved, spec, loss_fn, images = runs.gradient_inputs(
            run_dir, data, device, batches=batches, batch_size=batch_size, seed=seed
        )
        if not saved["snapshots"]:
            raise AnalysisError(f"{run_dir}: model.pt holds no snapshots; set the experiment's snapshot_epochs")
        for epoch in sorted(saved["snapshots"]):
            model = gradient_mode(rebuild_model(saved, data, device, epoch))
            for batch, (x, y) in enumerate(images.batches(batch_size)):
                frame = parameter_gradient_health(model, loss_fn, x, y)
                frames.append(
                    frame.assign(model=spec["model"], lr=spec["lr"], run=spec["run"], epoch=epoch, batch=batch)
                )
    return pd.concat(frames, ignore_index=True)[COLUMNS]
