"""evaluator: grade free-text answers against weighted rubrics.

Public API (imported lazily so `evaluator --help` stays fast):

    from evaluator import Grader, load_rubrics
    rubrics = load_rubrics()
    grade = Grader().grade(rubrics.find(7), "批量归一化 ...")
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Grader": "grader",
    "Grade": "results",
    "Flag": "results",
    "Status": "results",
    "Rubric": "rubric",
    "KeyPoint": "rubric",
    "Misconception": "rubric",
    "RubricSet": "rubric",
    "load_rubrics": "rubric",
    "Settings": "settings",
    "load_settings": "settings",
    "get_embedder": "embedding",
    "EvaluatorError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'evaluator' has no attribute {name!r}")
