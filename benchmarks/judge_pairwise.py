"""Can the bundled judge tell a right statement from a wrong one, one pair at a time? A probe
for issue #13's misconception target, kept because it answers "why not ask the judge per key
point?" with a number.

For every dev answer of the levels below, each key point the embeddings credit (credit >= 0.35)
is shown to the judge next to the answer's evidence sentence: "标准说法 / 学生说法: 意思相同还是
不同？", one token, temperature 0. The score is P(相同) / (P(相同) + P(不同)) from the top log
probabilities (the bare reply is the same word for every pair). Reported per level, and the AUC
of "a good answer's pair scores higher than a misconception answer's pair": 0.5 is chance.

Needs a running judge server (`scripts/judge-server start`); nothing else on the CPU meanwhile.

    nice .venv/bin/python benchmarks/judge_pairwise.py --base-url http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from datasets import DATA
from openai import OpenAI

from evaluator.quality.golden import read_golden
from evaluator.rubrics.io import load_rubrics
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings

LEVELS = ("excellent", "good-with-extras", "partial", "misconception")
CREDITED = 0.35  # the "partial" status boundary of the default calibration
CUT = 0.1  # a cut that would call a pair wrong, to show what it would cost
SYSTEM = (
    "比较两句话的意思。只回答“相同”或“不同”。"
    "如果学生的说法与标准说法矛盾、方向相反、对象弄错或机制不同，回答“不同”。"
)


def same_probability(client: OpenAI, model: str, reference: str, statement: str) -> float:
    reply = client.chat.completions.create(
        model=model,
        temperature=0,
        max_tokens=1,
        logprobs=True,
        top_logprobs=10,
        messages=[
            {"role": "system", "content": SYSTEM},
            {
                "role": "user",
                "content": f"标准说法：{reference}\n学生说法：{statement}\n意思相同还是不同？",
            },
        ],
    )
    logprobs = reply.choices[0].logprobs
    top = logprobs.content[0].top_logprobs if logprobs and logprobs.content else []
    same = sum(math.exp(t.logprob) for t in top if t.token.strip().startswith("相"))
    differ = sum(math.exp(t.logprob) for t in top if t.token.strip().startswith("不"))
    return same / (same + differ) if same + differ else 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", default="judge")
    args = parser.parse_args()
    client = OpenAI(base_url=args.base_url, api_key="not-needed")
    rubrics = load_rubrics()
    grader = Grader("use-multilingual", settings=Settings(use_cache=False), compare_with=rubrics)
    scores: dict[str, list[float]] = {level: [] for level in LEVELS}
    started = time.perf_counter()
    for case in read_golden(DATA / "cases-dev.jsonl"):
        if case.level not in scores:
            continue
        rubric = rubrics.find(case.question)
        grade = grader.grade(rubric, case.answer)
        for seen, point in zip(grade.key_points, rubric.key_points, strict=True):
            if seen.evidence and (seen.credit or 0) >= CREDITED:
                p = same_probability(client, args.model, point.text, seen.evidence)
                scores[case.level].append(p)
    for level, ps in scores.items():
        if ps:
            q = statistics.quantiles(ps, n=4)
            print(
                f"{level:18} pairs {len(ps):4}  P(相同) quartiles {q[0]:.3f} {q[1]:.3f} {q[2]:.3f}"
            )
    good = scores["excellent"] + scores["good-with-extras"]
    wrong = scores["misconception"]
    if good and wrong:
        wins = sum((g > w) + 0.5 * (g == w) for g in good for w in wrong)
        print(f"AUC good > misconception: {wins / (len(good) * len(wrong)):.3f}")
        cut = sum(w < CUT for w in wrong), sum(g < CUT for g in good)
        print(
            f"P(相同) < {CUT}: {cut[0]}/{len(wrong)} misconception pairs, {cut[1]}/{len(good)} good"
        )
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
