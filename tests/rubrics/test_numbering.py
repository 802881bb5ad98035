"""The question-number grammar shared by the compiler, notes and rubric lookup (numbering.py)."""

from __future__ import annotations

import pytest

from evaluator.rubrics.numbering import question_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # prefix + number
        ("Q7", (7, "")),
        ("q 7", (7, "")),
        ("Q7 批量归一化", (7, "批量归一化")),
        ("Q7: 批量归一化", (7, "批量归一化")),
        ("Q12. Title here", (12, "Title here")),
        ("Q7 — 批量归一化", (7, "批量归一化")),
        ("Question 7", (7, "")),
        ("question7) BN", (7, "BN")),
        ("问题 7", (7, "")),
        ("问题7：批量归一化", (7, "批量归一化")),
        ("問題 7", (7, "")),
        ("题目 7", (7, "")),
        ("#7", (7, "")),
        # ordinal
        ("第7题", (7, "")),
        ("第 7 題：BN", (7, "BN")),
        ("第12题 如何训练？", (12, "如何训练？")),
        ("第7题批量归一化", (7, "批量归一化")),
        # bare number + separator, or alone
        ("7", (7, "")),
        ("7. 什么是批量归一化", (7, "什么是批量归一化")),
        ("12、如何训练？", (12, "如何训练？")),
        ("7) BN", (7, "BN")),
        ("7）BN", (7, "BN")),
        ("7：批量归一化", (7, "批量归一化")),
        ("７. 全角数字", (7, "全角数字")),
        ("  5.  ", (5, "")),
    ],
)
def test_forms_that_name_a_question(text: str, expected: tuple[int, str]) -> None:
    assert question_number(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "7 个技巧",  # a count, not a question number
        "1.2 背景",  # a section number
        "Q1.5 scope",
        "Q7-2",
        "7:30 会议",
        "2024-01-01 日记",
        "Q7a",
        "Qwen 7B",
        "3D 卷积",
        "第7章 总结",
        "2024年回顾",
        "questions 7",
        "批量归一化",
        "",
    ],
)
def test_text_that_only_starts_with_a_number_names_no_question(text: str) -> None:
    assert question_number(text) is None
