"""Per-embedder calibration: how similarities and word overlap become credit. The one place for
these numbers.

A key point's evidence is combined into one number

    z = similarity + lexical · recall + length · shortness

(similarity: best unit/window cosine after removing the question's direction; recall: share of
the key point's content tokens in the answer, question words left out; shortness: log(answer
length / length of the key points), capped at 0), and a ramp turns z into credit: z <= `low` earns nothing, z >= `high` full credit, linear in between. Raw cosines
are bunched and differ per model, so every embedder has its own numbers, fitted to human grades
by benchmarks/calibrate.py.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Calibration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float = Field(ge=-10, le=10)
    high: float = Field(ge=-10, le=10)
    lexical: float = 0.0
    length: float = 0.0
    # Status boundaries on credit: >= covered -> "covered", >= partial -> "partial", else "missed".
    covered: float = Field(default=0.75, ge=0, le=1)
    partial: float = Field(default=0.3, ge=0, le=1)
    # Answer vs (question + reference) similarity below which the answer is off topic,
    # and the most an off-topic answer can score.
    off_topic: float = Field(ge=-1, le=1)
    off_topic_cap: float = 10.0
    # An answer "answers another question" of its rubric set when it is this much closer to
    # that question (+ reference) than to its own question, reference or best key point; None
    # where not measured (the check is off). Set in-sample on ../shared/benchmarks/
    # cases-dev.jsonl and examples/answers.csv (benchmarks/README.md has the figures).
    other_question_margin: float | None = None
    # A unit asserts a misconception when its similarity to it is >= `misconception` and
    # beats its best key-point similarity by `misconception_margin` (wrong claims reuse the
    # right words, so only a clear preference for the wrong wording counts).
    misconception: float = Field(ge=-1, le=1)
    misconception_margin: float = 0.05
    # A clause (a comma-separated piece of a sentence) is short and matches loosely, so it must
    # come this much closer still (set by hand on examples/answers.csv: catches the wrong claims
    # buried in long sentences without flagging the good answers).
    misconception_clause_extra: float = 0.1

    def evidence(
        self,
        similarity: np.ndarray,
        lexical: np.ndarray | float = 0.0,
        length: float = 0.0,
    ) -> np.ndarray:
        """z: the similarity plus the weighted lexical and length terms."""
        return (
            np.asarray(similarity, dtype=np.float32)
            + self.lexical * np.asarray(lexical, dtype=np.float32)
            + self.length * length
        ).astype(np.float32)

    def credit(
        self,
        similarity: np.ndarray,
        lexical: np.ndarray | float = 0.0,
        length: float = 0.0,
    ) -> np.ndarray:
        z = self.evidence(similarity, lexical, length)
        span = max(self.high - self.low, 1e-6)
        return np.clip((z - self.low) / span, 0.0, 1.0).astype(np.float32)


# Fitted 2026-11-29 by `nice .venv/bin/python benchmarks/calibrate.py --keep-vectors` (5 folds,
# seed 0) on ../shared/benchmarks/mohler.csv (English, 2,273 answers) and ads-dev.csv (Chinese,
# 780), both sets together, each weighing the same: least squares of the score on the human
# score, plus answers paired with other questions' rubrics as zero-score negatives (their weight
# chosen by cross-validation). These entries are fitted on all rows; the held-out figures
# (5-fold by question, nested; use-multilingual Pearson 0.602 mohler / 0.679 ads-dev) are in
# benchmarks/README.md. `misconception` thresholds are not fitted (no data): set by hand.
# Rerun the script after any change to text.py, coverage.py or the grader's scoring.
CALIBRATIONS: dict[str, Calibration] = {
    "use-multilingual": Calibration(
        low=-0.4371,
        high=0.9098,
        lexical=0.864,
        length=0.0856,
        covered=0.945,
        partial=0.707,
        off_topic=0.11695,
        other_question_margin=0.15,
        misconception=0.7,
    ),
    "sentence-transformers:all-MiniLM-L6-v2": Calibration(
        low=-1.4953,
        high=1.9183,
        lexical=3.6961,
        length=0.3217,
        covered=0.966,
        partial=0.765,
        off_topic=0.21375,
        misconception=0.7,
    ),
    # The offline stub: character n-grams, so mostly lexical; its off-topic gate is set by hand
    # (FIXED_OFF_TOPIC in benchmarks/calibrate.py says why).
    "hashing": Calibration(
        low=-0.232,
        high=0.7046,
        lexical=1.1329,
        length=0.0476,
        covered=0.999,
        partial=0.671,
        off_topic=0.04995,
        other_question_margin=0.17,
        misconception=0.6,
    ),
}
# Any other sentence-transformers model: a conservative middle ground until calibrated.
FALLBACK = Calibration(low=0.3, high=0.8, off_topic=0.15, misconception=0.75)


def calibration_for(embedder_name: str) -> Calibration:
    if embedder_name in CALIBRATIONS:
        return CALIBRATIONS[embedder_name]
    if embedder_name.startswith("hashing"):
        return CALIBRATIONS["hashing"]
    return FALLBACK
