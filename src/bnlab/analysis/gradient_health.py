"""Gradient health per parameter tensor: norm, and the shares of vanishing and exploding entries.

For the gradient of the mean training loss on a batch, per parameter tensor:
    grad_norm        ||g|| of the tensor's gradient
    vanishing_frac   share of its entries with |g| < 1e-7
    exploding_frac   share of its entries with |g| > 1

paper   at each of the run's ``snapshot_epochs`` (the trainer keeps those weights in model.pt; 0 = at
        initialisation), BatchNorm with batch statistics, ``batches`` seeded training batches (default 4). A conv
        bias directly followed by BatchNorm then has a zero gradient (the normalisation subtracts it out), so it
        shows up as vanishing; it is a handful of entries against the weights. The summary weights tensors by size.
course  report 000's code: the final weights, one backward pass on one batch of the training loader,
        model.eval(); the summary averages the shares over tensors without weighting them.
        Variant: batch statistics.

Table results/analysis/gradient_health/<protocol>/<experiment>.csv, one row per run, variant, epoch, batch and
parameter:
    model, lr, run, seed   the run (model name, its base learning rate, run id, seed)
    protocol, variant      how it was measured (bnlab.analysis.protocols)
    epoch              epochs of training before the weights (0 = initial; the course: the run's epochs)
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
from bnlab.analysis.gradients import measuring, parameter_gradients
from bnlab.analysis.protocols import COURSE, PAPER, run_columns, variants
from bnlab.device import exact_numerics
from bnlab.errors import AnalysisError
from bnlab.train.run_folder import rebuild

VANISHING = 1e-7
EXPLODING = 1.0
COLUMNS = [
    "model",
    "lr",
    "run",
    "seed",
    "protocol",
    "variant",
    "epoch",
    "batch",
    "parameter",
    "numel",
    "grad_norm",
    "vanishing_frac",
    "exploding_frac",
]
SETTINGS = {PAPER: {"statistics": "batch"}, COURSE: {"statistics": "running"}}
BATCHES = {PAPER: 4, COURSE: 1}


def parameter_gradient_health(
    model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, *, statistics: str
) -> pd.DataFrame:
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    with measuring(model, statistics):
        grads = parameter_gradients(model, loss_fn, x, y)
    return pd.DataFrame(
        [
            {
                "parameter": name,
                "numel": g.numel(),
                "grad_norm": g.norm().item(),
                "vanishing_frac": (g.abs() < VANISHING).double().mean().item(),
                "exploding_frac": (g.abs() > EXPLODING).double().mean().item(),
            }
            for name, g in zip(names, grads, strict=True)
        ]
    )


@exact_numerics()
def table(
    run_dirs, data: dict, device: torch.device, *, protocol: str, batches: int, batch_size: int, seed: int
) -> pd.DataFrame:
    frames = []
    for run_dir in run_dirs:
        saved, spec, sampled = runs.gradient_inputs(
            run_dir, data, device, protocol, batches=batches, batch_size=batch_size, seed=seed
        )
        if protocol == PAPER and not saved["snapshots"]:
            raise AnalysisError(f"{run_dir}: model.pt holds no snapshots; set the experiment's snapshot_epochs")
        epochs = sorted(saved["snapshots"]) if protocol == PAPER else [None]
        for epoch in epochs:
            model, loss_fn = rebuild(saved, data, device, epoch)
            for variant, settings in variants(protocol, SETTINGS).items():
                for batch, (x, y) in enumerate(sampled):
                    frame = parameter_gradient_health(model, loss_fn, x, y, **settings)
                    frames.append(
                        frame.assign(
                            **run_columns(spec),
                            protocol=protocol,
                            variant=variant,
                            epoch=spec["epochs"] if epoch is None else epoch,
                            batch=batch,
                        )
                    )
    return pd.concat(frames, ignore_index=True)[COLUMNS]
