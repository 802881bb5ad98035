"""Judges that fail in ways a grader must survive (#27): replies that are not an OpenAI event
stream, servers that never answer, failures in a row (the breaker). Real `Judge` and `openai` client against
the scripted server on 127.0.0.1; hashing embedder. Every failure is one line and a fallback to
the embeddings, never a traceback."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from evaluator.errors import JudgeError
from evaluator.judge import notices
from evaluator.judge.breaker import JudgeOff
from evaluator.judge.client import Judge
from evaluator.judge.outcome import JudgeOutcome
from evaluator.result import Flag, Grade
from evaluator.rubrics.model import Rubric
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from tests.fake_openai import FakeOpenAI, judge_json

pytest_plugins = ["tests.fake_openai"]

ANSWER = "A small student model learns from a large teacher model's soft outputs."
# Seeded, so the bytes (and the byte the client stumbles on) are the same every run.
RANDOM_BYTES = random.Random(27).randbytes(4096)


@pytest.fixture(autouse=True)
def no_notices() -> None:
    notices.drain()  # lines told by earlier tests in this process


@pytest.fixture
def rubric() -> Rubric:
    return Rubric(
        id="t-q11",
        number=11,
        title="What is knowledge distillation?",
        question="Explain knowledge distillation.",
        reference_answer="A small student model is trained to imitate a large teacher model.",
        key_points=[
            {"id": "k1", "text": "a small student model learns from a large teacher model"},
            {
                "id": "k2",
                "text": "the student is trained on the teacher's soft probability outputs",
            },
        ],
        language="en",
    )


def judge_settings(fake: FakeOpenAI, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "embedder": "hashing",
        "judge_model": "fake-judge",
        "judge_base_url": fake.base_url,
        "cache_dir": tmp_path / "cache",
        "use_cache": False,
        "judge_retries": 0,
        "judge_timeout": 10.0,
    }
    return Settings(**{**values, **overrides})


def event(data: Any) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def not_a_stream(fake: FakeOpenAI, reason: str) -> str:
    return f"judge at {fake.base_url} sent a reply that is not an OpenAI event stream ({reason})"


# ---------------------------------------------------------------------------- not a stream


@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/event-stream"])
def test_random_bytes_are_one_line_and_not_asked_again(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric, content_type: str
) -> None:
    with pytest.raises(UnicodeDecodeError):
        RANDOM_BYTES.decode("utf-8")  # the fixture is what it claims to be
    fake_openai.raw(RANDOM_BYTES, content_type).raw(RANDOM_BYTES, content_type)
    with pytest.raises(JudgeError) as err:
        Judge(judge_settings(fake_openai, tmp_path, judge_retries=1)).assess(rubric, ANSWER)
    assert str(err.value) == not_a_stream(fake_openai, "bytes that are not UTF-8 text")
    # Not a transient failure, nor an unusable reply: neither retried nor re-asked.
    assert len(fake_openai.chat_requests) == 1


def test_data_lines_that_are_not_json_are_one_line(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    fake_openai.raw(b"data: this is not json\n\ndata: {broken\n\n")
    with pytest.raises(JudgeError) as err:
        Judge(judge_settings(fake_openai, tmp_path)).assess(rubric, ANSWER)
    assert str(err.value) == not_a_stream(
        fake_openai, "a data line that is not JSON: Expecting value"
    )
    assert len(fake_openai.chat_requests) == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (42, "JSON that is not a chat.completion.chunk"),
        (None, "JSON that is not a chat.completion.chunk"),
        ([1, 2], "JSON that is not a chat.completion.chunk"),
        ({"choices": "x"}, "JSON that is not a chat.completion.chunk"),
        ({"choices": [5]}, "a chunk whose choices are not shaped as OpenAI's"),
        ({"choices": [{"delta": 5}]}, "a chunk whose choices are not shaped as OpenAI's"),
        ({"choices": [{"delta": {"content": 5}}]}, "a chunk whose choices are not shaped as OpenAI's"),
        ({"choices": [{"delta": {}, "finish_reason": 3}]}, "a chunk whose choices are not shaped as OpenAI's"),
        ({"choices": [], "usage": 5}, "a chunk whose usage is not token counts"),
        ({"choices": [], "usage": {"prompt_tokens": "many"}}, "a chunk whose usage is not token counts"),
    ],
)  # fmt: skip
def test_json_events_of_another_shape_are_one_line(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric, data: Any, reason: str
) -> None:
    # The openai client builds chunks without validating them: these reached the reader as an
    # int, a str of choices, a delta that is a number, and ended in AttributeError/TypeError.
    fake_openai.raw(event(data) + b"data: [DONE]\n\n")
    with pytest.raises(JudgeError) as err:
        Judge(judge_settings(fake_openai, tmp_path)).assess(rubric, ANSWER)
    assert str(err.value) == not_a_stream(fake_openai, reason)


# ---------------------------------------------------------------------------- the grade


def grader_for(fake: FakeOpenAI, tmp_path: Path, **overrides: Any) -> Grader:
    settings = judge_settings(fake, tmp_path, **overrides)
    return Grader("hashing", judge=Judge(settings), settings=settings)


def assert_fell_back(grade: Grade, reason: str) -> None:
    assert grade.method == "embedding" and grade.judge is None
    assert Flag.JUDGE_UNSCORED in grade.flags and Flag.EMBEDDING_ONLY in grade.flags
    assert grade.method_reason == f"judge unscored ({reason}); graded by embeddings alone"
    assert "\n" not in grade.method_reason


FAILING: dict[str, tuple[Callable[[FakeOpenAI], object], str]] = {
    "random-bytes": (
        lambda fake: fake.raw(RANDOM_BYTES, "application/octet-stream"),
        "sent a reply that is not an OpenAI event stream (bytes that are not UTF-8 text)",
    ),
    "not-json": (
        lambda fake: fake.raw(b"data: this is not json\n\n"),
        "sent a reply that is not an OpenAI event stream"
        " (a data line that is not JSON: Expecting value)",
    ),
    "silent": (  # accepts the connection, never replies
        lambda fake: fake.hang(60),
        "sent no token within 1 s (first-token timeout)",
    ),
}


@pytest.mark.parametrize("kind", sorted(FAILING))
def test_the_grade_falls_back_with_the_reason_in_one_line(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric, kind: str
) -> None:
    script, said = FAILING[kind]
    script(fake_openai)
    script(fake_openai)
    grader = grader_for(fake_openai, tmp_path, judge_first_token_timeout=1, judge_retries=2)
    started = time.monotonic()
    grade = grader.grade(rubric, ANSWER)
    assert time.monotonic() - started < 5
    reason = f"judge at {fake_openai.base_url} {said}"
    assert_fell_back(grade, reason)
    assert grade.score > 0  # graded, by the embeddings
    assert len(fake_openai.chat_requests) == 1  # neither retried nor asked again
    assert notices.drain() == [f"{reason}: graded by embeddings alone"]


class _BrokenJudge:
    """A judge with a bug: whatever it raises must not sink the grade."""

    def __init__(self) -> None:
        self.calls = 0

    def assess(self, rubric: Rubric, answer: str) -> JudgeOutcome:
        self.calls += 1
        raise KeyError("verdicts")


def test_an_unexpected_exception_from_the_judge_is_an_unscored_judge(
    tmp_path: Path, rubric: Rubric, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(embedder="hashing", cache_dir=tmp_path, use_cache=False)
    grader = Grader("hashing", judge=_BrokenJudge(), settings=settings)  # type: ignore[arg-type]  # duck-typed Judge
    with caplog.at_level(logging.DEBUG, logger="evaluator"):
        grades = grader.grade_many([(rubric, ANSWER), (rubric, "Teachers and students.")], jobs=2)
    reason = "the judge failed unexpectedly (KeyError: 'verdicts')"
    for grade in grades:
        assert_fell_back(grade, reason)
    assert notices.drain() == [f"{reason}: graded by embeddings alone (2 answers)"]
    # The traceback is for the debug log only.
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert len(logged) == 2 and all(r.levelno == logging.DEBUG for r in logged)


def test_an_unexpected_exception_with_require_judge_is_one_line(
    tmp_path: Path, rubric: Rubric
) -> None:
    settings = Settings(embedder="hashing", cache_dir=tmp_path, use_cache=False, require_judge=True)
    grader = Grader("hashing", judge=_BrokenJudge(), settings=settings)  # type: ignore[arg-type]  # duck-typed Judge
    with pytest.raises(
        JudgeError, match=r"^the judge failed unexpectedly \(KeyError: 'verdicts'\)$"
    ):
        grader.grade(rubric, ANSWER)
    assert notices.drain() == []  # not graded, so not "graded by embeddings alone"


# ---------------------------------------------------------------------------- the breaker


def answers(n: int) -> list[str]:
    return [f"{ANSWER} (answer {i})" for i in range(n)]  # distinct: none is a repeat


def off_line(fake: FakeOpenAI, last: str) -> str:
    return f"judge off for the rest of this run: 3 failures in a row (last: judge at {fake.base_url} {last})"


def test_after_three_failures_in_a_row_the_judge_is_not_called_again(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    for _ in range(10):
        fake_openai.hang(60)
    grader = grader_for(fake_openai, tmp_path, judge_first_token_timeout=0.5)
    started = time.monotonic()
    grades = grader.grade_many([(rubric, a) for a in answers(6)])
    assert time.monotonic() - started < 5  # 3 x 0.5 s, then none
    assert len(fake_openai.chat_requests) == 3
    silent = f"judge at {fake_openai.base_url} sent no token within 0.5 s (first-token timeout)"
    off = off_line(fake_openai, "sent no token within 0.5 s (first-token timeout)")
    for grade in grades[:3]:
        assert_fell_back(grade, silent)
    for grade in grades[3:]:  # each grade says why it was not judged
        assert_fell_back(grade, off)
    assert notices.drain() == [
        f"{off}; grading by embeddings alone",  # said once, as the judge went off
        f"{silent}: graded by embeddings alone (3 answers)",
    ]
    # The rest of the run, later calls included, is graded by the embeddings alone.
    again = grader.grade(rubric, "Teachers teach students.")
    assert_fell_back(again, off)
    assert len(fake_openai.chat_requests) == 3 and notices.drain() == []


def test_a_reply_resets_the_count(fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric) -> None:
    good = judge_json({"k1": "covered", "k2": "partial"})
    for step in ["bad", "bad", "good", "bad", "bad", "good", "bad", "bad"]:
        fake_openai.raw(RANDOM_BYTES) if step == "bad" else fake_openai.reply(good)
    grades = grader_for(fake_openai, tmp_path).grade_many([(rubric, a) for a in answers(8)])
    assert len(fake_openai.chat_requests) == 8  # never three failures in a row
    assert [g.method for g in grades].count("embedding+judge") == 2
    assert not any("judge off" in g.method_reason for g in grades)


def test_unusable_replies_do_not_switch_the_judge_off(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    # The server answers; the model cannot judge these answers: that is no outage.
    for _ in range(8):
        fake_openai.reply("I cannot judge this.")
    grades = grader_for(fake_openai, tmp_path).grade_many([(rubric, a) for a in answers(4)])
    assert len(fake_openai.chat_requests) == 8  # each asked, and re-asked once
    assert all(Flag.JUDGE_UNSCORED in g.flags for g in grades)
    assert not any("judge off" in line for line in notices.drain())


def test_the_breaker_is_thread_safe_and_says_so_once(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    for _ in range(40):
        fake_openai.hang(60)
    grader = grader_for(fake_openai, tmp_path, judge_first_token_timeout=1)
    started = time.monotonic()
    grades = grader.grade_many([(rubric, a) for a in answers(16)], jobs=4)
    elapsed = time.monotonic() - started
    # Four requests go out together and fail together; then none: one wave of timeouts, not
    # one more per worker (without the breaker: 16).
    assert 3 <= len(fake_openai.chat_requests) <= 4, len(fake_openai.chat_requests)
    assert elapsed < 5, f"{elapsed:.1f} s"
    assert all(g.method == "embedding" and Flag.JUDGE_UNSCORED in g.flags for g in grades)
    told = notices.drain()
    assert sum(line.startswith("judge off for the rest of this run") for line in told) == 1


def test_with_require_judge_the_breaker_fails_fast_in_one_line(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    for _ in range(10):
        fake_openai.raw(RANDOM_BYTES)
    settings = judge_settings(fake_openai, tmp_path, require_judge=True)
    judge = Judge(settings)
    for _ in range(3):
        with pytest.raises(JudgeError, match="not an OpenAI event stream"):
            judge.assess(rubric, ANSWER)
    with pytest.raises(JudgeOff) as err:
        judge.assess(rubric, ANSWER)
    reason = "sent a reply that is not an OpenAI event stream (bytes that are not UTF-8 text)"
    assert str(err.value) == off_line(fake_openai, reason)
    assert len(fake_openai.chat_requests) == 3
    assert notices.drain() == [off_line(fake_openai, reason)]  # no "grading by embeddings"


def test_an_unexpected_exception_inside_the_client_is_counted_and_never_shows_the_key(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-DO-NOT-LEAK-27"

    def broken(*_: object) -> None:
        raise RuntimeError(f"header Authorization: Bearer {secret}")

    grader = grader_for(fake_openai, tmp_path, judge_api_key=SecretStr(secret))
    assert grader.judge is not None
    monkeypatch.setattr(grader.judge, "_ask", broken)
    grades = grader.grade_many([(rubric, a) for a in answers(4)])
    said = "failed unexpectedly (RuntimeError: header Authorization: Bearer ***)"
    assert_fell_back(grades[0], f"judge at {fake_openai.base_url} {said}")
    assert_fell_back(grades[3], off_line(fake_openai, said))  # counted by the breaker
    told = notices.drain()
    assert all(secret not in g.model_dump_json() for g in grades)
    assert secret not in "".join(told) and told
