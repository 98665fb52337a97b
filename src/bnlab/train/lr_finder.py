"""The learning-rate range test (Smith, 2017; fastai's ``lr_find``): the training loss, raw and smoothed, at each of a
few hundred steps whose learning rate grows exponentially from ``lr_min`` to ``lr_max``, and a suggested rate.

The smoothed loss is an exponential moving average with bias correction (weight ``smoothing`` on the past), as in
report 000's ``find_learning_rate``; the test stops once it exceeds ``divergence`` times its lowest value or turns
non-finite. The suggestion is fastai's "minimum" rule: the rate at the lowest smoothed loss, divided by 10 (an order
of magnitude below where the loss stops falling, where training is fast yet stable).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

SUGGESTION_DIVISOR = 10.0


@dataclass(frozen=True)
class RangeTest:
    rows: list[dict]  # one per step: lr, loss (before the step), smoothed_loss
    suggested_lr: float
    diverged: bool  # stopped early because the smoothed loss blew up


def lr_range_test(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    make_optimizer: Callable[[Iterable[nn.Parameter], float], torch.optim.Optimizer],
    lr_min: float = 1e-7,
    lr_max: float = 10.0,
    steps: int = 200,
    smoothing: float = 0.98,
    divergence: float = 4.0,
) -> RangeTest:
    """Train a copy of ``model`` (left untouched) for up to ``steps`` steps on ``batches`` with the optimizer
    ``make_optimizer(parameters, lr)``, the rate of step k being lr_min * (lr_max / lr_min) ** (k / (steps - 1)).
    Stops early when ``batches`` runs out or the loss blows up."""
    model = copy.deepcopy(model).train()
    optimizer = make_optimizer(model.parameters(), lr_min)
    rows: list[dict] = []
    average, best, diverged = 0.0, math.inf, False
    for step, (x, y) in zip(range(steps), batches, strict=False):
        lr = lr_min * (lr_max / lr_min) ** (step / max(1, steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = loss_fn(model(x), y)
        value = loss.item()
        average = smoothing * average + (1 - smoothing) * value
        smoothed = average / (1 - smoothing ** (step + 1))
        rows.append({"lr": lr, "loss": value, "smoothed_loss": smoothed})
        if not math.isfinite(smoothed) or smoothed > divergence * best:
            diverged = True
            break
        best = min(best, smoothed)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if not rows:
        raise ValueError("lr_range_test: the batches ran out before the first step")
    lowest = min(rows, key=lambda row: row["smoothed_loss"] if math.isfinite(row["smoothed_loss"]) else math.inf)
    return RangeTest(rows=rows, suggested_lr=lowest["lr"] / SUGGESTION_DIVISOR, diverged=diverged)


def range_test_table(specs: list[dict], data: dict, lr_min: float, lr_max: float, steps: int):
    """The range test of each run spec's model, set up as the trainer sets that run up (data, augmentation,
    loss, optimizer, seed): one row per step (model, lr, loss, smoothed_loss, suggested_lr, diverged)."""
    import functools
    import itertools

    import pandas as pd

    from bnlab.device import pick_device
    from bnlab.train.optimizers import build_optimizer
    from bnlab.train.trainer import Run

    def epochs_of_batches(run: Run, spec: dict):  # as many epochs of shuffled, augmented batches as the steps need
        for _ in itertools.count():
            yield from run.train_set.batches(
                spec["batch_size"], augment=run.augment, generator=run.generator, shuffle=True
            )

    frames = []
    for spec in specs:
        run = Run(spec, data, pick_device(), code_version="range test")
        optimizer, options = spec["optimizer"], spec.get("optimizer_options", {})
        result = lr_range_test(
            run.model,
            run.loss_fn,
            epochs_of_batches(run, spec),
            functools.partial(build_optimizer, optimizer, options=options),
            lr_min=lr_min,
            lr_max=lr_max,
            steps=steps,
        )
        frames.append(
            pd.DataFrame(result.rows).assign(
                model=spec["model"], suggested_lr=result.suggested_lr, diverged=result.diverged
            )
        )
    table = pd.concat(frames, ignore_index=True)
    return table[["model", "lr", "loss", "smoothed_loss", "suggested_lr", "diverged"]]
