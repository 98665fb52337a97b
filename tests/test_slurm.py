"""The SLURM profile (workflow/profiles/slurm) on a real cluster, through snakemake-executor-plugin-slurm.

tests/slurm/start-cluster.sh starts the cluster: Debian's Slurm on localhost, one node with partitions `cpu` and
`gpu` (the names partitions.yaml ships with), two fake GPUs, memory limits enforced, no accounting database.
.ci/run starts it around the test run; tests/slurm/stop-cluster.sh stops it. The tests marked `slurm` skip where
that cluster (named bnlab-test, so a real cluster is never used) is not running.

The workflow is conftest's tiny one with one model, and the profile is the shipped one with the keys a site edits
(account, memory) set for the test cluster. Runs take tens of seconds: every job starts two Snakemakes, and the
executor polls SLURM at a growing interval. The time-limit run waits for SLURM to cut a job at its 1-minute limit,
so it starts before the other cluster runs and goes alongside them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
import yaml

from bnlab.data.sources import DATA_ROOT_ENV, MIRROR_ENV
from bnlab.train.trainer import TIMING_COLUMNS
from conftest import REPO, TINY_CONFIG, TinyWorkflow, deep_merge

PROFILE = Path("workflow/profiles/slurm")
CLUSTER = "bnlab-test"
# The default-resources a site edits (docs/cluster.md), set for the test cluster: it has no accounts to check, and
# it counts a shared page once (UsePss), so a job of the tiny workflow fits in less than docs/cluster.md advises.
SITE_RESOURCES = {"slurm_account": "bnlab", "mem_mb": 1500}
# The test cluster keeps no accounting database, so squeue answers the executor's status queries; a short first
# status check keeps the runs short; --verbose logs every sbatch call.
CLUSTER_OPTIONS = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2", "--verbose")
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
SBATCH_CALL = re.compile(r"^sbatch call: (sbatch .*)$", re.M)
# Keys of run.json that measure wall-clock time, the only ones two runs of the same spec may differ in.
WALL_CLOCK_KEYS = {"train_seconds"}
ONE_MODEL = deep_merge(TINY_CONFIG, {"experiments": {"tiny": {"model": "simple_cnn"}}})


def missing_cluster() -> str | None:
    """Why the slurm tests cannot run here, or None when the test cluster is up."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')"
    if shutil.which("scontrol") is None:
        return "no SLURM here; tests/slurm/start-cluster.sh starts a test cluster"
    try:
        shown = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30).stdout
    except subprocess.TimeoutExpired:
        return "scontrol does not answer; tests/slurm/start-cluster.sh starts a test cluster"
    if not re.search(rf"^ClusterName\s*=\s*{CLUSTER}$", shown, re.M):
        return f"no {CLUSTER} cluster is running; tests/slurm/start-cluster.sh starts one"
    return None


MISSING_CLUSTER = missing_cluster()


def on_the_cluster(test):
    """Mark ``test`` `slurm`, skipped where the test cluster is not running."""
    return pytest.mark.slurm(pytest.mark.skipif(MISSING_CLUSTER is not None, reason=MISSING_CLUSTER or "")(test))


def checkout(root: Path, config: dict) -> TinyWorkflow:
    """conftest's tiny workflow with a copy of the bnlab sources, which Snakemake and every job import from.

    So the code a job runs, and its code hash, cannot change between the attempts of a job while the tree is edited.
    """
    workflow = TinyWorkflow(root, config)
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return workflow


def site_workflow(root: Path, config: dict) -> TinyWorkflow:
    """A checkout whose copy of the SLURM profile is edited as a site edits it."""
    workflow = checkout(root, config)
    profile = root / PROFILE / "config.yaml"
    settings = yaml.safe_load(profile.read_text())
    settings["default-resources"].update(SITE_RESOURCES)
    profile.write_text(yaml.safe_dump(settings, sort_keys=False))
    return workflow


def cluster_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--profile", str(PROFILE), *CLUSTER_OPTIONS, *args]


def cluster_env(**extra: str) -> dict[str, str]:
    """The environment, without a data root that would replace the tiny workflow's own data."""
    return {**{k: v for k, v in os.environ.items() if k != DATA_ROOT_ENV}, **extra}


class Submission:
    """One Snakemake run through the SLURM profile: its output and the SLURM jobs it submitted."""

    def __init__(self, returncode: int, output: str):
        self.returncode, self.output = returncode, output
        self.slurm_logs = {int(m[1]): Path(m[2]) for m in SUBMITTED.finditer(output)}

    def sbatch_calls(self) -> dict[str, str]:
        """The options of each rule's sbatch call (the command SLURM runs left out), by rule."""
        calls = [call.split(" --wrap=")[0] for call in SBATCH_CALL.findall(self.output)]
        return {rule_of(re.search(r"--comment (\S+)", call)[1]): call for call in calls}

    def failure(self) -> str:
        return f"Snakemake exited with {self.returncode}:\n{self.output[-6000:]}"


def submit(workflow: TinyWorkflow, *args: str) -> Submission:
    result = subprocess.run(
        cluster_command(*args), cwd=workflow.root, capture_output=True, text=True, env=cluster_env()
    )
    return Submission(result.returncode, result.stdout + result.stderr)


def rule_of(comment: str) -> str:
    """The rule of a job from the comment the executor gives it: rule_<rule>[_wildcards_<values>]."""
    return re.fullmatch(r"rule_(\w+?)(?:_wildcards_.*)?", comment)[1]


def slurm_history(job_ids) -> list[dict]:
    """Rule, final state and GPU request of each job, as SLURM's controller remembers them (for an hour here)."""
    if not job_ids:
        return []
    shown = subprocess.run(
        [
            "squeue",
            "--noheader",
            "--states=all",
            "--jobs",
            ",".join(map(str, job_ids)),
            "--Format=JobID:|,Comment:|,State:|,tres-per-job:",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("|") for line in shown.splitlines()]
    return sorted(
        ({"id": int(i), "rule": rule_of(c), "state": s, "gpus": g} for i, c, s, g in rows), key=lambda job: job["id"]
    )


def run_outputs(root: Path) -> dict[str, object]:
    """Every file under results/, as what two runs of the same code must agree on (wall-clock times left out)."""
    outputs = {}
    for path in sorted((root / "results").rglob("*")):
        if not path.is_file():
            continue
        if path.name == "metrics.csv":
            content = pd.read_csv(path).drop(columns=TIMING_COLUMNS).to_csv(index=False)  # NaN == NaN as text
        elif path.name == "run.json":
            content = {k: v for k, v in json.loads(path.read_text()).items() if k not in WALL_CLOCK_KEYS}
        elif path.suffix == ".pt":
            content = {k: v.tolist() for k, v in torch.load(path, weights_only=False)["state_dict"].items()}
        else:
            content = path.read_bytes()
        outputs[str(path.relative_to(root))] = content
    return outputs


def test_the_profile_sets_resources_only_for_rules_of_the_workflow(tmp_path):
    """A renamed rule would silently lose its resources; the full config builds every rule there is."""
    workflow = TinyWorkflow(tmp_path / "wf", yaml.safe_load((REPO / "config.yaml").read_text()))
    rules = set(workflow.snakemake("--list-rules").stdout.split())
    settings = yaml.safe_load((REPO / PROFILE / "config.yaml").read_text())
    assert "train" in settings["set-resources"]
    assert set(settings["set-resources"]) <= rules


# -- on the cluster ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def time_limited(tmp_path_factory):
    """A training run with a 1-minute time limit that it far exceeds, started early and run alongside the rest."""
    root = tmp_path_factory.mktemp("time_limited")
    workflow = site_workflow(root / "wf", deep_merge(ONE_MODEL, {"experiments": {"tiny": {"epochs": 100_000}}}))
    log = (root / "snakemake.log").open("w")
    # PYTHONUNBUFFERED: the training log shows that the second attempt resumed as soon as it has.
    process = subprocess.Popen(
        cluster_command("--until", "train", "--set-resources", "train:runtime=1"),
        cwd=workflow.root,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=cluster_env(PYTHONUNBUFFERED="1"),
    )
    yield workflow, process, root / "snakemake.log"
    if process.poll() is None:  # the executor cancels its SLURM jobs on SIGINT, as on Ctrl-C
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    log.close()


@pytest.fixture(scope="module")
def cluster_runs(time_limited, tmp_path_factory):
    """The smallest sub-DAG that trains (prepare -> train): twice on the cluster and, alongside, once locally.

    The first cluster run gives train 300 MB, less than it needs: prepare completes and train is killed. The
    second is the same command at the site's memory limit. (It asks for ``time_limited`` only to start that first.)
    """
    root = tmp_path_factory.mktemp("cluster_runs")
    local, cluster = checkout(root / "local", ONE_MODEL), site_workflow(root / "cluster", ONE_MODEL)
    prepared = cluster.root / "results" / "data" / "tiny.npz"
    with ThreadPoolExecutor(1) as pool:
        local_run = pool.submit(local.snakemake, "--until", "train")
        # No retries: the profile's would repeat the same failure.
        failed = submit(cluster, "--until", "train", "--set-resources", "train:mem_mb=300", "--retries", "0")
        prepared_at = prepared.stat().st_mtime_ns if prepared.exists() else None
        rerun = submit(cluster, "--until", "train")
        local_run.result()
    return SimpleNamespace(workflow=cluster, local=local, failed=failed, prepared_at=prepared_at, rerun=rerun)


@on_the_cluster
def test_a_job_over_its_memory_limit_is_reported_with_its_slurm_log(cluster_runs):
    failed = cluster_runs.failed
    assert failed.returncode != 0
    history = slurm_history(failed.slurm_logs)
    assert [(job["rule"], job["state"]) for job in history][:1] == [("prepare", "COMPLETED")]
    (train,) = [job for job in history if job["rule"] == "train"]
    assert train["state"] != "COMPLETED", failed.failure()
    slurm_log = failed.slurm_logs[train["id"]]
    assert str(slurm_log) in failed.output[failed.output.index("Error in rule train") :]
    assert re.search(r"exceeded (job )?memory limit", slurm_log.read_text(), re.I)


@on_the_cluster
def test_a_rerun_at_the_sites_memory_limit_completes_without_recomputing_finished_jobs(cluster_runs):
    rerun = cluster_runs.rerun
    assert rerun.returncode == 0, rerun.failure()
    assert [(job["rule"], job["state"]) for job in slurm_history(rerun.slurm_logs)] == [("train", "COMPLETED")]
    prepared = cluster_runs.workflow.root / "results" / "data" / "tiny.npz"
    assert prepared.stat().st_mtime_ns == cluster_runs.prepared_at


@on_the_cluster
def test_every_job_ran_as_a_slurm_job_and_completed(cluster_runs):
    failed, rerun = cluster_runs.failed, cluster_runs.rerun
    assert rerun.returncode == 0, rerun.failure()
    history = slurm_history([*failed.slurm_logs, *rerun.slurm_logs])
    assert Counter(job["rule"] for job in history if job["state"] == "COMPLETED") == {"prepare": 1, "train": 1}
    assert "localrule" not in failed.output + rerun.output


@on_the_cluster
def test_the_clusters_outputs_equal_a_local_runs(cluster_runs):
    assert cluster_runs.rerun.returncode == 0, cluster_runs.rerun.failure()
    outputs = run_outputs(cluster_runs.workflow.root)
    assert {Path(p).name for p in outputs} >= {"tiny.npz", "metrics.csv", "steps.csv", "model.pt", "run.json"}
    assert outputs == run_outputs(cluster_runs.local.root)


def option(call: str, flag: str) -> str | None:
    """The value ``flag`` has in an sbatch call (``-p gpu`` or ``--gpus=1``), or None where it is absent."""
    found = re.search(rf"(?:^| ){re.escape(flag)}[ =](\S+)", call)
    return found[1] if found else None


@on_the_cluster
def test_a_gpu_rule_asks_the_gpu_partition_for_a_gpu_and_a_cpu_rule_for_none(cluster_runs):
    rerun = cluster_runs.rerun
    assert rerun.returncode == 0, rerun.failure()
    prepare, train = cluster_runs.failed.sbatch_calls()["prepare"], rerun.sbatch_calls()["train"]
    # train is marked `resources: gpu=1`: the executor's own GPU request, sent to the partition with GPUs.
    assert (option(train, "--gpus"), option(train, "-p")) == ("1", "gpu")
    assert (option(prepare, "--gpus"), option(prepare, "--gres"), option(prepare, "-p")) == (None, None, "cpu")
    for call in (train, prepare):
        assert (option(call, "-A"), option(call, "--mem"), option(call, "--cpus-per-task")) == ("bnlab", "1500", "1")
    assert (option(train, "-t"), option(prepare, "-t")) == ("360", "60")
    # SLURM gave the training job a GPU (one of the test cluster's fake ones).
    assert [job["gpus"] for job in slurm_history(rerun.slurm_logs)] == ["gres:gpu:1"]


@on_the_cluster
def test_download_runs_on_the_submitting_host_not_as_a_slurm_job(tmp_path):
    """Compute nodes are often offline. Here the download fails at once: its mirror does not exist."""
    workflow = site_workflow(tmp_path / "wf", deep_merge(ONE_MODEL, {"data_root": None}))
    mirror = (tmp_path / "no-mirror").as_uri()
    # No retries: a mirror that is not there stays so.
    result = subprocess.run(
        cluster_command("--until", "download", "--retries", "0"),
        cwd=workflow.root,
        capture_output=True,
        text=True,
        env=cluster_env(**{MIRROR_ENV: mirror}),
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "localrule download:" in output and "Error in rule download" in output
    assert not SUBMITTED.search(output)
    assert mirror in (workflow.root / "logs" / "download" / "tiny.log").read_text()


@on_the_cluster
def test_a_training_job_cut_at_its_time_limit_resumes_from_its_checkpoint(time_limited):
    """SLURM cuts each attempt 60-90 s in, the profile's retries resubmit it and it resumes; stopped once resumed."""
    workflow, process, snakemake_log = time_limited
    train_logs = workflow.root / "logs" / "train" / "tiny"

    def resumed():  # in the latest attempt's log: each attempt rewrites it
        logs = list(train_logs.glob("*.log"))
        return re.search(r"resuming \S+ after epoch (\d+)", logs[0].read_text()) if logs else None

    deadline = time.monotonic() + 480
    while (resumption := resumed()) is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(2)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    submission = Submission(process.returncode, snakemake_log.read_text())
    trains = [job for job in slurm_history(submission.slurm_logs) if job["rule"] == "train"]
    assert resumption, f"no attempt resumed; SLURM's train jobs: {trains}\n{submission.output[-4000:]}"
    assert int(resumption[1]) >= 1
    assert len(trains) >= 2 and trains[0]["state"] == "TIMEOUT", trains
