"""The bundled judge's speed and accuracy per reply style (`judge_style`): full, rationale,
compact. Accuracy per second is what matters on a CPU, where the reply is the main cost.

A fixed subset of ../shared/benchmarks/cases-dev.jsonl is graded with each style, cache off,
one request at a time, against a running judge server (start one with
`scripts/judge-server start`): every injection, offtopic and restate case, the first 8
misconception, the first 4 excellent and the first 4 partial cases (34 answers; injected
answers are judged twice, with and without their injection). Reported per style: seconds per
judge call, answers per minute, completion tokens per call, and answers in band per level.
`--jobs` sends that many requests at once (give the server as many slots: `scripts/judge-server
start --slots 4`); `--take` caps the subset per level for a quicker run.

    nice .venv/bin/python benchmarks/judge_speed.py --base-url http://127.0.0.1:PORT/v1
    nice .venv/bin/python benchmarks/judge_speed.py --base-url URL --style compact --style full
    nice .venv/bin/python benchmarks/judge_speed.py --base-url URL --style compact --jobs 1 --jobs 2 --jobs 4
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

from datasets import DATA

from evaluator.injection import injection_spans
from evaluator.judge.client import make_judge
from evaluator.quality.golden import GoldenCase, read_golden
from evaluator.rubrics.io import load_rubrics
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings

STYLES = ("full", "rationale", "compact")
TAKE = {
    "injection": 99,
    "offtopic": 99,
    "restate": 99,
    "misconception": 8,
    "excellent": 4,
    "partial": 4,
}


def subset(cases: list[GoldenCase], cap: int | None = None) -> list[GoldenCase]:
    taken: Counter[str] = Counter()
    out = []
    for case in cases:
        level = case.level or ""
        if taken[level] < min(TAKE.get(level, 0), cap or 99):
            taken[level] += 1
            out.append(case)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", default="judge")
    parser.add_argument("--style", action="append", choices=STYLES)
    parser.add_argument("--jobs", action="append", type=int, help="concurrent requests (repeat)")
    parser.add_argument("--take", type=int, help="at most this many answers per level")
    args = parser.parse_args()
    rubrics = load_rubrics()
    cases = subset(read_golden(DATA / "cases-dev.jsonl"), args.take)
    levels = list(dict.fromkeys(c.level or "" for c in cases))
    print(
        f"{len(cases)} answers: "
        + ", ".join(f"{lv} {sum(c.level == lv for c in cases)}" for lv in levels)
    )
    print(
        "| style | jobs | s / call | answers / min | tokens / call | calls | all in band | "
        + " | ".join(levels)
        + " |"
    )
    print("|---|---|---|---|---|---|---|" + "---|" * len(levels))
    for style, jobs in ((s, j) for s in args.style or STYLES for j in args.jobs or [1]):
        settings = Settings(
            judge_model=args.model, judge_base_url=args.base_url, judge_style=style, use_cache=False
        )
        judge = make_judge(settings)
        grader = Grader("use-multilingual", judge=judge, settings=settings, compare_with=rubrics)
        started = time.perf_counter()
        grades = grader.grade_many([(rubrics.find(c.question), c.answer) for c in cases], jobs)
        seconds = time.perf_counter() - started
        # Answers the detector flags are judged twice (with and without the injected text).
        calls = len(cases) + sum(bool(injection_spans(c.answer)) for c in cases)
        tokens = [
            g.judge.completion_tokens for g in grades if g.judge and g.judge.completion_tokens
        ]
        hit = [c.min <= g.score <= c.max for c, g in zip(cases, grades, strict=True)]
        per_level = [
            f"{sum(h for h, c in zip(hit, cases, strict=True) if c.level == lv)}/"
            f"{sum(c.level == lv for c in cases)}"
            for lv in levels
        ]
        print(
            f"| {style} | {jobs} | {seconds / calls:.1f} | {60 * len(cases) / seconds:.1f} | "
            f"{statistics.median(tokens) if tokens else 0:.0f} | "
            f"{calls} | {sum(hit)}/{len(cases)} | " + " | ".join(per_level) + " |",
            flush=True,
        )


if __name__ == "__main__":
    main()
