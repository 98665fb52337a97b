"""Time of the BatchNorm study's model analyses, per run, and of the trainer's line-search probe.

Each analysis job of the study that runs a model (``bnlab.report.manifest.bn_analyses``: one per analysis and
protocol, with the options its rule passes) is run, in this process, on a folder holding one run of the benchmark
case, written by the trainer itself with the snapshot epochs of the experiment the job reads: the analysis job's
own code, argument parsing and file reading included, the interpreter's start not. A job's time is about its
number of runs times this.

    probe_s                         one line-search probe (``bnlab.train.line_search.probe``): its gradient at w and
                                    one per step size
    analyse:<analysis>:<protocol>   seconds of that analysis job for one run
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shlex
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bnlab import config as study
from bnlab.analysis.cli import add_verbs
from bnlab.device import synchronize
from bnlab.io import atomic_path
from bnlab.report.manifest import bn_analyses
from bnlab.train import trainer
from bnlab.train.line_search import probe

PREFIX = "analyse:"


def column(job: dict) -> str:
    """The table column of an analysis job: ``analyse:<analysis>:<protocol>``."""
    return f"{PREFIX}{job['verb'].removeprefix('analyse ')}:{job['protocol']}"


def model_jobs(config: dict) -> list[dict]:
    """The study's analysis jobs that run a model (they read the prepared data)."""
    return (
        [job for job in bn_analyses(config, study.expand(config)) if job["data"]] if config.get("bn_analysis") else []
    )


def seconds(work: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median wall time of ``work`` over ``repeats`` calls, after one untimed call (the device drained each time)."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        work()
        synchronize(device)
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def analysis_seconds(run: trainer.Run, data: dict, config: dict, threads: int) -> dict[str, float]:
    """Seconds of each model analysis job of ``config`` for one run of ``run``'s case (``run`` has trained)."""
    parser = argparse.ArgumentParser(prog="bnlab analyse")
    add_verbs(parser)
    timings = {}
    trained = run.epoch
    with tempfile.TemporaryDirectory() as work:
        data_file = Path(work) / "data.npz"
        with atomic_path(data_file) as tmp, open(tmp, "wb") as f:  # a file object: savez adds no .npz suffix
            np.savez(f, **data)
        for job in model_jobs(config):
            run.snapshots = {}
            for epoch in config["experiments"][job["experiment"]].get("snapshot_epochs", []):
                run.epoch = epoch  # the weights at hand, filed as that epoch's snapshot: the time is the same
                run.snapshot()
            run.epoch = trained
            run_dir = Path(work) / job["name"]
            trainer.finish(run, run_dir, run_dir / "checkpoint.pt")
            words = job["verb"].split()[1:] + ["--runs", str(run_dir), "--data", str(data_file)]
            words += ["--threads", str(threads), "--out", f"{work}/{job['name']}.out", *shlex.split(job["options"])]
            args = parser.parse_args(words)
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                args.func(args)
            timings[column(job)] = time.perf_counter() - start
    return timings


def probe_seconds(run: trainer.Run, x: torch.Tensor, y: torch.Tensor, step_sizes: list[float], repeats: int) -> float:
    return seconds(lambda: probe(run.model, run.loss_fn, x, y, step_sizes), run.device, repeats)
