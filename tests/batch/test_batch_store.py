"""Grades kept across runs (scoring.grade_cache): a re-run of the same file grades nothing
again and loads no model; what changed is graded again; --no-cache keeps nothing; a failed
judge's grade is never kept. Hashing embedder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from evaluator.batch import BatchOptions, run_batch
from evaluator.batch.local import LocalJob
from evaluator.result import Grade
from evaluator.rubrics.model import Rubric
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from tests.helpers import EN_GOOD, ZH_GOOD, write_csv


class CountingGrader(Grader):
    graded: list[str]

    def grade_many(self, items: Sequence[tuple[Rubric, str]], jobs: int = 1) -> list[Grade]:
        self.graded.extend(answer for _, answer in items)
        return super().grade_many(items, jobs)


def counting(settings: Settings) -> CountingGrader:
    grader = CountingGrader("hashing", settings=settings)
    grader.graded = []
    return grader


def rows(*answers: str) -> list[list[str]]:
    return [["id", "question", "answer"], *([f"r{i}", "7", a] for i, a in enumerate(answers))]


def test_a_rerun_grades_nothing_again(tmp_path: Path, cached_settings: Settings) -> None:
    src = write_csv(tmp_path / "in.csv", rows(ZH_GOOD, EN_GOOD, "不知道"))
    first, again = counting(cached_settings), counting(cached_settings)
    run_batch(BatchOptions(input=src, output=tmp_path / "a.csv"), cached_settings, grader=first)
    run_batch(BatchOptions(input=src, output=tmp_path / "b.csv"), cached_settings, grader=again)
    assert len(first.graded) == 3 and again.graded == []
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_a_rerun_loads_no_model(
    tmp_path: Path, cached_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_csv(tmp_path / "in.csv", rows(ZH_GOOD, EN_GOOD))
    run_batch(BatchOptions(input=src, output=tmp_path / "a.csv"), cached_settings)
    built: list[bool] = []
    make = LocalJob._make_grader
    monkeypatch.setattr(LocalJob, "_make_grader", lambda job: built.append(True) or make(job))
    run_batch(BatchOptions(input=src, output=tmp_path / "b.csv"), cached_settings)
    assert built == []  # no grader, so no embedder, was built
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_only_what_changed_is_graded_again(tmp_path: Path, cached_settings: Settings) -> None:
    src = write_csv(tmp_path / "in.csv", rows(ZH_GOOD, EN_GOOD))
    run_batch(
        BatchOptions(input=src, output=tmp_path / "a.csv"),
        cached_settings,
        grader=counting(cached_settings),
    )
    edited = write_csv(tmp_path / "in2.csv", rows(ZH_GOOD, EN_GOOD + " It also regularises."))
    again = counting(cached_settings)
    run_batch(BatchOptions(input=edited, output=tmp_path / "b.csv"), cached_settings, grader=again)
    assert again.graded == [EN_GOOD + " It also regularises."]


def test_no_cache_keeps_nothing(tmp_path: Path, cached_settings: Settings) -> None:
    bare = cached_settings.model_copy(update={"use_cache": False})
    src = write_csv(tmp_path / "in.csv", rows(ZH_GOOD))
    run_batch(BatchOptions(input=src, output=tmp_path / "a.csv"), bare)
    again = counting(bare)
    run_batch(BatchOptions(input=src, output=tmp_path / "b.csv"), bare, grader=again)
    assert again.graded == [ZH_GOOD]
    assert not list(cached_settings.cache_dir.glob("batch-grades*"))


def test_a_grade_whose_judge_failed_is_not_kept(tmp_path: Path, cached_settings: Settings) -> None:
    judged = cached_settings.model_copy(
        update={"judge_model": "m", "judge_base_url": "http://127.0.0.1:9/v1", "judge_retries": 0}
    )
    src = write_csv(tmp_path / "in.csv", rows(ZH_GOOD))
    run_batch(BatchOptions(input=src, output=tmp_path / "a.csv"), judged)  # port 9: refused
    again = counting(judged)
    run_batch(BatchOptions(input=src, output=tmp_path / "b.csv"), judged, grader=again)
    assert again.graded == [ZH_GOOD]  # asked again: the judge may be back
