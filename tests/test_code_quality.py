"""The tree is clean under the community's tools (ruff lint and format, snakefmt), and the layers run one way."""

import shutil
import subprocess
import sys

import pytest

from conftest import REPO


def run(*cmd: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, **kwargs)


@pytest.mark.parametrize(
    "cmd",
    [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("snakefmt", "--check", "workflow"),
        ("lint-imports",),
    ],
    ids=lambda cmd: " ".join(cmd),
)
def test_the_tree_is_clean(cmd):
    if shutil.which(cmd[0]) is None:
        pytest.fail(f"{cmd[0]} is not installed: pip install -e '.[dev]'")
    result = run(*cmd)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_layer_that_imports_a_higher_one_breaks_the_contract(tmp_path):
    """The layering contract is live: a back-edge (the data layer importing the report) fails lint-imports."""
    shutil.copytree(REPO / "src" / "bnlab", tmp_path / "bnlab", ignore=shutil.ignore_patterns("__pycache__"))
    loader = tmp_path / "bnlab" / "data" / "loader.py"
    loader.write_text(
        loader.read_text() + "\n\ndef back_edge():\n    from bnlab.report import tables\n\n    return tables\n"
    )
    result = run(
        sys.executable,
        "-c",
        "from importlinter.cli import lint_imports_command; lint_imports_command()",
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "bnlab.data.loader -> bnlab.report.tables" in result.stdout
