"""The claims audit: report/claims.yaml holds the shared facts; each claim is compared, flagged or listed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from bnlab.report import claims

REPO = Path(__file__).resolve().parents[1]
SHARED_CLAIMS = REPO.parent / "shared" / "claims.yaml"


def claim_values(claim: dict) -> list:
    """The numbers or phrases a claim states, however it is structured."""
    for key in ("value", "range", "values"):
        if key in claim:
            value = claim[key]
            return list(value.values()) if isinstance(value, dict) else [value]
    return []


@pytest.mark.skipif(not SHARED_CLAIMS.exists(), reason=f"{SHARED_CLAIMS} is absent")
def test_report_claims_copy_every_shared_fact():
    ours = claims.load(REPO / "report" / "claims.yaml")
    shared = yaml.safe_load(SHARED_CLAIMS.read_text())
    assert ours["sources"] == shared["sources"]
    stated = {(c["source"], repr(v)) for c in ours["claims"] for v in claim_values(c)}
    for claim in shared["claims"]:
        for value in claim_values(claim):
            assert (claim["source"], repr(value)) in stated, claim
    # Every note of the shared list survives, as context or as the contradiction that flags the claim.
    kept = " | ".join(c.get("note", "") + " | " + c.get("contradiction", "") for c in ours["claims"])
    for claim in shared["claims"]:
        assert claim.get("note", "") in kept, claim


def measurements(budget: str = "quick", bn: bool = False) -> claims.Measurements:
    runs = pd.DataFrame(
        [
            {"run": "a", "model": "vgg_a", "optimizer": "sgd", "dataset": "cifar10", "final_test_acc": 31.0},
            {"run": "b", "model": "vgg_a_bn", "optimizer": "sgd", "dataset": "cifar10", "final_test_acc": 35.0},
        ]
    )
    models = pd.DataFrame(
        [
            {"model": "vgg_a", "dataset": "cifar10", "parameters_width_1": 9750922},
            {"model": "vgg_a_bn", "dataset": "cifar10", "parameters_width_1": 9756426},
        ]
    )
    per_class = pd.DataFrame({"run": ["a", "a", "b"], "class": ["cat", "dog", "cat"], "accuracy": [10.0, 50.0, 30.0]})
    summary = pd.DataFrame([{"metric": "dead_neuron_ratio_pct", "model": "vgg_a_bn", "value": 12.5}])
    return claims.Measurements(
        budget=budget,
        runs={"vgg_family": runs},
        models=models,
        per_class={"vgg_family": per_class},
        bn_summary=summary if bn else None,
    )


def audit(*items: dict, **kwargs) -> pd.DataFrame:
    return claims.audit({"budget": "full", "claims": list(items)}, measurements(**kwargs)).set_index("subject")


def test_a_number_is_compared_and_the_budget_difference_said():
    row = audit(
        {"source": "s", "experiment": "vgg_family", "model": "vgg_a", "metric": "final_test_acc", "value": 86.43}
    ).loc["vgg_a"]
    assert (row["status"], row["measured_value"], row["budget"]) == ("compared", 31.0, "quick (claim: full)")
    assert row["difference"] == pytest.approx(31.0 - 86.43)
    assert (
        audit(
            {"source": "s", "experiment": "vgg_family", "model": "vgg_a", "metric": "final_test_acc", "value": 86.43},
            budget="full",
        ).loc["vgg_a", "budget"]
        == "full"
    )


def test_a_contradicting_claim_is_flagged_not_compared():
    row = audit(
        {
            "source": "s",
            "experiment": "vgg_family",
            "model": "vgg_a",
            "metric": "params",
            "value": 9231114,
            "contradiction": "the text describes another head",
        }
    ).loc["vgg_a"]
    assert row["status"] == "flagged"
    assert pd.isna(row["difference"])
    assert row["measured_value"] == 9750922  # what this run has is still shown
    assert row["note"] == "contradicts itself: the text describes another head"
    shown = claims.view(
        claims.audit(
            {
                "budget": "full",
                "claims": [
                    {
                        "source": "s",
                        "experiment": "vgg_family",
                        "model": "vgg_a",
                        "metric": "params",
                        "value": 9231114,
                        "contradiction": "x",
                    }
                ],
            },
            measurements(),
        )
    )
    assert shown.loc[0, "claimed"] == "⚑ flagged"
    assert "9231114" not in shown.to_string() and "9,231,114" not in shown.to_string()


def test_claims_of_studies_not_run_are_listed_as_not_measured():
    frame = audit(
        {"source": "s", "experiment": "optimizers", "optimizer": "adam", "metric": "final_test_acc", "value": 88.8},
        {
            "source": "s",
            "experiment": "bn_analysis",
            "model": "vgg_a",
            "metric": "dead_neuron_ratio_pct",
            "value": 45.2,
        },
    )
    assert list(frame["status"]) == ["not measured", "not measured"]
    assert frame.loc["adam", "note"] == "the config has no experiment optimizers"
    assert frame.loc["vgg_a", "note"] == "the config runs no BatchNorm analyses"
    assert list(claims.view(frame.reset_index())["measured"]) == ["not measured", "not measured"]


def test_batchnorm_claims_read_the_bn_summary():
    row = audit(
        {
            "source": "s",
            "experiment": "bn_analysis",
            "model": "vgg_a_bn",
            "metric": "dead_neuron_ratio_pct",
            "value": 18.7,
        },
        bn=True,
    ).loc["vgg_a_bn"]
    assert (row["status"], row["measured_value"]) == ("compared", 12.5)
    assert row["difference"] == pytest.approx(12.5 - 18.7)


def test_a_range_is_compared_by_the_distance_from_it():
    frame = audit(
        {"source": "s", "experiment": "vgg_family", "model": "vgg_a", "metric": "final_test_acc", "range": [30, 40]},
        {"source": "s", "experiment": "vgg_family", "model": "vgg_a_bn", "metric": "final_test_acc", "range": [40, 50]},
    )
    assert frame.loc["vgg_a", "difference"] == 0
    assert frame.loc["vgg_a_bn", "difference"] == -5
    assert claims.view(frame.reset_index())["claimed"].tolist() == ["30.00–40.00", "40.00–50.00"]


def test_spreads_settings_and_phrases_are_listed_not_compared():
    frame = audit(
        {
            "source": "s",
            "experiment": "vgg_family",
            "model": "vgg_a",
            "metric": "per_class_test_acc",
            "values": [54.17, 89.17, 85.0],
        },
        {
            "source": "s",
            "experiment": "landscape",
            "metric": "learning_rates",
            "values": [0.001, 0.05],
            "setting": True,
        },
        {
            "source": "s",
            "experiment": "softmax_bug",
            "metric": "doubled_softmax",
            "value": "training loss soon stops decreasing",
        },
    ).reset_index()
    assert frame["status"].tolist() == ["listed", "setting", "qualitative"]
    assert (frame.loc[0, "measured_low"], frame.loc[0, "measured_high"]) == (10.0, 50.0)
    assert frame["difference"].isna().all()
    assert claims.view(frame)["claimed"].tolist() == [
        "54.17–89.17",
        "[0.001, 0.05]",
        "training loss soon stops decreasing",
    ]
