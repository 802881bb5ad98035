"""One chat completion from the judge's server: streamed, retried, and in the best response
format the server accepts. What to ask, and what to do with an unusable reply, is `client`'s.

Response-format ladder (DESIGN.md): `response_format` json_schema with text lengths (llama.cpp
enforces them) → without them → json_object → plain text, each step taken once a server
rejects the one above, and remembered for the rest of the run.

Replies are streamed (`stream.read_stream`) and abandoned when no first token comes within
`judge_first_token_timeout`, when no next one comes for `judge_stall_timeout`, when
`judge_timeout` has passed since the first token, or when the reply loops. A request that sent
nothing is `JudgeUnavailable` at once: asked again, in any style, it would wait as long. One
abandoned midway is `RanAway`, for the caller to ask for less. Transient failures (429 with
Retry-After, 5xx, dropped connections) are retried `judge_retries` times here, not by the
openai client, whose retries would resend a timed-out request unchanged.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from evaluator.errors import JudgeError
from evaluator.judge.reply import reply_schema
from evaluator.judge.stream import NotAStream, Silent, Streamed, read_stream
from evaluator.judge.wording import describe
from evaluator.rubrics.model import Rubric
from evaluator.settings import Settings

if TYPE_CHECKING:
    from openai import OpenAI

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_RETRY_DELAY = 60.0  # seconds; a longer Retry-After is capped
FORMATS = ("json_schema_bounded", "json_schema", "json_object", "none")

Usage = tuple[int | None, int | None]  # prompt and completion tokens, when the server says


class JudgeUnavailable(JudgeError):
    """The server gave no reply: no token, no connection, an HTTP error, or bytes that are
    not an event stream (the failures the breaker counts)."""


class RanAway(Exception):
    """A reply abandoned mid-way: stalled, over its budget, or looping."""


class Transport:
    """Sends chat completions to one server for one model (thread-safe)."""

    def __init__(
        self, settings: Settings, model: str, base_url: str, public_url: str, api_key: str
    ) -> None:
        self.settings = settings
        self.model = model
        self.public_url = public_url
        first = settings.judge_first_token_timeout
        self.connect_timeout = min(first, CONNECT_TIMEOUT)
        self._client = _make_client(base_url, api_key, first, self.connect_timeout)
        self._format = FORMATS[0]  # lowered for good once the server rejects it

    def complete(
        self, messages: list[dict[str, str]], rubric: Rubric, style: str, params: dict[str, Any]
    ) -> tuple[str | None, Usage]:
        """One streamed chat completion, walking down the response_format ladder when it is
        rejected; raises RanAway when the reply is abandoned, JudgeUnavailable when there is
        none."""
        import openai

        start = FORMATS.index(self._format)
        for mode in FORMATS[start:]:
            try:
                streamed = self._create(
                    model=self.model,
                    messages=messages,
                    **params,
                    **_response_format(mode, rubric, style),
                )
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if mode != FORMATS[-1]:
                    log.info("judge %s rejected response_format %s: %s", self.model, mode, exc)
                    continue
                raise JudgeUnavailable(self._describe(exc)) from None
            except openai.OpenAIError as exc:
                raise JudgeUnavailable(self._describe(exc)) from None
            except NotAStream as exc:
                raise JudgeUnavailable(
                    f"judge at {self.public_url} sent a reply that is not an OpenAI event stream"
                    f" ({exc})"
                ) from None
            if mode != self._format:
                self._format = mode  # remember what this server accepts
            if streamed.stopped == "budget":
                budget = self.settings.judge_timeout
                raise RanAway(f"was still writing after {budget:g} s")
            if streamed.stopped == "repetition":
                raise RanAway("was repeating itself")
            if streamed.finish_reason == "length":
                log.info(
                    "judge %s: reply cut off at max_tokens=%d", self.model, params["max_tokens"]
                )
            return streamed.text or None, streamed.usage
        raise AssertionError("unreachable")  # the loop returns or raises

    def _create(self, **request: Any) -> Streamed:
        """The streamed reply, retrying transient failures (never a timeout) `judge_retries`
        times with the server's Retry-After or a short exponential backoff."""
        import openai

        attempts = self.settings.judge_retries + 1
        for attempt in range(attempts):
            try:
                return self._stream(request)
            except openai.APITimeoutError:
                raise  # a connect timeout (_stream handles the others): not retried
            except openai.APIStatusError as exc:
                if exc.status_code not in RETRY_STATUS or attempt + 1 == attempts:
                    raise
                delay = retry_delay(exc, attempt)
            except openai.APIConnectionError:
                if attempt + 1 == attempts:
                    raise
                delay = retry_delay(None, attempt)
            log.info("judge %s: retrying in %.1f s", self.model, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _stream(self, request: dict[str, Any]) -> Streamed:
        """One streamed request, read; raises JudgeUnavailable when the server sent no token at
        all (asked again, in any style, it would be as silent), RanAway when it stopped midway."""
        import openai

        where = f"judge at {self.public_url}"
        first, stall = self.settings.judge_first_token_timeout, self.settings.judge_stall_timeout
        try:
            stream = self._client.chat.completions.create(
                **request, stream=True, stream_options={"include_usage": True}
            )
        except openai.APITimeoutError as exc:
            if type(exc.__cause__).__name__ == "ConnectTimeout":
                raise  # unreachable, said by _describe
            raise JudgeUnavailable(
                f"{where} sent no token within {first:g} s (first-token timeout)"
            ) from None
        with stream:
            _stall_timeout(stream, stall)
            try:
                return read_stream(
                    stream, self.settings.judge_timeout, silent=(openai.APITimeoutError,)
                )
            except Silent:
                raise JudgeUnavailable(
                    f"{where} started a reply but sent no token for {stall:g} s"
                ) from None
            except openai.APITimeoutError:
                raise RanAway(f"sent no token for {stall:g} s") from None

    def _describe(self, exc: Exception) -> str:
        attempts = self.settings.judge_retries + 1
        return describe(exc, self.public_url, self.model, attempts, self.connect_timeout)


def _make_client(base_url: str, api_key: str, first: float, connect: float) -> OpenAI:
    from openai import OpenAI, Timeout

    return OpenAI(
        base_url=base_url,
        api_key=api_key,
        # The read timeout is the first-token timeout until the server starts answering
        # (`_stall_timeout` then makes it the stall timeout, the longest wait between tokens).
        timeout=Timeout(first, connect=connect),
        max_retries=0,  # retried in Transport._create, never a timed-out request as it was
    )


def _stall_timeout(stream: Any, seconds: float) -> None:
    """Once the server has started answering, its read timeout becomes the stall timeout.

    The request went out with the first-token timeout as its read timeout, and llama-server,
    like OpenAI, sends the response headers with the first token, so that bounds the wait for
    it. httpx reads a response body's read timeout from the request's extensions when the body
    is first read, which is after this; a client that keeps it elsewhere keeps the first-token
    timeout between tokens too (stricter, never a longer wait)."""
    request = getattr(getattr(stream, "response", None), "request", None)
    timeouts = getattr(request, "extensions", {}).get("timeout")
    if isinstance(timeouts, dict):
        timeouts["read"] = seconds


def _response_format(mode: str, rubric: Rubric, style: str) -> dict[str, Any]:
    if mode in ("json_schema_bounded", "json_schema"):
        body = reply_schema(rubric, style, bounded=mode == "json_schema_bounded")
        schema = {"name": "judge_reply", "strict": True, "schema": body}
        return {"response_format": {"type": "json_schema", "json_schema": schema}}
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}


def retry_delay(exc: Any, attempt: int) -> float:
    """The server's Retry-After (seconds or ms), else 0.5 s doubling per attempt."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            value = float(str(headers.get(name))) * scale
        except ValueError:
            continue
        if value >= 0:
            return min(value, MAX_RETRY_DELAY)
    return min(0.5 * 2**attempt, 8.0)
