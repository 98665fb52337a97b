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

# BatchNorm summary metric (``<protocol>.<quantity>``, bnlab.analysis.bn_summary) -> (what it is, the comparative
# for the lower value). Unknown metrics are described by their name.
BN_METRICS = {
    "paper.final_test_acc": ("final test accuracy", "lower"),
    "paper.probe_loss_band_mean": (
        "loss landscape along the gradient (the paper's: band of line-search losses over step sizes, mean over probes)",
        "narrower",
    ),
    "paper.grad_predictiveness_mean": (
        "gradient predictiveness (the paper's: l2 gradient change along the line search, mean)",
        "smaller",
    ),
    "paper.beta_smoothness_mean": ("effective β-smoothness (mean)", "smaller"),
    "paper.max_grad_diff_at_distance_0.5": ("largest gradient difference at distance 0.5", "smaller"),
    "paper.mean_max_grad_diff": ("largest gradient difference, mean over distances", "smaller"),
    "paper.mean_input_gradient_smoothness": ("input-gradient change ratio (mean)", "smaller"),
    "paper.dead_neuron_ratio_pct": ("share of dead ReLU units (mean activation below threshold)", "smaller"),
    "paper.never_active_ratio_pct": ("share of ReLU units never active on the test set", "smaller"),
    "paper.vanishing_gradient_pct": ("share of vanishing gradient entries", "smaller"),
    "paper.exploding_gradient_pct": ("share of exploding gradient entries", "smaller"),
    "course.landscape_band_mean": (
        "loss landscape (course version: band between the lowest and highest training loss over learning rates, "
        "mean over steps)",
        "narrower",
    ),
    "course.max_grad_diff_at_distance_0.5": ("largest gradient difference at distance 0.5", "smaller"),
    "course.mean_max_grad_diff": ("largest gradient difference, mean over distances", "smaller"),
    "course.grad_predictiveness_mean": (
        "gradient predictiveness (report 000's: sum over tensors of the gradient change after a step of 0.1 g)",
        "smaller",
    ),
    "course.mean_input_gradient_smoothness": ("gradient smoothness (input-gradient change ratio, mean)", "smaller"),
    "course.dead_neuron_ratio_pct": ("share of near-zero layer outputs (|a| < 0.01)", "smaller"),
    "course.vanishing_gradient_pct": ("share of vanishing gradient entries", "smaller"),
    "course.exploding_gradient_pct": ("share of exploding gradient entries", "smaller"),
}
# Each protocol as the findings name it, and what it does (bnlab.analysis.protocols).
PROTOCOL_NAMES = {"paper": "the paper's protocol", "course": "report 000's protocol"}
PROTOCOL_DESCRIPTIONS = {
    "paper": "Santurkar et al.'s definitions on runs of the paper's recipe: BatchNorm normalising by the batch's "
    "own statistics, as in training; moves along -g, the direction of a gradient step, normalised by one norm over "
    "all parameters; the line search along training for the landscape, gradient predictiveness and β-smoothness.",
    "course": "report 000's code as its text gives it, quirks included, on runs of report 000's recipe: "
    "model.eval() (BatchNorm normalising by its running statistics); moves along +g with each parameter tensor "
    "normalised by its own norm; batches of its training loader; the band of the training loss over its learning "
    "rates for the landscape.",
}
# Whose claims the BatchNorm findings test, by source key (report/claims.yaml).
SOURCE_NAMES = {
    "santurkar2018": "the paper",
    "report_000": "report 000",
    "report_000_notebook": "report 000's notebook",
}
# The two loss landscapes (report 000's and the paper's), which the report's summary quotes.
LANDSCAPE_METRICS = ("course.landscape_band_mean", "paper.probe_loss_band_mean")
# A gap between two means over seeds is resolved when it exceeds this many times the larger standard deviation.
SPREADS_TO_RESOLVE = 2


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


def lr_range(table: pd.DataFrame, runs: pd.DataFrame) -> list[str]:
    """What the learning-rate range test suggests for each model, beside the rate the experiment trains it at."""
    sentences = []
    for model, rows in table.groupby("model", sort=False):
        trained = ", ".join(f"{lr:g}" for lr in sorted(runs.loc[runs["model"] == model, "lr"].unique()))
        sentences.append(
            f"The learning-rate range test suggests {rows['suggested_lr'].iloc[0]:.2g} for {model} (a tenth of the "
            f"rate of its lowest smoothed loss); this experiment trains it at {trained}."
        )
    return sentences


def double_softmax(runs: pd.DataFrame) -> list[str]:
    """Why report 004's doubled softmax stalls, from this run's measurements: the output layer's gradient norm and
    the training loss's fall over the first epoch, against the correct training (``ce``) and the fix."""
    losses = runs.groupby("loss")[["first_epoch_output_grad_norm", "first_epoch_loss_drop", "final_test_acc"]].mean()
    if not {"ce", "double_softmax"} <= set(losses.index):
        return []
    correct, doubled = losses.loc["ce"], losses.loc["double_softmax"]
    ratio = correct["first_epoch_output_grad_norm"] / doubled["first_epoch_output_grad_norm"]
    sentences = [
        f"With the doubled softmax the gradient reaching the output layer averaged "
        f"{doubled['first_epoch_output_grad_norm']:.3g} over the first epoch, against "
        f"{correct['first_epoch_output_grad_norm']:.3g} for the correct loss: {ratio:.1f}× smaller. The second softmax "
        f"acts on probabilities in [0, 1], so its output stays close to uniform and passes back only a damped "
        f"gradient: the training loss fell by {doubled['first_epoch_loss_drop']:.3g} in that epoch against "
        f"{correct['first_epoch_loss_drop']:.3g}, and the run ended at {pct(doubled['final_test_acc'])} test accuracy "
        f"against {pct(correct['final_test_acc'])}."
    ]
    if "own_softmax_nll" in losses.index:
        fixed = losses.loc["own_softmax_nll"]
        gap = fixed["final_test_acc"] - correct["final_test_acc"]
        sentences.append(
            f"The fix (the model's own loss on its own probabilities) ended at {pct(fixed['final_test_acc'])}, "
            f"{points(abs(gap))} {'above' if gap >= 0 else 'below'} the correct training."
        )
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


def gap_resolution(a: pd.Series, b: pd.Series) -> str:
    """Whether the gap between two summary rows (value, std, seeds) exceeds SPREADS_TO_RESOLVE times their larger
    standard deviation over seeds."""
    if min(a["seeds"], b["seeds"]) < 2:
        return "One seed each: the spread of this gap is not measured."
    spread = SPREADS_TO_RESOLVE * max(a["std"], b["std"])
    seeds = int(min(a["seeds"], b["seeds"]))
    if abs(b["value"] - a["value"]) > spread:
        return f"The gap exceeds twice the larger spread over {seeds} seeds ({spread:.3g})."
    return f"The gap is within twice the larger spread over {seeds} seeds ({spread:.3g}): not resolved."


def whose(found: str, claimed: dict[str, str], budget: str | None) -> str:
    """Which sources' direction with BatchNorm (``claimed``: source -> lower/higher) this run's ``found`` one
    reproduces, at ``budget``."""
    if not claimed:
        return "No source measured this quantity this way, so it tests no claim."
    names = {source: SOURCE_NAMES.get(source, source.replace("_", " ")) for source in claimed}
    agree = [names[s] for s, d in claimed.items() if d == found]
    against = [names[s] for s, d in claimed.items() if d != found]
    at = f"At the {budget} budget this" if budget else "This"
    if not against:
        return f"{at} agrees with {join(agree)}: it reproduces {'its' if len(agree) == 1 else 'their'} direction."
    if not agree:
        what = "its direction" if len(against) == 1 else "either direction"
        return f"{at} goes against {join(against)}: it does not reproduce {what}."
    return (
        f"{at} agrees with {join(agree)} and goes against {join(against)}: it reproduces "
        f"{join(agree)}'s direction only."
    )


def batchnorm_analyses(
    summary: pd.DataFrame,
    directions: dict[str, dict[str, str]] | None = None,
    at_chance: set[str] = frozenset(),
    diverged: dict[str, list[str]] | None = None,
    budget: str | None = None,
) -> list[str]:
    """Per summary metric and BatchNorm pair: which model is lower and by what factor, with which protocol on which
    runs, whether the gap is resolved over the seeds, and whose claim it tests: ``directions`` (from
    bnlab.report.claims.directions) gives each source's direction with BatchNorm for the metrics it measured the
    same way. ``summary``: the BatchNorm summary (metric, model, value, std, seeds, protocol, experiment);
    ``at_chance``: the models whose analysed runs never left chance accuracy; ``diverged``: what diverged_runs says
    of them; ``budget``: this config's. An infinite value (a band over a run that blew up) is named unbounded, with
    the runs that diverged."""
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
    rows = summary.drop_duplicates(["metric", "model"]).set_index(["metric", "model"])
    for metric in summary["metric"].drop_duplicates():
        noun, lower_word = BN_METRICS.get(metric, (metric.replace("_", " "), "lower"))
        for plain, bn in pairs:
            if (metric, plain) not in rows.index or (metric, bn) not in rows.index:
                continue
            a, b = rows.loc[(metric, plain)], rows.loc[(metric, bn)]
            unbounded = [m for m, r in ((plain, a), (bn, b)) if np.isinf(r["value"])]
            if unbounded:
                where = [r for m in unbounded for r in (diverged or {}).get(m, [])]
                sentences.append(
                    f"The {noun} of {join(unbounded)} is unbounded: a run diverged"
                    + (f" ({join(where)})" if where else "")
                    + ", so no comparison is made."
                )
                continue
            how = f", with {PROTOCOL_NAMES.get(a['protocol'], a['protocol'])} on {a['experiment']},"
            if a["value"] == b["value"]:
                sentences.append(f"{plain} and {bn} have the same {noun}{how.rstrip(',')}: {a['value']:.3g}.")
                continue
            (low, lv), (high, hv) = sorted([(plain, a["value"]), (bn, b["value"])], key=lambda pair: pair[1])
            sentences.append(
                f"{low} has the {lower_word} {noun}{how.rstrip(',')}: {lv:.3g} against {hv:.3g} for {high}"
                f"{ratio(lv, hv)}. "
                + gap_resolution(a, b)
                + " "
                + whose("lower" if b["value"] < a["value"] else "higher", (directions or {}).get(metric, {}), budget)
            )
    return sentences


def batchnorm_quirks(quirks: pd.DataFrame) -> list[str]:
    """One sentence per quirk of report 000's protocol: the numbers it changes, and how (bn_quirks.csv rows)."""
    sentences = []
    for (quirk, instead), rows in quirks.groupby(["quirk", "instead"], sort=False):
        changed = rows[~np.isclose(rows["value"], rows["instead_value"], rtol=1e-6, atol=1e-12)]
        changes = [
            f"the {BN_METRICS.get(r.metric, (r.metric, ''))[0]} of {r.model} from {r.value:.3g} to "
            f"{r.instead_value:.3g}{ratio(min(r.value, r.instead_value), max(r.value, r.instead_value))}"
            for r in changed.itertuples()
        ]
        what = f"Report 000's code: {quirk}; the paper's protocol: {instead}."
        sentences.append(
            f"{what} Replacing only this changes {join(changes)}."
            if changes
            else f"{what} Replacing only this changes none of report 000's numbers here."
        )
    return sentences


def gap_against_spread(high, low) -> str:
    """Whether the gap between two comparison rows (mean, std and count of final test accuracy over seeds)
    exceeds their spread: the larger of the two standard deviations, doubled."""
    if high["runs"] < 2 or low["runs"] < 2:
        return "; one seed each, so the spread of this gap is not measured"
    spread = 2 * max(high["final_test_acc_std"], low["final_test_acc_std"])
    gap = high["final_test_acc"] - low["final_test_acc"]
    if gap > spread:
        return f", a gap larger than twice the spread over seeds ({points(spread)})"
    return f", a gap within twice the spread over seeds ({points(spread)}): not resolved"


def comparison(groups: pd.DataFrame, axis: str) -> list[str]:
    """Which ``axis`` value converged first and which reached the highest accuracy (a comparison table's rows)."""
    if len(groups) < 2:
        return []
    by_speed = groups.sort_values("epochs_to_converge", kind="stable")
    first, last = by_speed.iloc[0], by_speed.iloc[-1]
    fastest = by_speed[by_speed["epochs_to_converge"] == first["epochs_to_converge"]][axis].tolist()
    if groups["epochs"].max() == 1:
        speed = f"One epoch each: how fast each {axis} converges is not measured at this budget"
    elif first["epochs_to_converge"] == last["epochs_to_converge"]:
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
        f"({pct(worst['final_test_acc'])}){gap_against_spread(best, worst)}.",
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
            ("no like-for-like", "without a like-for-like measurement here"),
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
