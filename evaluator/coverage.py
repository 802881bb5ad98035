"""Key-point coverage from embeddings: pure numpy, no I/O.

Each key point is matched against every answer unit and every window of adjacent units; its
best match gives a similarity, which the embedder's calibration turns into credit in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calibration import Calibration


@dataclass(frozen=True)
class Match:
    """Best candidate (index into the candidate list) for each row of a query matrix."""

    index: np.ndarray  # (k,) int
    similarity: np.ndarray  # (k,) float32


def best_matches(queries: np.ndarray, candidates: np.ndarray) -> Match:
    """Rows are L2-normalised, so the dot product is the cosine similarity."""
    if len(queries) == 0 or len(candidates) == 0:
        return Match(np.zeros(len(queries), dtype=int), np.zeros(len(queries), dtype=np.float32))
    sims = queries @ candidates.T
    index = sims.argmax(axis=1)
    return Match(index, sims[np.arange(len(queries)), index].astype(np.float32))


def weighted_score(weights: np.ndarray, credits: np.ndarray) -> float:
    """100 × Σ wₖcₖ / Σ wₖ."""
    total = float(np.sum(weights))
    return 0.0 if total <= 0 else 100.0 * float(np.dot(weights, credits)) / total


@dataclass(frozen=True)
class MisconceptionMatch:
    index: int  # which misconception
    unit: int  # which unit asserts it
    similarity: float


def misconception_matches(
    misconceptions: np.ndarray,
    units: np.ndarray,
    key_points: np.ndarray,
    calibration: Calibration,
) -> list[MisconceptionMatch]:
    """Misconceptions some unit states more closely than it states any key point."""
    if len(misconceptions) == 0 or len(units) == 0:
        return []
    mis_sims = misconceptions @ units.T  # (m, u)
    kp_best = (key_points @ units.T).max(axis=0) if len(key_points) else np.zeros(len(units))
    hits = []
    for m, row in enumerate(mis_sims):
        u = int(row.argmax())
        sim = float(row[u])
        if (
            sim >= calibration.misconception
            and sim - kp_best[u] >= calibration.misconception_margin
        ):
            hits.append(MisconceptionMatch(m, u, sim))
    return hits


def topicality(answer: np.ndarray, topic: np.ndarray) -> float:
    """Similarity of the whole answer to the question + reference answer."""
    return float(answer @ topic)
