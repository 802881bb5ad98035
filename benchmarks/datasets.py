"""Shared by the agreement benchmarks: the human-graded dev sets, question folds, a memoising
embedder and the naive whole-answer baseline.

The data stays in ../shared/benchmarks (read by path, never copied into the project).
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
DATA = PROJECT.parent / "shared" / "benchmarks"
DATASETS = ("mohler", "ads-dev")
EMBEDDERS = ("use-multilingual", "sentence-transformers:all-MiniLM-L6-v2", "hashing")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(PROJECT))

from evaluator.quality.agreement import AgreementRow, read_rows  # noqa: E402
from evaluator.scoring.embedding.backends import Embedder, get_embedder  # noqa: E402


def load(name: str, data: Path = DATA) -> list[AgreementRow]:
    return read_rows(data / f"{name}.csv")


def question_folds(rows: Sequence[AgreementRow], k: int, seed: int = 0) -> np.ndarray:
    """Fold number (0..k-1) per row; every question's rows share a fold (seeded shuffle)."""
    questions = sorted({r.question_id or r.question for r in rows})
    order = np.random.RandomState(seed).permutation(len(questions))
    fold_of = {questions[i]: j % k for j, i in enumerate(order)}
    return np.array([fold_of[r.question_id or r.question] for r in rows])


class MemoEmbedder:
    """Remembers every vector it computed, so repeated grading passes embed each text once.

    With `path`, the vectors also persist between runs (our own pickle under .cache/).
    """

    def __init__(self, inner: Embedder, path: Path | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.path = path
        self._memo: dict[str, np.ndarray] = {}
        if path is not None and path.is_file():
            with path.open("rb") as fh:
                self._memo = pickle.load(fh)

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("wb") as fh:
                pickle.dump(self._memo, fh, protocol=5)
            tmp.replace(self.path)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            self._memo.update(zip(missing, self.inner.encode(missing), strict=True))
        if not texts:
            return self.inner.encode([])
        return np.stack([self._memo[t] for t in texts])


def memo_embedder(name: str, persist: bool = False) -> MemoEmbedder:
    """`persist`: keep the vectors in .cache/benchmarks/ for the next run."""
    slug = "".join(c if c.isalnum() or c in "-." else "_" for c in name)
    path = PROJECT / ".cache" / "benchmarks" / f"vectors-{slug}.pickle" if persist else None
    return MemoEmbedder(get_embedder(name), path)


def naive_cosines(embedder: Embedder, rows: Sequence[AgreementRow]) -> np.ndarray:
    """The baseline: cosine of the whole answer with the whole reference answer, no rubric."""
    from evaluator.scoring.encode import TOPIC_CHARS
    from evaluator.text import normalise

    answers = [normalise(r.answer)[:TOPIC_CHARS] for r in rows]
    references = [r.reference_answer[:TOPIC_CHARS] for r in rows]
    a, b = embedder.encode(answers), embedder.encode(references)
    return np.einsum("ij,ij->i", a, b)
