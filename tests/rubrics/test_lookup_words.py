"""Finding a question by English words: every meaningful word must be a word of the title or
question, so junk ("None", "the", a `## Notes` heading) is refused instead of landing on some
question whose title happens to hold those letters (#12 item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.errors import QuestionNotFound
from evaluator.notes.notes import parse_note
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from tests.helpers import SEED_SUBSET_RUBRICS, write_rubrics


@pytest.mark.parametrize("junk", ["None", "none", "null", "NULL", "the", "what", "N/A", "nan"])
def test_words_that_name_nothing_are_refused(bundled_rubrics: RubricSet, junk: str) -> None:
    with pytest.raises(QuestionNotFound, match=f"'{junk}' names no question"):
        bundled_rubrics.find(junk)


@pytest.mark.parametrize(
    ("query", "number"),
    [
        ("model distillation", 11),
        ("Batch Normalization", 7),
        ("distilation", 11),  # one letter off still counts
        ("蒸馏", 11),
        ("Q5", 5),
        ("第5题", 5),
    ],
)
def test_real_titles_are_found(bundled_rubrics: RubricSet, query: str, number: int) -> None:
    assert bundled_rubrics.find(query).number == number


def test_letters_inside_other_words_do_not_match(bundled_rubrics: RubricSet) -> None:
    with pytest.raises(QuestionNotFound, match="matches no question"):
        bundled_rubrics.find("notes")
    with pytest.raises(QuestionNotFound, match="did you mean: 11"):
        bundled_rubrics.find("knowledge distilation")  # half the words: suggested, not accepted


def test_a_notes_heading_is_not_graded_as_a_question(tmp_path: Path) -> None:
    rubrics = load_rubrics(write_rubrics(tmp_path / "r", SEED_SUBSET_RUBRICS))
    text = "## Notes\n\n一些杂记。\n\n## Q7\n\n批量归一化对每个小批量计算均值和方差。\n"
    note = parse_note(text, rubrics, tmp_path / "n.md")
    assert [a.rubric.number for a in note.answers] == [7]
    assert any("'Notes' matches no question" in r for r in note.remarks)
