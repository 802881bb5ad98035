"""Agreement with human graders, through the same code as `evaluator agreement`.

For each dataset in ../shared/benchmarks and each embedder: every answer graded by the Grader
(embedding only, shipped calibration, ad-hoc rubric per question), compared with the human
scores (Pearson, Spearman, RMSE on 0-1, QWK), next to the naive baseline (whole-answer cosine
with the reference answer, same model, same rows).

These figures are in-sample for the shipped calibration (it was fitted on all rows of these
sets); the honest held-out figures come from benchmarks/calibrate.py.

    nice .venv/bin/python benchmarks/agreement.py                        # default embedder
    nice .venv/bin/python benchmarks/agreement.py --embedder hashing --embedder use-multilingual
"""

from __future__ import annotations

import argparse
import time

from datasets import DATASETS, load, memo_embedder, naive_cosines

from evaluator.quality.agreement import pearson, run, spearman
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", action="append", help="repeatable; default use-multilingual")
    parser.add_argument("--dataset", action="append", choices=DATASETS)
    args = parser.parse_args()
    print(
        "| embedder | dataset | n | Pearson | Spearman | RMSE | QWK | naive Pearson "
        "| naive Spearman | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.embedder or ["use-multilingual"]:
        embedder = memo_embedder(name)
        for dataset in args.dataset or DATASETS:
            rows = load(dataset)
            started = time.perf_counter()
            grader = Grader(embedder, settings=Settings(use_cache=False))
            _, report = run(rows, grader)
            seconds = time.perf_counter() - started
            naive = naive_cosines(embedder, rows)
            humans = [r.human_fraction for r in rows]
            print(
                f"| {name} | {dataset} | {report.n} | {_f(report.pearson)} | "
                f"{_f(report.spearman)} | {_f(report.rmse)} | {_f(report.qwk)} | "
                f"{pearson(naive, humans):.3f} | {spearman(naive, humans):.3f} | {seconds:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
