"""``bnlab plan``: the cost of a study before anything trains, from a ``bnlab bench`` table and the config.

Every training run costs, per epoch, its training images at the trainer's rate (trainer_img_s), its validation and
test images at the evaluation rate (eval_img_s) and its line-search probes (probe_s each, one every probe_every
steps); each analysis job of the BatchNorm study that runs a model costs its measured seconds per run
(``bnlab.bench.analyses``) for every run it reads.
Rates come from the table's row of the run's (model, width, batch size). Image counts come from the prepared file
when it exists, else from the torchvision dataset's standard splits and the config's per-class settings.

Not counted: each job's start-up (interpreter, imports, loading the data: seconds), the feature-map analysis, and
the stages that run no model (tables, figures, notebooks, the report). Device seconds add up over jobs; the wall
time on N devices assumes Snakemake keeps them all busy (``--resources gpu=N``), one job per device.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from bnlab import config as study
from bnlab.bench.analyses import column, model_jobs
from bnlab.bench.cases import case_of
from bnlab.errors import ConfigError, DataError
from bnlab.report.manifest import run_dir

# Images in the standard splits of each torchvision dataset (train, test; Imagenette's "val" is its test split).
STANDARD_SPLITS = {
    "CIFAR10": (50_000, 10_000),
    "MNIST": (60_000, 10_000),
    "FashionMNIST": (60_000, 10_000),
    "Imagenette": (9_469, 3_925),
}
JOB_COLUMNS = ["experiment", "job", "model", "epochs", "train_images", "eval_images", "seconds"]


def read_bench(path: str | Path) -> pd.DataFrame:
    """The table ``bnlab bench`` wrote at ``path``."""
    if not Path(path).is_file():
        raise DataError(f"{path}: no such bench table; write one with bnlab bench --out {path}")
    table = pd.read_csv(path)
    needed = {"dataset", "model", "width", "batch_size", "trainer_img_s", "eval_img_s", "probe_s", "device"}
    if needed - set(table.columns) or table.empty:
        raise DataError(f"{path}: not a bench table (needs the columns {', '.join(sorted(needed))} and a row)")
    return table


def prepared_counts(path: Path) -> dict[str, int]:
    """Images per split of a prepared .npz, read from the array headers (nothing is loaded)."""
    counts = {}
    with zipfile.ZipFile(path) as archive:
        for split in ("train", "val", "test"):
            if f"y_{split}.npy" in archive.namelist():
                with archive.open(f"y_{split}.npy") as f:
                    major, _ = np.lib.format.read_magic(f)
                    read_header = (
                        np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                    )
                    shape, _, _ = read_header(f)
                counts[split] = shape[0]
    return counts


def image_counts(name: str, dataset: dict, data_dir: Path | None) -> tuple[dict[str, int], str]:
    """Training, validation and test images of dataset ``name`` after preparation, and where the counts come from."""
    prepared = data_dir / f"{name}.npz" if data_dir else None
    if prepared is not None and prepared.exists():
        return prepared_counts(prepared), str(prepared)
    train, test = STANDARD_SPLITS[dataset["torchvision"]]
    classes = study.dataset_geometry(name, dataset).classes
    val = (dataset.get("validation_per_class") or 0) * classes
    counts = {
        "train": (dataset.get("train_per_class") or 0) * classes or train - val,
        "val": val,
        "test": (dataset.get("test_per_class") or 0) * classes or test,
    }
    return counts, f"torchvision's {dataset['torchvision']} splits and the config (prepare it for exact counts)"


def _rates(table: pd.DataFrame, spec: dict, where: str) -> pd.Series:
    case = case_of(spec)
    rows = table[
        (table["dataset"] == spec["dataset"])
        & (table["model"] == case.model)
        & np.isclose(table["width"], case.width)
        & (table["batch_size"] == case.batch_size)
    ]
    if rows.empty:
        raise ConfigError(
            f"{where}: the bench table has no row for {case.model} at width {case.width:g}, batch {case.batch_size} "
            f"on {spec['dataset']}; run bnlab bench with this config"
        )
    return rows.iloc[0]


def training_jobs(config: dict, table: pd.DataFrame, counts: dict[str, dict[str, int]]) -> list[dict]:
    jobs = []
    for spec in study.expand(config):
        rates = _rates(table, spec, f"experiments.{spec['experiment']}")
        images = counts[spec["dataset"]]
        steps = spec["epochs"] * math.ceil(images["train"] / spec["batch_size"])
        probes = math.ceil(steps / spec["probe_every"]) if spec.get("probe_every") else 0
        evaluated = images["val"] + images["test"]
        seconds = spec["epochs"] * (images["train"] / rates["trainer_img_s"] + evaluated / rates["eval_img_s"])
        jobs.append(
            {
                "experiment": spec["experiment"],
                "job": f"train {spec['run']}",
                "model": spec["model"],
                "epochs": spec["epochs"],
                "train_images": images["train"],
                "eval_images": evaluated,
                "seconds": seconds + probes * rates["probe_s"],
            }
        )
    return jobs


def analysis_jobs(config: dict, table: pd.DataFrame) -> list[dict]:
    """The BatchNorm study's analysis jobs that run a model (``bnlab.bench.analyses.model_jobs``): each costs its
    measured seconds per run for every run it reads."""
    specs = {run_dir(spec): spec for spec in study.expand(config)}
    jobs = []
    for job in model_jobs(config):
        if column(job) not in table.columns:
            raise ConfigError(
                f"bn_analysis: the bench table has no {column(job)} column; run bnlab bench with this config"
            )
        per_run = [_rates(table, specs[d], "bn_analysis.models")[column(job)] for d in job["run_dirs"]]
        jobs.append(
            {
                "experiment": "bn_analysis",
                "job": f"{job['verb']} --protocol {job['protocol']}",
                "model": ", ".join(job["models"]),
                "epochs": 0,
                "train_images": 0,
                "eval_images": 0,
                "seconds": sum(per_run),
            }
        )
    return jobs


def estimate(config: dict, table: pd.DataFrame, data_dir: Path | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per job that runs a model, with its estimated device seconds; and where each dataset's image counts
    come from."""
    counted = {
        name: image_counts(name, config["datasets"][name], data_dir)
        for name in dict.fromkeys(s["dataset"] for s in study.expand(config))
    }
    counts = {name: c for name, (c, _) in counted.items()}
    jobs = pd.DataFrame(training_jobs(config, table, counts) + analysis_jobs(config, table), columns=JOB_COLUMNS)
    return jobs, {name: origin for name, (_, origin) in counted.items()}


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def summary(jobs: pd.DataFrame, origins: dict[str, str], device: str, devices: int) -> str:
    per_experiment = (
        jobs.groupby("experiment", sort=False)
        .agg(jobs=("job", "size"), epochs=("epochs", "sum"), seconds=("seconds", "sum"))
        .reset_index()
    )
    per_experiment["time"] = per_experiment["seconds"].map(duration)
    per_experiment["device hours"] = per_experiment["seconds"] / 3600
    total = jobs["seconds"].sum()
    return "\n".join(
        [
            per_experiment[["experiment", "jobs", "epochs", "time", "device hours"]].to_string(
                index=False, float_format="{:.3f}".format
            ),
            "",
            f"whole run on {device}: {total / 3600:.3f} device hours; wall time on {devices} device(s) about "
            f"{duration(total / devices)}",
            "(not counted: job start-up, feature maps, and the stages that run no model: tables, figures, report)",
            "image counts: " + "; ".join(f"{name} from {origin}" for name, origin in origins.items()),
        ]
    )
