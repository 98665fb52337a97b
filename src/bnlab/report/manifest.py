"""The manifest: every file the report stage builds and shows, derived from the validated config.

The rule files build exactly these files (tables, figures, notebooks), and the renderer reads only
them, so what the report shows and what the workflow makes cannot drift apart. Each figure entry says
which kind of ``bnlab figure`` makes it from which inputs, with its caption and place in Snakemake's
HTML report; a study's figures follow from its config entry, never from a list in a rule file.
"""

from __future__ import annotations

from bnlab.config import expand
from bnlab.plots.figures import FIGURES as FIGURE_KINDS

TABLES, FIGURES, NOTEBOOKS = "results/tables", "results/figures", "results/notebooks"
CAPTIONS = "report/captions"
# Axes whose variation within an experiment makes it a comparison of its own in the report.
COMPARED_AXES = ("optimizer", "augmentation", "loss")
GENERAL_TABLES = ("datasets", "models", "claims", "claim_sources", "environment")
# The BatchNorm study's figures: name -> (figure kind, analysis table, bn_analysis.experiments key, subcategory).
BN_FIGURES = {
    "bn_loss_landscape": ("loss-landscape", "loss_landscape", "landscape", "Loss landscape"),
    "bn_probe_loss": ("probe-loss", "line_search", "line_search", "Loss landscape"),
    "bn_gradient_predictiveness": ("gradient-predictiveness", "line_search", "line_search", "Smoothness"),
    "bn_beta_smoothness": ("beta-smoothness", "line_search", "line_search", "Smoothness"),
    "bn_max_grad_diff": ("max-grad-diff", "grad_distance", "trained", "Smoothness"),
    "bn_input_smoothness": ("input-smoothness", "input_smoothness", "trained", "Smoothness"),
    "bn_activations": ("activations", "activations", "trained", "Activations"),
    "bn_gradient_health": ("gradient-health", "gradient_health", "trained", "Gradients"),
    "bn_feature_maps": ("feature-maps", "feature_maps", "trained", "Activations"),
    "bn_training_curves": ("bn-training-curves", "training_curves", "trained", "Training"),
}
# The BatchNorm analyses' tables: analysis -> file suffix (feature maps are arrays, not a table).
BN_ANALYSES = {
    "loss_landscape": "csv",
    "line_search": "csv",
    "training_curves": "csv",
    "grad_distance": "csv",
    "input_smoothness": "csv",
    "activations": "csv",
    "gradient_health": "csv",
    "feature_maps": "npz",
}
BN_SUMMARY = "results/analysis/bn_summary.csv"


def run_dir(spec: dict) -> str:
    return f"results/runs/{spec['experiment']}/{spec['run']}"


def data_file(dataset: str) -> str:
    return f"results/data/{dataset}.npz"


def bn_table(config: dict, analysis: str, group: str) -> str:
    """The table of ``analysis`` for the experiment that bn_analysis.experiments.<group> names."""
    return f"results/analysis/{analysis}/{config['bn_analysis']['experiments'][group]}.{BN_ANALYSES[analysis]}"


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
    options = " ".join(
        f"--{o} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for o, v in settings.items()
        if o in FIGURE_KINDS[kind].options
    )
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
        figures += [training, per_class]
        experiment_files[e] = {
            "dataset": dataset,
            "run_dirs": run_dirs[e],
            "runs": f"{TABLES}/runs_{e}.md",
            "per_class": f"{TABLES}/per_class_{e}.md",
            "figure": training["path"],
            "per_class_figure": per_class["path"],
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
                [bn_table(config, analysis, group)],
                settings,
                caption=name,
                category="BatchNorm",
                subcategory=subcategory,
            )
            for name, (kind, analysis, group, subcategory) in BN_FIGURES.items()
        ]
        figures += bn_figures
        bn = {"summary": BN_SUMMARY, "table": f"{TABLES}/bn_summary.md", "figures": [f["path"] for f in bn_figures]}
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
