"""The benchmark cases of a study (its config files merged and validated by ``bnlab.config.load_files``): what of
it ``bnlab bench`` measures. A case is one (model, width, batch size) that the study trains: every run of a case
trains at the same speed, whatever its learning rate or seed.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

from bnlab import config as study
from bnlab.errors import ConfigError

# The pipeline every benchmark case trains with: the textbook loop's PIL transforms do the same work.
BENCH_AUGMENTATION = "crop+flip"


class Case(NamedTuple):
    model: str
    width: float
    batch_size: int


def case_of(spec: dict) -> Case:
    return Case(spec["model"], float(spec["width"]), int(spec["batch_size"]))


def parse_case(text: str, batch_size: int) -> Case:
    """``model`` or ``model:width`` (width 1 by default), at ``batch_size``."""
    model, _, width = text.partition(":")
    try:
        return Case(model, float(width or 1.0), batch_size)
    except ValueError:
        raise ConfigError(f"--models {text}: the width after ':' must be a number") from None


def bench_specs(config: dict, dataset: str, cases: list[Case] | None = None) -> dict[Case, dict]:
    """One trainer spec per case, taken from the study's own runs on ``dataset`` (for a case the study does not
    train, its first run's spec with the case's model, width and batch size): augmentation ``crop+flip``, no line-search
    probe and no snapshots, so the epoch is the training loop alone."""
    runs = [spec for spec in study.expand(config) if spec["dataset"] == dataset]
    if not runs:
        raise ConfigError(f"datasets.{dataset}: no enabled experiment trains on it")
    own = {}
    for spec in runs:
        own.setdefault(case_of(spec), spec)
    specs = {}
    for case in cases or list(own):
        spec = copy.deepcopy(own.get(case, runs[0]))
        spec.update(case._asdict(), augmentation=BENCH_AUGMENTATION, probe_every=0, snapshot_epochs=[])
        spec["run"] = study.run_id(spec)
        specs[case] = spec
    return specs


def probe_step_sizes(config: dict, case: Case) -> list[float]:
    """The line-search step sizes the study probes ``case`` with ([0.5, 1, 2, 4] if it never probes it)."""
    for spec in study.expand(config):
        if case_of(spec) == case and spec.get("probe_every"):
            return spec["probe_step_sizes"]
    return [0.5, 1.0, 2.0, 4.0]
