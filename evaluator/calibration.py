"""Per-embedder calibration: how similarities and word overlap become credit. The one place for
these numbers.

A key point's evidence is combined into one number

    z = similarity + lexical · recall + reference_lexical · reference_recall + length · shortness

(similarity: best unit/window cosine after removing the question's direction; recall: share of
the key point's content tokens in the answer; reference_recall: the same for the whole
reference; shortness: log(answer length / reference length), capped at 0), and a ramp turns z
into credit: z <= `low` earns nothing, z >= `high` full credit, linear in between. Raw cosines
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
    reference_lexical: float = 0.0
    length: float = 0.0
    # Status boundaries on credit: >= covered -> "covered", >= partial -> "partial", else "missed".
    covered: float = Field(default=0.75, ge=0, le=1)
    partial: float = Field(default=0.3, ge=0, le=1)
    # Answer vs (question + reference) similarity below which the answer is off topic,
    # and the most an off-topic answer can score.
    off_topic: float = Field(ge=-1, le=1)
    off_topic_cap: float = 10.0
    # A unit asserts a misconception when its similarity to it is >= `misconception` and
    # beats its best key-point similarity by `misconception_margin` (wrong claims reuse the
    # right words, so only a clear preference for the wrong wording counts).
    misconception: float = Field(ge=-1, le=1)
    misconception_margin: float = 0.05

    def evidence(
        self,
        similarity: np.ndarray,
        lexical: np.ndarray | float = 0.0,
        reference_lexical: float = 0.0,
        length: float = 0.0,
    ) -> np.ndarray:
        """z: the similarity plus the weighted lexical and length terms."""
        return (
            np.asarray(similarity, dtype=np.float32)
            + self.lexical * np.asarray(lexical, dtype=np.float32)
            + self.reference_lexical * reference_lexical
            + self.length * length
        ).astype(np.float32)

    def credit(
        self,
        similarity: np.ndarray,
        lexical: np.ndarray | float = 0.0,
        reference_lexical: float = 0.0,
        length: float = 0.0,
    ) -> np.ndarray:
        z = self.evidence(similarity, lexical, reference_lexical, length)
        span = max(self.high - self.low, 1e-6)
        return np.clip((z - self.low) / span, 0.0, 1.0).astype(np.float32)


# Initial values, set by hand; replaced by the output of benchmarks/calibrate.py.
CALIBRATIONS: dict[str, Calibration] = {
    "use-multilingual": Calibration(low=0.35, high=0.75, off_topic=0.25, misconception=0.7),
    "hashing": Calibration(low=0.15, high=0.6, off_topic=0.05, misconception=0.6),
    "sentence-transformers:all-MiniLM-L6-v2": Calibration(
        low=0.3, high=0.75, off_topic=0.15, misconception=0.7
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
