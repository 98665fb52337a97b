"""The exploration notebook of one experiment, executed by papermill with the experiment's run folders.

The executed notebook is written to a temporary name and renamed, like every other result.
"""

from __future__ import annotations

from pathlib import Path

from bnlab.io import atomic_path


def execute(notebook: str | Path, out: str | Path, experiment: str, run_dirs: list[str]) -> None:
    import papermill

    with atomic_path(out) as tmp:
        papermill.execute_notebook(
            str(notebook),
            str(tmp),
            parameters={"experiment": experiment, "run_dirs": run_dirs},
            kernel_name="python3",
            progress_bar=False,
        )
