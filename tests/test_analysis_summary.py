"""The summary numbers the report quotes, from small hand-made analysis tables, and the run reader feeding them."""

import json

import pandas as pd
import pytest

from bnlab.analysis.bn_summary import METRICS, TABLES, quirks, summary
from bnlab.config import select
from bnlab.errors import AnalysisError, ConfigError, RunFolderError
from bnlab.train.run_folder import read_tables


def tables(model_rows: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """Analysis tables with the given rows for each model (seed 0)."""
    out: dict[str, list] = {}
    for model, rows in model_rows.items():
        for name, frame in rows.items():
            out.setdefault(name, []).append(pd.DataFrame(frame).assign(model=model, seed=0))
    return {name: pd.concat(frames, ignore_index=True) for name, frames in out.items()}


def course(frame: dict) -> dict:
    return {**frame, "variant": "as specified"}


def model_tables(scale: float) -> dict:
    distance = {
        "distance": [0.0, 1.0, 0.0, 1.0],
        "batch": [0, 0, 1, 1],
        "max_grad_diff": [0.0, 2 * scale, 0.0, 4 * scale],
    }
    health = {"numel": [10, 30], "vanishing_frac": [0.1, 0.0], "exploding_frac": [0.0, 0.5]}
    return {
        "activations.paper": {"units": [10, 30], "dead_units": [1, 3 * scale], "never_active_units": [0, 2]},
        "activations.course": course({"dead_frac": [0.1, 0.3 * scale]}),
        "grad_distance.paper": distance,
        "grad_distance.course": course(distance),
        "grad_predictiveness.course": course({"grad_diff": [1.0, 2.0 * scale], "grad_diff_global": [0.5, 1.0]}),
        "input_smoothness.paper": {"ratio": [1.0, 3.0]},
        "input_smoothness.course": course({"ratio": [0.5, 1.5], "ratio_paper_definition": [8.0, 8.0]}),
        "gradient_health.paper": health,
        "gradient_health.course": course(health),
        "loss_landscape.course": {"loss_min": [1.0, 2.0], "loss_max": [1.5, 2.0]},
        "line_search.paper": {"loss_min": [1.0], "loss_max": [1.2], "grad_diff_mean": [0.3], "beta_max": [5.0 * scale]},
        "training_curves.paper": {
            "run": ["r"] * 4,
            "epoch": [1, 1, 2, 2],
            "split": ["train", "test"] * 2,
            "acc": [10.0, 20.0, 30.0, 40.0],
        },
    }


EXPERIMENTS = {name: "e" for name in TABLES}


def test_summary_has_one_row_per_metric_and_model_with_the_defined_values():
    result = summary(
        tables({"vgg_a": model_tables(2.0), "vgg_a_bn": model_tables(1.0)}), ["vgg_a", "vgg_a_bn"], EXPERIMENTS
    )
    assert list(result.columns) == ["metric", "model", "value", "std", "seeds", "protocol", "experiment"]
    assert len(result) == 2 * len(METRICS)
    assert (result["protocol"] == result["metric"].str.split(".").str[0]).all()
    values = result.set_index(["metric", "model"])["value"]
    assert values["paper.dead_neuron_ratio_pct", "vgg_a"] == pytest.approx(100 * 7 / 40)  # pooled over ReLUs
    assert values["paper.dead_neuron_ratio_pct", "vgg_a_bn"] == pytest.approx(100 * 4 / 40)
    assert values["course.dead_neuron_ratio_pct", "vgg_a"] == pytest.approx(100 * (0.1 + 0.6) / 2)  # mean of layers
    assert values["paper.never_active_ratio_pct", "vgg_a"] == pytest.approx(5.0)
    assert values["paper.max_grad_diff_at_distance_0.5", "vgg_a"] == pytest.approx(3.0)  # halfway to the mean 6 at d=1
    assert values["paper.mean_max_grad_diff", "vgg_a_bn"] == pytest.approx(1.5)
    assert values["course.grad_predictiveness_mean", "vgg_a"] == pytest.approx(2.5)
    assert values["paper.mean_input_gradient_smoothness", "vgg_a"] == 2.0
    assert values["course.mean_input_gradient_smoothness", "vgg_a"] == 1.0
    assert values["paper.vanishing_gradient_pct", "vgg_a"] == pytest.approx(100 * 1 / 40)  # weighted by size
    assert values["course.vanishing_gradient_pct", "vgg_a"] == pytest.approx(100 * 0.1 / 2)  # mean over tensors
    assert values["paper.exploding_gradient_pct", "vgg_a"] == pytest.approx(100 * 15 / 40)
    assert values["course.landscape_band_mean", "vgg_a"] == pytest.approx(0.25)
    assert values["paper.probe_loss_band_mean", "vgg_a"] == pytest.approx(0.2)
    assert values["paper.grad_predictiveness_mean", "vgg_a"] == pytest.approx(0.3)
    assert values["paper.beta_smoothness_mean", "vgg_a"] == 10.0
    assert values["paper.final_test_acc", "vgg_a"] == 40.0


def test_the_summary_is_a_mean_over_seeds_with_their_spread():
    seeds = [
        pd.DataFrame({"model": "vgg_a", "seed": seed, "variant": "as specified", "ratio": ratios})
        for seed, ratios in ((0, [1.0, 3.0]), (1, [4.0, 6.0]), (2, [7.0, 9.0]))
    ]
    frames = tables({"vgg_a": model_tables(1.0)})
    frames["input_smoothness.course"] = pd.concat(seeds).assign(ratio_paper_definition=1.0)
    row = summary(frames, ["vgg_a"], EXPERIMENTS).set_index("metric").loc["course.mean_input_gradient_smoothness"]
    # per seed 2, 5, 8: mean 5, sample std 3
    assert (row["value"], row["std"], row["seeds"]) == (pytest.approx(5.0), pytest.approx(3.0), 3)


def test_the_quirk_table_gives_each_quirks_number_beside_the_specified_one():
    frames = tables({"vgg_a_bn": model_tables(1.0)})
    specified = frames["grad_distance.course"]
    frames["grad_distance.course"] = pd.concat(
        [specified]
        + [
            specified.assign(variant=variant, max_grad_diff=factor * specified["max_grad_diff"])
            for variant, factor in (("batch statistics", 10), ("one global norm", 2), ("descent (along -g)", 3))
        ]
    )
    for name in ("grad_predictiveness.course", "input_smoothness.course", "gradient_health.course"):
        frames[name] = pd.concat(
            [
                frames[name],
                frames[name].assign(variant="batch statistics"),
                frames[name].assign(variant="descent (along -g)"),
            ]
        )
    found = quirks(frames, ["vgg_a_bn"]).set_index(["metric", "instead"])
    assert found.loc[("course.mean_max_grad_diff", "one global norm"), "instead_value"] == pytest.approx(3.0)
    row = found.loc[("course.mean_max_grad_diff", "batch statistics")]
    assert (row["value"], row["instead_value"]) == (pytest.approx(1.5), pytest.approx(15.0))
    assert row["quirk"] == "BatchNorm with running statistics (model.eval())"
    smoothness = found.loc[("course.mean_input_gradient_smoothness", "the summed loss's over the whole noise's norm")]
    assert smoothness["instead_value"] == 8.0
    frames["grad_distance.course"] = specified
    with pytest.raises(AnalysisError, match="no rows for model 'vgg_a_bn' \\(batch statistics\\)"):
        quirks(frames, ["vgg_a_bn"], {"course.mean_max_grad_diff": METRICS["course.mean_max_grad_diff"]})


def test_summary_refuses_a_model_missing_from_a_table():
    with pytest.raises(AnalysisError, match="no rows for model 'vgg_a_bn'"):
        summary(tables({"vgg_a": model_tables(1.0)}), ["vgg_a", "vgg_a_bn"], EXPERIMENTS)


def test_read_tables_tags_rows_with_the_runs_model_and_base_lr(tmp_path):
    for model, lr in (("vgg_a", 0.1), ("vgg_a_bn", 0.01)):
        run = tmp_path / model
        run.mkdir()
        (run / "run.json").write_text(json.dumps({"model": model, "lr": lr, "run": f"{model}-run"}))
        pd.DataFrame({"step": [0, 1], "epoch": 1, "lr": lr / 10, "loss": [2.3, 2.2]}).to_csv(
            run / "steps.csv", index=False
        )
    steps = read_tables([tmp_path / "vgg_a", tmp_path / "vgg_a_bn"], "steps.csv")
    assert list(steps.columns) == ["model", "lr", "run", "step", "epoch", "scheduled_lr", "loss"]
    assert steps[["model", "lr"]].drop_duplicates().values.tolist() == [["vgg_a", 0.1], ["vgg_a_bn", 0.01]]
    with pytest.raises(RunFolderError, match="no probes.csv"):
        read_tables([tmp_path / "vgg_a"], "probes.csv")


def test_select_names_the_config_key_of_a_missing_experiment_or_model():
    specs = [{"experiment": "e", "model": "vgg_a"}, {"experiment": "e", "model": "simple_cnn"}]
    assert select(specs, "e", ["vgg_a"], "k") == specs[:1]
    with pytest.raises(ConfigError, match="at k: no enabled experiment 'f'"):
        select(specs, "f", ["vgg_a"], "k")
    with pytest.raises(ConfigError, match="at k: experiment 'e' has no run of vgg_a_bn"):
        select(specs, "e", ["vgg_a", "vgg_a_bn"], "k")
