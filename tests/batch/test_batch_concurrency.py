"""Issue #27 items 1 and 2, with real `evaluator batch` processes: one writer per output (a
second is refused, naming the first; a lock left by a killed run blocks nothing), and what
Ctrl-C says is what the output holds. Hashing embedder, no judge."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evaluator.batch import BatchOptions, prepare_batch, run_batch
from evaluator.errors import InputError
from evaluator.files import LockOwner, OutputLock, lock_path
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from tests.helpers import EN_GOOD, ZH_GOOD, write_csv, write_rubrics

TIMEOUT = 120


def answers(n: int) -> list[list[str]]:
    rows = [["id", "question", "answer"]]
    for i in range(1, n + 1):
        q, text = ("7", ZH_GOOD) if i % 2 else ("11", EN_GOOD)
        rows.append([f"s{i}", q, f"{text} {i}"])
    return rows


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "EVALUATOR_CACHE_DIR": str(tmp_path / "cache")}


def command(tmp_path: Path, src: Path, out: Path, *extra: str) -> list[str]:
    rubrics = tmp_path / "rubrics"
    if not rubrics.exists():
        write_rubrics(rubrics)
    return [sys.executable, "-m", "evaluator.cli", "batch", str(src), "-o", str(out),
            "--embedder", "hashing", "--no-judge", "--rubrics", str(rubrics), "--quiet",
            *extra]  # fmt: skip


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(ready: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the run ended ({proc.returncode}) before {what}: {err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def data_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))[1:]


def files(folder: Path) -> dict[str, bytes]:
    """Every file in `folder`, hidden ones (temporary files, the lock) included."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------------------- one writer


def test_a_second_writer_is_refused_and_the_first_output_is_intact(
    tmp_path: Path, work: Path, env: dict[str, str]
) -> None:
    rows = answers(1200)
    src = write_csv(tmp_path / "in.csv", rows)
    out = work / "out.csv"
    out.write_text("id,old\r\n1,an earlier run's output\r\n", encoding="utf-8")
    first = start(command(tmp_path, src, out, "--force", "--chunk-size", "8"), env, work)
    # Held mid-run: its first chunks are in place, its lock taken.
    wait_for(lambda: out.stat().st_size > 20_000, first, "the first run's chunks")
    first.send_signal(signal.SIGSTOP)
    try:
        before = files(work)
        second = subprocess.run(
            command(tmp_path, src, out, "--force"), env=env, cwd=work, capture_output=True,
            text=True, timeout=TIMEOUT,
        )  # fmt: skip
        assert files(work) == before  # the output, its manifest, the lock: all untouched
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
    assert lines[0].startswith(f"Error: {out}: evaluator batch (pid {first.pid} on ")
    assert f" on {socket.gethostname()}, started 20" in lines[0]
    assert lines[0].endswith(
        "is writing it (lock out.csv.lock); wait for it to finish, or give another -o"
    )

    _, err = first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0, err
    got = data_rows(out)
    assert [r[:3] for r in got] == rows[1:]  # every row, in order, once
    assert all(r[4] for r in got)  # graded: a score in every row
    clean = work.parent / "clean.csv"
    done = subprocess.run(command(tmp_path, src, clean), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == clean.read_bytes()
    assert sorted(files(work)) == ["out.csv", "out.csv.run.json"]  # no lock, no temporary file


def test_a_plain_run_beside_a_running_one_is_refused_before_its_output_exists(
    tmp_path: Path, work: Path, env: dict[str, str]
) -> None:
    # Without --force either: the first run's output is not in place yet, so "already
    # exists" cannot protect it; the lock must.
    src = write_csv(tmp_path / "in.csv", answers(1500))
    out = work / "out.csv"
    first = start(command(tmp_path, src, out, "--chunk-size", "100000"), env, work)
    wait_for(lambda: bool(temp_files(work)), first, "its temporary file")
    first.send_signal(signal.SIGSTOP)
    try:
        before = files(work)
        second = subprocess.run(
            command(tmp_path, src, out), env=env, cwd=work, capture_output=True, text=True,
            timeout=TIMEOUT,
        )  # fmt: skip
        assert files(work) == before
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 1 and f"(pid {first.pid} on " in second.stderr, second.stderr
    _, err = first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0, err
    assert len(data_rows(out)) == 1500


def test_a_lock_left_by_a_killed_run_blocks_nothing(
    tmp_path: Path, work: Path, env: dict[str, str]
) -> None:
    rows = answers(1200)
    src = write_csv(tmp_path / "in.csv", rows)
    out = work / "out.csv"
    args = command(tmp_path, src, out, "--chunk-size", "8")
    killed = start(args, env, work)
    wait_for(lambda: out.exists() and out.stat().st_size > 20_000, killed, "some chunks")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    left = lock_path(out)
    assert left.exists() and LockOwner.model_validate_json(left.read_bytes()).pid == killed.pid
    kept = len(data_rows(out))
    assert 0 < kept < len(rows) - 1

    resumed = subprocess.run([*args, "--resume"], env=env, cwd=work, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert [r[:3] for r in data_rows(out)] == rows[1:]
    assert not left.exists()  # taken over, then released with the run


def test_the_lock_in_one_process_names_its_holder(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    with OutputLock(out, "evaluator batch"):
        with pytest.raises(InputError) as caught:
            OutputLock(out, "evaluator batch").acquire()
        message = str(caught.value)
        assert message.startswith(f"{out}: evaluator batch (pid {os.getpid()} on ")
        assert str(out) in LockOwner.model_validate_json(lock_path(out).read_bytes()).output
    assert not lock_path(out).exists()
    # A lock file no process holds (its run died) is simply taken over, whatever it holds.
    lock_path(out).write_text("not even JSON", encoding="utf-8")
    with OutputLock(out, "evaluator batch"):
        assert LockOwner.model_validate_json(lock_path(out).read_bytes()).pid == os.getpid()
    assert not lock_path(out).exists()


# ---------------------------------------------------------------------------- Ctrl-C


def interrupt(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    return err


@pytest.mark.parametrize("existing", [False, True])
def test_ctrl_c_before_the_first_chunk_says_the_output_was_not_written(
    existing: bool, tmp_path: Path, work: Path, env: dict[str, str]
) -> None:
    src = write_csv(tmp_path / "in.csv", answers(3000))
    out = work / "out.csv"
    extra = ["--chunk-size", "100000"]  # one chunk: long to grade, nothing saved before it ends
    if existing:
        out.write_text("id,old\r\n1,an earlier run's output\r\n", encoding="utf-8")
        out.with_name("out.csv.run.json").write_text("{}", encoding="utf-8")
        extra.append("--force")
    before = files(work)
    proc = start(command(tmp_path, src, out, *extra), env, work)
    wait_for(lambda: bool(temp_files(work)), proc, "grading to start")
    err = interrupt(proc)
    what = "was left as it was" if existing else "was not created"
    assert f"stopped before any row was saved; {out} {what}" in err, err
    assert "--resume" not in err
    assert files(work) == before  # nothing new, nothing left behind (no temporary file, no lock)


def test_ctrl_c_after_some_chunks_says_how_many_rows_are_saved(
    tmp_path: Path, work: Path, env: dict[str, str]
) -> None:
    rows = answers(1500)
    src = write_csv(tmp_path / "in.csv", rows)
    out = work / "out.csv"
    args = command(tmp_path, src, out, "--chunk-size", "8")
    proc = start(args, env, work)
    wait_for(lambda: out.exists() and out.stat().st_size > 20_000, proc, "some chunks")
    err = interrupt(proc)
    saved = len(data_rows(out))
    assert 0 < saved < 1500 and saved % 8 == 0  # whole chunks only
    assert f"stopped; {out} holds the {saved:,} rows graded so far: rerun with --resume" in err
    resumed = subprocess.run([*args, "--resume"], env=env, cwd=work, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert [r[:3] for r in data_rows(out)] == rows[1:]


class _Stopped(Grader):
    """A grader stopped (Ctrl-C) before it returns a grade."""

    def grade_many(self, *args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt


def test_ctrl_c_in_a_resumed_run_counts_the_rows_already_there(tmp_path: Path) -> None:
    # No grades kept across runs: the resumed row must be graded, and stopped there.
    settings = Settings(embedder="hashing", rubrics=write_rubrics(tmp_path / "r"), use_cache=False)
    src = write_csv(tmp_path / "in.csv", answers(10))
    out = tmp_path / "out.csv"
    run_batch(BatchOptions(input=src, output=out, chunk_size=4), settings)
    data = out.read_bytes()
    out.write_bytes(data[: data.rstrip().rfind(b"\n") + 1])  # the last row lost in a crash
    stopper = _Stopped("hashing", settings=settings)
    job = prepare_batch(BatchOptions(input=src, output=out, resume=True), settings, grader=stopper)
    with pytest.raises(KeyboardInterrupt):
        job.run()
    assert job.interrupted() == (
        f"stopped; {out} holds the 9 rows graded so far: rerun with --resume to continue"
    )
    assert not lock_path(out).exists()
