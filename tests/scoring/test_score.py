"""Step 6, score.py: the weighted share of credit through the scale, less penalties, capped when
off topic, clipped to 0-100; with a judge, its share mixed with the embeddings' by judge_weight.
Pure arithmetic on hand-made results."""

from __future__ import annotations

import pytest

from evaluator.result import Flag, KeyPointResult, MisconceptionHit, Status, Verdict
from evaluator.rubrics.model import KeyPoint, KeyPointGroup, Rubric
from evaluator.scoring.calibration import Calibration
from evaluator.scoring.score import score
from tests.scoring.step_fixtures import RUBRIC  # k1 weight 3, k2 weight 1

FLAT = Calibration(low=0.0, high=1.0, off_topic=0.1, misconception=0.8, off_topic_cap=10.0)
LIFTED = FLAT.model_copy(update={"scale": ((0.0, 0.0), (0.5, 0.8), (1.0, 1.0))})


def result(
    kp_id: str, credit: float, embedding: float | None = None, verdict: Verdict | None = None
) -> KeyPointResult:
    return KeyPointResult(
        id=kp_id, label="", text=kp_id, weight=1, credit=credit, status=Status.PARTIAL,
        embedding_credit=credit if embedding is None else embedding, judge_verdict=verdict,
    )  # fmt: skip


def hit(penalty: float) -> MisconceptionHit:
    return MisconceptionHit(id="m1", text="m", penalty=penalty, source="embedding")


def test_the_score_is_the_weighted_share_of_credit() -> None:
    results = [result("k1", 0.5), result("k2", 1.0)]
    assert score(RUBRIC, results, [], [], FLAT, 0.5) == pytest.approx(100 * (1.5 + 1) / 4)


def test_the_share_goes_through_the_calibrations_scale() -> None:
    results = [result("k1", 0.5), result("k2", 0.5)]  # share 0.5
    assert score(RUBRIC, results, [], [], LIFTED, 0.5) == 80.0
    quarter = [result("k1", 0.0), result("k2", 1.0)]  # share 0.25 -> 0.4
    assert score(RUBRIC, quarter, [], [], LIFTED, 0.5) == 40.0


def test_the_score_is_rounded_to_one_decimal() -> None:
    results = [result("k1", 1 / 3), result("k2", 0.0)]  # 25.0
    assert score(RUBRIC, results, [], [], FLAT, 0.5) == 25.0
    odd = [result("k1", 0.0), result("k2", 1 / 3)]  # 8.333...
    assert score(RUBRIC, odd, [], [], FLAT, 0.5) == 8.3


def test_penalties_are_subtracted() -> None:
    full = [result("k1", 1.0), result("k2", 1.0)]
    assert score(RUBRIC, full, [hit(20), hit(5.5)], [Flag.MISCONCEPTION], FLAT, 0.5) == 74.5


def test_the_score_is_clipped_at_zero() -> None:
    results = [result("k1", 0.2), result("k2", 0.0)]
    assert score(RUBRIC, results, [hit(100)], [], FLAT, 0.5) == 0.0


@pytest.mark.parametrize("flag", [Flag.OFF_TOPIC, Flag.ANSWERS_OTHER_QUESTION])
def test_an_answer_off_topic_or_to_another_question_is_capped(flag: Flag) -> None:
    full = [result("k1", 1.0), result("k2", 1.0)]
    assert score(RUBRIC, full, [], [flag], FLAT, 0.5) == 10.0
    low = [result("k1", 0.0), result("k2", 0.2)]  # 5: under the cap, unchanged
    assert score(RUBRIC, low, [], [flag], FLAT, 0.5) == 5.0
    assert score(RUBRIC, full, [], [Flag.TRUNCATED, Flag.TERM_LIST], FLAT, 0.5) == 100.0


def test_the_cap_applies_after_the_penalties() -> None:
    full = [result("k1", 1.0), result("k2", 1.0)]
    assert score(RUBRIC, full, [hit(95)], [Flag.OFF_TOPIC], FLAT, 0.5) == 5.0


def test_an_answer_that_said_nothing_scores_zero() -> None:
    full = [result("k1", 1.0), result("k2", 1.0)]
    assert score(RUBRIC, full, [], [], FLAT, 0.5, said_anything=False) == 0.0


def test_with_a_judge_its_share_mixes_with_the_scaled_embedding_share() -> None:
    results = [
        result("k1", 0.8, embedding=0.6, verdict=Verdict.COVERED),
        result("k2", 0.3, embedding=0.0, verdict=Verdict.PARTIAL),
    ]
    judge_share = (3 * 1.0 + 1 * 0.5) / 4
    embedding_share = LIFTED.scaled((3 * 0.6 + 0.0) / 4)
    expected = 100 * (0.7 * judge_share + 0.3 * embedding_share)
    assert score(RUBRIC, results, [], [], LIFTED, 0.7) == pytest.approx(expected, abs=0.05)


def test_judge_weight_one_is_the_judges_share_alone() -> None:
    results = [
        result("k1", 1.0, embedding=0.0, verdict=Verdict.COVERED),
        result("k2", 0.0, embedding=1.0, verdict=Verdict.MISSING),
    ]
    assert score(RUBRIC, results, [], [], LIFTED, 1.0) == 75.0


def test_a_point_the_judge_zeroed_counts_nothing_on_the_embedding_side_either() -> None:
    results = [
        result("k1", 0.0, embedding=0.9, verdict=Verdict.MISSING),  # combine set credit 0
        result("k2", 1.0, embedding=1.0, verdict=Verdict.COVERED),
    ]
    # Embedding share: k2 alone, 1/4; judge share: k2 alone, 1/4.
    assert score(RUBRIC, results, [], [], FLAT, 0.5) == 25.0


def test_a_point_the_judge_skipped_counts_its_embedding_credit_on_both_sides() -> None:
    results = [
        result("k1", 0.6, embedding=0.6),  # not judged
        result("k2", 1.0, embedding=0.0, verdict=Verdict.COVERED),
    ]
    judge_share = (3 * 0.6 + 1.0) / 4
    embedding_share = LIFTED.scaled(3 * 0.6 / 4)
    expected = 100 * (0.5 * judge_share + 0.5 * embedding_share)
    assert score(RUBRIC, results, [], [], LIFTED, 0.5) == pytest.approx(expected, abs=0.05)


def test_a_pick_k_groups_surplus_is_not_counted() -> None:
    rubric = Rubric(
        id="q8",
        title="过拟合",
        question="请列举两种处理过拟合的方法。",
        reference_answer="正则化、dropout、早停。",
        key_points=[KeyPoint(id=i, text=i) for i in ("reg", "dropout", "stop", "why")],
        groups=[KeyPointGroup(id="ways", key_points=["reg", "dropout", "stop"], pick=2)],
    )
    # Three ways named, two needed: the group is full, the third adds nothing.
    results = [result("reg", 1.0), result("dropout", 1.0), result("stop", 1.0), result("why", 0)]
    assert score(rubric, results, [], [], FLAT, 0.5) == pytest.approx(100 * 2 / 3, abs=0.05)
    two = [result("reg", 1.0), result("dropout", 0), result("stop", 1.0), result("why", 0)]
    assert score(rubric, two, [], [], FLAT, 0.5) == pytest.approx(100 * 2 / 3, abs=0.05)
