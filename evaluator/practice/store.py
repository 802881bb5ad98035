"""The practice history: every attempt, in a sqlite file that outlives crashes.

One row per attempt, written in its own transaction and committed before the next question is
shown, so a crash or `kill -9` loses at most the answer being graded. The row carries what the
schedule needs (the card after the review, its due time) and what progress shows (score,
method, the whole Grade), plus the rubric's content hash: an attempt made against an earlier
version of a rubric stays in the history but never schedules the edited one.

The file is the user's: it is never deleted, rewritten or migrated silently. A file that is not
a readable practice history is reported in one line and left alone; `reset` moves it aside to a
timestamped backup first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, ValidationError

from evaluator.errors import EvaluatorError
from evaluator.kvstore import open_db, write_many
from evaluator.result import Grade, Method

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    question_id TEXT NOT NULL,
    rubric_hash TEXT NOT NULL,
    answer TEXT NOT NULL,
    score REAL NOT NULL,
    method TEXT NOT NULL,
    rating INTEGER NOT NULL,
    card TEXT NOT NULL,
    due TEXT NOT NULL,
    grade TEXT NOT NULL
)"""
_COLUMNS = "id, at, question_id, rubric_hash, answer, score, method, rating, card, due, grade"


class HistoryError(EvaluatorError):
    """The history file cannot be used (not a practice history, damaged, or newer)."""


def default_path() -> Path:
    return Path(user_data_dir("answer-evaluator")) / "practice.sqlite3"


class Attempt(BaseModel):
    """One answered question: when, against which rubric version, what was said, how it graded
    and when fsrs wants it again."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    at: datetime
    question_id: str
    rubric_hash: str
    answer: str
    score: float
    method: Method
    rating: int  # fsrs Rating: 1 again, 2 hard, 3 good, 4 easy
    card: str  # fsrs Card.to_json() after this review
    due: datetime
    grade: Grade


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class History:
    """The attempts table of one sqlite file (WAL, synchronous=FULL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._conn = self._open(path)
        except sqlite3.DatabaseError as exc:
            raise HistoryError(
                f"{path}: not a readable practice history ({exc}); it was left as it is. "
                "Run again with --reset-history to move it aside (a timestamped backup) and "
                "start a fresh history"
            ) from None
        except OSError as exc:
            raise HistoryError(f"{path}: cannot open the practice history ({exc})") from None

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        if path.exists() and path.stat().st_size:
            _check_is_history(path)  # before open_db adds a table to someone else's database
        conn = open_db(path, _SCHEMA)
        try:
            conn.execute("PRAGMA synchronous=FULL")  # a committed attempt survives power loss
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"{path}: written by a newer version of evaluator (history schema "
                    f"{version}); upgrade to use it"
                )
            if version == 0:
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            columns = {row[1] for row in conn.execute("PRAGMA table_info(attempts)")}
            if columns != set(_COLUMNS.split(", ")):
                raise sqlite3.DatabaseError("its attempts table is not a practice history's")
            ok = conn.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {ok}")
        except BaseException:
            conn.close()
            raise
        return conn

    @classmethod
    def reset(cls, path: Path, now: datetime) -> Path | None:
        """Move the file at `path` (and its WAL files) aside; returns the backup's path."""
        if not path.exists():
            return None
        backup = path.with_name(f"{path.name}.{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.bak")
        for suffix in ("", "-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                side.rename(Path(f"{backup}{suffix}"))
        return backup

    def add(self, attempt: Attempt) -> None:
        """Store `attempt` in one transaction, committed when this returns."""
        values = (
            _iso(attempt.at),
            attempt.question_id,
            attempt.rubric_hash,
            attempt.answer,
            attempt.score,
            attempt.method,
            attempt.rating,
            attempt.card,
            _iso(attempt.due),
            attempt.grade.model_dump_json(),
        )
        sql = f"INSERT INTO attempts ({_COLUMNS}) VALUES (NULL, {', '.join('?' * 10)})"
        write_many(self._conn, sql, [values])

    def attempts(self) -> list[Attempt]:
        """Every attempt, oldest first."""
        return list(self._rows("SELECT {} FROM attempts ORDER BY id"))

    def latest(self) -> dict[str, Attempt]:
        """Each question's most recent attempt."""
        sql = (
            "SELECT {} FROM attempts WHERE id IN "
            "(SELECT max(id) FROM attempts GROUP BY question_id)"
        )
        return {a.question_id: a for a in self._rows(sql)}

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM attempts").fetchone()[0])

    def _rows(self, sql: str) -> Iterator[Attempt]:
        try:
            rows = self._conn.execute(sql.format(_COLUMNS)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: cannot read the practice history ({exc})") from None
        for row in rows:
            data = dict(zip(_COLUMNS.split(", "), row, strict=True))
            try:
                data["grade"] = Grade.model_validate_json(data["grade"])
                yield Attempt.model_validate(data)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise HistoryError(
                    f"{self.path}: attempt {data['id']} is damaged ({first['msg']}); "
                    "--reset-history moves the file aside and starts afresh"
                ) from None

    def close(self) -> None:
        self._conn.close()


def _check_is_history(path: Path) -> None:
    """Raises sqlite3.DatabaseError unless `path` is a sqlite file whose tables are ours."""
    with path.open("rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise sqlite3.DatabaseError("file is not a database")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    finally:
        conn.close()
    if tables - {"attempts"}:
        raise sqlite3.DatabaseError(f"it holds other tables ({', '.join(sorted(tables))})")
