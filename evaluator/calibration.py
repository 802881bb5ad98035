"""Per-embedder calibration: how raw cosine similarities become credit. The one place for these numbers.

Raw cosines are bunched (unrelated sentences already score ~0.2-0.4 with most models), so each
embedder gets its own ramp: similarity <= `low` earns nothing, >= `high` earns full credit,
linear in between.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Calibration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float = Field(ge=-1, le=1)
    high: float = Field(ge=-1, le=1)
    # Status boundaries on credit: >= covered -> "covered", >= partial -> "partial", else "missed".
    covered: float = 0.75
    partial: float = 0.3
    # Answer vs (question + reference) similarity below which the answer is off topic,
    # and the most an off-topic answer can score.
    off_topic: float = Field(ge=-1, le=1)
    off_topic_cap: float = 10.0
    # A unit asserts a misconception when its similarity to it is >= `misconception` and
    # beats its best key-point similarity by `misconception_margin` (wrong claims reuse the
    # right words, so only a clear preference for the wrong wording counts).
    misconception: float = Field(ge=-1, le=1)
    misconception_margin: float = 0.05

    def credit(self, similarity: np.ndarray) -> np.ndarray:
        span = max(self.high - self.low, 1e-6)
        return np.clip((np.asarray(similarity, dtype=np.float32) - self.low) / span, 0.0, 1.0)


# Initial values, set by hand from a look at the seed's questions; to be refitted on the
# benchmark dev data by benchmarks/calibrate.py (which prints a replacement for this table).
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
