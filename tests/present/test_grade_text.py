"""The terminal view of one grade (present/grade_text.py)."""

from __future__ import annotations

from rich.console import Console

from evaluator.present.grade_text import terminal
from evaluator.result import Grade, Status, Verdict
from evaluator.rubrics.model import KeyPoint, Rubric
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings

RUBRIC = Rubric(
    id="t-q11",
    title="什么是模型蒸馏",
    question="什么是模型蒸馏？",
    reference_answer="模型蒸馏用教师模型的软标签训练学生模型。",
    key_points=[KeyPoint(id="k1", label="定义", text="用教师模型的软标签训练学生模型")],
)
QUOTE = "学生模型比教师模型更大"


def missed_with_a_dropped_quote() -> Grade:
    """A grade whose one key point is missed, though the judge quoted words for it (a verdict
    that was not kept)."""
    grade = Grader("hashing", settings=Settings(use_cache=False)).grade(RUBRIC, QUOTE + "。")
    point = grade.key_points[0].model_copy(
        update={
            "status": Status.MISSED,
            "credit": 0.0,
            "judge_verdict": Verdict.MISSING,
            "judge_evidence": QUOTE,
            "judge_reason": "the quoted words assert a listed misconception",
        }
    )
    return grade.model_copy(update={"key_points": [point]})


def shown(grade: Grade, verbose: bool) -> str:
    console = Console(record=True, width=120)
    terminal(grade, console, verbose=verbose)
    return console.export_text()


def test_a_missed_point_shows_no_quote_unless_asked() -> None:
    grade = missed_with_a_dropped_quote()
    assert QUOTE not in shown(grade, verbose=False)
    verbose = shown(grade, verbose=True)
    assert QUOTE in verbose and "assert a listed misconception" in verbose
