"""`evaluator rubrics build|lint`: compile study documents into rubric files and check them."""

from __future__ import annotations

from . import main


@main.group("rubrics")
def rubrics_group() -> None:
    """Compile study documents into rubric files, and lint them."""
