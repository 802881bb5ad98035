"""Step 7 of grading: the `Grade`, from one answer's evidence and its judge outcome.

It takes the embeddings' key-point credit (evidence.key_point_results), combines it with the
judge's verdicts when there are any (combine.py), says which method graded and why, sets the
flags, leaves a "pick k" group's surplus uncounted, scores (score.py), and writes the feedback.
"""

from __future__ import annotations

import time

import numpy as np

from evaluator.errors import JudgeError
from evaluator.judge.outcome import JudgeOutcome
from evaluator.result import Flag, Grade, band_for
from evaluator.scoring import feedback
from evaluator.scoring.calibration import Calibration
from evaluator.scoring.combine import combine
from evaluator.scoring.encode import RubricVectors
from evaluator.scoring.evidence import Evidence, asserts, key_point_results
from evaluator.scoring.prepare import Prepared
from evaluator.scoring.score import score


def assemble(
    p: Prepared,
    ev: Evidence,
    outcome: JudgeOutcome | JudgeError | None,
    *,
    rv: RubricVectors,
    cal: Calibration,
    judge_weight: float,
    quotes: dict[str, np.ndarray],
    embedder: str,
    has_judge: bool,
    embed_ms: float,
) -> Grade:
    started = time.perf_counter()
    rubric = p.rubric
    flags = list(ev.flags)
    results = key_point_results(p, ev, cal)
    mis_hits = ev.misconceptions
    judge_info = None
    if not isinstance(outcome, JudgeOutcome):
        method, flags = "embedding", [*flags, Flag.EMBEDDING_ONLY]
        if outcome is None:
            reason = "answer is empty" if has_judge else "no judge configured"
        else:
            reason = f"judge unscored ({outcome}); graded by embeddings alone"
            flags.append(Flag.JUDGE_UNSCORED)
    else:
        method, reason = "embedding+judge", "judge and embeddings combined"
        # As without a judge, the sentences asserting a misconception earn nothing.
        wrong = [u for u, bad in zip(p.units, asserts(p.units, mis_hits), strict=True) if bad]
        results, mis_hits = combine(
            rubric, rv, results, mis_hits, outcome, quotes, wrong, cal, judge_weight
        )
        judge_info = outcome.info
        if outcome.injection_suspected:
            flags.append(Flag.POSSIBLE_INJECTION)
    if p.injected and Flag.POSSIBLE_INJECTION not in flags:
        flags.append(Flag.POSSIBLE_INJECTION)
    if mis_hits:
        flags.append(Flag.MISCONCEPTION)
    # "List three": a group's items beyond the best `pick` are not needed.
    surplus = rubric.not_needed({r.id: r.credit for r in results})
    if surplus:
        results = [r.model_copy(update={"counted": r.id not in surplus}) for r in results]
    value = score(rubric, results, mis_hits, flags, cal, judge_weight, said_anything=bool(p.units))
    timings = {"embed_ms": round(embed_ms, 2)}
    if judge_info is not None:
        timings["judge_ms"] = round(judge_info.latency_ms, 1)
    timings["score_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return Grade(
        question_id=rubric.id,
        question_number=rubric.number,
        question_title=rubric.title,
        score=value,
        band=band_for(value),
        method=method,
        method_reason=reason,
        key_points=results,
        misconceptions=mis_hits,
        flags=flags,
        feedback=feedback.compose(
            rubric.language, results, mis_hits, flags, answers_other=ev.answers_other
        ),
        embedder=embedder,
        judge=judge_info,
        timings_ms=timings,
        topicality=round(ev.topicality, 4),
        answers_other=ev.answers_other,
    )
