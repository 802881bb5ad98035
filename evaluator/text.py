"""Normalising answers and cutting them into units a key point can be matched against.

A unit is a sentence, a bullet or a numbered item. Chinese and English punctuation both end
units; very short fragments are merged into their neighbour so "例如：" does not stand alone.
"""

from __future__ import annotations

import re
import unicodedata

# Hard breaks: line breaks, and sentence-final punctuation (Chinese and English).
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=\.)(?=\s)|(?<=…)")
_BULLET = re.compile(
    r"^\s*(?:[-*+•·●▪]|[\d０-９]{1,3}[.)、．]|[（(]?[\d０-９]{1,3}[)）]|[一二三四五六七八九十]+[、.．])\s*"
)
_MARKUP = re.compile(r"\*\*|__|`{1,3}|^#{1,6}\s*", re.MULTILINE)
MIN_UNIT_CHARS = 6
MAX_UNIT_CHARS = 400


def normalise(text: str) -> str:
    """Unified line breaks and spaces; the wording itself is kept (it is shown as evidence)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = re.sub(r"[ \t\u3000\xa0]+", " ", text)
    return text.strip()


def _visible_len(text: str) -> int:
    """Letters and digits, a CJK character counting double (one carries about a word)."""
    text = unicodedata.normalize("NFKC", text)
    letters = re.sub(r"[\s\W_]+", "", text)
    return len(letters) + len(re.findall(r"[\u3400-\u9fff]", letters))


def split_units(text: str, max_units: int | None = None) -> list[str]:
    """Sentences, bullets and numbered items of `text`, in order, markup removed."""
    text = _MARKUP.sub("", normalise(text))
    pieces: list[str] = []
    for line in text.split("\n"):
        line = _BULLET.sub("", line).strip()
        if not line:
            continue
        for sentence in _SENTENCE_END.split(line):
            sentence = sentence.strip()
            while len(sentence) > MAX_UNIT_CHARS:  # unpunctuated walls of text
                cut = max(sentence.rfind(c, 0, MAX_UNIT_CHARS) for c in "，, ")
                cut = cut + 1 if cut > MAX_UNIT_CHARS // 2 else MAX_UNIT_CHARS
                pieces.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            if sentence:
                pieces.append(sentence)
    units: list[str] = []
    for piece in pieces:
        if units and (
            _visible_len(piece) < MIN_UNIT_CHARS or _visible_len(units[-1]) < MIN_UNIT_CHARS
        ):
            units[-1] = f"{units[-1]} {piece}"
        elif _visible_len(piece) > 0:
            units.append(piece)
    if max_units is not None:
        units = units[:max_units]
    return units


def windows(units: list[str], size: int = 2) -> list[str]:
    """Adjacent units joined, so a point spread over two sentences still matches."""
    return [" ".join(units[i : i + size]) for i in range(len(units) - size + 1)] if size > 1 else []


def is_blank(text: str) -> bool:
    return _visible_len(text) == 0
