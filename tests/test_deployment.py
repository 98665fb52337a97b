"""Software deployment: the conda environment survives Snakemake's copy, and the container names pyproject's pins.

Snakemake 9 (snakemake/deployment/conda.py) copies an env file to ``.snakemake/conda/<hash>.yaml`` and its
``<name>.post-deploy.sh`` to ``<hash>.post-deploy.sh``, creates the environment with ``conda env create --file``
on the copy (conda runs pip in the copy's folder), then runs the post-deploy script inside the environment.
Conda channels are out of reach here, so these tests work on the files and replay the steps that need no network.
"""

import os
import re
import shutil
import stat
import subprocess
import tomllib

import yaml
from packaging.requirements import Requirement

from conftest import REPO, TINY_CONFIG, TinyWorkflow

ENV_FILE = REPO / "envs" / "bnlab.yaml"
POST_DEPLOY = REPO / "envs" / "bnlab.post-deploy.sh"


def pinned(requirements) -> dict[str, str]:
    """{package name: version specifier} of requirement strings, e.g. {"torch": "==2.14.1"}."""
    parsed = [Requirement(r) for r in requirements]
    return {r.name.lower(): str(r.specifier) for r in parsed}


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def pip_entries(env: dict) -> list[str]:
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def test_the_env_file_lists_the_dependencies_of_pyproject_with_the_same_pins():
    env = yaml.safe_load(ENV_FILE.read_text())
    assert pinned(pip_entries(env)) == pinned(pyproject()["dependencies"])
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert pyproject()["requires-python"] == f">={python.removeprefix('python=')}"


def test_the_env_file_works_from_snakemakes_copy(tmp_path):
    """Replay Snakemake's copy: every pip entry must mean the same from .snakemake/conda/ (no relative paths, as
    `-e ..` was), and the copied post-deploy script must give the environment a `bnlab` command."""
    conda_dir = tmp_path / "workdir" / ".snakemake" / "conda"
    conda_dir.mkdir(parents=True)
    env_path = conda_dir / "0123456789abcdef0123456789abcdef"  # Snakemake names it by a hash of the contents
    shutil.copy(ENV_FILE, f"{env_path}.yaml")
    shutil.copy(POST_DEPLOY, f"{env_path}.post-deploy.sh")

    copied = yaml.safe_load(open(f"{env_path}.yaml"))
    entries = pip_entries(copied)
    assert all(not e.startswith("-") and Requirement(e).url is None for e in entries)  # nothing read from disk
    assert pinned(entries) == pinned(pyproject()["dependencies"])  # what pip would install into the environment

    # Snakemake runs the copy inside the activated environment: CONDA_PREFIX is the environment's folder.
    (env_path / "bin").mkdir(parents=True)
    subprocess.run(
        ["bash", f"{env_path}.post-deploy.sh"],
        env={**os.environ, "CONDA_PREFIX": str(env_path)},
        cwd=tmp_path / "workdir",
        check=True,
    )
    launcher = env_path / "bin" / "bnlab"
    assert launcher.stat().st_mode & stat.S_IXUSR

    # The command runs the bnlab on PYTHONPATH (the workflow's src/), ahead of any installed copy.
    stub = tmp_path / "source" / "bnlab"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("")
    (stub / "cli.py").write_text("def main():\n    print('bnlab from', __file__)\n")
    run = subprocess.run(
        [str(launcher)], env={**os.environ, "PYTHONPATH": str(stub.parent)}, capture_output=True, text=True, check=True
    )
    assert run.stdout == f"bnlab from {stub / 'cli.py'}\n"


def test_jobs_run_the_bnlab_of_the_workflows_own_source_tree(tmp_path):
    """Every job imports bnlab from {workflow.basedir}/src, as it must under --sdm conda, where the environment
    holds only the dependencies: a copy of the workflow whose src/ announces itself runs that copy."""
    workflow = TinyWorkflow(tmp_path / "wf", TINY_CONFIG)
    shutil.copytree(REPO / "src", workflow.root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    cli = workflow.root / "src" / "bnlab" / "cli.py"
    cli.write_text(
        cli.read_text().replace(
            "def main(argv: list[str] | None = None) -> None:\n",
            "def main(argv: list[str] | None = None) -> None:\n    print('bnlab from', __file__)\n",
            1,
        )
    )
    workflow.snakemake("results/data/tiny.npz")
    assert f"bnlab from {cli}\n" in (workflow.root / "logs" / "prepare" / "tiny.log").read_text()


def test_the_container_names_the_pins_of_pyproject_on_a_cuda_base():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM nvidia/cuda:\S+$", dockerfile, re.M)
    named = pinned(re.findall(r"\b[A-Za-z][\w.-]*==[\w.]+", dockerfile))
    required = pinned(pyproject()["dependencies"])
    assert {"torch", "torchvision"} <= named.keys() and all(required[name] == pin for name, pin in named.items())
    assert "pip install /opt/bnlab" in dockerfile  # the rest of the dependencies, from pyproject.toml itself
    env_python = next(d for d in yaml.safe_load(ENV_FILE.read_text())["dependencies"] if str(d).startswith("python="))
    assert f"python{env_python.removeprefix('python=')} -m venv" in dockerfile
