"""Crash safety of `evaluator batch`: cut the output anywhere, resume, get the clean run's rows;
and a real process killed with SIGKILL mid-batch, resumed with --resume."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator.batch import BatchOptions, Format, run_batch
from evaluator.cli import main
from evaluator.errors import InputError
from evaluator.present.summary import Summary
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from tests.helpers import EN_GOOD, ZH_GOOD, write_csv, write_rubrics


def answers(n: int, seed: int = 5) -> list[list[str]]:
    """Rows with CJK text, multi-line quoted answers, quotes and commas: every kind of byte a
    crash can cut through."""
    rng = random.Random(seed)
    rows = [["id", "question", "answer", "cohort"]]
    for i in range(1, n + 1):
        q, text = rng.choice([("7", ZH_GOOD), ("11", EN_GOOD), ("7", "批量归一化\n“加速”,训练")])
        rows.append([f"s{i}", q, f"{text} {i}" if i % 5 else "", rng.choice(["A", "B,C", 'D"E'])])
    rows.append([f"s{n + 1}", "404", "unknown question", "A"])
    return rows


def cut_points(data: bytes, header_end: int, rng: random.Random) -> list[int]:
    """Every offset in the header and the last row, plus random offsets elsewhere."""
    last_row = data.rstrip(b"\r\n").rfind(b"\n") + 1
    points = set(range(0, header_end + 2)) | set(range(last_row - 2, len(data) + 1))
    points |= {rng.randrange(header_end, len(data)) for _ in range(60)}
    return sorted(points)


@pytest.mark.parametrize(("fmt", "bom"), [("csv", False), ("csv", True), ("jsonl", False)])
def test_output_cut_anywhere_resumes_to_the_clean_result(
    tmp_path: Path, settings: Settings, grader: Grader, fmt: Format, bom: bool
) -> None:
    src = write_csv(tmp_path / "in.csv", answers(18))
    clean = tmp_path / f"clean.{fmt}"
    options = BatchOptions(input=src, output=clean, format=fmt, chunk_size=4, bom=bom)
    fresh = run_batch(options, settings, grader=grader).summary
    expected = normalised(clean, fmt)
    assert len(expected) == 19 + (fmt == "csv")  # rows (and the CSV header)
    data = clean.read_bytes()
    header_end = data.find(b"\n") + 1 if fmt == "csv" else 0
    out = tmp_path / f"out.{fmt}"
    points = cut_points(data, header_end, random.Random(11))
    assert len(points) > 100
    for cut in points:
        out.write_bytes(data[:cut])
        result = run_batch(
            BatchOptions(input=src, output=out, format=fmt, chunk_size=4, resume=True, bom=bom),
            settings,
            grader=grader,
        )
        assert normalised(out, fmt) == expected, f"cut at byte {cut}"
        assert result.rows == 19 and result.summary.rows == 19
        assert result.summary.errors == 1  # the unknown question, counted once either way
        assert counted(result.summary) == counted(fresh), f"cut at byte {cut}"


def counted(summary: Summary) -> dict[str, object]:
    """What a summary makes of its rows, question titles aside (a CSV output holds none)."""
    return {
        "views": [{**vars(v), "question_title": None} for v in summary.table],
        "questions": {q: (s.count, s.total, s.low, s.high) for q, s in summary.questions.items()},
        "tenths": summary.tenths,
        "counters": (summary.methods, summary.bands, summary.flags, summary.missed),
    }


def normalised(path: Path, fmt: str) -> list[object]:
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.reader(fh))
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        obj.pop("timings_ms", None)  # wall-clock figures differ between runs
        rows.append(obj)
    return rows


def test_resume_of_a_complete_output_changes_nothing(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(tmp_path / "in.csv", answers(6))
    out = tmp_path / "out.csv"
    run_batch(BatchOptions(input=src, output=out), settings, grader=grader)
    before = out.read_bytes()
    result = run_batch(BatchOptions(input=src, output=out, resume=True), settings, grader=grader)
    assert out.read_bytes() == before
    assert result.resumed == 7 and result.summary.rows == 7


def test_resume_refuses_an_output_from_another_input(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    first = write_csv(tmp_path / "a.csv", answers(6, seed=1))
    other = write_csv(tmp_path / "b.csv", answers(6, seed=2))
    out = tmp_path / "out.csv"
    run_batch(BatchOptions(input=first, output=out, chunk_size=2), settings, grader=grader)
    data = out.read_bytes()
    out.write_bytes(data[: data.rstrip().rfind(b"\n") + 1])  # drop the last row
    with pytest.raises(InputError, match=r"row 1 of .*b\.csv differs from the row graded in"):
        run_batch(BatchOptions(input=other, output=out, resume=True), settings, grader=grader)
    shorter = write_csv(tmp_path / "c.csv", answers(6, seed=1)[:4])
    with pytest.raises(InputError, match=r"holds 6 rows but .* has fewer"):
        run_batch(BatchOptions(input=shorter, output=out, resume=True), settings, grader=grader)
    renamed = write_csv(
        tmp_path / "d.csv", [["id", "question", "answer", "group"], *answers(6)[1:]]
    )
    with pytest.raises(InputError, match="header does not match"):
        run_batch(BatchOptions(input=renamed, output=out, resume=True), settings, grader=grader)
    assert out.read_bytes() == data[: data.rstrip().rfind(b"\n") + 1]  # refused means untouched
    jsonl = tmp_path / "out.jsonl"
    run_batch(BatchOptions(input=first, output=jsonl, format="jsonl"), settings, grader=grader)
    jsonl.write_text('{"row": 1, "id": "x", "input": {"a": "b"}}\n', encoding="utf-8")
    with pytest.raises(InputError, match="rows do not match this input's columns"):
        run_batch(
            BatchOptions(input=first, output=jsonl, format="jsonl", resume=True),
            settings,
            grader=grader,
        )
    inputs = dict(zip(answers(1)[0], answers(1)[1], strict=True))
    line = {"row": 1, "id": "s1", "error": None, "score": "lots", "input": inputs}
    jsonl.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 1 does not hold a grade this version can read"):
        run_batch(
            BatchOptions(input=first, output=jsonl, format="jsonl", resume=True),
            settings,
            grader=grader,
        )


def _data_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as fh:
        return max(sum(1 for _ in csv.reader(fh)) - 1, 0)


def test_killed_process_resumes_without_losing_or_repeating_rows(tmp_path: Path) -> None:
    rubrics = write_rubrics(tmp_path / "rubrics")
    rows = answers(1500, seed=9)
    src = write_csv(tmp_path / "in.csv", rows)
    out, clean = tmp_path / "out.csv", tmp_path / "clean.csv"
    args = ["batch", str(src), "--embedder", "hashing", "--rubrics", str(rubrics),
            "--chunk-size", "8", "--quiet"]  # fmt: skip
    env = {**os.environ, "EVALUATOR_CACHE_DIR": str(tmp_path / "cache")}

    proc = subprocess.Popen(
        [sys.executable, "-m", "evaluator.cli", *args, "-o", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.stat().st_size > 40_000:  # some chunks are on disk
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    killed_at = _data_rows(out)
    assert 0 < killed_at < len(rows) - 1, "the kill must land mid-batch"

    # Without --resume the partial output is protected.
    again = subprocess.run(
        [sys.executable, "-m", "evaluator.cli", *args, "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1 and "already exists; use --resume" in again.stderr

    resumed = subprocess.run(
        [sys.executable, "-m", "evaluator.cli", *args, "-o", str(out), "--resume"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    result = CliRunner().invoke(main, [*args, "-o", str(clean)], env=env)
    assert result.exit_code == 0, result.stderr
    with out.open(encoding="utf-8", newline="") as a, clean.open(encoding="utf-8", newline="") as b:
        got, want = list(csv.reader(a)), list(csv.reader(b))
    assert len(want) == len(rows)  # header + every input row
    assert got == want
    assert out.read_bytes() == clean.read_bytes()
