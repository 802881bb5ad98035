"""Judge requests go out as runs of one rubric each, so a server reads each rubric's prompt
prefix once (judge.order), and the grader sends each run in order from one worker."""

from __future__ import annotations

import threading
from pathlib import Path

from evaluator.judge.order import prefix_runs
from evaluator.judge.outcome import JudgeOutcome
from evaluator.rubrics.model import Rubric
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings


def test_one_run_per_rubric_in_rubric_order() -> None:
    keys = ["q2", "q1", "q2", "q3", "q1", "q2"]
    assert prefix_runs(keys, 1) == [[1, 4], [0, 2, 5], [3]]
    assert prefix_runs(keys, 3) == [[1, 4], [0, 2, 5], [3]]  # already enough runs


def test_few_rubrics_are_split_so_every_worker_has_a_run() -> None:
    runs = prefix_runs(["q1"] * 7, 4)
    assert runs == [[0], [1, 2], [3, 4], [5, 6]]
    runs = prefix_runs(["q1", "q1", "q2"], 4)  # cannot split below one request
    assert sorted(i for run in runs for i in run) == [0, 1, 2] and len(runs) == 3
    assert prefix_runs([], 4) == []


class Recording:
    """A judge that records which thread asked about which answer, in what order."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, str]] = []
        self._lock = threading.Lock()

    def assess(self, rubric: Rubric, answer: str) -> JudgeOutcome:
        with self._lock:
            self.calls.append((threading.get_ident(), rubric.id, answer))
        return JudgeOutcome.model_validate(
            {"judgements": {}, "info": {"model": "m", "base_url": "u", "prompt_version": "v"}}
        )


def rubric(n: int) -> Rubric:
    return Rubric(
        id=f"q{n}",
        title=f"题目{n}",
        question=f"问题{n}是什么？",
        reference_answer=f"答案{n}。",
        key_points=[{"id": "k1", "text": f"要点{n}"}],
    )


def test_the_grader_sends_each_rubric_from_one_worker_in_input_order(tmp_path: Path) -> None:
    judge = Recording()
    grader = Grader("hashing", judge=judge, settings=Settings(use_cache=False, cache_dir=tmp_path))  # type: ignore[arg-type]
    items = [(rubric(n % 3), f"回答{i}，讲了要点{n % 3}。") for i, n in enumerate(range(12))]
    grades = grader.grade_many(items, jobs=3)
    assert [g.question_id for g in grades] == [r.id for r, _ in items]
    by_rubric: dict[str, list[tuple[int, str]]] = {}
    for thread, rubric_id, answer in judge.calls:
        by_rubric.setdefault(rubric_id, []).append((thread, answer))
    for rubric_id, calls in by_rubric.items():
        assert len({thread for thread, _ in calls}) == 1, f"{rubric_id} was sent by two workers"
        sent = [answer for _, answer in calls]
        assert sent == [a for r, a in items if r.id == rubric_id]
    assert sorted(by_rubric) == ["q0", "q1", "q2"]
