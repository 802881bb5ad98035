"""Step 4 of grading (with a judge): every answer judged, concurrently, then the consistency
pass.

Requests go out in up to `jobs` threads, one rubric's requests back to back by one worker (they
share the prompt's static prefix, which the server then reads once: judge.order), and they go
out before the answers are encoded, so their network wait overlaps the embedding work
(`JudgeRun`). A judge that fails gives an unscored outcome (a JudgeError) and the answer is
graded by the embeddings alone; any other exception from it is taken for one too, its
traceback logged at debug level only. With `judge_recheck`, the key points the judge credits
well beyond the embeddings are asked again and the lower verdict stands (`recheck`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING

from evaluator.errors import JudgeError
from evaluator.judge.order import prefix_runs
from evaluator.judge.outcome import JudgeOutcome
from evaluator.judge.recheck import keep_lower
from evaluator.result import KeyPointResult, Verdict
from evaluator.scoring.prepare import Prepared
from evaluator.scoring.score import VERDICT_CREDIT
from evaluator.settings import Settings
from evaluator.text import one_line

if TYPE_CHECKING:
    from evaluator.judge.client import Judge

log = logging.getLogger(__name__)

Outcome = JudgeOutcome | JudgeError | None  # None: not judged (no judge, or an empty answer)

# The consistency pass asks again about a key point whose judge credit exceeds its embedding
# credit by this much: covered where the embeddings see less than half of it, partial where
# they see nothing.
RECHECK_GAP = 0.5


def unexpected(exc: Exception, settings: Settings) -> JudgeError:
    """An exception the judge should not have raised, as the one-line JudgeError it stands for
    (never with the API key); the traceback goes to the debug log only."""
    from evaluator.judge.wording import redacted

    log.debug("the judge failed unexpectedly", exc_info=exc)
    what = redacted(one_line(f"{type(exc).__name__}: {exc}", 200), settings)
    return JudgeError(f"the judge failed unexpectedly ({what})")


def judge_one(judge: Judge, p: Prepared, settings: Settings) -> JudgeOutcome | JudgeError:
    try:
        return judge.assess(p.rubric, p.answer)
    except JudgeError as exc:
        if settings.require_judge:
            raise
        return exc
    except Exception as exc:  # a bug in the judge must not sink the grade: it is unscored
        error = unexpected(exc, settings)
        if settings.require_judge:
            raise error from None
        return error


class JudgeRun:
    """The judge's requests for a batch of answers, sent on entering; `outcomes()` waits for
    them. Without a judge, every outcome is None."""

    def __init__(
        self, judge: Judge | None, answers: Sequence[Prepared], jobs: int, settings: Settings
    ) -> None:
        self.judge, self.answers, self.jobs, self.settings = judge, answers, jobs, settings
        todo = [i for i, p in enumerate(answers) if p.units] if judge is not None else []
        self._runs = [
            [todo[n] for n in run]
            for run in prefix_runs([answers[i].rubric.id for i in todo], jobs)
        ]
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Future[list[JudgeOutcome | JudgeError]]] = []

    def __enter__(self) -> JudgeRun:
        if self._runs:
            assert self.judge is not None
            judge = self.judge
            self._pool = ThreadPoolExecutor(max_workers=max(1, min(self.jobs, len(self._runs))))
            self._futures = [
                self._pool.submit(self._judge_run, judge, [self.answers[i] for i in run])
                for run in self._runs
            ]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=kind is not None)

    def _judge_run(self, judge: Judge, run: list[Prepared]) -> list[JudgeOutcome | JudgeError]:
        return [judge_one(judge, p, self.settings) for p in run]

    def outcomes(self) -> list[Outcome]:
        found: list[Outcome] = [None] * len(self.answers)
        for run, future in zip(self._runs, self._futures, strict=True):
            for i, outcome in zip(run, future.result(), strict=True):
                found[i] = outcome
        return found


def quoted(outcomes: Iterable[Outcome]) -> set[str]:
    """The judges' quotes for covered and partial verdicts: what `combine.supported` checks."""
    return {
        j.evidence
        for o in outcomes
        if isinstance(o, JudgeOutcome)
        for j in o.judgements.values()
        if j.evidence and j.verdict in (Verdict.COVERED, Verdict.PARTIAL)
    }


def recheck(
    judge: Judge,
    answers: Sequence[Prepared],
    results: Sequence[list[KeyPointResult]],
    outcomes: list[Outcome],
    is_supported: Callable[[int, KeyPointResult, str | None], bool],
    jobs: int,
    settings: Settings,
) -> bool:
    """The consistency pass, in place on `outcomes`: each answer's key points that the judge
    credits, with a quote that `is_supported(answer index, result, quote)`, while the
    embeddings (`results`) give at least RECHECK_GAP less, are judged again, and the lower
    verdict stands. A recheck that fails leaves the first verdicts. True when any answer was
    asked again."""
    todo: dict[int, list[str]] = {}
    for i, outcome in enumerate(outcomes):
        if not isinstance(outcome, JudgeOutcome):
            continue
        ids = [
            r.id
            for r in results[i]
            if (j := outcome.judgements.get(r.id)) is not None
            and VERDICT_CREDIT[j.verdict] - (r.embedding_credit or 0.0) >= RECHECK_GAP
            and is_supported(i, r, j.evidence)
        ]
        if ids:
            todo[i] = ids
    if not todo:
        return False
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(todo)))) as pool:
        futures = {
            i: pool.submit(judge.recheck, answers[i].rubric, answers[i].answer, ids)
            for i, ids in todo.items()
        }
        for i, future in futures.items():
            try:
                second = future.result()
            except Exception as exc:  # a second opinion that never came changes nothing
                if not isinstance(exc, JudgeError):
                    unexpected(exc, settings)
                continue
            first = outcomes[i]
            assert isinstance(first, JudgeOutcome)
            outcomes[i] = keep_lower(first, second)
    return True
