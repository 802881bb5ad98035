"""Where to set `judge_quote`: the evidence a judge's quote needs to support a verdict.

Every sentence of the dev set's answers is treated as a quote, scored for every key point of its
question the way `Grader._supported` scores a judge's quote (question direction removed, recall
in the quote, written rubric: key points compete, filler states nothing). Reported: for
sentences that state a point (excellent and partial answers, best evidence above 0.5), how
often the stated point clears each threshold and how often a second point does too; and for
sentences of answers to other questions and restatements, the high percentiles.

    nice .venv/bin/python benchmarks/judge_support.py
"""

from __future__ import annotations

import json

import numpy as np
from datasets import DATA, memo_embedder

from evaluator.rubrics.io import load_rubrics
from evaluator.scoring import coverage
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from evaluator.text import content_tokens, split_units

THRESHOLDS = (0.5, 0.6, 0.7)


def main() -> None:
    rubrics = load_rubrics()
    grader = Grader(
        memo_embedder("use-multilingual", persist=True), settings=Settings(use_cache=False)
    )
    stated: list[float] = []
    second: list[float] = []
    unrelated: list[float] = []
    with (DATA / "cases-dev.jsonl").open(encoding="utf-8") as fh:
        cases = [json.loads(line) for line in fh if line.strip()]
    for case in cases:
        if case["level"] not in ("excellent", "partial", "offtopic", "restate"):
            continue
        rubric = rubrics.find(str(case["question"]))
        vectors = grader._rubric_vectors(rubric)
        units = split_units(case["answer"])
        if not units:
            continue
        encoded = grader.embedder.encode(units)
        for unit, vector in zip(units, encoded, strict=True):
            sims = coverage.similarity_matrix(
                vectors.key_points, vector[None, :], question=vectors.topic[0]
            )
            recall = coverage.candidate_recall(
                [coverage.wordings(k.text) for k in rubric.key_points],
                [content_tokens(unit)],
                content_tokens(rubric.question),
            )
            e = np.sort(coverage.key_point_evidence(sims, recall, grader.calibration).strength)
            if case["level"] in ("offtopic", "restate"):
                unrelated.extend(e.tolist())
            elif e[-1] > 0.5:
                stated.append(float(e[-1]))
                second.append(float(e[-2]) if len(e) > 1 else 0.0)
    print(
        f"{len(stated)} sentences that state a point; {len(unrelated)} (sentence, point) pairs "
        "from answers to other questions and restatements"
    )
    print("| threshold | stated point clears it | a second point clears it too |")
    print("|---|---|---|")
    for t in THRESHOLDS:
        print(
            f"| {t} | {np.mean(np.array(stated) >= t):.1%} | {np.mean(np.array(second) >= t):.1%} |"
        )
    print(
        f"other questions / restatements: 99th percentile {np.percentile(unrelated, 99):.2f}, "
        f"max {max(unrelated):.2f}"
    )
    grader.embedder.save()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
