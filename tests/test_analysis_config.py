"""The bn_analysis config section (schema defaults, typos caught) and the figures' opt-in smoothing."""

import copy

import pandas as pd
import pytest

from bnlab.config import validate
from bnlab.errors import ConfigError
from bnlab.plots.bn.common import smoothed, smoothing_note
from bnlab.report.manifest import build
from conftest import REPO, deep_merge
from test_analysis_workflow import BN_CONFIG

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_bn_analysis_defaults_are_filled_in():
    config = validate(copy.deepcopy(BN_CONFIG), SCHEMA)["bn_analysis"]
    assert config["activations"] == {"dead_threshold": 0.01}
    assert config["grad_distance"] == {"d_max": 1.0, "points": 3}
    assert config["figures"] == {"smooth_steps": 0}  # no smoothing unless asked for
    unset = copy.deepcopy(BN_CONFIG)
    del unset["bn_analysis"]["course"]
    defaults = validate(unset, SCHEMA)["bn_analysis"]["course"]
    assert defaults == {"batches": 50, "activation_batches": 5}  # report 000's steps=50 and num_batches=5


def test_each_protocol_measures_its_own_experiment_and_report_000s_defaults_to_the_trained_one():
    course = deep_merge(BN_CONFIG, {"experiments": {"course_runs": BN_CONFIG["experiments"]["bn_probe"]}})
    course["bn_analysis"]["experiments"]["course"] = "course_runs"
    for config, expected in ((BN_CONFIG, "bn_probe"), (course, "course_runs")):
        jobs = {j["name"]: j for j in build(validate(copy.deepcopy(config), SCHEMA))["bn"]["analyses"]}
        assert jobs["grad_distance_paper"]["path"] == "results/analysis/grad_distance/paper/bn_probe.csv"
        assert jobs["grad_distance_course"]["path"] == f"results/analysis/grad_distance/course/{expected}.csv"
        assert jobs["grad_predictiveness_course"]["run_dirs"][0].startswith(f"results/runs/{expected}/")
        # each job is told its protocol and the batches its protocol reads
        assert jobs["input_smoothness_course"]["options"].startswith("--protocol course --batches 2 ")
        assert jobs["input_smoothness_paper"]["options"].startswith("--protocol paper --noise-std 0.01 --batches 2 ")
        assert "--batches" not in jobs["grad_distance_course"]["options"]  # report 000 reads one batch


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"grad_distance": {"dmax": 2.0}}, "bn_analysis.grad_distance.dmax: unknown key"),
        ({"experiments": {"probe": "bn_probe"}}, "bn_analysis.experiments.probe: unknown key"),
        ({"course": {"steps": 50}}, "bn_analysis.course.steps: unknown key"),
        ({"course": {"batches": 0}}, "bn_analysis.course.batches: 0 is less than the minimum of 1"),
        ({"grad_distance": {"d_max": 0.4}}, "bn_analysis.grad_distance.d_max: 0.4 is less than the minimum of 0.5"),
        ({"models": ["vgg_a", "vgg_z"]}, "bn_analysis.models[1]: 'vgg_z' is not one of"),
    ],
)
def test_bn_analysis_typos_and_bad_values_name_their_key(overrides, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        validate(deep_merge(BN_CONFIG, {"bn_analysis": overrides}), SCHEMA)


def test_smoothing_is_off_by_default_and_named_when_on():
    values = pd.Series([1.0, 3.0, 2.0, 6.0])
    assert smoothed(values, 0) is values and smoothing_note(0) == ""
    assert smoothed(values, 2).tolist() == [1.0, 2.0, 2.5, 4.0]
    assert smoothing_note(2, "steps") == " (rolling mean over 2 steps)"
