"""How stable the bundled judge's grades are under edits that change nothing: each answer of a
fixed subset of ../shared/benchmarks/cases-dev.jsonl (judge_speed.py's) is graded as written and
again with its white space and punctuation perturbed (blank lines to two spaces, runs of spaces
doubled, full-width Chinese punctuation to ASCII and back). Reported: how often the score moves
by more than 10 points, the largest move, answers in their band, and the same for the
embedding-only grade; with `--recheck`, also with the consistency pass (settings.judge_recheck),
with the judge's reply tokens and time for both, which is what the pass costs.

Needs a running judge server (`scripts/judge-server start --slots 4`); cache off.

    nice .venv/bin/python benchmarks/judge_stability.py --base-url http://127.0.0.1:PORT/v1 --jobs 4
    nice .venv/bin/python benchmarks/judge_stability.py --base-url URL --jobs 4 --recheck
"""

from __future__ import annotations

import argparse
import re
import time

from datasets import DATA
from judge_speed import subset

from evaluator.judge.client import make_judge
from evaluator.quality.golden import read_golden
from evaluator.rubrics.io import load_rubrics
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings

MOVE = 10.0  # points: a move larger than this changes a band
_TO_ASCII = str.maketrans({"，": ",", "。": ".", "；": ";", "：": ":", "（": "(", "）": ")"})
_TO_WIDE = str.maketrans({",": "，", ";": "；", ":": "："})


def perturb(text: str) -> str:
    """The same answer, typed differently: spacing and punctuation only."""
    text = re.sub(r"\n\s*\n", "  ", text)
    text = re.sub(r" +", lambda m: m.group(0) * 2, text)
    has_cjk = re.search(r"[\u4e00-\u9fff]", text) is not None
    return text.translate(_TO_ASCII if has_cjk else _TO_WIDE) + " "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", default="judge")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--take", type=int, help="at most this many answers per level")
    parser.add_argument(
        "--recheck", action="store_true", help="also grade with the consistency pass"
    )
    parser.add_argument("--no-plain", action="store_true", help="skip the judge without it")
    args = parser.parse_args()
    rubrics = load_rubrics()
    cases = subset(read_golden(DATA / "cases-dev.jsonl"), args.take)
    settings = Settings(judge_model=args.model, judge_base_url=args.base_url, use_cache=False)
    items = [(rubrics.find(c.question), c.answer) for c in cases]
    perturbed = [(r, perturb(a)) for r, a in items]
    runs: list[tuple[str, bool | None]] = [("embedding only", None)]
    if not args.no_plain:
        runs.append(("with the judge", False))
    if args.recheck:
        runs.append(("with the judge, rechecked", True))
    for name, recheck in runs:
        run_settings = settings.model_copy(update={"judge_recheck": bool(recheck)})
        judge = None if recheck is None else make_judge(run_settings)
        grader = Grader(
            "use-multilingual", judge=judge, settings=run_settings, compare_with=rubrics
        )
        started = time.perf_counter()
        grades = grader.grade_many(items + perturbed, args.jobs)
        seconds = time.perf_counter() - started
        moves = [
            abs(a.score - b.score)
            for a, b in zip(grades[: len(items)], grades[len(items) :], strict=True)
        ]
        unscored = sum("judge_unscored" in g.flags for g in grades)
        in_band = sum(c.min <= g.score <= c.max for c, g in zip(cases * 2, grades, strict=True))
        tokens = sum((g.judge.completion_tokens or 0) for g in grades if g.judge)
        rechecked = sum(bool(g.judge.rechecked) for g in grades if g.judge)
        print(
            f"{name}: {len(items)} answers, score moved by more than {MOVE:g} for "
            f"{sum(m > MOVE for m in moves)}, largest move {max(moves):.1f}, "
            f"in band {in_band}/{len(grades)}, judge unscored {unscored}, "
            f"reply tokens {tokens}, grades rechecked {rechecked}, {seconds:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
