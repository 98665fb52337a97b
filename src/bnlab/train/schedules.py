"""Learning-rate schedules by name, stepped once per epoch."""

from __future__ import annotations

from torch.optim import lr_scheduler

from bnlab.registry import SCHEDULES


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


def build_schedule(name: str, optimizer, epochs: int, options: dict):
    return SCHEDULES[name](optimizer, epochs=epochs, **options)
