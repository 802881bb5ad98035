"""Would "answers another question" work for a batch with --reference-col? Measured here.

Such a batch has no rubric set, only each row's question and reference answer, so the other
rows' references would be the questions to compare with. This grades mohler.csv and
ads-dev.csv that way: each answer against its own ad-hoc rubric, compared with the set's other
questions (near-duplicate questions, sharing half their words, left out as
benchmarks/calibrate.py does), at the shipped margin and larger ones, and counts the answers
flagged among those the human graders gave at least half marks (false alarms).

    nice .venv/bin/python benchmarks/other_question_adhoc.py
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from calibrate import other_questions
from datasets import DATASETS, load, memo_embedder

from evaluator.quality.agreement import rubrics_for
from evaluator.result import Flag
from evaluator.scoring.calibration import CALIBRATIONS
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings

EMBEDDER = "use-multilingual"
MARGINS = (CALIBRATIONS[EMBEDDER].other_question_margin or 0.15, 0.2, 0.25)


def main() -> None:
    embedder = memo_embedder(EMBEDDER, persist=True)
    print("| dataset | margin | flagged | of answers humans gave >= 50 % |")
    print("|---|---|---|---|")
    for name in DATASETS:
        rows = load(name)
        rubrics = rubrics_for(rows)
        others = other_questions(rubrics)
        by_rubric: dict[str, list[int]] = defaultdict(list)
        for i, rubric in enumerate(rubrics):
            by_rubric[rubric.id].append(i)
        good = np.array([r.human_fraction >= 0.5 for r in rows])
        for margin in MARGINS:
            flagged = np.zeros(len(rows), dtype=bool)
            for rid, indexes in by_rubric.items():
                grader = Grader(
                    embedder,
                    settings=Settings(use_cache=False),
                    calibration=CALIBRATIONS[EMBEDDER].model_copy(
                        update={"other_question_margin": margin}
                    ),
                    compare_with=others[rid],
                )
                grades = grader.grade_many([(rubrics[i], rows[i].answer) for i in indexes])
                for i, grade in zip(indexes, grades, strict=True):
                    flagged[i] = Flag.ANSWERS_OTHER_QUESTION in grade.flags
            print(
                f"| {name} | {margin} | {flagged.sum()} of {len(rows)} | "
                f"{(flagged & good).sum()} of {good.sum()} ({(flagged & good).mean() / good.mean():.1%}) |",
                flush=True,
            )
    embedder.save()


if __name__ == "__main__":
    main()
