"""Per-class test accuracy and confusion matrices of trained runs, re-evaluated from their saved weights.

It uses the trainer's own evaluation (bnlab.train.evaluate) on the same test split, so each run's
per-class numbers average to exactly the test accuracy its metrics.csv reports.
"""

from __future__ import annotations

import pandas as pd
import torch

from bnlab.data.loader import DeviceDataset
from bnlab.data.prepare import normalisation
from bnlab.report.tables import percent
from bnlab.train.evaluate import Evaluation, evaluate
from bnlab.train.run_folder import load_saved, rebuild


def test_evaluation(run_dir, data: dict, device: torch.device) -> Evaluation:
    """The final weights in ``run_dir``/model.pt evaluated on the test split, as the trainer evaluated them."""
    saved = load_saved(run_dir)
    spec = saved["spec"]
    test = DeviceDataset(data["x_test"], data["y_test"], device, *normalisation(spec, data))
    model, loss_fn = rebuild(saved, data, device)
    return evaluate(model, test, loss_fn, len(data["classes"]))


def per_class_table(
    runs: pd.DataFrame, data: dict, device: torch.device
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Long frame (label, model, run, class, accuracy), its wide view (one row per run, one column per class), and
    the confusion matrices in long form (label, model, run, true, predicted, images)."""
    classes = [str(c) for c in data["classes"]]
    evaluations = {run.run: test_evaluation(run.run_dir, data, device) for run in runs.itertuples()}
    frame = pd.DataFrame(
        [
            {"label": run.label, "model": run.model, "run": run.run, "class": name, "accuracy": acc}
            for run in runs.itertuples()
            for name, acc in zip(classes, evaluations[run.run].per_class)
        ]
    )
    confusion = pd.DataFrame(
        [
            {
                "label": run.label,
                "model": run.model,
                "run": run.run,
                "true": classes[i],
                "predicted": classes[j],
                "images": n,
            }
            for run in runs.itertuples()
            for i, row in enumerate(evaluations[run.run].confusion)
            for j, n in enumerate(row)
        ]
    )
    wide = frame.pivot(index="label", columns="class", values="accuracy").reindex(index=runs["label"], columns=classes)
    shown = wide.map(percent).reset_index().rename(columns={"label": "run"})
    return frame, shown, confusion
