"""Finished training runs as the analyses see them: their tables tagged with model and lr, their trained models.

A run folder holds run.json (its summary: model, lr, ...), the per-epoch/step/probe CSVs and
model.pt ({"spec", "state_dict", "snapshots": {epoch: state_dict}}), as written by bnlab.train.trainer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from bnlab.data.loader import DeviceDataset
from bnlab.errors import AnalysisError, ConfigError
from bnlab.models import build_model
from bnlab.train.losses import build_loss


def select(specs: list[dict], experiment: str, models: list[str], where: str) -> list[dict]:
    """The run specs of ``experiment`` whose model is one of ``models``; ConfigError naming ``where`` if any is missing."""
    if not any(s["experiment"] == experiment for s in specs):
        raise ConfigError(f"invalid config at {where}: no enabled experiment {experiment!r}")
    runs = [s for s in specs if s["experiment"] == experiment and s["model"] in models]
    missing = sorted(set(models) - {s["model"] for s in runs})
    if missing:
        raise ConfigError(f"invalid config at {where}: experiment {experiment!r} has no run of {', '.join(missing)}")
    return runs


def run_summary(run_dir: str | Path) -> dict:
    path = Path(run_dir) / "run.json"
    if not path.exists():
        raise AnalysisError(f"{run_dir}: no run.json; is it a finished run folder?")
    return json.loads(path.read_text())


def read_tables(run_dirs: list[str | Path], name: str) -> pd.DataFrame:
    """``name`` (e.g. steps.csv) of every run, concatenated, led by columns model, lr (the run's base lr) and run.

    The file's own ``lr`` column (the scheduled lr of that epoch) becomes ``scheduled_lr``.
    """
    frames = []
    for run_dir in run_dirs:
        summary = run_summary(run_dir)
        path = Path(run_dir) / name
        if not path.exists():
            raise AnalysisError(f"{run_dir}: no {name}")
        frame = pd.read_csv(path).rename(columns={"lr": "scheduled_lr"})
        frame.insert(0, "model", summary["model"])
        frame.insert(1, "lr", summary["lr"])
        frame.insert(2, "run", summary["run"])
        frames.append(frame)
    if not frames:
        raise AnalysisError(f"no runs given to read {name} from")
    return pd.concat(frames, ignore_index=True)


def load_saved(run_dir: str | Path) -> dict:
    """The run's model.pt: {"spec", "state_dict", "snapshots": {epoch: state_dict}}."""
    path = Path(run_dir) / "model.pt"
    if not path.exists():
        raise AnalysisError(f"{run_dir}: no model.pt")
    return torch.load(path, map_location="cpu", weights_only=False)


def build(saved: dict, data: dict, device: torch.device, epoch: int | None = None) -> nn.Module:
    """The trained model of ``saved`` (or its snapshot after ``epoch``), shaped for ``data``, on ``device``."""
    spec = saved["spec"]
    if epoch is None:
        state = saved["state_dict"]
    elif epoch in saved["snapshots"]:
        state = saved["snapshots"][epoch]
    else:
        raise AnalysisError(f"{spec['experiment']}/{spec['run']}: no snapshot of epoch {epoch}; it holds "
                            f"{sorted(saved['snapshots'])} (set the experiment's snapshot_epochs)")
    _, size, _, channels = data["x_test"].shape
    model = build_model(spec["model"], num_classes=len(data["classes"]), in_channels=channels, image_size=size,
                        width=spec["width"])
    model.load_state_dict(state)
    return model.to(device)


def sample(data: dict, split: str, spec: dict, device: torch.device, count: int, seed: int) -> DeviceDataset:
    """``count`` images of ``split`` in a seeded random order (prepared files are sorted by class), normalised as in training."""
    x, y = data[f"x_{split}"], data[f"y_{split}"]
    if count > len(y):
        raise AnalysisError(f"asked for {count} {split} images; the data has {len(y)}")
    index = np.random.default_rng(seed).choice(len(y), count, replace=False)
    return DeviceDataset(x[index], y[index], device, spec["mean"], spec["std"])


def whole(data: dict, split: str, spec: dict, device: torch.device) -> DeviceDataset:
    """Every image of ``split``, in file order, normalised as in training."""
    return DeviceDataset(data[f"x_{split}"], data[f"y_{split}"], device, spec["mean"], spec["std"])


def gradient_inputs(run_dir: str | Path, data: dict, device: torch.device, *, batches: int, batch_size: int,
                    seed: int) -> tuple[dict, dict, nn.Module, DeviceDataset]:
    """What a gradient analysis of one run needs: its saved weights, spec, loss and seeded training images."""
    saved = load_saved(run_dir)
    spec = saved["spec"]
    loss_fn = build_loss(spec["loss"], spec.get("loss_options", {}))
    return saved, spec, loss_fn, sample(data, "train", spec, device, batches * batch_size, seed)
