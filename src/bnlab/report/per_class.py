"""Per-class test accuracy of trained runs, evaluated from their saved weights."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from bnlab.data.loader import DeviceDataset
from bnlab.models import build_model
from bnlab.report.tables import percent
from bnlab.train.trainer import EVAL_BATCH


@torch.no_grad()
def per_class_accuracy(run_dir: str | Path, data: dict, device: torch.device) -> list[float]:
    """Test accuracy (%) of each class for the final weights in ``run_dir``/model.pt."""
    saved = torch.load(Path(run_dir) / "model.pt", map_location=device, weights_only=False)
    spec, classes = saved["spec"], len(data["classes"])
    test = DeviceDataset(data["x_test"], data["y_test"], device, spec["mean"], spec["std"])
    channels, size, _ = test.shape
    model = build_model(spec["model"], num_classes=classes, in_channels=channels, image_size=size,
                        width=spec["width"]).to(device)
    model.load_state_dict(saved["state_dict"])
    model.eval()
    correct = torch.zeros(classes, device=device)
    total = torch.zeros(classes, device=device)
    for x, y in test.batches(EVAL_BATCH):
        hit = model(x).argmax(1) == y
        total += torch.bincount(y, minlength=classes)
        correct += torch.bincount(y[hit], minlength=classes)
    return (100.0 * correct / total).tolist()


def per_class_table(runs: pd.DataFrame, data: dict, device: torch.device) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long frame (label, model, run, class, accuracy) and its wide view: one row per run, one column per class."""
    classes = [str(c) for c in data["classes"]]
    frame = pd.DataFrame([{"label": run.label, "model": run.model, "run": run.run, "class": name, "accuracy": acc}
                          for run in runs.itertuples()
                          for name, acc in zip(classes, per_class_accuracy(run.run_dir, data, device))])
    wide = frame.pivot(index="label", columns="class", values="accuracy").reindex(index=runs["label"], columns=classes)
    shown = wide.map(percent).reset_index().rename(columns={"label": "run"})
    return frame, shown
