"""What the analyses take from finished runs beyond their folders (bnlab.train.run_folder reads those):
seeded samples of the images the runs were trained on, and what a gradient analysis of a run needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from bnlab.data.loader import DeviceDataset
from bnlab.errors import AnalysisError
from bnlab.train.losses import build_loss
from bnlab.train.run_folder import load_saved


def sample(data: dict, split: str, spec: dict, device: torch.device, count: int, seed: int) -> DeviceDataset:
    """``count`` images of ``split`` in a seeded random order, normalised as in training.

    Prepared files are sorted by class, hence the shuffle.
    """
    x, y = data[f"x_{split}"], data[f"y_{split}"]
    if count > len(y):
        raise AnalysisError(f"asked for {count} {split} images; the data has {len(y)}")
    index = np.random.default_rng(seed).choice(len(y), count, replace=False)
    return DeviceDataset(x[index], y[index], device, spec["mean"], spec["std"])


def whole(data: dict, split: str, spec: dict, device: torch.device) -> DeviceDataset:
    """Every image of ``split``, in file order, normalised as in training."""
    return DeviceDataset(data[f"x_{split}"], data[f"y_{split}"], device, spec["mean"], spec["std"])


def gradient_inputs(
    run_dir: str | Path, data: dict, device: torch.device, *, batches: int, batch_size: int, seed: int
) -> tuple[dict, dict, nn.Module, DeviceDataset]:
    """What a gradient analysis of one run needs: its saved weights, spec, loss and seeded training images."""
    saved = load_saved(run_dir)
    spec = saved["spec"]
    loss_fn = build_loss(spec["loss"], spec.get("loss_options", {}))
    return saved, spec, loss_fn, sample(data, "train", spec, device, batches * batch_size, seed)
