"""Step 5 of grading (with a judge): the judge's verdicts combined with the embeddings' credit.

Per key point the judge judged: the weighted mean of its verdict and the embeddings' credit
(`judge_weight`); a point it finds contradicted or missing earns nothing from either side. A
covered/partial verdict stands only when the answer's words support it (`supported`), and
never when the judge quotes a sentence that asserts a listed misconception. The judge's
misconceptions are added to the ones the embeddings matched word for word.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evaluator.judge.grounding import quotes_claim
from evaluator.judge.outcome import JudgeOutcome
from evaluator.result import KeyPointResult, MisconceptionHit, Status, Verdict
from evaluator.rubrics.model import Rubric
from evaluator.scoring import coverage
from evaluator.scoring.calibration import Calibration
from evaluator.scoring.encode import RubricVectors
from evaluator.scoring.evidence import status
from evaluator.scoring.score import VERDICT_CREDIT
from evaluator.text import content_tokens, detect_language

# Why a judge's covered/partial verdict is replaced by missing.
UNSUPPORTED = "no words of the answer state this key point; the judge's verdict was not kept"
WRONG_QUOTE = "the quoted words assert a listed misconception; the judge's verdict was not kept"
# Said of a point the judge found missing where the embeddings gave some credit.
OVERRULED = "the judge found this point missing; the embeddings' credit for it was not kept"


def supported(
    rubric: Rubric,
    rv: RubricVectors,
    result: KeyPointResult,
    quote: str | None,
    quotes: dict[str, np.ndarray],
    cal: Calibration,
) -> bool:
    """Whether a covered/partial verdict has the answer's words behind it: the embeddings see
    the point themselves, or the judge's quote (copied from the answer) states it as an answer
    sentence would. A judge talked into "all covered", or fooled by an answer to another
    question in the same vocabulary, quotes words that state no key point."""
    if cal.judge_quote is None or (result.embedding_credit or 0.0) >= cal.partial:
        return True
    if not quote or quote not in quotes:
        return False
    k = next(i for i, kp in enumerate(rubric.key_points) if kp.id == result.id)
    # The quote as a one-sentence answer: its evidence for every key point, so that a quote
    # stating another point (the concept, quoted for "robustness") is discounted for this one.
    sims = coverage.similarity_matrix(rv.key_points, quotes[quote][None, :], question=rv.topic[0])
    recall = coverage.candidate_recall(
        [coverage.wordings(kp.text) for kp in rubric.key_points],
        [content_tokens(quote)],
        content_tokens(rubric.question),
    )
    found = coverage.key_point_evidence(
        sims, recall, cal,
        cross_language=detect_language(quote) != rubric.language,
        distinct=not rubric.from_reference,
    )  # fmt: skip
    return float(found.strength[k]) >= cal.judge_quote


def combine(
    rubric: Rubric,
    rv: RubricVectors,
    results: list[KeyPointResult],
    embedding_hits: list[MisconceptionHit],
    outcome: JudgeOutcome,
    quotes: dict[str, np.ndarray],
    wrong_sentences: Sequence[str],
    cal: Calibration,
    judge_weight: float,
) -> tuple[list[KeyPointResult], list[MisconceptionHit]]:
    """The key points' combined credit, and every misconception found by either side."""
    w = judge_weight
    combined = []
    for r in results:
        j = outcome.judgements.get(r.id)
        if j is None:  # not judged: embedding credit stands
            combined.append(r)
            continue
        reason = None  # why we downgrade the judge's covered/partial, if we do
        if j.verdict in (Verdict.COVERED, Verdict.PARTIAL):
            if j.evidence and any(quotes_claim(j.evidence, c) for c in wrong_sentences):
                reason = WRONG_QUOTE
            elif not supported(rubric, rv, r, j.evidence, quotes, cal):
                reason = UNSUPPORTED
            if reason:
                j = j.model_copy(
                    update={"verdict": Verdict.MISSING, "reason": f"{reason} ({j.verdict.value})"}
                )
        if j.verdict == Verdict.CONTRADICTED:
            credit, state = 0.0, Status.CONTRADICTED
        elif j.verdict == Verdict.MISSING and reason is None:
            # The judge read the answer and found the point absent: embedding credit there comes
            # from shared words ("right words, wrong claim"), so it is not kept. Our own
            # downgrades above leave the embeddings' credit as it was.
            credit, state = 0.0, Status.MISSED
            if (r.embedding_credit or 0.0) > 0:
                said = f": {j.reason}" if j.reason else ""
                j = j.model_copy(update={"reason": OVERRULED + said})
        else:
            credit = w * VERDICT_CREDIT[j.verdict] + (1 - w) * (r.embedding_credit or 0.0)
            state = status(credit, cal)
        combined.append(
            r.model_copy(
                update={
                    "credit": credit,
                    "status": state,
                    "judge_verdict": j.verdict,
                    "judge_evidence": j.evidence,
                    "judge_reason": j.reason,
                }
            )
        )
    # The judge's misconceptions, plus the embedding matches it did not name: a small judge
    # misses claims that the (strict) embedding match finds word for word.
    by_id = {m.id: m for m in rubric.misconceptions}
    hits = [
        MisconceptionHit(id=i, text=by_id[i].text, penalty=by_id[i].penalty, source="judge")
        for i in dict.fromkeys(outcome.misconceptions)
        if i in by_id
    ]
    named = {h.id for h in hits}
    return combined, hits + [h for h in embedding_hits if h.id not in named]
