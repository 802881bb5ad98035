"""Where to set the misconception thresholds: every sentence and clause of the dev set's answers
near a listed misconception, by level.

Each claim (an answer sentence, or a comma-separated clause of one) is compared with its
question's misconceptions the way `coverage.misconception_matches` compares them: similarity to
the misconception, margin over the claim's best key point, and whether it repeats a word of the
misconception that the question does not use (`Grader._claim_words`). Listed: the claims in a
similarity window with at least a margin, so a threshold's false positives (claims outside the
misconception answers) show next to what it catches. In-sample: the thresholds were set here.

    nice .venv/bin/python benchmarks/misconception_scan.py                  # 0.60-0.70, margin 0.10
    nice .venv/bin/python benchmarks/misconception_scan.py --low 0.55 --margin 0.05 --all
"""

from __future__ import annotations

import argparse
import json

from datasets import DATA

from evaluator.rubrics.io import load_rubrics
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from evaluator.text import embedding_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--low", type=float, default=0.60, help="least similarity listed")
    parser.add_argument("--high", type=float, default=0.70, help="similarity listed below this")
    parser.add_argument("--margin", type=float, default=0.10, help="least margin over key points")
    parser.add_argument(
        "--all", action="store_true", help="also claims without the misconception's own words"
    )
    args = parser.parse_args()
    rubrics = list(load_rubrics())
    grader = Grader(settings=Settings(use_cache=False), compare_with=rubrics)
    by_number = {r.number: r for r in rubrics}
    with (DATA / "cases-dev.jsonl").open(encoding="utf-8") as fh:
        cases = [json.loads(line) for line in fh if line.strip()]
    found: dict[bool, int] = {True: 0, False: 0}
    print("| level | case | claim | misconception | similarity | margin | own words | text |")
    print("|---|---|---|---|---|---|---|---|")
    for case in cases:
        rubric = by_number[case["question"]]
        prepared = grader._prepare(rubric, case["answer"])
        if not rubric.misconceptions or not prepared.units:
            continue
        claims = prepared.units + prepared.clauses
        vectors = grader.embedder.encode([embedding_text(c) for c in claims])
        rv = grader._rubric_vectors(rubric)
        similarity = rv.misconceptions @ vectors.T
        margin = similarity - (rv.key_points @ vectors.T).max(axis=0)
        worded = grader._claim_words(rubric, claims)
        for m, mis in enumerate(rubric.misconceptions):
            for j, claim in enumerate(claims):
                s = float(similarity[m, j])
                if not (args.low <= s < args.high and margin[m, j] >= args.margin):
                    continue
                if not (worded[m, j] or args.all):
                    continue
                kind = "sentence" if j < len(prepared.units) else "clause"
                found[case["level"] == "misconception"] += 1
                print(
                    f"| {case['level']} | {case['case']} | {kind} | {mis.id} | {s:.2f} "
                    f"| {margin[m, j]:.2f} | {'yes' if worded[m, j] else 'no'} | {claim[:40]} |"
                )
    print(
        f"\n{found[True]} claims in misconception answers, {found[False]} in others "
        f"(similarity {args.low:.2f}-{args.high:.2f}, margin >= {args.margin:.2f})"
    )


if __name__ == "__main__":
    main()
