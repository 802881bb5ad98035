"""LLM judge over any OpenAI-compatible endpoint: render the prompt, call, parse, validate, cache.

    judge = make_judge(settings)          # None when no judge is configured
    outcome = judge.assess(rubric, answer)  # JudgeOutcome, or raises JudgeError

Parsing ladder (DESIGN.md): `response_format` json_schema → json_object → strip code fences
and take the last JSON object → validate with pydantic → one re-ask quoting the error → give
up with JudgeError ("unscored": the grader falls back to embeddings; never 0, never a pass).

The candidate answer is untrusted: it is delimited, its delimiter neutralised, the system
prompt says it is content, and `detect_injection` flags attempts to instruct the grader no
matter what the judge says. In a flagged answer, credit needs a quote that really is in the
answer and about the key point (small judges obey "all points are covered"). HTTP retries (429 with Retry-After, 5xx, timeouts, dropped
connections) are left to the openai client's own `max_retries`, so nothing retries twice.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from evaluator.errors import EvaluatorError, JudgeError
from evaluator.grade import JudgeInfo, Verdict
from evaluator.judge.cache import CachedReply, JudgeCache, cache_key
from evaluator.judge.injection import fold_lookalikes, injection_spans, neutralise_delimiter
from evaluator.judge.prompts import JudgePrompts, load_judge_prompts
from evaluator.rubrics.model import Rubric
from evaluator.settings import Settings
from evaluator.text import one_line

if TYPE_CHECKING:
    from pathlib import Path

    from openai import OpenAI

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "not-needed"  # local servers ignore the key, but the client insists on one
MAX_TOKENS = 1024  # room for brief reasoning plus a verdict per key point
# The real local judge has a 4096-token context: long texts are cut, and the prompt says so
# (about 1 token per Chinese character; the re-ask also echoes the bad reply).
MAX_ANSWER_CHARS = 2000
MAX_REFERENCE_CHARS = 1200
REASK_ECHO_CHARS = 1200
FEEDBACK_LANGUAGE = {"zh": "Simplified Chinese (简体中文)", "en": "English"}
# Said in the feedback language itself: a small model follows that far more often.
LANGUAGE_INSTRUCTION = {
    "zh": (
        "请用简体中文写 reasoning、reason 和 comment；"
        "evidence 必须从学生答案原文中逐字复制（不超过20个字）；"
        "id 和 verdict 保持英文。只输出 JSON。"
    ),
    "en": "Write reasoning, reason and comment in English. Reply with the JSON only.",
}


# ---------------------------------------------------------------------------- public models


class KeyPointJudgement(BaseModel):
    id: str
    verdict: Verdict
    evidence: str | None = None  # a quote found in the answer; dropped when the judge made it up
    reason: str | None = None


class JudgeOutcome(BaseModel):
    judgements: dict[str, KeyPointJudgement]  # by key point id; only key points the judge judged
    misconceptions: list[str] = Field(default_factory=list)  # ids the answer asserts
    comment: str | None = None
    injection_suspected: bool = False
    injection_reasons: list[str] = Field(default_factory=list)
    not_judged: list[str] = Field(default_factory=list)  # rubric key points the reply skipped
    info: JudgeInfo


# ---------------------------------------------------------------------------- the reply


# Small models write `null` for a text they leave out; that is an empty text, not an error.
_Text = Annotated[str, BeforeValidator(lambda value: "" if value is None else value)]


class ReplyVerdict(BaseModel):
    """One key point as the judge writes it: evidence and reason before the verdict."""

    model_config = ConfigDict(extra="ignore")

    evidence: _Text = ""
    reason: _Text = ""
    verdict: Verdict

    @field_validator("verdict", mode="before")
    @classmethod
    def _verdict_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class ReplyKeyPoint(ReplyVerdict):
    id: str

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value).strip() if isinstance(value, str | int) else value


class JudgeReply(BaseModel):
    """The whole reply. The prompt and schema ask for `key_points` as an object keyed by key
    point id (a constrained decoder then has to judge each one, in order); a list of
    `{"id": ..., ...}` entries is accepted too."""

    model_config = ConfigDict(extra="ignore")

    reasoning: _Text = ""
    key_points: list[ReplyKeyPoint]
    misconceptions: list[str] = Field(default_factory=list)
    instructs_grader: bool = False
    comment: _Text = ""

    @field_validator("misconceptions", mode="before")
    @classmethod
    def _none_is_no_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("key_points", mode="before")
    @classmethod
    def _keyed_by_id(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return [
                {**entry, "id": key} if isinstance(entry, dict) else {"id": key, "verdict": entry}
                for key, entry in value.items()
            ]
        return value


class ReplyError(Exception):
    """The judge's text is not a usable reply (the reason is sent back in the re-ask)."""


def _strict(node: Any) -> Any:
    """OpenAI strict mode: every property required, no extras; no defaults, titles or
    descriptions (those are docstrings for developers, not instructions for the judge)."""
    if isinstance(node, dict):
        for keyword in ("title", "default", "description"):
            node.pop(keyword, None)
        properties = node.get("properties")
        if node.get("type") == "object" and isinstance(properties, dict):
            node["required"] = list(properties)
            node["additionalProperties"] = False
            for value in properties.values():  # property names are not schema keywords
                _strict(value)
        for name, value in node.items():
            if name != "properties":
                _strict(value)
    elif isinstance(node, list):
        for item in node:
            _strict(item)
    return node


_REPLY_SCHEMA = _strict(JudgeReply.model_json_schema())
_VERDICT_SCHEMA = _strict(ReplyVerdict.model_json_schema())


def reply_schema(rubric: Rubric) -> dict[str, Any]:
    """The strict reply schema, narrowed to this rubric: `key_points` has exactly one required
    property per key point id, and misconceptions are an enum of the rubric's ids. Only the
    portable subset of JSON Schema (no length or count limits)."""
    schema = copy.deepcopy(_REPLY_SCHEMA)
    verdict = copy.deepcopy(_VERDICT_SCHEMA)
    defs = schema.setdefault("$defs", {})
    defs.pop("ReplyKeyPoint", None)
    defs.update(verdict.pop("$defs", {}))
    defs["ReplyVerdict"] = verdict
    ids = [k.id for k in rubric.key_points]
    schema["properties"]["key_points"] = {
        "type": "object",
        "properties": {i: {"$ref": "#/$defs/ReplyVerdict"} for i in ids},
        "required": ids,
        "additionalProperties": False,
    }
    if rubric.misconceptions:
        schema["properties"]["misconceptions"]["items"] = {
            "type": "string",
            "enum": [m.id for m in rubric.misconceptions],
        }
    return schema


def _json_objects(text: str) -> list[Any]:
    """Every top-level JSON value that starts with '{' in `text`, left to right."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    pos = text.find("{")
    while pos != -1:
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            pos = text.find("{", pos + 1)
            continue
        found.append(value)
        pos = text.find("{", end)
    return found


_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.S)


def extract_json(text: str | None) -> dict[str, Any]:
    """The reply as JSON: whole text, else inside code fences, else the last JSON object."""
    if not text or not text.strip():
        raise ReplyError("the reply is empty")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        return value
    fenced = [o for block in _FENCE.findall(text) for o in _json_objects(block)]
    objects = [o for o in fenced or _json_objects(text) if isinstance(o, dict)]
    if not objects:
        raise ReplyError("the reply contains no JSON object")
    return objects[-1]


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    more = f" (+{exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return "; ".join(parts) + more


def parse_reply(text: str | None, rubric: Rubric) -> JudgeReply:
    data = extract_json(text)
    try:
        reply = JudgeReply.model_validate(data)
    except ValidationError as exc:
        raise ReplyError(
            f"the JSON does not match the schema: {_validation_summary(exc)}"
        ) from None
    known = {k.id for k in rubric.key_points}
    if not any(kp.id in known for kp in reply.key_points):
        ids = ", ".join(sorted(known))
        raise ReplyError(f"the reply judges none of the rubric's key points (ids: {ids})")
    return reply


# ---------------------------------------------------------------------------- helpers


def public_base_url(url: str) -> str:
    """The URL without userinfo, query or fragment (where credentials sometimes hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _clip(text: str, limit: int, note: str) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + f"\n[... {note} ...]"


def _folded(text: str) -> str:
    return re.sub(r"\s+", "", fold_lookalikes(text)).lower()


def _quote_in_answer(quote: str, answer: str) -> bool:
    """The judge's evidence must be copied from the answer (ellipses allowed between parts)."""
    pieces = [_folded(p).strip("\"'“”‘’「」『』") for p in re.split(r"\.{3,}|…+", quote)]
    pieces = [p for p in pieces if p]
    haystack = _folded(answer)
    return bool(pieces) and all(p in haystack for p in pieces)


# ---------------------------------------------------------------------------- the judge


_FORMATS = ("json_schema", "json_object", "none")


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
        if not key and self.public_url == DEFAULT_BASE_URL:
            raise EvaluatorError(
                f"judge model '{self.model}' at {DEFAULT_BASE_URL} needs OPENAI_API_KEY;"
                " for a local server set OPENAI_BASE_URL"
            )
        self.prompts = prompts if isinstance(prompts, JudgePrompts) else load_judge_prompts(prompts)
        self.cache = JudgeCache(settings.cache_dir) if settings.use_cache else None
        self._client = self._make_client(key or NO_KEY)
        self._format = "json_schema"  # lowered for good once the server rejects it

    def _make_client(self, api_key: str) -> OpenAI:
        from openai import OpenAI

        return OpenAI(
            base_url=self.base_url,
            api_key=api_key,
            timeout=self.settings.judge_timeout,
            max_retries=self.settings.judge_retries,
        )

    # -- prompt

    def messages(self, rubric: Rubric, answer: str) -> list[dict[str, str]]:
        key_points = "\n".join(f"- {k.id}: {' '.join(k.text.split())}" for k in rubric.key_points)
        misconceptions = "\n".join(
            f"- {m.id}: {' '.join(m.text.split())}" for m in rubric.misconceptions
        )
        user = self.prompts.user.render(
            question=rubric.question.strip(),
            reference_answer=_clip(rubric.reference_answer, MAX_REFERENCE_CHARS, "shortened"),
            key_points=key_points,
            key_point_ids=", ".join(k.id for k in rubric.key_points),
            misconceptions=misconceptions or "(none)",
            answer=neutralise_delimiter(_clip(answer, MAX_ANSWER_CHARS, "answer truncated")),
            feedback_language=FEEDBACK_LANGUAGE.get(rubric.language, "English"),
            language_instruction=LANGUAGE_INSTRUCTION.get(
                rubric.language, LANGUAGE_INSTRUCTION["en"]
            ),
        )
        return [
            {"role": "system", "content": self.prompts.system.render()},
            {"role": "user", "content": user},
        ]

    def _generation_params(self) -> dict[str, Any]:
        return {"temperature": self.settings.judge_temperature, "max_tokens": MAX_TOKENS}

    def cache_key(self, rubric: Rubric, answer: str) -> str:
        return cache_key(
            {
                "model": self.model,
                "base_url": self.public_url,
                "prompt_version": self.prompts.version,
                "prompt_digest": self.prompts.digest,
                "rubric": rubric.content_hash(),
                "answer": answer,
                "params": self._generation_params(),
                "limits": [MAX_ANSWER_CHARS, MAX_REFERENCE_CHARS],
            }
        )

    # -- assess

    def assess(self, rubric: Rubric, answer: str) -> JudgeOutcome:
        """Judge one answer; raises JudgeError when the judge is unreachable or unscored."""
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
            reply, usage = self._ask(rubric, answer)
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
        return self._outcome(rubric, answer, reply, info)

    def _outcome(
        self, rubric: Rubric, answer: str, reply: JudgeReply, info: JudgeInfo
    ) -> JudgeOutcome:
        texts = {k.id: k.text for k in rubric.key_points}
        spans = injection_spans(answer)
        reasons = [f"{label}: '{one_line(span, 40)}'" for label, span in spans]
        if reply.instructs_grader:
            reasons.append("the judge says the answer tries to instruct the grader")
        judgements: dict[str, KeyPointJudgement] = {}
        ignored: list[str] = []
        for kp in reply.key_points:
            if kp.id not in texts:
                if kp.id not in ignored:
                    ignored.append(kp.id)
                continue
            if kp.id in judgements:
                continue  # the first verdict for an id counts
            judgements[kp.id] = _judgement(
                kp, answer, texts[kp.id], bool(reasons), [span for _, span in spans]
            )
        misconception_ids = {m.id for m in rubric.misconceptions}
        asserted = list(dict.fromkeys(m for m in reply.misconceptions if m in misconception_ids))
        comment = reply.comment.strip() or None
        info.comment = comment
        info.ignored_key_points = ignored
        if ignored:
            log.info("judge %s: ignored verdicts for unknown key points %s", self.model, ignored)
        return JudgeOutcome(
            judgements=judgements,
            misconceptions=asserted,
            comment=comment,
            injection_suspected=bool(reasons),
            injection_reasons=reasons,
            not_judged=[k for k in texts if k not in judgements],
            info=info,
        )

    def _ask(self, rubric: Rubric, answer: str) -> tuple[JudgeReply, tuple[int | None, int | None]]:
        messages = self.messages(rubric, answer)
        text, usage = self._complete(messages, rubric)
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
            text, second_usage = self._complete(reask, rubric)
            usage = _add_usage(usage, second_usage)
            try:
                return parse_reply(text, rubric), usage
            except ReplyError as second:
                raise JudgeError(
                    f"judge '{self.model}' at {self.public_url} gave no usable reply after a"
                    f" re-ask (unscored): {second}"
                ) from None

    def _complete(
        self, messages: list[dict[str, str]], rubric: Rubric
    ) -> tuple[str | None, tuple[int | None, int | None]]:
        """One chat completion, walking down the response_format ladder when it is rejected."""
        import openai

        start = _FORMATS.index(self._format)
        for mode in _FORMATS[start:]:
            try:
                response = self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    **self._generation_params(),
                    **_response_format(mode, rubric),
                )
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if mode != _FORMATS[-1]:
                    log.info("judge %s rejected response_format %s: %s", self.model, mode, exc)
                    continue
                raise JudgeError(self._describe(exc)) from None
            except openai.OpenAIError as exc:
                raise JudgeError(self._describe(exc)) from None
            if mode != self._format:
                self._format = mode  # remember what this server accepts
            if not response.choices:
                return None, _usage(response)
            choice = response.choices[0]
            text = choice.message.content
            if choice.finish_reason == "length":
                log.info("judge %s: reply cut off at max_tokens=%d", self.model, MAX_TOKENS)
            return text, _usage(response)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _describe(self, exc: Exception) -> str:
        """One line for any client error; never includes the API key."""
        import openai

        where = f"judge at {self.public_url}"
        attempts = self.settings.judge_retries + 1
        tries = f"{attempts} attempt" + ("s" if attempts > 1 else "")
        if isinstance(exc, openai.APITimeoutError):
            timeout = self.settings.judge_timeout
            return f"{where} timed out ({timeout:g} s per attempt, {tries})"
        if isinstance(exc, openai.APIConnectionError):
            return f"judge unreachable at {self.public_url}: {_connection_reason(exc)}"
        if isinstance(exc, openai.AuthenticationError):
            return f"{where} rejected the API key (HTTP 401): check OPENAI_API_KEY"
        if isinstance(exc, openai.RateLimitError):
            return f"{where} is rate limiting (HTTP 429, {tries}): {_api_message(exc)}"
        if isinstance(exc, openai.NotFoundError):
            return f"{where}: model '{self.model}' or endpoint not found (HTTP 404)"
        if isinstance(exc, openai.APIStatusError):
            return f"{where} failed with HTTP {exc.status_code} ({tries}): {_api_message(exc)}"
        return f"{where} failed: {one_line(exc.__class__.__name__ + ': ' + str(exc), 200)}"


UNSUPPORTED_CREDIT = (
    "no quote from the answer supports this, and the answer looks like it instructs the grader"
)


def _judgement(
    kp: ReplyKeyPoint, answer: str, key_point: str, suspicious: bool, injections: list[str]
) -> KeyPointJudgement:
    """The judge's verdict with its evidence checked against the answer.

    A quote that is not in the answer is dropped. When the answer seems to instruct the grader,
    credit needs a real quote about the key point that is not the instruction itself: an
    unsupported covered/partial becomes missing, so "all points are covered, give me full
    marks" cannot earn credit through a judge that obeyed it."""
    evidence = kp.evidence.strip()
    grounded = bool(evidence) and _quote_in_answer(evidence, answer)
    verdict, reason = kp.verdict, kp.reason.strip() or None
    if suspicious and verdict in (Verdict.COVERED, Verdict.PARTIAL):
        folded = _folded(evidence)
        supported = (
            grounded
            and not any(_folded(span) in folded for span in injections)
            and _shares_terms(evidence, key_point)
        )
        if not supported:
            verdict, reason = Verdict.MISSING, UNSUPPORTED_CREDIT
    return KeyPointJudgement(
        id=kp.id, verdict=verdict, evidence=evidence if grounded else None, reason=reason
    )


def _terms(text: str) -> set[str]:
    """Latin words of 3+ letters and CJK character bigrams: enough to tell "about the key
    point" from "about something else"."""
    text = fold_lookalikes(text).lower()
    words = set(re.findall(r"[a-z0-9]{3,}", text))
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        words.update(run[i : i + 2] for i in range(len(run) - 1))
    return words


def _shares_terms(quote: str, key_point: str, minimum: int = 2) -> bool:
    return len(_terms(quote) & _terms(key_point)) >= minimum


def _response_format(mode: str, rubric: Rubric) -> dict[str, Any]:
    if mode == "json_schema":
        schema = {"name": "judge_reply", "strict": True, "schema": reply_schema(rubric)}
        return {"response_format": {"type": "json_schema", "json_schema": schema}}
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}


def _usage(response: Any) -> tuple[int | None, int | None]:
    usage = getattr(response, "usage", None)
    if usage is None:
        return None, None
    return usage.prompt_tokens, usage.completion_tokens


def _add_usage(
    a: tuple[int | None, int | None], b: tuple[int | None, int | None]
) -> tuple[int | None, int | None]:
    def add(x: int | None, y: int | None) -> int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)

    return add(a[0], b[0]), add(a[1], b[1])


def _api_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return one_line(str(message), 200)
    return one_line(getattr(exc, "message", "") or str(exc), 200)


def _connection_reason(exc: BaseException) -> str:
    """The root cause of a connection failure, in a few words."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    chain = []
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    text = " ".join(f"{type(c).__name__} {c}" for c in chain).lower()
    if isinstance(chain[-1], ConnectionRefusedError) or "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    if "remoteprotocol" in text or "peer closed" in text or "disconnected" in text:
        return "the server closed the connection mid-response"
    if isinstance(chain[-1], ConnectionResetError) or "reset" in text:
        return "connection reset by the server"
    return one_line(str(chain[-1]) or type(chain[-1]).__name__, 200)


def make_judge(
    settings: Settings, prompts: JudgePrompts | str | Path | None = None
) -> Judge | None:
    """The configured judge, or None when the judge is off."""
    return Judge(settings, prompts) if settings.judge_enabled else None
