"""The one on-disk cache: a key → bytes table in a sqlite file, shared by threads and processes,
and the one cache-key builder. Embeddings, judge replies and check grades all use it.

Failure policy, the same for every cache: a cache only ever saves time, so it never changes a
result and never stops work.
- A cache that cannot be opened or is damaged (unwritable folder, corrupt file) is switched
  off for the rest of the run, with one warning (`SqliteCache.warning`, collected for
  `drain_warnings`) that the command line prints once at the end of the command: users
  should know why a run is slower, but nothing fails.
- Contention (another process holding the write lock past the busy timeout) skips that one
  lookup or store silently: it is normal under parallel pre-commit hooks and batches.

Connections are in autocommit mode, so no statement leaves a read snapshot open that a later
write would have to upgrade (SQLite refuses that upgrade at once with "database is locked",
without waiting on the busy timeout).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

# Warnings of caches switched off in this process, for the CLI to print once.
_warnings: list[str] = []

BUSY_TIMEOUT_S = 30
_SETUP_ATTEMPTS = 40  # about 16 s of waiting in all


def open_db(path: Path, schema: str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Connects, switches the file to WAL and creates `schema`; raises OSError / sqlite3.Error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=check_same_thread
    )
    # A journal-mode switch or WAL recovery racing with another process fails at once,
    # bypassing the busy timeout, so the waiting is done here.
    for attempt in range(_SETUP_ATTEMPTS):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(schema)
            return conn
        except sqlite3.OperationalError as exc:
            if not is_contention(exc) or attempt == _SETUP_ATTEMPTS - 1:
                conn.close()
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


def select_in(
    conn: sqlite3.Connection, sql: str, fixed: Sequence[object], keys: Sequence[str]
) -> list[tuple]:
    """Runs `sql` (ending in `IN ({marks})`) over `keys` in chunks below SQLite's bound limit."""
    rows: list[tuple] = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows += conn.execute(sql.format(marks=marks), [*fixed, *chunk]).fetchall()
    return rows


def write_many(conn: sqlite3.Connection, sql: str, rows: Iterable[Sequence[object]]) -> None:
    """One transaction; BEGIN IMMEDIATE takes the write lock up front, under the busy timeout."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(sql, rows)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def is_contention(exc: sqlite3.Error) -> bool:
    """True for "database is locked" / "busy": another process, not a broken file."""
    message = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message)


def cache_key(*parts: object) -> str:
    """sha256 of `parts` as canonical JSON: the key of every cache entry.

    Mappings are sorted by key; other objects (paths, enums) are written as str."""
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def drain_warnings() -> list[str]:
    """The warnings of caches switched off since the last call (each told once)."""
    told = list(_warnings)
    _warnings.clear()
    return told


class SqliteCache:
    """Key → bytes in one table of a sqlite file; see the module docstring for what fails how.

    One connection shared by the threads of a process, behind a lock: each call is a single
    short statement, so the lock costs nothing next to the work a cache hit saves. `limit`
    keeps only the newest entries (rowids grow with every insert and replace)."""

    def __init__(self, path: Path | None, table: str, *, limit: int | None = None) -> None:
        self.path = path
        self.table = table
        self.limit = limit
        self.warning: str | None = None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._opened = path is None  # no path: a cache that is off from the start

    def _connection(self) -> sqlite3.Connection | None:
        if not self._opened:
            self._opened = True
            assert self.path is not None
            schema = f"CREATE TABLE IF NOT EXISTS {self.table} (key TEXT PRIMARY KEY, value BLOB)"
            try:
                self._conn = open_db(self.path, schema, check_same_thread=False)
            except (OSError, sqlite3.Error) as exc:
                self._switch_off(exc)
        return self._conn

    def _switch_off(self, exc: Exception) -> None:
        if self.warning is None:
            self.warning = f"cache {self.path} unusable ({exc}); continuing without it"
            _warnings.append(self.warning)
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def _failed(self, exc: sqlite3.Error) -> None:
        if not is_contention(exc):
            self._switch_off(exc)

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(set(keys))
        with self._lock:
            conn = self._connection()
            if conn is None or not wanted:
                return {}
            sql = f"SELECT key, value FROM {self.table} WHERE key IN ({{marks}})"
            try:
                return {key: bytes(value) for key, value in select_in(conn, sql, [], wanted)}
            except sqlite3.Error as exc:
                self._failed(exc)
                return {}

    def get(self, key: str) -> bytes | None:
        return self.get_many([key]).get(key)

    def put_many(self, items: Mapping[str, bytes]) -> None:
        with self._lock:
            conn = self._connection()
            if conn is None or not items:
                return
            try:
                write_many(
                    conn, f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?)", items.items()
                )
                if self.limit is not None:
                    conn.execute(
                        f"DELETE FROM {self.table} WHERE rowid <= "
                        f"(SELECT max(rowid) FROM {self.table}) - ?",
                        (self.limit,),
                    )
            except sqlite3.Error as exc:
                self._failed(exc)

    def put(self, key: str, value: bytes) -> None:
        self.put_many({key: value})

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
