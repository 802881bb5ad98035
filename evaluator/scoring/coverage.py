"""Key-point coverage from embeddings and word overlap: pure numpy, no I/O.

Each key point is matched against every answer unit and every window of adjacent units
(`key_point_evidence`): a candidate's evidence is its similarity plus a lexical term, because
short-answer graders reward the right terms: the share of the key point's content tokens in
that candidate (or in the whole answer, for calibrations without `local_recall`). Words the
question already contains earn nothing (an answer that restates the question has not answered
it), and the question's direction is removed from the vectors before they are compared, for the
same reason. For a written rubric, key points compete for candidates and filler is evidence of
nothing. The embedder's calibration turns the best evidence, with the answer's shortness, into
credit in [0, 1].
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from evaluator.scoring.calibration import Calibration
from evaluator.text import content_tokens, examples, fold, split_units, visible_length


def demote(vectors: np.ndarray, direction: np.ndarray | None) -> np.ndarray:
    """Rows with their component along `direction` (the question) removed, re-normalised.

    Two texts that both restate the question are similar for that reason alone; what is left
    after removing the question's direction is what they say beyond it.
    """
    if direction is None or len(vectors) == 0:
        return vectors
    d = np.asarray(direction, dtype=np.float32)
    norm = float(np.linalg.norm(d))
    if norm < 1e-6:
        return vectors
    d = d / norm
    rest = vectors - np.outer(vectors @ d, d)
    return (rest / np.maximum(np.linalg.norm(rest, axis=1, keepdims=True), 1e-6)).astype(np.float32)


@dataclass(frozen=True)
class KeyPointEvidence:
    """Per key point: its best candidate (index) and that candidate's evidence."""

    index: np.ndarray  # (k,) int
    strength: np.ndarray  # (k,) float32
    # (k,) bool: the candidate that stated the key point best was excluded from it (it turns
    # the point around): the answer contradicts the point rather than leaving it out.
    turned: np.ndarray | None = None


def similarity_matrix(
    queries: np.ndarray, candidates: np.ndarray, question: np.ndarray | None = None
) -> np.ndarray:
    """(queries × candidates) cosines, both sides compared after `demote`."""
    return demote(queries, question) @ demote(candidates, question).T


def key_point_evidence(
    similarity: np.ndarray,
    recall: np.ndarray,
    calibration: Calibration,
    *,
    cross_language: bool = False,
    distinct: bool = True,
    ignore: Sequence[bool] = (),
    excluded: np.ndarray | None = None,
) -> KeyPointEvidence:
    """Per key point, its best candidate and that candidate's evidence (before the length term).

    `similarity` and `recall` are (key points × candidates); recall may be one column (the whole
    answer's). Across languages no word is shared, so similarity alone counts, scaled by
    `cross_language`. When the key points are `distinct` claims (a written rubric), they compete
    for candidates: one that states another key point better counts that much less for this one
    (a sentence on dropout is not also evidence of early stopping), and one that states no key
    point at all (filler) is no evidence of any. Candidates flagged in `ignore` are evidence of
    nothing, and `excluded[k, c]` marks a candidate that is no evidence of key point k (it
    turns k around: polarity.reverses).
    """
    if similarity.size == 0:
        k = len(similarity)
        return KeyPointEvidence(np.zeros(k, dtype=int), np.zeros(k, dtype=np.float32))
    exclusivity = calibration.exclusivity
    if cross_language and calibration.cross_language is not None:
        e = (similarity - calibration.cross_language_floor) * calibration.cross_language
        if calibration.cross_language_exclusivity is not None:
            exclusivity = calibration.cross_language_exclusivity
    else:
        e = calibration.evidence(similarity, recall)
    if distinct:
        best = e.max(axis=0, keepdims=True)
        e = e - exclusivity * (best - e)
        if calibration.states is not None:
            e = np.where(best >= calibration.states, e, np.minimum(e, 0.0))
    if any(ignore):
        e = np.where(np.asarray(ignore, dtype=bool)[None, :], np.minimum(e, 0.0), e)
    turned = None
    if excluded is not None and excluded.any():
        strongest = e.argmax(axis=1)
        turned = excluded[np.arange(len(e)), strongest]
        e = np.where(excluded, np.minimum(e, 0.0), e)
    index = e.argmax(axis=1)
    return KeyPointEvidence(index, e[np.arange(len(e)), index].astype(np.float32), turned)


# ---------------------------------------------------------------------------- lexical features


def recall(target: frozenset[str], answer: frozenset[str], question: frozenset[str]) -> float:
    """Share of `target`'s tokens that the answer contains, question tokens left out.

    When every token of the target is in the question, all of them count (else a key point
    that repeats the question could never be earned).
    """
    wanted = (target - question) or target
    return len(wanted & answer) / len(wanted) if wanted else 0.0


@lru_cache(maxsize=8192)  # like content_tokens: a rubric's key points recur for every answer
def wordings(key_point: str) -> tuple[frozenset[str], ...]:
    """The token sets that state `key_point`: its own, or, when it lists alternatives
    ("如图像旋转、缩放、随机裁剪"), its words outside the list with each alternative in turn.
    An answer that gives one example has not left out the others."""
    items = examples(key_point)
    if not items:
        return (content_tokens(key_point),)
    head = key_point
    for item in items:
        head = head.replace(item, " ")
    shared = content_tokens(head)
    return tuple(shared | content_tokens(item) for item in items)


def candidate_recall(
    key_points: Sequence[Sequence[frozenset[str]]],
    candidates: Sequence[frozenset[str]],
    question: frozenset[str],
) -> np.ndarray:
    """(key points × candidates) `recall` of each key point's tokens in each candidate, by the
    best of its `wordings`."""
    return np.array(
        [[max(recall(w, c, question) for w in k) for c in candidates] for k in key_points],
        dtype=np.float32,
    ).reshape(len(key_points), len(candidates))


def length_ratio(answer: str, reference: str) -> float:
    """log(answer length / reference length), capped at 0: only shortness is informative."""
    a, r = visible_length(answer), visible_length(reference)
    if a == 0 or r == 0:
        return 0.0 if r == 0 else -10.0
    return min(0.0, math.log(a / r))


# A leading verdict on a true/false statement: 正确/错误/对/错, true/false, yes/no, correct/wrong.
# "对于…", "正确答案…" are words, not verdicts; "No constructor…" is not a verdict either.
_VERDICT = re.compile(
    r"^\W*(?:答\W*)?(?:这个?|该|此|上述)?(?:叙述|说法|描述|命题|陈述|句话)?(?:是)?"
    r"(?:(?P<word>不正确|不对|错误|错|正确|对|incorrect|false|wrong|correct|true)的?"
    r"(?![a-z\u3400-\u9fff])|(?P<short>yes|no)(?=\s*[,.;:!]|\s*$))"
)
_NEGATIVE = frozenset({"不正确", "不对", "错误", "错", "incorrect", "false", "wrong", "no"})


def verdict(text: str) -> bool | None:
    """True/False when `text` opens with a verdict (错误。…, "False, because…"), else None."""
    m = _VERDICT.match(unicodedata.normalize("NFKC", text).strip().lower())
    if m is None:
        return None
    return (m.group("word") or m.group("short")) not in _NEGATIVE


@dataclass(frozen=True)
class LexicalFeatures:
    key_points: np.ndarray  # (k,) recall of each key point's content tokens in the answer
    length: float  # length_ratio(answer, all key points)
    contradicted: np.ndarray  # (k,) bool: the key point opens with the opposite verdict


def lexical_features(
    key_points: Sequence[str], question: str, answer: str, units: Sequence[str] | None = None
) -> LexicalFeatures:
    """The word-level evidence for each key point (see `Calibration.evidence`).

    The length ratio compares the answer with the key points together (a curated reference
    answer carries background the key points leave out). It counts only the answer's units that
    share a content token with the rubric, so padding an answer with unrelated text (or with
    instructions to the grader) cannot lengthen it; when no unit shares one (an answer in
    another language), the whole answer counts.
    """
    q, a = content_tokens(question), content_tokens(answer)
    kp_tokens = [content_tokens(k) for k in key_points]
    rubric_tokens = frozenset().union(q, *kp_tokens)
    if units is None:
        units = split_units(answer)
    relevant = [u for u in units if content_tokens(u) & rubric_tokens]
    answer_verdict = verdict(answer)
    contradicted = [
        answer_verdict is not None and v is not None and v != answer_verdict
        for v in (verdict(k) for k in key_points)
    ]
    return LexicalFeatures(
        key_points=np.array([recall(t, a, q) for t in kp_tokens], dtype=np.float32),
        length=length_ratio(" ".join(relevant) if relevant else answer, " ".join(key_points)),
        contradicted=np.array(contradicted, dtype=bool),
    )


# ---------------------------------------------------------------------------- misconceptions


@dataclass(frozen=True)
class MisconceptionMatch:
    index: int  # which misconception
    unit: int  # which unit asserts it
    similarity: float


def misconception_matches(
    misconceptions: np.ndarray,
    units: np.ndarray,
    key_points: np.ndarray,
    calibration: Calibration,
    clauses_from: int | None = None,
    denied: np.ndarray | None = None,
    worded: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
) -> list[MisconceptionMatch]:
    """Misconceptions some unit states more closely than it states any key point.

    Rows of `units` from `clauses_from` on are clauses, held to a stricter threshold. A claim
    that repeats a word of misconception m the question does not use (`worded[m, u]`) needs
    less similarity (a sentence `misconception_worded`, a clause `misconception`) if it
    prefers the misconception by the wider `misconception_worded_margin`. `denied[m, u]` marks
    a unit that says the opposite of misconception m (polarity.denies): close in embedding space,
    yet not asserting it. `excluded[k, u]` marks a key point that unit u denies, so its
    closeness is no reason to doubt the wrong claim: "推理时使用当前批次的统计量" is close to
    "推理时使用滑动平均，而不是当前批次的统计量" only in its words.
    """
    if len(misconceptions) == 0 or len(units) == 0:
        return []
    mis_sims = misconceptions @ units.T  # (m, u)
    kp_sims = key_points @ units.T
    if excluded is not None and len(key_points):
        kp_sims = np.where(excluded, -1.0, kp_sims)
    kp_best = kp_sims.max(axis=0) if len(key_points) else np.zeros(len(units))
    hits = []
    threshold = np.full(len(units), calibration.misconception, dtype=np.float32)
    sentence = calibration.misconception_worded
    worded_threshold = np.full(
        len(units), calibration.misconception if sentence is None else sentence, dtype=np.float32
    )
    if clauses_from is not None:
        threshold[clauses_from:] += calibration.misconception_clause_extra
        worded_threshold[clauses_from:] = calibration.misconception
    for m, row in enumerate(mis_sims):
        margin = row - kp_best
        passing = (row >= threshold) & (margin >= calibration.misconception_margin)
        if worded is not None:
            passing |= (
                worded[m]
                & (row >= worded_threshold)
                & (margin >= calibration.misconception_worded_margin)
            )
        if denied is not None:
            passing &= ~denied[m]
        if passing.any():
            u = int(np.where(passing, row, -np.inf).argmax())
            hits.append(MisconceptionMatch(m, u, float(row[u])))
    return hits


def topicality(answer: np.ndarray, topic: np.ndarray) -> float:
    """Similarity of the whole answer to the question + reference answer."""
    return float(answer @ topic)


_LABEL_PARTS = re.compile(r"[（()）/、,，;；]+")


def named_key_points(
    labels: Sequence[str], question: str, units: Sequence[str], skip: Sequence[str] = ()
) -> list[int | None]:
    """For a list question: the answer unit that names each key point's label, or None.

    A label such as "正则化（Regularization）" is named by either of its parts. Parts shorter
    than 2 letters, and parts the question itself names (restating it names nothing), do not
    count; nor do units in `skip` (those asserting a misconception)."""
    asked = fold(question)
    folded_units = [None if u in skip else fold(u) for u in units]
    found: list[int | None] = []
    for label in labels:
        terms = {fold(part) for part in _LABEL_PARTS.split(label)}
        terms = {t for t in terms if len(t) >= 2 and t not in asked}
        found.append(
            next(
                (i for i, u in enumerate(folded_units) if u and any(t in u for t in terms)),
                None,
            )
        )
    return found
