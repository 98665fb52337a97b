"""Snakemake itself on a tiny workflow: dry-run, a real run, a no-op rerun, one named target, code edits."""

import copy
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, TINY_CONFIG, finished_workflow, jobs


def planned_runs(workflow) -> list[str]:
    """The run ids of the train jobs a dry run would execute."""
    text = workflow.snakemake("-n").stdout
    return sorted(re.findall(r"^\s+wildcards: experiment=\w+, run=(\S+)$", text, re.M))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    with finished_workflow(tmp_path_factory.mktemp("wf"), TINY_CONFIG) as workflow:
        yield workflow, workflow.sources


def test_dry_run_plans_prepare_then_every_run(tiny_workflow):
    planned = jobs(tiny_workflow.dry_run())
    assert planned["prepare"] == 1 and planned["train"] == 2 and planned["all"] == 1
    assert "download" not in planned  # data_root points at the local copy


def test_the_workflow_runs_end_to_end(finished):
    workflow, _ = finished
    runs = sorted((workflow.root / "results" / "runs" / "tiny").iterdir())
    assert [r.name.split("-")[0] for r in runs] == ["simple_cnn", "vgg_a"]
    for run in runs:
        assert {"metrics.csv", "steps.csv", "probes.csv", "model.pt", "run.json"} <= {p.name for p in run.iterdir()}
    assert (workflow.root / "results" / "data" / "tiny.sha256").exists()
    log = (workflow.root / "logs" / "train" / "tiny" / f"{runs[0].name}.log").read_text()
    assert "epoch   1/2" in log and "epoch   2/2" in log  # a progress line per epoch
    assert (workflow.root / "benchmarks" / "train" / "tiny" / f"{runs[0].name}.tsv").exists()


def test_a_second_run_does_nothing(finished):
    workflow, _ = finished
    assert jobs(workflow.dry_run()) == {}
    assert "Nothing to be done" in workflow.snakemake().stderr


def test_one_output_is_built_by_naming_its_file(tiny_workflow):
    spec_run = "simple_cnn-sgd-lr0.01-none-flip-ce-w0.125-e2-b50-s0"
    target = f"results/runs/tiny/{spec_run}/metrics.csv"
    assert jobs(tiny_workflow.dry_run(target)) == {"prepare": 1, "train": 1}
    tiny_workflow.snakemake(target)
    assert (tiny_workflow.root / target).exists()
    assert not (tiny_workflow.root / "results" / "runs" / "tiny" / spec_run.replace("simple_cnn", "vgg_a")).exists()


def test_editing_a_model_file_reruns_only_that_models_runs_and_what_follows(finished):
    workflow, package = finished
    vgg = package / "models" / "vgg.py"
    original = vgg.read_text()
    try:
        vgg.write_text(original + "\n# an edit\n")
        planned = jobs(workflow.dry_run())
        assert planned.get("train") == 1 and "prepare" not in planned
        assert planned_runs(workflow) == ["vgg_a-sgd-lr0.01-none-flip-ce-w0.125-e2-b50-s0"]
    finally:
        vgg.write_text(original)
    trainer = package / "train" / "trainer.py"
    original = trainer.read_text()
    try:
        trainer.write_text(original + "\n# an edit\n")
        assert jobs(workflow.dry_run()).get("train") == 2
    finally:
        trainer.write_text(original)
    assert jobs(workflow.dry_run()) == {}


def test_a_config_error_stops_snakemake_before_any_job(tiny_workflow):
    config = copy.deepcopy(TINY_CONFIG)
    config["experiments"]["tiny"]["model"] = ["simple_cnn", "vgg_z"]
    tiny_workflow.write_config(config)
    result = tiny_workflow.snakemake(check=False)
    assert result.returncode != 0
    assert "invalid config at experiments.tiny.model[1]: 'vgg_z' is not one of" in result.stderr
    assert not (tiny_workflow.root / "results").exists()


def test_lint_is_clean(tiny_workflow):
    result = tiny_workflow.snakemake("--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_the_quick_profile_plans_the_same_stages_as_the_full_study(tiny_workflow, tmp_path, monkeypatch):
    """The quick budget runs every kind of job of the full study, with fewer seeds and one study switched off."""
    shutil.copy(REPO / "config.yaml", tiny_workflow.root / "config.yaml")
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "imagenet10").mkdir()
    (tmp_path / "fashion_mnist.npz").touch()
    monkeypatch.setenv("BNLAB_DATA_ROOT", str(tmp_path))
    full = jobs(tiny_workflow.dry_run())
    quick = jobs(tiny_workflow.dry_run("--profile", str(tiny_workflow.root / "workflow" / "profiles" / "quick")))
    # The quick budget may add a dataset entry (the softmax study's full Fashion-MNIST): only its gallery is new.
    budget = yaml.safe_load((REPO / "workflow" / "profiles" / "quick" / "budget.yaml").read_text())
    full_datasets = yaml.safe_load((REPO / "config.yaml").read_text())["datasets"]
    added = {f"figure_augmentation_{name}" for name in set(budget["datasets"]) - set(full_datasets)}
    assert set(quick) - added <= set(full)
    assert {r for r in full if not r.startswith("figure_")} == {r for r in quick if not r.startswith("figure_")}
    assert full["train"] > quick["train"] >= 30


GRAY_CONFIG = {
    "budget": "test",
    "data_root": "data",
    "threads": 1,
    "datasets": {
        "gray": {"torchvision": "FashionMNIST", "local": "gray.npz", "num_classes": 10, "validation_per_class": 2}
    },
    "experiments": {
        "gray": {
            "dataset": "gray",
            "model": ["fc_net", "lenet5", "resnet18"],
            "width": 0.125,
            "optimizer": "adam",
            "lr": 1e-3,
            "epochs": 1,
            "batch_size": 50,
            "augmentation": "crop",
            "title": "Grayscale",
        },
    },
}


def test_a_one_channel_28px_dataset_flows_through_the_whole_workflow(tmp_path):
    """prepare -> train -> tables, figures (gallery, curves, per-class, confusion) -> report, with the training
    split's own normalisation (the config gives no mean or std)."""
    from conftest import TinyWorkflow, write_npz

    workflow = TinyWorkflow(tmp_path / "wf", GRAY_CONFIG)
    write_npz(workflow.root / "data" / "gray.npz", train_per_class=12, test_per_class=5, size=28, channels=1)
    workflow.snakemake()
    results = workflow.root / "results"
    data = np.load(results / "data" / "gray.npz")
    assert data["x_train"].shape[1:] == (28, 28, 1) and data["mean"].shape == (1,)
    runs = pd.read_csv(results / "tables" / "runs_gray.csv")
    assert sorted(runs["model"]) == ["fc_net", "lenet5", "resnet18"] and (runs["status"] == "ok").all()
    assert (runs["best_epoch_chosen_on"] == "validation").all()
    confusion = pd.read_csv(results / "tables" / "confusion_gray.csv")
    assert confusion.groupby("label")["images"].sum().tolist() == [50, 50, 50]  # every test image, once per run
    report = (results / "report" / "report.md").read_text()
    assert "## Grayscale" in report and "confusion_gray.png" in report
