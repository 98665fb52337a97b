"""The report's tables: pandas frames built from results files.

Each table is saved twice: as Markdown (what the report shows, rounded and labelled) and as a
CSV twin beside it (the same rows, unrounded), which the findings and the claims audit read, so
the report's sentences and its tables come from the same numbers.
"""

from __future__ import annotations

import importlib.metadata
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from bnlab import registry
from bnlab.io import write_csv, write_text
from bnlab.report.runs import CONVERGENCE_TOLERANCE, spread, varying_axes

# Software whose version the environment table records (distribution names).
PACKAGES = ("bnlab", "torch", "torchvision", "snakemake", "numpy", "pandas", "matplotlib", "jinja2", "papermill")


def save(frame: pd.DataFrame, shown: pd.DataFrame, out_md: str | Path) -> None:
    """Write ``frame`` as the CSV twin of ``out_md`` and ``shown`` (the report's view of it) as Markdown."""
    out_md = Path(out_md)
    write_csv(frame, out_md.with_suffix(".csv"))
    write_text(out_md, shown.to_markdown(index=False, disable_numparse=True) + "\n")


def percent(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:.2f}"


def count(value: float) -> str:
    return "—" if pd.isna(value) else f"{int(value):,}"


def seconds(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


# -- data and models --------------------------------------------------------------------------


def dataset_info(npz: str | Path) -> dict:
    """Sizes, image shape and class names of a prepared dataset (reads labels and test images only)."""
    with np.load(npz, allow_pickle=False) as data:
        height, width, channels = data["x_test"].shape[1:]
        classes = [str(c) for c in data["classes"]]
        return {
            "train_images": len(data["y_train"]),
            "test_images": len(data["y_test"]),
            "num_classes": len(classes),
            "image_size": height,
            "image_width": width,
            "in_channels": channels,
            "classes": classes,
        }


def datasets_table(infos: dict[str, dict], augmentations: dict[str, list[str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame(
        [
            {
                "dataset": name,
                **{k: v for k, v in info.items() if k != "classes"},
                "classes": ", ".join(info["classes"]),
                "augmentations": ", ".join(augmentations.get(name, [])),
            }
            for name, info in infos.items()
        ]
    )
    shown = pd.DataFrame(
        {
            "dataset": frame["dataset"],
            "train images": frame["train_images"].map(count),
            "test images": frame["test_images"].map(count),
            "image (H×W×C)": [f"{r.image_size}×{r.image_width}×{r.in_channels}" for r in frame.itertuples()],
            "classes": [f"{r.num_classes}: {r.classes}" for r in frame.itertuples()],
            "augmentations used": frame["augmentations"],
        }
    )
    return frame, shown


def description(factory) -> str:
    """The first paragraph of a registered factory's docstring."""
    return " ".join((factory.__doc__ or "").strip().split("\n\n")[0].split())


def describe_models(names: list[str], **shape) -> pd.DataFrame:
    """Name, parameter count and description of each model built with ``shape`` (what `bnlab models` lists)."""
    from bnlab.models import build_model, count_parameters
    from bnlab.train.components import load_all

    load_all()
    return pd.DataFrame(
        [
            {
                "model": name,
                "parameters": count_parameters(build_model(name, **shape)),
                "description": description(registry.MODELS[name]),
            }
            for name in names
        ]
    )


def models_table(used: list[dict], infos: dict[str, dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per model, dataset and width the config trains: parameters there and at width 1."""
    rows = []
    for entry in used:
        info = infos[entry["dataset"]]
        shape = {
            "num_classes": info["num_classes"],
            "in_channels": info["in_channels"],
            "image_size": info["image_size"],
        }
        trained = describe_models([entry["model"]], width=entry["width"], **shape).iloc[0]
        full = describe_models([entry["model"]], width=1.0, **shape).iloc[0]
        rows.append(
            {
                "model": entry["model"],
                "dataset": entry["dataset"],
                "width": entry["width"],
                "parameters": trained["parameters"],
                "parameters_width_1": full["parameters"],
                "description": trained["description"],
            }
        )
    frame = pd.DataFrame(rows)
    shown = pd.DataFrame(
        {
            "model": frame["model"],
            "dataset": frame["dataset"],
            "width": frame["width"].map("{:g}".format),
            "parameters": frame["parameters"].map(count),
            "parameters at width 1": frame["parameters_width_1"].map(count),
            "description": frame["description"],
        }
    )
    return frame, shown


# -- training results -------------------------------------------------------------------------


def status(row) -> str:
    return f"⚠ diverged at step {int(row['diverged_step'])}" if row["status"] == "diverged" else row["status"]


def mean_std(values: pd.Series) -> str:
    """``mean ± std`` of repeats (percent), or the one value."""
    mean, std, n = spread(values)
    return percent(mean) if n == 1 else f"{percent(mean)} ± {percent(std)}"


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The report's view of one experiment's runs (``bnlab.report.runs.summarize``): one row per setting, its
    repeats over seeds as mean ± std. The best epoch is chosen on the validation split, never on test."""
    axes = [a for a in varying_axes(runs) if a not in ("model", "seed")]
    rows = []
    for _, group in runs.groupby("setting", sort=False):
        first = group.iloc[0]
        rows.append(
            {
                "model": first["model"],
                **{a: str(first[a]) for a in axes},
                "seeds": str(len(group)),
                "parameters": count(first["parameters"]),
                "final train acc (%)": mean_std(group["final_train_acc"]),
                "final test acc (%)": mean_std(group["final_test_acc"]),
                "test acc at best epoch (%)": mean_std(group["test_acc_at_best_epoch"]),
                "test loss at best epoch": f"{group['test_loss_at_best_epoch'].mean():.4f}",
                "best epoch, chosen on": ", ".join(
                    f"{int(r.best_epoch)} ({r.best_epoch_chosen_on})" for r in group.itertuples()
                ),
                "epochs run": ", ".join(f"{r.epochs_run}/{r.epochs}" for r in group.itertuples()),
                "wall time (s)": seconds(group["train_seconds"].sum()),
                "status": ", ".join(group.apply(status, axis=1)),
            }
        )
    return pd.DataFrame(rows)


def comparison_table(runs: pd.DataFrame, axis: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs of one experiment grouped by ``axis`` (optimizer, augmentation or loss), means over the rest."""
    frame = (
        runs.groupby(axis, sort=False)
        .agg(
            runs=("run", "size"),
            final_test_acc=("final_test_acc", "mean"),
            final_test_acc_std=("final_test_acc", lambda v: spread(v)[1]),
            test_acc_at_best_epoch=("test_acc_at_best_epoch", "mean"),
            best_test_acc=("best_test_acc", "mean"),
            epochs_to_converge=("epochs_to_converge", "mean"),
            epochs=("epochs", "max"),
            train_seconds=("train_seconds", "mean"),
            diverged=("status", lambda s: int((s == "diverged").sum())),
        )
        .reset_index()
    )
    shown = pd.DataFrame(
        {
            axis: frame[axis],
            "runs": frame["runs"].astype(str),
            "final test acc (%)": [
                percent(m) if pd.isna(sd) else f"{percent(m)} ± {percent(sd)}"
                for m, sd in zip(frame["final_test_acc"], frame["final_test_acc_std"])
            ],
            "test acc at best epoch (%)": frame["test_acc_at_best_epoch"].map(percent),
            f"epochs to converge (within {CONVERGENCE_TOLERANCE:g} pt of best)": frame["epochs_to_converge"].map(
                "{:g}".format
            ),
            "wall time (s)": frame["train_seconds"].map(seconds),
            "diverged": frame["diverged"].astype(str),
        }
    )
    return frame, shown


def bn_summary_table(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The BatchNorm analyses' summary numbers, one row per metric and one column per model."""
    frame = summary.pivot(index="metric", columns="model", values="value")
    frame = frame.reindex(summary["metric"].drop_duplicates()).reset_index()
    frame.columns.name = None
    shown = frame.copy()
    for model in shown.columns[1:]:
        shown[model] = shown[model].map(lambda v: "—" if pd.isna(v) else f"{v:.4g}")
    return frame, shown


def environment_table(summaries: list[dict]) -> pd.DataFrame:
    """Python and package versions of this environment, and the device and torch each experiment trained with."""
    rows = [{"item": "python", "value": platform.python_version(), "where": "report environment"}]
    for package in PACKAGES:
        try:
            rows.append({"item": package, "value": importlib.metadata.version(package), "where": "report environment"})
        except importlib.metadata.PackageNotFoundError:
            rows.append({"item": package, "value": "not installed", "where": "report environment"})
    trained = pd.DataFrame(summaries)[["experiment", "device", "torch"]].drop_duplicates()
    for row in trained.itertuples():
        rows += [
            {"item": "device", "value": row.device, "where": f"training ({row.experiment})"},
            {"item": "torch", "value": row.torch, "where": f"training ({row.experiment})"},
        ]
    return pd.DataFrame(rows)
