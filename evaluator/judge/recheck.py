"""The consistency pass: a second, short judge call on the key points where the judge gave
credit that the embeddings do not see, keeping the lower of its two verdicts.

At temperature 0 a small judge's verdict on a borderline point flips with the answer's
whitespace (benchmarks/judge_stability.py). Asked again about those points alone, a different
prompt, it gives a second reading; credit stands only when both readings give it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evaluator.result import Verdict

if TYPE_CHECKING:
    from evaluator.judge.outcome import JudgeOutcome
    from evaluator.rubrics.model import Rubric

# Lowest first: a contradiction outranks a plain miss as the stricter reading.
_ORDER = (Verdict.CONTRADICTED, Verdict.MISSING, Verdict.PARTIAL, Verdict.COVERED)


def narrowed(rubric: Rubric, ids: list[str]) -> Rubric:
    """The rubric with only the key points `ids`: no groups (each point is judged on its own)
    and no misconceptions (the first pass named them)."""
    keep = set(ids)
    points = [k for k in rubric.key_points if k.id in keep]
    return rubric.model_copy(update={"key_points": points, "groups": None, "misconceptions": []})


def keep_lower(first: JudgeOutcome, second: JudgeOutcome) -> JudgeOutcome:
    """`first` with each key point the second pass judged lower taken from it; the calls'
    time and tokens added up, and the rechecked points named in `info.rechecked`."""
    judgements = dict(first.judgements)
    for kp_id, again in second.judgements.items():
        before = judgements.get(kp_id)
        if before is not None and _ORDER.index(again.verdict) < _ORDER.index(before.verdict):
            judgements[kp_id] = again
    a, b = first.info, second.info
    prompt, completion = add_usage(
        (a.prompt_tokens, a.completion_tokens), (b.prompt_tokens, b.completion_tokens)
    )
    info = a.model_copy(
        update={
            "latency_ms": round(a.latency_ms + b.latency_ms, 1),
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "rechecked": sorted(second.judgements),
        }
    )
    reasons = list(dict.fromkeys(first.injection_reasons + second.injection_reasons))
    return first.model_copy(
        update={
            "judgements": judgements,
            "info": info,
            "injection_suspected": first.injection_suspected or second.injection_suspected,
            "injection_reasons": reasons,
        }
    )


def add_usage(
    a: tuple[int | None, int | None], b: tuple[int | None, int | None]
) -> tuple[int | None, int | None]:
    """Two calls' (prompt, completion) token counts added; None where neither server said."""

    def add(x: int | None, y: int | None) -> int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)

    return add(a[0], b[0]), add(a[1], b[1])
