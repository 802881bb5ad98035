"""Judges that fail in ways a grader must survive (#27): replies that are not an OpenAI event
stream, servers that never answer, failures in a row. Real `Judge` and `openai` client against
the scripted server on 127.0.0.1; hashing embedder. Every failure is one line and a fallback to
the embeddings, never a traceback."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from evaluator.errors import JudgeError
from evaluator.judge.client import Judge
from evaluator.rubrics.model import Rubric
from evaluator.settings import Settings
from tests.fake_openai import FakeOpenAI

pytest_plugins = ["tests.fake_openai"]

ANSWER = "A small student model learns from a large teacher model's soft outputs."
# Seeded, so the bytes (and the byte the client stumbles on) are the same every run.
RANDOM_BYTES = random.Random(27).randbytes(4096)


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
