"""The report's view of training runs: one row per run with what it derives from the run's metrics."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bnlab.config import AXES
from bnlab.train.run_folder import METRICS, STEPS, read_summary, read_table

# A run has converged at the first epoch whose test accuracy is this close to its best (percentage points).
CONVERGENCE_TOLERANCE = 1.0
# Axes whose values are names; the others are numbers, shown with their axis name.
NAMED_AXES = ("model", "optimizer", "schedule", "augmentation", "loss")


def epochs_to_converge(metrics: pd.DataFrame, tolerance: float = CONVERGENCE_TOLERANCE) -> int:
    """The first epoch whose test accuracy is within ``tolerance`` points of the run's best."""
    reached = metrics["test_acc"] >= metrics["test_acc"].max() - tolerance
    return int(metrics.loc[reached, "epoch"].iloc[0]) if reached.any() else int(metrics["epoch"].iloc[-1])


def summarize(run_dirs: list[str | Path]) -> pd.DataFrame:
    """One row per run: its run.json plus what the report derives from its metrics.csv."""
    rows = []
    for run_dir in run_dirs:
        metrics = read_table(run_dir, METRICS)
        first_epoch = read_table(run_dir, STEPS).query("epoch == 1")
        summary = read_summary(run_dir)
        rows.append(
            {
                **summary,
                "test_loss_at_best_epoch": metrics.loc[metrics["epoch"] == summary["best_epoch"], "test_loss"].iloc[0],
                "run_dir": str(run_dir),
                "best_train_acc": metrics["train_acc"].max(),
                "first_epoch_test_acc": metrics["test_acc"].iloc[0],
                "epochs_to_converge": epochs_to_converge(metrics),
                # What the output layer's weights were told to change over the first epoch (mean gradient norm).
                "first_epoch_output_grad_norm": first_epoch["output_grad_norm"].mean()
                if "output_grad_norm" in first_epoch
                else float("nan"),
                "first_epoch_loss_drop": first_epoch["loss"].iloc[0] - first_epoch["loss"].iloc[-1],
            }
        )
    frame = pd.DataFrame(rows)
    frame.insert(0, "label", labels(frame))
    # The run's setting without its seed: runs that differ only by seed are repeats of one setting.
    frame.insert(1, "setting", labels(frame, ignore=("seed",)))
    return frame


def spread(values: pd.Series) -> tuple[float, float, int]:
    """(mean, sample std, count) of repeated measurements; the std is NaN for a single one."""
    return values.mean(), values.std(ddof=1) if len(values) > 1 else float("nan"), len(values)


def varying_axes(frame: pd.DataFrame) -> list[str]:
    """The run axes that take more than one value among the rows of ``frame``."""
    return [axis for axis in AXES if axis in frame and frame[axis].nunique() > 1]


def format_axis(axis: str, value) -> str:
    return str(value) if axis in NAMED_AXES else f"{axis} {value:g}"


def labels(frame: pd.DataFrame, ignore: tuple[str, ...] = ()) -> list[str]:
    """A short name per run: its model, plus the varying axes (in run-id order, less ``ignore``) needed to tell
    runs apart."""
    axes = ["model"]
    for axis in [a for a in varying_axes(frame) if a not in ignore]:
        if not frame.duplicated(subset=axes).any():
            break
        if axis not in axes:
            axes.append(axis)
    return [" ".join(format_axis(axis, row[axis]) for axis in axes) for _, row in frame.iterrows()]
