"""Step 4, judging.py: the judge's requests sent concurrently on entering a `JudgeRun`, one
rubric's back to back by one worker, outcomes in input order, failures as JudgeErrors; and
the consistency pass (`recheck`). A scripted judge (step_fixtures.FakeJudge) stands in."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import pytest

from evaluator.errors import JudgeError
from evaluator.judge.outcome import JudgeOutcome
from evaluator.result import KeyPointResult, Status, Verdict
from evaluator.rubrics.model import Rubric
from evaluator.scoring.judging import RECHECK_GAP, JudgeRun, Outcome, quoted, recheck, unexpected
from evaluator.scoring.prepare import Prepared, prepare
from evaluator.settings import Settings
from tests.scoring.step_fixtures import GOOD, RUBRIC, FakeJudge, outcome

SETTINGS = Settings(use_cache=False)
OTHER = RUBRIC.model_copy(update={"id": "t-q12", "question": "什么是知识迁移？"})


def run(
    judge: FakeJudge | None, answers: Sequence[Prepared], jobs: int = 1, **settings: object
) -> list[Outcome]:
    with JudgeRun(judge, answers, jobs, Settings(use_cache=False, **settings)) as r:  # type: ignore[arg-type]
        return r.outcomes()


def result(kp_id: str, embedding_credit: float) -> KeyPointResult:
    return KeyPointResult(
        id=kp_id, label="", text=kp_id, weight=1, credit=embedding_credit,
        status=Status.MISSED, embedding_credit=embedding_credit,
    )  # fmt: skip


# ---------------------------------------------------------------------------- JudgeRun


def test_without_a_judge_every_outcome_is_none() -> None:
    answers = [prepare(RUBRIC, GOOD), prepare(RUBRIC, "")]
    assert run(None, answers, jobs=4) == [None, None]


def test_outcomes_come_back_in_input_order() -> None:
    def slow(rubric: Rubric, answer: str) -> None:
        time.sleep(0.002 * (len(answer) % 7))

    judge = FakeJudge({"k1": Verdict.COVERED}, quote=lambda a: a, before=slow)
    texts = [f"学生模型更小{'，推理更快' * (i % 5)}。第{i}个" for i in range(16)]
    found = run(judge, [prepare(r, t) for r, t in zip([RUBRIC, OTHER] * 8, texts, strict=True)], 4)
    assert [o.judgements["k1"].evidence for o in found] == texts  # type: ignore[union-attr]
    assert len(judge.assessed) == 16


def test_an_empty_answer_is_not_sent_and_has_no_outcome() -> None:
    judge = FakeJudge({"k1": Verdict.COVERED})
    found = run(judge, [prepare(RUBRIC, ""), prepare(RUBRIC, GOOD), prepare(RUBRIC, " \n")], 2)
    assert found[0] is None and found[2] is None and isinstance(found[1], JudgeOutcome)
    assert [a for _, a, _ in judge.assessed] == [GOOD]


def test_one_rubrics_requests_go_back_to_back_from_one_worker() -> None:
    judge = FakeJudge({"k1": Verdict.COVERED})
    rubrics = [RUBRIC, OTHER] * 4
    answers = [prepare(r, f"学生模型更小，推理更快。第{i}个") for i, r in enumerate(rubrics)]
    run(judge, answers, jobs=2)
    by_thread: dict[int, list[tuple[str, str]]] = {}
    for rubric_id, answer, thread in judge.assessed:
        by_thread.setdefault(thread, []).append((rubric_id, answer))
    for rubric in (RUBRIC, OTHER):
        threads = {t for r, _, t in judge.assessed if r == rubric.id}
        assert len(threads) == 1  # one worker
        [thread] = threads
        log = by_thread[thread]
        mine = [n for n, (r, _) in enumerate(log) if r == rubric.id]
        assert mine == list(range(mine[0], mine[0] + 4))  # back to back
        # ... in input order.
        assert [a for r, a in log if r == rubric.id] == [
            p.answer for p in answers if p.rubric.id == rubric.id
        ]


def test_requests_are_out_before_the_outcomes_are_asked_for() -> None:
    started = threading.Event()
    judge = FakeJudge({"k1": Verdict.COVERED}, before=lambda r, a: started.set())
    with JudgeRun(judge, [prepare(RUBRIC, GOOD)], 1, SETTINGS) as r:  # type: ignore[arg-type]
        assert started.wait(5)  # sent on entering, while the caller encodes
        found = r.outcomes()
    assert isinstance(found[0], JudgeOutcome)


def test_a_judge_error_is_the_outcome() -> None:
    error = JudgeError("judge unreachable at http://127.0.0.1:9/v1")
    found = run(FakeJudge(error=error), [prepare(RUBRIC, GOOD), prepare(RUBRIC, "")])
    assert found == [error, None]


def test_with_require_judge_a_judge_error_is_raised() -> None:
    with pytest.raises(JudgeError, match="unreachable"):
        run(FakeJudge(error=JudgeError("unreachable")), [prepare(RUBRIC, GOOD)], require_judge=True)


def test_an_unexpected_exception_from_the_judge_becomes_a_judge_error() -> None:
    [found] = run(FakeJudge(error=KeyError("verdict")), [prepare(RUBRIC, GOOD)])
    assert isinstance(found, JudgeError)
    assert str(found) == "the judge failed unexpectedly (KeyError: 'verdict')"


def test_with_require_judge_an_unexpected_exception_is_raised_as_a_judge_error() -> None:
    with pytest.raises(JudgeError, match="failed unexpectedly") as raised:
        run(FakeJudge(error=RuntimeError("bug")), [prepare(RUBRIC, GOOD)], require_judge=True)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_unexpected_is_one_line_without_the_api_key_and_logs_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(use_cache=False, judge_api_key="sk-secret-123")
    try:
        raise ValueError("bad reply\nfrom sk-secret-123 " + "x" * 300)
    except ValueError as exc:
        with caplog.at_level(logging.DEBUG, logger="evaluator.scoring.judging"):
            error = unexpected(exc, settings)
    text = str(error)
    assert "\n" not in text and "sk-secret-123" not in text and "***" in text
    assert text.startswith("the judge failed unexpectedly (ValueError: bad reply from ***")
    assert len(text) < 260
    assert caplog.records and caplog.records[0].exc_info is not None


# ---------------------------------------------------------------------------- quoted


def test_quoted_are_the_covered_and_partial_quotes() -> None:
    outcomes: list[Outcome] = [
        outcome(
            {"k1": Verdict.COVERED, "k2": Verdict.MISSING},
            {"k1": "用教师模型", "k2": "学生模型更小"},
        ),
        outcome({"k1": Verdict.PARTIAL, "k2": Verdict.CONTRADICTED}, {"k1": "软标签", "k2": "大"}),
        outcome({"k1": Verdict.COVERED}, {"k1": None}),
        JudgeError("down"),
        None,
    ]
    assert quoted(outcomes) == {"用教师模型", "软标签"}


# ---------------------------------------------------------------------------- recheck


def rechecked(
    judge: FakeJudge,
    results: list[list[KeyPointResult]],
    outcomes: list[Outcome],
    supported: bool = True,
) -> bool:
    answers = [prepare(RUBRIC, f"{GOOD}{i}") for i in range(len(outcomes))]
    return recheck(
        judge,  # type: ignore[arg-type]
        answers,
        results,
        outcomes,
        lambda i, r, quote: supported,
        2,
        SETTINGS,
    )


def test_nothing_to_ask_leaves_the_outcomes_alone() -> None:
    judge = FakeJudge(second={"k1": Verdict.MISSING})
    first = outcome({"k1": Verdict.COVERED, "k2": Verdict.PARTIAL})
    outcomes: list[Outcome] = [first, JudgeError("down"), None]
    # The embeddings see as much as the judge credits, within RECHECK_GAP.
    results = [[result("k1", 0.6), result("k2", 0.1)], [result("k1", 0.0)], [result("k1", 0.0)]]
    assert not rechecked(judge, results, outcomes)
    assert outcomes[0] is first and judge.rechecked == []


def test_an_unsupported_verdict_is_not_asked_again() -> None:
    judge = FakeJudge(second={"k1": Verdict.MISSING})
    first = outcome({"k1": Verdict.COVERED})
    outcomes: list[Outcome] = [first]
    assert not rechecked(judge, [[result("k1", 0.0)]], outcomes, supported=False)
    assert outcomes == [first] and judge.rechecked == []


def test_points_credited_by_the_gap_beyond_the_embeddings_are_asked_again() -> None:
    judge = FakeJudge()
    verdicts = {"k1": Verdict.COVERED, "k2": Verdict.PARTIAL, "k3": Verdict.PARTIAL}
    results = [[result("k1", 1.0 - RECHECK_GAP), result("k2", 0.0), result("k3", 0.01)]]
    assert rechecked(judge, results, [outcome(verdicts)])
    assert [ids for _, _, ids in judge.rechecked] == [["k1", "k2"]]


def test_the_lower_of_two_verdicts_stands() -> None:
    judge = FakeJudge(second={"k1": Verdict.MISSING, "k2": Verdict.COVERED})
    outcomes: list[Outcome] = [outcome({"k1": Verdict.COVERED, "k2": Verdict.PARTIAL})]
    assert rechecked(judge, [[result("k1", 0.0), result("k2", 0.0)]], outcomes)
    after = outcomes[0]
    assert isinstance(after, JudgeOutcome)
    assert after.judgements["k1"].verdict == Verdict.MISSING  # lowered
    assert after.judgements["k2"].verdict == Verdict.PARTIAL  # never raised
    assert after.info.rechecked == ["k1", "k2"]


def test_each_answer_is_rechecked_with_its_own_points() -> None:
    judge = FakeJudge(second={"k1": Verdict.MISSING, "k2": Verdict.MISSING})
    outcomes: list[Outcome] = [
        outcome({"k1": Verdict.COVERED, "k2": Verdict.COVERED}),
        JudgeError("down"),
        outcome({"k1": Verdict.COVERED, "k2": Verdict.COVERED}),
    ]
    results = [
        [result("k1", 0.0), result("k2", 1.0)],
        [result("k1", 0.0), result("k2", 0.0)],
        [result("k1", 1.0), result("k2", 0.0)],
    ]
    assert rechecked(judge, results, outcomes)
    assert sorted((a, ids) for _, a, ids in judge.rechecked) == [
        (f"{GOOD}0", ["k1"]),
        (f"{GOOD}2", ["k2"]),
    ]
    first, _, third = outcomes
    assert isinstance(first, JudgeOutcome) and isinstance(third, JudgeOutcome)
    assert first.judgements["k1"].verdict == third.judgements["k2"].verdict == Verdict.MISSING
    assert first.judgements["k2"].verdict == third.judgements["k1"].verdict == Verdict.COVERED


@pytest.mark.parametrize("error", [JudgeError("down"), RuntimeError("bug")])
def test_a_failed_recheck_keeps_the_first_verdicts(error: Exception) -> None:
    judge = FakeJudge(recheck_error=error)
    first = outcome({"k1": Verdict.COVERED})
    outcomes: list[Outcome] = [first]
    assert rechecked(judge, [[result("k1", 0.0)]], outcomes)  # asked, though it failed
    assert outcomes == [first]


def test_is_supported_gets_the_answer_the_result_and_the_quote() -> None:
    asked: list[tuple[int, str, str | None]] = []

    def supported(i: int, r: KeyPointResult, quote: str | None) -> bool:
        asked.append((i, r.id, quote))
        return False

    outcomes: list[Outcome] = [None, outcome({"k1": Verdict.COVERED}, {"k1": "用教师模型"})]
    answers = [prepare(RUBRIC, ""), prepare(RUBRIC, GOOD)]
    results = [[result("k1", 0.0)], [result("k1", 0.0)]]
    assert not recheck(FakeJudge(), answers, results, outcomes, supported, 1, SETTINGS)  # type: ignore[arg-type]
    assert asked == [(1, "k1", "用教师模型")]
