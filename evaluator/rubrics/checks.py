"""What lint finds (`Finding`), and the checks of each rubric: empty sections, repeated key
points, pick groups, `duplicate_of` links, question numbers and weights.

Weights are checked against what the question asks (issue #16): duplicate questions weigh their
shared key points alike; a key point its own note calls marginal or doubtful weighs less than
its siblings; a "list" question credits naming items, so one item does not outweigh the others
(nor is one item split into two key points), and a lighter item says why in its note.

lint.py runs these on every rubric; duplicates.py reports in the same terms across rubrics.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from evaluator.rubrics.model import KeyPoint, Rubric, RubricDocument
from evaluator.rubrics.similarity import KeyPointText, best_match, label_key, ratio
from evaluator.text import asked_count, fold, is_list_question

__all__ = [
    "KEY_POINT_IDENTICAL",
    "Finding",
    "Level",
    "Progress",
    "check_duplicate_weights",
    "check_numbers",
    "check_rubric",
    "quote",
]

Level = Literal["error", "warning", "info"]
# Called as progress(what, done, total) while lint works: "checking questions", 120, 1000.
Progress = Callable[[str, int, int], None]

KEY_POINT_IDENTICAL = 0.9  # text ratio of two key points that say the same thing
SHARED_KEY_POINT = 0.75  # text ratio of two duplicates' key points that are the same point

# A note that calls its own key point marginal or doubtful. ("错误" is not among them: notes
# quote the seed's mistakes, which the key point's text has already corrected.)
_MARGINAL = re.compile(
    r"作用有限|帮助有限|收益有限|意义有限|用处有限|不是主要|并非主要|次要|存疑|有争议"
    r"|\bmarginal\b|\bminor\b|\bbarely\b|\bdoubtful\b|\bquestionable\b|\bof limited\b",
    re.IGNORECASE,
)
# A note that explains a weight ("权重 1，其余各 2"): where a weight is kept, the note says why.
_EXPLAINS_WEIGHT = re.compile(r"权重|\bweighs?\b|\bweight", re.IGNORECASE)
_CONCEPT_LABEL = re.compile(r"概念|含义|定义|是什么|concept|definition|what is", re.IGNORECASE)


class Finding(BaseModel):
    """One lint result: how serious, which rubric (or file), and what is wrong."""

    level: Level
    code: str
    rubric_id: str | None = None
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = self.rubric_id or self.file or "-"
        return f"{self.level}: {where}: {self.message}"


def quote(text: str, limit: int = 30) -> str:
    """`text` as a message quotes it: cut with "…" past `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------- checks


def check_rubric(rubric: Rubric, known_ids: set[str]) -> list[Finding]:
    """Everything wrong with one rubric on its own; `known_ids` are the ids duplicate_of may
    name."""
    findings: list[Finding] = []

    def add(level: Level, code: str, message: str) -> None:
        findings.append(Finding(level=level, code=code, rubric_id=rubric.id, message=message))

    for name in ("title", "question", "reference_answer"):
        if not str(getattr(rubric, name) or "").strip():
            add("error", "empty-section", f"{name} is empty")
    if not str(rubric.explanation or "").strip():
        add("info", "empty-section", "explanation is empty")
    if not rubric.key_points:
        add("error", "no-key-points", "has no key points")
    for k in rubric.key_points:
        if not str(k.text or "").strip():
            add("error", "empty-key-point", f"key point {k.id} has no text")
    if rubric.key_points and sum(k.weight for k in rubric.key_points) <= 0:
        add("error", "zero-weight", "key point weights add up to 0")
    for pk, pm in itertools.combinations([KeyPointText.of(k) for k in rubric.key_points], 2):
        k, m = pk.key_point, pm.key_point
        if not (k.text and m.text) or not best_match([(pk, pm)], KEY_POINT_IDENTICAL):
            continue
        same = "the same text" if fold(k.text) == fold(m.text) else "near-identical texts"
        labels = f" under different labels ('{k.label}', '{m.label}')" if k.label != m.label else ""
        add(
            "warning",
            "repeated-key-point",
            f"key points {k.id} and {m.id} have {same}{labels}: '{quote(k.text, 40)}'",
        )
    findings += _check_groups(rubric)
    findings += _check_weights(rubric)
    if rubric.duplicate_of is not None:
        if rubric.duplicate_of == rubric.id:
            add("error", "bad-duplicate-of", "duplicate_of points at itself")
        elif rubric.duplicate_of not in known_ids:
            add(
                "error",
                "bad-duplicate-of",
                f"duplicate_of points at unknown id '{rubric.duplicate_of}'",
            )
    return findings


def _check_groups(rubric: Rubric) -> list[Finding]:
    """`pick` against the number of items the question asks for and the group's size."""
    findings: list[Finding] = []

    def add(level: Level, code: str, message: str) -> None:
        findings.append(Finding(level=level, code=code, rubric_id=rubric.id, message=message))

    asked = asked_count(rubric.question)
    for group in rubric.groups or []:
        if group.pick == len(group.key_points):
            add(
                "warning",
                "pick-all",
                f"group {group.id} picks all {group.pick} of its key points: it is no choice",
            )
        if asked is not None and group.pick != asked:
            add(
                "warning",
                "pick-count",
                f"the question asks for {asked} items but group {group.id} picks {group.pick}",
            )
    if asked is not None and not rubric.groups and asked < len(rubric.key_points):
        weights = sorted((k.weight for k in rubric.key_points), reverse=True)
        best = 100 * sum(weights[:asked]) / sum(weights)
        add(
            "warning",
            "list-without-pick",
            f"the question asks for {asked} items but has {len(rubric.key_points)} key points "
            f"and no group: an answer giving exactly {asked} scores at most {best:.0f} "
            f"(add groups: [{{id: g1, key_points: [...], pick: {asked}}}])",
        )
    return findings


def _items(rubric: Rubric) -> list[list[KeyPoint]]:
    """The lists of items a list question's key points form: each pick group, or (no groups)
    every key point but the concept's."""
    by_id = {k.id: k for k in rubric.key_points}
    if rubric.groups:
        return [[by_id[i] for i in g.key_points] for g in rubric.groups]
    if not is_list_question(rubric.question):
        return []
    return [[k for k in rubric.key_points if not _CONCEPT_LABEL.search(k.label)]]


def _check_weights(rubric: Rubric) -> list[Finding]:
    """Weights that disagree with the question, or with the key point's own note."""
    findings: list[Finding] = []

    def add(level: Level, code: str, message: str) -> None:
        findings.append(Finding(level=level, code=code, rubric_id=rubric.id, message=message))

    lists = _items(rubric)
    grouped = {k.id for items in lists for k in items}
    for k in rubric.key_points:
        if not (k.note and _MARGINAL.search(k.note)):
            continue
        siblings = next((items for items in lists if k in items), None)
        if siblings is None or k.id not in grouped:
            siblings = [m for m in rubric.key_points if m.id not in grouped]
        others = [m.weight for m in siblings if m.id != k.id]
        if others and k.weight >= min(others):
            add(
                "warning",
                "marginal-full-weight",
                f"{k.id} ({k.label}) weighs {k.weight:g} though its note calls it "
                f"'{_MARGINAL.search(k.note).group(0)}': weigh it below its siblings "  # type: ignore[union-attr]
                f"(lightest {min(others):g}) or drop that from the note",
            )
    for items in lists:
        if len(items) < 2:
            continue
        weights = sorted(k.weight for k in items)
        typical = weights[len(weights) // 2]
        for k in items:
            if k.weight > typical:
                add(
                    "warning",
                    "list-item-explained",
                    f"{k.id} ({k.label}) weighs {k.weight:g} where the other items weigh "
                    f"{typical:g}: a list question credits naming items, not explaining one",
                )
            elif (
                rubric.groups
                and k.weight < weights[-1]
                and not (k.note and _EXPLAINS_WEIGHT.search(k.note))
            ):
                add(
                    "warning",
                    "list-item-lighter",
                    f"{k.id} ({k.label}) weighs {k.weight:g} where other items weigh "
                    f"{weights[-1]:g}: items of a list weigh the same unless its note says why",
                )
        for k, m in itertools.combinations(items, 2):
            if k.label and label_key(k.label) == label_key(m.label):
                add(
                    "warning",
                    "list-item-explained",
                    f"{k.id} and {m.id} are both '{k.label}': one item split into two key "
                    "points counts twice in a list question",
                )
    return findings


def check_duplicate_weights(rubrics: list[Rubric]) -> list[Finding]:
    """Duplicate questions (duplicate_of) weigh the key points they share alike, unless a note
    of either names the other question to say why they differ."""
    by_id = {r.id: r for r in rubrics}
    findings: list[Finding] = []
    for r in rubrics:
        other = by_id.get(r.duplicate_of or "")
        if other is None:
            continue
        names = (other.id, f"Q{other.number}", r.id, f"Q{r.number}")
        for k in r.key_points:
            match = max(other.key_points, key=lambda m: ratio(k.text, m.text), default=None)
            if match is None or k.weight == match.weight:
                continue
            same_label = bool(k.label) and label_key(k.label) == label_key(match.label)
            if not same_label and ratio(k.text, match.text) < SHARED_KEY_POINT:
                continue
            notes = f"{k.note or ''} {match.note or ''}"
            if any(n in notes for n in names):
                continue
            findings.append(
                Finding(
                    level="warning",
                    code="duplicate-weights",
                    rubric_id=r.id,
                    message=f"{k.id} ({k.label}) weighs {k.weight:g} here but {match.weight:g} "
                    f"as {other.id}'s {match.id} ({match.label}), of which this question is a "
                    "duplicate: weigh them alike or say why in a note naming the other question",
                )
            )
    return findings


def check_numbers(doc: RubricDocument) -> list[Finding]:
    """Question numbers are unique within a document ("show 1" must name one question)."""
    first: dict[int, str] = {}
    findings = []
    for r in doc.rubrics:
        if r.number is None:
            continue
        if r.number in first:
            findings.append(
                Finding(
                    level="error",
                    code="duplicate-number",
                    rubric_id=r.id,
                    message=f"number {r.number} is already {first[r.number]}'s in "
                    f"document '{doc.document}'",
                )
            )
        else:
            first[r.number] = r.id
    return findings
