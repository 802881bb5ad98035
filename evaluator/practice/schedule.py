"""A grade's score as an fsrs rating, and a question's card after a review.

The spaced-repetition maths is the `fsrs` package's (FSRS-6, its default parameters); this
module only decides which rating a score earns. The bands a student already sees in every grade
are the rating's steps, so "fair" always means the same thing on the screen and in the schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fsrs import Card, Rating, Scheduler

# The lowest score of each rating, the floors of grade.band_for: excellent → Easy, good → Good,
# fair → Hard, weak or none → Again.
RATING_FLOORS: tuple[tuple[float, Rating], ...] = (
    (85.0, Rating.Easy),
    (70.0, Rating.Good),
    (50.0, Rating.Hard),
)


def rating_for(score: float) -> Rating:
    for floor, rating in RATING_FLOORS:
        if score >= floor:
            return rating
    return Rating.Again


def make_scheduler(*, fuzz: bool = True) -> Scheduler:
    """fsrs's scheduler with its defaults. Fuzz spreads review-state intervals by a few percent
    (fsrs's own choice, so cards learnt together do not stay due together); tests turn it off."""
    return Scheduler(enable_fuzzing=fuzz)


def new_card(now: datetime) -> Card:
    # card_id is fsrs's own bookkeeping; a fixed one keeps Card() from reading the clock.
    return Card(card_id=1, due=now)


def review(card: Card | None, score: float, now: datetime, scheduler: Scheduler) -> Card:
    """The card after answering at `now` with `score` (a new card when `card` is None)."""
    reviewed, _log = scheduler.review_card(
        card or new_card(now), rating_for(score), review_datetime=now.astimezone(UTC)
    )
    return reviewed
