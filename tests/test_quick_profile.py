"""The quick profile end to end on the real CIFAR-10 (long: `pytest -m slow`)."""

import json
import shutil

import pytest

from conftest import REPO, SHARED_DATA, TinyWorkflow, jobs, requires_shared_data

pytestmark = [pytest.mark.slow, pytest.mark.shared_data, requires_shared_data("cifar10")]


def test_the_quick_profile_trains_above_chance_and_renders_the_report(tmp_path, monkeypatch):
    workflow = TinyWorkflow(tmp_path / "wf", {})
    shutil.copy(REPO / "config.yaml", workflow.root / "config.yaml")
    monkeypatch.setenv("BNLAB_DATA_ROOT", str(SHARED_DATA))
    workflow.snakemake("--profile", str(workflow.root / "workflow" / "profiles" / "quick"))

    runs = [json.loads(p.read_text()) for p in (workflow.root / "results" / "runs").glob("*/*/run.json")]
    assert len(runs) >= 6 and all(r["status"] == "ok" for r in runs)
    assert all(r["final_test_acc"] > 15 for r in runs), {r["run"]: r["final_test_acc"] for r in runs}
    report = (workflow.root / "results" / "report" / "report.md").read_text()
    assert "Budget: quick" in report
    assert jobs(workflow.dry_run("--profile", str(workflow.root / "workflow" / "profiles" / "quick"))) == {}
