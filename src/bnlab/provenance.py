"""Which code a job runs, found by reading the code, and a content hash of it for the job's rule ``params``.

Snakemake does not track the modules a shell command imports. For a verb (``train``, ``analyse
grad-distance``, ``figure bn_loss_landscape``, ...) this reads the import statements of the verb's function
and of the same-module helpers it calls, then, module by module, of everything those import (imports inside
functions included, so lazy imports count), and collects every ``bnlab`` module the verb can load. Nothing is
listed by hand. Two kinds of file are treated apart:

- CLI modules (``bnlab.cli`` and each stage's ``cli``) only parse arguments, and one of them holds many verbs:
  a verb's hash covers its own function and helpers (their source) and its parser's defaults, not the
  other verbs of the same file.
- Model family files register every model when ``bnlab.models`` is imported, but a job depends only on
  the families of the models it uses, which the rule names.

A job's hash therefore changes exactly when code its verb can run changes.
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import inspect
from pathlib import Path

PACKAGE = "bnlab"
ROOT = Path(__file__).resolve().parent


def module_path(name: str) -> Path | None:
    """The source file of the ``bnlab`` module ``name`` (a package means its ``__init__``), found without importing."""
    parts = name.split(".")[1:]
    base = ROOT.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@functools.cache
def _tree(name: str) -> ast.Module:
    return ast.parse(module_path(name).read_text(), filename=str(module_path(name)))


def _imported(node: ast.AST) -> set[str]:
    """The ``bnlab`` modules one import statement loads, with the packages above them."""
    names: set[str] = set()
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module:
        # `from bnlab.analysis import grad_distance` loads a submodule; `from bnlab.io import write_csv` does not.
        names = {
            f"{node.module}.{alias.name}" if module_path(f"{node.module}.{alias.name}") else node.module
            for alias in node.names
        }
    modules = set()
    for name in names:
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            parts = name.split(".")
            modules |= {".".join(parts[:i]) for i in range(1, len(parts) + 1) if module_path(".".join(parts[:i]))}
    return modules


@functools.cache
def imports_of(name: str) -> frozenset[str]:
    """Every ``bnlab`` module that any import statement of module ``name`` loads, wherever the statement is."""
    return frozenset(m for node in ast.walk(_tree(name)) for m in _imported(node))


def closure(roots: set[str]) -> set[str]:
    """``roots`` and every ``bnlab`` module they can import, directly or not."""
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += imports_of(name) - seen
    return seen


def notebook_imports(path: Path) -> set[str]:
    """The ``bnlab`` modules the code cells of the notebook at ``path`` import."""
    import json

    cells = json.loads(path.read_text())["cells"]
    lines = [line for c in cells if c["cell_type"] == "code" for line in "".join(c["source"]).splitlines()]
    code = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))  # IPython magics
    return {m for node in ast.walk(ast.parse(code)) for m in _imported(node)}


def is_cli(name: str) -> bool:
    return name == f"{PACKAGE}.cli" or name.endswith(".cli")


@functools.cache
def model_families() -> frozenset[str]:
    """Modules that register models (a ``@MODELS.register(...)`` decorator), found by reading every module."""
    families = set()
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "MODELS.register":
                relative = path.relative_to(ROOT.parent).with_suffix("")
                families.add(".".join(relative.parts).removesuffix(".__init__"))
                break
    return frozenset(families)


def family_of(model: str) -> str:
    from bnlab.registry import MODELS
    from bnlab.train.components import load_all

    load_all()
    return inspect.getmodule(MODELS[model]).__name__


def verb_parser(verb: str) -> argparse.ArgumentParser:
    """The parser of ``bnlab VERB`` (e.g. "analyse grad-distance"); its defaults hold the function it runs."""
    from bnlab.cli import parser

    current = parser(verb.split())
    for word in verb.split():
        subparsers = next(a for a in current._actions if isinstance(a, argparse._SubParsersAction))
        current = subparsers.choices[word]
    return current


def _function_sources(module: str, function: str) -> tuple[list[str], set[str]]:
    """Source of ``function`` and of the same-module functions it calls (recursively), and what they all import."""
    tree = _tree(module)
    top = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    module_level = {m for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)) for m in _imported(n)}
    sources, imported, todo, done = [], set(module_level), [function], set()
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        node = top[name]
        sources.append(ast.unparse(node))
        for inner in ast.walk(node):
            imported |= _imported(inner)
            if isinstance(inner, ast.Name) and inner.id in top:
                todo.append(inner.id)
    return sources, imported


@functools.cache
def _verb_code(verb: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """(what of the CLI the verb runs, as text; the non-CLI ``bnlab`` modules it can load)."""
    leaf = verb_parser(verb)
    function = leaf.get_default("func")
    sources, roots = _function_sources(function.__module__, function.__name__)
    # A verb's defaults may name more code it runs: the module a figure is drawn with, the notebook it executes.
    defaults = {a.dest: a.default for a in leaf._actions} | leaf._defaults
    for value in defaults.values():
        if isinstance(value, str) and value.startswith(PACKAGE + ".") and module_path(value):
            roots.add(value)
        elif isinstance(value, str) and value.endswith(".ipynb"):
            roots |= notebook_imports(Path(value))
    settings = repr(sorted((k, repr(v)) for k, v in defaults.items() if k != "func"))
    modules = {m for m in closure(roots) if not is_cli(m)}
    return (*sources, settings), frozenset(modules)


def code_files(verb: str, models: tuple[str, ...] | list[str] = ()) -> list[Path]:
    """The source files a job of ``verb`` can run: its modules, less model families other than ``models``'."""
    _, modules = _verb_code(verb)
    families = model_families()
    chosen = {m for m in modules if m not in families} | {family_of(m) for m in models}
    return sorted(module_path(m) for m in chosen)


def code_hash(verb: str, models: tuple[str, ...] | list[str] = ()) -> str:
    """sha256 over what a job of ``verb`` runs (see the module docstring); ``models``: the models it builds."""
    h = hashlib.sha256()
    sources, _ = _verb_code(verb)
    for text in sources:
        h.update(text.encode())
    for path in code_files(verb, tuple(sorted(set(models)))):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]
