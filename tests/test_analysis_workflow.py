"""The BatchNorm study on a tiny workflow run to its report: analyses of both protocols, figures, no-op reruns, one
figure at a time, a diverged run carried through to the report, and every job's code hash covering what the job
imported. The config names no `course` experiment, so report 000's protocol measures the `trained` one's runs."""

import copy
import re
import shlex

import numpy as np
import pandas as pd
import pytest

from bnlab import provenance
from bnlab.analysis.bn_summary import METRICS
from bnlab.registry import MODELS
from bnlab.train.components import load_all
from conftest import TINY_CONFIG, deep_merge, finished_workflow, jobs

TINY_VGG = {"dataset": "tiny", "model": ["vgg_a", "vgg_a_bn"], "width": 0.125, "batch_size": 50, "augmentation": "none"}
BN_CONFIG = deep_merge(
    TINY_CONFIG,
    {
        "experiments": {
            "tiny": {"enabled": False},
            # lr 1e6 blows plain VGG-A up within its first steps: the band must become unbounded, not narrower.
            "bn_landscape": {**TINY_VGG, "optimizer": "sgd", "lr": [0.05, 1e6], "epochs": 1},
            "bn_probe": {
                **TINY_VGG,
                "lr": 0.05,
                "epochs": 2,
                "seed": [0, 1],
                "probe_every": 2,
                "snapshot_epochs": [0, 2],
            },
        },
        "bn_analysis": {
            "models": ["vgg_a", "vgg_a_bn"],
            "experiments": {"landscape": "bn_landscape", "line_search": "bn_probe", "trained": "bn_probe"},
            "batch_size": 20,
            "batches": 2,
            "grad_distance": {"points": 3},
            "feature_maps": {"images": 2, "channels": 4},
            "course": {"batches": 2, "activation_batches": 1},
        },
    },
)
FIGURES = [
    "bn_loss_landscape",
    "bn_gradient_predictiveness",
    "bn_beta_smoothness",
    "bn_max_grad_diff",
    "bn_input_smoothness",
    "bn_activations",
    "bn_gradient_health",
    "bn_feature_maps",
    "bn_training_curves",
]
TARGETS = ["results/analysis/bn_summary.csv", *(f"results/figures/{f}.png" for f in FIGURES)]
TRAINED_MODEL_ANALYSES = ("grad_distance", "input_smoothness", "activations", "gradient_health")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """The tiny BatchNorm study run to its report, printing each job's command and logging its imports."""
    with finished_workflow(
        tmp_path_factory.mktemp("bn"), BN_CONFIG, "--printshellcmds", env={"PYTHONPROFILEIMPORTTIME": "1"}
    ) as workflow:
        yield workflow, workflow.sources


def job_commands(output: str) -> list[list[str]]:
    """Each `bnlab ...` command Snakemake printed, as words."""
    prefix = "Shell command: "
    return [
        shlex.split(line.strip().removeprefix(prefix))
        for line in output.splitlines()
        if line.strip().startswith(prefix + "bnlab ")
    ]


def test_every_jobs_code_hash_covers_every_bnlab_module_the_job_imported(analysed):
    """The import trace (python -X importtime, in each job's log) against bnlab.provenance's derivation."""
    workflow, _ = analysed
    load_all()
    commands = job_commands(workflow.first_run.stdout + workflow.first_run.stderr)
    verbs = set()
    for words in commands:
        verb = " ".join(w for w in words[1 : words.index(next(w for w in words if w.startswith("--")))])
        log = workflow.root / words[words.index(">") + 1]
        loaded = set(re.findall(r"^import time:.*\|\s+(bnlab(?:\.\w+)*)$", log.read_text(), re.M))
        assert loaded, f"no import trace in {log}"
        covered = {
            ".".join(p.relative_to(provenance.ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
            for p in provenance.code_files(verb, MODELS.names())
        }
        # CLI modules are loaded to build the parser; the verb's own function in them is hashed as source.
        missing = {m for m in loaded - covered if not provenance.is_cli(m)}
        assert not missing, f"`bnlab {verb}` imported {sorted(missing)} outside its code hash"
        verbs.add(verb.split()[0] if verb.startswith(("analyse", "report", "figure")) else verb)
    assert {"prepare", "train", "analyse", "report", "figure"} <= verbs


def test_a_diverged_run_makes_its_band_unbounded_and_the_report_names_it(analysed):
    workflow, _ = analysed
    results = workflow.root / "results"
    runs = pd.read_csv(results / "tables" / "runs_bn_landscape.csv")
    diverged = runs[runs["status"] == "diverged"]
    assert "vgg_a" in set(diverged["model"]), "the tiny config's lr 1e6 should blow plain VGG-A up"
    step = int(diverged.loc[diverged["model"] == "vgg_a", "diverged_step"].iloc[0])
    band = pd.read_csv(results / "analysis" / "loss_landscape" / "course" / "bn_landscape.csv")
    plain = band[band["model"] == "vgg_a"]
    assert np.isinf(plain.loc[plain["step"] >= step, "loss_max"]).all()
    assert np.isfinite(plain.loc[plain["step"] < step, "loss_max"]).all()
    summary = pd.read_csv(results / "analysis" / "bn_summary.csv").set_index(["metric", "model"])["value"]
    assert np.isinf(summary[("course.landscape_band_mean", "vgg_a")])
    report = (results / "report" / "report.md").read_text()
    label = diverged.loc[diverged["model"] == "vgg_a", "label"].iloc[0]
    assert f"{label} at step {step}" in report and "unbounded" in report


def test_every_analysis_writes_its_table_of_each_protocol_and_every_figure_its_png_and_svg(analysed):
    workflow, _ = analysed
    results = workflow.root / "results" / "analysis"
    for table in ("loss_landscape/course/bn_landscape", "line_search/paper/bn_probe", "training_curves/paper/bn_probe"):
        assert not pd.read_csv(results / f"{table}.csv").empty
    for analysis in TRAINED_MODEL_ANALYSES:
        for protocol in ("paper", "course"):
            table = pd.read_csv(results / analysis / protocol / "bn_probe.csv")
            assert set(table["model"]) == {"vgg_a", "vgg_a_bn"} and set(table["seed"]) == {0, 1}
            assert set(table["protocol"]) == {protocol} and "lr" in table
    predictiveness = pd.read_csv(results / "grad_predictiveness" / "course" / "bn_probe.csv")
    # report 000's protocol, then each quirk replaced by the paper's choice, on the same batches
    assert set(predictiveness["variant"]) == {"as specified", "batch statistics", "descent (along -g)"}
    assert len(predictiveness) == 2 * 2 * 3 * 2  # models x seeds x variants x batches
    distance = pd.read_csv(results / "grad_distance" / "course" / "bn_probe.csv")
    assert sorted(distance["distance"].unique()) == pytest.approx([0.5 * k / 9 for k in range(1, 10)])
    assert set(distance["batch"]) == {0}  # report 000 reads one batch
    assert sorted(pd.read_csv(results / "gradient_health" / "paper" / "bn_probe.csv")["epoch"].unique()) == [0, 2]
    assert (results / "feature_maps" / "paper" / "bn_probe.npz").exists()
    summary = pd.read_csv(results / "bn_summary.csv")
    assert list(summary.columns) == ["metric", "model", "value", "std", "seeds", "protocol", "experiment"]
    assert len(summary) == 2 * len(METRICS) and set(summary["seeds"]) == {1, 2}  # the landscape has one seed
    assert set(summary.loc[summary["protocol"] == "course", "experiment"]) == {"bn_landscape", "bn_probe"}
    quirks = pd.read_csv(results / "bn_quirks.csv")
    unchanged = quirks[(quirks["model"] == "vgg_a") & (quirks["instead"] == "batch statistics")]
    assert len(unchanged) and (unchanged["value"] == unchanged["instead_value"]).all()  # vgg_a has no BatchNorm
    for figure in FIGURES:
        assert (workflow.root / "results" / "figures" / f"{figure}.png").stat().st_size > 0
        assert (workflow.root / "results" / "figures" / f"{figure}.svg").exists()
    report = (workflow.root / "results" / "report" / "report.md").read_text()
    assert "### The paper's protocol" in report and "### Report 000's protocol" in report
    assert "Report 000's code: BatchNorm with running statistics (model.eval())" in report


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
