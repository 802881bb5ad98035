"""On-disk cache of validated judge replies (sqlite, WAL, safe across threads and processes).

Only successful, validated replies are stored: errors are never cached. The key is a sha256
of everything that shapes a reply (model, base URL without credentials, prompt version,
rubric hash, answer, generation parameters); no API key ever reaches this file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evaluator.cache import is_contention, open_db

log = logging.getLogger(__name__)

CACHE_FILE = "judge.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS judge_replies (
    key TEXT PRIMARY KEY,
    reply TEXT NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_ms REAL NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(parts: Mapping[str, object]) -> str:
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class CachedReply:
    reply: str  # the validated reply as JSON
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float


class JudgeCache:
    """One sqlite connection per thread (sqlite connections must not cross threads)."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / CACHE_FILE
        self._local = threading.local()
        self._broken = False  # a cache that cannot be used is skipped, never fatal

    def _connection(self) -> sqlite3.Connection | None:
        if self._broken:
            return None
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = open_db(self.path, _SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                self._disable(exc)
                return None
            self._local.conn = conn
        return conn

    def _disable(self, exc: Exception) -> None:
        if not self._broken:
            log.warning("judge cache %s unusable, continuing without it: %s", self.path, exc)
        self._broken = True

    def _failed(self, action: str, exc: sqlite3.Error) -> None:
        # Contention with another process (past the 30 s busy timeout) costs one lookup or
        # one store; anything else (corrupt file, read-only disk) switches the cache off.
        if is_contention(exc):
            log.info("judge cache %s busy, %s skipped: %s", self.path, action, exc)
        else:
            self._disable(exc)

    def get(self, key: str) -> CachedReply | None:
        conn = self._connection()
        if conn is None:
            return None
        try:
            rows = conn.execute(
                "SELECT reply, prompt_tokens, completion_tokens, latency_ms"
                " FROM judge_replies WHERE key = ?",
                (key,),
            ).fetchall()  # fetchall ends the read, releasing the snapshot
        except sqlite3.Error as exc:
            self._failed("lookup", exc)
            return None
        return CachedReply(*rows[0]) if rows else None

    def put(self, key: str, value: CachedReply) -> None:
        conn = self._connection()
        if conn is None:
            return
        try:
            conn.execute(
                "INSERT OR REPLACE INTO judge_replies VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key,
                    value.reply,
                    value.prompt_tokens,
                    value.completion_tokens,
                    value.latency_ms,
                    time.time(),
                ),
            )
        except sqlite3.Error as exc:
            self._failed("store", exc)

    def close(self) -> None:
        """Closes this thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
