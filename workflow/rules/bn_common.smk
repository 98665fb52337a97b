# Helpers of the BatchNorm analysis and figure rules (analysis.smk, figures.smk); kept apart from the rules
# as Snakemake's linter asks. BN is None where the config has no `bn_analysis` section.
from bnlab.config import select
from bnlab.report.manifest import bn_table

BN = config.get("bn_analysis")


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
