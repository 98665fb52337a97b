"""Divergence is never hidden: non-finite losses make bands unbounded, and the findings say which run blew up."""

import numpy as np
import pandas as pd

from bnlab.analysis.landscape import loss_band
from bnlab.analysis.probe_bands import probe_bands
from bnlab.report.findings import batchnorm_analyses, diverged_runs


def steps(model: str, lr: float, losses: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"model": model, "lr": lr, "seed": 0, "step": range(len(losses)), "epoch": 1, "loss": losses})


def test_a_learning_rate_that_blows_up_makes_the_band_unbounded_from_that_step_on():
    # lr 1.0 turns NaN at step 1 and stops there (the trainer records no later step); lr 0.1 trains on.
    table = pd.concat([steps("m", 0.1, [2.0, 1.5, 1.2, 1.0]), steps("m", 1.0, [2.1, np.nan])])
    band = loss_band(table).set_index("step")
    assert band.loc[0, "loss_max"] == 2.1 and band.loc[0, "diverged"] == 0
    assert np.isinf(band.loc[[1, 2, 3], "loss_max"]).all()  # a dropped NaN would make these look narrower
    assert band.loc[[1, 2, 3], "diverged"].tolist() == [1, 1, 1]
    assert band.loc[[1, 2, 3], "loss_min"].tolist() == [1.5, 1.2, 1.0]
    assert band.loc[3, "lrs"] == 1


def test_an_infinite_loss_counts_like_nan_and_other_models_are_untouched():
    table = pd.concat([steps("m", 0.1, [2.0, 1.5]), steps("m", 1.0, [2.1, np.inf]), steps("other", 0.1, [3.0, 2.0])])
    band = loss_band(table).set_index(["model", "step"])
    assert np.isinf(band.loc[("m", 1), "loss_max"])
    assert band.loc[("other", 1), "loss_max"] == 2.0 and band.loc[("other", 1), "diverged"] == 0


def test_a_step_size_that_blows_up_makes_the_probe_maxima_infinite():
    probes = pd.DataFrame(
        {
            "model": "m",
            "lr": 0.1,
            "run": "r",
            "seed": 0,
            "step": [0, 0, 5, 5],
            "epoch": 1,
            "step_size": [0.05, 0.4, 0.05, 0.4],
            "loss": [2.0, 3.0, 1.0, np.nan],
            "loss_at_w": [2.1, 2.1, 1.1, 1.1],
            "grad_norm": 1.0,
            "grad_diff": [0.1, 0.2, 0.1, np.nan],
            "beta": [1.0, 2.0, 1.0, np.inf],
        }
    )
    bands = probe_bands(probes).set_index("step")
    assert bands.loc[0, ["loss_max", "grad_diff_max", "beta_max"]].tolist() == [3.0, 0.2, 2.0]
    assert np.isinf(bands.loc[5, ["loss_max", "grad_diff_mean", "grad_diff_max", "beta_max"]].astype(float)).all()
    assert bands.loc[5, "step_sizes"] == 1 and bands.loc[5, "loss_min"] == 1.0


def test_an_unbounded_metric_is_named_with_the_run_and_step_never_ranked_as_smoother():
    summary = pd.DataFrame(
        {"metric": ["landscape_band_mean"] * 2, "model": ["vgg_a", "vgg_a_bn"], "value": [np.inf, 0.4]}
    )
    runs = pd.DataFrame(
        {
            "model": ["vgg_a", "vgg_a", "vgg_a_bn"],
            "label": ["vgg_a lr 1", "vgg_a lr 0.1", "vgg_a_bn"],
            "status": ["diverged", "ok", "ok"],
            "diverged_step": [17, None, None],
        }
    )
    (sentence,) = batchnorm_analyses(summary, diverged=diverged_runs(runs))
    assert "unbounded" in sentence and "vgg_a lr 1 at step 17" in sentence
    assert "lower" not in sentence and "agrees" not in sentence
