"""The claims audit: report/claims.yaml holds the shared facts; each claim is compared like for like, flagged or
listed, with a report's text and its notebook side by side."""

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
            {"run": "c", "model": "vgg_a_bn", "optimizer": "sgd", "dataset": "cifar10", "final_test_acc": 37.0},
        ]
    )
    models = pd.DataFrame(
        [
            {"model": "vgg_a", "dataset": "cifar10", "parameters_width_1": 9750922},
            {"model": "vgg_a_bn", "dataset": "cifar10", "parameters_width_1": 9756426},
        ]
    )
    per_class = pd.DataFrame({"run": ["a", "a", "b"], "class": ["cat", "dog", "cat"], "accuracy": [10.0, 50.0, 30.0]})
    summary = pd.DataFrame(
        [
            {"metric": metric, "model": model, "value": value, "std": 0.5, "seeds": 3, "protocol": p, "experiment": e}
            for metric, p, e, model, value in (
                ("course.dead_neuron_ratio_pct", "course", "vgg_family", "vgg_a_bn", 12.5),
                ("course.dead_neuron_ratio_pct", "course", "vgg_family", "vgg_a", 30.0),
                ("paper.dead_neuron_ratio_pct", "paper", "bn_probe", "vgg_a_bn", 2.0),
                ("paper.dead_neuron_ratio_pct", "paper", "bn_probe", "vgg_a", 1.0),
                ("paper.final_test_acc", "paper", "bn_probe", "vgg_a_bn", 35.0),
                ("paper.final_test_acc", "paper", "bn_probe", "vgg_a", 31.0),
            )
        ]
    )
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
    assert shown.loc[0, "report text"] == "⚑ flagged"
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
    assert list(claims.view(frame.reset_index())["this run"]) == ["not measured", "not measured"]


def test_batchnorm_claims_read_the_bn_summary_of_their_own_protocol():
    claim = {"source": "s", "experiment": "bn_analysis", "model": "vgg_a_bn", "metric": "dead_neuron_ratio_pct"}
    course = audit({**claim, "protocol": "course", "value": 18.7}, bn=True).loc["vgg_a_bn"]
    assert (course["status"], course["measured_value"], course["measured_std"]) == ("compared", 12.5, 0.5)
    assert course["difference"] == pytest.approx(12.5 - 18.7)
    assert course["measured_with"] == "course protocol on vgg_family: vgg_a_bn (3 seeds)"
    paper = audit({**claim, "protocol": "paper", "value": 18.7}, bn=True).loc["vgg_a_bn"]
    assert paper["measured_value"] == 2.0 and paper["measured_with"].startswith("paper protocol on bn_probe")


def test_a_claim_without_a_like_for_like_measurement_says_so_and_shows_no_difference():
    row = audit(
        {
            "source": "s",
            "experiment": "vgg_family",
            "model": "vgg_a",
            "metric": "final_test_acc",
            "value": 80.0,
            "unlike": "the source trained another network",
        }
    ).loc["vgg_a"]
    assert row["status"] == "no like-for-like"
    assert pd.isna(row["measured_value"]) and pd.isna(row["difference"])
    assert row["note"] == "no like-for-like measurement: the source trained another network"


def test_the_text_and_its_notebook_share_a_row_and_a_disagreement_is_flagged_as_a_self_contradiction():
    text = {"source": "report_x", "experiment": "vgg_family", "model": "vgg_a_bn", "metric": "final_test_acc"}
    notebook = {**text, "source": "report_x_notebook"}
    frame = claims.audit(
        {
            "budget": "full",
            "claims": [
                {**text, "value": 89.5},
                {**text, "model": "vgg_a", "value": 86.0},
                {**notebook, "value": 81.0},
                {**notebook, "model": "vgg_a", "value": 86.0},
                {**notebook, "model": "vgg_a", "metric": "best_test_acc", "value": 87.0},
            ],
        },
        measurements(),
    )
    assert len(frame) == 3
    bn, plain, notebook_only = (r for _, r in frame.iterrows())
    assert (bn["source"], bn["claimed_value"], bn["notebook_value"], bn["status"]) == (
        "report_x",
        89.5,
        81.0,
        "flagged",
    )
    assert bn["note"].startswith("contradicts itself: its text and its notebook's output disagree")
    assert bn["measured_value"] == 36.0 and bn["measured_runs"] == 2  # the mean over the two runs of vgg_a_bn
    assert (bn["difference"], bn["notebook_difference"]) == (pytest.approx(36.0 - 89.5), pytest.approx(36.0 - 81.0))
    assert (plain["status"], plain["claimed_value"], plain["notebook_value"]) == ("compared", 86.0, 86.0)
    assert pd.isna(notebook_only["claimed_value"]) and notebook_only["notebook_value"] == 87.0
    shown = claims.view(frame)
    assert shown.loc[0, ["report text", "its notebook"]].tolist() == ["⚑ 89.50", "81.00"]
    assert shown.loc[0, "this run"] == "36.00 ± 1.414"
    assert shown.loc[0, "difference"] == "−53.50 vs text, −45.00 vs notebook"


def test_a_claimed_direction_is_compared_by_the_direction_this_run_measured():
    claim = {"source": "s", "experiment": "bn_analysis", "metric": "dead_neuron_ratio_pct", "direction": "lower"}
    course, paper = (audit({**claim, "protocol": protocol}, bn=True).iloc[0] for protocol in ("course", "paper"))
    assert course["measured_text"] == "lower with BatchNorm (12.5 against 30)"
    assert paper["measured_text"] == "higher with BatchNorm (2 against 1)"
    frame = claims.audit(
        {"budget": "full", "claims": [{**claim, "protocol": "course"}, {**claim, "protocol": "paper"}]},
        measurements(bn=True),
    )
    assert claims.view(frame)["difference"].tolist() == ["same direction", "other direction"]


def test_directions_come_from_claimed_directions_and_claimed_pairs_measured_the_same_way():
    bn = {"source": "report_000", "experiment": "bn_analysis", "metric": "dead_neuron_ratio_pct"}
    found = claims.directions(
        {
            "claims": [
                {**bn, "protocol": "course", "model": "vgg_a", "value": 45.2},
                {**bn, "protocol": "course", "model": "vgg_a_bn", "value": 18.7},
                {**bn, "source": "report_000_notebook", "protocol": "course", "model": "vgg_a", "value": 9.0},
                {**bn, "source": "report_000_notebook", "protocol": "course", "model": "vgg_a_bn", "value": 20.0},
                {**bn, "source": "santurkar2018", "protocol": "paper", "direction": "lower"},
                # an accuracy names the experiment it is compared with: here the paper protocol's trained runs
                {
                    "source": "santurkar2018",
                    "experiment": "bn_probe",
                    "model": "vgg_a",
                    "metric": "final_test_acc",
                    "value": 88,
                },
                {
                    "source": "santurkar2018",
                    "experiment": "bn_probe",
                    "model": "vgg_a_bn",
                    "metric": "final_test_acc",
                    "value": 92,
                },
                {"source": "x", "experiment": "vgg_family", "model": "vgg_a", "metric": "final_test_acc", "value": 1},
                {
                    "source": "x",
                    "experiment": "vgg_family",
                    "model": "vgg_a_bn",
                    "metric": "final_test_acc",
                    "value": 2,
                },
                {**bn, "source": "y", "protocol": "course", "model": "vgg_a", "value": 1, "contradiction": "z"},
                {**bn, "source": "y", "protocol": "course", "model": "vgg_a_bn", "value": 2},
            ]
        },
        measurements(bn=True).bn_summary,
    )
    assert found == {
        "course.dead_neuron_ratio_pct": {"report_000": "lower", "report_000_notebook": "higher"},
        "paper.dead_neuron_ratio_pct": {"santurkar2018": "lower"},
        "paper.final_test_acc": {"santurkar2018": "higher"},
    }


def test_every_batchnorm_claim_names_its_protocol_and_every_bn_paper_accuracy_a_paper_like_experiment():
    listed = claims.load(REPO / "report" / "claims.yaml")["claims"]
    assert all(c.get("protocol") in ("paper", "course") for c in listed if c["experiment"] == "bn_analysis")
    paper = [c for c in listed if c["source"] == "santurkar2018" and c["metric"] == "final_test_acc"]
    assert {c["experiment"] for c in paper} == {"bn_paper", "bn_probe"}  # the paper's recipe, never report 000's


def test_a_range_is_compared_by_the_distance_from_it():
    frame = audit(
        {"source": "s", "experiment": "vgg_family", "model": "vgg_a", "metric": "final_test_acc", "range": [30, 40]},
        {"source": "s", "experiment": "vgg_family", "model": "vgg_a_bn", "metric": "final_test_acc", "range": [40, 50]},
    )
    assert frame.loc["vgg_a", "difference"] == 0
    assert frame.loc["vgg_a_bn", "difference"] == -4  # the mean 36 of its two runs, 4 below the range
    assert claims.view(frame.reset_index())["report text"].tolist() == ["30.00–40.00", "40.00–50.00"]


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
    assert claims.view(frame)["report text"].tolist() == [
        "54.17–89.17",
        "[0.001, 0.05]",
        "training loss soon stops decreasing",
    ]
