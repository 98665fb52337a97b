"""Bad configs stop before any job, with one line naming the key path (bnlab.config.validate, then check)."""

import copy
import re

import pytest
import yaml

from bnlab import config as study
from bnlab.data.sources import DATA_ROOT_ENV, data_root
from bnlab.errors import ConfigError
from conftest import REPO, TINY_CONFIG, deep_merge

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
TINY_VGG = {"dataset": "tiny", "model": ["vgg_a", "vgg_a_bn"], "width": 0.125, "batch_size": 50, "augmentation": "none"}
# The tiny workflow's config with a multistep schedule, snapshots and a BatchNorm study: valid as it stands.
# train_per_class fixes the training set at 10 classes x 20 = 200 images, so batch counts can be checked.
VALID = deep_merge(
    TINY_CONFIG,
    {
        "datasets": {"tiny": {"train_per_class": 20}},
        "experiments": {
            "tiny": {"schedule": "multistep", "schedule_options": {"milestones": [1, 2]}, "snapshot_epochs": [0, 2]},
            "landscape": {**TINY_VGG, "optimizer": "adam", "lr": [1e-3, 1e-4], "epochs": 1},
            "probe": {**TINY_VGG, "lr": 0.05, "epochs": 2, "probe_every": 2, "snapshot_epochs": [0, 2]},
        },
        "bn_analysis": {
            "models": ["vgg_a", "vgg_a_bn"],
            "experiments": {"landscape": "landscape", "line_search": "probe", "trained": "probe"},
            "batch_size": 20,
            "batches": 2,
            "feature_maps": {"images": 2, "layers": 2},
        },
    },
)


def set_in(path: str, value):
    """A mutation that sets the key at a dotted ``path`` (creating nothing above it)."""
    *parents, last = path.split(".")

    def mutate(config):
        for key in parents:
            config = config[key]
        config[last] = value

    return mutate


def rename(kind: str, old: str, new: str):
    """A mutation that renames an experiment or dataset, and every reference to it."""

    def mutate(config):
        config[kind] = {new if k == old else k: v for k, v in config[kind].items()}
        for experiment in config["experiments"].values():
            if kind == "datasets" and experiment["dataset"] == old:
                experiment["dataset"] = new
        if kind == "experiments" and config.get("bn_analysis"):
            groups = config["bn_analysis"]["experiments"]
            config["bn_analysis"]["experiments"] = {g: new if e == old else e for g, e in groups.items()}

    return mutate


def all_of(*mutations):
    """A mutation that applies ``mutations`` in order."""

    def mutate(config):
        for m in mutations:
            m(config)

    return mutate


@pytest.fixture
def study_folder(tmp_path, monkeypatch):
    """A folder holding the tiny dataset's local copy, as the working directory; no data root from the environment."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tiny.npz").write_bytes(b"")  # the check looks for the copy; it never reads it
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    return tmp_path


def check_as_the_workflow_does(config: dict) -> None:
    """What workflow/rules/common.smk runs at parse time."""
    study.validate(config, SCHEMA)
    study.check(config, data_root(config["data_root"]))


def folder_state(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_the_base_config_passes(study_folder):
    check_as_the_workflow_does(copy.deepcopy(VALID))


BAD = {
    # names: file names and Snakemake wildcards
    "hyphen in an experiment name": (rename("experiments", "probe", "bn-probe"), r"experiments\.bn-probe"),
    "space in an experiment name": (rename("experiments", "tiny", "tiny run"), r"experiments\.tiny run"),
    "dot in a dataset name": (rename("datasets", "tiny", "tiny.v2"), r"datasets\.tiny\.v2"),
    "slash in a dataset name": (rename("datasets", "tiny", "tiny/v2"), r"datasets\.tiny/v2"),
    # schedules and snapshots within the epochs
    "milestone past the last epoch": (
        set_in("experiments.tiny.schedule_options.milestones", [1, 3]),
        r"experiments\.tiny\.schedule_options\.milestones\[1\]: 3 is past",
    ),
    "plateau on validation without a validation split": (
        set_in("experiments.tiny.schedule", "plateau"),
        r"experiments\.tiny\.schedule: plateau watches val_loss, but dataset tiny has no validation split",
    ),
    "cutmix before another augmentation": (
        set_in("experiments.tiny.augmentation", "cutmix+flip"),
        r"experiments\.tiny\.augmentation: augmentation 'cutmix\+flip'",
    ),
    "milestones out of order": (
        set_in("experiments.tiny.schedule_options.milestones", [2, 1]),
        r"experiments\.tiny\.schedule_options\.milestones\[1\]: 1 does not follow 2",
    ),
    "repeated milestone": (
        set_in("experiments.tiny.schedule_options.milestones", [1, 1]),
        r"experiments\.tiny\.schedule_options\.milestones\[1\]",
    ),
    "milestone past a grid point's epochs": (
        set_in("experiments.tiny.grid", [{"model": "simple_cnn", "epochs": 1}, {"model": "vgg_a"}]),
        r"experiments\.tiny\.schedule_options\.milestones\[1\]: 2 is past the last epoch of a 1-epoch run",
    ),
    "milestone past the epochs of a disabled experiment": (
        all_of(set_in("experiments.tiny.enabled", False), set_in("experiments.tiny.schedule_options.milestones", [5])),
        r"experiments\.tiny\.schedule_options\.milestones\[0\]",
    ),
    "step size longer than the run": (
        all_of(
            set_in("experiments.tiny.schedule", "step"), set_in("experiments.tiny.schedule_options", {"step_size": 3})
        ),
        r"experiments\.tiny\.schedule_options\.step_size",
    ),
    "snapshot past the last epoch": (
        set_in("experiments.probe.snapshot_epochs", [0, 3]),
        r"experiments\.probe\.snapshot_epochs\[1\]: 3 is past",
    ),
    # what the optimizer accepts
    "nesterov without momentum": (
        all_of(
            set_in("experiments.tiny.optimizer", "nesterov_sgd"),
            set_in("experiments.tiny.optimizer_options", {"momentum": 0.0}),
        ),
        r"experiments\.tiny\.optimizer_options: nesterov_sgd rejects them",
    ),
    "hand-written nesterov at momentum 1": (
        all_of(
            set_in("experiments.tiny.optimizer", "custom_sgd_nesterov"),
            set_in("experiments.tiny.optimizer_options", {"momentum": 1.0}),
        ),
        r"experiments\.tiny\.optimizer_options: custom_sgd_nesterov rejects them",
    ),
    "zero width": (set_in("experiments.tiny.width", 0), r"experiments\.tiny\.width"),
    "no model in a grid point": (
        set_in("experiments.tiny", {"dataset": "tiny", "grid": [{"lr": 0.1}]}),
        r"experiments\.tiny\.grid\[0\]: no model",
    ),
    # a dataset that exists and can be obtained
    "undefined dataset": (set_in("experiments.tiny.dataset", "mnist"), r"experiments\.tiny\.dataset: 'mnist'"),
    "local copy missing under data_root": (
        set_in("datasets.tiny.local", "absent.npz"),
        r"datasets\.tiny\.local: data/absent\.npz does not exist",
    ),
    "data_root missing altogether": (
        set_in("data_root", "nowhere"),
        r"datasets\.tiny\.local: nowhere/tiny\.npz does not exist",
    ),
    "unknown torchvision download": (
        all_of(set_in("data_root", None), set_in("datasets.tiny.torchvision", "CIFAR11")),
        r"datasets\.tiny\.torchvision: 'CIFAR11'",
    ),
    # a geometry every model can take
    "image size unknown": (
        set_in("datasets.tiny.torchvision", "Imagenette"),
        r"datasets\.tiny\.image_size: unset, and torchvision's Imagenette images have no single size",
    ),
    "unsupported channel count": (set_in("datasets.tiny.channels", 2), r"datasets\.tiny\.channels"),
    "three means for grayscale images": (
        lambda config: (
            set_in("datasets.tiny.torchvision", "FashionMNIST")(config),
            set_in("datasets.tiny.mean", [0.5, 0.5, 0.5])(config),
        ),
        r"datasets\.tiny\.mean: 3 values for images of 1 channel",
    ),
    "two stds for RGB images": (set_in("datasets.tiny.std", [0.5, 0.5]), r"datasets\.tiny\.std: 2 values"),
    "a split without test images": (set_in("datasets.tiny.split", [3, 1, 0]), r"datasets\.tiny\.split"),
    "VGG on 28x28 grayscale": (
        all_of(
            set_in("datasets.tiny.torchvision", "FashionMNIST"),
            set_in("datasets.tiny.mean", [0.5]),
            set_in("datasets.tiny.std", [0.5]),
        ),
        r"experiments\.tiny\.model: vgg_a at width 0\.125 cannot take 28x28 images of 1 channel",
    ),
    "VGG on images too small, named in a grid": (
        all_of(
            set_in("datasets.tiny.image_size", 16),
            set_in("experiments.tiny.grid", [{"model": "simple_cnn"}, {"model": "vgg_a_bn"}]),
        ),
        r"experiments\.tiny\.grid\[1\]\.model: vgg_a_bn at width 0\.125 cannot take 16x16",
    ),
    "LeNet on images too small": (set_in("datasets.tiny.image_size", 8), r"experiments\.tiny\.model: simple_cnn"),
    "a last batch of one for BatchNorm1d": (
        all_of(set_in("experiments.tiny.model", "two_layer_nn"), set_in("experiments.tiny.batch_size", 199)),
        r"experiments\.tiny\.batch_size: 200 training images in batches of 199 leave a last batch of one",
    ),
    # analyses that name runs producing what they read
    "analysis names an absent experiment": (
        set_in("bn_analysis.experiments.trained", "trained"),
        r"bn_analysis\.experiments\.trained: no enabled experiment 'trained'",
    ),
    "analysis names a disabled experiment": (
        set_in("experiments.probe.enabled", False),
        r"bn_analysis\.experiments\.line_search: no enabled experiment 'probe'",
    ),
    "compared model without runs": (
        set_in("experiments.landscape.model", ["vgg_a"]),
        r"bn_analysis\.experiments\.landscape: experiment 'landscape' has no run of vgg_a_bn",
    ),
    "landscape at one learning rate": (
        set_in("experiments.landscape.lr", 1e-3),
        r"bn_analysis\.experiments\.landscape: .* at one learning rate",
    ),
    "line search without probes": (
        set_in("experiments.probe.probe_every", 0),
        r"bn_analysis\.experiments\.line_search: experiment 'probe' does not probe",
    ),
    "gradient health without snapshots": (
        set_in("experiments.probe.snapshot_epochs", []),
        r"bn_analysis\.experiments\.trained: experiment 'probe' keeps no snapshot",
    ),
    "activations of a model without ReLU": (
        all_of(
            set_in("bn_analysis.models", ["vgg_a", "vgg_a_gelu"]),
            set_in("experiments.landscape.model", ["vgg_a", "vgg_a_gelu"]),
            set_in("experiments.probe.model", ["vgg_a", "vgg_a_gelu"]),
        ),
        r"bn_analysis\.models\[1\]: vgg_a_gelu has no nn\.ReLU",
    ),
    "more feature-map layers than ReLU maps": (
        set_in("bn_analysis.feature_maps.layers", 9),
        r"bn_analysis\.feature_maps\.layers: 9 asked for, but vgg_a has 8",
    ),
    "more feature-map images than classes": (
        set_in("bn_analysis.feature_maps.images", 11),
        r"bn_analysis\.feature_maps\.images: 11 images.* has 10 classes",
    ),
    "more analysed images than training images": (
        set_in("bn_analysis.batches", 11),
        r"bn_analysis\.batches: 11 batches of 20 need 220 .* has 200",
    ),
}


@pytest.mark.parametrize("mutate, message", BAD.values(), ids=BAD.keys())
def test_a_bad_config_stops_with_one_line_naming_its_key_path(study_folder, mutate, message):
    config = copy.deepcopy(VALID)
    mutate(config)
    before = folder_state(study_folder)
    with pytest.raises(ConfigError) as error:
        check_as_the_workflow_does(config)
    assert re.match(rf"invalid config at {message}", str(error.value)), str(error.value)
    assert "\n" not in str(error.value)
    assert folder_state(study_folder) == before  # nothing written


def test_only_the_datasets_of_enabled_experiments_need_a_local_copy(study_folder):
    config = copy.deepcopy(VALID)
    config["datasets"]["spare"] = {"torchvision": "CIFAR10", "local": "absent"}
    check_as_the_workflow_does(config)
    config["experiments"]["tiny"]["dataset"] = "spare"
    with pytest.raises(ConfigError, match=r"at datasets\.spare\.local: data/absent does not exist"):
        check_as_the_workflow_does(config)


def test_a_declared_geometry_replaces_the_torchvision_one(study_folder):
    config = copy.deepcopy(VALID)
    config["datasets"]["tiny"].update(torchvision="Imagenette", image_size=32)
    check_as_the_workflow_does(config)  # Imagenette has no size of its own; 32 fits every model
    config["datasets"]["tiny"].update(torchvision="CIFAR10", channels=1, mean=[0.5], std=[0.5])
    check_as_the_workflow_does(config)  # the models take one channel as well as three


def test_milestones_are_checked_only_where_the_schedule_reads_them(study_folder):
    config = copy.deepcopy(VALID)
    config["experiments"]["tiny"].update(schedule="none", schedule_options={"milestones": [20, 25]})
    check_as_the_workflow_does(config)


def test_the_geometry_table_lists_what_the_schema_lets_torchvision_download():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert set(schema["$defs"]["dataset"]["properties"]["torchvision"]["enum"]) == set(study.TORCHVISION_DATASETS)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (rename("experiments", "tiny", "tiny-run"), r"experiments\.tiny-run: the name must match"),
        (
            set_in("experiments.tiny.schedule_options", {"milestones": [3]}),
            r"experiments\.tiny\.schedule_options\.milestones\[0\]: 3 is past the last epoch of a 2-epoch run",
        ),
    ],
    ids=["hyphenated experiment", "milestone past the last epoch"],
)
def test_snakemake_stops_at_parse_time_with_the_one_line_message(tiny_workflow, mutate, message):
    config = copy.deepcopy(TINY_CONFIG)
    config["experiments"]["tiny"]["schedule"] = "multistep"
    mutate(config)
    tiny_workflow.write_config(config)
    result = tiny_workflow.snakemake("-n", check=False)
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "invalid config at" in line]
    assert len(lines) == 1 and re.match(rf"invalid config at {message}", lines[0]), result.stderr[-2000:]
    assert not any((tiny_workflow.root / folder).exists() for folder in ("results", "logs", "benchmarks"))
