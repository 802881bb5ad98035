"""Duplicated and overlapping questions across a rubric set.

They are found from two signals (similarity.py), because neither is enough on its own in a
templated study document (most questions read "请解释X的概念，并阐述其作用"): how alike the
questions are, and the best text match between the two rubrics' key points.

Two questions are *duplicates* when their questions are near-identical, or when they share a
near-identical key point and their questions are clearly related. They *overlap* when they share
a key point under the same label with similar text and their questions are related; an overlap
is reported for information (it is a note for curators, not a defect). Thresholds are tuned on
the seed (tests/rubrics/test_duplicates.py): they find Q3≈Q26, Q14≈Q28, Q2≈Q15 and Q21
overlapping Q2/Q15, and no other pair. A pair already linked by `duplicate_of` is reported as
info. Only related pairs (question similarity 0.2 or more) reach the key point comparison.
"""

from __future__ import annotations

import itertools

from evaluator.rubrics.checks import KEY_POINT_IDENTICAL, Finding, Progress, quote
from evaluator.rubrics.model import Rubric
from evaluator.rubrics.similarity import KeyPointText, QuestionSimilarity, best_match

__all__ = ["check_duplicates"]

QUESTION_NEAR_IDENTICAL = 0.9  # question similarity alone that makes a duplicate
DUPLICATE_MIN_QUESTION = 0.3  # question similarity needed alongside an identical key point
OVERLAP_KEY_POINT = 0.6  # text ratio of same-label key points that overlap
OVERLAP_MIN_QUESTION = 0.2  # question similarity needed alongside an overlapping key point


def _acknowledged(a: Rubric, b: Rubric) -> bool:
    """The curators already linked the pair through duplicate_of."""
    return (
        a.duplicate_of == b.id
        or b.duplicate_of == a.id
        or (a.duplicate_of is not None and a.duplicate_of == b.duplicate_of)
    )


def check_duplicates(rubrics: list[Rubric], progress: Progress | None = None) -> list[Finding]:
    """A duplicate-question finding for each duplicated pair, then an overlapping-question one
    for each overlapping pair that is not also a duplicate."""
    similarity = QuestionSimilarity(rubrics)
    findings: list[Finding] = []
    duplicates: dict[str, set[str]] = {r.id: set() for r in rubrics}
    overlaps: list[tuple[Rubric, Rubric, str]] = []
    floor = min(DUPLICATE_MIN_QUESTION, OVERLAP_MIN_QUESTION)
    # Unrelated questions (most pairs) never reach the Python-level checks below.
    first_of, second_of = similarity.related(rubrics, floor)
    points: dict[int, list[KeyPointText]] = {}

    def points_of(i: int) -> list[KeyPointText]:
        if i not in points:
            points[i] = [KeyPointText.of(k) for k in rubrics[i].key_points]
        return points[i]

    for done, (i, j) in enumerate(zip(first_of.tolist(), second_of.tolist(), strict=True), 1):
        if progress:
            progress("comparing related questions", done, len(first_of))
        a, b = rubrics[i], rubrics[j]
        q_sim = similarity(a, b)
        if q_sim < floor:
            continue  # unrelated questions: skip the costlier key-point comparison
        if q_sim >= QUESTION_NEAR_IDENTICAL:
            why = f"near-identical question (similarity {q_sim:.2f})"
        elif q_sim >= DUPLICATE_MIN_QUESTION and (
            best := best_match(itertools.product(points_of(i), points_of(j)), KEY_POINT_IDENTICAL)
        ):
            why = (
                f"related question (similarity {q_sim:.2f}) and the same key point "
                f"'{quote(best[1].text)}'"
            )
        else:
            same_label = (
                (k, m) for k, m in itertools.product(points_of(i), points_of(j))
                if k.key_point.label and k.label == m.label
            )  # fmt: skip
            labelled = best_match(same_label, OVERLAP_KEY_POINT)
            if labelled and q_sim >= OVERLAP_MIN_QUESTION:
                overlaps.append((a, b, labelled[1].label))
            continue
        duplicates[a.id].add(b.id)
        duplicates[b.id].add(a.id)
        marked = _acknowledged(a, b)
        findings.append(
            Finding(
                level="info" if marked else "warning",
                code="duplicate-question",
                rubric_id=b.id,
                message=f"duplicates {a.id}: {why}; "
                + (
                    "already marked with duplicate_of"
                    if marked
                    else "merge them or set duplicate_of"
                ),
            )
        )
    by_id = {r.id: r for r in rubrics}
    reported: set[tuple[str, str]] = set()
    # An overlap with one question is an overlap with its duplicates too.
    expanded = list(overlaps)
    for a, b, label in overlaps:
        for first, second in ((a, b), (b, a)):
            expanded += [(first, by_id[twin], label) for twin in sorted(duplicates[second.id])]
    order = {r.id: i for i, r in enumerate(rubrics)}  # not rubrics.index: that made this cubic
    for a, b, label in expanded:
        first, second = sorted((a, b), key=lambda r: order[r.id])
        if (first.id, second.id) in reported or second.id in duplicates[first.id]:
            continue
        reported.add((first.id, second.id))
        findings.append(
            Finding(
                level="info",
                code="overlapping-question",
                rubric_id=second.id,
                message=f"overlaps {first.id}: both have the key point '{label}'"
                + ("; already marked with duplicate_of" if _acknowledged(first, second) else ""),
            )
        )
    return findings
