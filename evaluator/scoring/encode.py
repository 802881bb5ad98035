"""Step 2 of grading: vectors for rubrics and answers, each distinct text encoded once.

The sentence encoder is the main cost of grading, so every text goes through it at most once:
a batch of answers is encoded in one call with repeated texts taken out, rubric vectors are
kept in memory (bounded) once computed, and with the cache on, every vector is kept on disk
(embedding/vectors.py), so a re-run encodes only what changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from evaluator.rubrics.model import Rubric
from evaluator.scoring.embedding.backends import Embedder
from evaluator.scoring.prepare import Prepared
from evaluator.text import embedding_text, examples

TOPIC_CHARS = 4000  # the whole-answer embedding for the off-topic gate reads this much
MAX_RUBRICS = 4096  # rubric vectors kept in memory (oldest dropped first)


@dataclass(frozen=True)
class RubricVectors:
    key_points: np.ndarray
    misconceptions: np.ndarray
    topic: np.ndarray  # question and reference answer, one row each
    # A key point's listed alternatives ("如图像旋转、缩放、随机裁剪" → "图像旋转", …) matched on
    # their own, and the key point each belongs to: an answer that gives one states the point.
    # Items alone, not "label：item": a label often restates the question.
    examples: np.ndarray
    example_of: list[int]


@dataclass(frozen=True)
class AnswerVectors:
    candidates: np.ndarray  # one row per candidate (units first)
    whole: np.ndarray  # the answer as one text (its first TOPIC_CHARS)
    clauses: np.ndarray  # one row per clause


class Encoder:
    """Encodes rubrics and answers with one embedder; thread-unsafe, one per Grader."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._rubrics: dict[str, RubricVectors] = {}

    @property
    def name(self) -> str:
        return self.embedder.name

    def rubric(self, rubric: Rubric) -> RubricVectors:
        self.add_rubrics([rubric])
        return self._rubrics[rubric.content_hash()]

    def add_rubrics(self, rubrics: Iterable[Rubric]) -> None:
        """Vectors for every rubric not seen yet, in one encode call (not one per rubric)."""
        todo = {r.content_hash(): r for r in rubrics}
        todo = {key: r for key, r in todo.items() if key not in self._rubrics}
        if not todo:
            return
        texts: list[str] = []
        owners: dict[str, list[int]] = {}
        for key, r in todo.items():
            texts += [k.text for k in r.key_points] + [m.text for m in r.misconceptions]
            texts += [r.question, r.reference_answer[:TOPIC_CHARS]]
            owners[key] = []
            for i, point in enumerate(r.key_points):
                for item in examples(point.text):
                    texts.append(item)
                    owners[key].append(i)
        matrix = self._encode(texts)
        # Bounded: a CSV of 100k inline references must not keep 100k rubrics' vectors.
        for stale in list(self._rubrics)[: max(0, len(self._rubrics) + len(todo) - MAX_RUBRICS)]:
            del self._rubrics[stale]
        start = 0
        for key, r in todo.items():
            k, m, x = len(r.key_points), len(r.misconceptions), len(owners[key])
            rows = matrix[start : start + k + m + 2 + x]
            self._rubrics[key] = RubricVectors(
                rows[:k], rows[k : k + m], rows[k + m : k + m + 2], rows[k + m + 2 :], owners[key]
            )
            start += k + m + 2 + x

    def answers(self, prepared: Sequence[Prepared]) -> list[AnswerVectors | None]:
        """Per answer, its vectors (None for an empty one), from one encode call; their rubrics'
        vectors too, in one call before it."""
        self.add_rubrics(p.rubric for p in prepared)
        texts: list[str] = []
        for p in prepared:
            if p.units:
                texts += [*p.candidates, p.answer[:TOPIC_CHARS], *p.clauses]
        matrix = self._encode(texts)
        out: list[AnswerVectors | None] = []
        start = 0
        for p in prepared:
            if not p.units:
                out.append(None)
                continue
            n, c = len(p.candidates), len(p.clauses)
            rows = matrix[start : start + n + 1 + c]
            out.append(AnswerVectors(rows[:n], rows[n], rows[n + 1 :]))
            start += n + 1 + c
        return out

    def texts(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors of loose texts (a judge's quotes), in one call."""
        ordered = sorted(set(texts))
        return dict(zip(ordered, self._encode(ordered), strict=True)) if ordered else {}

    def topics(self, rubrics: Sequence[Rubric]) -> list[tuple[Rubric, np.ndarray]]:
        """Each rubric with its topic vectors (question, reference), in one encode call."""
        self.add_rubrics(rubrics)
        return [(r, self._rubrics[r.content_hash()].topic) for r in rubrics]

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        texts = [embedding_text(t) for t in texts]
        # A one-sentence answer is its own only unit; repeated answers repeat every text.
        unique = list(dict.fromkeys(texts))
        if len(unique) == len(texts):
            return self.embedder.encode(texts)
        where = {text: i for i, text in enumerate(unique)}
        return self.embedder.encode(unique)[[where[t] for t in texts]]
