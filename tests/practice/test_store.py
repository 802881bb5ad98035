"""The practice history: attempts round-trip, survive kill -9, and a damaged or foreign file is
reported in one line and never overwritten."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from evaluator.practice.schedule import make_scheduler
from evaluator.practice.session import Session
from evaluator.practice.store import History, HistoryError
from evaluator.rubrics.lookup import RubricSet
from tests.helpers import REPO, T0, Clock, fake_grade


def test_attempts_round_trip(history: History, rubric_set: RubricSet, clock: Clock) -> None:
    session = Session(history, list(rubric_set), scheduler=make_scheduler(), clock=clock)
    q7 = rubric_set.find(7)
    grade = fake_grade(q7, 62.5, ("scale-shift",))
    session.record(session.item(q7), "批量归一化……\n第二行", grade)
    clock.step(minutes=5)
    session.record(session.item(q7), "again", fake_grade(q7, 90))

    reopened = History(history.path)
    attempts = reopened.attempts()
    assert [a.score for a in attempts] == [62.5, 90]
    first = attempts[0]
    assert first.at == T0 and first.answer == "批量归一化……\n第二行"
    assert first.grade == grade and first.method == "embedding" and first.rating == 2
    assert first.rubric_hash == q7.content_hash()
    assert reopened.latest()[q7.id].score == 90 and reopened.count() == 2
    reopened.close()


def test_a_new_history_lands_in_missing_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "history.sqlite3"
    History(path).close()
    assert path.exists()


def test_garbage_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"not a database at all\n" * 100)
    before = path.read_bytes()
    with pytest.raises(HistoryError, match=r"not a readable practice history.*--reset-history"):
        History(path)
    assert path.read_bytes() == before


def test_another_programs_database_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="other tables"):
        History(path)
    assert path.read_bytes() == before


def test_a_truncated_file_is_reported(
    history: History, rubric_set: RubricSet, clock: Clock
) -> None:
    session = Session(history, list(rubric_set), scheduler=make_scheduler(), clock=clock)
    for n in (3, 7, 8, 11):
        session.record(
            session.item(rubric_set.find(n)), "x" * 5000, fake_grade(rubric_set.find(n), 50)
        )
    history.close()
    for side in ("-wal", "-shm"):
        Path(f"{history.path}{side}").unlink(missing_ok=True)
    data = history.path.read_bytes()
    history.path.write_bytes(data[:4096] + b"\x00" * 100 + data[4196 : len(data) // 2])
    with pytest.raises(HistoryError):
        History(history.path).attempts()


def test_reset_moves_the_file_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"garbage")
    backup = History.reset(path, T0)
    assert backup is not None and backup.read_bytes() == b"garbage"
    assert backup.name == "history.sqlite3.20261201T090000Z.bak"
    assert not path.exists()
    History(path).close()  # a fresh one opens
    assert History.reset(tmp_path / "none.sqlite3", T0) is None


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    History(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(HistoryError, match="newer version"):
        History(path)


# A child process that practises forever, printing each attempt's number once it is stored.
_CHILD = """
import sys
from datetime import timedelta
from evaluator.rubrics.io import load_rubrics
from evaluator.practice.schedule import make_scheduler
from evaluator.practice.session import Session
from evaluator.practice.store import History
from pathlib import Path
from tests.helpers import Clock, fake_grade

rubrics = list(load_rubrics(sys.argv[1]))
clock = Clock()
session = Session(History(Path(sys.argv[2])), rubrics, scheduler=make_scheduler(), clock=clock)
n = 0
while True:
    rubric = rubrics[n % len(rubrics)]
    session.record(session.item(rubric), "答案" * 200 + str(n), fake_grade(rubric, n % 101))
    n += 1
    print(n, flush=True)
    clock.step(minutes=1)
"""


def test_kill_9_mid_session_loses_no_committed_attempt(rubrics_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(rubrics_dir), str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    reported = 0
    deadline = time.monotonic() + 60
    while reported < 40 and time.monotonic() < deadline:
        line = child.stdout.readline()
        assert line, "the child process stopped"
        reported = int(line)
    child.send_signal(signal.SIGKILL)  # mid-write of later attempts, most likely
    child.wait()
    assert child.returncode == -signal.SIGKILL and reported >= 40

    reopened = History(path)
    attempts = reopened.attempts()
    assert len(attempts) >= reported  # every reported attempt was committed
    assert [a.answer[-len(str(i)) :] for i, a in enumerate(attempts)] == [
        str(i) for i in range(len(attempts))
    ]
    assert attempts[-1].at - attempts[0].at == timedelta(minutes=len(attempts) - 1)
    reopened.close()
