"""Polarity: whether one sentence says the opposite of another, read from its words.

Embeddings cannot see a "not": "推理时使用当前批次的统计量" and "推理时不使用当前批次的统计量"
are neighbours in vector space. So a correct sentence that shares a misconception's words would
be taken for it, and a reversed key point for the point itself. `denies` tells the grader when a
sentence states the opposite of a claim on some word they share (a negation, a pair of opposite
words, "cannot" against "can"); `reverses` when it turns a statement around entirely.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from evaluator.text import _CJK_RUN, _LATIN_WORD, STOPWORDS, _stem, content_tokens

# A denial of what something is ("并不是专门防止过拟合的手段", "而不是当前批次的统计量", "不同于
# …嵌入模型", "rather than the batch statistics") governs the rest of its clause, up to a clause
# mark or the turn to what is affirmed instead (而是, 但, but). Longer markers come first: "并不是"
# is one denial, not "并不" + "是模".
_ZH_COPULA = re.compile(
    r"(?:而不是|并不是|并非|而非|不同于|不等于|有别于|区别于|不是)"
    r"(?P<scope>[^，,。；;：:！!？?\n]*?)(?=而是|但是|但|[，,。；;：:！!？?\n]|$)"
)
# Any other negation governs the two characters after it: "不需要保留 float32" negates 保留 and
# nothing else the sentence names, "并不减少" 减少. Words that merely begin with 不 (不同, 不断,
# 不仅 …) negate nothing.
_ZH_NEGATION = re.compile(
    r"(?:并不|不需要|不需|无需|无法|不必|不用|不会|不能|不可|没有|没|未|不"
    r"(?!同|断|仅|过|少|错|久|管|论|如|然|得不))"
    r"(?:需要|能够|能|会|要|必|再|一定)?\s*(?P<scope>[\u3400-\u9fff]{2})"
)
_EN_COPULA = re.compile(
    r"\b(?:rather than|instead of|unlike|different from|as opposed to)\b"
    r"(?P<scope>[^,.;:!?\n]*?)(?=\bbut\b|[,.;:!?\n]|$)"
)
_EN_NEGATION = frozenset({"not", "no", "never", "without", "cannot", "nor"})
_EN_SKIP = STOPWORDS | {"need", "needs", "necessarily", "always", "really"}
# Pairs of words that say opposite things about the same subject: a sentence that states one
# denies a claim that states the other ("处理不同的数据分片" against "使用完全相同的训练数据").
_ANTONYMS = (
    ("相同", "不同"), ("提升", "降低"), ("提高", "降低"), ("增加", "减少"), ("增大", "减小"),
    ("加快", "减慢"), ("变大", "变小"), ("更大", "更小"), ("更多", "更少"), ("上升", "下降"),
    ("增强", "减弱"), ("扩大", "缩小"), ("same", "differ"), ("increas", "decreas"),
    ("larger", "smaller"), ("faster", "slower"), ("higher", "lower"), ("more", "less"),
)  # fmt: skip
# "不能解决问题" against "随机采样就可以平衡数据倾斜": a claim that something cannot be done does
# not assert that it can. Only unambiguous modals: a bare 能 is also 性能, 可能, 功能.
_CANNOT = re.compile(r"不能|无法|不可以|不可能|解决不了|\bcannot\b|\bcan not\b|\bunable\b")
_CAN = re.compile(r"可以|能够|就能|都能|便能|也能|\bcan\b")
_OPPOSITES: dict[str, frozenset[str]] = {
    word: frozenset(b for a, b in (*_ANTONYMS, *(p[::-1] for p in _ANTONYMS)) if a == word)
    for pair in _ANTONYMS
    for word in pair
}


@lru_cache(maxsize=8192)  # a rubric's misconceptions are held against every answer sentence
def _polarity(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(tokens `text` negates, tokens it states without a negation), as content tokens."""
    text = unicodedata.normalize("NFKC", text).lower().replace("n't", " not")
    negated: set[str] = set()
    for pattern in (_ZH_COPULA, _EN_COPULA, _ZH_NEGATION):
        for m in pattern.finditer(text):
            negated |= content_tokens(m.group("scope"))
        text = pattern.sub(" ", text)
    kept: list[str] = []
    governed = False
    for w in _LATIN_WORD.findall(text):
        if w in _EN_NEGATION:
            governed = True
        elif governed and w not in _EN_SKIP:
            negated.add(_stem(w))
            governed = False
        else:
            kept.append(w)
    stated = content_tokens(" ".join(kept) + " " + " ".join(_CJK_RUN.findall(text)))
    return frozenset(negated), stated - negated


def denies(claim: str, statement: str) -> bool:
    """Whether `claim` states the opposite of `statement` on some word they share: it states
    what the statement negates ("保留 FP32 主权重" against "不需要保留 FP32 副本") or negates what
    the statement states ("并不减少运算次数" against "通过减少计算量来加快训练").

    Embeddings cannot see a "not", so a correct sentence that shares a misconception's words
    would otherwise be taken for it."""
    claim_neg, claim_pos = _polarity(claim)
    stmt_neg, stmt_pos = _polarity(statement)
    if (stmt_neg & claim_pos) - claim_neg or (claim_neg & stmt_pos) - stmt_neg:
        return True
    folded = unicodedata.normalize("NFKC", statement).lower()
    if _CANNOT.search(unicodedata.normalize("NFKC", claim).lower()) and (
        _CAN.search(folded) and not _CANNOT.search(folded)
    ):
        return True
    # An opposite word: the claim states one of a pair, the statement the other, neither both.
    return any(
        word not in stmt_pos and (opposite & stmt_pos) - claim_pos
        for word in claim_pos
        if (opposite := _OPPOSITES.get(word, frozenset()))
    )


def reverses(claim: str, statement: str) -> bool:
    """Whether `claim` turns `statement` around: it states what the statement negates and
    negates what the statement states ("推理时使用当前批次的统计量，而不是滑动平均" against
    "推理时使用滑动平均，而不是当前批次的统计量"). Stricter than `denies`: a correct sentence
    often shares one word with a key point's own "not …" ("而不是在不同卷积层之间共享")."""
    claim_neg, claim_pos = _polarity(claim)
    stmt_neg, stmt_pos = _polarity(statement)
    return bool((stmt_neg & claim_pos) - claim_neg) and bool((claim_neg & stmt_pos) - stmt_neg)
