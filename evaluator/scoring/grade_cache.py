"""Grades kept on disk by what they depend on, so grading an answer again costs a lookup.

A key is the answer's text, its rubric's content hash and a context string
(fingerprint.grading_context: the embedder, the grading code's digest, the judge's settings,
and whatever the caller adds), so any edit to any of them retires the grade. A grade whose
judge failed is never kept: the next run tries the judge again. Used by `evaluator check` and
`evaluator batch`; failures follow evaluator.kvstore's one policy (a warning, never a crash).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from evaluator.kvstore import SqliteCache, cache_key
from evaluator.result import Flag, Grade


def grade_key(answer: str, rubric_hash: str, context: str) -> str:
    """An answer's cache key: its text, `Rubric.content_hash()` and the grading context."""
    return cache_key(answer, rubric_hash, context)


def cacheable(grade: Grade) -> bool:
    # A judge that failed is an error, and errors are never cached: the next run tries again.
    return Flag.JUDGE_UNSCORED not in grade.flags


class GradeCache:
    """Grades by key, the newest `limit` kept. `path` None: a cache that keeps nothing."""

    def __init__(self, path: Path | None, limit: int) -> None:
        self.store = SqliteCache(path, "grades_v2", limit=limit)

    @property
    def warning(self) -> str | None:
        return self.store.warning

    def get_many(self, keys: Iterable[str]) -> dict[str, Grade]:
        found: dict[str, Grade] = {}
        for key, raw in self.store.get_many(keys).items():
            # A row another version wrote and this one cannot read is graded again.
            with contextlib.suppress(ValueError):
                found[key] = Grade.model_validate_json(raw)
        return found

    def put_many(self, grades: dict[str, Grade]) -> None:
        self.store.put_many({key: g.model_dump_json().encode() for key, g in grades.items()})

    def close(self) -> None:
        self.store.close()
