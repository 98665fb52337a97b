"""Claimed vs measured: each headline number of the original reports and the paper beside this run's, like for like.

The claims live in report/claims.yaml (its header describes the fields). A report's text and the printed output
of its own notebook (source ``<report>_notebook``) share one row, in three columns: the text, the notebook, this
run. Where the two disagree, the source contradicts itself and the row is flagged; a claim its text contradicts
is flagged and its value left unused. This run's number comes from the same protocol on the same kind of model
as the claim (its experiment and, for the BatchNorm analyses, its protocol); a claim with no such measurement says
so and shows no difference. Settings and qualitative claims are listed, never compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from bnlab.report.findings import batchnorm_pairs
from bnlab.report.tables import count

BN_EXPERIMENT = "bn_analysis"  # claims measured by the BatchNorm analyses' summary table
SELECTORS = ("model", "optimizer", "augmentation", "loss")  # run columns a claim may use to pick its runs
NOTEBOOK = "_notebook"  # the source "<report>_notebook" is the printed output of <report>'s own code
BATCHNORM = {"lower": "lower with BatchNorm", "higher": "higher with BatchNorm"}
COLUMNS = [
    "source",
    "experiment",
    "subject",
    "metric",
    "protocol",
    "kind",
    "status",
    "claimed_value",
    "claimed_low",
    "claimed_high",
    "claimed_text",
    "notebook_value",
    "notebook_text",
    "measured_value",
    "measured_low",
    "measured_high",
    "measured_std",
    "measured_runs",
    "measured_text",
    "measured_with",
    "difference",
    "notebook_difference",
    "budget",
    "note",
]


@dataclass
class Measurements:
    """This run's numbers, as the report's tables hold them."""

    budget: str
    runs: dict[str, pd.DataFrame] = field(default_factory=dict)  # experiment -> runs table
    models: pd.DataFrame | None = None  # models table
    bn_summary: pd.DataFrame | None = None  # metric, model, value, std, seeds, protocol, experiment
    per_class: dict[str, pd.DataFrame] = field(default_factory=dict)  # experiment -> long per-class table


@dataclass
class Measured:
    """This run's measurement of a claim: a number over ``runs`` repeats (or a list, for a spread), or why none."""

    value: float | list[float] | None = None
    std: float = np.nan
    runs: int = 0  # repeats measured (0 for what no run measures: an architecture's size)
    text: str = ""  # a direction measured
    on: str = ""  # what was measured: protocol, experiment, runs
    reason: str = ""  # why there is no measurement


def load(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def kind(claim: dict) -> str:
    if claim.get("setting"):
        return "setting"
    if "range" in claim:
        return "range"
    if "values" in claim:
        return "spread"
    if "direction" in claim:
        return "direction"
    return "qualitative" if isinstance(claim.get("value"), str) else "number"


def subject(claim: dict) -> str:
    return " ".join(str(claim[s]) for s in SELECTORS if s in claim) or "—"


def bn_key(claim: dict) -> str:
    """The BatchNorm summary's metric for a claim: ``<protocol>.<metric>``."""
    return f"{claim['protocol']}.{claim['metric']}"


def repeats(n: int) -> str:
    return f"{n} seed{'' if n == 1 else 's'}"


def direction(plain: float, bn: float) -> str | None:
    """Whether ``bn`` is lower or higher than ``plain``; None when equal or either is not finite."""
    if not (np.isfinite(plain) and np.isfinite(bn)) or plain == bn:
        return None
    return "lower" if bn < plain else "higher"


def _measure_bn(claim: dict, m: Measurements) -> Measured:
    if m.bn_summary is None:
        return Measured(reason="the config runs no BatchNorm analyses")
    rows = m.bn_summary[m.bn_summary["metric"] == bn_key(claim)].set_index("model")
    if rows.empty:
        return Measured(reason=f"the BatchNorm summary has no {bn_key(claim)}")
    on = f"{claim['protocol']} protocol on {rows['experiment'].iloc[0]}"
    if "direction" in claim:
        pairs = batchnorm_pairs(rows.index)
        if not pairs:
            return Measured(reason=f"the BatchNorm summary has no model with and without BatchNorm for {bn_key(claim)}")
        plain, bn = pairs[0]
        found = direction(rows.loc[plain, "value"], rows.loc[bn, "value"])
        values = f"{rows.loc[bn, 'value']:.3g} against {rows.loc[plain, 'value']:.3g}"
        text = f"{BATCHNORM[found]} ({values})" if found else f"no direction ({values})"
        return Measured(text=text, runs=int(rows["seeds"].min()), on=f"{on}: {plain}, {bn}")
    model = claim.get("model")
    if model not in rows.index:
        return Measured(reason=f"the BatchNorm summary has no {bn_key(claim)} for {model}")
    row = rows.loc[model]
    return Measured(row["value"], row["std"], int(row["seeds"]), on=f"{on}: {model}")


def measure(claim: dict, m: Measurements) -> Measured:
    """This run's value for ``claim``, measured the way the claim's source measured it, or why there is none."""
    if claim.get("unlike"):
        return Measured(reason=f"no like-for-like measurement: {claim['unlike']}")
    experiment, metric = claim["experiment"], claim["metric"]
    if experiment == BN_EXPERIMENT:
        return _measure_bn(claim, m)
    if experiment not in m.runs:
        return Measured(reason=f"the config has no experiment {experiment}")
    runs = m.runs[experiment]
    for key in SELECTORS:
        if key in claim:
            runs = runs[runs[key] == claim[key]]
    if runs.empty:
        return Measured(reason=f"{experiment} has no run of {subject(claim)}")
    on = f"{experiment}: {subject(claim)}"
    if metric == "params":
        models = m.models[(m.models["model"] == claim["model"]) & (m.models["dataset"] == runs["dataset"].iloc[0])]
        return Measured(float(models["parameters_width_1"].iloc[0]), on=f"{on} (architecture)")
    if metric == "per_class_test_acc":
        accuracy = m.per_class.get(experiment)
        if accuracy is None:
            return Measured(reason=f"no per-class table for {experiment}")
        return Measured(accuracy.loc[accuracy["run"].isin(runs["run"]), "accuracy"].tolist(), runs=len(runs), on=on)
    if metric in runs:
        values = runs[metric].astype(float)
        return Measured(values.mean(), values.std(ddof=1) if len(values) > 1 else np.nan, len(values), on=on)
    return Measured(reason=f"{metric} is not a measurement of this pipeline")


def _key(claim: dict) -> tuple:
    """What makes two claims statements about the same number."""
    return (claim["experiment"], subject(claim), claim["metric"], claim.get("protocol"))


def _stated(claim: dict) -> tuple[float | None, str]:
    """A claim's number, or its text where it states none."""
    if kind(claim) == "number":
        return claim["value"], ""
    if kind(claim) == "direction":
        return None, BATCHNORM[claim["direction"]]
    return None, str(claim.get("value", claim.get("values", claim.get("range"))))


def _rows(claims: list[dict]) -> list[tuple[dict | None, dict | None]]:
    """(text claim, notebook claim) per row, in file order: a notebook claim joins its report's claim about the
    same number, else has a row of its own."""
    rows: dict[tuple, list] = {}
    for claim in claims:
        source = claim["source"]
        base = source.removesuffix(NOTEBOOK)
        slot = rows.setdefault((base, *_key(claim)), [None, None])
        slot[int(source != base)] = claim
    return [tuple(pair) for pair in rows.values()]


def _budget(metric: str, m: Measurements, claim_budget: str) -> str:
    if metric == "params":
        return "width 1 (architecture)"
    return m.budget if m.budget == claim_budget else f"{m.budget} (claim: {claim_budget})"


def audit(claims: dict, m: Measurements) -> pd.DataFrame:
    """One row per claimed number: what the report's text and its notebook claimed, what this run measured the
    same way, the differences, and why where there is none."""
    out = []
    for text, notebook in _rows(claims["claims"]):
        claim = text or notebook
        k = kind(claim)
        row = dict.fromkeys(COLUMNS)
        row.update(
            source=claim["source"].removesuffix(NOTEBOOK),
            experiment=claim["experiment"],
            metric=claim["metric"],
            protocol=claim.get("protocol"),
            kind=k,
            subject=subject(claim),
        )
        notes = [f"as named: {c['as_named']}" for c in (text, notebook) if c and "as_named" in c]
        if text is not None:
            if k == "range":
                row["claimed_low"], row["claimed_high"] = text["range"]
            elif k == "spread":
                row["claimed_low"], row["claimed_high"] = min(text["values"]), max(text["values"])
            else:
                row["claimed_value"], row["claimed_text"] = _stated(text)
        if notebook is not None:
            row["notebook_value"], row["notebook_text"] = _stated(notebook)
        measured = measure(claim, m) if k in ("number", "range", "spread", "direction") else Measured()
        if isinstance(measured.value, list):
            row["measured_low"], row["measured_high"] = (
                (min(measured.value), max(measured.value)) if measured.value else (None, None)
            )
        elif measured.value is not None:
            row["measured_value"], row["measured_std"] = measured.value, measured.std
        has_measurement = measured.value is not None or measured.text
        if has_measurement:
            row.update(
                measured_text=measured.text or None,
                measured_runs=measured.runs,
                measured_with=measured.on + (f" ({repeats(measured.runs)})" if measured.runs else ""),
                budget=_budget(claim["metric"], m, claims["budget"]),
            )
        disagree = (
            text is not None
            and notebook is not None
            and "contradiction" not in text
            and _stated(text) != _stated(notebook)
        )
        if text is not None and "contradiction" in text:
            row["status"] = "flagged"
            row["claimed_value"] = row["claimed_low"] = row["claimed_high"] = None
            row["claimed_text"] = "⚑ flagged"  # its value is not used
            notes.insert(0, f"contradicts itself: {text['contradiction']}")
        elif disagree:
            row["status"] = "flagged"
            notes.insert(0, "contradicts itself: its text and its notebook's output disagree")
        elif k in ("setting", "qualitative"):
            row["status"] = k
        elif claim.get("unlike"):
            row["status"] = "no like-for-like"
            notes.insert(0, measured.reason)
        elif not has_measurement:
            row["status"] = "not measured"
            notes.insert(0, measured.reason)
        elif k == "spread":
            row["status"] = "listed"
        else:
            row["status"] = "compared"
        if row["status"] in ("compared", "flagged") and measured.value is not None and k in ("number", "range"):
            if not (row["claimed_value"] is None and row["claimed_low"] is None):
                low = row["claimed_value"] if k == "number" else row["claimed_low"]
                high = row["claimed_value"] if k == "number" else row["claimed_high"]
                row["difference"] = measured.value - min(max(measured.value, low), high)
            if row["notebook_value"] is not None:
                row["notebook_difference"] = measured.value - row["notebook_value"]
        notes += [c["note"] for c in (text, notebook) if c and c.get("note")]
        row["note"] = "; ".join(notes)
        out.append(row)
    return pd.DataFrame(out, columns=COLUMNS)


def directions(claims: dict, summary: pd.DataFrame) -> dict[str, dict[str, str]]:
    """For each BatchNorm summary metric, the direction each source claims for it with BatchNorm ("lower" or
    "higher" than without): from a claimed direction, or from the numbers a source claims for a model and its
    BatchNorm twin. A claim counts where it was measured the same way: the summary metric's protocol for a
    BatchNorm-analysis claim, the metric's own experiment for an accuracy. Claims their text contradicts do not."""
    experiments = dict(zip(summary["metric"], summary["experiment"]))
    # An accuracy claim names the experiment whose runs it is compared with, not a protocol.
    by_experiment = {(e, name.split(".", 1)[1]): name for name, e in experiments.items()}
    found: dict[str, dict[str, str]] = {}
    numbers: dict[tuple[str, str], dict[str, float]] = {}
    for claim in claims["claims"]:
        if "contradiction" in claim:
            continue
        if claim["experiment"] == BN_EXPERIMENT:
            metric = bn_key(claim)
        else:
            metric = by_experiment.get((claim["experiment"], claim["metric"]))
        if metric not in experiments:
            continue
        if "direction" in claim:
            found.setdefault(metric, {})[claim["source"]] = claim["direction"]
        elif kind(claim) == "number" and "model" in claim:
            numbers.setdefault((metric, claim["source"]), {})[claim["model"]] = claim["value"]
    for (metric, source), values in numbers.items():
        for plain, bn in batchnorm_pairs(values):
            if (d := direction(values[plain], values[bn])) is not None:
                found.setdefault(metric, {})[source] = d
    return found


def number(value: float, metric: str) -> str:
    if pd.isna(value):
        return "—"
    return count(value) if metric == "params" else f"{value:.4g}" if abs(value) < 10 else f"{value:.2f}"


def signed(value: float, metric: str) -> str:
    return "—" if pd.isna(value) else ("+" if value > 0 else "") + number(value, metric).replace("-", "−")


def between(low: float, high: float, metric: str) -> str:
    return f"{number(low, metric)}–{number(high, metric)}"


def view(frame: pd.DataFrame) -> pd.DataFrame:
    """The claims table as the report shows it: the report's text, its notebook, this run."""

    def claimed(r) -> str:
        if not pd.isna(r.claimed_value):
            return flag(r) + number(r.claimed_value, r.metric)
        if not pd.isna(r.claimed_low):
            return flag(r) + between(r.claimed_low, r.claimed_high, r.metric)
        return "—" if pd.isna(r.claimed_text) else r.claimed_text

    def notebook(r) -> str:
        if not pd.isna(r.notebook_value):
            return number(r.notebook_value, r.metric)
        return "—" if pd.isna(r.notebook_text) else r.notebook_text

    def measured(r) -> str:
        if not pd.isna(r.measured_text):
            return r.measured_text
        if not pd.isna(r.measured_value):
            spread = "" if pd.isna(r.measured_std) else f" ± {number(r.measured_std, r.metric)}"
            return number(r.measured_value, r.metric) + spread
        if not pd.isna(r.measured_low):
            return between(r.measured_low, r.measured_high, r.metric)
        return r.status if r.status in ("not measured", "no like-for-like") else "—"

    def differences(r) -> str:
        if r.kind == "direction" and not pd.isna(r.measured_text):
            return "same direction" if r.measured_text.startswith(r.claimed_text) else "other direction"
        shown = [
            f"{signed(value, r.metric)} vs {what}"
            for value, what in ((r.difference, "text"), (r.notebook_difference, "notebook"))
            if not pd.isna(value)
        ]
        return ", ".join(shown) or "—"

    def flag(r) -> str:
        """The text's number is shown but flagged where the notebook disagrees with it."""
        return "⚑ " if r.status == "flagged" else ""

    rows = list(frame.itertuples())
    return pd.DataFrame(
        {
            "source": frame["source"],
            "study": frame["experiment"],
            "subject": frame["subject"],
            "metric": frame["metric"],
            "protocol": frame["protocol"].fillna("—"),
            "report text": [claimed(r) for r in rows],
            "its notebook": [notebook(r) for r in rows],
            "this run": [measured(r) for r in rows],
            "difference": [differences(r) for r in rows],
            "measured on": frame["measured_with"].fillna("—"),
            "budget": frame["budget"].fillna("—"),
            "status": frame["status"],
            "note": frame["note"].fillna(""),
        }
    )


def sources_table(claims: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [{"source": key, "document": s["file"], "what it covers": s["what"]} for key, s in claims["sources"].items()]
    )
