"""`evaluator check` on one big note (issue #27 item 3): the work grows with the note and no
faster, the grader's working set is bounded whatever the note's size, and progress goes to
stderr only. Work is counted (headings looked at, texts embedded), never timed; the timings are
benchmarks/check_scale.py's."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from evaluator.cli import main
from evaluator.cli.check import Progress
from evaluator.notes import check as check_module
from evaluator.notes import notes as notes_module
from evaluator.notes.check import check_files
from evaluator.rubrics.lookup import RubricSet
from evaluator.scoring.embedding.backends import HashingEmbedder
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings

CHUNK = 16  # answers per grade_many call in these tests (the real one is larger)
HEADINGS = notes_module._headings  # the note's headings, before a test wraps them
MARK = "§"


def big_note(sections: int, rubrics: RubricSet) -> str:
    """`## Q<n>` sections cycling over the bundled questions, a few distinct lines each."""
    numbered = [r for r in rubrics if r.number is not None]
    parts = ["# 复习笔记\n"]
    for i in range(sections):
        r = numbered[i % len(numbered)]
        lines = [line for line in r.reference_answer.splitlines() if line.strip()][:3]
        # Numbered, so that no sentence repeats (a repeated one is embedded once per call);
        # MARK tells the answers' texts from the rubrics' in what the embedder is given.
        parts.append(f"## Q{r.number}\n\n" + "\n".join(f"{x}{MARK}{i + 1}" for x in lines) + "\n")
    return "\n".join(parts)


class Touched(list[Any]):
    """The note's headings, counting every one looked at (by index, slice or iteration)."""

    count = 0

    def __getitem__(self, index: Any) -> Any:
        got = super().__getitem__(index)
        Touched.count += len(got) if isinstance(index, slice) else 1
        return got

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            Touched.count += 1
            yield item


class CountingEmbedder(HashingEmbedder):
    """The hashing stub, remembering how many of the answers' texts each encode call was given
    (the rubrics' texts are a constant cost, and left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(sum(MARK in t for t in texts))
        return super().encode(texts)


def checked(
    tmp_path: Path, sections: int, rubrics: RubricSet, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, list[int], Any]:
    """(headings looked at, answer texts per encode call, report) for a note of `sections`."""
    tmp_path.mkdir(exist_ok=True)
    note = tmp_path / f"n{sections}.md"
    note.write_text(big_note(sections, rubrics), encoding="utf-8")
    monkeypatch.setattr(notes_module, "_headings", lambda *a: Touched(HEADINGS(*a)))
    Touched.count = 0
    embedder = CountingEmbedder()
    settings = Settings(embedder="hashing", cache_dir=tmp_path / f"cache{sections}")
    report = check_files(
        [note],
        settings,
        rubrics=rubrics,
        make_grader=lambda s, r: Grader(embedder, settings=s, compare_with=r),
    )
    assert report.answers == sections
    return Touched.count, embedder.calls, report


def grades(report: Any) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in a.grade.model_dump().items() if k != "timings_ms"}
        for f in report.files
        for a in f.answers
    ]


def test_check_work_grows_linearly_and_its_working_set_is_bounded(
    tmp_path: Path, bundled_rubrics: RubricSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # raising=False: without chunked grading there is no such setting, and the bound fails.
    monkeypatch.setattr(check_module, "GRADE_CHUNK", CHUNK, raising=False)
    n = 4 * CHUNK
    small_headings, small_calls, chunked = checked(tmp_path, n, bundled_rubrics, monkeypatch)
    big_headings, big_calls, _ = checked(tmp_path, 4 * n, bundled_rubrics, monkeypatch)
    # Finding the sections: about 4× the headings for 4× the sections (a scan of the later
    # headings per section made it 16×).
    assert big_headings <= 4.5 * small_headings, (small_headings, big_headings)
    # Grading: 4× the answers' texts embedded, in calls no bigger than the small note's.
    assert 3.5 * sum(small_calls) <= sum(big_calls) <= 4.5 * sum(small_calls)
    assert max(big_calls) <= 1.2 * max(small_calls), (max(small_calls), max(big_calls))
    # Grading in chunks changes no grade: the small note graded in one call.
    monkeypatch.setattr(check_module, "GRADE_CHUNK", 10**6, raising=False)
    _, whole_calls, whole = checked(tmp_path / "whole", n, bundled_rubrics, monkeypatch)
    assert max(whole_calls) > 2 * max(small_calls)  # it was one call
    assert grades(chunked) == grades(whole)


def test_sentences_repeated_across_a_note_are_embedded_about_once(
    tmp_path: Path, bundled_rubrics: RubricSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each question answered 8 times, the answers cycling over the questions, the same three
    # sentences in each of a question's answers: in chunks of the note's own order a chunk
    # holds no question twice, so every chunk embedded its sentences afresh.
    numbered = [r for r in bundled_rubrics if r.number is not None]
    parts = []
    for i in range(8 * len(numbered)):
        r = numbered[i % len(numbered)]
        lines = [line for line in r.reference_answer.splitlines() if line.strip()][:3]
        parts.append(f"## Q{r.number}\n\n" + "\n".join(f"{x}{MARK}" for x in lines))
        parts.append(f"第 {i + 1} 次复习{MARK}{i}\n")
    note = tmp_path / "n.md"
    note.write_text("\n\n".join(parts), encoding="utf-8")
    embedded: dict[int, int] = {}
    for chunk in (CHUNK, 10**6):
        monkeypatch.setattr(check_module, "GRADE_CHUNK", chunk)
        embedder = CountingEmbedder()
        check_files(
            [note],
            Settings(embedder="hashing", cache_dir=tmp_path / f"cache{chunk}"),
            rubrics=bundled_rubrics,
            make_grader=lambda s, r, e=embedder: Grader(e, settings=s, compare_with=r),
        )
        embedded[chunk] = sum(embedder.calls)
    assert embedded[CHUNK] <= 1.3 * embedded[10**6], embedded


def test_a_stopped_check_keeps_the_chunks_it_graded(
    tmp_path: Path, bundled_rubrics: RubricSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_module, "GRADE_CHUNK", CHUNK)
    note = tmp_path / "n.md"
    note.write_text(big_note(3 * CHUNK, bundled_rubrics), encoding="utf-8")
    settings = Settings(embedder="hashing", cache_dir=tmp_path / "cache")

    def stop(done: int, total: int) -> None:
        if done == 2 * CHUNK:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check_files([note], settings, rubrics=bundled_rubrics, on_progress=stop)
    again = check_files([note], settings, rubrics=bundled_rubrics)
    assert again.cached == 2 * CHUNK and again.answers == 3 * CHUNK


# ---------------------------------------------------------------------------- progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_in_a_log_only_once_the_run_is_long() -> None:
    clock, log = Clock(), io.StringIO()
    progress = Progress(log, clock)
    for done in range(0, 1001, 100):  # 1,000 answers, 10 s in all: too short to tell
        clock.now = done / 100
        progress(done, 1000)
    assert log.getvalue() == ""
    clock, log = Clock(), io.StringIO()
    progress = Progress(log, clock)
    for done in range(0, 1001, 10):  # 100 s: a line at 30, 60 and 90 s, and one at the end
        clock.now = done / 10
        progress(done, 1000)
    lines = log.getvalue().splitlines()
    assert lines[0] == "grading: 300 of 1,000 answers (30 %), 30 s, about 1:10 left"
    assert len(lines) == 4 and lines[-1] == "grading: 1,000 of 1,000 answers (100 %), 1:40"
    assert "\r" not in log.getvalue()


def test_progress_on_a_terminal_is_one_line_redrawn_then_cleared() -> None:
    clock, tty = Clock(), Terminal()
    progress = Progress(tty, clock)
    progress(0, 300)
    assert tty.getvalue() == ""  # under a second: nothing
    clock.now = 2.0
    progress(100, 300)
    assert tty.getvalue() == "\r\033[Kgrading: 100 of 300 answers (33 %), 2 s, about 4 s left"
    progress(300, 300)
    assert tty.getvalue().endswith("\r\033[K") and "\n" not in tty.getvalue()
    progress.stop()  # nothing drawn any more: nothing to end
    assert "\n" not in tty.getvalue()
    clock.now = 3.0
    progress(200, 300)
    progress.stop()  # Ctrl-C: what follows starts on a line of its own
    assert tty.getvalue().endswith("about 1 s left\n")


def test_progress_never_reaches_stdout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bundled_rubrics: RubricSet
) -> None:
    monkeypatch.setattr(Progress, "LOG_EVERY", 0.0)  # a line after every chunk
    monkeypatch.setattr(check_module, "GRADE_CHUNK", CHUNK)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "n.md").write_text(big_note(2 * CHUNK, bundled_rubrics), encoding="utf-8")
    args = ["check", "n.md", "--json", "--embedder", "hashing"]
    result = CliRunner().invoke(main, [*args, "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.stdout)["answers"] == 2 * CHUNK  # stdout is the JSON alone
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"grading: {2 * CHUNK} of {2 * CHUNK} answers (100 %), ")
