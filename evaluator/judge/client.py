"""The judge over any OpenAI-compatible endpoint: call the model, read its reply, check it.

    judge = make_judge(settings)          # None when no judge is configured
    outcome = judge.assess(rubric, answer)  # JudgeOutcome, or raises JudgeError

Response-format ladder (DESIGN.md): `response_format` json_schema with text lengths → without
them → json_object → plain text, each step taken once a server rejects the one above; the text
is read by `reply.parse_reply`, and an unusable reply gets one re-ask quoting the error, then
JudgeError ("unscored": the grader falls back to embeddings; never 0, never a pass).

The candidate answer is untrusted: `prompts` delimits it, `injection` flags attempts to
instruct the grader whatever the judge says, and `grounding` checks every quote (in a flagged
answer, credit needs one).

Replies are streamed (`stream.read_stream`) and abandoned when no first token comes within
`judge_first_token_timeout`, when no next one comes for `judge_stall_timeout`, when
`judge_timeout` has passed since the first token, or when the reply loops. A request that sent
nothing is left unscored at once: asked again, in any style, it would wait as long. A
deterministic request that ran away is never sent again as it was: it is asked once more in the
compact style with a smaller token budget, then left unscored. Transient failures (429 with
Retry-After, 5xx, dropped connections) are retried `judge_retries` times here, not by the
openai client, whose retries would resend a timed-out request unchanged.

Failures of the server itself (`JudgeUnavailable`) are counted by a circuit breaker
(`breaker`): a few in a row, and the judge is off for the rest of the run. Whatever else goes
wrong while asking is one of them too, its traceback in the debug log only: a judge never
crashes a grade.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from evaluator.errors import EvaluatorError, JudgeError
from evaluator.judge import notices
from evaluator.judge.breaker import Breaker
from evaluator.judge.outcome import JudgeOutcome, judged
from evaluator.judge.prompts import (
    MAX_ANSWER_CHARS,
    MAX_REFERENCE_CHARS,
    JudgePrompts,
    load_judge_prompts,
    render_messages,
)
from evaluator.judge.recheck import add_usage, narrowed
from evaluator.judge.replies import CachedReply, JudgeCache
from evaluator.judge.reply import (
    JudgeReply,
    ReplyError,
    parse_reply,
    reply_schema,
)
from evaluator.judge.stream import NotAStream, Silent, Streamed, read_stream
from evaluator.judge.wording import describe, public_base_url, redacted
from evaluator.kvstore import cache_key
from evaluator.result import JudgeInfo
from evaluator.rubrics.model import Rubric
from evaluator.settings import Settings
from evaluator.text import one_line

if TYPE_CHECKING:
    from pathlib import Path

    from openai import OpenAI

# Importers take these from here: the judge's public face.
__all__ = ["Judge", "JudgeUnavailable", "make_judge", "public_base_url", "redacted"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "not-needed"  # local servers ignore the key, but the client insists on one
MAX_TOKENS = 1024  # room for brief reasoning plus a verdict per key point
# The compact styles' budget: a Chinese quote and a verdict take ~40-50 tokens per key point; the
# budget stops a runaway reply long before the timeout (one ran 142 s at "full").
COMPACT_TOKENS = {"rationale": (112, 64), "compact": (48, 64)}  # (fixed, per key point)
REASK_ECHO_CHARS = 1200  # the re-ask echoes the bad reply into a 4096-token context
FALLBACK_STYLE = "compact"  # how a reply that ran away is asked for again
FALLBACK_BUDGET = 0.6  # ...with this share of its token budget
CONNECT_TIMEOUT = 10.0
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_RETRY_DELAY = 60.0  # seconds; a longer Retry-After is capped


# The response_format ladder: the schema with text lengths (llama.cpp enforces them), the
# portable schema, JSON mode, plain text.
_FORMATS = ("json_schema_bounded", "json_schema", "json_object", "none")


class JudgeUnavailable(JudgeError):
    """The server gave no reply: no token, no connection, an HTTP error, or bytes that are
    not an event stream (the failures the breaker counts)."""


class _RanAway(Exception):
    """A reply abandoned mid-way: stalled, over its budget, or looping."""


class Judge:
    """Asks one OpenAI-compatible model to judge answers against rubrics (thread-safe)."""

    def __init__(
        self, settings: Settings, prompts: JudgePrompts | str | Path | None = None
    ) -> None:
        if not settings.judge_model:
            raise EvaluatorError(
                "the judge is enabled but no judge model is configured:"
                " set EVALUATOR_JUDGE_MODEL or judge_model in [tool.evaluator]"
            )
        self.settings = settings
        self.model = settings.judge_model
        self.base_url = (settings.judge_base_url or DEFAULT_BASE_URL).rstrip("/")
        self.public_url = public_base_url(self.base_url)
        key = settings.judge_api_key.get_secret_value() if settings.judge_api_key else ""
        # Why no request can be sent at all: every answer is then graded by the embeddings
        # alone, saying so (README: without a key, embeddings alone), unless a judge is required.
        self.unavailable: str | None = None
        if not key and self.public_url == DEFAULT_BASE_URL:
            self.unavailable = (
                f"judge '{self.model}' at {DEFAULT_BASE_URL} needs OPENAI_API_KEY"
                ", or OPENAI_BASE_URL for a local server"
            )
            if settings.require_judge:
                raise EvaluatorError(self.unavailable)
        self.prompts = (
            prompts
            if isinstance(prompts, JudgePrompts)
            else load_judge_prompts(prompts, settings.judge_style)
        )
        self.cache = JudgeCache(settings.cache_dir) if settings.use_cache else None
        self._client = self._make_client(key or NO_KEY)
        self._format = _FORMATS[0]  # lowered for good once the server rejects it
        self._fallback: JudgePrompts | None = None  # compact prompts, loaded on first runaway
        self.breaker = Breaker()  # one per Judge, so one per run

    def _make_client(self, api_key: str) -> OpenAI:
        from openai import OpenAI, Timeout

        first = self.settings.judge_first_token_timeout
        return OpenAI(
            base_url=self.base_url,
            api_key=api_key,
            # The read timeout is the first-token timeout until the server starts answering
            # (`_stall_timeout` then makes it the stall timeout, the longest wait between tokens).
            timeout=Timeout(first, connect=min(first, CONNECT_TIMEOUT)),
            max_retries=0,  # retried in _create, never a timed-out request as it was
        )

    # -- request

    def _generation_params(
        self, rubric: Rubric | None = None, prompts: JudgePrompts | None = None
    ) -> dict[str, Any]:
        return {
            "temperature": self.settings.judge_temperature,
            "max_tokens": self._max_tokens(rubric, prompts or self.prompts),
        }

    @staticmethod
    def _max_tokens(rubric: Rubric | None, prompts: JudgePrompts) -> int:
        budget = COMPACT_TOKENS.get(prompts.style)
        if budget is None or rubric is None:
            return MAX_TOKENS
        fixed, per_point = budget
        return min(MAX_TOKENS, fixed + per_point * len(rubric.key_points))

    def cache_key(self, rubric: Rubric, answer: str) -> str:
        return cache_key(
            {
                "model": self.model,
                "base_url": self.public_url,
                "prompt_version": self.prompts.version,
                "prompt_digest": self.prompts.digest,
                "rubric": rubric.content_hash(),
                "answer": answer,
                "params": self._generation_params(rubric),
                "limits": [MAX_ANSWER_CHARS, MAX_REFERENCE_CHARS],
            }
        )

    # -- assess

    def assess(self, rubric: Rubric, answer: str) -> JudgeOutcome:
        """Judge one answer; raises JudgeError when the judge is unreachable or unscored."""
        if self.unavailable is not None:
            raise JudgeUnavailable(self.unavailable)
        started = time.perf_counter()
        key = self.cache_key(rubric, answer) if self.cache else None
        hit = self.cache.get(key) if self.cache and key else None
        if hit is not None:
            try:
                reply = JudgeReply.model_validate_json(hit.reply)
            except ValidationError:
                hit = None  # written by an older schema: ask again
        if hit is not None:
            usage = (hit.prompt_tokens, hit.completion_tokens)
        else:
            with self.breaker.attempt():  # a cached reply is still used once the judge is off
                reply, usage = self._counted_ask(rubric, answer)
            if self.cache and key:
                elapsed = (time.perf_counter() - started) * 1000
                self.cache.put(key, CachedReply(reply.model_dump_json(), *usage, elapsed))
        info = JudgeInfo(
            model=self.model,
            base_url=self.public_url,
            prompt_version=self.prompts.version,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            prompt_tokens=usage[0],
            completion_tokens=usage[1],
            cached=hit is not None,
        )
        return judged(rubric, answer, reply, info)

    def recheck(self, rubric: Rubric, answer: str, ids: list[str]) -> JudgeOutcome:
        """The consistency pass: `answer` judged again on the key points `ids` alone (see
        `recheck.keep_lower` for how the two are merged); raises JudgeError like `assess`."""
        return self.assess(narrowed(rubric, ids), answer)

    def _counted_ask(
        self, rubric: Rubric, answer: str
    ) -> tuple[JudgeReply, tuple[int | None, int | None]]:
        """`_ask`, its outcome told to the breaker; anything unexpected is JudgeUnavailable."""
        try:
            asked = self._ask(rubric, answer)
        except JudgeUnavailable as exc:
            self._failed(str(exc))
            raise
        except JudgeError:
            self.breaker.answered()  # a reply, unusable: the server works
            raise
        except Exception as exc:
            log.debug("judge %s failed unexpectedly", self.model, exc_info=True)
            what = redacted(one_line(f"{type(exc).__name__}: {exc}", 200), self.settings)
            error = JudgeUnavailable(f"judge at {self.public_url} failed unexpectedly ({what})")
            self._failed(str(error))
            raise error from None
        self.breaker.answered()
        return asked

    def _failed(self, reason: str) -> None:
        off = self.breaker.failed(reason)
        if off is not None:
            log.info("%s", off)
            notices.tell(
                off if self.settings.require_judge else f"{off}; grading by embeddings alone"
            )

    def _ask(self, rubric: Rubric, answer: str) -> tuple[JudgeReply, tuple[int | None, int | None]]:
        prompts, params = self.prompts, self._generation_params(rubric)
        messages = render_messages(prompts, rubric, answer)
        try:
            text, usage = self._complete(messages, rubric, prompts, params)
        except _RanAway as first:
            # Asked again as it was, a deterministic model would run away again: ask for less.
            prompts = self._fallback_prompts()
            params = self._generation_params(rubric, prompts)
            params["max_tokens"] = max(32, int(params["max_tokens"] * FALLBACK_BUDGET))
            log.info("judge %s: %s; asking once more in %s style", self.model, first, prompts.style)
            messages = render_messages(prompts, rubric, answer)
            try:
                text, usage = self._complete(messages, rubric, prompts, params)
            except _RanAway as second:
                raise JudgeError(
                    f"judge at {self.public_url} {first}, and again asked for less: {second}"
                    " (unscored)"
                ) from None
        try:
            return parse_reply(text, rubric), usage
        except ReplyError as first:
            log.info("judge %s: unusable reply (%s), asking again", self.model, first)
            reask = [
                *messages,
                {"role": "assistant", "content": (text or "")[:REASK_ECHO_CHARS]},
                {
                    "role": "user",
                    "content": f"Your reply could not be used: {first}. Reply again with only the"
                    " JSON object described in the instructions, one entry per key point id.",
                },
            ]
            try:
                text, second_usage = self._complete(reask, rubric, prompts, params)
            except _RanAway as second:
                raise JudgeError(
                    f"judge at {self.public_url} gave an unusable reply ({first}), and the"
                    f" re-ask {second} (unscored)"
                ) from None
            usage = add_usage(usage, second_usage)
            try:
                return parse_reply(text, rubric), usage
            except ReplyError as second:
                raise JudgeError(
                    f"judge '{self.model}' at {self.public_url} gave no usable reply after a"
                    f" re-ask (unscored): {second}"
                ) from None

    def _fallback_prompts(self) -> JudgePrompts:
        if self.prompts.style == FALLBACK_STYLE:
            return self.prompts
        if self._fallback is None:
            self._fallback = load_judge_prompts(None, FALLBACK_STYLE)
        return self._fallback

    def _complete(
        self,
        messages: list[dict[str, str]],
        rubric: Rubric,
        prompts: JudgePrompts,
        params: dict[str, Any],
    ) -> tuple[str | None, tuple[int | None, int | None]]:
        """One streamed chat completion, walking down the response_format ladder when it is
        rejected; raises _RanAway when the reply is abandoned."""
        import openai

        start = _FORMATS.index(self._format)
        for mode in _FORMATS[start:]:
            try:
                streamed = self._create(
                    model=self.model,
                    messages=messages,
                    **params,
                    **_response_format(mode, rubric, prompts.style),
                )
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if mode != _FORMATS[-1]:
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
                raise _RanAway(f"was still writing after {budget:g} s")
            if streamed.stopped == "repetition":
                raise _RanAway("was repeating itself")
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
                delay = _retry_delay(exc, attempt)
            except openai.APIConnectionError:
                if attempt + 1 == attempts:
                    raise
                delay = _retry_delay(None, attempt)
            log.info("judge %s: retrying in %.1f s", self.model, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _stream(self, request: dict[str, Any]) -> Streamed:
        """One streamed request, read; raises JudgeUnavailable when the server sent no token at
        all (asked again, in any style, it would be as silent), _RanAway when it stopped midway."""
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
                raise _RanAway(f"sent no token for {stall:g} s") from None

    def _describe(self, exc: Exception) -> str:
        attempts = self.settings.judge_retries + 1
        connect = min(self.settings.judge_first_token_timeout, CONNECT_TIMEOUT)
        return describe(exc, self.public_url, self.model, attempts, connect)


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


def _retry_delay(exc: Any, attempt: int) -> float:
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


def make_judge(
    settings: Settings, prompts: JudgePrompts | str | Path | None = None
) -> Judge | None:
    """The configured judge, or None when the judge is off."""
    return Judge(settings, prompts) if settings.judge_enabled else None
