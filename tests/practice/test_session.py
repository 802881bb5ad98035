"""The practice queue: due reviews first, then new questions; --questions, --new, --due-only;
and a rubric edit starts a question's schedule afresh. Time is a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.errors import QuestionNotFound
from evaluator.practice.schedule import make_scheduler
from evaluator.practice.session import Session, select_questions
from evaluator.practice.store import History
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from tests.helpers import SEED_SUBSET_RUBRICS, Clock, fake_grade, write_rubrics


def session(history: History, rubric_set: RubricSet, clock: Clock, **kw: object) -> Session:
    return Session(
        history, list(rubric_set), scheduler=make_scheduler(fuzz=False), clock=clock, **kw
    )  # type: ignore[arg-type]


def answer(s: Session, score: float) -> str:
    item = s.next()
    assert item is not None
    s.record(item, "answer", fake_grade(item.rubric, score))
    return f"{item.kind}:{item.rubric.number}"


def test_new_questions_in_order_up_to_the_limit(
    history: History, rubric_set: RubricSet, clock: Clock
) -> None:
    s = session(history, rubric_set, clock, new_limit=2)
    assert [i.rubric.number for i in s.new()] == [3, 7]
    assert answer(s, 90) == "new:3"
    assert answer(s, 90) == "new:7"
    assert s.next() is None  # two new a session, and neither is due yet
    assert s.recorded == 2


def test_due_reviews_come_first_most_overdue_first(
    history: History, rubric_set: RubricSet, clock: Clock
) -> None:
    s = session(history, rubric_set, clock, new_limit=3)
    answer(s, 95)  # Q3: easy, days away
    answer(s, 20)  # Q7: again, due in a minute
    clock.step(minutes=2)
    assert answer(s, 95) == "due:7"  # a due review before the third new question
    assert answer(s, 95) == "new:8"
    clock.step(days=60)
    later = session(history, rubric_set, clock, new_limit=0)
    due = [i.rubric.id for i in later.due()]
    latest = history.latest()
    assert sorted(due) == sorted(latest)  # all three answered, all due
    assert due == sorted(latest, key=lambda q: latest[q].due)  # the longest overdue first
    assert later.new() == []


def test_due_only_takes_no_new_question(
    history: History, rubric_set: RubricSet, clock: Clock
) -> None:
    s = session(history, rubric_set, clock, due_only=True)
    assert s.next() is None
    first = session(history, rubric_set, clock)
    answer(first, 30)
    clock.step(minutes=5)
    again = session(history, rubric_set, clock, due_only=True)
    assert answer(again, 90) == "due:3" and again.next() is None


def test_skipped_questions_wait_for_the_next_session(
    history: History, rubric_set: RubricSet, clock: Clock
) -> None:
    s = session(history, rubric_set, clock)
    first = s.next()
    assert first is not None
    s.skip(first)
    assert answer(s, 80) == "new:7"
    assert [i.rubric.number for i in session(history, rubric_set, clock).new()][:1] == [3]


def test_an_edited_rubric_starts_afresh_and_keeps_the_old_attempts(
    history: History, rubric_set: RubricSet, clock: Clock
) -> None:
    s = session(history, rubric_set, clock, new_limit=1)
    answer(s, 95)  # Q3, scheduled days ahead
    edited_text = SEED_SUBSET_RUBRICS.replace("例如对图像进行旋转", "例如对图像做旋转")
    edited = load_rubrics(write_rubrics(history.path.parent / "edited", edited_text))
    after = session(history, edited, clock, new_limit=1)
    item = after.item(edited.find(3))
    assert item.kind == "changed" and item.card is None
    assert answer(after, 40) == "changed:3"
    assert [a.rubric_hash for a in history.attempts()] == [
        rubric_set.find(3).content_hash(),
        edited.find(3).content_hash(),
    ]
    # The unedited set sees the newest attempt under another hash: new for it too, never reused.
    assert session(history, rubric_set, clock).item(rubric_set.find(3)).kind == "changed"


def test_upcoming_names_the_soonest_review(
    history: History, rubric_set: RubricSet, clock: Clock
) -> None:
    s = session(history, rubric_set, clock, new_limit=2)
    assert s.upcoming() is None
    answer(s, 95)
    answer(s, 60)
    upcoming = s.upcoming()
    assert upcoming is not None and upcoming.rubric.number == 7


@pytest.mark.parametrize(
    ("spec", "numbers"),
    [
        (None, [3, 7, 8, 11]),
        ("7-8", [7, 8]),
        ("11, 3", [11, 3]),
        ("3,3,3-3", [3]),
        ("llm-training-q8", [8]),
        ("模型蒸馏", [11]),
    ],
)
def test_question_selection(rubric_set: RubricSet, spec: str | None, numbers: list[int]) -> None:
    assert [r.number for r in select_questions(rubric_set, spec)] == numbers


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("1-10", r"'1-10': no question 1, 2, 4, 5, 6 … \(these rubrics number 3–11\)"),
        ("12", r"no question 12"),
        ("8-3", r"a range goes low to high"),
    ],
)
def test_unknown_ranges_say_which_numbers(rubric_set: RubricSet, spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        select_questions(rubric_set, spec)


def test_unknown_words_list_close_matches(rubric_set: RubricSet) -> None:
    with pytest.raises(QuestionNotFound):
        select_questions(rubric_set, "quantum chromodynamics")


def test_duplicates_are_left_out_unless_named(tmp_path: Path) -> None:
    text = SEED_SUBSET_RUBRICS.replace(
        "  - id: llm-training-q8\n", "  - id: llm-training-q8\n    duplicate_of: llm-training-q3\n"
    )
    rubric_set = load_rubrics(write_rubrics(tmp_path / "dupes", text))
    assert [r.number for r in select_questions(rubric_set, None)] == [3, 7, 11]
    assert [r.number for r in select_questions(rubric_set, "8")] == [8]
