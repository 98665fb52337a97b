# The run table and target lists, built by bnlab from the validated config.
import json
from pathlib import Path

from bnlab import config as study, provenance
from bnlab.data.sources import data_root

study.validate(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
RUNS = {(spec["experiment"], spec["run"]): spec for spec in study.expand(config)}
DATA_ROOT = data_root(config["data_root"])
RUN_FILES = ("metrics.csv", "steps.csv", "probes.csv", "model.pt", "run.json")
ENV = "../../envs/bnlab.yaml"


wildcard_constraints:
    dataset="[A-Za-z0-9_]+",
    experiment="[A-Za-z0-9_]+",
    run="[^/]+",


def run_spec(wildcards):
    return RUNS[(wildcards.experiment, wildcards.run)]


def run_dir(spec):
    return f"results/runs/{spec['experiment']}/{spec['run']}"


def dataset_source(wildcards):
    """A local copy under data_root when one is configured, else the torchvision download."""
    dataset = config["datasets"][wildcards.dataset]
    if DATA_ROOT is not None:
        return str(DATA_ROOT / dataset["local"])
    return f"results/downloads/{wildcards.dataset}"


def run_files(name, experiment=None):
    return [f"{run_dir(s)}/{name}" for (e, _), s in RUNS.items() if experiment in (None, e)]


# What `rule all` builds; each stage's rule file appends its final outputs.
TARGETS = run_files("run.json")
