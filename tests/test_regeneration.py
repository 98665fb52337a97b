"""The report stage on one finished tiny workflow: what an edit reruns (dry runs), and what the run produced.

The workflow runs with its own copy of the bnlab sources on PYTHONPATH, so an edit to a module is a
real edit of the code the rules hash; every edit is undone (content and modification time) after its test.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import TINY_CONFIG, TinyWorkflow, finished_workflow, jobs

# Jobs downstream of the tiny experiment's runs: everything that reads a run folder, and what reads those.
AFTER_RUNS = {
    "table_runs": 1,
    "table_per_class": 1,
    "table_environment": 1,
    "table_claims": 1,
    "figure_training_tiny": 1,
    "figure_per_class_tiny": 1,
    "figure_confusion_tiny": 1,
    "notebook": 1,
    "render_report": 1,
    "all": 1,
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> TinyWorkflow:
    with finished_workflow(tmp_path_factory.mktemp("regeneration"), TINY_CONFIG) as workflow:
        yield workflow


@contextlib.contextmanager
def edited(path: Path, line: str):
    """Append ``line`` to ``path`` inside the block; afterwards restore its bytes and modification time."""
    original, stat = path.read_bytes(), path.stat()
    path.write_bytes(original + line.encode())
    try:
        yield
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def rerun_after_editing(workflow: TinyWorkflow, relative: str) -> dict[str, int]:
    """The jobs a dry run plans after appending a comment to ``relative`` (under the workflow or its sources)."""
    path = workflow.root / relative if not relative.startswith("bnlab/") else workflow.root.parent / "src" / relative
    comment = "\n{# an edit #}\n" if path.suffix == ".j2" else "\n# an edit\n"
    with edited(path, comment):
        return jobs(workflow.dry_run())


def test_a_finished_workflow_plans_nothing(finished):
    assert jobs(finished.dry_run()) == {}


@pytest.mark.parametrize(
    "relative",
    ["report/template.md.j2", "report/sections/claims.md.j2", "bnlab/report/render.py"],
)
def test_editing_the_template_or_the_renderer_reruns_only_the_render(finished, relative):
    assert rerun_after_editing(finished, relative) == {"render_report": 1, "all": 1}


def test_editing_the_findings_reruns_the_render_and_the_claims_tables_that_import_them(finished):
    # bnlab.report.claims imports bnlab.report.findings (the BatchNorm pairs): the derived hashes follow.
    assert rerun_after_editing(finished, "bnlab/report/findings.py") == {
        "table_claims": 1,
        "table_claim_sources": 1,
        "render_report": 1,
        "all": 1,
    }


@pytest.mark.parametrize(
    "relative, figures",
    [
        ("bnlab/plots/training_curves.py", {"figure_training_tiny": 1}),
        ("bnlab/plots/per_class.py", {"figure_per_class_tiny": 1}),
        ("bnlab/plots/augmentation_grid.py", {"figure_augmentation_tiny": 1}),
        # The shared style: every figure, and the notebook that plots with it.
        (
            "bnlab/plots/style.py",
            {
                "figure_training_tiny": 1,
                "figure_per_class_tiny": 1,
                "figure_confusion_tiny": 1,
                "figure_augmentation_tiny": 1,
                "notebook": 1,
            },
        ),
    ],
)
def test_editing_a_plotting_function_reruns_only_its_figures_and_the_report(finished, relative, figures):
    assert rerun_after_editing(finished, relative) == {**figures, "render_report": 1, "all": 1}


def test_editing_the_claims_reruns_only_the_claims_tables_and_the_report(finished):
    assert rerun_after_editing(finished, "report/claims.yaml") == {
        "table_claims": 1,
        "table_claim_sources": 1,
        "render_report": 1,
        "all": 1,
    }


def test_editing_training_code_reruns_the_runs_and_everything_downstream(finished):
    assert rerun_after_editing(finished, "bnlab/train/trainer.py") == {"train": 2, **AFTER_RUNS}


def test_editing_a_model_family_reruns_its_runs_and_what_counts_its_parameters(finished):
    assert rerun_after_editing(finished, "bnlab/models/lenet.py") == {"train": 1, "table_models": 1, **AFTER_RUNS}


def test_one_figure_is_rebuilt_by_naming_it(finished):
    assert jobs(finished.dry_run("--force", "results/figures/training_tiny.png")) == {"figure_training_tiny": 1}


def test_the_report_folder_is_self_contained(finished):
    folder = finished.root / "results" / "report"
    text = (folder / "report.md").read_text()
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert {
        "figures/training_tiny.png",
        "figures/per_class_tiny.png",
        "figures/augmentation_tiny.png",
        "notebooks/tiny.ipynb",
    } <= set(links)
    for link in links:
        assert not link.startswith(("/", "..")) and (folder / link).is_file(), link
    figure = "training_tiny.png"
    assert (folder / "figures" / figure).read_bytes() == (finished.root / "results" / "figures" / figure).read_bytes()


def test_every_figure_has_its_svg_twin(finished):
    figures = finished.root / "results" / "figures"
    assert sorted(p.stem for p in figures.glob("*.png")) == sorted(p.stem for p in figures.glob("*.svg"))


def test_the_notebook_ran_on_the_experiments_run_folders(finished):
    notebook = json.loads((finished.root / "results" / "notebooks" / "tiny.ipynb").read_text())
    injected = next(c for c in notebook["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    run_dirs = sorted(str(p.relative_to(finished.root)) for p in (finished.root / "results/runs/tiny").iterdir())
    assert 'experiment = "tiny"' in "".join(injected["source"])
    assert all(d in "".join(injected["source"]) for d in run_dirs)
    outputs = [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert outputs and not any(o["output_type"] == "error" for o in outputs)
    assert any("image/png" in o.get("data", {}) for o in outputs)  # figures show inline


def test_per_class_accuracy_averages_to_the_final_test_accuracy(finished):
    """The tiny test set is balanced, so the mean per-class accuracy is the overall accuracy."""
    accuracy = pd.read_csv(finished.root / "results" / "tables" / "per_class_tiny.csv")
    runs = pd.read_csv(finished.root / "results" / "tables" / "runs_tiny.csv").set_index("run")
    for run, group in accuracy.groupby("run"):
        assert group["accuracy"].mean() == pytest.approx(runs.loc[run, "final_test_acc"])


def test_snakemakes_html_report_bundles_the_marked_outputs(finished):
    html = finished.root / "report.html"
    finished.snakemake("--report", str(html))
    text = html.read_text()
    assert "Training runs of experiment" in text and "Claimed vs measured" in text  # captions, rendered
    for category in ("Data", "Models", "Training", "Claims", "Environment", "Report"):
        assert category in text


def test_the_report_rules_are_lint_clean(finished):
    result = finished.snakemake("--lint", check=False)
    assert "report.smk" not in result.stdout + result.stderr
