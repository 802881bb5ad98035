"""Step 3 of grading: what the embeddings see in one answer, before any judge.

For each key point, the candidate (a sentence or two adjacent ones) that states it best and how
strongly (`coverage.key_point_evidence`); the misconceptions some sentence or clause asserts;
how close the whole answer is to its question, and whether it answers another question of the
set instead. The rules that make this more than similarity:

- a sentence that asserts a listed misconception is evidence of no key point, and one that
  turns a key point around (text.reverses) is no evidence of it: the point is contradicted;
- a claim is not measured against the key points it denies, when deciding whether it states a
  misconception rather than a key point;
- a terse answer to a list question earns the items it names (`named`); a bare list of terms
  to a question that asks for more is flagged (Flag.TERM_LIST) and no point earns full credit.

`key_point_results` turns the evidence into credit, through the calibration's ramp.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from evaluator.polarity import denies, reverses
from evaluator.result import Flag, KeyPointResult, MisconceptionHit, OtherQuestion, Status
from evaluator.rubrics.model import Rubric
from evaluator.scoring import coverage
from evaluator.scoring.calibration import Calibration
from evaluator.scoring.encode import AnswerVectors, RubricVectors
from evaluator.scoring.prepare import Prepared
from evaluator.text import (
    content_tokens,
    detect_language,
    is_list_question,
    is_term_list,
    visible_length,
)

# An answer this short (visible length: a CJK character counts 2) that names items is a list.
TERSE_CHARS = 60


@dataclass(frozen=True)
class Evidence:
    """What the embeddings found in one answer."""

    similarity: np.ndarray  # per key point, the cosine of its best candidate
    strength: np.ndarray  # per key point, that candidate's evidence (before the length term)
    lexical: coverage.LexicalFeatures | None  # None for an empty answer
    evidence: list[str | None]  # the matching unit per key point
    misconceptions: list[MisconceptionHit]
    topicality: float
    flags: list[Flag]
    answers_other: OtherQuestion | None = None
    named: list[int | None] = field(default_factory=list)  # unit naming each key point
    # Per key point: its best sentence turns it around (coverage.KeyPointEvidence.turned).
    turned: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def asserts(texts: Sequence[str], hits: Sequence[MisconceptionHit]) -> list[bool]:
    """Per text (a sentence or a window of them), whether it holds a sentence or clause found
    asserting a misconception: such text is evidence of no key point."""
    return [any(h.evidence and h.evidence in t for h in hits) for t in texts]


def find_evidence(
    p: Prepared,
    vectors: AnswerVectors | None,
    rv: RubricVectors,
    cal: Calibration,
    topics: Sequence[tuple[Rubric, np.ndarray]] = (),
) -> Evidence:
    """Best candidate per key point, misconceptions matched, topicality, and the question of
    `topics` (the rubric set) the answer really answers, if it is another."""
    rubric = p.rubric
    if not p.units or vectors is None:
        empty = np.zeros(len(rubric.key_points), dtype=np.float32)
        # An answer made only of text addressed to the grader is not empty: it says nothing.
        flags = [] if p.injected else [Flag.EMPTY]
        return Evidence(
            empty, empty, None, [None] * len(rubric.key_points), [], 0.0, flags,
            named=[None] * len(rubric.key_points),
            turned=np.zeros(len(rubric.key_points), dtype=bool),
        )  # fmt: skip
    flags = [Flag.TRUNCATED] if p.truncated else []
    cand, whole = vectors.candidates, vectors.whole
    key_texts = [k.text for k in rubric.key_points]
    mis_hits = misconception_hits(p, vectors, rv, cal)
    lex = coverage.lexical_features(key_texts, rubric.question, p.answer, p.units)
    sims, recall = candidate_features(p, cand, rv, cal, lex)
    match = coverage.key_point_evidence(
        sims,
        recall,
        cal,
        cross_language=detect_language(p.answer) != rubric.language,
        # Sentences of a reference answer repeat each other: they do not compete.
        distinct=not rubric.from_reference,
        # A sentence asserting a misconception earns no key-point credit, whatever words it
        # shares with the point it gets wrong.
        ignore=asserts(p.candidates, mis_hits),
        # Nor is a sentence that turns a key point around evidence of it.
        excluded=opposes(key_texts, p.candidates, reverses),
    )
    named = named_items(p, [h.evidence for h in mis_hits if h.evidence])
    # A question that asks for a list is answered by naming; any other asks for more.
    if not is_list_question(rubric.question) and is_term_list(p.answer):
        flags.append(Flag.TERM_LIST)
    topical = max(coverage.topicality(whole, t) for t in rv.topic)
    if topical < cal.off_topic and not any(i is not None for i in named):
        flags.append(Flag.OFF_TOPIC)
    # Its own question's closeness counts its key points too: a partial answer that states
    # one point well (say, only the learning rate for "how to tune a model") stays its own.
    own = max(topical, float((rv.key_points @ whole).max()))
    other = answers_other(rubric, whole, own, topics, cal)
    if other is not None:
        flags.append(Flag.ANSWERS_OTHER_QUESTION)
    evidence: list[str | None] = [
        p.units[n] if n is not None else p.candidates[i]
        for i, n in zip(match.index, named, strict=True)
    ]
    similarity = sims[np.arange(len(sims)), match.index]
    turned = match.turned if match.turned is not None else np.zeros(len(sims), dtype=bool)
    return Evidence(
        similarity, match.strength, lex, evidence, mis_hits, topical, flags, other, named, turned
    )


def misconception_hits(
    p: Prepared, vectors: AnswerVectors, rv: RubricVectors, cal: Calibration
) -> list[MisconceptionHit]:
    """The misconceptions a sentence or clause of the answer states more closely than any key
    point it does not deny (coverage.misconception_matches)."""
    rubric = p.rubric
    claims = p.units + p.clauses  # misconceptions are matched against sentences and clauses
    claim_vectors = np.vstack([vectors.candidates[: len(p.units)], vectors.clauses])
    found = coverage.misconception_matches(
        rv.misconceptions,
        claim_vectors,
        rv.key_points,
        cal,
        len(p.units),
        denied=opposes([m.text for m in rubric.misconceptions], claims, denies),
        worded=claim_words(rubric, claims),
        # A claim is not measured against the key points it denies.
        excluded=opposes([k.text for k in rubric.key_points], claims, denies),
    )
    return [
        MisconceptionHit(
            id=rubric.misconceptions[h.index].id,
            text=rubric.misconceptions[h.index].text,
            penalty=rubric.misconceptions[h.index].penalty,
            source="embedding",
            similarity=round(h.similarity, 4),
            evidence=claims[h.unit],
        )
        for h in found
    ]


def candidate_features(
    p: Prepared,
    cand: np.ndarray,
    rv: RubricVectors,
    cal: Calibration,
    lex: coverage.LexicalFeatures,
) -> tuple[np.ndarray, np.ndarray]:
    """(key points × candidates) similarity and word recall, the two terms of a candidate's
    evidence for a key point (`Calibration.evidence`); recall is one column (the whole answer's)
    for calibrations without `local_recall`."""
    rubric = p.rubric
    # Compared without the question's direction: restating the question earns nothing. One
    # product for key points and their listed alternatives; an alternative's row raises its key
    # point's where it matches better.
    both = coverage.similarity_matrix(
        np.vstack([rv.key_points, rv.examples]), cand, question=rv.topic[0]
    )
    sims = both[: len(rv.key_points)]
    np.maximum.at(sims, rv.example_of, both[len(rv.key_points) :])
    if not cal.local_recall:
        return sims, lex.key_points[:, None]
    # A key point is stated somewhere: its words count where they meet.
    recall = coverage.candidate_recall(
        [coverage.wordings(k.text) for k in rubric.key_points],
        [content_tokens(c) for c in p.candidates],
        content_tokens(rubric.question),
    )
    return sims, recall


def opposes(
    statements: list[str], texts: list[str], test: Callable[[str, str], bool]
) -> np.ndarray:
    """(statements × texts): `test(text, statement)`, e.g. the text denies the statement."""
    found = np.array([[test(t, s) for t in texts] for s in statements], dtype=bool)
    return found.reshape(len(statements), len(texts))


def claim_words(rubric: Rubric, claims: list[str]) -> np.ndarray:
    """(misconception, claim): the claim repeats a word of the misconception that the question
    does not use, so it shares the wrong claim and not only the topic."""
    asked = content_tokens(f"{rubric.title} {rubric.question}")
    own = [content_tokens(m.text) - asked for m in rubric.misconceptions]
    words = [content_tokens(c) for c in claims]
    return np.array([[bool(o & w) for w in words] for o in own], dtype=bool).reshape(
        len(own), len(claims)
    )


def named_items(p: Prepared, wrong: list[str]) -> list[int | None]:
    """Per key point, the unit of a terse answer to a list question that names its item.

    "列举三种…" is answered by naming items, and a terse list of the right terms
    ("正则化、dropout、数据增强、早停") earns the points it names. Only terse answers: in a
    longer one, an item named but not explained is graded by what is said about it."""
    rubric = p.rubric
    if visible_length(p.answer) > TERSE_CHARS or not is_list_question(rubric.question):
        return [None] * len(rubric.key_points)
    labels = [k.label for k in rubric.key_points]
    return coverage.named_key_points(labels, rubric.question, p.units, wrong)


def answers_other(
    rubric: Rubric,
    whole: np.ndarray,
    own: float,
    topics: Sequence[tuple[Rubric, np.ndarray]],
    cal: Calibration,
) -> OtherQuestion | None:
    """The question of the set this answer matches clearly better than its own, if any.

    Duplicates (duplicate_of, either way) never count against each other."""
    margin = cal.other_question_margin
    if margin is None:
        return None
    twins = {rubric.id, rubric.duplicate_of}
    best: tuple[float, Rubric] | None = None
    for other, topic in topics:
        if other.id in twins or other.duplicate_of == rubric.id:
            continue
        closeness = max(coverage.topicality(whole, t) for t in topic)
        if best is None or closeness > best[0]:
            best = (closeness, other)
    if best is None or best[0] - own < margin:
        return None
    found = best[1]
    return OtherQuestion(
        id=found.id, number=found.number, title=found.title, margin=round(best[0] - own, 4)
    )


def key_point_results(p: Prepared, ev: Evidence, cal: Calibration) -> list[KeyPointResult]:
    """Per key point: credit from the evidence (the calibration's ramp), with its status."""
    rubric, sims, lex = p.rubric, ev.similarity, ev.lexical
    if lex is not None:
        credit = cal.credit(ev.strength, length=lex.length)
        # An opposite verdict on a true/false statement, or the point turned around.
        contradicted = lex.contradicted | ev.turned
        credit[contradicted] = 0.0
        # A terse list that names a key point's item earns it (see named_items).
        named = np.array([i is not None for i in ev.named], dtype=bool)
        credit[named & ~contradicted] = 1.0
        if Flag.TERM_LIST in ev.flags:
            # Terms named, none explained: a teacher "deducts some" (a bare list of all four of
            # Q4's points is given 65-90, cases-styles h2-q04-bullets), so no point earns more
            # than the ramp's knee credit.
            credit = np.minimum(credit, cal.knee_credit)
    else:
        credit = np.zeros_like(sims)
        contradicted = np.zeros(len(sims), dtype=bool)
    return [
        KeyPointResult(
            id=k.id,
            label=k.label,
            text=k.text,
            weight=k.weight,
            credit=float(c),
            status=Status.CONTRADICTED if x else status(float(c), cal),
            embedding_credit=float(c),
            similarity=round(float(s), 4) if p.units else None,
            evidence=e,
        )
        for k, c, s, e, x in zip(
            rubric.key_points, credit, sims, ev.evidence, contradicted, strict=True
        )
    ]


def status(credit: float, cal: Calibration) -> Status:
    if credit >= cal.covered:
        return Status.COVERED
    if credit >= cal.partial:
        return Status.PARTIAL
    return Status.MISSED
