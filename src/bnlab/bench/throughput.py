"""``bnlab bench``: training throughput of each benchmark case, three ways, measured in one process.

For a case (model, width, batch size, see ``bnlab.bench.cases``), on the same images, model, batch and device:

    trainer_img_s    (a) the bnlab trainer itself (``bnlab.train.trainer.Run.train_epoch``) over whole epochs:
                     batches drawn and augmented (crop+flip) on the device, forward, backward, step, bookkeeping;
                     its evaluation is timed apart (eval_img_s, the validation and test images per second)
    bare_img_s       (b) forward + backward + optimizer step alone on one batch already on the device, with the
                     trainer's model, optimizer, loss and precision: the ceiling of (a)
    textbook_img_s   (c) the textbook loop (``bnlab.bench.textbook``): DataLoader, PIL transforms, num_workers workers

Each repeat measures half an epoch's steps of (b), one epoch of (a), the other half of (b), then one epoch of (c),
so that (b) brackets (a) in time; the rates and the ratios
trainer_vs_bare = a / b and trainer_vs_textbook = a / c are medians over repeats, ratios taken within a repeat so
that load from other processes moves both sides. peak_memory_mib is the largest peak over the trainer's epochs
(``bnlab.bench.memory``). The analysis columns (``bnlab.bench.analyses``) are filled for the models the BatchNorm
study compares (``bn_analysis.models``).
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bnlab import config as study
from bnlab.bench import analyses, cases
from bnlab.bench.cases import Case
from bnlab.bench.memory import peak_memory
from bnlab.bench.textbook import TextbookLoop
from bnlab.data import prepare
from bnlab.device import device_name, synchronize, training_autocast
from bnlab.errors import DataError
from bnlab.models import count_parameters
from bnlab.train.trainer import Run

COLUMNS = [
    "dataset",
    "model",
    "width",
    "batch_size",
    "parameters",
    "trainer_img_s",
    "bare_img_s",
    "textbook_img_s",
    "trainer_vs_bare",
    "trainer_vs_textbook",
    "eval_img_s",
    "peak_memory_mib",
    "probe_s",
    "train_images",
    "eval_images",
    "repeats",
    "threads",
    "workers",
    "device",
    "torch",
]


def synthetic_data(geometry: study.Geometry, train_images: int, test_images: int, seed: int = 0) -> dict:
    """Random uint8 images of the dataset's geometry, in prepared form: for timing only."""
    rng = np.random.default_rng(seed)
    shape = (geometry.image_size, geometry.image_size, geometry.channels)
    data = {}
    for split, count in (("train", train_images), ("test", test_images)):
        data[f"x_{split}"] = rng.integers(0, 256, (count, *shape), dtype=np.uint8)
        data[f"y_{split}"] = rng.integers(0, geometry.classes, count).astype(np.int64)
    data["classes"] = np.array([f"class{i}" for i in range(geometry.classes)])
    data["mean"] = data["std"] = np.full(geometry.channels, 0.5)
    return data


def subset(data: dict, train_images: int | None, test_images: int | None, seed: int = 0) -> dict:
    """A seeded random subset of the training and test images (prepared files are sorted by class), copied so that
    the full arrays can go."""
    data = dict(data)
    rng = np.random.default_rng(seed)
    for split, count in (("train", train_images), ("test", test_images)):
        available = len(data[f"y_{split}"])
        if count is None or count >= available:
            continue
        index = np.sort(rng.choice(available, count, replace=False))
        data[f"x_{split}"], data[f"y_{split}"] = data[f"x_{split}"][index], data[f"y_{split}"][index]
    return data


def load_data(name: str, dataset: dict, data_dir: str | Path, work_dir: str | Path) -> dict:
    """Dataset ``name``'s arrays from ``data_dir``: its prepared file ``<name>.npz`` (with the .sha256 the prepare
    rule writes beside it, as in results/data), else its source ``<local>`` (as under a data root) prepared now, by
    the prepare rule's own function, into ``work_dir``."""
    prepared, source = Path(data_dir) / f"{name}.npz", Path(data_dir) / dataset["local"]
    if prepared.is_file() and prepared.with_suffix(".sha256").exists():
        return prepare.load(prepared)
    if not source.exists():
        raise DataError(f"{data_dir}: neither {prepared.name} (prepared) nor {dataset['local']} (a source) is there")
    prepare.prepare(dataset, source, Path(work_dir) / f"{name}.npz")
    return prepare.load(Path(work_dir) / f"{name}.npz")


def bare_rate(run: Run, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    """(b): images/s of ``steps`` forward + backward + optimizer steps on the batch (x, y), with the trainer's
    model, optimizer, loss and precision."""
    run.model.train()
    synchronize(run.device)
    start = time.perf_counter()
    for _ in range(steps):
        with training_autocast(run.device):
            loss = run.loss_fn(run.model(x).float(), y)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
    synchronize(run.device)
    return steps * len(y) / (time.perf_counter() - start)


def measure_case(
    spec: dict,
    data: dict,
    device: torch.device,
    *,
    repeats: int,
    workers: int,
    step_sizes: list[float],
    analysed: dict | None,
) -> dict:
    """One row of the table for the case of ``spec`` (a trainer spec, see ``bnlab.bench.cases.bench_specs``); with
    ``analysed``, a config with a ``bn_analysis`` section, the analysis jobs are timed for its compared models."""
    run = Run(spec, data, device, code_version="bench")
    mean, std = prepare.normalisation(spec, data)
    textbook = TextbookLoop(spec, data, mean, std, device, workers)
    train_images = len(data["y_train"])
    eval_images = len(data["y_test"]) + len(data.get("y_val", []))
    steps = math.ceil(train_images / spec["batch_size"])
    halves = (max(1, steps // 2), max(1, steps - steps // 2))
    sampler = torch.Generator(device=device).manual_seed(0)
    x, y = next(run.train_set.batches(spec["batch_size"], augment=run.augment, generator=sampler, shuffle=True))
    bare_rate(run, x, y, 3)  # kernels chosen and memory allocated before anything is timed
    trainer, bare, textbook_rates, evaluation, peaks = [], [], [], [], []
    for _ in range(repeats):
        before = bare_rate(run, x, y, halves[0])
        with peak_memory(device) as peak:
            epoch = run.train_epoch()
        after = bare_rate(run, x, y, halves[1])
        run.history.append(epoch)
        peaks.append(peak["mib"])
        trainer.append(epoch["images_per_s"])
        evaluation.append(eval_images / (epoch["seconds"] - train_images / epoch["images_per_s"]))
        bare.append(sum(halves) / (halves[0] / before + halves[1] / after))  # the rate over both halves
        textbook_rates.append(textbook.epoch_rate())
    row = {
        "dataset": spec["dataset"],
        "model": spec["model"],
        "width": spec["width"],
        "batch_size": spec["batch_size"],
        "parameters": count_parameters(run.model),
        "trainer_img_s": statistics.median(trainer),
        "bare_img_s": statistics.median(bare),
        "textbook_img_s": statistics.median(textbook_rates),
        "trainer_vs_bare": statistics.median(a / b for a, b in zip(trainer, bare)),
        "trainer_vs_textbook": statistics.median(a / c for a, c in zip(trainer, textbook_rates)),
        "eval_img_s": statistics.median(evaluation),
        "peak_memory_mib": max(peaks),
        "probe_s": analyses.probe_seconds(run, x, y, step_sizes, repeats),
        "train_images": train_images,
        "eval_images": eval_images,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "workers": workers,
        "device": device_name(device),
        "torch": torch.__version__,
    }
    if analysed is not None and spec["model"] in analysed["bn_analysis"]["models"]:
        row |= analyses.analysis_seconds(run, data, analysed, torch.get_num_threads())
    return row


def measure(
    specs: dict[Case, dict],
    data: dict,
    device: torch.device,
    *,
    repeats: int,
    workers: int,
    step_sizes: dict[Case, list[float]],
    analysed: dict | None,
    log=print,
    done=lambda rows: None,
) -> pd.DataFrame:
    """The rows of ``specs``' cases; ``done`` gets the rows so far after each case."""
    rows = []
    for case, spec in specs.items():
        log(f"{case.model} (width {case.width:g}, batch {case.batch_size}) ...")
        rows.append(
            measure_case(
                spec,
                data,
                device,
                repeats=repeats,
                workers=workers,
                step_sizes=step_sizes[case],
                analysed=analysed,
            )
        )
        done(rows)
    return ordered(pd.DataFrame(rows))


def ordered(table: pd.DataFrame) -> pd.DataFrame:
    return table[COLUMNS + sorted(c for c in table.columns if c.startswith(analyses.PREFIX))]


def summary(table: pd.DataFrame) -> str:
    """The table as printed: rates, ratios, evaluation and memory, then the setting and the largest job's memory."""
    names = {
        "batch_size": "batch",
        "trainer_img_s": "a trainer img/s",
        "bare_img_s": "b bare img/s",
        "textbook_img_s": "c textbook img/s",
        "trainer_vs_bare": "a/b",
        "trainer_vs_textbook": "a/c",
        "eval_img_s": "eval img/s",
        "peak_memory_mib": "peak MiB",
    }
    shown = table[["dataset", "model", "width", *names]].rename(columns=names)
    first = table.iloc[0]
    largest = table.loc[table["peak_memory_mib"].idxmax()]
    images = table.drop_duplicates("dataset")
    lines = [
        shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}" if abs(v) < 10 else f"{v:,.0f}"),
        "",
        f"device {first['device']}, torch {first['torch']}, {first['threads']} threads, {first['workers']} "
        f"DataLoader workers, medians of {first['repeats']} repeats; images per epoch (training / evaluation): "
        + ", ".join(f"{r.dataset} {r.train_images:,} / {r.eval_images:,}" for r in images.itertuples()),
        f"peak memory of the largest job: {largest['peak_memory_mib']:,.0f} MiB ({largest['model']}, width "
        f"{largest['width']:g}, on {largest['dataset']})",
    ]
    timed = [c for c in table.columns if c.startswith(analyses.PREFIX)]
    if timed:
        lines += ["", "seconds of one run's analysis job (bnlab.bench.analyses), and of one line-search probe:"]
        shown = table[["dataset", "model", "width", "probe_s", *timed]].dropna(subset=timed, how="all")
        lines.append(
            shown.rename(columns=lambda c: c.removeprefix(analyses.PREFIX)).to_string(
                index=False, float_format="{:.3f}".format
            )
        )
    return "\n".join(lines)


def bench(
    config: dict,
    *,
    datasets: list[str] | None,
    models: list[str] | None,
    batch_size: int | None,
    data_dir: str | None,
    train_images: int | None,
    test_images: int | None,
    repeats: int,
    workers: int,
    with_analyses: bool,
    device: torch.device,
    log=print,
    done=lambda table: None,
) -> pd.DataFrame:
    """Measure, on each of ``datasets`` (default: every dataset the config trains on; with ``models``, the first
    one), the cases the config trains there, or ``models`` (each ``name`` or ``name:width``). Images come from
    ``data_dir`` (see ``load_data``) or, if None, are synthetic ones of the dataset's geometry. ``done`` gets the
    table so far after each case (a long benchmark keeps what it measured)."""
    runs = study.expand(config)
    trained_on = list(dict.fromkeys(s["dataset"] for s in runs))
    for name in datasets or []:
        if name not in trained_on:
            raise DataError(f"--dataset {name}: no enabled experiment of the config trains on it")
    datasets = datasets or (trained_on[:1] if models else trained_on)
    tables: list[pd.DataFrame] = []
    for name in datasets:
        entry = config["datasets"][name]
        size = batch_size or next(s["batch_size"] for s in runs if s["dataset"] == name)
        specs = cases.bench_specs(config, name, [cases.parse_case(m, size) for m in models] if models else None)
        if data_dir is None:
            geometry = study.dataset_geometry(name, entry)
            data = synthetic_data(geometry, train_images or 50_000, test_images or 10_000)
        else:
            with tempfile.TemporaryDirectory() as work_dir:
                data = subset(load_data(name, entry, data_dir, work_dir), train_images, test_images)
        log(f"{name}: {len(data['y_train']):,} training images")
        tables.append(
            measure(
                specs,
                data,
                device,
                repeats=repeats,
                workers=workers,
                step_sizes={case: cases.probe_step_sizes(config, case) for case in specs},
                analysed=config if with_analyses and config.get("bn_analysis") else None,
                log=log,
                done=lambda rows: done(ordered(pd.concat([*tables, pd.DataFrame(rows)], ignore_index=True))),
            )
        )
    return ordered(pd.concat(tables, ignore_index=True))
