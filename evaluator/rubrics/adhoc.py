"""Rubrics made on the fly from a question and a reference answer, for inputs that come without
a rubric file (CSVs of other courses, the agreement benchmarks)."""

from __future__ import annotations

import hashlib

from evaluator.errors import RubricError
from evaluator.rubrics.model import KeyPoint, Rubric
from evaluator.text import detect_language, split_units


def adhoc_rubric(question: str, reference_answer: str, rubric_id: str | None = None) -> Rubric:
    """A rubric whose key points are the reference's sentences and items, equally weighted."""
    reference = reference_answer.strip()
    if not reference:
        raise RubricError("an ad-hoc rubric needs a non-empty reference answer")
    units = split_units(reference) or [reference]
    digest = hashlib.sha256(f"{question}\x1f{reference}".encode()).hexdigest()[:12]
    return Rubric(
        id=rubric_id or f"adhoc-{digest}",
        title=(question.strip() or reference)[:80],
        question=question.strip() or "(no question given)",
        reference_answer=reference,
        key_points=[KeyPoint(id=f"k{i}", text=u) for i, u in enumerate(units, 1)],
        language=detect_language(f"{question}\n{reference}"),
        from_reference=True,
    )
