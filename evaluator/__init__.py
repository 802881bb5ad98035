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
    "Grader": "scoring.grader",
    "Grade": "grade",
    "Flag": "grade",
    "Status": "grade",
    "Rubric": "rubrics.model",
    "KeyPoint": "rubrics.model",
    "Misconception": "rubrics.model",
    "RubricSet": "rubrics.lookup",
    "load_rubrics": "rubrics.io",
    "Settings": "settings",
    "load_settings": "settings",
    "get_embedder": "scoring.embedding.backends",
    "EvaluatorError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'evaluator' has no attribute {name!r}")
