"""What judging one answer produced (`Judge.assess`), after its quotes were checked: the shared
vocabulary of the judge client, the consistency pass and the grader."""

from __future__ import annotations

from pydantic import BaseModel, Field

from evaluator.judge.reply import KeyPointJudgement
from evaluator.result import JudgeInfo, Verdict

__all__ = ["JudgeOutcome"]


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
