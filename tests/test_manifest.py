"""The manifest (bnlab.report.manifest): every figure, table and notebook the report stage makes, from the config."""

import copy

import pytest

from bnlab import config as study
from bnlab.plots.figures import FIGURES
from bnlab.report.manifest import BN_FIGURES, build
from conftest import REPO, TINY_CONFIG, deep_merge

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def manifest_of(config: dict) -> dict:
    return build(study.validate(copy.deepcopy(config), SCHEMA))


def test_each_experiment_gets_its_tables_figures_and_notebook_and_each_dataset_its_gallery():
    config = deep_merge(
        TINY_CONFIG,
        {"experiments": {"second": {"dataset": "tiny", "model": "simple_cnn", "optimizer": ["sgd", "adam"]}}},
    )
    manifest = manifest_of(config)
    names = [f["name"] for f in manifest["figures"]]
    assert names == [
        "augmentation_tiny",
        "training_tiny",
        "per_class_tiny",
        "confusion_tiny",
        "training_second",
        "per_class_second",
        "confusion_second",
    ]
    assert manifest["notebooks"] == ["results/notebooks/tiny.ipynb", "results/notebooks/second.ipynb"]
    # Only an axis that varies within an experiment makes a comparison table.
    assert manifest["experiments"]["tiny"]["comparisons"] == {}
    assert manifest["experiments"]["second"]["comparisons"] == {
        "optimizer": "results/tables/compare_second_optimizer.md"
    }
    assert "results/tables/compare_second_optimizer.md" in manifest["all_tables"]


def test_a_figure_names_its_kind_inputs_and_only_the_options_its_kind_takes():
    manifest = manifest_of(TINY_CONFIG)
    figures = {f["name"]: f for f in manifest["figures"]}
    gallery, training = figures["augmentation_tiny"], figures["training_tiny"]
    assert gallery["kind"] == "augmentations" and gallery["options"] == "--augmentations flip"
    assert training["inputs"] == ["results/tables/runs_tiny.csv", "results/data/tiny.npz"]
    assert len(training["depends"]) == 2 * 2  # metrics.csv and steps.csv of each of its two runs
    assert "lr_range_tiny" not in figures  # only an experiment with an lr_range_test key has one
    for figure in manifest["figures"]:
        kind = FIGURES[figure["kind"]]
        assert len(figure["inputs"]) == len(kind.inputs)
        given = {word[2:] for word in figure["options"].split() if word.startswith("--")}
        assert given <= set(kind.options)


def test_the_batchnorm_figures_appear_exactly_when_the_config_runs_the_analyses():
    assert manifest_of(TINY_CONFIG)["bn"] is None
    from test_analysis_workflow import BN_CONFIG

    manifest = manifest_of(BN_CONFIG)
    bn = [f for f in manifest["figures"] if f["category"] == "BatchNorm"]
    assert [f["name"] for f in bn] == list(BN_FIGURES)
    assert manifest["bn"]["figures"] == [f["path"] for f in bn]
    smoothing = {f["name"]: f["options"] for f in bn}
    assert smoothing["bn_loss_landscape"] == "--smooth 0" and smoothing["bn_feature_maps"] == "--channels 4"
    assert smoothing["bn_max_grad_diff"] == ""


@pytest.mark.parametrize("config", [TINY_CONFIG], ids=["tiny"])
def test_every_caption_the_manifest_names_exists(config):
    for figure in manifest_of(config)["figures"]:
        assert (REPO / figure["caption"]).is_file(), figure["caption"]


def test_an_experiment_with_a_range_test_gets_its_table_and_figure():
    config = deep_merge(TINY_CONFIG, {"experiments": {"tiny": {"lr_range_test": {"models": ["vgg_a"]}}}})
    manifest = manifest_of(config)
    figure = next(f for f in manifest["figures"] if f["name"] == "lr_range_tiny")
    assert figure["kind"] == "lr-range" and figure["inputs"] == ["results/analysis/lr_range/tiny.csv"]
    assert manifest["experiments"]["tiny"]["lr_range"] == "results/analysis/lr_range/tiny.csv"


@pytest.mark.parametrize("budget", [[], ["workflow/profiles/quick/budget.yaml"]], ids=["full", "quick"])
def test_every_figure_command_of_the_real_config_parses_with_its_titles_whole(budget):
    """The rule pastes ``options`` into a shell command: a title with spaces must reach the parser as one value."""
    import shlex

    from bnlab.cli import parser
    from bnlab.config import load_files

    figures = build(load_files([REPO / "config.yaml", *(REPO / b for b in budget)], SCHEMA))["figures"]
    titled = [f for f in figures if "--title" in f["options"]]
    assert any(" " in shlex.split(f["options"])[1] for f in titled)  # e.g. "vgg_family: learning-rate range test"
    for figure in figures:
        words = ["figure", figure["kind"], "--input", *figure["inputs"], "--out", "x.png"]
        args = parser(words).parse_args(words + shlex.split(figure["options"]))
        if figure in titled:
            assert args.title == shlex.split(figure["options"])[1]
