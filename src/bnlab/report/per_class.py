"""Per-class test accuracy of trained runs, re-evaluated from their saved weights.

It uses the trainer's own evaluation (bnlab.train.evaluate) on the same test split, so each run's
per-class numbers average to exactly the test accuracy its metrics.csv reports.
"""

from __future__ import annotations

import pandas as pd
import torch

from bnlab.data.loader import DeviceDataset
from bnlab.report.tables import percent
from bnlab.train.evaluate import evaluate
from bnlab.train.losses import build_loss
from bnlab.train.run_folder import load_saved, rebuild_model


def per_class_accuracy(run_dir, data: dict, device: torch.device) -> list[float]:
    """Test accuracy (%) of each class for the final weights in ``run_dir``/model.pt."""
    saved = load_saved(run_dir)
    spec = saved["spec"]
    test = DeviceDataset(data["x_test"], data["y_test"], device, spec["mean"], spec["std"])
    loss_fn = build_loss(spec["loss"], spec.get("loss_options", {}))
    return evaluate(rebuild_model(saved, data, device), test, loss_fn, len(data["classes"])).per_class


def per_class_table(runs: pd.DataFrame, data: dict, device: torch.device) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long frame (label, model, run, class, accuracy) and its wide view: one row per run, one column per class."""
    classes = [str(c) for c in data["classes"]]
    frame = pd.DataFrame(
        [
            {"label": run.label, "model": run.model, "run": run.run, "class": name, "accuracy": acc}
            for run in runs.itertuples()
            for name, acc in zip(classes, per_class_accuracy(run.run_dir, data, device))
        ]
    )
    wide = frame.pivot(index="label", columns="class", values="accuracy").reindex(index=runs["label"], columns=classes)
    shown = wide.map(percent).reset_index().rename(columns={"label": "run"})
    return frame, shown
