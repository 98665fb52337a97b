"""Shared fixtures: tiny synthetic datasets and a tiny copy of the workflow to run Snakemake on."""

from __future__ import annotations

import contextlib
import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# A config's dataset entry for a CIFAR-10 source with nothing subsetted: tests override what they test.
DATASET_ENTRY = {
    "torchvision": "CIFAR10",
    "local": "x",
    "train_per_class": None,
    "test_per_class": None,
    "split": [3, 1, 1],
    "seed": 0,
    "image_size": None,
}


def synthetic_images(per_class: int, classes: int = 10, size: int = 32, channels: int = 3, seed: int = 0):
    """Learnable images: each class is a fixed random pattern plus noise, as uint8 (N, H, W, C).

    The patterns are the same for every seed, so a test split drawn with another seed is learnable.
    """
    patterns = np.random.default_rng(1234).integers(40, 216, size=(classes, size, size, channels))
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), per_class)
    noise = rng.normal(0, 25, size=(len(labels), size, size, channels))
    images = np.clip(patterns[labels] + noise, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def write_npz(path: Path, train_per_class: int = 20, test_per_class: int = 10, **kwargs) -> Path:
    x_train, y_train = synthetic_images(train_per_class, seed=0, **kwargs)
    x_test, y_test = synthetic_images(test_per_class, seed=1, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def deep_merge(base: dict, overrides: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


TINY_CONFIG = {
    "budget": "test",
    "data_root": "data",
    "threads": 1,
    "datasets": {"tiny": {"torchvision": "CIFAR10", "local": "tiny.npz", "num_classes": 10}},
    "experiments": {
        "tiny": {
            "dataset": "tiny",
            "model": ["simple_cnn", "vgg_a"],
            "width": 0.125,
            "lr": 0.01,
            "epochs": 2,
            "batch_size": 50,
            "augmentation": "flip",
        },
    },
}


class TinyWorkflow:
    """A copy of the workflow in a temporary folder, with a tiny dataset and config."""

    def __init__(self, root: Path, config: dict):
        self.root = root
        root.mkdir(parents=True)
        for name in ("workflow", "report", "envs"):
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            elif source.exists():
                shutil.copy(source, root / name)
        write_npz(root / "data" / "tiny.npz")
        self.write_config(config)

    def write_config(self, config: dict) -> None:
        self.config = config
        (self.root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    def snakemake(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        # Options that take several values (--resources, --quiet) go last, so targets in args stay targets.
        cmd = [sys.executable, "-m", "snakemake", *args, "--cores", "2", "--resources", "gpu=1"]
        result = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
        return result

    def dry_run(self, *args: str) -> str:
        """The jobs a run would execute, as Snakemake's summary table text."""
        result = self.snakemake(*args, "-n", "--quiet", "rules")
        return result.stdout + result.stderr


def jobs(dry_run_text: str) -> dict[str, int]:
    """{rule: count} from the job-stats table of a dry run ({} when nothing is to be done)."""
    table = dry_run_text.split("Job stats:")[-1] if "Job stats:" in dry_run_text else ""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M) if m[1] != "total"}


@pytest.fixture
def tiny_workflow(tmp_path) -> TinyWorkflow:
    return TinyWorkflow(tmp_path / "wf", copy.deepcopy(TINY_CONFIG))


@contextlib.contextmanager
def finished_workflow(root: Path, config: dict, *targets: str, env: dict[str, str] | None = None):
    """A tiny workflow run to ``targets`` (default: all) with its own copy of the bnlab sources on PYTHONPATH.

    Snakemake and every job import that copy, so a test can edit a module (``workflow.sources``) and
    dry-run to see what the edit reruns, without touching the installed package. ``env``: more environment
    variables for the first run only; its output is ``workflow.first_run``.
    """
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(root / "src"))
        workflow = TinyWorkflow(root / "wf", copy.deepcopy(config))
        workflow.sources = root / "src" / "bnlab"
        with pytest.MonkeyPatch.context() as first_run_env:
            for key, value in (env or {}).items():
                first_run_env.setenv(key, value)
            workflow.first_run = workflow.snakemake(*targets)
        yield workflow


def requires_shared_data(*parts: str):
    path = SHARED_DATA.joinpath(*parts)
    return pytest.mark.skipif(not path.exists(), reason=f"{path} is absent")
