"""Choose the evidence model's shape held out: question-split cross-validation on cases-dev.

`scale.py` fits the score scale to every band of cases-dev.jsonl, so its in-band counts are
in-sample. Here each shape (the shipped calibration with some fields changed) is graded once
without a scale; then, for five seeded splits of the 30 questions into halves, the scale is
fitted on one half's answers (scale.fit_scale, without the whole-set level floors) and the other
half is scored with it, and the other way round. Reported: answers in band per level on the
held-out halves, averaged over the five splits (each answer is held out once per split).

    nice .venv/bin/python benchmarks/scale_cv.py                            # the shipped shape
    nice .venv/bin/python benchmarks/scale_cv.py --shape knee_credit=0.75 --shape knee_credit=0.8
    nice .venv/bin/python benchmarks/scale_cv.py --splits 20 --knots 0,0.3,0.5,0.6,0.8,1
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np
import scale
from datasets import DATA, memo_embedder

from evaluator.quality.golden import read_golden
from evaluator.rubrics.io import load_rubrics
from evaluator.scoring.calibration import CALIBRATIONS, Calibration
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings

SPLITS = 5


def _shape(spec: str, base: Calibration) -> Calibration:
    """`base` with "field=value,field=value" applied (values read as JSON), scale removed."""
    update: dict[str, object] = {"scale": None}
    for part in filter(None, spec.split(",")):
        field, _, value = part.partition("=")
        update[field.strip()] = json.loads(value)
    return base.model_copy(update=update)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", default="use-multilingual")
    parser.add_argument(
        "--shape", action="append", default=[], help='fields to change, e.g. "knee_credit=0.8"'
    )
    parser.add_argument("--splits", type=int, default=SPLITS, help="seeded splits to average")
    parser.add_argument(
        "--knots", help="the scale's shares, e.g. 0,0.3,0.5,0.6,0.8,1 (default: scale.KNOTS)"
    )
    args = parser.parse_args()
    if args.knots:
        scale.KNOTS = tuple(float(k) for k in args.knots.split(","))
    embedder = memo_embedder(args.embedder, persist=True)
    rubrics = load_rubrics()
    cases = read_golden(DATA / "cases-dev.jsonl")
    pairs = [(rubrics.find(c.question), c.answer) for c in cases]
    questions = sorted({r.id for r, _ in pairs})
    base = CALIBRATIONS[args.embedder]
    scale.FLOORS = {}  # whole-set floors mean nothing on half the questions
    levels = list(dict.fromkeys(c.level or "" for c in cases))
    print("| shape | all | " + " | ".join(levels) + " |")
    print("|---|---|" + "---|" * len(levels))
    for spec in args.shape or [""]:
        shape = _shape(spec, base)
        grader = Grader(
            embedder, settings=Settings(use_cache=False), calibration=shape, compare_with=rubrics
        )
        graded = list(zip([r for r, _ in pairs], grader.grade_many(pairs), strict=True))
        in_band: Counter[str] = Counter()
        for seed in range(args.splits):
            order = np.random.RandomState(seed).permutation(len(questions))
            half = {questions[i] for i in order[: len(questions) // 2]}
            for fitted_on_half in (True, False):
                fit = [i for i, (r, _) in enumerate(pairs) if (r.id in half) == fitted_on_half]
                held = [i for i, (r, _) in enumerate(pairs) if (r.id in half) != fitted_on_half]
                values, _ = scale.fit_scale(
                    [cases[i] for i in fit], [graded[i] for i in fit], shape.off_topic_cap
                )
                scores = scale.scores([graded[i] for i in held], values, shape.off_topic_cap)
                for i, s in zip(held, scores, strict=True):
                    in_band[cases[i].level or ""] += bool(cases[i].min <= s <= cases[i].max)
        cells = [f"{in_band[level] / args.splits:.1f}" for level in levels]
        total = sum(in_band.values()) / args.splits
        print(f"| {spec or 'shipped'} | {total:.1f} | " + " | ".join(cells) + " |", flush=True)
    embedder.save()


if __name__ == "__main__":
    main()
