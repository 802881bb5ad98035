"""Reading a judge's streamed reply, and stopping a runaway one early.

A small model at temperature 0 sometimes loops ("…的，的，的，…") until `max_tokens`, and a stuck
server sends nothing at all. Streamed, the reply is watched as it comes: it is abandoned when no
token arrives for the stall timeout (the HTTP read timeout, see `Judge`), when its time budget
since the first token is spent, or when its tail repeats one short block over and over. A reply
that never sends its first token is `Silent`: asked again, it would be as silent.

A server that is not an OpenAI-compatible one (or a proxy's error page) may answer 200 with
anything: bytes that are not UTF-8, `data:` lines that are not JSON, JSON of another shape.
Those end in `NotAStream`, with a few words on what was wrong, never in whatever the openai
client or the chunk's fields raise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

# A tail made of at least REPEAT_COPIES copies of one block of up to REPEAT_MAX characters,
# REPEAT_SPAN characters in all, is a loop ("1000000" in a quote is not: 24 zeros would be).
REPEAT_COPIES = 6
REPEAT_SPAN = 24
REPEAT_MAX = 48
_CHECK_EVERY = 32  # characters between repetition checks

Stop = Literal["budget", "repetition"]


class NotAStream(Exception):
    """The reply is not an OpenAI event stream; the message says how, in a few words."""


class Silent(Exception):
    """The transport gave up before the first chunk came: the server sent no token at all."""


@dataclass
class Streamed:
    text: str
    finish_reason: str | None
    usage: tuple[int | None, int | None]
    stopped: Stop | None = None  # why the reply was abandoned, if it was


def repeats(text: str) -> bool:
    """Whether `text` ends in one short block repeated over and over (spaces ignored, so
    "a a a a" and "aaaa" are alike)."""
    tail = "".join(text[-(REPEAT_MAX * REPEAT_COPIES * 2) :].split())
    for size in range(1, REPEAT_MAX + 1):
        copies = max(REPEAT_COPIES, -(-REPEAT_SPAN // size))
        if len(tail) < size * copies:
            break
        if tail[-size * copies :] == tail[-size:] * copies:
            return True
    return False


def read_stream(
    chunks: Iterable[Any], budget: float, silent: tuple[type[Exception], ...] = ()
) -> Streamed:
    """The text, finish reason and token usage of a stream of chat.completion.chunk objects,
    read until it ends, `budget` seconds have passed since its first chunk, or the text starts
    looping. The wait for the first chunk is not counted: a request queued behind others on a
    busy server is not running away (the first-token timeout bounds that wait).

    Raises NotAStream for a reply that is not an event stream of chunks, and Silent for one of
    the `silent` exceptions (the client's timeout) raised before the first chunk; after it,
    they pass through (a reply that stalls midway). The caller closes the stream (its `with`
    block), which drops the connection; llama-server then stops generating for it."""
    deadline: float | None = None
    parts: list[str] = []
    length = checked = 0
    finish: str | None = None
    usage: tuple[int | None, int | None] = (None, None)
    for chunk in _checked(chunks, silent):
        if deadline is None:
            deadline = time.monotonic() + budget
        content, finished, counted = _fields(chunk)
        usage = counted or usage
        finish = finished or finish
        if content:
            parts.append(content)
            length += len(content)
        if time.monotonic() > deadline:
            return Streamed("".join(parts), finish, usage, stopped="budget")
        if length - checked >= _CHECK_EVERY:
            checked = length
            text = "".join(parts)
            if repeats(text):
                return Streamed(text, finish, usage, stopped="repetition")
    return Streamed("".join(parts), finish, usage)


def _checked(chunks: Iterable[Any], silent: tuple[type[Exception], ...]) -> Iterator[Any]:
    """`chunks`, with the decoding errors of a reply that is not an event stream (raised by the
    openai client as it reads) turned into NotAStream, and `silent` before any chunk into
    Silent."""
    iterator = iter(chunks)
    started = False
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise NotAStream("bytes that are not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise NotAStream(f"a data line that is not JSON: {exc.msg}") from None
        except silent as exc:
            if started:
                raise
            raise Silent(str(exc)) from exc
        started = True
        yield chunk


# What a decoded `data:` line can be when it is not an object the client could build a chunk
# from: the openai client builds chunks without validating them (`data: 42` arrives as 42).
_JSON_VALUES = (str, int, float, list, dict, type(None))


def _fields(chunk: Any) -> tuple[str, str | None, tuple[int | None, int | None] | None]:
    """A chunk's text, finish reason and usage; NotAStream when it is not shaped like one."""
    choices = getattr(chunk, "choices", None)
    usage = getattr(chunk, "usage", None)
    if isinstance(chunk, _JSON_VALUES) or not isinstance(choices, list | None):
        raise NotAStream("JSON that is not a chat.completion.chunk")
    text, finish = "", None
    for choice in choices or []:
        delta = getattr(choice, "delta", None)
        content = getattr(delta, "content", None)
        reason = getattr(choice, "finish_reason", None)
        if (
            isinstance(choice, _JSON_VALUES)
            or (delta is not None and isinstance(delta, _JSON_VALUES))
            or not isinstance(content, str | None)
            or not isinstance(reason, str | None)
        ):
            raise NotAStream("a chunk whose choices are not shaped as OpenAI's")
        text += content or ""
        finish = reason or finish
    if usage is None:
        return text, finish, None
    tokens = (getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))
    if isinstance(usage, _JSON_VALUES) or not all(t is None or type(t) is int for t in tokens):
        raise NotAStream("a chunk whose usage is not token counts")
    return text, finish, tokens
