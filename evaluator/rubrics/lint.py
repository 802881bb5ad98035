"""Checks on rubric files (`evaluator rubrics lint`): duplicated questions, repeated key points,
empty sections, weights, and `duplicate_of` links.

Weights are checked against what the question asks (issue #16): duplicate questions weigh their
shared key points alike; a key point its own note calls marginal or doubtful weighs less than
its siblings; a "list" question credits naming items, so one item does not outweigh the others
(nor is one item split into two key points), and a lighter item says why in its note.

Duplicated questions are found from two signals, because neither is enough on its own in a
templated study document (most questions read "请解释X的概念，并阐述其作用"):

- question similarity: cosine of character bigrams of title + question, weighted by inverse
  document frequency over the rubric set, so template phrases count little and the subject
  words count a lot;
- shared key points: the best text match between the two rubrics' key points.

Two questions are *duplicates* when their questions are near-identical, or when they share a
near-identical key point and their questions are clearly related. They *overlap* when they share
a key point under the same label with similar text and their questions are related; an overlap
is reported for information (it is a note for curators, not a defect). Thresholds are tuned on
the seed (tests/test_lint.py): they find Q3≈Q26, Q14≈Q28, Q2≈Q15 and Q21 overlapping Q2/Q15, and
no other pair. A pair already linked by `duplicate_of` is reported as info.

Lint stays near-linear in the number of questions: the question similarity of every pair is one
matrix product (numpy), and only the related pairs (similarity 0.2 or more) go on to the
Python-level checks. Text comparisons (difflib) run only on key point pairs whose cheap upper
bound could reach the threshold, so the findings are exactly those of comparing every pair.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ValidationError

from evaluator.rubrics.io import default_rubrics_dir, rubric_files, schema_problems
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import KeyPoint, Rubric, RubricDocument
from evaluator.text import asked_count, fold, is_list_question

__all__ = ["Finding", "Progress", "lint", "lint_path"]

Level = Literal["error", "warning", "info"]
# Called as progress(what, done, total) while lint works: "checking questions", 120, 1000.
Progress = Callable[[str, int, int], None]
_SEVERITY = {"error": 0, "warning": 1, "info": 2}

QUESTION_NEAR_IDENTICAL = 0.9  # question similarity alone that makes a duplicate
KEY_POINT_IDENTICAL = 0.9  # text ratio of two key points that say the same thing
DUPLICATE_MIN_QUESTION = 0.3  # question similarity needed alongside an identical key point
OVERLAP_KEY_POINT = 0.6  # text ratio of same-label key points that overlap
OVERLAP_MIN_QUESTION = 0.2  # question similarity needed alongside an overlapping key point
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


# ---------------------------------------------------------------------------- similarity


def _label_key(label: str) -> str:
    """A label without its parenthetical gloss: "数据增强（Data Augmentation）" → "数据增强"."""
    return fold(re.sub(r"[（(][^）)]*[）)]", "", label))


def _bigrams(text: str) -> Counter[str]:
    folded = fold(text)
    return Counter(folded[i : i + 2] for i in range(len(folded) - 1))


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, fold(a), fold(b)).ratio()


@dataclass(frozen=True)
class _Point:
    """A key point as the text comparisons see it, folded once per lint rather than per pair."""

    key_point: KeyPoint
    folded: str
    # Each character with its occurrence number ("a" twice: (a, 0), (a, 1)), so that a set
    # intersection (in C) counts the characters two texts share with multiplicity.
    chars: frozenset[tuple[str, int]]
    label: str  # _label_key of its label

    @classmethod
    def of(cls, k: KeyPoint) -> _Point:
        folded = fold(k.text)
        chars = frozenset((c, i) for c, n in Counter(folded).items() for i in range(n))
        return cls(k, folded, chars, _label_key(k.label))


def _ratio_bound(a: _Point, b: _Point) -> float:
    """An upper bound of `_ratio` (difflib's quick_ratio): what the two texts share, counting
    characters with multiplicity and ignoring their order."""
    total = len(a.folded) + len(b.folded)
    if not total:
        return 1.0  # difflib's ratio of two empty strings
    return 2.0 * len(a.chars & b.chars) / total


def _best_match(
    pairs: Iterable[tuple[_Point, _Point]], floor: float
) -> tuple[float, KeyPoint, KeyPoint] | None:
    """The pair of highest `_ratio` (the first of equals, in the order of `pairs`) when that
    ratio is at least `floor`, else None: what max() over every pair's ratio gives, but difflib
    runs only on pairs whose upper bound could still beat the best ratio found so far."""
    hopeful = []
    for order, (a, b) in enumerate(pairs):
        total = len(a.folded) + len(b.folded)
        if total and 2.0 * min(len(a.folded), len(b.folded)) / total < floor:
            continue  # lengths alone rule it out (difflib's real_quick_ratio)
        bound = _ratio_bound(a, b)
        if bound >= floor:
            hopeful.append((bound, order, a, b))
    hopeful.sort(key=lambda h: (-h[0], h[1]))
    best: tuple[float, int, _Point, _Point] | None = None
    for bound, order, a, b in hopeful:
        if best is not None and bound < best[0]:
            break
        ratio = difflib.SequenceMatcher(None, a.folded, b.folded).ratio()
        if ratio >= floor and (
            best is None or ratio > best[0] or (ratio == best[0] and order < best[1])
        ):
            best = (ratio, order, a, b)
    return (best[0], best[2].key_point, best[3].key_point) if best else None


class _QuestionSimilarity:
    """IDF-weighted bigram cosine of title + question over one rubric set."""

    def __init__(self, rubrics: list[Rubric]) -> None:
        self._bags = {r.id: _bigrams(f"{r.title} {r.question}") for r in rubrics}
        df = Counter(b for bag in self._bags.values() for b in bag)
        n = len(rubrics)
        self._df = df
        self._idf = {b: math.log((n + 1) / count) for b, count in df.items()}
        self._norm = {
            rid: math.sqrt(sum((c * self._idf[b]) ** 2 for b, c in bag.items()))
            for rid, bag in self._bags.items()
        }

    def __call__(self, a: Rubric, b: Rubric) -> float:
        bag_a, bag_b = self._bags[a.id], self._bags[b.id]
        dot = sum(bag_a[k] * bag_b[k] * self._idf[k] ** 2 for k in bag_a.keys() & bag_b.keys())
        norm = self._norm[a.id] * self._norm[b.id]
        return dot / norm if norm else 0.0

    def related(self, rubrics: list[Rubric], floor: float) -> tuple[np.ndarray, np.ndarray]:
        """(i, j) of every pair, i < j in rubric order (row-major, as itertools.combinations
        lists them), whose similarity may reach `floor`: all pairs' cosines at once, as one
        matrix product over the bigrams two or more questions share (a bigram of one question
        adds nothing to any pair's dot product). float32 rounding is covered by a margin; the
        caller takes each pair's exact similarity from __call__."""
        n = len(rubrics)
        shared = [b for b, count in self._df.items() if count > 1]
        if n < 2 or not shared:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        column = {b: c for c, b in enumerate(shared)}
        vectors = np.zeros((n, len(shared)), dtype=np.float32)
        for row, r in enumerate(rubrics):
            norm = self._norm[r.id]
            for b, count in self._bags[r.id].items():
                if norm and b in column:
                    vectors[row, column[b]] = count * self._idf[b] / norm
        rows_per_block = max(1, (1 << 22) // n)  # a block of cosines holds at most 4M floats
        found_i, found_j = [], []
        for start in range(0, n, rows_per_block):
            block = vectors[start : start + rows_per_block] @ vectors.T
            rows = np.arange(start, start + len(block))[:, None]
            block[rows >= np.arange(n)[None, :]] = -1.0  # each pair once: j > i only
            first, second = np.nonzero(block >= floor - 1e-3)
            found_i.append(first + start)
            found_j.append(second)
        return np.concatenate(found_i), np.concatenate(found_j)


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------- checks


def _acknowledged(a: Rubric, b: Rubric) -> bool:
    """The curators already linked the pair through duplicate_of."""
    return (
        a.duplicate_of == b.id
        or b.duplicate_of == a.id
        or (a.duplicate_of is not None and a.duplicate_of == b.duplicate_of)
    )


def _check_duplicates(rubrics: list[Rubric], progress: Progress | None = None) -> list[Finding]:
    similarity = _QuestionSimilarity(rubrics)
    findings: list[Finding] = []
    duplicates: dict[str, set[str]] = {r.id: set() for r in rubrics}
    overlaps: list[tuple[Rubric, Rubric, str]] = []
    floor = min(DUPLICATE_MIN_QUESTION, OVERLAP_MIN_QUESTION)
    # Unrelated questions (most pairs) never reach the Python-level checks below.
    first_of, second_of = similarity.related(rubrics, floor)
    points: dict[int, list[_Point]] = {}

    def points_of(i: int) -> list[_Point]:
        if i not in points:
            points[i] = [_Point.of(k) for k in rubrics[i].key_points]
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
            best := _best_match(itertools.product(points_of(i), points_of(j)), KEY_POINT_IDENTICAL)
        ):
            why = (
                f"related question (similarity {q_sim:.2f}) and the same key point "
                f"'{_short(best[1].text)}'"
            )
        else:
            same_label = (
                (k, m) for k, m in itertools.product(points_of(i), points_of(j))
                if k.key_point.label and k.label == m.label
            )  # fmt: skip
            labelled = _best_match(same_label, OVERLAP_KEY_POINT)
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


def _check_rubric(rubric: Rubric, known_ids: set[str]) -> list[Finding]:
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
    for pk, pm in itertools.combinations([_Point.of(k) for k in rubric.key_points], 2):
        k, m = pk.key_point, pm.key_point
        if not (k.text and m.text) or not _best_match([(pk, pm)], KEY_POINT_IDENTICAL):
            continue
        same = "the same text" if fold(k.text) == fold(m.text) else "near-identical texts"
        labels = f" under different labels ('{k.label}', '{m.label}')" if k.label != m.label else ""
        add(
            "warning",
            "repeated-key-point",
            f"key points {k.id} and {m.id} have {same}{labels}: '{_short(k.text, 40)}'",
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
            if k.label and _label_key(k.label) == _label_key(m.label):
                add(
                    "warning",
                    "list-item-explained",
                    f"{k.id} and {m.id} are both '{k.label}': one item split into two key "
                    "points counts twice in a list question",
                )
    return findings


def _check_duplicate_weights(rubrics: list[Rubric]) -> list[Finding]:
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
            match = max(other.key_points, key=lambda m: _ratio(k.text, m.text), default=None)
            if match is None or k.weight == match.weight:
                continue
            same_label = bool(k.label) and _label_key(k.label) == _label_key(match.label)
            if not same_label and _ratio(k.text, match.text) < SHARED_KEY_POINT:
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


def _check_numbers(doc: RubricDocument) -> list[Finding]:
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


def lint(
    rubrics: RubricSet | Iterable[RubricDocument], progress: Progress | None = None
) -> list[Finding]:
    """Every finding for a rubric set, errors first, then in rubric order. `progress`, when
    given, is told how far lint has got (see `Progress`)."""
    documents = rubrics.documents if isinstance(rubrics, RubricSet) else list(rubrics)
    findings: list[Finding] = []
    all_rubrics: list[Rubric] = []
    seen: dict[str, str] = {}
    for doc in documents:
        for r in doc.rubrics:
            if r.id in seen:
                findings.append(
                    Finding(
                        level="error",
                        code="duplicate-id",
                        rubric_id=r.id,
                        message=f"id used in both documents '{seen[r.id]}' and '{doc.document}'",
                    )
                )
                continue
            seen[r.id] = doc.document
            all_rubrics.append(r)
        findings += _check_numbers(doc)
    known = set(seen)
    for done, r in enumerate(all_rubrics, 1):
        if progress:
            progress("checking questions", done, len(all_rubrics))
        findings += _check_rubric(r, known)
    findings += _check_duplicates(all_rubrics, progress)
    findings += _check_duplicate_weights(all_rubrics)
    order = {r.id: i for i, r in enumerate(all_rubrics)}
    return sorted(findings, key=lambda f: (_SEVERITY[f.level], order.get(f.rubric_id or "", -1)))


# ---------------------------------------------------------------------------- files


def _parse(text: str) -> object:
    """The file's YAML; libyaml's C loader when present (10x faster on large files), and on a
    syntax error the Python loader, whose messages the findings have always quoted."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return yaml.load(text, Loader=loader)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def _load_for_lint(path: Path) -> tuple[RubricDocument | None, list[Finding]]:
    try:
        data = _parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        msg = f"cannot read as YAML ({getattr(exc, 'problem', None) or exc})"
        return None, [Finding(level="error", code="unreadable", message=msg, file=str(path))]
    if not isinstance(data, dict):
        msg = "expected a mapping with 'document' and 'rubrics'"
        return None, [Finding(level="error", code="schema", message=msg, file=str(path))]
    try:
        return RubricDocument.model_validate(data), []
    except ValidationError as exc:
        return None, [
            Finding(
                level="error",
                code="schema",
                rubric_id=problem.question,
                message=problem.message,
                file=str(path),
            )
            for problem in schema_problems(data, exc)
        ]


def lint_path(path: str | Path | None = None, progress: Progress | None = None) -> list[Finding]:
    """Lint a rubric file or every *.yaml in a directory (default: the rubric dir in use).
    A file that fails the schema is reported (every error) and left out of the other checks."""
    path = Path(path) if path is not None else default_rubrics_dir()
    paths = rubric_files(path)
    documents: list[RubricDocument] = []
    file_findings: list[Finding] = []
    for done, p in enumerate(paths):
        if progress:
            progress("reading rubric files", done, len(paths))
        doc, problems = _load_for_lint(p)
        file_findings += problems
        if doc is not None:
            documents.append(doc)
    return file_findings + lint(documents, progress)
