"""The layers docs/architecture.md draws: each part of the package imports only from the parts
below it (function-level imports included), so the map cannot drift from the code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "evaluator"
FOUNDATION = {
    "errors", "settings", "result", "text", "polarity", "markdown", "kvstore", "files",
    "injection", "cores",
}  # fmt: skip
# What each part may import besides itself ("foundation": the modules above, which may import
# each other).
LOWER = {"foundation", "rubrics", "judge", "scoring", "present"}
ALLOWED = {
    "foundation": set(),
    "rubrics": {"foundation"},
    "judge": {"foundation", "rubrics"},
    "scoring": {"foundation", "rubrics", "judge"},
    "present": {"foundation", "rubrics"},
    # What runs many answers, each its own part: none imports another.
    "batch": LOWER,
    "notes": LOWER,
    "practice": LOWER,
    "quality": LOWER,
    "cli": LOWER | {"batch", "notes", "practice", "quality"},
}


def part_of(module: str) -> str:
    """'evaluator.scoring.grader' -> 'scoring'; foundation modules -> 'foundation'."""
    head = module.split(".")[1] if module.count(".") else ""
    return "foundation" if head in FOUNDATION or not head else head


def evaluator_imports(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("evaluator."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("evaluator.")}
    return found


FILES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_imports_only_from_the_layers_below(path: Path) -> None:
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
    mine = part_of(module)
    for imported in evaluator_imports(path.read_text(encoding="utf-8")):
        theirs = part_of(imported)
        if theirs == mine or theirs.startswith("bundled"):
            continue
        assert theirs in ALLOWED[mine], f"{module} ({mine}) imports {imported} ({theirs})"
