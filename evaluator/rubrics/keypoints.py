"""An answer section's key points, as (label, text) pairs in order.

One key point per bullet or numbered item (a bold `**label：**` prefix becomes the key point's
label; items nested under a label-only item take its label), and one per sentence of plain
paragraphs, cut by `text.split_sentences` with the key-point rules (too-short sentences are
merged into a neighbour). Lead-ins such as "其作用包括：" and code blocks stay in the reference
answer but are never key points: a lead-in only announces the list, and code does not compare
sentence by sentence with a free-text answer.

The answer's lines come from studydoc.py; compile.py numbers the pairs into a rubric's key
points (and falls back on the explanation's when an answer is code only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from evaluator.markdown import scan
from evaluator.rubrics.studydoc import join_lines, strip_inline
from evaluator.text import KEY_POINT_SENTENCES, split_sentences

__all__ = ["key_points_of"]

_BULLET_RE = re.compile(r"^(?P<indent>\s*)(?:[-*+•]|\d{1,3}[.)、])\s+(?P<body>.*)$")
_BOLD_LABEL_RE = re.compile(
    r"^(\*\*|__)(?P<label>[^*_]+?)\s*(?P<c1>[：:])?\s*\1\s*(?P<c2>[：:]|[—–-]{1,2}\s)?\s*(?P<rest>.*)$"
)
_PLAIN_LABEL_RE = re.compile(
    r"^(?P<label>[^：:，,。；;！？!?]{1,25}?)\s*(?:：|:\s)\s*(?P<rest>.+)$"
)
_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")


def _is_lead_in(sentence: str) -> bool:
    return sentence.rstrip().endswith(("：", ":"))


def _split_label(body: str) -> tuple[str, str]:
    """`**过采样（Oversampling）：** text` → ("过采样（Oversampling）", "text")."""
    m = _BOLD_LABEL_RE.match(body)
    if m and (m.group("c1") or m.group("c2") or not m.group("rest")):
        return strip_inline(m.group("label")), strip_inline(m.group("rest"))
    plain = strip_inline(body)
    m = _PLAIN_LABEL_RE.match(plain)
    if m and len(_WORD_RE.findall(m.group("label"))) <= 4:
        return m.group("label").strip(), m.group("rest").strip()
    return "", plain


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


def key_points_of(body: list[str]) -> list[tuple[str, str]]:
    """(label, text) pairs from an answer body, in order."""
    blocks = _blocks(body)
    points: list[tuple[str, str]] = []
    groups: list[tuple[int, str]] = []  # (indent, label) of list items that head a nested list
    for i, block in enumerate(blocks):
        if block.kind == "item":
            groups = [g for g in groups if g[0] < block.indent]
            label, text = _split_label(join_lines(block.lines))
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
            joined = join_lines(block.lines)
            if _BOLD_LABEL_RE.match(joined):
                label, text = _split_label(joined)
                if label and text and not _is_lead_in(text):
                    points.append((label, text))
                    continue
            sentences = split_sentences(
                strip_inline(joined), KEY_POINT_SENTENCES, keep=lambda s: not _is_lead_in(s)
            )
            points += [("", s) for s in sentences]
    return points
