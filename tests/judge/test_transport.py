"""One request to the judge's server (judge/transport.py), against the fake server: what is
sent, what comes back, and which failures the asking logic (`Judge`) gets to handle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evaluator.judge.transport import (
    MAX_RETRY_DELAY,
    JudgeUnavailable,
    RanAway,
    Transport,
    retry_delay,
)
from evaluator.rubrics.model import Rubric
from evaluator.settings import Settings
from tests.fake_openai import FakeOpenAI

pytest_plugins = ["tests.fake_openai"]

MESSAGES = [{"role": "user", "content": "judge this"}]
PARAMS = {"temperature": 0.0, "max_tokens": 64}


@pytest.fixture
def rubric() -> Rubric:
    return Rubric(
        id="q",
        title="Stacks",
        question="What is a stack?",
        reference_answer="A last-in first-out collection.",
        key_points=[{"id": "lifo", "text": "last in, first out"}],
        language="en",
    )


def transport(fake: FakeOpenAI, tmp_path: Path, **overrides: Any) -> Transport:
    settings = Settings(cache_dir=tmp_path, judge_model="m", judge_retries=0, **overrides)
    return Transport(settings, "m", fake.base_url, fake.base_url, api_key="k")


def test_a_reply_is_streamed_with_its_usage_and_the_bounded_schema(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    fake_openai.reply('{"key_points": {}}')
    text, usage = transport(fake_openai, tmp_path).complete(MESSAGES, rubric, "full", PARAMS)
    assert (text, usage) == ('{"key_points": {}}', (100, 50))
    body = fake_openai.chat_requests[0].body
    assert body["stream"] is True and body["max_tokens"] == 64
    assert body["response_format"]["type"] == "json_schema"


def test_the_format_a_server_accepts_is_remembered(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    fake_openai.error(400, "no maxLength").error(400, "no json_schema").reply("{}").reply("{}")
    sender = transport(fake_openai, tmp_path)
    sender.complete(MESSAGES, rubric, "full", PARAMS)
    sender.complete(MESSAGES, rubric, "full", PARAMS)
    formats = [r.body.get("response_format", {}).get("type") for r in fake_openai.chat_requests]
    assert formats == ["json_schema", "json_schema", "json_object", "json_object"]


def test_a_runaway_reply_is_left_to_the_caller(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    fake_openai.runaway('{"key_points": {"lifo": "的，的，的，')
    with pytest.raises(RanAway, match="was repeating itself"):
        transport(fake_openai, tmp_path).complete(MESSAGES, rubric, "full", PARAMS)


def test_no_reply_at_all_is_the_server_unavailable(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    fake_openai.hang(2)
    sender = transport(fake_openai, tmp_path, judge_first_token_timeout=0.3)
    with pytest.raises(JudgeUnavailable, match=r"sent no token within 0.3 s"):
        sender.complete(MESSAGES, rubric, "full", PARAMS)


class _Refused:
    def __init__(self, headers: dict[str, str]) -> None:
        self.response = type("Response", (), {"headers": headers})()


@pytest.mark.parametrize(
    ("headers", "attempt", "seconds"),
    [
        ({"retry-after": "2"}, 0, 2.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0, 0.25),  # the finer one first
        ({"retry-after": "3600"}, 0, MAX_RETRY_DELAY),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 1, 1.0),  # a date: the backoff
        ({}, 0, 0.5),
        ({}, 2, 2.0),
        ({}, 10, 8.0),
    ],
)
def test_the_retry_delay_is_the_servers_else_a_short_backoff(
    headers: dict[str, str], attempt: int, seconds: float
) -> None:
    assert retry_delay(_Refused(headers), attempt) == seconds
    if not headers:
        assert retry_delay(None, attempt) == seconds
