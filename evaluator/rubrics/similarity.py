"""How alike two questions, or two key points, are: what lint's duplicate search measures.

- question similarity: cosine of character bigrams of title + question, weighted by inverse
  document frequency over the rubric set, so template phrases count little and the subject
  words count a lot;
- key point similarity: difflib's ratio of the two folded texts.

Both stay near-linear in the number of questions: the question similarity of every pair is one
matrix product (numpy), giving the pairs worth a closer look (`QuestionSimilarity.related`); and
`best_match` runs difflib only on key point pairs whose cheap upper bound could reach the
threshold, so it finds exactly what comparing every pair finds. duplicates.py decides what the
numbers mean; checks.py uses the key point measures within one rubric.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from evaluator.rubrics.model import KeyPoint, Rubric
from evaluator.text import fold

__all__ = ["KeyPointText", "QuestionSimilarity", "best_match", "label_key", "ratio"]


def label_key(label: str) -> str:
    """A label without its parenthetical gloss: "数据增强（Data Augmentation）" → "数据增强"."""
    return fold(re.sub(r"[（(][^）)]*[）)]", "", label))


def _bigrams(text: str) -> Counter[str]:
    folded = fold(text)
    return Counter(folded[i : i + 2] for i in range(len(folded) - 1))


def ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, fold(a), fold(b)).ratio()


@dataclass(frozen=True)
class KeyPointText:
    """A key point as the text comparisons see it, folded once per lint rather than per pair."""

    key_point: KeyPoint
    folded: str
    # Each character with its occurrence number ("a" twice: (a, 0), (a, 1)), so that a set
    # intersection (in C) counts the characters two texts share with multiplicity.
    chars: frozenset[tuple[str, int]]
    label: str  # label_key of its label

    @classmethod
    def of(cls, k: KeyPoint) -> KeyPointText:
        folded = fold(k.text)
        chars = frozenset((c, i) for c, n in Counter(folded).items() for i in range(n))
        return cls(k, folded, chars, label_key(k.label))


def _ratio_bound(a: KeyPointText, b: KeyPointText) -> float:
    """An upper bound of `ratio` (difflib's quick_ratio): what the two texts share, counting
    characters with multiplicity and ignoring their order."""
    total = len(a.folded) + len(b.folded)
    if not total:
        return 1.0  # difflib's ratio of two empty strings
    return 2.0 * len(a.chars & b.chars) / total


def best_match(
    pairs: Iterable[tuple[KeyPointText, KeyPointText]], floor: float
) -> tuple[float, KeyPoint, KeyPoint] | None:
    """The pair of highest `ratio` (the first of equals, in the order of `pairs`) when that
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
    best: tuple[float, int, KeyPointText, KeyPointText] | None = None
    for bound, order, a, b in hopeful:
        if best is not None and bound < best[0]:
            break
        ratio = difflib.SequenceMatcher(None, a.folded, b.folded).ratio()
        if ratio >= floor and (
            best is None or ratio > best[0] or (ratio == best[0] and order < best[1])
        ):
            best = (ratio, order, a, b)
    return (best[0], best[2].key_point, best[3].key_point) if best else None


class QuestionSimilarity:
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
