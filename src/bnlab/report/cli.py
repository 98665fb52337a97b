"""`bnlab report <verb>`: the report stage's tables and rendering (registered by `bnlab.cli`).

Argument parsing only; each verb calls one function of bnlab.report (figures are `bnlab figure`).
"""

from __future__ import annotations

import json
from pathlib import Path


def named_paths(pairs: list[str]) -> dict[str, str]:
    """``NAME=PATH`` arguments as a dict."""
    return dict(pair.split("=", 1) for pair in pairs or [])


def load_data(npz: str) -> dict:
    from bnlab.data.prepare import load

    return load(Path(npz))


def cmd_datasets(args) -> None:
    from bnlab.report import tables

    infos = {name: tables.dataset_info(path) for name, path in named_paths(args.data).items()}
    tables.save(*tables.datasets_table(infos, json.loads(args.augmentations)), args.out)


def cmd_models(args) -> None:
    from bnlab.report import tables

    infos = {name: tables.dataset_info(path) for name, path in named_paths(args.data).items()}
    tables.save(*tables.models_table(json.loads(args.models), infos), args.out)


def cmd_runs(args) -> None:
    from bnlab.report import tables
    from bnlab.report.runs import summarize

    runs = summarize(args.runs)
    tables.save(runs, tables.runs_table(runs), args.out)


def cmd_compare(args) -> None:
    import pandas as pd

    from bnlab.report import tables

    tables.save(*tables.comparison_table(pd.read_csv(args.runs_table), args.axis), args.out)


def cmd_per_class(args) -> None:
    import torch

    from bnlab.device import pick_device
    from bnlab.io import write_csv
    from bnlab.report import tables
    from bnlab.report.per_class import per_class_table
    from bnlab.report.runs import summarize

    torch.set_num_threads(args.threads)
    frame, shown, confusion = per_class_table(summarize(args.runs), load_data(args.data), pick_device())
    tables.save(frame, shown, args.out)
    write_csv(confusion, args.confusion)


def cmd_bn_summary(args) -> None:
    import pandas as pd

    from bnlab.report import tables

    tables.save(*tables.bn_summary_table(pd.read_csv(args.summary)), args.out)


def cmd_claims(args) -> None:
    import pandas as pd

    from bnlab.report import claims, tables

    measured = claims.Measurements(
        budget=args.budget,
        models=pd.read_csv(args.models),
        runs={name: pd.read_csv(path) for name, path in named_paths(args.runs_table).items()},
        per_class={name: pd.read_csv(path) for name, path in named_paths(args.per_class).items()},
        bn_summary=pd.read_csv(args.bn_summary) if args.bn_summary else None,
    )
    audit = claims.audit(claims.load(args.claims), measured)
    tables.save(audit, claims.view(audit), args.out)


def cmd_claim_sources(args) -> None:
    from bnlab.report import claims, tables

    frame = claims.sources_table(claims.load(args.claims))
    tables.save(frame, frame, args.out)


def cmd_environment(args) -> None:
    from bnlab.report import tables
    from bnlab.train.run_folder import read_summary

    frame = tables.environment_table([read_summary(d) for d in args.runs])
    tables.save(frame, frame, args.out)


def cmd_notebook(args) -> None:
    from bnlab.report.notebook import execute

    execute(args.notebook, args.out, args.experiment, args.runs)


def cmd_render(args) -> None:
    from bnlab.report.render import render

    render(args.template, json.loads(args.manifest), args.out)


def add_verbs(report) -> None:
    """Add this stage's sub-commands to its parser, `bnlab report`."""
    sub = report.add_subparsers(dest="report_verb", required=True)

    def verb(name: str, func, help: str, out: str = "the table's .md (its CSV twin is written beside it)"):
        v = sub.add_parser(name, help=help)
        v.add_argument("--out", required=True, help=out)
        v.set_defaults(func=func)
        return v

    v = verb("datasets", cmd_datasets, "table of the prepared datasets")
    v.add_argument("--data", nargs="+", required=True, metavar="NAME=NPZ")
    v.add_argument("--augmentations", required=True, help="JSON: dataset -> the augmentation pipelines trained with")

    v = verb("models", cmd_models, "table of the models the config trains, with their parameter counts")
    v.add_argument("--data", nargs="+", required=True, metavar="NAME=NPZ")
    v.add_argument("--models", required=True, help="JSON: a list of {model, dataset, width}")

    v = verb("runs", cmd_runs, "table of one experiment's runs")
    v.add_argument("--runs", nargs="+", required=True, help="the run folders")

    v = verb("compare", cmd_compare, "one experiment's runs grouped by an axis")
    v.add_argument("--runs-table", required=True, help="the experiment's runs table CSV")
    v.add_argument("--axis", required=True, help="optimizer, augmentation or loss")

    v = verb("per-class", cmd_per_class, "per-class test accuracy of one experiment's runs")
    v.add_argument("--runs", nargs="+", required=True, help="the run folders")
    v.add_argument("--data", required=True, help="the prepared .npz")
    v.add_argument("--threads", type=int, default=1)
    v.add_argument("--confusion", required=True, help="the confusion matrices' CSV (long form)")

    v = verb("bn-summary", cmd_bn_summary, "table of the BatchNorm analyses' summary numbers")
    v.add_argument("--summary", required=True, help="results/analysis/bn_summary.csv")

    v = verb("claims", cmd_claims, "claimed vs measured")
    v.add_argument("--claims", required=True, help="report/claims.yaml")
    v.add_argument("--budget", required=True, help="this config's budget")
    v.add_argument("--models", required=True, help="the models table CSV")
    v.add_argument("--runs-table", nargs="*", metavar="EXPERIMENT=CSV", help="runs tables")
    v.add_argument("--per-class", nargs="*", metavar="EXPERIMENT=CSV", help="per-class tables")
    v.add_argument("--bn-summary", help="the BatchNorm summary CSV, when the config runs the analyses")

    v = verb("claim-sources", cmd_claim_sources, "table of the claims' sources")
    v.add_argument("--claims", required=True, help="report/claims.yaml")

    v = verb("environment", cmd_environment, "software versions and training devices")
    v.add_argument("--runs", nargs="+", required=True, help="the run folders")

    v = verb("notebook", cmd_notebook, "execute the exploration notebook for one experiment", out="the .ipynb")
    v.add_argument("--notebook", default="workflow/notebooks/explore.ipynb", help="the notebook to execute")
    v.add_argument("--experiment", required=True)
    v.add_argument("--runs", nargs="+", required=True, help="the experiment's run folders")

    v = verb("render", cmd_render, "render the Markdown report", out="results/report/report.md")
    v.add_argument("--template", required=True, help="report/template.md.j2")
    v.add_argument("--manifest", required=True, help="JSON: the results files the report shows")
