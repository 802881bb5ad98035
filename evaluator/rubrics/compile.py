"""Markdown Q&A study documents → rubric files (`evaluator rubrics build`).

A document is a list of numbered question headings (`#### 12. Title`, `## 12、Title`,
`### Q12. Title`, `## 第12题 Title`, any heading level; the grammar is `numbering`'s), each
followed by labelled sections:
题目/问题/Question (optional: the title stands in), 答案/Answer (required) and
解析/Explanation (optional). Labels may be bold or not, with `：` or `:`.

Key points come from the answer: one per bullet or numbered item (a bold `**label：**` prefix
becomes the key point's label), and one per sentence of plain paragraphs (too-short sentences
are merged into a neighbour). Lead-ins such as "其作用包括：" and code blocks stay in the
reference answer but are never key points: a lead-in only announces the list, and code does not
compare sentence by sentence with a free-text answer. When an answer is code only, the
explanation's sentences stand in as key points.

Compiled rubric files are then reviewed and edited by people, so `build` refuses to overwrite a
file whose content no longer matches the hash it recorded at build time (unless forced). The
comments people wrote in it are carried into the rebuilt file (`comments`); one that has no
place there any more is named, and dropped only when forced.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from evaluator.errors import InputError, RubricError
from evaluator.files import atomic_write, check_can_write
from evaluator.markdown import Heading, atx_heading, scan, without_code
from evaluator.rubrics.comments import carry
from evaluator.rubrics.io import dump_document, load_document
from evaluator.rubrics.model import KeyPoint, KeyPointGroup, Rubric, RubricDocument, Source
from evaluator.rubrics.numbering import question_number
from evaluator.text import KEY_POINT_SENTENCES, asked_count, detect_language, split_sentences

__all__ = ["build", "compile_markdown", "slugify"]

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

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
_BULLET_RE = re.compile(r"^(?P<indent>\s*)(?:[-*+•]|\d{1,3}[.)、])\s+(?P<body>.*)$")
_BOLD_LABEL_RE = re.compile(
    r"^(\*\*|__)(?P<label>[^*_]+?)\s*(?P<c1>[：:])?\s*\1\s*(?P<c2>[：:]|[—–-]{1,2}\s)?\s*(?P<rest>.*)$"
)
_PLAIN_LABEL_RE = re.compile(
    r"^(?P<label>[^：:，,。；;！？!?]{1,25}?)\s*(?:：|:\s)\s*(?P<rest>.+)$"
)
_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")


# ---------------------------------------------------------------------------- helpers


def slugify(name: str) -> str:
    """A document slug from a file stem: lower-case ASCII letters, digits, `_`, `.`, `-`."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9_.-]+", "-", text).strip("-._")


def _strip_inline(text: str) -> str:
    """Plain text from inline Markdown: bold/italic markers, code ticks, links, images."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    text = text.replace("**", "")
    return re.sub(r"[ \t]+", " ", text).strip()


def _join(parts: list[str]) -> str:
    """Join wrapped lines as a key point's sentences join: no space next to a CJK character."""
    out = ""
    for part in (p.strip() for p in parts):
        if part:
            out = KEY_POINT_SENTENCES.join(out, part) if out else part
    return out


def _is_lead_in(sentence: str) -> bool:
    return sentence.rstrip().endswith(("：", ":"))


def _split_label(body: str) -> tuple[str, str]:
    """`**过采样（Oversampling）：** text` → ("过采样（Oversampling）", "text")."""
    m = _BOLD_LABEL_RE.match(body)
    if m and (m.group("c1") or m.group("c2") or not m.group("rest")):
        return _strip_inline(m.group("label")), _strip_inline(m.group("rest"))
    plain = _strip_inline(body)
    m = _PLAIN_LABEL_RE.match(plain)
    if m and len(_WORD_RE.findall(m.group("label"))) <= 4:
        return m.group("label").strip(), m.group("rest").strip()
    return "", plain


# ---------------------------------------------------------------------------- parsing


@dataclass
class _Section:
    kind: str
    line: int
    lines: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _Question:
    number: int
    title: str
    line: int
    end: int = 0
    preamble: list[tuple[int, str]] = field(default_factory=list)
    sections: list[_Section] = field(default_factory=list)

    def section(self, kind: str) -> _Section | None:
        return next((s for s in self.sections if s.kind == kind), None)


@dataclass
class _Heading:
    line: int
    level: int
    text: str
    number: int | None
    title: str


def _parse_heading(heading: Heading) -> _Heading:
    text = _strip_inline(heading.text)
    numbered = question_number(text)
    if numbered:
        return _Heading(heading.line + 1, heading.level, text, *numbered)
    return _Heading(heading.line + 1, heading.level, text, None, text)


def _section_start(raw: str) -> tuple[str, str] | None:
    """(kind, rest of line) when a line opens a 题目/答案/解析 section."""
    m = _SECTION_RE.match(raw.strip())
    if not m:
        heading = atx_heading(raw)
        word = _strip_inline(heading[1]).rstrip("：: ") if heading else ""
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


def _parse_questions(lines: list[str], source: str) -> tuple[list[_Question], str]:
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

    questions: list[_Question] = []
    current: _Question | None = None
    heading_at = {h.line: (i, h) for i, h in enumerate(headings)}
    for no, raw in enumerate(lines, 1):
        pos, head = heading_at.get(no, (-1, None))
        if head is not None and head.level <= level and _section_start(raw) is None:
            if current is not None:
                questions.append(current)
                current = None
            if head.level == level and head.number is not None:
                current = _Question(head.number, head.title, no)
            elif head.level == level and _has_sections(lines, fenced, no, stops[pos + 1]):
                raise _unnumbered(source, head)
            continue
        if current is None:
            continue
        opened = None if no in fenced else _section_start(raw)
        if opened:
            current.sections.append(_Section(opened[0], no, [(no, opened[1])]))
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


# ---------------------------------------------------------------------------- key points


@dataclass
class _Block:
    kind: str  # "item", "para", "code", "other"
    indent: int = 0
    lines: list[str] = field(default_factory=list)


def _blocks(body: list[str]) -> list[_Block]:
    """Group answer lines into list items, paragraphs and code blocks."""
    blocks: list[_Block] = []
    outline = scan(body)
    fenced = outline.fenced_lines()
    fence_starts = {block.start for block in outline.fences}
    blank_before = True
    for i, raw in enumerate(body):
        if i in fenced:
            if i in fence_starts:
                blocks.append(_Block("code", lines=[raw]))
            else:
                blocks[-1].lines.append(raw)
            blank_before = False
            continue
        stripped = raw.strip()
        if not stripped:
            blank_before = True
            continue
        if stripped.startswith(">"):
            stripped = stripped.lstrip("> ").strip()
        bullet = _BULLET_RE.match(raw)
        if bullet:
            indent = len(bullet.group("indent").expandtabs(4))
            blocks.append(_Block("item", indent, [bullet.group("body")]))
        elif (
            stripped.startswith("|") or re.fullmatch(r"[-*_]{3,}", stripped) or raw.startswith("#")
        ):
            blocks.append(_Block("other", lines=[raw]))
        elif blocks and not blank_before and blocks[-1].kind in {"item", "para"}:
            blocks[-1].lines.append(stripped)  # a wrapped line continues its block
        elif blocks and blocks[-1].kind == "item" and raw[:1].isspace():
            blocks[-1].lines.append(stripped)  # an indented paragraph inside a list item
        else:
            blocks.append(_Block("para", lines=[stripped]))
        blank_before = False
    return blocks


def _key_points(body: list[str]) -> list[tuple[str, str]]:
    """(label, text) pairs from an answer body, in order."""
    blocks = _blocks(body)
    points: list[tuple[str, str]] = []
    groups: list[tuple[int, str]] = []  # (indent, label) of list items that head a nested list
    for i, block in enumerate(blocks):
        if block.kind == "item":
            groups = [g for g in groups if g[0] < block.indent]
            label, text = _split_label(_join(block.lines))
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            has_children = nxt is not None and nxt.kind == "item" and nxt.indent > block.indent
            if has_children and (not text or _is_lead_in(text)):
                # "- **优势：**" over a nested list heads its children: they inherit its label.
                groups.append((block.indent, label or text.rstrip("：: ")))
                continue
            if not text:
                label, text = "", label
            label = label or (groups[-1][1] if groups else "")
            if text and not (_is_lead_in(text) and not label):
                points.append((label, text))
            continue
        groups = []
        if block.kind == "para":
            joined = _join(block.lines)
            if _BOLD_LABEL_RE.match(joined):
                label, text = _split_label(joined)
                if label and text and not _is_lead_in(text):
                    points.append((label, text))
                    continue
            sentences = split_sentences(
                _strip_inline(joined), KEY_POINT_SENTENCES, keep=lambda s: not _is_lead_in(s)
            )
            points += [("", s) for s in sentences]
    return points


# ---------------------------------------------------------------------------- compile


def _text(lines: list[tuple[int, str]]) -> str:
    """Section text as written (Markdown kept), trimmed of blank edges."""
    out = [text.rstrip() for _, text in lines]
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    indent = min((len(t) - len(t.lstrip()) for t in out if t.strip()), default=0)
    return "\n".join(t[indent:] if t.strip() else "" for t in out)


def _prose(lines: list[tuple[int, str]]) -> str:
    """Question and explanation text: one plain paragraph, or as written when it holds code."""
    if scan([text for _, text in lines]).fences:
        return _text(lines)
    return _join([_strip_inline(text) for _, text in lines])


def _compile_question(q: _Question, source: str, document: str) -> Rubric:
    where = f"{source}:{q.line}: question {q.number}"
    answer = q.section("answer")
    if answer is None:
        raise InputError(
            f"{where} '{q.title}' has no answer section (expected '**答案：**' or 'Answer:')"
        )
    reference = _text(answer.lines)
    if not reference:
        raise InputError(f"{source}:{answer.line}: question {q.number} has an empty answer section")
    asked = q.section("question")
    question = _prose(asked.lines) if asked else _prose(q.preamble)
    question = question or q.title
    title = q.title or question
    if not title:
        raise InputError(f"{where} has neither a title nor a question text")
    explained = q.section("explanation")
    explanation = _prose(explained.lines) if explained else ""

    points = _key_points([text for _, text in answer.lines])
    note = None
    if not points and explanation:
        # A code-only answer: the explanation says in words what the code does.
        points = _key_points([text for _, text in explained.lines]) if explained else []
        note = "from the explanation (the answer is code only)"
    if not points:
        raise InputError(f"{where} '{title}': the answer has no text to make key points from")
    key_points = [
        KeyPoint(id=f"k{i}", label=label, text=text, weight=1.0, note=note)
        for i, (label, text) in enumerate(points, 1)
    ]
    groups, notes = _pick_groups(question, key_points)
    return Rubric(
        id=f"{document}-q{q.number}",
        number=q.number,
        title=title,
        question=question,
        reference_answer=reference,
        key_points=key_points,
        groups=groups,
        explanation=explanation,
        source=Source(file=source, lines=(q.line, q.end)),
        notes=notes,
        # Code is Latin whatever the language: leave it out of the vote.
        language=detect_language(without_code(f"{question}\n{reference}\n{explanation}")),
    )


def _pick_groups(
    question: str, key_points: list[KeyPoint]
) -> tuple[list[KeyPointGroup] | None, list[str]]:
    """For "列举三种…" / "name three …" with more key points than asked for: one group of all
    key points, any `n` of which earn it in full, and a note asking the reviewer to check that
    each key point is one item (a concept point, or an item split over two points, needs an
    edit)."""
    n = asked_count(question)
    if n is None or n >= len(key_points):
        return None, []
    group = KeyPointGroup(id="g1", label=f"any {n}", key_points=[k.id for k in key_points], pick=n)
    note = (
        f"rubrics build: the question asks for {n} items and the answer has {len(key_points)}; "
        f"group g1 lets any {n} of them earn full credit. Check that every key point in it is "
        "one item."
    )
    return [group], [note]


def compile_markdown(text: str, source: str, document: str) -> RubricDocument:
    """Compile a Markdown Q&A document into rubrics; malformed input raises InputError."""
    if not _SLUG_RE.match(document):
        raise InputError(
            f"{source}: document slug '{document}' must be lower-case letters, digits, '_', '.' "
            "or '-' (pass --document)"
        )
    lines = text.lstrip("\ufeff").splitlines()
    questions, title = _parse_questions(lines, source)
    seen: dict[int, int] = {}
    for q in questions:
        if q.number in seen:
            raise InputError(
                f"{source}:{q.line}: question number {q.number} already used on line {seen[q.number]}"
            )
        seen[q.number] = q.line
    rubrics = [_compile_question(q, source, document) for q in questions]
    try:
        doc = RubricDocument(document=document, title=title, source=source, rubrics=rubrics)
    except ValidationError as exc:  # not expected after the checks above; keep it one line
        raise InputError(f"{source}: {exc.errors()[0]['msg']}") from None
    return doc.model_copy(update={"build_hash": doc.rubrics_hash()})


# ---------------------------------------------------------------------------- build


def _display_path(path: Path) -> str:
    """The seed path as recorded in rubrics: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _check_clobber(target: Path, force: bool) -> str | None:
    """Refuse to replace a rubric file people edited; return a note when --force overrides."""
    if not target.exists():
        return None
    try:
        existing = load_document(target)
    except RubricError as exc:
        if force:
            return f"overwrote unreadable {target} (--force)"
        raise RubricError(
            f"{target}: existing file is not a valid rubric file ({exc}); not overwriting "
            "— fix or remove it, or pass --force"
        ) from None
    if existing.build_hash and existing.rubrics_hash() == existing.build_hash:
        return None
    if force:
        return f"overwrote {target}, which had been edited since it was built (--force)"
    raise RubricError(
        f"{target} has been edited since it was built; not overwriting "
        "(pass --force to replace it and lose the edits)"
    )


def _with_comments(target: Path, text: str, force: bool) -> tuple[str, str | None, int]:
    """The rebuilt `text` with the comments of the file it replaces at their places: (text to
    write, a line naming the comments that could not be kept, how many were kept). Comments
    that would be lost stop the build unless forced."""
    if not target.exists():
        return text, None, 0
    try:
        old = target.read_text(encoding="utf-8")
        carried = carry(old, text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        # Only forced builds get here (_check_clobber refuses such a file otherwise).
        try:
            raw = target.read_bytes().decode("utf-8", "replace").splitlines()
        except OSError:
            raw = []
        marked = sum(1 for line in raw if line.lstrip().startswith("#"))
        if not marked:
            return text, None, 0
        return (
            text,
            (
                f"{target}: not valid YAML, so its {marked} line{'s' * (marked != 1)} starting with "
                "'#' could not be kept as comments"
            ),
            0,
        )
    if not carried.lost:
        return carried.text, None, len(carried.kept)
    n = len(carried.lost)
    which = "; ".join(str(c) for c in carried.lost)
    if not force:
        raise RubricError(
            f"{target}: rebuilding would drop {n} comment{'s' * (n != 1)} whose place is gone "
            f"from the rebuilt file ({which}); not overwriting (pass --force to drop "
            f"{'them' if n != 1 else 'it'})"
        )
    return (
        carried.text,
        (
            f"{target}: dropped {n} comment{'s' * (n != 1)} whose place is gone from the rebuilt "
            f"file (--force): {which}"
        ),
        len(carried.kept),
    )


def build(
    seeds: list[Path],
    out_dir: Path,
    document: str | None = None,
    force: bool = False,
    report: Callable[[str], None] | None = None,
) -> list[Path]:
    """Compile each seed to OUT_DIR/<slug>.yaml. Nothing is written unless every seed compiles
    and no target holds human edits (see `_check_clobber`). `report` receives progress lines."""
    if not seeds:
        raise InputError("no seed documents given")
    if document is not None and len(seeds) > 1:
        raise InputError(f"--document names one document but {len(seeds)} seeds were given")
    planned: list[tuple[Path, RubricDocument, str, list[str], int]] = []
    for seed in seeds:
        slug = document if document is not None else slugify(seed.stem)
        if not slug:
            raise InputError(
                f"{seed}: cannot make a document slug from the file name; pass --document"
            )
        try:
            text = seed.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise InputError(f"{seed}: cannot read seed document ({reason})") from None
        doc = compile_markdown(text, _display_path(seed), slug)
        target = out_dir / f"{slug}.yaml"
        if any(p[0] == target for p in planned):
            raise InputError(f"{seed}: two seeds compile to the same file {target}")
        clobber = _check_clobber(target, force)
        text, dropped, kept = _with_comments(target, dump_document(doc), force)
        notes = [n for n in (clobber, dropped) if n]
        planned.append((target, doc, text, notes, kept))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{out_dir}: cannot create the rubric folder ({exc.strerror or exc})"
        ) from None
    for target, *_ in planned[:1]:
        check_can_write(target, "rubric files")
    for target, doc, text, notes, kept in planned:
        atomic_write(target, text)
        if report:
            for note in notes:
                report(note)
            comments = f", {kept} comment{'s' * (kept != 1)} kept" if kept else ""
            n = len(doc.rubrics)
            report(f"wrote {target} ({n} question{'s' * (n != 1)}{comments})")
    return [target for target, *_ in planned]
