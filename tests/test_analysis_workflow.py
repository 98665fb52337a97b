"""The BatchNorm analysis and figure rules on a tiny workflow: a real run, no-op reruns, one figure at a time."""

import copy

import pandas as pd
import pytest

from conftest import TINY_CONFIG, deep_merge, finished_workflow, jobs

TINY_VGG = {"dataset": "tiny", "model": ["vgg_a", "vgg_a_bn"], "width": 0.125, "batch_size": 50,
            "augmentation": "none"}
BN_CONFIG = deep_merge(TINY_CONFIG, {
    "experiments": {
        "tiny": {"enabled": False},
        "bn_landscape": {**TINY_VGG, "optimizer": "adam", "lr": [1e-3, 1e-4], "epochs": 1},
        "bn_probe": {**TINY_VGG, "lr": 0.05, "epochs": 2, "probe_every": 2, "snapshot_epochs": [0, 2]},
    },
    "bn_analysis": {
        "models": ["vgg_a", "vgg_a_bn"],
        "experiments": {"landscape": "bn_landscape", "line_search": "bn_probe", "trained": "bn_probe"},
        "batch_size": 20, "batches": 2,
        "grad_distance": {"points": 3},
        "feature_maps": {"images": 2, "channels": 4},
    },
})
FIGURES = ["bn_loss_landscape", "bn_probe_loss", "bn_gradient_predictiveness", "bn_beta_smoothness",
           "bn_max_grad_diff", "bn_input_smoothness", "bn_activations", "bn_gradient_health", "bn_feature_maps",
           "bn_training_curves"]
TARGETS = ["results/analysis/bn_summary.csv", *(f"results/figures/{f}.png" for f in FIGURES)]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """The tiny BatchNorm study run to its figures."""
    with finished_workflow(tmp_path_factory.mktemp("bn"), BN_CONFIG, *TARGETS) as workflow:
        yield workflow, workflow.sources


def test_every_analysis_writes_its_table_and_every_figure_its_png_and_svg(analysed):
    workflow, _ = analysed
    results = workflow.root / "results"
    for table in ("loss_landscape/bn_landscape", "line_search/bn_probe", "training_curves/bn_probe"):
        assert not pd.read_csv(results / "analysis" / f"{table}.csv").empty
    for analysis in ("grad_distance", "input_smoothness", "activations", "gradient_health"):
        table = pd.read_csv(results / "analysis" / analysis / "bn_probe.csv")
        assert set(table["model"]) == {"vgg_a", "vgg_a_bn"} and "lr" in table
    assert sorted(pd.read_csv(results / "analysis" / "gradient_health" / "bn_probe.csv")["epoch"].unique()) == [0, 2]
    assert (results / "analysis" / "feature_maps" / "bn_probe.npz").exists()
    summary = pd.read_csv(results / "analysis" / "bn_summary.csv")
    assert list(summary.columns) == ["metric", "model", "value"] and len(summary) == 2 * 12
    for figure in FIGURES:
        assert (results / "figures" / f"{figure}.png").stat().st_size > 0
        assert (results / "figures" / f"{figure}.svg").exists()


def test_a_finished_figure_schedules_nothing(analysed):
    workflow, _ = analysed
    assert jobs(workflow.dry_run("results/figures/bn_beta_smoothness.png")) == {}


def test_editing_a_plotting_module_redraws_only_its_figures(analysed):
    workflow, package = analysed
    plot = package / "plots" / "bn" / "gradient_health.py"
    original = plot.read_text()
    try:
        plot.write_text(original + "\n# a restyle\n")
        assert jobs(workflow.dry_run(*TARGETS)) == {"figure_bn_gradient_health": 1}
    finally:
        plot.write_text(original)


def test_deleting_one_figure_rebuilds_only_that_figure(analysed):
    workflow, _ = analysed
    figure = workflow.root / "results" / "figures" / "bn_activations.png"
    figure.unlink()
    assert jobs(workflow.dry_run(*TARGETS)) == {"figure_bn_activations": 1}
    workflow.snakemake("results/figures/bn_activations.png")
    assert figure.exists()
    assert jobs(workflow.dry_run(*TARGETS)) == {}


def test_lint_is_clean_with_the_batchnorm_rules(analysed):
    workflow, _ = analysed
    result = workflow.snakemake("--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_a_compared_model_missing_from_an_experiment_is_a_config_error(tiny_workflow):
    config = copy.deepcopy(BN_CONFIG)
    config["experiments"]["bn_probe"]["model"] = ["vgg_a"]
    tiny_workflow.write_config(config)
    result = tiny_workflow.snakemake("-n", check=False)
    assert result.returncode != 0
    message = "invalid config at bn_analysis.experiments.line_search: experiment 'bn_probe' has no run of vgg_a_bn"
    assert message in result.stdout + result.stderr
