"""Progress from the history: last, best, trend and next review per question; the weakest key
points in the rubric's wording; earlier rubric versions kept apart."""

from __future__ import annotations

import json

from evaluator.practice.progress import build_progress
from evaluator.practice.schedule import make_scheduler
from evaluator.practice.session import Session
from evaluator.practice.store import History
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from tests.helpers import SEED_SUBSET_RUBRICS, Clock, fake_grade, write_rubrics


def practise(history: History, rubric_set: RubricSet, clock: Clock, plan: list[tuple]) -> None:
    """(question number, score, missed key point ids) attempts, one day apart."""
    session = Session(history, list(rubric_set), scheduler=make_scheduler(fuzz=False), clock=clock)
    for number, score, missed in plan:
        rubric = rubric_set.find(number)
        session.record(session.item(rubric), "answer", fake_grade(rubric, score, missed))
        clock.step(days=1)


def test_mastery_per_question(history: History, rubric_set: RubricSet, clock: Clock) -> None:
    practise(
        history,
        rubric_set,
        clock,
        [(7, 40, ("stability",)), (3, 90, ()), (7, 75, ("stability",)), (7, 60, ())],
    )
    progress = build_progress(history.attempts(), rubric_set, clock(), "h")
    by_number = {q.number: q for q in progress.questions}
    assert list(by_number) == [3, 7]  # rubric order
    q7 = by_number[7]
    assert (q7.attempts, q7.last_score, q7.best_score, q7.trend) == (3, 60, 75, -15)
    assert by_number[3].trend is None and by_number[3].attempts == 1
    assert progress.attempts == 4 and progress.not_started == 2
    assert [p.score for p in progress.timeline] == [40, 90, 75, 60]
    latest = history.latest()
    for q in progress.questions:
        assert q.next_due == latest[q.question_id].due
        assert q.due_now == (latest[q.question_id].due <= clock())


def test_weakest_key_points_most_missed_first_in_rubric_wording(
    history: History, rubric_set: RubricSet, clock: Clock
) -> None:
    practise(
        history,
        rubric_set,
        clock,
        [
            (7, 40, ("stability", "convergence")),
            (7, 50, ("stability",)),
            (11, 30, ("soft-labels",)),
        ],
    )
    weakest = build_progress(history.attempts(), rubric_set, clock(), "h").weakest
    assert [(w.number, w.key_point_id, w.missed, w.graded) for w in weakest] == [
        (7, "stability", 2, 2),
        (11, "soft-labels", 1, 1),  # missed once of once ranks above once of twice
        (7, "convergence", 1, 2),
    ]
    stability = rubric_set.find(7).key_points[2]
    assert (weakest[0].label, weakest[0].text) == (stability.label, stability.text)
    assert weakest[0].share == 1.0


def test_earlier_rubric_versions_are_counted_apart(
    history: History, rubric_set: RubricSet, clock: Clock
) -> None:
    practise(history, rubric_set, clock, [(3, 95, ()), (3, 20, ("examples",))])
    edited = load_rubrics(
        write_rubrics(
            history.path.parent / "edited",
            SEED_SUBSET_RUBRICS.replace("例如对图像进行旋转", "例如对图像做旋转"),
        )
    )
    progress = build_progress(history.attempts(), edited, clock(), "h")
    [q3] = progress.questions
    assert (q3.attempts, q3.earlier_attempts, q3.last_score, q3.next_due) == (0, 2, None, None)
    assert [p.current for p in progress.timeline] == [False, False]
    assert progress.not_started == 4
    # A key point missed on the old version is named in the rubric's current wording.
    assert [w.text[:8] for w in progress.weakest] == ["例如对图像做旋转"]

    practise(history, edited, clock, [(3, 70, ())])
    [q3] = build_progress(history.attempts(), edited, clock(), "h").questions
    assert (q3.attempts, q3.earlier_attempts, q3.best_score) == (1, 2, 70)


def test_json_carries_the_derived_figures(
    history: History, rubric_set: RubricSet, clock: Clock
) -> None:
    practise(history, rubric_set, clock, [(8, 30, ("dropout",))])
    data = json.loads(
        build_progress(history.attempts(), rubric_set, clock(), "h").model_dump_json()
    )
    assert data["attempts"] == 1 and data["weakest"][0]["share"] == 1.0
    assert "due_now" in data and data["questions"][0]["number"] == 8


def test_no_attempts(rubric_set: RubricSet, clock: Clock) -> None:
    progress = build_progress([], rubric_set, clock(), "h")
    assert progress.questions == [] and progress.not_started == 4 and progress.due_now == 0
