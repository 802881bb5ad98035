"""An answer to another question of the rubric set is told apart: flagged, capped, and the
question it answers named in the rubric's language. Duplicates never count against each other,
and with nothing to compare with nothing is said. Hashing embedder: deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.result import Flag, topic
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import Rubric
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from tests.helpers import GOOD_BN, SEED_SUBSET_RUBRICS, write_rubrics

DISTILLATION = (
    "模型蒸馏把复杂的教师模型的知识迁移到简单的学生模型中：学生模型学习教师模型输出的软标签，"
    "即带温度的概率分布。这样可以减小模型大小和计算量，便于部署，学生模型在变小的同时尽量保持"
    "教师模型的性能。"
)


@pytest.fixture(scope="module")
def rubrics(tmp_path_factory: pytest.TempPathFactory) -> RubricSet:
    return load_rubrics(write_rubrics(tmp_path_factory.mktemp("r"), SEED_SUBSET_RUBRICS))


def grader(others: list[Rubric]) -> Grader:
    return Grader("hashing", settings=Settings(use_cache=False), compare_with=others)


def test_an_answer_to_another_question_is_named_and_capped(rubrics: RubricSet) -> None:
    grade = grader(list(rubrics)).grade(rubrics.find(7), DISTILLATION)
    assert Flag.ANSWERS_OTHER_QUESTION in grade.flags
    assert grade.answers_other is not None and grade.answers_other.id == "llm-training-q11"
    assert grade.score <= 10
    assert grade.feedback.startswith("这更像是对 Q11（模型蒸馏）的回答。")


def test_a_right_answer_is_not_flagged(rubrics: RubricSet) -> None:
    grade = grader(list(rubrics)).grade(rubrics.find(7), GOOD_BN)
    assert Flag.ANSWERS_OTHER_QUESTION not in grade.flags and grade.answers_other is None
    assert grade.score > 50


def test_duplicates_never_count_against_each_other(rubrics: RubricSet) -> None:
    original = rubrics.find(11)
    twin = original.model_copy(update={"id": "llm-training-q28", "number": 28,
                                       "duplicate_of": original.id})  # fmt: skip
    others = [*rubrics, twin]
    assert grader(others).grade(twin, DISTILLATION).answers_other is None
    assert grader(others).grade(original, DISTILLATION).answers_other is None


def test_with_nothing_to_compare_nothing_is_said(rubrics: RubricSet) -> None:
    grade = grader([]).grade(rubrics.find(7), DISTILLATION)
    assert Flag.ANSWERS_OTHER_QUESTION not in grade.flags and grade.answers_other is None


def test_english_rubrics_get_english_feedback(rubrics: RubricSet) -> None:
    english = rubrics.find(7).model_copy(update={"language": "en"})
    grade = grader(list(rubrics)).grade(english, DISTILLATION)
    assert grade.feedback.startswith("This reads like an answer to Q11 (")


def test_check_and_batch_name_the_other_question(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from evaluator.cli import main

    folder = write_rubrics(tmp_path / "rubrics", SEED_SUBSET_RUBRICS)
    note = tmp_path / "note.md"
    note.write_text(f"## Q7\n\n{DISTILLATION}\n", encoding="utf-8")
    args = ["--rubrics", str(folder), "--embedder", "hashing", "--no-cache"]
    checked = CliRunner().invoke(main, ["check", str(note), *args])
    assert "This reads like an answer to Q11" in checked.output
    rows = tmp_path / "in.csv"
    rows.write_text(f"id,question,answer\n1,7,{DISTILLATION}\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    graded = CliRunner().invoke(main, ["batch", str(rows), "-o", str(out), "--quiet", *args])
    assert graded.exit_code == 0, graded.output
    text = out.read_text(encoding="utf-8")
    assert "answers_other_question" in text and "这更像是对 Q11" in text


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("什么是权重初始化（Weight Initialization）？请解释其作用。", "权重初始化"),
        ("分布式训练的优势和挑战是什么？", "分布式训练的优势和挑战"),
        ("如何处理模型过拟合？", "如何处理模型过拟合"),
        ("What is dropout? Explain why it helps.", "dropout"),
        (
            "What are the benefits of batch normalization (BN)?",
            "benefits of batch normalization (BN)",
        ),
        ("什么是？", "什么是？"),  # nothing left: the title as it is
    ],
)
def test_a_question_is_named_by_its_topic(title: str, expected: str) -> None:
    assert topic(title) == expected
