"""The judge over any OpenAI-compatible endpoint: ask the model, read its reply, check it.

    judge = make_judge(settings)          # None when no judge is configured
    outcome = judge.assess(rubric, answer)  # JudgeOutcome, or raises JudgeError

`transport` sends one request (streamed, retried, down the response-format ladder); here is
what is asked and what is done with the reply. The text is read by `reply.parse_reply`, and an
unusable reply gets one re-ask quoting the error, then JudgeError ("unscored": the grader falls
back to embeddings; never 0, never a pass). A deterministic request that ran away is never sent
again as it was: it is asked once more in the compact style with a smaller token budget, then
left unscored. Replies are cached (`replies`) under everything that decides them.

The candidate answer is untrusted: `prompts` delimits it, and `outcome.judged` turns the reply
into a `JudgeOutcome`, where `injection` flags attempts to instruct the grader whatever the
judge says and `grounding` checks every quote (in a flagged answer, credit needs one).

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
from evaluator.judge.reply import JudgeReply, ReplyError, parse_reply
from evaluator.judge.transport import JudgeUnavailable, RanAway, Transport, Usage
from evaluator.judge.wording import public_base_url, redacted
from evaluator.kvstore import cache_key
from evaluator.result import JudgeInfo
from evaluator.rubrics.model import Rubric
from evaluator.settings import Settings
from evaluator.text import one_line

if TYPE_CHECKING:
    from pathlib import Path

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
        self.transport = Transport(
            settings, self.model, self.base_url, self.public_url, key or NO_KEY
        )
        self._fallback: JudgePrompts | None = None  # compact prompts, loaded on first runaway
        self.breaker = Breaker()  # one per Judge, so one per run

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

    def _counted_ask(self, rubric: Rubric, answer: str) -> tuple[JudgeReply, Usage]:
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

    def _ask(self, rubric: Rubric, answer: str) -> tuple[JudgeReply, Usage]:
        """The parsed reply to judging `answer`: asked for less once when the reply runs away,
        re-asked once when it is unusable, else JudgeError."""
        prompts, params = self.prompts, self._generation_params(rubric)
        messages = render_messages(prompts, rubric, answer)
        try:
            text, usage = self.transport.complete(messages, rubric, prompts.style, params)
        except RanAway as first:
            # Asked again as it was, a deterministic model would run away again: ask for less.
            prompts = self._fallback_prompts()
            params = self._generation_params(rubric, prompts)
            params["max_tokens"] = max(32, int(params["max_tokens"] * FALLBACK_BUDGET))
            log.info("judge %s: %s; asking once more in %s style", self.model, first, prompts.style)
            messages = render_messages(prompts, rubric, answer)
            try:
                text, usage = self.transport.complete(messages, rubric, prompts.style, params)
            except RanAway as second:
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
                text, second_usage = self.transport.complete(reask, rubric, prompts.style, params)
            except RanAway as second:
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


def make_judge(
    settings: Settings, prompts: JudgePrompts | str | Path | None = None
) -> Judge | None:
    """The configured judge, or None when the judge is off."""
    return Judge(settings, prompts) if settings.judge_enabled else None
