"""The Markdown block scanner shared by the rubric compiler and the notes reader (markdown.py)."""

from __future__ import annotations

import pytest

from evaluator.markdown import Heading, atx_heading, scan, without_code


def _headings(text: str, setext: bool = False) -> list[tuple[int, int, str]]:
    return [(h.line, h.level, h.text) for h in scan(text.split("\n"), setext=setext).headings]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("## Title", (2, "Title")),
        ("### Title ###", (3, "Title")),
        ("   # Indented up to three", (1, "Indented up to three")),
        ("## C#", (2, "C#")),  # a closing sequence needs a space before it
        ("##", (2, "")),
        ("#7", None),  # no space after the marks
        ("    # four spaces is code", None),
        ("####### seven", None),
    ],
)
def test_atx_headings(line: str, expected: tuple[int, str] | None) -> None:
    assert atx_heading(line) == expected


def test_headings_inside_fences_are_code() -> None:
    text = "# A\n```python\n# comment\n```\n~~~\n## B\n~~~\n## C"
    assert _headings(text) == [(0, 1, "A"), (7, 2, "C")]
    assert scan(text.split("\n")).fences == [range(1, 4), range(4, 7)]


@pytest.mark.parametrize(
    ("text", "fences"),
    [
        # Only the same character closes a fence...
        ("```\n~~~\n# x\n```\n# y", [range(0, 4)]),
        # ...at least as long...
        ("````\n```\n# x\n````\n# y", [range(0, 4)]),
        ("```\n# x\n`````\n# y", [range(0, 3)]),
        # ...and alone on its line: an info string opens, it never closes.
        ("```\n```python\n# x\n```\n# y", [range(0, 4)]),
        # A backtick run with a backtick after it is inline code, not a fence.
        ("```x```\n# y", []),
        # An unclosed fence runs to the end.
        ("# y\n```\n# x", [range(1, 3)]),
        # Code in a nested list item is indented by the item: still a fence.
        ("- a\n  - b\n\n        ```\n        # x\n        ```\n# y", [range(3, 6)]),
    ],
)
def test_fences_close_per_commonmark(text: str, fences: list[range]) -> None:
    outline = scan(text.split("\n"))
    assert outline.fences == fences
    assert [h.text for h in outline.headings] == (["y"] if "# y" in text else [])


def test_setext_headings_only_on_request() -> None:
    text = "Title\n===\n\nQ7 two\nlines\n---\nbody\n\n---\n- item\n---"
    assert _headings(text) == []
    assert _headings(text, setext=True) == [(0, 1, "Title"), (3, 2, "Q7 two lines")]
    heading = scan(text.split("\n"), setext=True).headings[1]
    assert heading == Heading(line=3, body=6, level=2, text="Q7 two lines")


def test_scan_from_a_start_line_keeps_file_indices() -> None:
    lines = ["---", "a: 1", "---", "## Q7", "text"]
    assert [(h.line, h.text) for h in scan(lines, 3).headings] == [(3, "Q7")]


def test_without_code_drops_fenced_blocks_only() -> None:
    text = "中文说明。\n````python\nprint('x')\n```\nstill code\n````\nafter"
    assert without_code(text) == "中文说明。\nafter"
