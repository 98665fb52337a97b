from pathlib import Path

import pytest
import yaml

from bnlab import config as study
from bnlab.errors import ConfigError
from bnlab.registry import MODELS
from conftest import deep_merge

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def base_config():
    return {
        "datasets": {"cifar10": {"torchvision": "CIFAR10", "local": "cifar10"}},
        "experiments": {"e": {"dataset": "cifar10", "model": ["vgg_a", "vgg_a_bn"], "lr": [0.1, 0.01]}},
    }


def error_of(config) -> str:
    with pytest.raises(ConfigError) as info:
        study.validate(config, SCHEMA)
    return str(info.value)


@pytest.mark.parametrize(
    "mutate, path, words",
    [
        (lambda c: c["experiments"]["e"].update(modle="vgg_a"), "experiments.e.modle", "unknown key"),
        (lambda c: c.update(colour="red"), "colour", "unknown key"),
        (lambda c: c["experiments"]["e"].update(model=["vgg_a", "vgg_z"]), "experiments.e.model[1]", "'vgg_z'"),
        (lambda c: c["experiments"]["e"].update(model="vgg_z"), "experiments.e.model", "'vgg_z'"),
        (lambda c: c["experiments"]["e"].update(optimizer="adagrad"), "experiments.e.optimizer", "'adagrad'"),
        (lambda c: c["experiments"]["e"].update(dataset="mnist"), "experiments.e.dataset", "'mnist'"),
        (lambda c: c["experiments"]["e"].update(lr=[0.1, 0]), "experiments.e.lr[1]", "0"),
        (lambda c: c["experiments"]["e"].update(lr=-1), "experiments.e.lr", "-1"),
        (lambda c: c["experiments"]["e"].update(augmentation="crop+blur"), "experiments.e.augmentation", "crop+blur"),
        (lambda c: c["datasets"]["cifar10"].update(torchvision="CIFAR11"), "datasets.cifar10.torchvision", "CIFAR11"),
    ],
)
def test_bad_config_stops_with_one_line_naming_the_key_path(mutate, path, words):
    config = base_config()
    mutate(config)
    message = error_of(config)
    assert "\n" not in message
    assert f"at {path}:" in message
    assert words in message


def test_the_shipped_configs_are_valid_and_expand():
    full = yaml.safe_load((REPO / "config.yaml").read_text())
    quick = yaml.safe_load((REPO / "workflow" / "profiles" / "quick" / "budget.yaml").read_text())
    for config in (full, deep_merge(full, quick)):
        study.validate(config, SCHEMA)
        study.check(config, None)  # as downloaded with torchvision
        assert study.expand(config)


def test_validation_fills_defaults_and_expansion_is_the_grid():
    config = study.validate(base_config(), SCHEMA)
    runs = study.expand(config)
    assert [(r["model"], r["lr"]) for r in runs] == [
        ("vgg_a", 0.1),
        ("vgg_a", 0.01),
        ("vgg_a_bn", 0.1),
        ("vgg_a_bn", 0.01),
    ]
    assert runs[0]["optimizer"] == "sgd" and runs[0]["epochs"] == 30 and runs[0]["batch_size"] == 128
    assert runs[0]["run"] == "vgg_a-sgd-lr0.1-none-crop+flip-ce-w1-e30-b128-s0"
    assert len({r["run"] for r in runs}) == 4


def test_sub_grids_are_unioned_and_override_experiment_axes():
    config = base_config()
    config["experiments"]["e"] = {
        "dataset": "cifar10",
        "lr": 0.5,
        "grid": [{"model": "vgg_a", "lr": 0.01}, {"model": ["vgg_a_bn", "vgg_a_gelu"]}],
    }
    runs = study.expand(study.validate(config, SCHEMA))
    assert [(r["model"], r["lr"]) for r in runs] == [("vgg_a", 0.01), ("vgg_a_bn", 0.5), ("vgg_a_gelu", 0.5)]


def test_an_experiment_without_a_model_is_named():
    config = base_config()
    config["experiments"]["e"] = {"dataset": "cifar10", "grid": [{"lr": 0.1}]}
    with pytest.raises(ConfigError, match=r"experiments\.e\.grid\[0\]: no model"):
        study.expand(study.validate(config, SCHEMA))


def test_disabled_experiments_have_no_runs():
    config = base_config()
    config["experiments"]["e"]["enabled"] = False
    assert study.expand(study.validate(config, SCHEMA)) == []


def test_schema_enums_follow_the_registry():
    @MODELS.register("test_only_model")
    def test_only_model(**shape):
        """registered by a test"""

    try:
        config = base_config()
        config["experiments"]["e"]["model"] = "test_only_model"
        study.validate(config, SCHEMA)  # accepted without touching the schema file
    finally:
        del MODELS._entries["test_only_model"]
    assert "test_only_model" in error_of(config)
