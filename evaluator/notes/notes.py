"""Study notes (Markdown) → the answers they hold, each with the question it answers.

A note names its questions in one of three ways:

- front matter: `question: 7` (or a list, `question: [3, 26]`), the whole body answering each;
- a heading that names a question: `## Q7`, `## 7. 什么是批量归一化`, `## 问题 7`, `## 第7题`
  (`#` headings, or text underlined with `===` / `---`; the grammar is
  `evaluator.rubrics.numbering`'s);
- a free-text heading matched to the closest question title (`## 批量归一化`), via
  `RubricSet.find`; when no title is close enough the note says so and the section is skipped.

An answer is the body under its heading, down to the next heading of the same or a higher level
(its own sub-headings belong to it). Headings inside fenced code blocks are code, not headings.
Front matter applies to the whole body only when no heading names a question explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import yaml

from evaluator.errors import InputError, QuestionNotFound
from evaluator.files import read_text, read_text_as
from evaluator.markdown import Heading, scan
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import Rubric
from evaluator.rubrics.numbering import question_number

MatchedBy = Literal["front matter", "heading", "title"]

_INLINE_MARKUP = re.compile(r"\*\*|__|`|~~|(?<!\w)[*_](?!\s)|(?<!\s)[*_](?!\w)")

HOW_TO_NAME = "add front matter `question: 7` or a heading like `## Q7`"


@dataclass(frozen=True)
class Answer:
    """One answer found in a note."""

    rubric: Rubric
    text: str
    line: int  # 1-based line of its heading (or of the front matter)
    matched_by: MatchedBy
    label: str  # what the note wrote: the heading text, or the front matter value


@dataclass
class Note:
    """What a notes file holds: answers, plus remarks (informational) and problems (failures)."""

    path: Path
    answers: list[Answer] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    min_score: float | None = None


# ---------------------------------------------------------------------------- reading


def read_note(path: Path) -> str:
    """The file as text; InputError (one line) when it is missing, binary or not text."""
    return read_text(path, "notes file")


# ---------------------------------------------------------------------------- structure


_YAML_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


def _split_front_matter(lines: list[str], path: Path) -> tuple[dict[str, object], int]:
    """(front matter mapping, index of the first body line)."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        # A rule on line 1 followed by `key: value` is front matter someone forgot to close:
        # skipping the file would let the hook pass a note it never graded.
        if len(lines) > 1 and _YAML_KEY.match(lines[1]):
            raise InputError(
                f"{path}:1: front matter is never closed (add a line '---' after its last key)"
            )
        return {}, 0  # a rule at the top of the text, not front matter
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 2}" if mark else ""
        raise InputError(f"{path}{where}: front matter is not valid YAML") from None
    if data is None:
        return {}, end + 1
    if not isinstance(data, dict):
        raise InputError(f"{path}:2: front matter must be a mapping (key: value lines)")
    return data, end + 1


def _headings(lines: list[str], start: int) -> list[Heading]:
    """Headings of the body, `#` and underlined, with plain text."""
    found = scan(lines, start, setext=True).headings
    return [replace(h, text=_plain(h.text)) for h in found]


def _plain(text: str) -> str:
    """Heading text without inline emphasis and code marks."""
    return " ".join(_INLINE_MARKUP.sub("", text).split())


def explicit_number(heading: str) -> int | None:
    """The question number a heading names explicitly (`Q7`, `7. …`, `问题 7`), else None."""
    numbered = question_number(heading)
    return numbered[0] if numbered else None


def _closers(headings: list[Heading]) -> list[int]:
    """For each heading, the position of the next heading of the same or a higher level (or
    len(headings)): where its section ends. One pass with a stack, so a note of n sections
    costs O(n), not a scan of the later headings per section."""
    closer = [len(headings)] * len(headings)
    open_: list[int] = []  # positions whose closer is not found yet, levels increasing
    for pos, head in enumerate(headings):
        while open_ and headings[open_[-1]].level >= head.level:
            closer[open_.pop()] = pos
        open_.append(pos)
    return closer


def _section(lines: list[str], headings: list[Heading], closer: list[int], pos: int) -> str:
    """Body of heading `pos`: down to the next heading of the same or a higher level."""
    end = headings[closer[pos]].line if closer[pos] < len(headings) else len(lines)
    return "\n".join(lines[headings[pos].body : end]).strip()


# ---------------------------------------------------------------------------- resolving


def _front_matter_questions(meta: dict[str, object], path: Path) -> list[str]:
    raw = meta.get("question", meta.get("questions"))
    if raw is None:
        return []
    values = raw if isinstance(raw, list) else [raw]
    refs = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
            raise InputError(
                f"{path}: front matter 'question' must be a number, an id or a title "
                f"(or a list of them), not {value!r}"
            )
        refs.append(str(value).strip())
    return refs


def _front_matter_min_score(meta: dict[str, object], path: Path) -> float | None:
    raw = meta.get("min_score", meta.get("min-score"))
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 100:
        raise InputError(f"{path}: front matter 'min_score' must be a number from 0 to 100")
    return float(raw)


def parse_note(text: str, rubrics: RubricSet, path: Path) -> Note:
    """Find the answers in a note's text. InputError only for broken front matter."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    meta, body_start = _split_front_matter(lines, path)
    note = Note(path=path, min_score=_front_matter_min_score(meta, path))
    refs = _front_matter_questions(meta, path)
    headings = _headings(lines, body_start)
    numbers = [explicit_number(h.text) for h in headings]

    if refs and all(n is None for n in numbers):
        body = "\n".join(lines[body_start:]).strip()
        for ref in refs:
            try:
                rubric = rubrics.find(ref)
            except QuestionNotFound as exc:
                note.problems.append(f"{path}:1: front matter question {exc}")
                continue
            note.answers.append(Answer(rubric, body, 1, "front matter", f"question: {ref}"))
        return note
    if refs:
        note.remarks.append(
            "front matter 'question' ignored: headings in this file name the questions"
        )

    titled: dict[int, Rubric | QuestionNotFound] = {}

    def by_title(pos: int) -> Rubric | QuestionNotFound:
        if pos not in titled:
            try:
                titled[pos] = rubrics.find(headings[pos].text)
            except QuestionNotFound as exc:
                titled[pos] = exc
        return titled[pos]

    closer = _closers(headings)
    open_level: int | None = None  # level of the answer section we are inside, if any
    for pos, head in enumerate(headings):
        if open_level is not None and head.level > open_level:
            continue  # a sub-heading of an answer is part of that answer
        open_level = None
        where = f"{path}:{head.line + 1}"
        number = numbers[pos]
        if number is not None:
            open_level = head.level
            try:
                rubric = rubrics.find(str(number))
            except QuestionNotFound as exc:
                note.problems.append(f"{where}: heading '{head.text}': {exc}")
                continue
            text_ = _section(lines, headings, closer, pos)
            note.answers.append(Answer(rubric, text_, head.line + 1, "heading", head.text))
            continue
        inner = range(pos + 1, closer[pos])  # the headings nested under this one
        if not head.text or any(
            numbers[d] is not None or isinstance(by_title(d), Rubric) for d in inner
        ):
            continue  # a container of answers (e.g. the note's title): its sections speak
        match = by_title(pos)
        if isinstance(match, QuestionNotFound):
            if not inner:
                note.remarks.append(f"{where}: heading '{head.text}' skipped: {match}")
            continue
        open_level = head.level
        text_ = _section(lines, headings, closer, pos)
        note.answers.append(Answer(match, text_, head.line + 1, "title", head.text))
    return note


def load_note(path: Path, rubrics: RubricSet) -> Note:
    """Read and parse one notes file (InputError when it cannot be read). A note that is not
    UTF-8 (a GBK note from a Chinese Windows editor, a UTF-16 one) is read, with a remark
    saying how: were it the wrong guess, the grades would be of garbled text."""
    text, encoding = read_text_as(path, "notes file")
    note = parse_note(text, rubrics, path)
    if encoding != "UTF-8":
        note.remarks.insert(0, f"read as {encoding}: the file is not UTF-8")
    return note
