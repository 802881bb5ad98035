"""Disk cache for rubric-text embeddings (key points, misconceptions, topics).

Keyed by embedder name + sha256 of the text, so editing a rubric re-embeds only what changed.
Answers are not cached here: they are rarely graded twice and would bloat the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluator.cache import open_db, select_in, write_many
from evaluator.scoring.embedding.backends import Embedder

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vectors "
    "(embedder TEXT, digest TEXT, vector BLOB, PRIMARY KEY (embedder, digest))"
)


class CachedEmbedder:
    """Wraps an embedder; `encode` looks texts up in sqlite first and stores what it computes."""

    def __init__(self, embedder: Embedder, path: Path) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None:
            try:
                self._conn = open_db(self.path, _SCHEMA, check_same_thread=False)
            except (OSError, sqlite3.Error):
                return None  # an unwritable cache dir costs speed, never correctness
        return self._conn

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        digests = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            conn = self._connect()
            if conn is not None and digests:
                try:
                    rows = select_in(
                        conn,
                        "SELECT digest, vector FROM vectors WHERE embedder=? AND digest IN ({marks})",
                        [self.name],
                        sorted(set(digests)),
                    )
                    found.update((d, np.frombuffer(v, dtype=np.float32)) for d, v in rows)
                except sqlite3.Error:
                    pass  # a locked or damaged cache means computing the vectors again
        missing = sorted(
            {d: t for d, t in zip(digests, texts, strict=True) if d not in found}.items()
        )
        if missing:
            vectors = self.inner.encode([t for _, t in missing])
            found.update((d, v) for (d, _), v in zip(missing, vectors, strict=True))
            with self._lock:
                conn = self._connect()
                if conn is not None:
                    rows = [
                        (self.name, d, found[d].astype(np.float32).tobytes()) for d, _ in missing
                    ]
                    with contextlib.suppress(sqlite3.Error):
                        write_many(conn, "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
        if not texts:
            return self.inner.encode([])
        return np.stack([found[d] for d in digests]).astype(np.float32)
