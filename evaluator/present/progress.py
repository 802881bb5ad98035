"""What `evaluator progress` shows, as data: mastery per question, the weakest key points and
every score over time. Built from the practice history (`runs.practice.progress`); drawn in the
terminal (`progress_text`) and as a page (`progress_html`); `--json` prints it as it is."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, computed_field


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScorePoint(_Data):
    """One attempt on the timeline."""

    at: datetime
    question_id: str
    number: int | None
    score: float
    method: str
    current: bool  # graded against the rubric as it is now (not an earlier version)


class QuestionProgress(_Data):
    """Mastery of one question, over the attempts on its current rubric."""

    question_id: str
    number: int | None
    title: str
    attempts: int
    earlier_attempts: int  # on an earlier version of the rubric (or one no longer in the set)
    last_score: float | None
    best_score: float | None
    trend: float | None  # last score minus the one before it
    next_due: datetime | None  # None: new (never practised on this rubric version)
    due_now: bool


class WeakPoint(_Data):
    """A key point by how often answers missed it, in the rubric's wording."""

    question_id: str
    number: int | None
    title: str
    key_point_id: str
    label: str
    text: str
    missed: int
    graded: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def share(self) -> float:
        return self.missed / self.graded if self.graded else 0.0


class Progress(_Data):
    generated_at: datetime
    history: str
    attempts: int
    not_started: int  # questions of the rubric set with no attempt on their current version
    questions: list[QuestionProgress]
    weakest: list[WeakPoint]
    timeline: list[ScorePoint]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def due_now(self) -> int:
        return sum(q.due_now for q in self.questions)
