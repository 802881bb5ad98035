"""What the tests of the grader's steps (test_prepare.py ... test_forward_pass.py) share: the
distillation rubric of test_grader.py, a hashing-stub grader, an embedder that counts its calls
and a scripted judge. Test files never import each other, so it lives here."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from evaluator.judge.outcome import JudgeOutcome
from evaluator.judge.reply import KeyPointJudgement
from evaluator.result import JudgeInfo, Verdict
from evaluator.rubrics.model import KeyPoint, Misconception, Rubric
from evaluator.scoring.calibration import Calibration
from evaluator.scoring.embedding.backends import HashingEmbedder
from evaluator.scoring.evidence import Evidence, find_evidence
from evaluator.scoring.grader import Grader
from evaluator.scoring.prepare import Prepared, prepare
from evaluator.settings import Settings

# tests/scoring/test_grader.py's rubric and good answer.
RUBRIC = Rubric(
    id="t-q11",
    number=11,
    title="什么是模型蒸馏",
    question="什么是模型蒸馏？请解释其作用。",
    reference_answer="模型蒸馏用教师模型的软标签训练学生模型。学生模型更小更快。",
    key_points=[
        KeyPoint(id="k1", label="定义", text="用教师模型的软标签训练学生模型", weight=3),
        KeyPoint(id="k2", label="压缩", text="学生模型更小，推理更快", weight=1),
    ],
    misconceptions=[Misconception(id="m1", text="学生模型比教师模型更大", penalty=20)],
)
GOOD = "模型蒸馏就是用教师模型的软标签训练学生模型。学生模型更小，推理更快。"
# Asserts m1 in its first sentence, states k1 in its second.
WRONG_FIRST = "学生模型比教师模型更大。用教师模型的软标签训练学生模型。"
INFO = JudgeInfo(model="scripted", base_url="http://127.0.0.1:1/v1", prompt_version="t")


def grader(
    judge: object | None = None,
    *,
    embedder: Any = "hashing",
    calibration: Calibration | None = None,
    compare_with: Sequence[Rubric] = (),
    **settings: Any,
) -> Grader:
    """The hashing stub (or `embedder`), no cache, `settings` on top."""
    return Grader(
        embedder,
        judge=judge,  # type: ignore[arg-type]
        settings=Settings(use_cache=False, **settings),
        calibration=calibration,
        compare_with=compare_with,
    )


def seen(
    g: Grader, rubric: Rubric, answer: str, cal: Calibration | None = None
) -> tuple[Prepared, Evidence]:
    """Steps 1-3 for one answer, through `g`'s encoder, with `cal` (default: `g`'s)."""
    p = prepare(rubric, answer)
    [vectors] = g.encoder.answers([p])
    return p, find_evidence(p, vectors, g.encoder.rubric(rubric), cal or g.calibration, g.topics())


class CountingEmbedder:
    """The hashing embedder, recording the texts of every `encode` call."""

    def __init__(self, dim: int = 1024) -> None:
        self.inner = HashingEmbedder(dim)
        self.name = self.inner.name
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self.lock:
            self.calls.append(list(texts))
        return self.inner.encode(texts)

    @property
    def texts(self) -> list[str]:
        """Every text encoded, each as often as it went through."""
        return [t for call in self.calls for t in call]


def outcome(
    verdicts: dict[str, Verdict],
    evidence: dict[str, str | None] | None = None,
    *,
    misconceptions: Sequence[str] = (),
    injection: bool = False,
    reason: str | None = "r",
    latency_ms: float = 0.0,
) -> JudgeOutcome:
    """A judge's outcome: `verdicts` by key point id, each quoting `evidence[id]` (or nothing)."""
    quotes = evidence or {}
    return JudgeOutcome(
        judgements={
            k: KeyPointJudgement(id=k, verdict=v, evidence=quotes.get(k), reason=reason)
            for k, v in verdicts.items()
        },
        misconceptions=list(misconceptions),
        injection_suspected=injection,
        info=INFO.model_copy(update={"latency_ms": latency_ms}),
    )


class FakeJudge:
    """Stands in for evaluator.judge.client.Judge (duck-typed `assess` and `recheck`).

    `assess` returns `verdicts(rubric, answer)` quoting `quote(answer)` for every point, or
    raises `error`; `recheck` returns `second` for the points asked about. Records every call
    with the thread it ran on."""

    def __init__(
        self,
        verdicts: dict[str, Verdict] | Callable[[Rubric, str], dict[str, Verdict]] | None = None,
        *,
        quote: Callable[[str], str | None] = lambda answer: answer[:10],
        misconceptions: Sequence[str] = (),
        error: BaseException | None = None,
        second: dict[str, Verdict] | None = None,
        recheck_error: BaseException | None = None,
        before: Callable[[Rubric, str], None] | None = None,
    ) -> None:
        self.verdicts = verdicts or {}
        self.quote, self.misconceptions = quote, list(misconceptions)
        self.error, self.second, self.recheck_error = error, second or {}, recheck_error
        self.before = before
        self.assessed: list[tuple[str, str, int]] = []  # (rubric id, answer, thread id)
        self.rechecked: list[tuple[str, str, list[str]]] = []  # (rubric id, answer, ids)
        self.lock = threading.Lock()

    def assess(self, rubric: Rubric, answer: str) -> JudgeOutcome:
        with self.lock:
            self.assessed.append((rubric.id, answer, threading.get_ident()))
        if self.before is not None:
            self.before(rubric, answer)
        if self.error is not None:
            raise self.error
        verdicts = self.verdicts(rubric, answer) if callable(self.verdicts) else self.verdicts
        quote = self.quote(answer)
        return outcome(verdicts, dict.fromkeys(verdicts, quote), misconceptions=self.misconceptions)

    def recheck(self, rubric: Rubric, answer: str, ids: list[str]) -> JudgeOutcome:
        with self.lock:
            self.rechecked.append((rubric.id, answer, list(ids)))
        if self.recheck_error is not None:
            raise self.recheck_error
        return outcome({i: v for i, v in self.second.items() if i in ids})
