"""A Markdown Q&A study document read into its questions and their sections.

A document is a list of numbered question headings (`#### 12. Title`, `## 12、Title`,
`### Q12. Title`, `## 第12题 Title`, any heading level; the grammar is `numbering`'s), each
followed by labelled sections:
题目/问题/Question (optional: the title stands in), 答案/Answer (required) and
解析/Explanation (optional). Labels may be bold or not, with `：` or `:`.

`parse_questions` gives each question its number, title, line span and sections, the lines of
each kept as written; `section_text` and `prose` turn those lines into a rubric's text. What a
key point is comes next (keypoints.py), and compile.py makes rubrics of both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from evaluator.errors import InputError
from evaluator.markdown import Heading, atx_heading, scan
from evaluator.rubrics.numbering import question_number
from evaluator.text import KEY_POINT_SENTENCES

__all__ = [
    "Question",
    "Section",
    "join_lines",
    "parse_questions",
    "prose",
    "section_text",
    "strip_inline",
]

_SECTION_WORDS: dict[str, tuple[str, ...]] = {
    "question": ("题目", "題目", "问题", "問題", "Question", "Q"),
    "answer": ("参考答案", "答案", "回答", "Reference answer", "Answer", "A"),
    "explanation": ("答案解析", "解析", "解释", "Explanation"),
}
_LABEL_TO_KIND = {w.lower(): kind for kind, words in _SECTION_WORDS.items() for w in words}
_LABEL_ALT = "|".join(
    re.escape(w) for w in sorted(_LABEL_TO_KIND, key=len, reverse=True) if len(w) > 1
)
# `**题目：** text`, `**题目**：text`, `题目：text`, `Answer: text`, `Q: text`, `**答案**` alone.
_SECTION_RE = re.compile(
    rf"^(?:>\s*)?(\*\*|__)?\s*(?P<label>{_LABEL_ALT}|Q|A)\s*(?:\1)?\s*[：:]\s*(?:\1)?\s*(?P<rest>.*)$"
    rf"|^(?:>\s*)?(\*\*|__)(?P<blabel>{_LABEL_ALT})\4\s*$",
    re.IGNORECASE,
)


def strip_inline(text: str) -> str:
    """Plain text from inline Markdown: bold/italic markers, code ticks, links, images."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    text = text.replace("**", "")
    return re.sub(r"[ \t]+", " ", text).strip()


def join_lines(parts: list[str]) -> str:
    """Wrapped lines as one line, joined as a key point's sentences are
    (text.KEY_POINT_SENTENCES): no space next to a CJK character, one otherwise."""
    out = ""
    for part in (p.strip() for p in parts):
        if part:
            out = KEY_POINT_SENTENCES.join(out, part) if out else part
    return out


# ---------------------------------------------------------------------------- parsing


@dataclass
class Section:
    """A 题目/答案/解析 section: its kind ("question", "answer", "explanation"), the line that
    opens it, and its (line number, text) lines, the rest of the label's line first."""

    kind: str
    line: int
    lines: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Question:
    """A numbered question: its heading's line, the last line with text (`end`), the lines
    before its first section (`preamble`) and its sections in order."""

    number: int
    title: str
    line: int
    end: int = 0
    preamble: list[tuple[int, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def section(self, kind: str) -> Section | None:
        return next((s for s in self.sections if s.kind == kind), None)


@dataclass
class _Heading:
    line: int
    level: int
    text: str
    number: int | None
    title: str


def _parse_heading(heading: Heading) -> _Heading:
    text = strip_inline(heading.text)
    numbered = question_number(text)
    if numbered:
        return _Heading(heading.line + 1, heading.level, text, *numbered)
    return _Heading(heading.line + 1, heading.level, text, None, text)


def _section_start(raw: str) -> tuple[str, str] | None:
    """(kind, rest of line) when a line opens a 题目/答案/解析 section."""
    m = _SECTION_RE.match(raw.strip())
    if not m:
        heading = atx_heading(raw)
        word = strip_inline(heading[1]).rstrip("：: ") if heading else ""
        kind = _LABEL_TO_KIND.get(word.lower()) if len(word) > 1 else None
        return (kind, "") if kind else None
    label = m.group("label") or m.group("blabel")
    if label in {"q", "a"}:  # single letters only in capitals: "a: ..." is prose
        return None
    return _LABEL_TO_KIND[label.lower()], (m.group("rest") or "")


def _scan(lines: list[str]) -> tuple[list[_Heading], set[int]]:
    """Headings outside code fences, and the (1-based) line numbers of fenced lines."""
    outline = scan(lines)
    fenced = {i + 1 for i in outline.fenced_lines()}
    return [_parse_heading(h) for h in outline.headings], fenced


def _has_sections(lines: list[str], fenced: set[int], start: int, stop: int) -> bool:
    return any(no not in fenced and _section_start(lines[no - 1]) for no in range(start + 1, stop))


def _unnumbered(source: str, h: _Heading) -> InputError:
    example = f"{'#' * h.level} 3. {h.text}"
    return InputError(
        f"{source}:{h.line}: heading '{h.text}' has no question number (expected e.g. '{example}')"
    )


def parse_questions(lines: list[str], source: str) -> tuple[list[Question], str]:
    """The document's questions, in order, and its title (the first heading above the
    questions' level). No numbered question, or none with an answer, raises InputError."""
    headings, fenced = _scan(lines)
    numbered_levels = [h.level for h in headings if h.number is not None]
    stops = [h.line for h in headings] + [len(lines) + 1]
    if not numbered_levels:
        for i, h in enumerate(headings):
            if _has_sections(lines, fenced, h.line, stops[i + 1]):
                raise _unnumbered(source, h)
        raise InputError(
            f"{source}:1: no questions found (expected numbered headings such as "
            "'#### 1. Title' followed by a 答案/Answer section)"
        )
    # The question level is the heading level most numbered headings use.
    level = max(set(numbered_levels), key=lambda lv: (numbered_levels.count(lv), -lv))
    title = next((h.title for h in headings if h.level < level), "")

    questions: list[Question] = []
    current: Question | None = None
    heading_at = {h.line: (i, h) for i, h in enumerate(headings)}
    for no, raw in enumerate(lines, 1):
        pos, head = heading_at.get(no, (-1, None))
        if head is not None and head.level <= level and _section_start(raw) is None:
            if current is not None:
                questions.append(current)
                current = None
            if head.level == level and head.number is not None:
                current = Question(head.number, head.title, no)
            elif head.level == level and _has_sections(lines, fenced, no, stops[pos + 1]):
                raise _unnumbered(source, head)
            continue
        if current is None:
            continue
        opened = None if no in fenced else _section_start(raw)
        if opened:
            current.sections.append(Section(opened[0], no, [(no, opened[1])]))
        elif current.sections:
            current.sections[-1].lines.append((no, raw))
        else:
            current.preamble.append((no, raw))
    if current is not None:
        questions.append(current)

    for q in questions:
        body = [no for s in q.sections for no, text in s.lines if text.strip()]
        body += [no for no, text in q.preamble if text.strip()]
        q.end = max([q.line, *body])
    if not any(q.section("answer") for q in questions):
        raise InputError(
            f"{source}:{questions[0].line}: no questions found: numbered headings but no "
            "答案/Answer sections (expected a line such as '**答案：**' or 'Answer:')"
        )
    return questions, title


# ---------------------------------------------------------------------------- section text


def section_text(lines: list[tuple[int, str]]) -> str:
    """Section text as written (Markdown kept), trimmed of blank edges."""
    out = [text.rstrip() for _, text in lines]
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    indent = min((len(t) - len(t.lstrip()) for t in out if t.strip()), default=0)
    return "\n".join(t[indent:] if t.strip() else "" for t in out)


def prose(lines: list[tuple[int, str]]) -> str:
    """Question and explanation text: one plain paragraph, or as written when it holds code."""
    if scan([text for _, text in lines]).fences:
        return section_text(lines)
    return join_lines([strip_inline(text) for _, text in lines])
