"""What judging one answer produced (`Judge.assess`), after its quotes were checked: the shared
vocabulary of the judge client, the consistency pass and the grader; and `judged`, which makes
one from a parsed reply.

The reply is taken as the judge's claim about the rubric it was given: verdicts for key points
the rubric does not have are ignored (and named in `JudgeInfo`), a second verdict for an id is
dropped, misconceptions the rubric does not list are dropped, and every verdict's quote is
checked against the answer (`grounding`), more strictly when the answer seems to instruct the
grader (`injection`).
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, Field

from evaluator.injection import injection_reasons, injection_spans
from evaluator.judge.grounding import checked_judgement
from evaluator.judge.reply import JudgeReply, KeyPointJudgement
from evaluator.result import JudgeInfo, Verdict
from evaluator.rubrics.model import Rubric

__all__ = ["JudgeOutcome", "judged"]

log = logging.getLogger(__name__)


class JudgeOutcome(BaseModel):
    """What `Judge.assess` returns: the verdicts after grounding, and any injection suspicion."""

    judgements: dict[str, KeyPointJudgement]  # by key point id; only key points the judge judged
    # The verdicts exactly as the judge wrote them, before quote grounding could lower them:
    # what the model itself made of the answer.
    raw_verdicts: dict[str, Verdict] = Field(default_factory=dict)
    misconceptions: list[str] = Field(default_factory=list)  # ids the answer asserts
    comment: str | None = None
    # The detector found text addressed to the grader: the answer is flagged possible_injection.
    injection_suspected: bool = False
    # The detector's findings, then the judge's own "instructs the grader" if it said so: either
    # makes a covered/partial verdict need a real quote about the key point (grounding.py).
    injection_reasons: list[str] = Field(default_factory=list)
    not_judged: list[str] = Field(default_factory=list)  # rubric key points the reply skipped
    info: JudgeInfo


def judged(rubric: Rubric, answer: str, reply: JudgeReply, info: JudgeInfo) -> JudgeOutcome:
    """The outcome of `reply` to judging `answer` against `rubric`; `info` (how the reply was
    got) is completed with the reply's comment and the key point ids it ignored."""
    texts = {k.id: k.text for k in rubric.key_points}
    spans = injection_spans(answer)
    # The judge's claim alone tightens the quote check but flags nothing: the bundled 1.5B
    # judge says it of "不知道", "略" and honest wrong answers (11 of the 152 dev answers
    # without an injection, against none for the detector, which finds all 6 with one).
    reasons = injection_reasons(spans, judge_says=reply.instructs_grader)
    injections = [span for _, span in spans]
    judgements: dict[str, KeyPointJudgement] = {}
    raw_verdicts: dict[str, Verdict] = {}
    ignored: list[str] = []
    for kp in reply.key_points:
        if kp.id not in texts:
            if kp.id not in ignored:
                ignored.append(kp.id)
            continue
        if kp.id in judgements:
            continue  # the first verdict for an id counts
        raw_verdicts[kp.id] = kp.verdict
        judgements[kp.id] = checked_judgement(kp, answer, texts[kp.id], bool(reasons), injections)
    misconception_ids = {m.id for m in rubric.misconceptions}
    asserted = list(dict.fromkeys(m for m in reply.misconceptions if m in misconception_ids))
    comment = reply.comment.strip() or None
    info.comment = comment
    info.ignored_key_points = ignored
    if ignored:
        log.info("judge %s: ignored verdicts for unknown key points %s", info.model, ignored)
    return JudgeOutcome(
        judgements=judgements,
        raw_verdicts=raw_verdicts,
        misconceptions=asserted,
        comment=comment,
        injection_suspected=bool(spans),
        injection_reasons=reasons,
        not_judged=[k for k in texts if k not in judgements],
        info=info,
    )
