"""The manifest: every file the report stage builds and shows, derived from the validated config.

The rule files build exactly these files (tables, figures, notebooks), and the renderer reads only
them, so what the report shows and what the workflow makes cannot drift apart. Each figure entry says
which kind of ``bnlab figure`` makes it from which inputs, with its caption and place in Snakemake's
HTML report; a study's figures follow from its config entry, never from a list in a rule file.
"""

from __future__ import annotations

import shlex

from bnlab.config import expand, select
from bnlab.plots.figures import FIGURES as FIGURE_KINDS

TABLES, FIGURES, NOTEBOOKS = "results/tables", "results/figures", "results/notebooks"
CAPTIONS = "report/captions"
# Axes whose variation within an experiment makes it a comparison of its own in the report.
COMPARED_AXES = ("optimizer", "augmentation", "loss")
GENERAL_TABLES = ("datasets", "models", "claims", "claim_sources", "environment")
# The BatchNorm analyses: analysis -> (the run file it reads, its output's suffix, {protocol: the
# bn_analysis.experiments group whose runs that protocol measures}). Feature maps are arrays, not a table.
BN_ANALYSES = {
    "loss_landscape": ("steps.csv", "csv", {"course": "landscape"}),
    "line_search": ("probes.csv", "csv", {"paper": "line_search"}),
    "training_curves": ("metrics.csv", "csv", {"paper": "trained"}),
    "grad_distance": ("model.pt", "csv", {"paper": "trained", "course": "course"}),
    "grad_predictiveness": ("model.pt", "csv", {"course": "course"}),
    "input_smoothness": ("model.pt", "csv", {"paper": "trained", "course": "course"}),
    "activations": ("model.pt", "csv", {"paper": "trained", "course": "course"}),
    "gradient_health": ("model.pt", "csv", {"paper": "trained", "course": "course"}),
    "feature_maps": ("model.pt", "npz", {"paper": "trained"}),
}
# The `bnlab analyse` options of each analysis and protocol beyond --protocol: option -> its key in bn_analysis.
SAMPLE = {"batch-size": "batch_size", "seed": "seed"}
BN_OPTIONS = {
    ("grad_distance", "paper"): {"d-max": "grad_distance.d_max", "points": "grad_distance.points", "batches": "batches"}
    | SAMPLE,
    ("grad_distance", "course"): SAMPLE,  # report 000 reads one batch
    ("grad_predictiveness", "course"): {"batches": "course.batches"} | SAMPLE,
    ("input_smoothness", "paper"): {"noise-std": "input_smoothness.noise_std", "batches": "batches"} | SAMPLE,
    ("input_smoothness", "course"): {"batches": "course.batches"} | SAMPLE,
    ("activations", "paper"): {"threshold": "activations.dead_threshold"},
    ("activations", "course"): {"batches": "course.activation_batches"} | SAMPLE,
    ("gradient_health", "paper"): {"batches": "batches"} | SAMPLE,
    ("gradient_health", "course"): SAMPLE,  # report 000 reads one batch
    ("feature_maps", "paper"): {"images": "feature_maps.images", "layers": "feature_maps.layers"},
}
# The BatchNorm study's figures: name -> (figure kind, the (analysis, protocol) tables it draws, subcategory). A
# figure of two protocols draws them side by side.
BN_FIGURES = {
    "bn_loss_landscape": ("loss-landscape", (("line_search", "paper"), ("loss_landscape", "course")), "Loss landscape"),
    "bn_gradient_predictiveness": (
        "gradient-predictiveness",
        (("line_search", "paper"), ("grad_predictiveness", "course")),
        "Smoothness",
    ),
    "bn_beta_smoothness": ("beta-smoothness", (("line_search", "paper"),), "Smoothness"),
    "bn_max_grad_diff": ("max-grad-diff", (("grad_distance", "paper"), ("grad_distance", "course")), "Smoothness"),
    "bn_input_smoothness": (
        "input-smoothness",
        (("input_smoothness", "paper"), ("input_smoothness", "course")),
        "Smoothness",
    ),
    "bn_activations": ("activations", (("activations", "paper"), ("activations", "course")), "Activations"),
    "bn_gradient_health": (
        "gradient-health",
        (("gradient_health", "paper"), ("gradient_health", "course")),
        "Gradients",
    ),
    "bn_feature_maps": ("feature-maps", (("feature_maps", "paper"),), "Activations"),
    "bn_training_curves": ("bn-training-curves", (("training_curves", "paper"),), "Training"),
}
BN_SUMMARY = "results/analysis/bn_summary.csv"
BN_QUIRKS = "results/analysis/bn_quirks.csv"


def run_dir(spec: dict) -> str:
    return f"results/runs/{spec['experiment']}/{spec['run']}"


def data_file(dataset: str) -> str:
    return f"results/data/{dataset}.npz"


def bn_experiment(config: dict, group: str) -> str:
    """The experiment that bn_analysis.experiments.<group> names; report 000's protocol measures the ``trained``
    experiment's runs where the config names no ``course`` experiment."""
    experiments = config["bn_analysis"]["experiments"]
    return experiments.get(group) or experiments["trained"]


def bn_table(config: dict, analysis: str, protocol: str) -> str:
    """The table of ``analysis`` measured with ``protocol``."""
    _, suffix, groups = BN_ANALYSES[analysis]
    return f"results/analysis/{analysis}/{protocol}/{bn_experiment(config, groups[protocol])}.{suffix}"


def bn_analyses(config: dict, runs: list[dict]) -> list[dict]:
    """One job per BatchNorm analysis and protocol: what `bnlab analyse` reads, writes and is told."""
    bn = config["bn_analysis"]
    jobs = []
    for analysis, (reads, _, groups) in BN_ANALYSES.items():
        for protocol, group in groups.items():
            experiment = bn_experiment(config, group)
            where = f"bn_analysis.experiments.{group if group in bn['experiments'] else 'trained'}"
            run_dirs = [run_dir(s) for s in select(runs, experiment, bn["models"], where)]
            settings = {}
            for option, key in BN_OPTIONS.get((analysis, protocol), {}).items():
                value = bn
                for part in key.split("."):
                    value = value[part]
                settings[option] = value
            path = bn_table(config, analysis, protocol)
            jobs.append(
                {
                    "analysis": analysis,
                    "protocol": protocol,
                    "experiment": experiment,
                    "name": f"{analysis}_{protocol}",
                    "verb": f"analyse {analysis.replace('_', '-')}",
                    "path": path,
                    "run_dirs": run_dirs,
                    "inputs": [f"{d}/{f}" for d in run_dirs for f in (reads, "run.json")],
                    "data": data_file(config["experiments"][experiment]["dataset"]) if reads == "model.pt" else None,
                    "options": command_options({"protocol": protocol, **settings}),
                    "models": bn["models"] if reads == "model.pt" else [],
                }
            )
    return jobs


def command_options(settings: dict) -> str:
    """``--option value ...`` for a rule's shell command, each value quoted for the shell (titles have spaces)."""
    words = []
    for option, value in settings.items():
        words += [f"--{option}", *map(str, value if isinstance(value, list) else [value])]
    return shlex.join(words)


def _figure(
    name: str,
    kind: str,
    inputs: list[str],
    settings: dict,
    *,
    caption: str,
    category: str,
    subcategory: str = "",
    depends: list[str] | None = None,
) -> dict:
    """One figure file; ``settings`` holds a value for each option its kind takes (bnlab.plots.figures)."""
    options = command_options({o: v for o, v in settings.items() if o in FIGURE_KINDS[kind].options})
    return {
        "name": name,
        "path": f"{FIGURES}/{name}.png",
        "kind": kind,
        "inputs": inputs,
        "options": options,
        "depends": depends or [],
        "caption": f"{CAPTIONS}/{caption}.rst",
        "category": category,
        "subcategory": subcategory,
    }


def build(config: dict) -> dict:
    """The manifest of ``config`` (validated, defaults filled): what the report stage makes and shows."""
    runs = expand(config)
    experiments = list(dict.fromkeys(s["experiment"] for s in runs))
    datasets = list(dict.fromkeys(s["dataset"] for s in runs))
    run_dirs = {e: [run_dir(s) for s in runs if s["experiment"] == e] for e in experiments}
    augmentations = {d: list(dict.fromkeys(s["augmentation"] for s in runs if s["dataset"] == d)) for d in datasets}
    figures = [
        _figure(
            f"augmentation_{d}",
            "augmentations",
            [data_file(d)],
            {"augmentations": augmentations[d]},
            caption="augmentation",
            category="Data",
        )
        for d in datasets
    ]
    experiment_files = {}
    for e in experiments:
        dataset = config["experiments"][e]["dataset"]
        axes = [a for a in COMPARED_AXES if len({s[a] for s in runs if s["experiment"] == e}) > 1]
        training = _figure(
            f"training_{e}",
            "training",
            [f"{TABLES}/runs_{e}.csv", data_file(dataset)],
            {"title": e},
            caption="training",
            category="Training",
            subcategory=e,
            depends=[f"{d}/{name}" for d in run_dirs[e] for name in ("metrics.csv", "steps.csv")],
        )
        per_class = _figure(
            f"per_class_{e}",
            "per-class",
            [f"{TABLES}/per_class_{e}.csv"],
            {"title": e},
            caption="per_class_figure",
            category="Training",
            subcategory=e,
        )
        confusion = _figure(
            f"confusion_{e}",
            "confusion",
            [f"{TABLES}/confusion_{e}.csv"],
            {"title": e},
            caption="confusion",
            category="Training",
            subcategory=e,
        )
        figures += [training, per_class, confusion]
        lr_range = None
        if config["experiments"][e].get("lr_range_test"):
            lr_range = f"results/analysis/lr_range/{e}.csv"
            figures.append(
                _figure(
                    f"lr_range_{e}",
                    "lr-range",
                    [lr_range],
                    {"title": f"{e}: learning-rate range test"},
                    caption="lr_range",
                    category="Training",
                    subcategory=e,
                )
            )
        experiment_files[e] = {
            "dataset": dataset,
            "run_dirs": run_dirs[e],
            "runs": f"{TABLES}/runs_{e}.md",
            "per_class": f"{TABLES}/per_class_{e}.md",
            "figure": training["path"],
            "per_class_figure": per_class["path"],
            "confusion_figure": confusion["path"],
            "lr_range": lr_range,
            "lr_range_figure": f"{FIGURES}/lr_range_{e}.png" if lr_range else None,
            "notebook": f"{NOTEBOOKS}/{e}.ipynb",
            "comparisons": {a: f"{TABLES}/compare_{e}_{a}.md" for a in axes},
        }
    bn = None
    if config.get("bn_analysis"):
        settings = {
            "smooth": config["bn_analysis"]["figures"]["smooth_steps"],
            "channels": config["bn_analysis"]["feature_maps"]["channels"],
        }
        bn_figures = [
            _figure(
                name,
                kind,
                [bn_table(config, analysis, protocol) for analysis, protocol in tables],
                settings,
                caption=name,
                category="BatchNorm",
                subcategory=subcategory,
            )
            for name, (kind, tables, subcategory) in BN_FIGURES.items()
        ]
        figures += bn_figures
        jobs = bn_analyses(config, runs)
        bn = {
            "analyses": jobs,
            # What the summary reads: each analysis table by <analysis>.<protocol>.
            "tables": {f"{j['analysis']}.{j['protocol']}": j["path"] for j in jobs if j["path"].endswith(".csv")},
            "summary": BN_SUMMARY,
            "quirks": BN_QUIRKS,
            "table": f"{TABLES}/bn_summary.md",
            "figures": [f["path"] for f in bn_figures],
        }
    tables = [f"{TABLES}/{t}.md" for t in GENERAL_TABLES]
    tables += [
        t
        for files in experiment_files.values()
        for t in (files["runs"], files["per_class"], *files["comparisons"].values())
    ]
    tables += [bn["table"]] if bn else []
    return {
        "budget": config["budget"],
        "config": config,
        "claims": "report/claims.yaml",
        "tables": {t: f"{TABLES}/{t}.md" for t in GENERAL_TABLES},
        "augmentation_figures": {d: f"{FIGURES}/augmentation_{d}.png" for d in datasets},
        "experiments": experiment_files,
        "bn": bn,
        "figures": figures,
        "all_tables": tables,
        "notebooks": [files["notebook"] for files in experiment_files.values()],
        "datasets": datasets,
        "augmentations": augmentations,
        # Each model, dataset and width the config trains, once, in config order.
        "trained_models": [
            {"model": m, "dataset": d, "width": w}
            for m, d, w in dict.fromkeys((s["model"], s["dataset"], s["width"]) for s in runs)
        ],
    }
