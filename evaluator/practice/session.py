"""What to practise next: due reviews first (most overdue first), then new questions in order,
at most `new_limit` of them a session.

A question is *new* when it has no attempt, or when its rubric changed since its last attempt
(its content hash differs): the old schedule was earned on a different rubric, so it starts
afresh, and the item says so. The session takes a clock so tests can step time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fsrs import Card, Scheduler

from evaluator.result import Grade
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import Rubric

from .schedule import rating_for, review
from .store import Attempt, History

Kind = Literal["due", "new", "changed"]
_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")


@dataclass(frozen=True)
class Item:
    """A question to ask: why it comes now, and the card it was scheduled by (None: new)."""

    rubric: Rubric
    kind: Kind
    card: Card | None = None


def select_questions(rubric_set: RubricSet, spec: str | None) -> list[Rubric]:
    """The rubrics a session may ask. No spec: all but duplicates (`duplicate_of`: practising
    the original covers them). A spec such as "1-10,15,llm-training-q20" names numbers, ranges,
    ids or titles; raises ValueError for a number or range no rubric has."""
    if not spec or not spec.strip():
        return [r for r in rubric_set if not r.duplicate_of]
    by_number = {r.number: r for r in rubric_set if r.number is not None}
    known = f"these rubrics number {min(by_number)}–{max(by_number)}" if by_number else ""
    chosen: dict[str, Rubric] = {}
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        numbers: Iterable[int]
        if token.isdigit():
            numbers = [int(token)]
        elif span := _RANGE.match(token):
            lo, hi = int(span[1]), int(span[2])
            if lo > hi:
                raise ValueError(f"'{token}': a range goes low to high ({hi}-{lo}?)")
            numbers = range(lo, hi + 1)
        else:
            rubric = rubric_set.find(token)  # ids and titles; raises with close matches
            chosen.setdefault(rubric.id, rubric)
            continue
        missing = [n for n in numbers if n not in by_number]
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (" …" if len(missing) > 5 else "")
            raise ValueError(f"'{token}': no question {shown} ({known or 'no numbered questions'})")
        for n in numbers:
            chosen.setdefault(by_number[n].id, by_number[n])
    return list(chosen.values())


class Session:
    """The queue of one practice session over `rubrics`, recording into `history`."""

    def __init__(
        self,
        history: History,
        rubrics: Sequence[Rubric],
        *,
        scheduler: Scheduler,
        clock: Callable[[], datetime],
        new_limit: int = 5,
        due_only: bool = False,
    ) -> None:
        self.history = history
        self.rubrics = list(rubrics)
        self.scheduler = scheduler
        self.clock = clock
        self.new_limit = 0 if due_only else new_limit
        self.new_taken = 0
        self.recorded = 0
        self._skipped: set[str] = set()
        self._hashes = {r.id: r.content_hash() for r in self.rubrics}
        self._latest = history.latest()

    def item(self, rubric: Rubric) -> Item:
        last = self._latest.get(rubric.id)
        if last is None:
            return Item(rubric, "new")
        if last.rubric_hash != self._hashes[rubric.id]:
            return Item(rubric, "changed")
        return Item(rubric, "due", Card.from_json(last.card))

    def _items(self) -> list[Item]:
        return [self.item(r) for r in self.rubrics if r.id not in self._skipped]

    def due(self) -> list[Item]:
        """Scheduled questions due now, most overdue first."""
        now = self.clock()
        items = [i for i in self._items() if i.card is not None and i.card.due <= now]
        return sorted(items, key=lambda i: i.card.due if i.card else now)

    def new(self) -> list[Item]:
        """New (or changed) questions this session may still take, in rubric order."""
        left = max(self.new_limit - self.new_taken, 0)
        return [i for i in self._items() if i.card is None][:left]

    def next(self) -> Item | None:
        return next(iter(self.due() + self.new()), None)

    def upcoming(self) -> Item | None:
        """The scheduled question due soonest after now (for "next review in …")."""
        scheduled = [i for i in self._items() if i.card is not None]
        return min(scheduled, key=lambda i: i.card.due if i.card else 0, default=None)

    def skip(self, item: Item) -> None:
        self._skipped.add(item.rubric.id)

    def record(self, item: Item, answer: str, grade: Grade) -> Attempt:
        """Schedule the question by `grade` and store the attempt (committed on return)."""
        now = self.clock()
        card = review(item.card, grade.score, now, self.scheduler)
        attempt = Attempt(
            at=now,
            question_id=item.rubric.id,
            rubric_hash=self._hashes[item.rubric.id],
            answer=answer,
            score=grade.score,
            method=grade.method,
            rating=int(rating_for(grade.score)),
            card=card.to_json(),
            due=card.due,
            grade=grade,
        )
        self.history.add(attempt)
        self._latest[item.rubric.id] = attempt
        self.recorded += 1
        if item.card is None:
            self.new_taken += 1
        return attempt
