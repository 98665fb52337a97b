"""Kills lose nothing, and two of anything at once stay safe: real processes, really killed with SIGKILL.

- a training job killed mid-epoch resumes from its checkpoint and ends byte-identical (but for timing)
  to an uninterrupted run, on the CPU;
- an analysis job killed while it computes leaves no output, and its rerun equals an uninterrupted one;
- Snakemake killed while the report stage runs: `snakemake --unlock`, then the same command, completes it;
- a second Snakemake in the same folder is refused with Snakemake's lock message, and two training jobs
  running at once end with the metrics each has when run alone.
"""

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from bnlab import config as study
from bnlab.train.components import load_all
from bnlab.train.trainer import TIMING_COLUMNS, train
from conftest import REPO, TINY_CONFIG, TinyWorkflow, deep_merge, write_npz

load_all()
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
CODE = "code-v1"


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def learning_columns(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "metrics.csv").drop(columns=TIMING_COLUMNS)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A prepared dataset big enough for an epoch to take a noticeable time, and a spec that probes and snapshots."""
    from bnlab.data.prepare import prepare

    root = tmp_path_factory.mktemp("kills")
    config = study.validate(
        {
            "datasets": {"d": {"torchvision": "CIFAR10", "local": "d.npz", "num_classes": 10}},
            "experiments": {
                "e": {
                    "dataset": "d",
                    "model": "vgg_a_bn",
                    "width": 0.25,
                    "lr": 0.02,
                    "epochs": 3,
                    "batch_size": 25,
                    "augmentation": "crop+flip",
                    "probe_every": 7,
                    "snapshot_epochs": [0, 2],
                }
            },
        },
        SCHEMA,
    )
    data = root / "d.npz"
    prepare(config["datasets"]["d"], write_npz(root / "source.npz", train_per_class=60, test_per_class=10), data)
    (spec,) = study.expand(config)
    whole = root / "whole"
    subprocess.run(train_command(spec, data, whole), check=True, capture_output=True)
    return root, data, spec, whole


def train_command(spec: dict, data: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bnlab.cli",
        "train",
        "--spec",
        json.dumps(spec),
        "--data",
        str(data),
        "--out",
        str(out),
        "--threads",
        "1",
        "--code-version",
        CODE,
    ]


def test_a_training_job_killed_mid_epoch_resumes_and_ends_as_if_never_killed(prepared):
    root, data, spec, whole = prepared
    out = root / "killed"
    job = subprocess.Popen(train_command(spec, data, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = out / "metrics.csv"
    wait_for(lambda: metrics.exists(), 120, "the first epoch")
    first_epoch = pd.read_csv(metrics)["seconds"].iloc[0]
    time.sleep(0.4 * first_epoch)  # well inside the second epoch
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert len(pd.read_csv(metrics)) == 1, "the kill should land inside the second epoch"
    assert not (out / "run.json").exists()

    rerun = subprocess.run(train_command(spec, data, out), capture_output=True, text=True, check=True)
    assert "resuming" in rerun.stdout and "after epoch 1" in rerun.stdout
    assert learning_columns(out).equals(learning_columns(whole))
    for name in ("steps.csv", "probes.csv"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
    resumed, uninterrupted = (torch.load(d / "model.pt", weights_only=False) for d in (out, whole))
    for key, value in uninterrupted["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    assert not (out / "checkpoint.pt").exists()


def analysis_command(run_dir: Path, data: Path, out: Path, batches: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bnlab.cli",
        "analyse",
        "grad-distance",
        "--runs",
        str(run_dir),
        "--data",
        str(data),
        "--out",
        str(out),
        "--d-max",
        "1",
        "--points",
        "11",
        "--batches",
        str(batches),
        "--batch-size",
        "25",
        "--seed",
        "0",
    ]


def test_an_analysis_job_killed_while_computing_leaves_nothing_and_reruns_to_the_same_table(prepared):
    root, data, _, whole = prepared
    out = root / "analysis" / "grad_distance.csv"
    job = subprocess.Popen(
        analysis_command(whole, data, out, batches=20), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(3.0)  # imports done, gradients being computed
    assert job.poll() is None, "the analysis finished before it could be killed; give it more batches"
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert not out.exists()
    assert not [p for p in out.parent.glob("*") if not p.name.startswith(".")] if out.parent.exists() else True

    subprocess.run(analysis_command(whole, data, out, batches=20), check=True, capture_output=True)
    reference = root / "reference.csv"
    subprocess.run(analysis_command(whole, data, reference, batches=20), check=True, capture_output=True)
    assert out.read_bytes() == reference.read_bytes()


def snakemake(root: Path, *args: str, **kwargs):
    return [sys.executable, "-m", "snakemake", *args], {"cwd": root, **kwargs}


def test_snakemake_killed_during_the_report_stage_completes_after_unlock_and_the_same_command(tmp_path):
    workflow = TinyWorkflow(tmp_path / "wf", TINY_CONFIG)
    cmd, options = snakemake(workflow.root, "--cores", "2", "--resources", "gpu=1")
    main = subprocess.Popen(
        cmd, **options, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    # The runs table reads every finished run: once it exists, training is over and the report stage runs.
    runs_table = workflow.root / "results" / "tables" / "runs_tiny.md"
    wait_for(runs_table.exists, 600, "the report stage")
    runs = sorted((workflow.root / "results" / "runs" / "tiny").iterdir())
    metrics_before = {r.name: (r / "metrics.csv").read_bytes() for r in runs}
    main.send_signal(signal.SIGKILL)  # Snakemake itself; its running jobs finish as orphans
    main.wait()

    def orphans_left() -> bool:
        try:
            os.killpg(main.pid, 0)
            return True
        except ProcessLookupError:
            return False

    wait_for(lambda: not orphans_left(), 300, "the killed Snakemake's jobs to end")
    # A SIGKILL leaves Snakemake's lock behind; its message says what to do.
    refused = subprocess.run(cmd, **options, capture_output=True, text=True)
    assert refused.returncode != 0 and "--unlock" in refused.stdout + refused.stderr
    subprocess.run(cmd[:3] + ["--unlock"], cwd=workflow.root, check=True, capture_output=True)
    # Then the same command: the workflow profile's rerun-incomplete redoes the jobs the kill interrupted.
    finished = subprocess.run(cmd, **options, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert (workflow.root / "results" / "report" / "report.md").read_text().endswith("\n")
    assert {r.name: (r / "metrics.csv").read_bytes() for r in runs} == metrics_before  # nothing retrained
    planned = subprocess.run(cmd + ["-n"], **options, capture_output=True, text=True)
    assert "Nothing to be done" in planned.stdout + planned.stderr


def test_a_second_snakemake_is_refused_and_concurrent_training_matches_training_alone(tmp_path):
    config = deep_merge(TINY_CONFIG, {"experiments": {"tiny": {"epochs": 8}}})  # long enough to overlap
    workflow = TinyWorkflow(tmp_path / "wf", config)
    runs = [
        f"results/runs/tiny/{s['run']}/run.json" for s in study.expand(study.validate(copy.deepcopy(config), SCHEMA))
    ]
    # Two cores, two GPU slots: both training jobs (one thread each) run at the same time.
    cmd, options = snakemake(workflow.root, *runs, "--cores", "2", "--resources", "gpu=2")
    first = subprocess.Popen(cmd, **options, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    logs = workflow.root / "logs" / "train" / "tiny"
    wait_for(lambda: logs.exists() and len(list(logs.iterdir())) == 2, 300, "both training jobs to start")
    assert first.poll() is None, "the first Snakemake finished before the second could start"
    second = subprocess.run(cmd, **options, capture_output=True, text=True)
    output, _ = first.communicate(timeout=600)
    assert first.returncode == 0, output[-3000:]
    assert second.returncode != 0
    assert "Error: Directory cannot be locked." in second.stdout + second.stderr

    for run_json in runs:
        run_dir = workflow.root / Path(run_json).parent
        saved = torch.load(run_dir / "model.pt", weights_only=False)
        alone = tmp_path / "alone" / run_dir.name
        torch.set_num_threads(1)
        train(saved["spec"], workflow.root / "results" / "data" / "tiny.npz", alone, CODE, log=lambda s: None)
        assert learning_columns(run_dir).equals(learning_columns(alone)), run_dir.name
