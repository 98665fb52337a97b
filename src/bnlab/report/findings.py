"""The report's interpretive sentences, each written from measured values.

Every function takes the numbers the report's tables hold and returns sentences, so what the
text says (which model trained faster, which landscape is narrower and by what factor) always
matches the tables beside it, at any budget, including when a measurement goes against the paper.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnlab.report.runs import CONVERGENCE_TOLERANCE

CHANCE_MARGIN = 2.0  # a run within this many points of chance accuracy has not learned
CLEAR_DIFFERENCE = 0.5  # accuracy differences below this many points are no clear difference
ACCURACY_METRICS = ("final_train_acc", "final_test_acc", "best_test_acc")
PAPER = "the paper (Santurkar et al., 2018)"

# BatchNorm summary metric -> (what it is, the comparative for the lower value, the direction the
# paper and report 000 find with BatchNorm). Unknown metrics are described by their name.
BN_METRICS = {
    "landscape_band_mean": (
        "loss landscape (course version: band between the lowest and highest training "
        "loss over learning rates, mean over steps)",
        "narrower",
        "lower",
    ),
    "probe_loss_band_mean": (
        "loss landscape along the gradient (paper version: band of line-search losses, mean over probes)",
        "narrower",
        "lower",
    ),
    "grad_predictiveness_mean": ("gradient change along the line search (ℓ2 distance, mean)", "smaller", "lower"),
    "beta_smoothness_mean": ("effective β-smoothness (mean)", "smaller", "lower"),
    "max_grad_diff_at_distance_0.5": ("largest gradient difference at distance 0.5", "smaller", "lower"),
    "mean_max_grad_diff": ("largest gradient difference, mean over distances", "smaller", "lower"),
    "mean_input_gradient_smoothness": ("input-gradient change ratio (mean)", "smaller", "lower"),
    "dead_neuron_ratio_pct": ("share of dead units (activation below threshold)", "smaller", "lower"),
    "never_active_ratio_pct": ("share of units never active on the test set", "smaller", "lower"),
    "vanishing_gradient_pct": ("share of vanishing gradient entries", "smaller", "lower"),
    "exploding_gradient_pct": ("share of exploding gradient entries", "smaller", "lower"),
    "final_test_acc": ("final test accuracy", "lower", "higher"),
}


# The two loss landscapes (the course's and the paper's), which the report's summary quotes.
LANDSCAPE_METRICS = ("landscape_band_mean", "probe_loss_band_mean")


def pct(value: float) -> str:
    return f"{value:.1f}%"


def points(value: float) -> str:
    return f"{value:.1f} point{'' if round(value, 1) == 1 else 's'}"


def join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def untrained(runs: pd.DataFrame, chance: float) -> pd.DataFrame:
    """Runs that finished without diverging yet stayed within CHANCE_MARGIN of chance accuracy."""
    return runs[(runs["status"] != "diverged") & (runs["final_test_acc"] < chance + CHANCE_MARGIN)]


def untrained_models(runs: pd.DataFrame, chance: float | pd.Series) -> set[str]:
    """Models none of whose finished runs left chance accuracy (``chance``: one level, or one per run)."""
    finished = runs["status"] != "diverged"
    stuck = (runs["final_test_acc"] < chance + CHANCE_MARGIN)[finished]
    return set(stuck.groupby(runs.loc[finished, "model"]).all().loc[lambda s: s].index)


def training(runs: pd.DataFrame, chance: float) -> list[str]:
    """What one experiment's runs table says: best and worst run, divergences, runs that never learned."""
    sentences = []
    if len(runs) > 1:
        best, worst = runs.loc[runs["final_test_acc"].idxmax()], runs.loc[runs["final_test_acc"].idxmin()]
        sentences.append(
            f"{best['label']} reached the highest final test accuracy, {pct(best['final_test_acc'])}, "
            f"{points(best['final_test_acc'] - worst['final_test_acc'])} above "
            f"{worst['label']} ({pct(worst['final_test_acc'])})."
        )
    else:
        run = runs.iloc[0]
        sentences.append(
            f"{run['label']} reached {pct(run['final_test_acc'])} final test accuracy "
            f"(best {pct(run['best_test_acc'])}, at epoch {int(run['best_epoch'])})."
        )
    for run in runs[runs["status"] == "diverged"].itertuples():
        sentences.append(
            f"{run.label} diverged: its training loss stopped being finite at step {int(run.diverged_step)}, "
            f"and training stopped after epoch {run.epochs_run} of {run.epochs}."
        )
    stuck = untrained(runs, chance)
    if len(stuck):
        names = join([f"{r.label} ({pct(r.final_test_acc)})" for r in stuck.itertuples()])
        sentences.append(f"{names} stayed at chance: guessing gives {pct(chance)} on this dataset.")
    return sentences


def batchnorm_pairs(models) -> list[tuple[str, str]]:
    """(model, model with BatchNorm) pairs named by the ``<model>_bn`` convention."""
    names = list(dict.fromkeys(models))
    return [(m, f"{m}_bn") for m in names if f"{m}_bn" in names]


def batchnorm_training(runs: pd.DataFrame, chance: float) -> list[str]:
    """Whether the network with BatchNorm trained faster than the same network without it."""
    sentences = []
    by_model = runs.groupby("model")[["first_epoch_test_acc", "final_test_acc"]].mean()
    averaged = " (means over each model's runs)" if runs["model"].duplicated().any() else ""
    stuck = untrained_models(runs, chance)
    for plain, bn in batchnorm_pairs(runs["model"]):
        a, b = by_model.loc[plain], by_model.loc[bn]
        first = (
            f"{bn} reached {pct(b['first_epoch_test_acc'])} test accuracy against "
            f"{pct(a['first_epoch_test_acc'])} for {plain} without BatchNorm"
        )
        if (runs.loc[runs["model"].isin([plain, bn]), "epochs_run"] == 1).all():
            sentences.append(f"After their single epoch, {first}{averaged}.")
        else:
            sentences.append(
                f"After the first epoch, {first}; after the last, {pct(b['final_test_acc'])} against "
                f"{pct(a['final_test_acc'])}{averaged}."
            )
        if {plain, bn} <= stuck:
            sentences.append(
                f"Neither {plain} nor {bn} left chance accuracy at this budget, so this comparison "
                f"says nothing about BatchNorm."
            )
            continue
        lead = b["first_epoch_test_acc"] - a["first_epoch_test_acc"]
        if lead > CLEAR_DIFFERENCE:
            sentences.append(f"BatchNorm trained faster, as {PAPER} and report 000 found.")
        elif lead < -CLEAR_DIFFERENCE:
            sentences.append(
                f"This goes against {PAPER} and report 000: here the network without BatchNorm trained faster."
            )
        else:
            sentences.append(
                f"Neither trained clearly faster (less than {points(CLEAR_DIFFERENCE)} apart after the "
                f"first epoch), unlike in {PAPER}, where BatchNorm trains faster."
            )
        if plain in stuck:
            sentences.append(
                f"{plain} never left chance accuracy at this budget: small budgets can keep a network "
                f"without BatchNorm from training at all, which reverses the paper's comparison."
            )
        elif bn in stuck:
            sentences.append(
                f"{bn} never left chance accuracy at this budget, against {PAPER}, where the network "
                f"with BatchNorm trains readily."
            )
    return sentences


def ratio(low: float, high: float) -> str:
    return "" if low <= 0 else f" ({high / low:.1f}×)"


def diverged_runs(runs: pd.DataFrame) -> dict[str, list[str]]:
    """model -> "<run label> at step <n>" for each of its runs that diverged (a runs table's rows)."""
    out: dict[str, list[str]] = {}
    for run in runs[runs["status"] == "diverged"].itertuples():
        out.setdefault(run.model, []).append(f"{run.label} at step {int(run.diverged_step)}")
    return out


def batchnorm_analyses(
    summary: pd.DataFrame, at_chance: set[str] = frozenset(), diverged: dict[str, list[str]] | None = None
) -> list[str]:
    """One sentence per summary metric and BatchNorm pair: which model is lower, by what factor, and whether
    that agrees with the paper. ``summary``: the BatchNorm summary (metric, model, value); ``at_chance``: the
    models whose analysed runs never left chance accuracy; ``diverged``: what diverged_runs says of them.
    An infinite value (a band over a run that blew up) is named unbounded, with the runs that diverged."""
    sentences = []
    pairs = batchnorm_pairs(summary["model"])
    stuck = [m for pair in pairs for m in pair if m in at_chance]
    if stuck:
        what = (
            "its analyses describe an untrained network"
            if len(stuck) == 1
            else "their analyses describe untrained networks"
        )
        sentences.append(
            f"{join(stuck)} never left chance accuracy at this budget, so {what}; small budgets can "
            f"reverse the BatchNorm effects the paper reports."
        )
    values = summary.groupby(["metric", "model"], sort=False)["value"].mean()
    for metric in summary["metric"].drop_duplicates():
        noun, lower_word, with_bn = BN_METRICS.get(metric, (metric.replace("_", " "), "lower", None))
        for plain, bn in pairs:
            if (metric, plain) not in values or (metric, bn) not in values:
                continue
            a, b = values[(metric, plain)], values[(metric, bn)]
            unbounded = [m for m, v in ((plain, a), (bn, b)) if np.isinf(v)]
            if unbounded:
                where = [r for m in unbounded for r in (diverged or {}).get(m, [])]
                sentences.append(
                    f"The {noun} of {join(unbounded)} is unbounded: a run diverged"
                    + (f" ({join(where)})" if where else "")
                    + ", so no comparison is made."
                )
                continue
            if a == b:
                sentences.append(f"{plain} and {bn} have the same {noun}: {a:.3g}.")
                continue
            (low, lv), (high, hv) = sorted([(plain, a), (bn, b)], key=lambda pair: pair[1])
            sentence = f"{low} has the {lower_word} {noun}: {lv:.3g} against {hv:.3g} for {high}{ratio(lv, hv)}."
            if with_bn is not None:
                agrees = (b < a) == (with_bn == "lower")
                sentence += (
                    " This agrees with the paper."
                    if agrees
                    else f" This goes against {PAPER} and report 000, which find the {with_bn} value with BatchNorm."
                )
            sentences.append(sentence)
    return sentences


def comparison(groups: pd.DataFrame, axis: str) -> list[str]:
    """Which ``axis`` value converged first and which reached the highest accuracy (a comparison table's rows)."""
    if len(groups) < 2:
        return []
    by_speed = groups.sort_values("epochs_to_converge", kind="stable")
    first, last = by_speed.iloc[0], by_speed.iloc[-1]
    fastest = by_speed[by_speed["epochs_to_converge"] == first["epochs_to_converge"]][axis].tolist()
    if first["epochs_to_converge"] == last["epochs_to_converge"]:
        speed = f"Every {axis} converged after {first['epochs_to_converge']:g} epochs"
    else:
        speed = (
            f"{join(fastest)} converged first, within {points(CONVERGENCE_TOLERANCE)} of "
            f"{'its' if len(fastest) == 1 else 'their'} "
            f"best test accuracy after {first['epochs_to_converge']:g} epochs, against "
            f"{last['epochs_to_converge']:g} for {last[axis]}"
        )
    best, worst = groups.loc[groups["final_test_acc"].idxmax()], groups.loc[groups["final_test_acc"].idxmin()]
    sentences = [
        f"{speed}.",
        f"{best[axis]} reached the highest final test accuracy ({pct(best['final_test_acc'])}), "
        f"{points(best['final_test_acc'] - worst['final_test_acc'])} above {worst[axis]} "
        f"({pct(worst['final_test_acc'])}).",
    ]
    diverged = groups[groups["diverged"] > 0]
    if len(diverged):
        sentences.append(f"Runs diverged with {join([f'{r[axis]} ({r.diverged})' for _, r in diverged.iterrows()])}.")
    return sentences


def per_class(accuracy: pd.DataFrame) -> list[str]:
    """The hardest and easiest class over an experiment's runs (the long per-class table)."""
    means = accuracy.groupby("class", sort=False)["accuracy"].mean()
    if means.nunique() < 2:
        return []

    def classes_at(value: float, which: str) -> str:
        tied = [str(c) for c in means.index[means == value]]
        return f"{tied[0]} was the {which} class" if len(tied) == 1 else f"{join(tied)} tied as the {which} classes"

    return [
        f"Averaged over the runs, {classes_at(means.min(), 'hardest')} ({pct(means.min())} test accuracy) "
        f"and {classes_at(means.max(), 'easiest')} ({pct(means.max())})."
    ]


def claims(audit: pd.DataFrame, budget: str, claim_budget: str) -> list[str]:
    """What the claims table adds up to (``bnlab.report.claims.audit`` rows)."""
    status = audit["status"].value_counts()
    counts = [
        f"{status.get(s, 0)} {label}"
        for s, label in (
            ("compared", "compared with this run"),
            ("listed", "listed beside this run's spread"),
            ("not measured", "not measured (their studies are not in this config)"),
            ("flagged", "flagged because their source contradicts itself"),
            ("setting", "settings of the original studies"),
            ("qualitative", "qualitative"),
        )
        if status.get(s, 0)
    ]
    sentences = [f"Of {len(audit)} claims, {join(counts)}."]
    if budget != claim_budget:
        sentences.append(
            f"This run used the {budget} budget and the claims their sources' {claim_budget} budget, "
            f"so lower accuracies are expected; the table's budget column marks every such row."
        )
    accuracy = audit[(audit["status"] == "compared") & audit["metric"].isin(ACCURACY_METRICS)]
    if len(accuracy):
        below = accuracy[accuracy["difference"] < 0]
        sentences.append(
            f"The measured accuracy is below the claim in {len(below)} of {len(accuracy)} comparisons"
            + (
                f", by {points(-below['difference'].max())} to {points(-below['difference'].min())}."
                if len(below)
                else "."
            )
        )
        gap = accuracy.loc[accuracy["difference"].abs().idxmax()]
        claimed = (
            pct(gap["claimed_value"])
            if gap["kind"] == "number"
            else f"{gap['claimed_low']:g}–{pct(gap['claimed_high'])}"
        )
        sentences.append(
            f"The largest gap is {gap['subject']}'s {gap['metric'].replace('_', ' ')} from "
            f"{gap['source'].replace('_', ' ')}: {pct(gap['measured_value'])} measured against "
            f"{claimed} claimed."
        )
    params = audit[(audit["status"] == "compared") & (audit["metric"] == "params")]
    if len(params):
        same = params[params["difference"] == 0]["subject"].tolist()
        other = [f"{r.subject} ({r.difference:+,.0f})" for r in params[params["difference"] != 0].itertuples()]
        sentences.append(
            "At width 1, the parameter count "
            + (f"matches the claim for {join(same)}" if same else "matches no claim")
            + (f" and differs for {join(other)}." if other else ".")
        )
    return sentences
