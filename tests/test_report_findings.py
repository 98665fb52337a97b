"""The report's interpretive sentences follow the numbers they are given, whichever way those point."""

from __future__ import annotations

import pandas as pd
import pytest

from bnlab.report import findings


def runs(*rows: dict) -> pd.DataFrame:
    """A runs table (bnlab.report.runs.summarize) with only the columns the findings read."""
    defaults = {"status": "ok", "diverged_step": None, "epochs_run": 2, "epochs": 2, "best_epoch": 2}
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    frame["label"] = frame["model"]
    frame["best_test_acc"] = frame.get("best_test_acc", frame["final_test_acc"])
    return frame


def summary(values: dict[tuple[str, str], float]) -> pd.DataFrame:
    return pd.DataFrame([{"metric": m, "model": model, "value": v} for (m, model), v in values.items()])


def test_training_names_best_and_worst_run_with_their_gap():
    sentences = findings.training(
        runs({"model": "vgg_a", "final_test_acc": 61.25}, {"model": "vgg_a_bn", "final_test_acc": 70.0}), chance=10.0
    )
    assert sentences == ["vgg_a_bn reached the highest final test accuracy, 70.0%, 8.8 points above vgg_a (61.2%)."]


def test_training_marks_diverged_runs_and_runs_at_chance():
    sentences = findings.training(
        runs(
            {"model": "vgg_a", "final_test_acc": 10.4},
            {"model": "vgg_a_bn", "final_test_acc": 50.0},
            {"model": "vgg_a_gelu", "final_test_acc": 10.0, "status": "diverged", "diverged_step": 37, "epochs_run": 1},
        ),
        chance=10.0,
    )
    assert (
        "vgg_a_gelu diverged: its training loss stopped being finite at step 37, "
        "and training stopped after epoch 1 of 2." in sentences
    )
    # The diverged run is reported as diverged, not as "stayed at chance".
    assert sentences[-1] == "vgg_a (10.4%) stayed at chance: guessing gives 10.0% on this dataset."


def test_batchnorm_training_says_which_trained_faster_either_way():
    faster = findings.batchnorm_training(
        runs(
            {"model": "vgg_a", "first_epoch_test_acc": 20.0, "final_test_acc": 40.0},
            {"model": "vgg_a_bn", "first_epoch_test_acc": 35.0, "final_test_acc": 50.0},
        ),
        chance=10.0,
    )
    assert faster[0] == (
        "After the first epoch, vgg_a_bn reached 35.0% test accuracy against 20.0% for vgg_a "
        "without BatchNorm; after the last, 50.0% against 40.0%."
    )
    assert faster[1].startswith("BatchNorm trained faster")

    slower = findings.batchnorm_training(
        runs(
            {"model": "vgg_a", "first_epoch_test_acc": 35.0, "final_test_acc": 50.0},
            {"model": "vgg_a_bn", "first_epoch_test_acc": 20.0, "final_test_acc": 40.0},
        ),
        chance=10.0,
    )
    assert slower[1].startswith("This goes against the paper")


def test_batchnorm_training_after_a_single_epoch_quotes_it_once():
    sentences = findings.batchnorm_training(
        runs(
            {"model": "vgg_a", "first_epoch_test_acc": 36.0, "final_test_acc": 36.0, "epochs_run": 1},
            {"model": "vgg_a_bn", "first_epoch_test_acc": 47.0, "final_test_acc": 47.0, "epochs_run": 1},
            {"model": "vgg_a_bn", "first_epoch_test_acc": 49.0, "final_test_acc": 49.0, "epochs_run": 1},
        ),
        chance=10.0,
    )
    assert sentences[0] == (
        "After their single epoch, vgg_a_bn reached 48.0% test accuracy against 36.0% for vgg_a "
        "without BatchNorm (means over each model's runs)."
    )


def test_batchnorm_training_says_plainly_when_the_plain_network_never_trained():
    sentences = findings.batchnorm_training(
        runs(
            {"model": "vgg_a", "first_epoch_test_acc": 10.0, "final_test_acc": 10.0},
            {"model": "vgg_a_bn", "first_epoch_test_acc": 30.0, "final_test_acc": 45.0},
        ),
        chance=10.0,
    )
    assert sentences[-1].startswith("vgg_a never left chance accuracy at this budget")


def test_batchnorm_training_does_not_blame_either_network_when_both_stayed_at_chance():
    sentences = findings.batchnorm_training(
        runs(
            {"model": "vgg_a", "first_epoch_test_acc": 10.0, "final_test_acc": 10.0},
            {"model": "vgg_a_bn", "first_epoch_test_acc": 11.0, "final_test_acc": 10.4},
        ),
        chance=10.0,
    )
    # No verdict on speed from two networks at chance.
    assert sentences[1:] == [
        "Neither vgg_a nor vgg_a_bn left chance accuracy at this budget, so this comparison "
        "says nothing about BatchNorm."
    ]


def test_a_model_is_untrained_only_when_every_finished_run_of_it_is():
    frame = runs(
        {"model": "vgg_a", "final_test_acc": 10.0},
        {"model": "vgg_a", "final_test_acc": 40.0},
        {"model": "vgg_a_bn", "final_test_acc": 10.0},
        {"model": "vgg_a_bn", "final_test_acc": 10.0, "status": "diverged", "diverged_step": 3},
        {"model": "simple_cnn", "final_test_acc": 10.0, "status": "diverged", "diverged_step": 3},
    )
    assert findings.untrained_models(frame, chance=10.0) == {"vgg_a_bn"}


def test_comparison_names_first_to_converge_and_most_accurate():
    groups = pd.DataFrame(
        {
            "optimizer": ["sgd", "adam", "adamw"],
            "runs": [1, 1, 1],
            "final_test_acc": [89.2, 88.8, 89.6],
            "epochs_to_converge": [15.0, 12.0, 13.0],
            "epochs": [15, 15, 15],
            "diverged": [0, 0, 1],
        }
    )
    sentences = findings.comparison(groups, "optimizer")
    assert sentences[0] == (
        "adam converged first, within 1.0 point of its best test accuracy after 12 epochs, against 15 for sgd."
    )
    assert sentences[1] == (
        "adamw reached the highest final test accuracy (89.6%), 0.8 points above adam (88.8%); one seed each, "
        "so the spread of this gap is not measured."
    )
    assert sentences[2] == "Runs diverged with adamw (1)."


def test_after_one_epoch_convergence_is_said_to_be_unmeasured_not_reached():
    groups = pd.DataFrame(
        {
            "optimizer": ["sgd", "adam"],
            "runs": [1, 1],
            "final_test_acc": [26.2, 31.1],
            "epochs_to_converge": [1.0, 1.0],
            "epochs": [1, 1],
            "diverged": [0, 0],
        }
    )
    assert findings.comparison(groups, "optimizer")[0] == (
        "One epoch each: how fast each optimizer converges is not measured at this budget."
    )


@pytest.mark.parametrize(
    "stds, verdict",
    [
        ((0.1, 0.3), "a gap larger than twice the spread over seeds (0.6 points)"),
        ((0.5, 0.2), "a gap within twice the spread over seeds (1.0 point): not resolved"),
    ],
)
def test_a_ranking_says_whether_its_gap_exceeds_the_spread_over_seeds(stds, verdict):
    groups = pd.DataFrame(
        {
            "optimizer": ["sgd", "adam"],
            "runs": [3, 3],
            "final_test_acc": [89.0, 88.2],
            "final_test_acc_std": list(stds),
            "epochs_to_converge": [5.0, 5.0],
            "epochs": [5, 5],
            "diverged": [0, 0],
        }
    )
    assert verdict in findings.comparison(groups, "optimizer")[1]


def test_per_class_reports_ties_as_ties():
    accuracy = pd.DataFrame(
        {"class": ["cat", "dog", "ship", "cat", "dog", "ship"], "accuracy": [0.0, 0.0, 80.0, 0.0, 0.0, 60.0]}
    )
    assert findings.per_class(accuracy) == [
        "Averaged over the runs, cat and dog tied as the hardest classes "
        "(0.0% test accuracy) and ship was the easiest class (70.0%)."
    ]


@pytest.mark.parametrize("budget", ["quick", "full"])
def test_claims_summary_counts_statuses_and_marks_budget(budget):
    audit = pd.DataFrame(
        [
            {
                "status": "compared",
                "metric": "final_test_acc",
                "kind": "number",
                "subject": "vgg_a",
                "source": "report_000",
                "claimed_value": 86.43,
                "measured_value": 31.22,
                "difference": -55.21,
            },
            {
                "status": "compared",
                "metric": "params",
                "kind": "number",
                "subject": "vgg_a_bn",
                "source": "report_000",
                "claimed_value": 9233418,
                "measured_value": 9756426,
                "difference": 523008,
            },
            {
                "status": "not measured",
                "metric": "final_test_acc",
                "kind": "number",
                "subject": "adam",
                "source": "report_000",
                "claimed_value": 88.8,
                "measured_value": None,
                "difference": None,
            },
            {
                "status": "flagged",
                "metric": "params",
                "kind": "number",
                "subject": "vgg_a",
                "source": "report_000",
                "claimed_value": None,
                "measured_value": 9750922,
                "difference": None,
            },
        ]
    )
    sentences = findings.claims(audit, budget, "full")
    assert sentences[0] == (
        "Of 4 claims, 2 compared with this run, 1 not measured (their studies are not in this "
        "config) and 1 flagged because their source contradicts itself."
    )
    assert any(s.startswith("This run used the quick budget") for s in sentences) == (budget == "quick")
    assert "The measured accuracy is below the claim in 1 of 1 comparisons, by 55.2 points to 55.2 points." in sentences
    assert sentences[-1] == "At width 1, the parameter count matches no claim and differs for vgg_a_bn (+523,008)."


def test_the_double_softmax_explanation_comes_from_the_measured_gradients():
    runs = pd.DataFrame(
        {
            "loss": ["ce", "double_softmax", "own_softmax_nll"],
            "first_epoch_output_grad_norm": [0.8, 0.1, 0.8],
            "first_epoch_loss_drop": [1.2, 0.01, 1.2],
            "final_test_acc": [82.0, 60.0, 82.5],
        }
    )
    first, fixed = findings.double_softmax(runs)
    assert "averaged 0.1 over the first epoch, against 0.8 for the correct loss: 8.0× smaller" in first
    assert "fell by 0.01 in that epoch against 1.2" in first
    assert "ended at 82.5%, 0.5 points above the correct training" in fixed
    assert findings.double_softmax(runs[runs["loss"] != "double_softmax"]) == []
