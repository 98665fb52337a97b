"""bnlab.provenance derives the code each verb runs by reading imports: nothing to keep in sync by hand."""

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

from bnlab import provenance
from conftest import REPO


def modules(verb: str, models=()) -> set[str]:
    return {
        ".".join(p.relative_to(provenance.ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in provenance.code_files(verb, models)
    }


@pytest.fixture
def sources(tmp_path):
    """A private copy of the package, so a test can add modules and imports to it."""
    shutil.copytree(REPO / "src" / "bnlab", tmp_path / "bnlab", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def derived(sources, verb: str, models=()) -> list[str]:
    """The code files of ``verb`` as the copy at ``sources`` derives them (in a fresh interpreter)."""
    code = textwrap.dedent(f"""
        import json
        from bnlab import provenance
        files = provenance.code_files({verb!r}, {list(models)!r})
        print(json.dumps([str(p.relative_to(provenance.ROOT)) for p in files]))
    """)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(sources), "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_a_new_import_in_a_module_the_trainer_uses_joins_the_train_hash_by_itself(sources):
    (sources / "bnlab" / "data" / "colour.py").write_text('"""A helper the loader starts to use."""\n')
    loader = sources / "bnlab" / "data" / "loader.py"
    loader.write_text(
        loader.read_text().replace("import torch\n", "import torch\n\nfrom bnlab.data import colour\n", 1)
    )
    assert "data/colour.py" in derived(sources, "train", ["vgg_a"])
    assert "data/colour.py" not in derived(sources, "figure loss-landscape")


def test_a_lazy_import_inside_a_function_counts(sources):
    (sources / "bnlab" / "plots" / "bn" / "extra.py").write_text('"""Imported lazily."""\n')
    landscape = sources / "bnlab" / "plots" / "bn" / "landscape.py"
    landscape.write_text(
        landscape.read_text() + "\n\ndef later():\n    from bnlab.plots.bn import extra\n\n    return extra\n"
    )
    assert "plots/bn/extra.py" in derived(sources, "figure loss-landscape")
    assert "plots/bn/extra.py" not in derived(sources, "figure max-grad-diff")


def test_a_verb_covers_its_own_function_but_not_the_other_verbs_of_its_cli_module():
    grad_distance = provenance.code_hash("analyse grad-distance", ["vgg_a"])
    assert "bnlab.analysis.grad_distance" in modules("analyse grad-distance")
    assert "bnlab.analysis.grad_distance" not in modules("analyse activations")
    assert "bnlab.analysis.activations" not in modules("analyse grad-distance")
    assert grad_distance != provenance.code_hash("analyse input-smoothness", ["vgg_a"])


def test_a_job_covers_only_the_model_families_it_builds():
    vgg, lenet = modules("train", ["vgg_a"]), modules("train", ["simple_cnn"])
    assert "bnlab.models.vgg" in vgg and "bnlab.models.lenet" not in vgg
    assert "bnlab.models.lenet" in lenet and "bnlab.models.vgg" not in lenet
    assert provenance.code_hash("train", ["vgg_a"]) != provenance.code_hash("train", ["simple_cnn"])


def test_a_figure_covers_the_module_that_draws_it_and_the_chance_level_logic():
    assert "bnlab.plots.bn.landscape" in modules("figure loss-landscape")
    assert "bnlab.plots.training_curves" in modules("figure training")
    assert "bnlab.plots.training_curves" not in modules("figure loss-landscape")


def test_the_notebook_verb_covers_what_the_notebook_imports():
    # explore.ipynb imports bnlab.train.run_folder in a cell; the verb's own code never does.
    assert "bnlab.train.run_folder" in modules("report notebook")


def test_every_verb_resolves(tmp_path):
    """Every leaf verb of the CLI has a derivable hash (a verb whose function cannot be read would fail here)."""
    import argparse

    from bnlab.cli import STAGES, parser

    def leaves(p, words=()):
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield " ".join(words)
        for sub in subs:
            for name, child in sub.choices.items():
                yield from leaves(child, (*words, name))

    verbs = set(leaves(parser([]))) - set(STAGES)  # the top-level verbs; a stage's are built when it is called
    for stage in STAGES:
        verbs |= {v for v in leaves(parser([stage])) if v.startswith(stage + " ")}
    assert "train" in verbs and "figure training" in verbs and len(verbs) > 20
    for verb in verbs:
        assert len(provenance.code_hash(verb)) == 16
