"""Disk cache for rubric-text embeddings (key points, misconceptions, topics).

Keyed by embedder name + sha256 of the text, so editing a rubric re-embeds only what changed.
Answers are not cached here: they are rarely graded twice and would bloat the file.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .embedding import Embedder


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
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS vectors "
                    "(embedder TEXT, digest TEXT, vector BLOB, PRIMARY KEY (embedder, digest))"
                )
                self._conn = conn
            except (OSError, sqlite3.Error):
                return None  # an unwritable cache dir costs speed, never correctness
        return self._conn

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        digests = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            conn = self._connect()
            if conn is not None and digests:
                unique = sorted(set(digests))
                for start in range(0, len(unique), 500):
                    chunk = unique[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows = conn.execute(
                        f"SELECT digest, vector FROM vectors WHERE embedder=? AND digest IN ({marks})",
                        [self.name, *chunk],
                    )
                    found.update((d, np.frombuffer(v, dtype=np.float32)) for d, v in rows)
        missing = sorted(
            {d: t for d, t in zip(digests, texts, strict=True) if d not in found}.items()
        )
        if missing:
            vectors = self.inner.encode([t for _, t in missing])
            found.update((d, v) for (d, _), v in zip(missing, vectors, strict=True))
            with self._lock:
                conn = self._connect()
                if conn is not None:
                    try:
                        conn.executemany(
                            "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                            [
                                (self.name, d, found[d].astype(np.float32).tobytes())
                                for d, _ in missing
                            ],
                        )
                        conn.commit()
                    except sqlite3.Error:
                        pass
        if not texts:
            return self.inner.encode([])
        return np.stack([found[d] for d in digests]).astype(np.float32)
