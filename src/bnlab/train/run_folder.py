"""A training run's folder, the one place that names its files and reads them back.

The trainer writes, and the analyses and the report read:
    run.json      the run's summary (its axes, status, accuracies, device)
    metrics.csv   one row per epoch;  steps.csv  one row per step;  probes.csv  the line-search probe
    model.pt      {"spec", "state_dict", "snapshots": {epoch: state_dict}}
    checkpoint.pt the resumable state while the run is unfinished (removed when it finishes)
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from bnlab.errors import RunFolderError
from bnlab.models import build_model
from bnlab.train.losses import build_loss

SUMMARY, METRICS, STEPS, PROBES, MODEL, CHECKPOINT = (
    "run.json",
    "metrics.csv",
    "steps.csv",
    "probes.csv",
    "model.pt",
    "checkpoint.pt",
)
# What a finished run leaves behind (the train rule's outputs).
OUTPUTS = (METRICS, STEPS, PROBES, MODEL, SUMMARY)


def _existing(run_dir: str | Path, name: str) -> Path:
    path = Path(run_dir) / name
    if not path.exists():
        raise RunFolderError(f"{run_dir}: no {name}; is it a finished run folder?")
    return path


def read_summary(run_dir: str | Path) -> dict:
    return json.loads(_existing(run_dir, SUMMARY).read_text())


def read_table(run_dir: str | Path, name: str) -> pd.DataFrame:
    """One of the run's CSV files (metrics.csv, steps.csv, probes.csv) as written."""
    return pd.read_csv(_existing(run_dir, name))


def read_tables(run_dirs: list[str | Path], name: str) -> pd.DataFrame:
    """``name`` of every run, concatenated, led by columns model, lr (the run's base lr) and run.

    The file's own ``lr`` column (the scheduled lr of that epoch) becomes ``scheduled_lr``.
    """
    if not run_dirs:
        raise RunFolderError(f"no runs given to read {name} from")
    frames = []
    for run_dir in run_dirs:
        summary = read_summary(run_dir)
        frame = read_table(run_dir, name).rename(columns={"lr": "scheduled_lr"})
        for position, key in enumerate(("model", "lr", "run")):
            frame.insert(position, key, summary[key])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def load_saved(run_dir: str | Path) -> dict:
    """The run's model.pt, loaded to the CPU."""
    return torch.load(_existing(run_dir, MODEL), map_location="cpu", weights_only=False)


def rebuild_model(saved: dict, data: dict, device: torch.device, epoch: int | None = None) -> nn.Module:
    """The trained model of ``saved`` (or its snapshot after ``epoch``), shaped for ``data``, on ``device``."""
    spec = saved["spec"]
    if epoch is None:
        state = saved["state_dict"]
    elif epoch in saved["snapshots"]:
        state = saved["snapshots"][epoch]
    else:
        raise RunFolderError(
            f"{spec['experiment']}/{spec['run']}: no snapshot of epoch {epoch}; it holds "
            f"{sorted(saved['snapshots'])} (set the experiment's snapshot_epochs)"
        )
    _, size, _, channels = data["x_test"].shape
    model = build_model(
        spec["model"], num_classes=len(data["classes"]), in_channels=channels, image_size=size, width=spec["width"]
    )
    model.load_state_dict(state)
    return model.to(device)


def rebuild(saved: dict, data: dict, device: torch.device, epoch: int | None = None) -> tuple[nn.Module, nn.Module]:
    """``rebuild_model`` and the run's loss attached to that model, with the loss's trained state (the center loss's
    centers), as the trainer evaluated it."""
    spec = saved["spec"]
    model = rebuild_model(saved, data, device, epoch)
    loss_fn = build_loss(spec["loss"], spec.get("loss_options", {})).to(device)
    loss_fn.attach(model)
    loss_fn.load_state_dict(saved["loss"])
    return model, loss_fn
