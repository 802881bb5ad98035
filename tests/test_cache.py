"""The sqlite helper behind every cache: fresh files opened by racing processes stay usable."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from evaluator.cache import is_contention, open_db, select_in, write_many

SCHEMA = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v TEXT)"

RACER = """
import sys
from pathlib import Path
from evaluator.cache import open_db, write_many
tag = sys.argv[2]
for n in range(int(sys.argv[3])):
    conn = open_db(Path(sys.argv[1]) / f"{n}.sqlite3", sys.argv[4])
    write_many(conn, "INSERT OR REPLACE INTO t VALUES (?, ?)", [(f"{tag}{i}", tag) for i in range(20)])
    conn.close()
"""


def test_fresh_files_opened_by_racing_processes(tmp_path):
    # Without the retry in open_db, two processes switching one new file to WAL at the
    # same moment fail with "database is locked" a few times in a hundred.
    files = 30
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path), tag, str(files), SCHEMA],
            stderr=subprocess.PIPE,
        )
        for tag in "abc"
    ]
    errors = [p.communicate(timeout=300)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    for n in range(files):
        conn = open_db(tmp_path / f"{n}.sqlite3", SCHEMA)
        rows = select_in(
            conn,
            "SELECT k FROM t WHERE k IN ({marks})",
            [],
            [f"{t}{i}" for t in "abc" for i in range(20)],
        )
        assert len(rows) == 60


def test_select_in_crosses_the_bound_parameter_limit(tmp_path):
    conn = open_db(tmp_path / "big.sqlite3", SCHEMA)
    keys = [f"k{i}" for i in range(1234)]
    write_many(conn, "INSERT INTO t VALUES (?, ?)", [(k, "v") for k in keys])
    rows = select_in(conn, "SELECT k FROM t WHERE v = ? AND k IN ({marks})", ["v"], keys)
    assert sorted(k for (k,) in rows) == sorted(keys)


def test_write_many_is_one_transaction(tmp_path):
    conn = open_db(tmp_path / "tx.sqlite3", SCHEMA)
    with pytest.raises(sqlite3.IntegrityError):
        write_many(conn, "INSERT INTO t VALUES (?, ?)", [("a", "1"), ("a", "2")])
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert not conn.in_transaction


def test_contention_is_told_apart_from_damage():
    assert is_contention(sqlite3.OperationalError("database is locked"))
    assert not is_contention(sqlite3.DatabaseError("file is not a database"))
