"""Reading a judge's streamed reply, and stopping a runaway one early.

A small model at temperature 0 sometimes loops ("…的，的，的，…") until `max_tokens`, and a stuck
server sends nothing at all. Streamed, the reply is watched as it comes: it is abandoned when no
token arrives for the stall timeout (the HTTP read timeout, see `Judge`), when its time budget
since the first token is spent, or when its tail repeats one short block over and over.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

# A tail made of at least REPEAT_COPIES copies of one block of up to REPEAT_MAX characters,
# REPEAT_SPAN characters in all, is a loop ("1000000" in a quote is not: 24 zeros would be).
REPEAT_COPIES = 6
REPEAT_SPAN = 24
REPEAT_MAX = 48
_CHECK_EVERY = 32  # characters between repetition checks

Stop = Literal["budget", "repetition"]


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


def read_stream(chunks: Iterable[Any], budget: float) -> Streamed:
    """The text, finish reason and token usage of a stream of chat.completion.chunk objects,
    read until it ends, `budget` seconds have passed since its first chunk, or the text starts
    looping. The wait for the first chunk is not counted: a request queued behind others on a
    busy server is not running away (the stall timeout bounds that wait).

    The caller closes the stream (its `with` block), which drops the connection; llama-server
    then stops generating for it."""
    deadline: float | None = None
    parts: list[str] = []
    length = checked = 0
    finish: str | None = None
    usage: tuple[int | None, int | None] = (None, None)
    for chunk in chunks:
        if deadline is None:
            deadline = time.monotonic() + budget
        if getattr(chunk, "usage", None) is not None:
            usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        for choice in chunk.choices or []:
            if choice.delta is not None and choice.delta.content:
                parts.append(choice.delta.content)
                length += len(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
        if time.monotonic() > deadline:
            return Streamed("".join(parts), finish, usage, stopped="budget")
        if length - checked >= _CHECK_EVERY:
            checked = length
            text = "".join(parts)
            if repeats(text):
                return Streamed(text, finish, usage, stopped="repetition")
    return Streamed("".join(parts), finish, usage)
