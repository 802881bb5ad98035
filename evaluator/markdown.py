"""The block structure of Markdown that the rubric compiler and the study-notes reader need:
headings outside fenced code (ATX `## Title`, and on request setext: text underlined with
`===` / `---`), and the extent of each fenced code block.

Fences follow CommonMark: a run of three or more backticks or tildes opens one (a backtick
fence's info string may not hold a backtick, so "```x```" on its own line is inline code), and
only a line holding nothing but a run of the same character, at least as long, closes it; an
unclosed fence runs to the end. One deliberate difference: a fence may be indented any amount.
List containers are not tracked here, and code inside a nested list item is indented by the
item's width, often four spaces or more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FENCE_OPEN = re.compile(r"^[ \t]*(?P<run>`{3,}|~{3,})(?P<info>.*)$")
_FENCE_CLOSE = re.compile(r"^[ \t]*(?P<run>`{3,}|~{3,})[ \t]*$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
# A setext underline: === (level 1) or --- (level 2) under paragraph text.
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# Lines that cannot continue a paragraph (so a rule under them underlines nothing): list items,
# block quotes, thematic breaks.
_BLOCK_START = re.compile(r"^ {0,3}(?:(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)|>|(?:[-*_][ \t]*){3,}$)")
_INDENTED_CODE = re.compile(r"^(?: {4}|\t)")


@dataclass(frozen=True)
class Heading:
    line: int  # 0-based index of its (first) text line
    body: int  # 0-based index of the first line after it (after the underline for setext)
    level: int
    text: str  # as written, without the `#` marks or the underline; inline markup kept


@dataclass
class Outline:
    headings: list[Heading] = field(default_factory=list)
    # The line indices of each fenced block, its opening and closing fence lines included.
    fences: list[range] = field(default_factory=list)

    def fenced_lines(self) -> set[int]:
        return {i for block in self.fences for i in block}


def atx_heading(line: str) -> tuple[int, str] | None:
    """(level, text) when `line` is an ATX heading (`## Title`, `## Title ##`), else None."""
    m = _ATX.match(line)
    return (len(m.group(1)), m.group(2) or "") if m else None


def _fence_open(line: str) -> str | None:
    m = _FENCE_OPEN.match(line)
    if not m or (m.group("run")[0] == "`" and "`" in m.group("info")):
        return None
    return m.group("run")


def _fence_closes(run: str, line: str) -> bool:
    m = _FENCE_CLOSE.match(line)
    return m is not None and m.group("run")[0] == run[0] and len(m.group("run")) >= len(run)


def scan(lines: list[str], start: int = 0, *, setext: bool = False) -> Outline:
    """Headings and fenced blocks of `lines[start:]` (indices stay those of `lines`).

    Setext headings are off by default: the compiler reads `---` under a line of text as a rule
    in an answer, study notes read it as a heading.
    """
    outline = Outline()
    fence: str | None = None
    fence_start = 0
    paragraph: int | None = None  # first line of the paragraph a setext underline would head
    for i in range(start, len(lines)):
        line = lines[i]
        if fence is not None:
            if _fence_closes(fence, line):
                outline.fences.append(range(fence_start, i + 1))
                fence = None
            continue
        run = _fence_open(line)
        if run is not None:
            fence, fence_start, paragraph = run, i, None
            continue
        atx = atx_heading(line)
        underline = _SETEXT.match(line) if setext else None
        if atx:
            outline.headings.append(Heading(i, i + 1, atx[0], atx[1]))
            paragraph = None
        elif underline and paragraph is not None:
            text = " ".join(part.strip() for part in lines[paragraph:i])
            level = 1 if underline.group(1)[0] == "=" else 2
            outline.headings.append(Heading(paragraph, i + 1, level, text))
            paragraph = None
        elif not line.strip() or _BLOCK_START.match(line):
            paragraph = None
        elif paragraph is None and not _INDENTED_CODE.match(line):
            paragraph = i
    if fence is not None:
        outline.fences.append(range(fence_start, len(lines)))
    return outline


def without_code(text: str) -> str:
    """`text` with its fenced code blocks removed."""
    lines = text.split("\n")
    code = scan(lines).fenced_lines()
    return "\n".join(line for i, line in enumerate(lines) if i not in code)


def answer_text(text: str) -> str:
    """A Markdown file as an answer: without YAML front matter and without heading lines (a
    "## Q7" or "# 我的笔记" is a title, not part of what the answer says); code blocks stay."""
    lines = text.split("\n")
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        start = end + 1 if end is not None else 0
    outline = scan(lines, start)
    titles = {h.line for h in outline.headings}
    return "\n".join(line for i, line in enumerate(lines) if i >= start and i not in titles)
