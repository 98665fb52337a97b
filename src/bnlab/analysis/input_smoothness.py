"""Input-gradient smoothness: how much the loss gradient with respect to the input moves under a small input change.

For a training batch x of B images and Gaussian noise delta (standard deviation ``noise_std``, in the units of
the normalised input), with G(x) = grad_x of the batch's loss:

paper   ratio = ||G(x + delta) - G(x)|| / ||delta||, the loss summed over the batch (so G does not shrink as B
        grows), BatchNorm with batch statistics, ``batches`` seeded training batches (default 4).
course  report 000's code: ratio = ||G(x + delta) - G(x)|| / (mean over images i of ||delta_i||), the mean loss
        over the batch, model.eval(), noise std 0.01, 50 batches of the training loader. Its report does not
        show which gradient it takes; the input's is the one its noise on the input acts on. Each row also gives
        ``ratio_paper_definition``, the paper protocol's ratio from the same gradients (B ||G change|| / ||delta||),
        which measures the two quirks of the definition together.

A smaller ratio is a smoother loss in x.

Table results/analysis/input_smoothness/<protocol>/<experiment>.csv, one row per run, variant and batch:
    model, lr, run, seed   the run (model name, its base learning rate, run id, seed)
    protocol, variant      how it was measured (bnlab.analysis.protocols)
    batch                  index of the training batch (seeded images and noise, the same for every run)
    noise_std              standard deviation of delta
    ratio                  the protocol's ratio
    ratio_paper_definition (course only) as above
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from bnlab.analysis import runs
from bnlab.analysis.gradients import input_gradient, measuring
from bnlab.analysis.protocols import COURSE, PAPER
from bnlab.device import exact_numerics

COLUMNS = {
    PAPER: ["model", "lr", "run", "seed", "protocol", "variant", "batch", "noise_std", "ratio"],
    COURSE: [
        "model",
        "lr",
        "run",
        "seed",
        "protocol",
        "variant",
        "batch",
        "noise_std",
        "ratio",
        "ratio_paper_definition",
    ],
}
SETTINGS = {PAPER: {"statistics": "batch"}, COURSE: {"statistics": "running"}}
COURSE_NOISE_STD = 0.01
BATCHES = {PAPER: 4, COURSE: 50}


def gradient_change(
    model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor, *, statistics: str, summed: bool
) -> torch.Tensor:
    """G(x + delta) - G(x) (see ``input_gradient`` for ``summed``); the model is restored."""
    with measuring(model, statistics):
        return input_gradient(model, loss_fn, x + delta, y, summed=summed) - input_gradient(
            model, loss_fn, x, y, summed=summed
        )


def paper_ratio(change: torch.Tensor, delta: torch.Tensor) -> float:
    """||change|| / ||delta||."""
    return (change.norm() / delta.norm()).item()


def course_ratio(change: torch.Tensor, delta: torch.Tensor) -> float:
    """||change|| / (mean over images of ||delta_i||)."""
    return (change.norm() / delta.flatten(1).norm(dim=1).mean()).item()


@exact_numerics()
def table(
    run_dirs,
    data: dict,
    device: torch.device,
    *,
    protocol: str,
    noise_std: float,
    batches: int,
    batch_size: int,
    seed: int,
) -> pd.DataFrame:
    noise_std = noise_std if protocol == PAPER else COURSE_NOISE_STD
    rows = []
    inputs = runs.measured_variants(
        run_dirs, data, device, protocol, SETTINGS, batches=batches, batch_size=batch_size, seed=seed
    )
    for columns, model, loss_fn, settings, sampled in inputs:
        noise = torch.Generator(device=device).manual_seed(seed)  # the same perturbations for every run
        for batch, (x, y) in enumerate(sampled):
            delta = noise_std * torch.randn(x.shape, generator=noise, device=device)
            row = {**columns, "batch": batch, "noise_std": noise_std}
            if protocol == PAPER:
                row["ratio"] = paper_ratio(gradient_change(model, loss_fn, x, y, delta, **settings, summed=True), delta)
            else:
                change = gradient_change(model, loss_fn, x, y, delta, **settings, summed=False)
                row["ratio"] = course_ratio(change, delta)
                row["ratio_paper_definition"] = paper_ratio(len(y) * change, delta)
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS[protocol])
