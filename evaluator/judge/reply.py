"""What the judge replies: the pydantic models of its JSON, the strict schema sent as
`response_format`, and the lenient reading of the text that comes back.

Reading ladder: the whole text as JSON → JSON inside code fences → the last JSON
object in the text → validate with pydantic. A `ReplyError` carries the reason the client
quotes in its one re-ask.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from evaluator.result import Verdict
from evaluator.rubrics.model import Rubric


class KeyPointJudgement(BaseModel):
    """One key point's verdict after its evidence was checked against the answer."""

    id: str
    verdict: Verdict
    evidence: str | None = None  # a quote found in the answer; dropped when the judge made it up
    reason: str | None = None


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


# ---------------------------------------------------------------------------- the schema


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


# The free-text fields each reply style leaves out of the schema. A small model does not leave a
# field empty because the prompt says so; a constrained decoder cannot write a field the schema
# does not have, and replies are the judge's main cost on a CPU.
_LEFT_OUT = {
    "full": ((), ()),
    "rationale": (("comment",), ("reason",)),
    "compact": (("reasoning", "comment"), ("reason",)),
}


# The longest text per field (characters) in the bounded schema. A small model copies whole
# paragraphs as its "quote" whatever the prompt says (measured: 880 tokens for six key points),
# and a reply cut off at max_tokens is no reply. The prompt asks for quotes of 20 Chinese
# characters or 10 words.
TEXT_LIMITS = {"reasoning": 300, "reason": 80, "comment": 150}
QUOTE_LIMIT = {"zh": 30, "en": 80}


def reply_schema(rubric: Rubric, style: str = "full", bounded: bool = False) -> dict[str, Any]:
    """The strict reply schema, narrowed to this rubric: `key_points` has exactly one required
    property per key point id, and misconceptions are an enum of the rubric's ids; the style's
    free-text fields left out. Only the portable subset of JSON Schema, unless `bounded`: then
    texts carry a `maxLength` (TEXT_LIMITS, QUOTE_LIMIT), which llama.cpp's grammar enforces
    and stricter servers may reject (the client then asks without it)."""
    schema = copy.deepcopy(_REPLY_SCHEMA)
    verdict = copy.deepcopy(_VERDICT_SCHEMA)
    top, per_point = _LEFT_OUT[style]
    for node, names in ((schema, top), (verdict, per_point)):
        for name in names:
            node["properties"].pop(name)
            node["required"].remove(name)
    if bounded:
        limits = {**TEXT_LIMITS, "evidence": QUOTE_LIMIT.get(rubric.language, QUOTE_LIMIT["en"])}
        for node in (schema, verdict):
            for name, prop in node["properties"].items():
                if name in limits:
                    prop["maxLength"] = limits[name]
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


# ---------------------------------------------------------------------------- reading the text


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
