"""How long does grading one answer take, embedder loaded? Target: under 50 ms (2 cores).

Every answer of examples/answers.csv is graded one at a time (`Grader.grade`) against the curated
rubrics, embedding only, after a warm-up pass that loads the model and embeds the rubrics (a
real session keeps both: rubric vectors are cached on disk and in memory). Reports the median,
95th percentile and worst latency, answers per second when the same answers go through one
`grade_many` call, and the model's load time.

    nice .venv/bin/python benchmarks/speed.py                       # default embedder
    nice .venv/bin/python benchmarks/speed.py --embedder hashing --rounds 3

Exits 1 when the median misses the target.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time

from datasets import PROJECT

from evaluator.rubrics.io import load_rubrics
from evaluator.scoring.embedding.backends import get_embedder
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings

TARGET_MS = 50.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", default="use-multilingual")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the examples")
    args = parser.parse_args()

    rubrics = load_rubrics(PROJECT / "rubrics")
    with (PROJECT / "examples" / "answers.csv").open(encoding="utf-8", newline="") as fh:
        items = [(rubrics.find(r["question"]), r["answer"]) for r in csv.DictReader(fh)]

    started = time.perf_counter()
    embedder = get_embedder(args.embedder)
    embedder.encode(["warm up"])
    load_s = time.perf_counter() - started
    grader = Grader(embedder, settings=Settings(use_cache=False))
    for rubric, answer in items:  # warm-up: rubric vectors, caches, BLAS threads
        grader.grade(rubric, answer)

    latencies = []
    for _ in range(args.rounds):
        for rubric, answer in items:
            t = time.perf_counter()
            grader.grade(rubric, answer)
            latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    median = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]

    t = time.perf_counter()
    grader.grade_many(items)
    batch_rate = len(items) / (time.perf_counter() - t)

    chars = statistics.mean(len(a) for _, a in items)
    print(f"embedder {args.embedder}: model load {load_s:.1f} s")
    print(
        f"one answer at a time ({len(latencies)} gradings, mean {chars:.0f} characters): "
        f"median {median:.1f} ms, p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms "
        f"(target < {TARGET_MS:.0f} ms)"
    )
    print(f"one grade_many call over the {len(items)} answers: {batch_rate:.0f} answers/s")
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
