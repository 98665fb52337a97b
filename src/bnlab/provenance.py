"""Content hashes of the code a job runs, passed to rules as params.

Snakemake does not track the modules a shell command imports; a rule whose ``params``
include the hash of exactly the files it uses reruns when, and only when, one of them changes.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


def module_file(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(name)
    return Path(spec.origin)


def code_hash(*modules: str, files: tuple[str | Path, ...] = ()) -> str:
    """sha256 over the named modules' source files (a package means its ``__init__`` only), in order."""
    h = hashlib.sha256()
    for path in [module_file(m) for m in modules] + [Path(f) for f in files]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


# The modules each kind of job runs; the model's own family file is added per run. bnlab.cli is
# left out on purpose: it only parses arguments, and every new verb would otherwise rerun everything.
TRAIN_MODULES = ("bnlab.io", "bnlab.registry", "bnlab.data.prepare", "bnlab.data.loader",
                 "bnlab.data.augment", "bnlab.models.common", "bnlab.train.trainer", "bnlab.train.optimizers",
                 "bnlab.train.schedules", "bnlab.train.losses", "bnlab.analysis.line_search")
PREPARE_MODULES = ("bnlab.io", "bnlab.data.sources", "bnlab.data.prepare")


def train_code(model: str) -> str:
    from bnlab.registry import MODELS, load_all

    load_all()
    return code_hash(*TRAIN_MODULES, files=(MODELS.source_file(model),))


def prepare_code() -> str:
    return code_hash(*PREPARE_MODULES)
