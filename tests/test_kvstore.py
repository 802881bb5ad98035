"""The one sqlite cache: fresh files opened by racing threads and processes stay usable, a damaged
or unreachable cache is switched off with one warning, contention skips silently."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from evaluator.kvstore import (
    SqliteCache,
    cache_key,
    drain_warnings,
    is_contention,
    open_db,
    select_in,
    write_many,
)

SCHEMA = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v TEXT)"

RACER = """
import sys
from pathlib import Path
from evaluator.kvstore import open_db, write_many
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


# ---------------------------------------------------------------------------- SqliteCache


def test_cache_round_trip_and_limit(tmp_path):
    cache = SqliteCache(tmp_path / "c.sqlite3", "t", limit=3)
    cache.put_many({f"k{i}": f"v{i}".encode() for i in range(5)})
    assert cache.get("k4") == b"v4"
    assert set(cache.get_many([f"k{i}" for i in range(5)])) == {"k2", "k3", "k4"}
    assert cache.warning is None


def test_a_damaged_cache_is_switched_off_with_one_warning(tmp_path):
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    drain_warnings()
    cache = SqliteCache(path, "t")
    assert cache.get("k") is None  # a miss, not an error
    cache.put("k", b"v")  # dropped, not an error
    assert cache.get("k") is None
    assert cache.warning is not None and "continuing without it" in cache.warning
    assert drain_warnings() == [cache.warning]  # told once
    assert drain_warnings() == []


def test_an_unwritable_folder_is_a_warning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = SqliteCache(blocker / "sub" / "c.sqlite3", "t")
    assert cache.get_many(["a", "b"]) == {}
    assert cache.warning is not None


def test_contention_skips_one_store_silently(tmp_path, monkeypatch):
    cache = SqliteCache(tmp_path / "c.sqlite3", "t")
    cache.put("a", b"1")

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr("evaluator.kvstore.write_many", locked)
    cache.put("b", b"2")
    monkeypatch.undo()
    assert cache.warning is None
    cache.put("c", b"3")
    assert cache.get_many(["a", "b", "c"]) == {"a": b"1", "c": b"3"}


def test_fresh_cache_used_by_many_threads_at_once_loses_nothing(tmp_path):
    # Threads racing to switch a new file to WAL used to see "database is locked".
    for n in range(20):
        cache = SqliteCache(tmp_path / f"{n}.sqlite3", "t")
        start = threading.Barrier(6)

        def first_use(i, cache=cache, start=start):
            start.wait()
            assert cache.get(f"k{i}") is None
            cache.put(f"k{i}", b"v")

        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(first_use, range(6)))
        assert len(cache.get_many([f"k{i}" for i in range(6)])) == 6, f"cache {n} lost writes"
        assert cache.warning is None


CACHE_USER = """
import sys
from pathlib import Path
from evaluator.kvstore import SqliteCache
cache = SqliteCache(Path(sys.argv[1]), "t")
for i in range(200):
    cache.get(f"{sys.argv[2]}{i}")
    cache.put(f"{sys.argv[2]}{i}", b"v")
sys.exit(1 if cache.warning else 0)
"""


def test_one_cache_file_shared_by_two_processes(tmp_path):
    # pre-commit runs hooks in parallel processes: both must read and write one cache file.
    path = tmp_path / "shared.sqlite3"
    procs = [subprocess.Popen([sys.executable, "-c", CACHE_USER, str(path), tag]) for tag in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    keys = [f"{tag}{i}" for tag in "ab" for i in range(200)]
    assert len(SqliteCache(path, "t").get_many(keys)) == 400


def test_cache_key_is_canonical_and_order_sensitive():
    assert cache_key({"a": 1, "b": 2}) == cache_key({"b": 2, "a": 1})
    assert cache_key("x", "y") != cache_key("y", "x")
    assert cache_key("x", "y") != cache_key("xy")
    assert len(cache_key("x")) == 64
