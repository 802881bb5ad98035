"""Disk cache for embeddings: rubric texts (key points, misconceptions, topics) and answers.

Keyed by embedder name + text, so editing a rubric or an answer re-embeds only what changed. The
encoder is the main cost of grading; a vector is 2 KB (512 float32).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluator.kvstore import SqliteCache, cache_key
from evaluator.scoring.embedding.backends import Embedder


class CachedEmbedder:
    """Wraps an embedder; `encode` looks texts up on disk first and stores what it computes."""

    def __init__(self, embedder: Embedder, path: Path) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.path = path
        self.store = SqliteCache(path, "vectors_v2")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return self.inner.encode([])
        keys = [cache_key(self.name, t) for t in texts]
        found = {
            k: np.frombuffer(v, dtype=np.float32) for k, v in self.store.get_many(keys).items()
        }
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
        if missing:
            vectors = self.inner.encode([t for _, t in missing]).astype(np.float32)
            computed = {k: v for (k, _), v in zip(missing, vectors, strict=True)}
            found.update(computed)
            self.store.put_many({k: v.tobytes() for k, v in computed.items()})
        return np.stack([found[k] for k in keys]).astype(np.float32)
