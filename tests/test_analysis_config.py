"""The bn_analysis config section (schema defaults, typos caught) and the figures' opt-in smoothing."""

import copy

import pandas as pd
import pytest

from bnlab.config import validate
from bnlab.errors import ConfigError
from bnlab.plots.bn.common import smoothed, smoothing_note
from conftest import REPO, deep_merge
from test_analysis_workflow import BN_CONFIG

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_bn_analysis_defaults_are_filled_in():
    config = validate(copy.deepcopy(BN_CONFIG), SCHEMA)["bn_analysis"]
    assert config["activations"] == {"dead_threshold": 0.01}
    assert config["grad_distance"] == {"d_max": 1.0, "points": 3}
    assert config["figures"] == {"smooth_steps": 0}  # no smoothing unless asked for


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"grad_distance": {"dmax": 2.0}}, "bn_analysis.grad_distance.dmax: unknown key"),
        ({"experiments": {"probe": "bn_probe"}}, "bn_analysis.experiments.probe: unknown key"),
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
