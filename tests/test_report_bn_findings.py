"""The BatchNorm findings: each names its protocol and runs, whether the gap is resolved over the seeds, and whose
claim it tests, agreeing or not, at this budget; each quirk of report 000's protocol is noted once with its size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnlab.report import findings


def summary(values: dict[tuple[str, str], tuple[float, float, int]]) -> pd.DataFrame:
    """A BatchNorm summary: (metric, model) -> (mean, std, seeds)."""
    return pd.DataFrame(
        [
            {
                "metric": metric,
                "model": model,
                "value": value,
                "std": std,
                "seeds": seeds,
                "protocol": metric.split(".")[0],
                "experiment": "bn_probe" if metric.startswith("paper") else "vgg_family",
            }
            for (metric, model), (value, std, seeds) in values.items()
        ]
    )


def test_a_course_finding_names_report_000_and_its_notebook_never_the_paper():
    metric = "course.mean_input_gradient_smoothness"
    (sentence,) = findings.batchnorm_analyses(
        summary({(metric, "vgg_a"): (2.0, 0.1, 3), (metric, "vgg_a_bn"): (1.0, 0.2, 3)}),
        {metric: {"report_000": "lower", "report_000_notebook": "higher"}},
        budget="full",
    )
    assert sentence.startswith(
        "vgg_a_bn has the smaller gradient smoothness (input-gradient change ratio, mean), with report 000's protocol "
        "on vgg_family: 1 against 2 for vgg_a (2.0×)."
    )
    assert "The gap exceeds twice the larger spread over 3 seeds (0.4)." in sentence
    assert sentence.endswith(
        "At the full budget this agrees with report 000 and goes against report 000's notebook: it reproduces "
        "report 000's direction only."
    )
    assert "the paper" not in sentence


def test_a_gap_within_the_spread_is_not_resolved_and_one_seed_says_so():
    metric = "paper.beta_smoothness_mean"
    claimed = {metric: {"santurkar2018": "lower"}}
    (close,) = findings.batchnorm_analyses(
        summary({(metric, "vgg_a"): (5.0, 1.0, 3), (metric, "vgg_a_bn"): (4.0, 0.5, 3)}), claimed, budget="quick"
    )
    assert "The gap is within twice the larger spread over 3 seeds (2): not resolved." in close
    assert close.endswith("At the quick budget this agrees with the paper: it reproduces its direction.")
    (single,) = findings.batchnorm_analyses(
        summary({(metric, "vgg_a"): (2.0, np.nan, 1), (metric, "vgg_a_bn"): (5.0, np.nan, 1)}), claimed, budget="quick"
    )
    assert "One seed each: the spread of this gap is not measured." in single
    assert single.endswith("At the quick budget this goes against the paper: it does not reproduce its direction.")


def test_a_quantity_no_source_measured_this_way_tests_no_claim():
    metric = "paper.mean_max_grad_diff"
    (sentence,) = findings.batchnorm_analyses(
        summary({(metric, "vgg_a"): (0.3, 0.01, 3), (metric, "vgg_a_bn"): (0.1, 0.01, 3)}), {}, budget="full"
    )
    assert sentence.endswith("No source measured this quantity this way, so it tests no claim.")
    assert "agrees with" not in sentence and "goes against" not in sentence


def test_the_landscape_is_report_000s_finding_and_untrained_models_are_named_first():
    metric = "course.landscape_band_mean"
    sentences = findings.batchnorm_analyses(
        summary({(metric, "vgg_a"): (0.9, 0.01, 3), (metric, "vgg_a_bn"): (0.3, 0.01, 3)}),
        {metric: {"report_000": "lower"}},
        at_chance={"vgg_a"},
        budget="quick",
    )
    assert sentences[0].startswith("vgg_a never left chance accuracy at this budget")
    assert sentences[1].startswith("vgg_a_bn has the narrower loss landscape (course version")
    assert "0.3 against 0.9 for vgg_a (3.0×)" in sentences[1]
    assert sentences[1].endswith("At the quick budget this agrees with report 000: it reproduces its direction.")


def test_each_quirk_is_noted_once_with_every_number_it_changes():
    quirks = pd.DataFrame(
        [
            ("course.mean_max_grad_diff", "running statistics", "batch statistics", "vgg_a", 0.2, 0.2),
            ("course.mean_max_grad_diff", "running statistics", "batch statistics", "vgg_a_bn", 0.1, 0.4),
            ("course.vanishing_gradient_pct", "running statistics", "batch statistics", "vgg_a_bn", 20.0, 10.0),
            ("course.mean_max_grad_diff", "moving along +g", "along -g", "vgg_a", 0.2, 0.2),
        ],
        columns=["metric", "quirk", "instead", "model", "value", "instead_value"],
    )
    sentences = findings.batchnorm_quirks(quirks)
    assert sentences == [
        "Report 000's code: running statistics; the paper's protocol: batch statistics. Replacing only this changes "
        "the largest gradient difference, mean over distances of vgg_a_bn from 0.1 to 0.4 (4.0×) and the share of "
        "vanishing gradient entries of vgg_a_bn from 20 to 10 (2.0×).",
        "Report 000's code: moving along +g; the paper's protocol: along -g. Replacing only this changes none of "
        "report 000's numbers here.",
    ]
