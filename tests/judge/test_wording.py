"""What the judge says of its server (judge/wording.py): client errors in one line, never a
credential. The errors are the real `openai` client's, raised against the fake server."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from pydantic import SecretStr

from evaluator.judge.wording import (
    api_message,
    connection_reason,
    describe,
    public_base_url,
    redacted,
)
from evaluator.settings import Settings
from tests.fake_openai import FakeOpenAI, closed_port

pytest_plugins = ["tests.fake_openai"]


def client_error(base_url: str) -> Exception:
    """What the openai client raises for one chat request to `base_url`."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="k", max_retries=0, timeout=5)
    try:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    except openai.OpenAIError as exc:
        return exc
    raise AssertionError("the request did not fail")


def said(exc: Exception, url: str, attempts: int = 1) -> str:
    return describe(exc, url, "fake-judge", attempts=attempts, connect=10)


@pytest.mark.parametrize(
    ("status", "message", "attempts", "expected"),
    [
        (404, "no such model", 1, "judge at {url}: model 'fake-judge' or endpoint not found"),
        (401, "bad key", 1, "judge at {url} rejected the API key (HTTP 401)"),
        (429, "quota", 3, "judge at {url} is rate limiting (HTTP 429, 3 attempts): quota"),
        (503, "overloaded", 1, "judge at {url} failed with HTTP 503 (1 attempt): overloaded"),
    ],
)
def test_http_errors_are_one_line_with_the_servers_message(
    fake_openai: FakeOpenAI, status: int, message: str, attempts: int, expected: str
) -> None:
    fake_openai.error(status, message)
    url = fake_openai.base_url
    assert said(client_error(url), url, attempts).startswith(expected.format(url=url))


def test_a_refused_connection_says_so() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    assert said(client_error(url), url) == f"judge unreachable at {url}: connection refused"


def test_any_other_error_is_named_by_its_type() -> None:
    assert said(ValueError("odd\nreply"), "http://h/v1") == (
        "judge at http://h/v1 failed: ValueError: odd reply"
    )


def test_a_connection_failure_is_named_by_its_root_cause() -> None:
    def chained(*errors: BaseException) -> BaseException:
        for outer, inner in pairwise(errors):
            outer.__cause__ = inner
        return errors[0]

    assert connection_reason(chained(OSError("x"), ConnectionRefusedError())) == (
        "connection refused"
    )
    assert connection_reason(OSError("[Errno -2] Name or service not known")) == "unknown host"
    assert connection_reason(chained(OSError("x"), ConnectionResetError("y"))) == (
        "connection reset by the server"
    )
    assert connection_reason(OSError("something\nelse")) == "something else"


def test_the_message_of_an_error_body_is_read_where_servers_put_it() -> None:
    class Failed(Exception):
        def __init__(self, body: object, message: str = "") -> None:
            super().__init__(message)
            self.body, self.message = body, message

    assert api_message(Failed({"error": {"message": "context\nlength exceeded"}})) == (
        "context length exceeded"
    )
    assert api_message(Failed({"error": "plain"})) == "plain"
    assert api_message(Failed({"message": "flat"})) == "flat"
    assert api_message(Failed(None, "no body")) == "no body"


def test_redacted_removes_the_api_key_wherever_it_is(tmp_path: Path) -> None:
    secret = "sk-test-DO-NOT-LEAK"
    settings = Settings(cache_dir=tmp_path, judge_api_key=SecretStr(secret))
    assert redacted(f"bad key {secret}; {secret}", settings) == "bad key ***; ***"
    assert redacted("nothing to hide", Settings(cache_dir=tmp_path)) == "nothing to hide"


def test_public_base_url_strips_credentials() -> None:
    assert public_base_url("https://u:p@host.example:8443/v1/?api-key=x#f") == (
        "https://host.example:8443/v1"
    )
    assert public_base_url("http://localhost:11434/v1") == "http://localhost:11434/v1"
    assert public_base_url("http://[::1]:8080/v1") == "http://[::1]:8080/v1"
