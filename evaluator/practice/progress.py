"""The practice history read back as progress (`present.progress.Progress`).

Mastery counts only attempts on a question's current rubric: an attempt graded against an
earlier version is kept, counted as `earlier_attempts` and drawn apart, never mixed into the
last or best score of the edited question.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from evaluator.present.progress import Progress, QuestionProgress, ScorePoint, WeakPoint
from evaluator.result import Status
from evaluator.rubrics.lookup import RubricSet

from .store import Attempt

_MISSED = (Status.MISSED, Status.CONTRADICTED)


def build_progress(
    attempts: Sequence[Attempt],
    rubric_set: RubricSet,
    now: datetime,
    history: str,
    weakest: int = 10,
) -> Progress:
    hashes = {r.id: r.content_hash() for r in rubric_set}
    by_question: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_question.setdefault(attempt.question_id, []).append(attempt)

    def current(a: Attempt) -> bool:
        return hashes.get(a.question_id) == a.rubric_hash

    questions = []
    for qid, history_of in by_question.items():
        rubric = rubric_set.get(qid)
        mine = [a for a in history_of if current(a)]
        scores = [a.score for a in mine]
        last = history_of[-1]
        scheduled = current(last)  # the newest attempt on another version: new again
        questions.append(
            QuestionProgress(
                question_id=qid,
                number=rubric.number if rubric else last.grade.question_number,
                title=rubric.title if rubric else last.grade.question_title,
                attempts=len(mine),
                earlier_attempts=len(history_of) - len(mine),
                last_score=scores[-1] if scores else None,
                best_score=max(scores) if scores else None,
                trend=scores[-1] - scores[-2] if len(scores) > 1 else None,
                next_due=last.due if scheduled else None,
                due_now=scheduled and last.due <= now,
            )
        )
    order = {r.id: i for i, r in enumerate(rubric_set)}
    questions.sort(key=lambda q: (order.get(q.question_id, len(order)), q.question_id))
    started = {q.question_id for q in questions if q.attempts}
    return Progress(
        generated_at=now,
        history=history,
        attempts=len(attempts),
        not_started=sum(1 for r in rubric_set if r.id not in started and not r.duplicate_of),
        questions=questions,
        weakest=_weakest(attempts, rubric_set, weakest),
        timeline=[
            ScorePoint(
                at=a.at,
                question_id=a.question_id,
                number=a.grade.question_number,
                score=a.score,
                method=a.method,
                current=current(a),
            )
            for a in attempts
        ],
    )


def _weakest(attempts: Sequence[Attempt], rubric_set: RubricSet, limit: int) -> list[WeakPoint]:
    """The key points missed most often (then by share), each named as its rubric now words it
    (as the grade worded it when the key point has left the rubric)."""
    missed: Counter[tuple[str, str]] = Counter()
    graded: Counter[tuple[str, str]] = Counter()
    wording: dict[tuple[str, str], tuple[str, str]] = {}
    titles: dict[str, tuple[int | None, str]] = {}
    for a in attempts:
        titles[a.question_id] = (a.grade.question_number, a.grade.question_title)
        for k in a.grade.key_points:
            if not k.counted:  # a pick-k group's item beyond the k asked for
                continue
            key = (a.question_id, k.id)
            graded[key] += 1
            missed[key] += k.status in _MISSED
            wording[key] = (k.label, k.text)
    for rubric in rubric_set:
        titles[rubric.id] = (rubric.number, rubric.title)
        for point in rubric.key_points:
            if (rubric.id, point.id) in wording:
                wording[(rubric.id, point.id)] = (point.label, point.text)
    ranked = sorted(
        (key for key, n in missed.items() if n),
        key=lambda key: (-missed[key], -missed[key] / graded[key], key),
    )
    return [
        WeakPoint(
            question_id=qid,
            number=titles[qid][0],
            title=titles[qid][1],
            key_point_id=kid,
            label=wording[(qid, kid)][0],
            text=wording[(qid, kid)][1],
            missed=missed[(qid, kid)],
            graded=graded[(qid, kid)],
        )
        for qid, kid in ranked[:limit]
    ]
