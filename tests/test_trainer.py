import json

import pandas as pd
import pytest
import torch

from bnlab import config as study
from bnlab.train.components import load_all
from bnlab.train.trainer import TIMING_COLUMNS, train
from conftest import REPO, write_npz

load_all()
CODE = "code-v1"  # the code version a rule passes (bnlab.provenance.code_hash("train", ...))
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


class Killed(Exception):
    """Stands in for SIGKILL: raised right after an epoch's checkpoint is on disk."""


def make_spec(**axes):
    config = {
        "datasets": {"tiny": {"torchvision": "CIFAR10", "local": "tiny.npz", "num_classes": 10}},
        "experiments": {
            "t": {
                "dataset": "tiny",
                "model": "vgg_a_bn",
                "width": 0.125,
                "lr": 0.02,
                "epochs": 3,
                "batch_size": 50,
                "augmentation": "crop+flip",
                "snapshot_epochs": [0, 2],
                **axes,
            }
        },
    }
    (spec,) = study.expand(study.validate(config, SCHEMA))
    return spec


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from bnlab.data.prepare import prepare

    root = tmp_path_factory.mktemp("data")
    out = root / "tiny.npz"
    prepare(
        study.validate(
            {
                "datasets": {"d": {"torchvision": "CIFAR10", "local": "x", "num_classes": 10}},
                "experiments": {"e": {"dataset": "d", "model": "vgg_a"}},
            },
            SCHEMA,
        )["datasets"]["d"],
        write_npz(root / "src.npz", train_per_class=10, test_per_class=4),
        out,
    )
    return out


def learning_columns(run_dir):
    return pd.read_csv(run_dir / "metrics.csv").drop(columns=TIMING_COLUMNS)


def test_a_run_writes_its_results_and_learns(tmp_path, data):
    spec = make_spec(model="simple_cnn", epochs=8, lr=0.01, batch_size=10, augmentation="none", width=1.0)
    summary = train(spec, data, tmp_path, CODE, log=lambda s: None)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert list(metrics.columns) == [
        "epoch",
        "lr",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "test_loss",
        "test_acc",
        "seconds",
        "images_per_s",
        "status",
    ]
    assert metrics["epoch"].tolist() == list(range(1, 9))
    assert metrics["test_acc"].iloc[-1] > 30  # 10 synthetic classes: chance is 10%
    steps = pd.read_csv(tmp_path / "steps.csv")
    assert steps["step"].tolist() == list(range(8 * 10))  # 100 images, batch 10
    assert (steps["output_grad_norm"] > 0).all() and steps["output_grad_norm"].notna().all()
    # No validation split here: the best epoch is the last one, never the one with the best test accuracy.
    assert summary["best_epoch"] == 8 and summary["best_epoch_chosen_on"] == "last epoch"
    assert summary["test_acc_at_best_epoch"] == metrics["test_acc"].iloc[-1]
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "ok" == summary["status"]
    assert not (tmp_path / "checkpoint.pt").exists()


def test_same_spec_and_seed_give_identical_metrics_on_cpu(tmp_path, data):
    spec = make_spec()
    train(spec, data, tmp_path / "a", CODE, log=lambda s: None)
    train(spec, data, tmp_path / "b", CODE, log=lambda s: None)
    pd.testing.assert_frame_equal(learning_columns(tmp_path / "a"), learning_columns(tmp_path / "b"))
    assert (tmp_path / "a" / "steps.csv").read_text() == (tmp_path / "b" / "steps.csv").read_text()
    other = make_spec(seed=1)
    train(other, data, tmp_path / "c", CODE, log=lambda s: None)
    assert not learning_columns(tmp_path / "a").equals(learning_columns(tmp_path / "c"))


def test_a_killed_run_resumes_from_its_checkpoint_to_the_same_result(tmp_path, data):
    spec = make_spec(model="vgg_a_res_dropout")  # dropout and BN: every RNG stream and buffer matters
    train(spec, data, tmp_path / "whole", CODE, log=lambda s: None)

    def kill_after_epoch_2(line):
        if line.startswith("epoch   2/"):
            raise Killed

    with pytest.raises(Killed):
        train(spec, data, tmp_path / "killed", CODE, log=kill_after_epoch_2)
    assert (tmp_path / "killed" / "checkpoint.pt").exists()
    assert len(pd.read_csv(tmp_path / "killed" / "metrics.csv")) == 2
    lines = []
    train(spec, data, tmp_path / "killed", CODE, log=lines.append)
    assert lines[0] == f"resuming {spec['run']} after epoch 2"
    pd.testing.assert_frame_equal(learning_columns(tmp_path / "whole"), learning_columns(tmp_path / "killed"))
    for name in ("steps.csv", "probes.csv"):
        assert (tmp_path / "whole" / name).read_text() == (tmp_path / "killed" / name).read_text()
    whole, resumed = (torch.load(tmp_path / d / "model.pt") for d in ("whole", "killed"))
    assert sorted(whole["snapshots"]) == [0, 2]
    for key, value in whole["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key


def test_a_checkpoint_of_another_spec_is_not_resumed(tmp_path, data):
    with pytest.raises(Killed):
        train(
            make_spec(), data, tmp_path, CODE, log=lambda line: (_ for _ in ()).throw(Killed) if "epoch" in line else 0
        )
    lines = []
    train(make_spec(lr=0.01), data, tmp_path, CODE, log=lines.append)
    assert lines[0] == f"{tmp_path / 'checkpoint.pt'} belongs to another spec; starting afresh"


def test_a_checkpoint_of_other_code_is_not_resumed_and_the_log_says_why(tmp_path, data):
    with pytest.raises(Killed):
        train(
            make_spec(), data, tmp_path, CODE, log=lambda line: (_ for _ in ()).throw(Killed) if "epoch" in line else 0
        )
    lines = []
    train(make_spec(), data, tmp_path, "code-v2", log=lines.append)
    assert lines[0] == f"{tmp_path / 'checkpoint.pt'} was written by code {CODE}, this is code-v2; starting afresh"
    assert not any(line.startswith("resuming") for line in lines)
    fresh = tmp_path / "fresh"
    train(make_spec(), data, fresh, "code-v2", log=lambda s: None)
    assert learning_columns(tmp_path).equals(learning_columns(fresh))


def test_the_checkpoint_keeps_rng_states_as_cpu_byte_tensors(tmp_path, data):
    """What torch.set_rng_state and Generator.set_state accept on every device: resume on CUDA depends on it."""
    with pytest.raises(Killed):
        train(
            make_spec(), data, tmp_path, CODE, log=lambda line: (_ for _ in ()).throw(Killed) if "epoch" in line else 0
        )
    state = torch.load(tmp_path / "checkpoint.pt", map_location="cpu", weights_only=False)
    for key in ("generator", "torch_rng"):
        assert state[key].device.type == "cpu" and state[key].dtype == torch.uint8, key
    assert state["code_version"] == CODE


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_killed_cuda_run_resumes_and_ends_close_to_an_uninterrupted_one(tmp_path, data):
    spec = make_spec(epochs=2)
    train(spec, data, tmp_path / "whole", CODE, log=lambda s: None)
    with pytest.raises(Killed):
        train(
            spec,
            data,
            tmp_path / "killed",
            CODE,
            log=lambda line: (_ for _ in ()).throw(Killed) if line.startswith("epoch   1/") else 0,
        )
    lines = []
    train(spec, data, tmp_path / "killed", CODE, log=lines.append)
    assert any(line.startswith("resuming") for line in lines)
    # bf16 autocast and non-deterministic kernels: equal within a tolerance, not bitwise (a CPU-only promise).
    whole, killed = learning_columns(tmp_path / "whole"), learning_columns(tmp_path / "killed")
    assert (whole["test_acc"] - killed["test_acc"]).abs().max() <= 5.0


def test_a_diverging_run_is_marked_at_its_step_and_still_finishes(tmp_path, data):
    spec = make_spec(model="vgg_a", lr=1e6, optimizer="sgd", epochs=5)
    summary = train(spec, data, tmp_path, CODE, log=lambda s: None)
    steps = pd.read_csv(tmp_path / "steps.csv")
    finite = steps["loss"].apply(lambda v: pd.notna(v) and abs(v) < float("inf"))
    # It stops at the step whose loss blew up, not at the end of that epoch: that step is the last recorded.
    assert summary["status"] == "diverged" and summary["diverged_step"] == steps["step"].iloc[-1]
    assert not finite.iloc[-1] and finite.iloc[:-1].all()
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert metrics["status"].iloc[-1] == "diverged" and len(metrics) < 5  # stopped early
    assert (tmp_path / "model.pt").exists()


def test_the_line_search_probe_records_every_kth_step(tmp_path, data):
    spec = make_spec(epochs=1, probe_every=1, probe_step_sizes=[0.5, 4])
    train(spec, data, tmp_path, CODE, log=lambda s: None)
    probes = pd.read_csv(tmp_path / "probes.csv")
    assert probes["step"].tolist() == [0, 0, 1, 1]
    assert probes["step_size"].tolist() == pytest.approx([0.01, 0.08, 0.01, 0.08])
    # the probe leaves training untouched: same losses as an unprobed run
    train(make_spec(epochs=1), data, tmp_path / "plain", CODE, log=lambda s: None)
    assert (tmp_path / "steps.csv").read_text() == (tmp_path / "plain" / "steps.csv").read_text()


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """The tiny dataset with 3 training images per class held out for validation."""
    from bnlab.data.prepare import prepare

    root = tmp_path_factory.mktemp("validated")
    dataset = {"torchvision": "CIFAR10", "local": "x", "num_classes": 10, "validation_per_class": 3, "seed": 0}
    prepare(dataset, write_npz(root / "src.npz", train_per_class=13, test_per_class=4), root / "d.npz")
    return root / "d.npz"


def test_the_best_epoch_is_chosen_on_validation_and_quoted_with_its_test_accuracy(tmp_path, validated):
    spec = make_spec(model="simple_cnn", epochs=6, lr=0.01, batch_size=10, augmentation="none", width=1.0)
    summary = train(spec, validated, tmp_path, CODE, log=lambda s: None)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    chosen = metrics.loc[metrics["val_acc"].idxmax()]
    assert summary["best_epoch_chosen_on"] == "validation" and summary["best_epoch"] == chosen["epoch"]
    assert summary["test_acc_at_best_epoch"] == chosen["test_acc"]
    assert summary["best_test_acc"] == metrics["test_acc"].max()


def test_plateau_and_center_loss_state_survive_a_kill_and_resume(tmp_path, validated):
    """The plateau's patience counter and the center loss's centres live in the checkpoint."""
    spec = make_spec(
        model="simple_cnn",
        epochs=5,
        lr=0.05,
        batch_size=10,
        augmentation="none",
        width=1.0,
        loss="center",
        schedule="plateau",
        schedule_options={"patience": 0, "metric": "val_acc", "mode": "min"},
    )
    whole = train(spec, validated, tmp_path / "whole", CODE, log=lambda s: None)
    with pytest.raises(Killed):
        train(
            spec,
            validated,
            tmp_path / "killed",
            CODE,
            log=lambda line: (_ for _ in ()).throw(Killed) if line.startswith("epoch   2/") else 0,
        )
    train(spec, validated, tmp_path / "killed", CODE, log=lambda s: None)
    metrics = learning_columns(tmp_path / "whole")
    assert metrics["lr"].nunique() > 1, "the plateau never cut the lr: the test would not see its state"
    assert metrics.equals(learning_columns(tmp_path / "killed"))
    assert whole["status"] == "ok"


def test_cutmix_trains_and_credits_mixed_labels(tmp_path, data):
    spec = make_spec(model="simple_cnn", epochs=1, batch_size=10, augmentation="crop+cutmix", width=1.0)
    summary = train(spec, data, tmp_path, CODE, log=lambda s: None)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert summary["status"] == "ok" and 0 <= metrics["train_acc"].iloc[0] <= 100


def test_a_center_loss_run_re_evaluates_from_its_folder_to_its_reported_test_loss(tmp_path, data):
    """The per-class table and the analyses rebuild model and loss from model.pt: the center loss must come back
    attached to the model, with its trained centres, or its test loss would differ (or fail to compute)."""
    from bnlab.data.prepare import load
    from bnlab.report.per_class import test_evaluation

    spec = make_spec(model="simple_cnn", epochs=2, lr=0.05, batch_size=10, width=1.0, loss="center")
    summary = train(spec, data, tmp_path, CODE, log=lambda s: None)
    evaluation = test_evaluation(tmp_path, load(data), torch.device("cpu"))
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert evaluation.accuracy == summary["final_test_acc"]
    assert evaluation.loss == pytest.approx(metrics["test_loss"].iloc[-1], rel=1e-6)
