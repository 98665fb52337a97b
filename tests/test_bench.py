"""bnlab bench: the trainer's own epochs against the bare step and the textbook DataLoader loop, in one process.

Timings are never asserted (the machine is shared); what is checked is that each rate comes from the code it names,
that the ratios and medians are what the table says, and what the textbook baseline computes."""

import copy
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from bnlab import config as study
from bnlab.bench import analyses, cases, throughput
from bnlab.bench.memory import peak_memory
from bnlab.bench.textbook import PILImages
from bnlab.data import prepare
from bnlab.errors import DataError
from bnlab.report import manifest
from bnlab.train import trainer
from conftest import REPO, TINY_CONFIG, deep_merge, synthetic_images, write_npz

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = deep_merge(
    TINY_CONFIG,
    {
        "experiments": {
            "tiny": {"model": "simple_cnn", "batch_size": 16},
            "other": {"dataset": "tiny", "model": "simple_cnn", "width": 0.25, "lr": [0.1, 0.2], "batch_size": 16},
        }
    },
)


def tiny_config() -> dict:
    return study.validate(copy.deepcopy(CONFIG), SCHEMA)


def tiny_data(train=64, test=32) -> dict:
    return throughput.synthetic_data(study.Geometry(32, 3, 10), train, test)


def test_cases_are_the_configs_distinct_models_widths_and_batch_sizes_trained_as_benchmarked():
    specs = cases.bench_specs(tiny_config(), "tiny")
    assert set(specs) == {cases.Case("simple_cnn", 0.125, 16), cases.Case("simple_cnn", 0.25, 16)}
    for case, spec in specs.items():
        assert (spec["model"], spec["width"], spec["batch_size"]) == case
        assert spec["augmentation"] == "crop+flip" and spec["probe_every"] == 0 and spec["snapshot_epochs"] == []
    chosen = cases.bench_specs(tiny_config(), "tiny", [cases.parse_case("vgg_a_bn:0.5", 32)])
    assert list(chosen) == [cases.Case("vgg_a_bn", 0.5, 32)]
    assert chosen[cases.Case("vgg_a_bn", 0.5, 32)]["optimizer"] == "sgd"  # the study's first run's settings


def test_the_trainer_rate_is_the_trainers_own_and_the_ratios_are_taken_per_repeat(monkeypatch):
    reported = []
    real_epoch = trainer.Run.train_epoch

    def epoch(run):
        row = real_epoch(run)
        reported.append(row["images_per_s"])
        return row

    monkeypatch.setattr(trainer.Run, "train_epoch", epoch)
    specs = cases.bench_specs(tiny_config(), "tiny", [cases.Case("simple_cnn", 0.125, 16)])
    table = throughput.measure(
        specs,
        tiny_data(),
        torch.device("cpu"),
        repeats=3,
        workers=0,
        step_sizes={case: [1.0] for case in specs},
        analysed=None,
        log=lambda _: None,
    )
    row = table.iloc[0]
    assert len(reported) == 3 and row["trainer_img_s"] == np.median(reported)
    assert row["train_images"] == 64 and row["eval_images"] == 32 and row["repeats"] == 3
    assert row["device"].startswith("cpu") and row["torch"] == torch.__version__
    for rate in ("bare_img_s", "textbook_img_s", "eval_img_s", "peak_memory_mib", "probe_s"):
        assert math.isfinite(row[rate]) and row[rate] > 0
    assert not [c for c in table.columns if c.startswith(analyses.PREFIX)]


def test_the_textbook_dataset_pads_by_an_eighth_crops_flips_and_normalises_like_torchvision():
    images, labels = synthetic_images(2, classes=3, size=16)
    dataset = PILImages(images, labels, [0.5], [0.25])
    torch.manual_seed(0)
    for i in range(len(dataset)):
        x, label = dataset[i]
        assert x.shape == (3, 16, 16) and label == labels[i]
        original = torch.from_numpy(images[i]).permute(2, 0, 1).float() / 255
        padded = torch.nn.functional.pad(original, (2, 2, 2, 2))
        windows = [padded[:, t : t + 16, s : s + 16] for t in range(5) for s in range(5)]
        candidates = [(w - 0.5) / 0.25 for w in windows] + [((w - 0.5) / 0.25).flip(2) for w in windows]
        assert any(torch.allclose(x, c, atol=1e-6) for c in candidates), f"item {i} is no padded crop (or its mirror)"


def test_a_subset_is_seeded_random_and_spans_the_classes_of_a_sorted_file():
    images, labels = synthetic_images(20, classes=5)  # sorted by class, as prepared files are
    data = {"x_train": images, "y_train": labels, "x_test": images[:10], "y_test": labels[:10]}
    picked = throughput.subset(data, 30, None)
    again = throughput.subset(data, 30, None)
    assert len(picked["y_train"]) == 30 and np.array_equal(picked["y_train"], again["y_train"])
    assert len(set(picked["y_train"].tolist())) == 5 and len(picked["y_test"]) == 10


def test_data_is_the_prepared_file_or_else_the_source_prepared_as_the_rule_would(tmp_path):
    dataset = tiny_config()["datasets"]["tiny"]  # local: tiny.npz
    write_npz(tmp_path / "root" / "tiny.npz", train_per_class=3, test_per_class=2)  # a source under a data root
    data = throughput.load_data("tiny", dataset, tmp_path / "root", tmp_path / "work")
    prepare.prepare(dataset, tmp_path / "root" / "tiny.npz", tmp_path / "results" / "tiny.npz")  # the rule's function
    expected = prepare.load(tmp_path / "results" / "tiny.npz")
    assert data.keys() == expected.keys() and all(np.array_equal(data[k], expected[k]) for k in data)
    again = throughput.load_data("tiny", dataset, tmp_path / "results", tmp_path / "unused")
    assert np.array_equal(again["x_train"], expected["x_train"]) and not (tmp_path / "unused").exists()
    with pytest.raises(DataError, match="neither tiny.npz .prepared. nor tiny.npz .a source. is there"):
        throughput.load_data("tiny", dataset, tmp_path / "results" / "nowhere", tmp_path / "work")


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="no /proc/self/clear_refs")
def test_peak_memory_resets_for_each_block_and_counts_what_it_allocates():
    with peak_memory(torch.device("cpu")) as big:
        block = torch.ones(300 * 2**20 // 4)  # 300 MiB, touched
        del block
    with peak_memory(torch.device("cpu")) as small:
        pass
    assert big["mib"] - small["mib"] > 250


def test_every_analysis_job_that_runs_a_model_is_timed_on_one_run_of_a_compared_model(tmp_path):
    config = deep_merge(
        yaml.safe_load(yaml.safe_dump(CONFIG)),
        {
            "experiments": {"probe": {"dataset": "tiny", "model": ["vgg_a", "vgg_a_bn"], "lr": [0.01, 0.02]}},
            "bn_analysis": {
                "models": ["vgg_a", "vgg_a_bn"],
                "experiments": {"landscape": "probe", "line_search": "probe", "trained": "probe"},
                "batch_size": 8,
                "batches": 1,
                "grad_distance": {"points": 2},
                "course": {"batches": 1, "activation_batches": 1},
            },
        },
    )
    config["experiments"]["probe"].update(probe_every=1, snapshot_epochs=[0, 1], width=0.125, epochs=1)
    config = study.validate(config, SCHEMA)
    specs = cases.bench_specs(config, "tiny", [cases.Case("vgg_a_bn", 0.125, 16), cases.Case("simple_cnn", 0.125, 16)])
    table = throughput.measure(
        specs,
        tiny_data(train=256),  # report 000's protocol reads batches of 128
        torch.device("cpu"),
        repeats=1,
        workers=0,
        step_sizes={case: [1.0] for case in specs},
        analysed=config,
        log=lambda _: None,
    ).set_index("model")
    timed = {c for c in table.columns if c.startswith(analyses.PREFIX)}
    # The workflow's jobs (bnlab.report.manifest): one per analysis and protocol that reads model.pt.
    jobs = [j for j in manifest.bn_analyses(config, study.expand(config)) if j["data"]]
    assert timed == {f"analyse:{j['analysis'].replace('_', '-')}:{j['protocol']}" for j in jobs}
    assert {"analyse:grad-distance:paper", "analyse:grad-distance:course", "analyse:feature-maps:paper"} <= timed
    assert all(table.loc["vgg_a_bn", c] > 0 for c in timed)
    assert table.loc["simple_cnn", sorted(timed)].isna().all()  # not a compared model: no job analyses it


def test_the_command_writes_one_row_per_case_and_prints_the_setting(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    out = tmp_path / "bench.csv"
    result = subprocess.run(
        [sys.executable, "-m", "bnlab.cli", "bench", "--config", str(tmp_path / "config.yaml"), "--schema", str(SCHEMA)]
        + ["--synthetic", "--train-images", "48", "--test-images", "16", "--repeats", "1", "--workers", "0"]
        + ["--threads", "1", "--no-analyses", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert sorted(zip(table["dataset"], table["model"], table["width"])) == [
        ("tiny", "simple_cnn", 0.125),
        ("tiny", "simple_cnn", 0.25),
    ]
    assert f"torch {torch.__version__}" in result.stdout and "a/b" in result.stdout and "a/c" in result.stdout
    assert "peak memory of the largest job" in result.stdout


def test_a_long_benchmark_hands_over_the_table_after_each_case():
    seen = []
    table = throughput.bench(
        tiny_config(),
        datasets=None,
        models=["simple_cnn:0.125", "simple_cnn:0.25"],
        batch_size=None,
        data_dir=None,
        train_images=32,
        test_images=16,
        repeats=1,
        workers=0,
        with_analyses=False,
        device=torch.device("cpu"),
        log=lambda _: None,
        done=lambda so_far: seen.append(so_far[["model", "width", "batch_size"]].values.tolist()),
    )
    assert seen == [[["simple_cnn", 0.125, 16]], [["simple_cnn", 0.125, 16], ["simple_cnn", 0.25, 16]]]
    assert table[["model", "width"]].values.tolist() == [["simple_cnn", 0.125], ["simple_cnn", 0.25]]
