"""bnlab plan: device seconds of each job from a bench table and the config, checked against hand computations."""

import copy
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from bnlab.bench import analyses, plan
from bnlab.config import validate
from bnlab.errors import ConfigError, DataError
from conftest import REPO, TINY_CONFIG, deep_merge

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
# 100 training and 50 test images (10 classes), batches of 50: 2 steps per epoch.
CONFIG = deep_merge(
    TINY_CONFIG,
    {
        "datasets": {"tiny": {"train_per_class": 10, "test_per_class": 5}},
        "experiments": {
            "tiny": {"model": "simple_cnn", "width": 1.0, "lr": [0.1, 0.01], "epochs": 3},
            "probed": {
                "dataset": "tiny",
                "model": ["vgg_a", "vgg_a_bn"],
                "width": 0.125,
                "epochs": 2,
                "batch_size": 50,
                "probe_every": 3,
                "probe_step_sizes": [1, 2],
                "snapshot_epochs": [0, 2],
            },
        },
    },
)
# Rates picked so that the hand computations below are exact.
TABLE = pd.DataFrame(
    [
        {"model": "simple_cnn", "width": 1.0, "trainer_img_s": 100.0, "eval_img_s": 50.0, "probe_s": 0.5},
        {"model": "vgg_a", "width": 0.125, "trainer_img_s": 20.0, "eval_img_s": 25.0, "probe_s": 3.0},
        {"model": "vgg_a_bn", "width": 0.125, "trainer_img_s": 10.0, "eval_img_s": 25.0, "probe_s": 4.0},
    ]
).assign(dataset="tiny", batch_size=50, device="cpu (test)")


def config(extra: dict | None = None) -> dict:
    return validate(deep_merge(copy.deepcopy(CONFIG), extra or {}), SCHEMA)


def by_experiment(jobs: pd.DataFrame) -> dict[str, float]:
    return jobs.groupby("experiment")["seconds"].sum().round(9).to_dict()


def test_each_run_costs_its_epochs_of_training_and_evaluation_plus_its_probes():
    jobs, origins = plan.estimate(config(), TABLE, None)
    assert origins == {"tiny": "torchvision's CIFAR10 splits and the config (prepare it for exact counts)"}
    # tiny: 2 runs x 3 epochs x (100 / 100 + 50 / 50) s
    # probed, 4 steps, probes at steps 0 and 3: vgg_a 2 x (100 / 20 + 50 / 25) + 2 x 3 = 20 s,
    #                                           vgg_a_bn 2 x (100 / 10 + 50 / 25) + 2 x 4 = 32 s
    assert by_experiment(jobs) == {"tiny": 12.0, "probed": 52.0}
    assert len(jobs) == 4 and set(jobs["train_images"]) == {100} and set(jobs["eval_images"]) == {50}


def test_prepared_files_give_the_image_counts_validation_included(tmp_path):
    arrays = {
        f"{a}_{s}": np.zeros((n, 2, 2, 3) if a == "x" else n)
        for s, n in [("train", 60), ("val", 20), ("test", 25)]
        for a in "xy"
    }
    np.savez(tmp_path / "tiny.npz", **arrays)
    assert plan.prepared_counts(tmp_path / "tiny.npz") == {"train": 60, "val": 20, "test": 25}
    jobs, origins = plan.estimate(config(), TABLE, tmp_path)
    assert origins == {"tiny": str(tmp_path / "tiny.npz")}
    # tiny: 2 runs x 3 epochs x (60 / 100 + 45 / 50) s = 9 s
    assert by_experiment(jobs)["tiny"] == pytest.approx(9.0)


def test_without_a_prepared_file_the_counts_follow_the_standard_split_and_the_config():
    unset = {"train_per_class": None, "test_per_class": None, "validation_per_class": 100}
    counts, origin = plan.image_counts("tiny", config({"datasets": {"tiny": unset}})["datasets"]["tiny"], None)
    assert counts == {"train": 49_000, "val": 1_000, "test": 10_000}  # CIFAR-10's 50,000 / 10,000
    assert "CIFAR10" in origin


def test_analysis_jobs_cost_their_seconds_per_run_for_each_run_they_read():
    analysed = config(
        {
            "bn_analysis": {
                "models": ["vgg_a", "vgg_a_bn"],
                "experiments": {"landscape": "probed", "line_search": "probed", "trained": "probed", "course": "tiny2"},
            },
            "experiments": {
                "tiny2": {
                    "dataset": "tiny",
                    "model": ["vgg_a", "vgg_a_bn"],
                    "width": 0.125,
                    "lr": [0.1, 0.2],
                    "batch_size": 50,
                }
            },
        }
    )
    timed = {analyses.column(job): 0.0 for job in analyses.model_jobs(analysed)}
    timed["analyse:grad-distance:paper"] = [9.0, 1.0, 2.0]  # simple_cnn, vgg_a, vgg_a_bn
    timed["analyse:grad-distance:course"] = [9.0, 10.0, 20.0]
    jobs = plan.estimate(analysed, TABLE.assign(**timed), None)[0].set_index("job")["seconds"]
    assert jobs["analyse grad-distance --protocol paper"] == 1.0 + 2.0  # the one run of each model in `trained`
    assert jobs["analyse grad-distance --protocol course"] == 2 * 10.0 + 2 * 20.0  # two lrs of each in `course`
    with pytest.raises(ConfigError, match="no analyse:grad-distance:course column"):
        plan.estimate(analysed, TABLE.assign(**timed).drop(columns="analyse:grad-distance:course"), None)


def test_a_run_without_a_bench_row_stops_with_one_line_naming_it():
    with pytest.raises(
        ConfigError, match=r"^experiments\.probed: the bench table has no row for vgg_a_bn at width 0.125"
    ):
        plan.estimate(config(), TABLE[TABLE["model"] != "vgg_a_bn"], None)


def test_the_command_prints_the_experiments_and_the_whole_run_on_the_benchmarked_device(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    TABLE.to_csv(tmp_path / "bench.csv", index=False)
    command = [sys.executable, "-m", "bnlab.cli", "plan", "--config", str(tmp_path / "config.yaml")]
    command += ["--schema", str(SCHEMA), "--bench", str(tmp_path / "bench.csv"), "--data-dir", str(tmp_path)]
    result = subprocess.run(command + ["--devices", "2"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "whole run on cpu (test): 0.018 device hours; wall time on 2 device(s) about 0 min 32 s" in result.stdout
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "0 min 12 s" in lines["tiny"] and "0 min 52 s" in lines["probed"]
    missing = subprocess.run(command[:-2] + ["--bench", str(tmp_path / "none.csv")], capture_output=True, text=True)
    assert missing.returncode != 0 and missing.stderr.strip().endswith(
        "no such bench table; write one with bnlab bench --out " + str(tmp_path / "none.csv")
    )
    with pytest.raises(DataError):
        plan.read_bench(tmp_path / "none.csv")
