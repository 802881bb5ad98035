"""The command line with a judge that fails (#27): `grade`, `check` and `batch` grade by the
embeddings, print the reason as one warning line and never a traceback, within a deadline.
Real subprocesses (a traceback is what the terminal would show), the fake server on 127.0.0.1,
hashing embedder, a first-token timeout of 1 s."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI
from tests.helpers import EN_GOOD, REPO, write_csv, write_rubrics

pytest_plugins = ["tests.fake_openai"]

RANDOM_BYTES = random.Random(27).randbytes(4096)  # seeded: the same bytes every run
NOT_A_STREAM = "sent a reply that is not an OpenAI event stream"

# A judge that fails every request the same way; the script is longer than any test needs.
FAILING: dict[str, Callable[[FakeOpenAI], object]] = {
    "random-bytes": lambda fake: fake.raw(RANDOM_BYTES, "application/octet-stream"),
    "not-json": lambda fake: fake.raw(b"data: this is not json\n\ndata: {broken\n\n"),
    "silent": lambda fake: fake.hang(60),  # accepts the connection, never replies
}
REASONS = {
    "random-bytes": f"{NOT_A_STREAM} (bytes that are not UTF-8 text)",
    "not-json": f"{NOT_A_STREAM} (a data line that is not JSON: Expecting value)",
    "silent": "sent no token within 1 s (first-token timeout)",
}
# Each command's deadline: startup on 2 busy cores, plus 1 s per silent request at most.
DEADLINE_S = 10


@pytest.fixture
def rubrics(tmp_path: Path) -> Path:
    return write_rubrics(tmp_path / "rubrics")


def failing_judge(fake: FakeOpenAI, kind: str, requests: int = 40) -> FakeOpenAI:
    for _ in range(requests):
        FAILING[kind](fake)
    return fake


def evaluator(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "EVALUATOR_JUDGE_FIRST_TOKEN_TIMEOUT": "1",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "evaluator.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def judge_flags(fake: FakeOpenAI, rubrics: Path) -> list[str]:
    return ["--rubrics", str(rubrics), "--embedder", "hashing", "--no-cache",
            "--judge-model", "fake-judge", "--judge-base-url", fake.base_url]  # fmt: skip


def warnings(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


@pytest.mark.parametrize("kind", sorted(FAILING))
def test_grade_falls_back_with_one_warning_line(
    fake_openai: FakeOpenAI, rubrics: Path, kind: str
) -> None:
    failing_judge(fake_openai, kind)
    started = time.monotonic()
    done = evaluator(
        "grade", "11", "--answer", EN_GOOD, "--json", *judge_flags(fake_openai, rubrics)
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    reason = f"judge at {fake_openai.base_url} {REASONS[kind]}"
    assert warnings(done.stderr) == [f"warning: {reason}: graded by embeddings alone"]
    grade = json.loads(done.stdout)
    assert grade["method"] == "embedding" and "judge_unscored" in grade["flags"]
    assert grade["method_reason"] == f"judge unscored ({reason}); graded by embeddings alone"
    assert len(fake_openai.chat_requests) == 1  # neither retried nor asked again
    assert elapsed < DEADLINE_S, f"{elapsed:.1f} s"


@pytest.mark.parametrize("kind", sorted(FAILING))
def test_check_falls_back_with_one_warning_line(
    fake_openai: FakeOpenAI, rubrics: Path, tmp_path: Path, kind: str
) -> None:
    failing_judge(fake_openai, kind)
    note = tmp_path / "note.md"
    note.write_text(f"## Q11\n\n{EN_GOOD}\n", encoding="utf-8")
    done = evaluator("check", str(note), *judge_flags(fake_openai, rubrics))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 answer checked" in done.stdout and "judge" in done.stdout
    (line,) = warnings(done.stderr)
    assert line.startswith(f"warning: judge at {fake_openai.base_url} {REASONS[kind]}")


def batch_rows(n: int) -> list[list[str]]:
    """`n` distinct answers (a batch grades a repeated answer once) to the two questions."""
    return [["id", "question", "answer"]] + [
        [str(i), "t-q11", f"{EN_GOOD} (answer {i})"] for i in range(1, n + 1)
    ]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("kind", sorted(FAILING))
def test_batch_grades_every_row_by_embeddings(
    fake_openai: FakeOpenAI, rubrics: Path, tmp_path: Path, kind: str
) -> None:
    failing_judge(fake_openai, kind)
    source, out = write_csv(tmp_path / "in.csv", batch_rows(8)), tmp_path / "out.csv"
    started = time.monotonic()
    done = evaluator("batch", str(source), "-o", str(out), "--jobs", "4", "--quiet",
                     *judge_flags(fake_openai, rubrics))  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    rows = read_rows(out)
    assert len(rows) == 8
    for row in rows:
        assert row["error"] == "" and row["method"] == "embedding", row
        assert "judge_unscored" in row["flags"] and float(row["score"]) > 0
    # The breaker: after 3 failures in a row the judge is not called again, and that is said
    # once (at most 3 more requests were already on their way, one per other worker).
    assert len(fake_openai.chat_requests) <= 4, len(fake_openai.chat_requests)  # one wave
    off = "judge off for the rest of this run: 3 failures in a row (last: judge at"
    lines = warnings(done.stderr)
    assert [line.startswith(f"warning: {off}") for line in lines].count(True) == 1, lines
    assert lines[0].endswith("; grading by embeddings alone")
    assert elapsed < DEADLINE_S, f"{elapsed:.1f} s"


# ---------------------------------------------------------------------------- no key

NO_KEY = (
    "judge 'gpt-x' at https://api.openai.com/v1 needs OPENAI_API_KEY,"
    " or OPENAI_BASE_URL for a local server"
)


def without_judge_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    return {**env, "PYTHONPATH": str(REPO)}


def test_a_judge_model_without_key_grades_by_embeddings_with_one_warning(rubrics: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "evaluator.cli", "grade", "11", "--answer", EN_GOOD, "--json",
         "--rubrics", str(rubrics), "--embedder", "hashing", "--no-cache", "--judge-model", "gpt-x"],
        capture_output=True, text=True, env=without_judge_env(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert warnings(done.stderr) == [f"warning: {NO_KEY}: graded by embeddings alone"]
    grade = json.loads(done.stdout)
    assert grade["method"] == "embedding" and "judge_unscored" in grade["flags"]
    assert grade["method_reason"] == f"judge unscored ({NO_KEY}); graded by embeddings alone"


def test_a_judge_model_without_key_and_require_judge_is_a_one_line_error(rubrics: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "evaluator.cli", "grade", "11", "--answer", EN_GOOD,
         "--rubrics", str(rubrics), "--embedder", "hashing", "--no-cache", "--judge-model", "gpt-x",
         "--require-judge"],
        capture_output=True, text=True, env=without_judge_env(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [f"Error: {NO_KEY}"]
