"""Opening the small sqlite files behind the caches, safely shared by threads and processes.

All three caches (embeddings, judge replies, check grades) live in sqlite files that parallel
processes open at once: pre-commit runs hooks in several processes, users run batches side by
side. Connections here are in autocommit mode, so no statement leaves a read snapshot open
that a later write would have to upgrade (SQLite refuses that upgrade at once with "database
is locked", without waiting on the busy timeout).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

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
