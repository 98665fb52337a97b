"""The summary numbers the report quotes, from small hand-made analysis tables, and the run reader feeding them."""

import json

import pandas as pd
import pytest

from bnlab.analysis.bn_summary import METRICS, summary
from bnlab.config import select
from bnlab.errors import AnalysisError, ConfigError, RunFolderError
from bnlab.train.run_folder import read_tables


def tables(model_rows: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """Analysis tables with the given rows for each model."""
    out: dict[str, list] = {}
    for model, rows in model_rows.items():
        for name, frame in rows.items():
            out.setdefault(name, []).append(pd.DataFrame(frame).assign(model=model))
    return {name: pd.concat(frames, ignore_index=True) for name, frames in out.items()}


def model_tables(scale: float) -> dict:
    return {
        "activations": {"units": [10, 30], "dead_units": [1, 3 * scale], "never_active_units": [0, 2]},
        "grad_distance": {
            "distance": [0.0, 1.0, 0.0, 1.0],
            "batch": [0, 0, 1, 1],
            "max_grad_diff": [0.0, 2 * scale, 0.0, 4 * scale],
        },
        "input_smoothness": {"ratio": [1.0, 3.0]},
        "gradient_health": {"numel": [10, 30], "vanishing_frac": [0.1, 0.0], "exploding_frac": [0.0, 0.5]},
        "loss_landscape": {"loss_min": [1.0, 2.0], "loss_max": [1.5, 2.0]},
        "line_search": {"loss_min": [1.0], "loss_max": [1.2], "grad_diff_mean": [0.3], "beta_max": [5.0 * scale]},
        "training_curves": {
            "run": ["r"] * 4,
            "epoch": [1, 1, 2, 2],
            "split": ["train", "test"] * 2,
            "acc": [10.0, 20.0, 30.0, 40.0],
        },
    }


def test_summary_has_one_row_per_metric_and_model_with_the_defined_values():
    result = summary(tables({"vgg_a": model_tables(2.0), "vgg_a_bn": model_tables(1.0)}), ["vgg_a", "vgg_a_bn"])
    assert list(result.columns) == ["metric", "model", "value"]
    assert len(result) == 2 * len(METRICS)
    values = result.set_index(["metric", "model"])["value"]
    assert values["dead_neuron_ratio_pct", "vgg_a"] == pytest.approx(100 * 7 / 40)
    assert values["dead_neuron_ratio_pct", "vgg_a_bn"] == pytest.approx(100 * 4 / 40)
    assert values["never_active_ratio_pct", "vgg_a"] == pytest.approx(5.0)
    assert values["max_grad_diff_at_distance_0.5", "vgg_a"] == pytest.approx(3.0)  # halfway to the mean 6 at d=1
    assert values["mean_max_grad_diff", "vgg_a_bn"] == pytest.approx(1.5)
    assert values["mean_input_gradient_smoothness", "vgg_a"] == 2.0
    assert values["vanishing_gradient_pct", "vgg_a"] == pytest.approx(100 * 1 / 40)
    assert values["exploding_gradient_pct", "vgg_a"] == pytest.approx(100 * 15 / 40)
    assert values["landscape_band_mean", "vgg_a"] == pytest.approx(0.25)
    assert values["probe_loss_band_mean", "vgg_a"] == pytest.approx(0.2)
    assert values["grad_predictiveness_mean", "vgg_a"] == pytest.approx(0.3)
    assert values["beta_smoothness_mean", "vgg_a"] == 10.0
    assert values["final_test_acc", "vgg_a"] == 40.0


def test_summary_refuses_a_model_missing_from_a_table():
    with pytest.raises(AnalysisError, match="no rows for model 'vgg_a_bn'"):
        summary(tables({"vgg_a": model_tables(1.0)}), ["vgg_a", "vgg_a_bn"])


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
