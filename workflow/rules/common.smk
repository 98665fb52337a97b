# The run table and target lists, built by bnlab from the validated config.
import json
import re
import shlex
import sys
from pathlib import Path

# Jobs import bnlab from this workflow's own src/ (under --sdm conda the environment holds only its dependencies,
# envs/bnlab.yaml), and so does Snakemake here, so the code hashed below is the code the jobs run.
SOURCE = str(Path(workflow.basedir).parent / "src")
sys.path.insert(0, SOURCE)
shell.prefix("set -euo pipefail; export PYTHONPATH=" + shlex.quote(SOURCE) + '"${{PYTHONPATH:+:$PYTHONPATH}}"; ')

from bnlab import config as study, provenance
from bnlab.data.sources import data_root
from bnlab.report import manifest as report_manifest
from bnlab.report.manifest import data_file, run_dir

study.validate(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
DATA_ROOT = data_root(config["data_root"])
study.check(config, DATA_ROOT)
RUNS = {(spec["experiment"], spec["run"]): spec for spec in study.expand(config)}
# Every file the report stage makes and shows (bnlab.report.manifest); the report rules build from it.
MANIFEST = report_manifest.build(config)
ENV = "../../envs/bnlab.yaml"


wildcard_constraints:
    dataset=study.NAME_PATTERN,
    experiment=study.NAME_PATTERN,
    run="[^/]+",


def run_spec(wildcards):
    return RUNS[(wildcards.experiment, wildcards.run)]


def dataset_source(wildcards):
    """A local copy under data_root when one is configured, else the torchvision download."""
    dataset = config["datasets"][wildcards.dataset]
    if DATA_ROOT is not None:
        return str(DATA_ROOT / dataset["local"])
    return f"results/downloads/{wildcards.dataset}"


def run_files(name, experiment=None):
    return [f"{run_dir(s)}/{name}" for (e, _), s in RUNS.items() if experiment in (None, e)]


# The report stage's views of the manifest.
EXPERIMENTS = list(MANIFEST["experiments"])
EXPERIMENT_PATTERN = "|".join(map(re.escape, EXPERIMENTS)) or "(?!)"  # keeps other stages' files out of report rules
EXPERIMENT_RUN_DIRS = {e: files["run_dirs"] for e, files in MANIFEST["experiments"].items()}
EXPERIMENT_DATA = {e: data_file(files["dataset"]) for e, files in MANIFEST["experiments"].items()}
EXPERIMENT_MODELS = {e: sorted({s["model"] for (x, _), s in RUNS.items() if x == e}) for e in EXPERIMENTS}
TRAINED_MODEL_NAMES = sorted({m["model"] for m in MANIFEST["trained_models"]})
BN_SUMMARY = MANIFEST["bn"]["summary"] if MANIFEST["bn"] else None


def lr_range_specs(wildcards):
    """The run specs of the models an experiment's learning-rate range test sets up (its `lr_range_test` key)."""
    models = config["experiments"][wildcards.experiment]["lr_range_test"]["models"]
    specs = {s["model"]: s for s in study.select(list(RUNS.values()), wildcards.experiment, models, "lr_range_test")}
    return [study.spec_json(specs[m]) for m in models]


# What `rule all` builds; each stage's rule file appends its final outputs.
TARGETS = run_files("run.json")
