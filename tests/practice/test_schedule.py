"""The score → fsrs rating mapping and the schedule it produces, stepped with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fsrs import Rating, State

from evaluator.practice.schedule import make_scheduler, new_card, rating_for, review
from evaluator.result import band_for

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("score", "rating"),
    [
        (0, Rating.Again),
        (49.9, Rating.Again),
        (50, Rating.Hard),
        (69.9, Rating.Hard),
        (70, Rating.Good),
        (84.9, Rating.Good),
        (85, Rating.Easy),
        (100, Rating.Easy),
    ],
)
def test_rating_steps_are_the_band_floors(score: float, rating: Rating) -> None:
    assert rating_for(score) == rating


def test_every_band_maps_to_one_rating() -> None:
    ratings_by_band: dict[str, set[Rating]] = {}
    for tenth in range(1001):
        score = tenth / 10
        ratings_by_band.setdefault(band_for(score), set()).add(rating_for(score))
    assert all(len(r) == 1 for r in ratings_by_band.values()), ratings_by_band
    assert ratings_by_band["weak"] == ratings_by_band["none"] == {Rating.Again}


def test_a_higher_score_is_never_due_sooner() -> None:
    scheduler = make_scheduler(fuzz=False)
    dues = [review(None, score, T0, scheduler).due for score in (0, 55, 75, 95)]
    assert dues == sorted(dues)
    assert dues[0] - T0 == timedelta(minutes=1)  # fsrs's first learning step
    assert dues[-1] - T0 >= timedelta(days=1)  # Easy graduates at once


def test_a_failed_review_comes_back_sooner_than_a_passed_one() -> None:
    scheduler = make_scheduler(fuzz=False)
    card = review(None, 95, T0, scheduler)
    assert card.state == State.Review
    later = card.due
    passed = review(card, 80, later, scheduler)
    failed = review(card, 20, later, scheduler)
    assert failed.state == State.Relearning
    assert failed.due - later < timedelta(hours=1) < passed.due - later
    # Stepping the clock: a passed review's next interval grows.
    again = review(passed, 80, passed.due, scheduler)
    assert again.due - passed.due > passed.due - later


def test_new_card_is_due_at_once_and_reads_no_clock() -> None:
    card = new_card(T0)
    assert card.due == T0 and card.last_review is None


def test_a_review_time_in_another_zone_is_the_same_moment() -> None:
    scheduler = make_scheduler(fuzz=False)
    local = T0.astimezone(ZoneInfo("Asia/Shanghai"))
    assert review(None, 60, local, scheduler).due == review(None, 60, T0, scheduler).due
