"""Claimed vs measured: each headline number of the original reports and the paper beside this run's.

The claims live in report/claims.yaml (its header describes the fields). A claim is compared
when this config runs its experiment; a claim its source contradicts is flagged and its value
left unused; settings and qualitative claims are listed, never compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from bnlab.report.tables import count

BN_EXPERIMENT = "bn_analysis"  # claims measured by the BatchNorm analyses' summary table
SELECTORS = ("model", "optimizer")  # run columns a claim may use to pick its runs
COLUMNS = [
    "source",
    "experiment",
    "subject",
    "metric",
    "kind",
    "status",
    "claimed_value",
    "claimed_low",
    "claimed_high",
    "claimed_text",
    "measured_value",
    "measured_low",
    "measured_high",
    "difference",
    "budget",
    "note",
]


@dataclass
class Measurements:
    """This run's numbers, as the report's tables hold them."""

    budget: str
    runs: dict[str, pd.DataFrame] = field(default_factory=dict)  # experiment -> runs table
    models: pd.DataFrame | None = None  # models table
    bn_summary: pd.DataFrame | None = None  # metric, model, value
    per_class: dict[str, pd.DataFrame] = field(default_factory=dict)  # experiment -> long per-class table


def load(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def kind(claim: dict) -> str:
    if claim.get("setting"):
        return "setting"
    if "range" in claim:
        return "range"
    if "values" in claim:
        return "spread"
    return "qualitative" if isinstance(claim.get("value"), str) else "number"


def measure(claim: dict, m: Measurements) -> tuple[float | list[float] | None, str]:
    """This run's value for ``claim`` (a list for a spread), or None and the reason there is none."""
    experiment, metric, model = claim["experiment"], claim["metric"], claim.get("model")
    if experiment == BN_EXPERIMENT:
        if m.bn_summary is None:
            return None, "the config runs no BatchNorm analyses"
        rows = m.bn_summary[(m.bn_summary["metric"] == metric) & (m.bn_summary["model"] == model)]
        return (
            (float(rows["value"].mean()), "")
            if len(rows)
            else (None, f"the BatchNorm summary has no {metric} for {model}")
        )
    if experiment not in m.runs:
        return None, f"the config has no experiment {experiment}"
    runs = m.runs[experiment]
    for key in SELECTORS:
        if key in claim:
            runs = runs[runs[key] == claim[key]]
    if runs.empty:
        return None, f"{experiment} has no run of {' '.join(str(claim[k]) for k in SELECTORS if k in claim)}"
    if metric == "params":
        models = m.models[(m.models["model"] == model) & (m.models["dataset"] == runs["dataset"].iloc[0])]
        return float(models["parameters_width_1"].iloc[0]), ""
    if metric == "per_class_test_acc":
        accuracy = m.per_class.get(experiment)
        if accuracy is None:
            return None, f"no per-class table for {experiment}"
        return accuracy.loc[accuracy["run"].isin(runs["run"]), "accuracy"].tolist(), ""
    if metric in runs:
        return float(runs[metric].mean()), ""
    return None, f"{metric} is not a measurement of this pipeline"


def audit(claims: dict, m: Measurements) -> pd.DataFrame:
    """One row per claim: what was claimed, what this run measured, the difference, and why where there is none."""
    rows = []
    for claim in claims["claims"]:
        k = kind(claim)
        row = dict.fromkeys(COLUMNS)
        row.update(
            source=claim["source"],
            experiment=claim["experiment"],
            metric=claim["metric"],
            kind=k,
            subject=" ".join(str(claim[s]) for s in SELECTORS if s in claim) or "—",
        )
        notes = [f"as named: {claim['as_named']}"] if "as_named" in claim else []
        if k == "number":
            row["claimed_value"] = claim["value"]
        elif k == "range":
            row["claimed_low"], row["claimed_high"] = claim["range"]
        elif k == "spread":
            row["claimed_low"], row["claimed_high"] = min(claim["values"]), max(claim["values"])
        else:
            row["claimed_text"] = str(claim.get("value", claim.get("values")))
        measured, reason = measure(claim, m) if k in ("number", "range", "spread") else (None, "")
        if isinstance(measured, list):
            row["measured_low"], row["measured_high"] = (min(measured), max(measured)) if measured else (None, None)
        elif measured is not None:
            row["measured_value"] = measured
        if "contradiction" in claim:
            row["status"] = "flagged"
            notes.insert(0, f"contradicts itself: {claim['contradiction']}")
        elif k in ("setting", "qualitative"):
            row["status"] = k
        elif measured is None:
            row["status"] = "not measured"
            notes.insert(0, reason)
        elif k == "spread":
            row["status"] = "listed"
        else:
            row["status"] = "compared"
            low = row["claimed_value"] if k == "number" else row["claimed_low"]
            high = row["claimed_value"] if k == "number" else row["claimed_high"]
            row["difference"] = measured - min(max(measured, low), high)
        if measured is not None:
            row["budget"] = (
                "width 1 (architecture)"
                if claim["metric"] == "params"
                else m.budget
                if m.budget == claims["budget"]
                else f"{m.budget} (claim: {claims['budget']})"
            )
        if claim.get("note"):
            notes.append(claim["note"])
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def number(value: float, metric: str) -> str:
    if pd.isna(value):
        return "—"
    return count(value) if metric == "params" else f"{value:.4g}" if abs(value) < 10 else f"{value:.2f}"


def signed(value: float, metric: str) -> str:
    return "—" if pd.isna(value) else ("+" if value > 0 else "") + number(value, metric).replace("-", "−")


def between(low: float, high: float, metric: str) -> str:
    return f"{number(low, metric)}–{number(high, metric)}"


def view(frame: pd.DataFrame) -> pd.DataFrame:
    """The claims table as the report shows it."""

    def claimed(r) -> str:
        if r.status == "flagged":
            return "⚑ flagged"
        if r.kind == "number":
            return number(r.claimed_value, r.metric)
        if r.kind in ("range", "spread"):
            return between(r.claimed_low, r.claimed_high, r.metric)
        return r.claimed_text

    def measured(r) -> str:
        if not pd.isna(r.measured_value):
            return number(r.measured_value, r.metric)
        if not pd.isna(r.measured_low):
            return between(r.measured_low, r.measured_high, r.metric)
        return "not measured" if r.status == "not measured" else "—"

    rows = list(frame.itertuples())
    return pd.DataFrame(
        {
            "source": frame["source"],
            "study": frame["experiment"],
            "subject": frame["subject"],
            "metric": frame["metric"],
            "claimed": [claimed(r) for r in rows],
            "measured": [measured(r) for r in rows],
            "difference": [signed(r.difference, r.metric) for r in rows],
            "budget": frame["budget"].fillna("—"),
            "status": frame["status"],
            "note": frame["note"].fillna(""),
        }
    )


def sources_table(claims: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [{"source": key, "document": s["file"], "what it covers": s["what"]} for key, s in claims["sources"].items()]
    )
