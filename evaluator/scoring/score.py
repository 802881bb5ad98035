"""Step 6 of grading: the score, on 0-100.

The weighted share of the key points' credit, mapped through the calibration's scale, less the
penalties of the misconceptions found, capped for an answer off topic or to another question,
clipped to 0-100; 0 for an empty answer.

The scale belongs to the embeddings (it corrects how they under-credit a stated point); a
judge's verdicts already sit on the rubric's scale (covered is the whole point). So with a judge
the score mixes the two shares, `judge_weight` of the judge's and the rest of the embeddings',
only the embeddings' scaled.
"""

from __future__ import annotations

import numpy as np

from evaluator.result import Flag, KeyPointResult, MisconceptionHit, Verdict
from evaluator.rubrics.model import Rubric
from evaluator.scoring.calibration import Calibration

VERDICT_CREDIT = {
    Verdict.COVERED: 1.0,
    Verdict.PARTIAL: 0.5,
    Verdict.MISSING: 0.0,
    Verdict.CONTRADICTED: 0.0,
}


def score(
    rubric: Rubric,
    results: list[KeyPointResult],
    misconceptions: list[MisconceptionHit],
    flags: list[Flag],
    cal: Calibration,
    judge_weight: float,
    said_anything: bool = True,
) -> float:
    """`said_anything`: the answer has units left (an empty one, or one made only of text
    addressed to the grader, scores 0)."""
    if not said_anything:
        return 0.0
    if not any(r.judge_verdict is not None for r in results):
        share = rubric.weighted_share({r.id: r.credit for r in results})
        value = 100 * cal.scaled(share)
    else:
        # A point the judge found contradicted or missing earns nothing from either side
        # (combine.py); the embeddings' share counts only the credit the combination kept.
        embedding = {
            r.id: 0.0
            if r.judge_verdict is not None and r.credit == 0
            else r.embedding_credit or 0.0
            for r in results
        }
        verdicts = {
            r.id: VERDICT_CREDIT[r.judge_verdict] for r in results if r.judge_verdict is not None
        }
        judge_share = rubric.weighted_share({**embedding, **verdicts})
        embedding_share = cal.scaled(rubric.weighted_share(embedding))
        value = 100 * (judge_weight * judge_share + (1 - judge_weight) * embedding_share)
    value -= sum(h.penalty for h in misconceptions)
    if Flag.OFF_TOPIC in flags or Flag.ANSWERS_OTHER_QUESTION in flags:
        value = min(value, cal.off_topic_cap)
    return round(float(np.clip(value, 0.0, 100.0)), 1)
