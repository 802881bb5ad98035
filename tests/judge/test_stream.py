"""Runaway detection in streamed judge replies (judge/stream.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from evaluator.judge.stream import read_stream, repeats


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("的，" * 12, True),  # a 2-character loop
        ('"evidence": "a b c", ' * 6, True),  # a longer block, spaces ignored
        ("x" * 24, True),
        ("x" * 23, False),  # one character needs 24 copies
        ("参数量 1000000", False),  # digits in a quote are not a loop
        ('{"k1": {"verdict": "covered"}, "k2": {"verdict": "covered"}}', False),
        ("abc " * 5, False),  # five copies of a 3-block: too short to call
    ],
)
def test_repeats(text: str, expected: bool) -> None:
    assert repeats(text) is expected


def _chunk(content: str | None = None, finish: str | None = None, usage: object = None) -> object:
    choice = SimpleNamespace(delta=SimpleNamespace(content=content), finish_reason=finish)
    return SimpleNamespace(choices=[choice] if usage is None else [], usage=usage)


def test_read_stream_joins_text_and_keeps_finish_and_usage() -> None:
    usage = SimpleNamespace(prompt_tokens=900, completion_tokens=12)
    chunks = [_chunk('{"a"'), _chunk(": 1}"), _chunk(finish="stop"), _chunk(usage=usage)]
    got = read_stream(chunks, deadline=time.monotonic() + 10)
    assert (got.text, got.finish_reason, got.usage, got.stopped) == (
        '{"a": 1}',
        "stop",
        (900, 12),
        None,
    )


def test_read_stream_stops_a_loop_without_reading_the_rest() -> None:
    def endless():  # type: ignore[no-untyped-def]
        yield _chunk('{"k1": "')
        while True:
            yield _chunk("的，")

    got = read_stream(endless(), deadline=time.monotonic() + 10)
    assert got.stopped == "repetition" and got.text.startswith('{"k1": "的，')


def test_read_stream_stops_at_the_deadline() -> None:
    got = read_stream([_chunk("a"), _chunk("b")], deadline=time.monotonic() - 1)
    assert got.stopped == "budget" and got.text == "a"
