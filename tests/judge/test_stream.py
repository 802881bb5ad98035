"""Runaway detection in streamed judge replies (judge/stream.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from evaluator.judge.stream import NotAStream, Silent, read_stream, repeats


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
    got = read_stream(chunks, budget=10)
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

    got = read_stream(endless(), budget=10)
    assert got.stopped == "repetition" and got.text.startswith('{"k1": "的，')


def test_read_stream_stops_when_its_budget_since_the_first_chunk_is_spent() -> None:
    def slow():  # type: ignore[no-untyped-def]
        yield _chunk("a")
        time.sleep(0.3)
        yield _chunk("b")
        yield _chunk("c")

    got = read_stream(slow(), budget=0.1)
    assert got.stopped == "budget" and got.text == "ab"


def test_read_stream_does_not_count_the_wait_for_the_first_chunk() -> None:
    def queued():  # type: ignore[no-untyped-def]
        time.sleep(0.3)  # waiting for a free slot
        yield _chunk("a")
        yield _chunk("b", finish="stop")

    got = read_stream(queued(), budget=0.2)
    assert got.stopped is None and got.text == "ab"


def test_a_timeout_before_the_first_chunk_is_silence_and_after_it_passes_through() -> None:
    def silent():  # type: ignore[no-untyped-def]
        raise TimeoutError("read timed out")
        yield _chunk("never")

    def stalls():  # type: ignore[no-untyped-def]
        yield _chunk("a")
        raise TimeoutError("read timed out")

    with pytest.raises(Silent):
        read_stream(silent(), budget=10, silent=(TimeoutError,))
    with pytest.raises(TimeoutError):  # a stall midway: the caller asks for less
        read_stream(stalls(), budget=10, silent=(TimeoutError,))
    with pytest.raises(TimeoutError):  # not named as silence: left alone
        read_stream(silent(), budget=10)


def test_decoding_errors_of_the_client_are_not_a_stream() -> None:
    def undecodable():  # type: ignore[no-untyped-def]
        yield _chunk("a")
        b"\xff".decode("utf-8")

    with pytest.raises(NotAStream, match=r"^bytes that are not UTF-8 text$"):
        read_stream(undecodable(), budget=10)
