"""No reader ever sees a half-written result: every file bnlab writes is written to a temporary name and renamed.

Checked on the code itself: each call that writes a file sits inside a ``with atomic_path(...)`` block
(bnlab.io), which writes beside the target and renames only when the block succeeds.
"""

import ast

import pytest

from conftest import REPO

SOURCES = sorted((REPO / "src" / "bnlab").rglob("*.py"))
# Library calls that create or overwrite a file: methods (frame.to_csv, path.write_text, ...) and functions of
# the named modules (torch.save, np.savez, ...). bnlab's own helpers (bnlab.io.write_csv, bnlab.plots.style.save)
# are checked where they write.
METHODS = {"to_csv", "to_parquet", "savefig", "write_text", "write_bytes"}
FUNCTIONS = {
    ("torch", "save"),
    ("np", "save"),
    ("np", "savez"),
    ("np", "savez_compressed"),
    ("json", "dump"),
    ("shutil", "copyfile"),
    ("shutil", "copy"),
    ("papermill", "execute_notebook"),
}
# Functions whose writes need no atomic rename, and why: they stage a whole folder and rename it when complete, or
# the file they open is no result (a lock file held open with flock, a kernel control file).
EXEMPT = {
    ("data/sources.py", "download"): "stages the download in a folder renamed when complete",
    ("device.py", "claim_gpu"): "opens a GPU claim's lock file, empty, held with flock",
    ("device.py", "_held_slots"): "opens claims' lock files to test their locks",
    ("bench/memory.py", "_reset_cpu_high_water"): "writes to /proc/self/clear_refs, a kernel control",
}


def unguarded_writes(tree: ast.AST, staging: set[str] = frozenset()) -> list[int]:
    """Line numbers of writing calls not lexically inside ``with atomic_path(...)`` nor a ``staging`` function."""
    found = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.FunctionDef) and node.name in staging:
            guarded = True
        if isinstance(node, ast.With) and any(
            isinstance(item.context_expr, ast.Call) and ast.unparse(item.context_expr.func).endswith("atomic_path")
            for item in node.items
        ):
            guarded = True
        if isinstance(node, ast.Call) and not guarded:
            func = node.func
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
            method = func.attr if isinstance(func, ast.Attribute) else None
            writes_mode = getattr(func, "id", "") == "open" and any(
                isinstance(a, ast.Constant) and isinstance(a.value, str) and set(a.value) & set("wax")
                for a in [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "mode")]
            )
            if (owner, method) in FUNCTIONS or (method in METHODS and (owner, method) not in FUNCTIONS) or writes_mode:
                found.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(tree, False)
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO / "src")))
def test_every_write_goes_through_atomic_path(path):
    relative = str(path.relative_to(REPO / "src" / "bnlab"))
    lines = unguarded_writes(ast.parse(path.read_text()), {f for p, f in EXEMPT if p == relative})
    assert not lines, f"{path.name}: writes outside `with atomic_path(...)` at lines {lines}"


def test_the_check_finds_a_plain_write():
    """A plausible slip (writing the output directly) is caught."""
    assert unguarded_writes(ast.parse("frame.to_csv(out)\nwith atomic_path(out) as tmp:\n    frame.to_csv(tmp)")) == [1]
    assert unguarded_writes(ast.parse("open(path, 'w').write(text)")) == [1]
    assert unguarded_writes(ast.parse("import torch\ntorch.save(state, path)")) == [2]
