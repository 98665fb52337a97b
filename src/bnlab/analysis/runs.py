"""What the analyses take from finished runs beyond their folders (bnlab.train.run_folder reads those):
seeded samples of the images the runs were trained on, the batches each protocol measures, and the seed of each
run, which tells the repeats of one setting apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from bnlab.analysis.protocols import COURSE, run_columns, variants
from bnlab.data.augment import build_augmentation
from bnlab.data.loader import DeviceDataset
from bnlab.data.prepare import normalisation
from bnlab.errors import AnalysisError
from bnlab.train.run_folder import load_saved, read_summary, read_tables, rebuild

Batch = tuple[torch.Tensor, torch.Tensor]


def sample(data: dict, split: str, spec: dict, device: torch.device, count: int, seed: int) -> DeviceDataset:
    """``count`` images of ``split`` in a seeded random order, normalised as in training.

    Prepared files are sorted by class, hence the shuffle.
    """
    x, y = data[f"x_{split}"], data[f"y_{split}"]
    if count > len(y):
        raise AnalysisError(f"asked for {count} {split} images; the data has {len(y)}")
    index = np.random.default_rng(seed).choice(len(y), count, replace=False)
    return DeviceDataset(x[index], y[index], device, *normalisation(spec, data))


def whole(data: dict, split: str, spec: dict, device: torch.device) -> DeviceDataset:
    """Every image of ``split``, in file order, normalised as in training."""
    return DeviceDataset(data[f"x_{split}"], data[f"y_{split}"], device, *normalisation(spec, data))


def training_batches(
    data: dict, spec: dict, device: torch.device, protocol: str, *, batches: int, batch_size: int, seed: int
) -> list[Batch]:
    """``batches`` seeded batches of training images, the same images for every run: as stored for the paper
    protocol, through the run's own augmentation (seeded too) for the course protocol, whose code read batches
    from its training loader."""
    images = sample(data, "train", spec, device, batches * batch_size, seed)
    if protocol != COURSE:
        return list(images.batches(batch_size))
    generator = torch.Generator(device=device).manual_seed(seed)
    return list(images.batches(batch_size, augment=build_augmentation(spec["augmentation"]), generator=generator))


def gradient_inputs(
    run_dir: str | Path, data: dict, device: torch.device, protocol: str, *, batches: int, batch_size: int, seed: int
) -> tuple[dict, dict, list[Batch]]:
    """What a gradient analysis of one run needs besides its model and loss (``run_folder.rebuild``): its saved
    weights, its spec and the protocol's batches."""
    saved = load_saved(run_dir)
    spec = saved["spec"]
    sampled = training_batches(data, spec, device, protocol, batches=batches, batch_size=batch_size, seed=seed)
    return saved, spec, sampled


def measured_variants(
    run_dirs,
    data: dict,
    device: torch.device,
    protocol: str,
    settings: dict,
    *,
    batches: int,
    batch_size: int,
    seed: int,
) -> Iterator[tuple[dict, nn.Module, nn.Module, dict, list[Batch]]]:
    """For each run and each variant of ``protocol`` (``protocols.variants``): the leading columns of its rows, the
    run's final model and its loss, the variant's settings, and the protocol's batches."""
    for run_dir in run_dirs:
        saved, spec, sampled = gradient_inputs(
            run_dir, data, device, protocol, batches=batches, batch_size=batch_size, seed=seed
        )
        model, loss_fn = rebuild(saved, data, device)
        for variant, options in variants(protocol, settings).items():
            yield {**run_columns(spec), "protocol": protocol, "variant": variant}, model, loss_fn, options, sampled


def run_tables(run_dirs: list[str | Path], name: str) -> pd.DataFrame:
    """``read_tables`` of the runs, with each run's seed after its id (column ``seed``)."""
    frame = read_tables(run_dirs, name)
    seeds = {(s := read_summary(d))["run"]: s["seed"] for d in run_dirs}
    frame.insert(frame.columns.get_loc("run") + 1, "seed", frame["run"].map(seeds))
    return frame
