"""Learning-rate schedules by name, stepped once per epoch with ``step_schedule``.

``plateau`` (ReduceLROnPlateau) multiplies the lr by ``gamma`` once its watched metric has not improved for more
than ``patience`` epochs; it reads that metric from the epoch's results, so the training loop steps every schedule
after evaluating, through ``step_schedule(schedule, metrics)``.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch.optim import lr_scheduler

from bnlab.errors import ConfigError
from bnlab.registry import SCHEDULES

# The epoch results a plateau schedule can watch, with the direction that counts as improvement. Never the test
# split: a schedule that watched it would tune training on the numbers the report quotes.
WATCHABLE = {"val_loss": "min", "val_acc": "max", "train_loss": "min", "train_acc": "max"}


@SCHEDULES.register("none")
def constant(optimizer, *, epochs, **_):
    return lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


@SCHEDULES.register("step")
def step(optimizer, *, epochs, step_size=None, gamma=0.1, **_):
    return lr_scheduler.StepLR(optimizer, step_size=step_size or max(1, epochs // 3), gamma=gamma)


@SCHEDULES.register("multistep")
def multistep(optimizer, *, epochs, milestones=None, gamma=0.1, **_):
    milestones = milestones or [int(epochs * 2 / 3), int(epochs * 5 / 6)]
    return lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=gamma)


@SCHEDULES.register("cosine")
def cosine(optimizer, *, epochs, **_):
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)


class Plateau(lr_scheduler.ReduceLROnPlateau):
    """ReduceLROnPlateau that knows which epoch result it watches (``metric``), kept in its state_dict."""

    def __init__(self, optimizer, *, metric: str, mode: str, gamma: float, patience: int):
        super().__init__(optimizer, mode=mode, factor=gamma, patience=patience)
        self.metric = metric


@SCHEDULES.register("plateau")
def plateau(optimizer, *, epochs, metric="val_loss", mode=None, gamma=0.1, patience=3, **_):
    """``mode`` defaults to the metric's improving direction; report 000's code passed its accuracy (measured on
    the test set, which it called validation) to a ``mode="min"`` scheduler (torch's default), which cuts the lr
    every patience + 1 epochs while accuracy rises: ``{metric: val_acc, mode: min}`` reproduces that quirk on the
    validation split."""
    if metric not in WATCHABLE:
        raise ConfigError(f"schedule_options.metric: {metric!r} is not one of {', '.join(WATCHABLE)}")
    if mode not in (None, "min", "max"):
        raise ConfigError(f"schedule_options.mode: {mode!r} is neither 'min' nor 'max'")
    return Plateau(optimizer, metric=metric, mode=mode or WATCHABLE[metric], gamma=gamma, patience=patience)


def step_schedule(schedule, metrics: Mapping[str, float]) -> None:
    """End-of-epoch step: a plateau schedule reads its metric from this epoch's ``metrics``; the others ignore them."""
    if isinstance(schedule, Plateau):
        schedule.step(metrics[schedule.metric])
    else:
        schedule.step()


def build_schedule(name: str, optimizer, epochs: int, options: dict):
    return SCHEDULES[name](optimizer, epochs=epochs, **options)
