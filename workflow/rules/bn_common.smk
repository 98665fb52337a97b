# Helpers of the BatchNorm analysis and figure rules (analysis.smk, figures.smk); kept apart from the rules
# as Snakemake's linter asks. BN is None where the config has no `bn_analysis` section.
from bnlab.analysis.runs import select
from bnlab.registry import MODELS

BN = config.get("bn_analysis")
# Modules every analysis of a trained model runs besides its own (bnlab.train.trainer for pick_device).
MODEL_ANALYSIS_MODULES = ("bnlab.io", "bnlab.registry", "bnlab.analysis.runs", "bnlab.data.prepare",
                          "bnlab.data.loader", "bnlab.models.common", "bnlab.train.losses", "bnlab.train.trainer")


def bn_specs(experiment, where):
    return select(list(RUNS.values()), experiment, BN["models"], where)


def bn_run_dirs(wildcards):
    return [run_dir(s) for s in bn_specs(wildcards.experiment, f"the analyses of {wildcards.experiment}")]


def bn_run_files(name):
    """An input function: ``name`` and run.json of every compared run of the wildcard's experiment."""
    return lambda wildcards: [f"{d}/{f}" for d in bn_run_dirs(wildcards) for f in (name, "run.json")]


def bn_data(wildcards):
    """The prepared dataset of the experiment (one per experiment)."""
    return f"results/data/{config['experiments'][wildcards.experiment]['dataset']}.npz"


def model_analysis_code(*modules):
    families = tuple(sorted({MODELS.source_file(m) for m in BN["models"]}))
    return provenance.code_hash(*MODEL_ANALYSIS_MODULES, *modules, files=families)


def bn_table(analysis, group, suffix="csv"):
    """The table of ``analysis`` for the experiment that bn_analysis.experiments.<group> names."""
    return f"results/analysis/{analysis}/{BN['experiments'][group]}.{suffix}"


def check_bn_experiments():
    """Fail at parse time, naming the key, when a named experiment or compared model has no runs."""
    for group, experiment in BN["experiments"].items():
        bn_specs(experiment, f"bn_analysis.experiments.{group}")
