"""Duplicated and overlapping questions across a rubric set (evaluator/rubrics/duplicates.py),
run through `lint`; the thresholds are tuned on the seed."""

from __future__ import annotations

from evaluator.rubrics.lint import Finding, lint
from evaluator.rubrics.model import RubricDocument
from tests.rubrics.test_checks import doc_of, plain_rubric


def _pairs(findings: list[Finding], code: str, level: str) -> set[tuple[int, int]]:
    """{(n, m)} for findings like 'llm-training-q26: duplicates llm-training-q3'."""
    pairs = set()
    for f in findings:
        if f.code == code and f.level == level:
            assert f.rubric_id is not None
            other = f.message.split(":")[0].split()[-1]
            a, b = int(f.rubric_id.rsplit("q", 1)[1]), int(other.rsplit("q", 1)[1])
            pairs.add((min(a, b), max(a, b)))
    return pairs


def test_seed_duplicates_are_exactly_the_known_pairs(seed_doc: RubricDocument) -> None:
    findings = lint([seed_doc])
    assert _pairs(findings, "duplicate-question", "warning") == {(3, 26), (14, 28), (2, 15)}
    assert _pairs(findings, "overlapping-question", "info") == {(2, 21), (15, 21)}
    assert not [f for f in findings if f.level == "error"]


def test_marked_duplicates_become_info(seed_doc: RubricDocument) -> None:
    marks = {
        26: "llm-training-q3",
        28: "llm-training-q14",
        15: "llm-training-q2",
        21: "llm-training-q2",
    }
    rubrics = [
        r.model_copy(update={"duplicate_of": marks.get(r.number or 0)}) for r in seed_doc.rubrics
    ]
    findings = lint([seed_doc.model_copy(update={"rubrics": rubrics})])
    assert _pairs(findings, "duplicate-question", "warning") == set()
    assert _pairs(findings, "duplicate-question", "info") == {(3, 26), (14, 28), (2, 15)}
    overlaps = [f.message for f in findings if f.code == "overlapping-question"]
    assert len(overlaps) == 2
    assert all(m.endswith("already marked with duplicate_of") for m in overlaps)
    # Only the Q5 wording remains a warning.
    assert [f.rubric_id for f in findings if f.level == "warning"] == ["llm-training-q5"]


def test_english_near_identical_questions_are_duplicates() -> None:
    a = plain_rubric("d-q1", "What is overfitting?", [("", "A model that memorises noise.")])
    b = plain_rubric("d-q2", "What is overfitting ?", [("", "Fitting noise instead of signal.")])
    c = plain_rubric("d-q3", "How does dropout work?", [("", "It drops random units in training.")])
    findings = lint([doc_of(a, b, c)])
    dupes = [f for f in findings if f.code == "duplicate-question"]
    assert [(f.level, f.rubric_id) for f in dupes] == [("warning", "d-q2")]
    assert "d-q1" in dupes[0].message
