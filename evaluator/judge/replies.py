"""On-disk cache of validated judge replies (the one sqlite cache, evaluator.kvstore).

Only successful, validated replies are stored: errors are never cached. The key is built by
`evaluator.kvstore.cache_key` from everything that shapes a reply (model, base URL without credentials, prompt
version, rubric hash, answer, generation parameters); no API key ever reaches this file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from evaluator.kvstore import SqliteCache

CACHE_FILE = "judge.sqlite3"


@dataclass(frozen=True)
class CachedReply:
    reply: str  # the validated reply as JSON
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float


class JudgeCache:
    """Validated replies by key; failures follow evaluator.kvstore's one policy."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / CACHE_FILE
        self.store = SqliteCache(self.path, "replies_v2")

    def get(self, key: str) -> CachedReply | None:
        raw = self.store.get(key)
        if raw is None:
            return None
        try:
            return CachedReply(**json.loads(raw))
        except (ValueError, TypeError):  # written by another version: ask the judge again
            return None

    def put(self, key: str, value: CachedReply) -> None:
        self.store.put(key, json.dumps(asdict(value)).encode())

    def close(self) -> None:
        self.store.close()
