"""Render the Markdown report with jinja2 from the tables, figures and notebooks the rules made.

The report folder is self-contained: the figures and executed notebooks it shows are copied
beside report.md and referenced by relative paths, so the folder can be zipped and read anywhere.
Every sentence that interprets a number comes from ``bnlab.report.findings``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from bnlab.io import atomic_path, write_text
from bnlab.report import claims as claims_audit
from bnlab.report import findings


def csv_twin(table: str | Path) -> pd.DataFrame:
    return pd.read_csv(Path(table).with_suffix(".csv"))


def title(path: str | Path) -> str:
    """A BatchNorm figure's heading from its file name, e.g. bn_loss_landscape.png -> "Loss landscape"."""
    return Path(path).stem.removeprefix("bn_").replace("_", " ").capitalize()


def link(source: str | Path, folder: Path, kind: str) -> str:
    """Copy ``source`` into ``folder``/``kind``/ and return its path relative to ``folder``."""
    target = folder / kind / Path(source).name
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return f"{kind}/{target.name}"


def experiment_claims(audit: pd.DataFrame, experiment: str) -> str:
    """The claims audit's rows about ``experiment``, as the report shows them (empty when the sources make none)."""
    rows = audit[audit["experiment"] == experiment]
    return claims_audit.view(rows).to_markdown(index=False, disable_numparse=True) if len(rows) else ""


def context(manifest: dict, folder: Path) -> dict:
    """Everything the template shows; ``manifest`` lists the results files (see workflow/rules/report.smk)."""
    config, tables = manifest["config"], manifest["tables"]
    datasets = csv_twin(tables["datasets"]).set_index("dataset")
    chance = {name: 100.0 / row.num_classes for name, row in datasets.iterrows()}
    # The experiments the BatchNorm analyses read (all of them when the config does not say).
    analysed = set(config.get("bn_analysis", {}).get("experiments", {}).values()) or set(manifest["experiments"])
    experiments, analysed_runs, summary = {}, [], []
    for name, files in manifest["experiments"].items():
        spec = config["experiments"][name]
        runs, accuracy = csv_twin(files["runs"]), csv_twin(files["per_class"])
        level = chance[spec["dataset"]]
        batchnorm = findings.batchnorm_training(runs, level)
        summary += [f"{name}: {sentence}" for sentence in batchnorm]
        if name in analysed:
            analysed_runs.append(runs.assign(chance=level))
        experiments[name] = {
            "name": name,
            "title": spec.get("title", ""),
            "description": spec.get("description", ""),
            "dataset": spec["dataset"],
            "runs_table": Path(files["runs"]).read_text(),
            "per_class_table": Path(files["per_class"]).read_text(),
            "figure": link(files["figure"], folder, "figures"),
            "per_class_figure": link(files["per_class_figure"], folder, "figures"),
            "confusion_figure": link(files["confusion_figure"], folder, "figures"),
            "lr_range_figure": link(files["lr_range_figure"], folder, "figures") if files.get("lr_range") else "",
            "claims_table": experiment_claims(csv_twin(tables["claims"]), name),
            "notebook": link(files["notebook"], folder, "notebooks"),
            "findings": findings.training(runs, level)
            + batchnorm
            + findings.double_softmax(runs)
            + (findings.lr_range(pd.read_csv(files["lr_range"]), runs) if files.get("lr_range") else [])
            + findings.per_class(accuracy),
        }
    comparisons = [
        {
            "experiment": name,
            "axis": axis,
            "table": Path(path).read_text(),
            "findings": findings.comparison(csv_twin(path), axis),
        }
        for name, files in manifest["experiments"].items()
        for axis, path in files["comparisons"].items()
    ]
    bn = None
    if manifest["bn"]:
        runs = pd.concat(analysed_runs)
        diverged = findings.diverged_runs(runs)
        bn_summary = pd.read_csv(manifest["bn"]["summary"])
        directions = claims_audit.directions(claims_audit.load(manifest["claims"]), bn_summary)

        def analyses(metrics: pd.DataFrame) -> list[str]:
            # The models that never left chance in the runs these metrics measured.
            measured = runs[runs["experiment"].isin(metrics["experiment"])]
            at_chance = findings.untrained_models(measured, measured["chance"])
            return findings.batchnorm_analyses(metrics, directions, at_chance, diverged, manifest["budget"])

        summary += analyses(bn_summary[bn_summary["metric"].isin(findings.LANDSCAPE_METRICS)])
        bn = {
            "table": Path(manifest["bn"]["table"]).read_text(),
            "protocols": [
                {
                    "title": findings.PROTOCOL_NAMES[protocol].capitalize(),
                    "description": findings.PROTOCOL_DESCRIPTIONS[protocol],
                    "findings": analyses(rows),
                }
                for protocol, rows in bn_summary.groupby("protocol", sort=False)
            ],
            "quirks": findings.batchnorm_quirks(pd.read_csv(manifest["bn"]["quirks"])),
            "figures": [{"title": title(f), "path": link(f, folder, "figures")} for f in manifest["bn"]["figures"]],
        }
    claim_budget = claims_audit.load(manifest["claims"])["budget"]
    claim_findings = findings.claims(csv_twin(tables["claims"]), manifest["budget"], claim_budget)
    return {
        "budget": manifest["budget"],
        "claim_budget": claim_budget,
        "summary": summary,
        "tables": {name: Path(path).read_text() for name, path in tables.items()},
        "datasets": [
            {"name": name, "figure": link(path, folder, "figures")}
            for name, path in manifest["augmentation_figures"].items()
        ],
        "experiments": experiments,
        "comparisons": comparisons,
        "bn": bn,
        "claims_findings": claim_findings,
        "config_yaml": yaml.safe_dump(config, sort_keys=False).strip(),
    }


def render(template: str | Path, manifest: dict, out: str | Path) -> None:
    template, out = Path(template), Path(out)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template.parent),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    text = env.get_template(template.name).render(**context(manifest, out.parent))
    write_text(out, re.sub(r"\n{3,}", "\n\n", text).strip() + "\n")
