"""Normalising answers, cutting them into units a key point can be matched against, and the
content tokens the lexical-overlap feature counts; also the text an answer is embedded as, the
alternatives a key point lists, and what a question asks for (a list, how many items). Whether
one sentence denies another is polarity.py's.

A unit is a sentence, a bullet or a numbered item. Chinese and English punctuation both end
units; very short fragments are merged into their neighbour so "例如：" does not stand alone.
`split_sentences` is the one place text is cut into sentences: answers (`split_units`) and the
key points rubrics/compile.py makes of a study document's paragraphs, each with its rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Language = Literal["zh", "en"]

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


_CJK_EDGE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def _join(left: str, right: str) -> str:
    """Two pieces of one unit: a space between Latin words, none next to Chinese."""
    if _CJK_EDGE.match(left[-1:]) or _CJK_EDGE.match(right[:1]):
        return left + right
    return f"{left} {right}"


# ---------------------------------------------------------------------------- sentences

# A full stop after these is not the end of a sentence ("e.g. the 2014 paper").
_ABBREVIATIONS = r"e\.g|i\.e|etc|vs|cf|fig|eq|al|mr|ms|dr"


@dataclass(frozen=True)
class SentenceRules:
    """Where `split_sentences` cuts, and which pieces are too short to stand alone."""

    ends: re.Pattern[str]  # each match ends a sentence...
    abbreviation: re.Pattern[str]  # ...unless this finds an abbreviation's "." in the text so far
    length: Callable[[str], int]  # how much a piece says
    min_length: int  # a piece shorter than this (or after one) is joined to its neighbour
    join: Callable[[str, str], str]  # a piece and the next, merged
    drop_empty: bool  # a piece of length 0 with nothing before it is dropped, else kept
    max_chars: int | None = None  # a longer sentence is cut at a comma or a space


def _ideographs_and_words(text: str) -> int:
    """CJK characters, and two per Latin word: what a key point sentence says."""
    return len(_CJK_CHAR.findall(text)) + 2 * len(_WORD.findall(text))


def _join_at_ideograph(left: str, right: str) -> str:
    """Two pieces of one sentence: no space next to a CJK character, one otherwise."""
    if _CJK_CHAR.match(left[-1:]) or _CJK_CHAR.match(right[:1]):
        return left + right
    return f"{left} {right}"


# Answers are cut finely, so each claim can be matched on its own: semicolons, "…" and a full
# stop typed in ASCII inside Chinese text ("…缩短.难点…") end a unit as "。" does.
ANSWER_UNITS = SentenceRules(
    ends=re.compile(r"[。！？；!?;…]|\.(?=\s|[\u3400-\u9fff])"),
    abbreviation=re.compile(rf"\b(?:{_ABBREVIATIONS}|approx|resp)\.$", re.I),
    length=_visible_len,
    min_length=MIN_UNIT_CHARS,
    join=_join,
    drop_empty=True,
    max_chars=MAX_UNIT_CHARS,
)
# A compiled key point is a whole sentence a reviewer reads and edits: "A；B" stays one, a
# closing quote or bracket stays with its sentence, one under 6 (a CJK character 1, a word 2)
# joins a neighbour as wrapped lines join, and one in another script ("Ωμέγα.") is kept.
# Changing these changes what `rubrics build` writes.
KEY_POINT_SENTENCES = SentenceRules(
    ends=re.compile(r"[。！？!?]+[”’」』）)\"']*|\.(?=\s|$)"),
    # Not after a Latin letter, where answers' \b is not after a Chinese one: "方法e.g. 旋转" is
    # one sentence here and two in an answer.
    abbreviation=re.compile(rf"(?<![A-Za-z.])\.*(?:{_ABBREVIATIONS})\.*\.$", re.I | re.A),
    length=_ideographs_and_words,
    min_length=6,
    join=_join_at_ideograph,
    drop_empty=False,
)


def _cut_long(sentence: str, limit: int | None) -> list[str]:
    """`sentence` in pieces of at most `limit` characters, cut after a comma or at a space
    where one is in the second half (unpunctuated walls of text)."""
    pieces: list[str] = []
    while limit is not None and len(sentence) > limit:
        cut = max(sentence.rfind(c, 0, limit) for c in "，, ")
        cut = cut + 1 if cut > limit // 2 else limit
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    return [*pieces, sentence] if sentence else pieces


def split_sentences(
    text: str, rules: SentenceRules = ANSWER_UNITS, keep: Callable[[str], bool] | None = None
) -> list[str]:
    """The sentences of `text`, in order, each with the mark that ends it: cut at line breaks
    and after each match of `rules.ends` but an abbreviation's full stop. The pieces `keep`
    rejects are dropped; then a piece shorter than `rules.min_length` is joined to the one
    before it, and while that one is still short, the next piece too."""
    pieces: list[str] = []
    for line in text.split("\n"):
        start = 0
        for m in rules.ends.finditer(line):
            if rules.abbreviation.search(line[start : m.end()]):
                continue
            pieces += _cut_long(line[start : m.end()].strip(), rules.max_chars)
            start = m.end()
        pieces += _cut_long(line[start:].strip(), rules.max_chars)
    if keep is not None:
        pieces = [piece for piece in pieces if keep(piece)]
    sentences: list[str] = []
    for piece in pieces:
        length = rules.length(piece)
        if sentences and (
            length < rules.min_length or rules.length(sentences[-1]) < rules.min_length
        ):
            sentences[-1] = rules.join(sentences[-1], piece)
        elif length > 0 or not rules.drop_empty:
            sentences.append(piece)
    return sentences


def split_units(text: str, max_units: int | None = None) -> list[str]:
    """Sentences, bullets and numbered items of `text`, in order, markup removed."""
    text = _MARKUP.sub("", normalise(text))
    lines = (_BULLET.sub("", line).strip() for line in text.split("\n"))
    units = split_sentences("\n".join(lines), ANSWER_UNITS)
    return units if max_units is None else units[:max_units]


def windows(units: list[str], size: int = 2) -> list[str]:
    """Adjacent units joined, so a point spread over two sentences still matches."""
    return [" ".join(units[i : i + size]) for i in range(len(units) - size + 1)] if size > 1 else []


_CLAUSE_END = re.compile(r"(?<=[，,：:])\s*")  # not 、, which joins items of one list
MIN_CLAUSE_CHARS = 8


def clauses(units: list[str]) -> list[str]:
    """The comma-separated clauses of multi-clause units (units themselves are not repeated).

    A wrong claim often hides in one clause of a long sentence that is otherwise right
    ("学生模型学习软标签，蒸馏得到的学生模型一定会超过教师模型"); whole-sentence matching
    dilutes it.
    """
    out: list[str] = []
    for unit in units:
        parts: list[str] = []
        for piece in _CLAUSE_END.split(unit):
            if parts and _visible_len(parts[-1]) < MIN_CLAUSE_CHARS:
                parts[-1] = _join(parts[-1], piece)
            elif piece.strip():
                parts.append(piece.strip())
        if len(parts) > 1:
            out.extend(parts)
    return out


def one_line(text: str, limit: int) -> str:
    """`text` on one line (white space folded), cut with "…" past `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fold(text: str) -> str:
    """Letters and digits only, NFKC and lower case: for comparing titles and labels."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).lower())


_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")


def has_cjk(text: str) -> bool:
    return bool(_CJK_CHAR.search(text))


def detect_language(text: str) -> Language:
    """`zh` when CJK characters dominate, else `en`. A Latin word counts as two characters
    (about what it carries), so English terms inside Chinese prose do not tip the balance:
    "正则化防止 overfitting regularization" is Chinese."""
    return "zh" if len(_CJK_CHAR.findall(text)) > 2 * len(_WORD.findall(text)) else "en"


def is_blank(text: str) -> bool:
    return _visible_len(text) == 0


def visible_length(text: str) -> int:
    """Length for comparing answers with references across scripts (a CJK character counts 2)."""
    return _visible_len(text)


# ---------------------------------------------------------------------------- content tokens

# Function words that say nothing about content (English; Chinese uses character bigrams, where
# function characters rarely pair into a bigram that also occurs in a key point).
_STOPWORDS = """
    a an the of to in on for and or but is are was were be been being it its this that these
    those as at by with from into than then there their them they he she we you i me my our your
    his her not no do does did done can could will would shall should may might must have has had
    having which who whom what when where why how so such if else also very more most other some
    any all each both only just about over under between through during before after above below
    up down out off again further once here same too own one"""
STOPWORDS = frozenset(_STOPWORDS.split())
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# Order matters: only the first suffix that fits is cut off ("ations" before "s").
_SUFFIXES: tuple[str, ...] = ("ations", "ation", "ments", "ment", "ings", "ing", "edly", "ers")
_SUFFIXES += ("er", "ed", "ies", "es", "ly", "s")
STEM_CHARS = 4  # stems are cut to this many characters: "initialize", "initialization" -> "init"


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """A crude stem: one common suffix off, then the first STEM_CHARS characters (numbers kept)."""
    if word.isdigit():
        return word
    for suffix in _SUFFIXES:
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:STEM_CHARS]


def content_words(text: str) -> list[str]:
    """The Latin-script words of `text` that carry content, in order: NFKC, lower case, no stop
    words, no one-letter words (numbers kept)."""
    words = _LATIN_WORD.findall(unicodedata.normalize("NFKC", text).lower())
    return [w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


@lru_cache(maxsize=8192)  # rubric texts recur for every answer graded against them
def content_tokens(text: str) -> frozenset[str]:
    """Stemmed content words (Latin scripts) and character bigrams (CJK runs) of `text`.

    Bigrams because Chinese has no spaces and single characters are too ambiguous; a one-
    character run ("栈") stands as itself.
    """
    tokens = {_stem(w) for w in content_words(text)}
    for run in _CJK_RUN.findall(unicodedata.normalize("NFKC", text).lower()):
        if len(run) == 1:
            tokens.add(run)
        tokens.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(tokens)


# ---------------------------------------------------------------------------- punctuation

_CJK_CLASS = "\u3400-\u9fff\uff08\uff09"  # Chinese, and the full-width brackets made here
_WIDE = {",": "，", ".": "。", ";": "；", ":": "：", "!": "！", "?": "？", "(": "（", ")": "）"}
_ASCII_BY_CJK = re.compile(
    rf"(?<=[{_CJK_CLASS}])\s*([,.;:!?()])\s*|\s*([,.;:!?()])\s*(?=[{_CJK_CLASS}])"
)


def embedding_text(text: str) -> str:
    """`text` as it is embedded: ASCII punctuation next to a Chinese character becomes its
    full-width form ("缩短.难点" → "缩短。难点"). The sentence encoder reads the two differently
    enough to move a grade by 30 points (benchmarks/judge_stability.py); shown evidence keeps
    the answer's own characters."""
    while True:  # again, for a mark that follows one just converted ("（GPU 之间)." )
        wide = _ASCII_BY_CJK.sub(lambda m: _WIDE[m.group(1) or m.group(2)], text)
        if wide == text:
            return wide
        text = wide


# ---------------------------------------------------------------------------- examples

# "如图像旋转、缩放、随机裁剪" / "（如 FGSM、PGD）" / "such as rotation, cropping": the examples a key
# point offers as alternatives, each of which states it.
_EXAMPLES = re.compile(
    r"(?:例如|比如|譬如|诸如|如|such as|e\.g\.,?|for example,?)\s*(?P<items>[^。；;）)]+)",
    re.IGNORECASE,
)
_EXAMPLE_SPLIT = re.compile(r"[、,，/]|\s+or\s+|\s+and\s+|或者|或|以及")
MAX_EXAMPLE_CHARS = 24
MIN_EXAMPLES = 3  # fewer is an aside ("如 FGSM、PGD"), not a list of alternatives


def examples(text: str) -> list[str]:
    """The alternatives `text` lists after 如/例如/such as ("图像旋转", "缩放", "随机裁剪", …), in
    order; empty unless one list has at least MIN_EXAMPLES of them."""
    out: list[str] = []
    for m in _EXAMPLES.finditer(text):
        items = [i.strip(" 等.") for i in _EXAMPLE_SPLIT.split(m.group("items"))]
        items = [i for i in items if 2 <= len(i) <= MAX_EXAMPLE_CHARS]
        if len(items) >= MIN_EXAMPLES:
            out += [i for i in items if i not in out]
    return out


# "列举三种…", "有哪些…", "list three …", "name two …": questions answered by naming items.
_LIST_QUESTION = re.compile(
    r"列举|列出|有哪些|哪几[种个类]|几种|\blist\b|\bname (?:two|three|four|five|several|some|\d)",
    re.IGNORECASE,
)


# A term list: at least TERM_LIST_ITEMS items, each at most TERM_CHARS wide (a CJK character
# counts 2) and, in Latin script, TERM_WORDS words, and nothing else ("均值方差标准化、缩放平移、
# 训练更稳定", "- DataLoader + prefetch\n- 数据分片"). Items are set apart by 、, semicolons,
# slashes, lines and bullets; a Chinese ，joins the clauses of a sentence, so only text with no
# Chinese is also split at commas.
_TERM_SPLIT = re.compile(r"[、；;/|\n]+|(?:^|\n)\s*(?:[-*+•]|\d{1,2}[.)、])\s+")
TERM_LIST_ITEMS = 3
TERM_CHARS = 20
TERM_WORDS = 3


def is_term_list(answer: str) -> bool:
    """True when `answer` names terms and explains none: a string of short items."""
    text = unicodedata.normalize("NFKC", answer).strip().rstrip("。.！!")
    pieces = _TERM_SPLIT.split(text)
    if not _CJK_RUN.search(text):
        pieces = [part for piece in pieces for part in piece.split(",")]
    items = [i.strip() for i in pieces if i and i.strip()]
    return len(items) >= TERM_LIST_ITEMS and all(
        visible_length(i) <= TERM_CHARS
        and len(_LATIN_WORD.findall(i.lower())) <= TERM_WORDS
        and not re.search(r"[，。！？!?]", i)
        for i in items
    )


def is_list_question(question: str) -> bool:
    """True when `question` asks for a list of items, so naming an item answers it."""
    return bool(_LIST_QUESTION.search(question))


_COUNT_WORDS = {
    "一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
    "十": 10, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
# "列举三种", "列出 3 个", "举出两类", "list three", "name 2", "give four examples of".
_ASKED_COUNT = re.compile(
    r"(?:列举|列出|举出|给出|说出|写出)\s*(?P<zh>[一两二三四五六七八九十]|\d{1,2})\s*[种个类条项点]"
    r"|\b(?:list|name|give|state|describe)\s+(?:at\s+least\s+)?"
    r"(?P<en>one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2})\b",
    re.IGNORECASE,
)


def asked_count(question: str) -> int | None:
    """How many items the question asks for ("列举三种…" → 3, "name two …" → 2), else None.

    One is not a list: "给出一个例子" asks for an example beside the concept it explains."""
    for m in _ASKED_COUNT.finditer(unicodedata.normalize("NFKC", question)):
        word = (m.group("zh") or m.group("en")).lower()
        n = int(word) if word.isdigit() else _COUNT_WORDS[word]
        if n >= 2:
            return n
    return None
