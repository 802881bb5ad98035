"""How fast is `evaluator batch`? Two measurements, each against its target.

Embedding path (mohler.csv, 2,273 rows, inline reference answers, default model):
  - batch:  `run_batch(--reference-col reference_answer --question-col question)`, embedding only;
  - naive:  per row, encode the reference and the answer separately, then their cosine
            (target: batch at least 10x faster);
  - floor:  the model alone encoding, in one call, the unique texts the batch must embed (answer
            units, windows and whole answers; rubric key points, questions and references)
            (target: batch within 1.3x of it). Also shown: one call over the unique raw cells
            (answers, references, questions), a lower floor that skips segmentation entirely.
  The model is loaded before any timing; rubric vectors start from an empty cache.

Judge path: 200 rows against a fake OpenAI-compatible server that answers each request after
200 ms, `--jobs 16` (target: under 5 s wall for the whole batch call).

    .venv/bin/python benchmarks/batch_speed.py                    # both parts
    .venv/bin/python benchmarks/batch_speed.py --part embedding --naive-rows 300
    .venv/bin/python benchmarks/batch_speed.py --part judge --embedder hashing

Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
MOHLER = PROJECT.parent / "shared" / "benchmarks" / "mohler.csv"


def fmt(times: list[float]) -> str:
    return ", ".join(f"{t:.1f}" for t in times)


def embedding_part(args: argparse.Namespace) -> bool:
    from evaluator.batch import BatchOptions, run_batch
    from evaluator.rubrics.adhoc import adhoc_rubric
    from evaluator.scoring.encode import TOPIC_CHARS
    from evaluator.scoring.grader import Grader
    from evaluator.settings import Settings
    from evaluator.text import is_blank, normalise, split_units, windows

    with args.csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    print(f"input: {args.csv} ({len(rows):,} rows), embedder {args.embedder}")

    def one_batch() -> tuple[float, Grader]:
        with tempfile.TemporaryDirectory() as tmp:  # an empty embedding cache every time
            settings = Settings(embedder=args.embedder, cache_dir=Path(tmp) / "cache")
            grader = Grader(args.embedder, settings=settings)
            grader.embedder.encode(["warm up", "预热"])
            started = time.perf_counter()
            result = run_batch(
                BatchOptions(
                    input=args.csv,
                    output=Path(tmp) / "out.csv",
                    reference_col="reference_answer",
                    question_col="question",
                    chunk_size=args.chunk_size,
                ),
                settings,
                grader=grader,
            )
            elapsed = time.perf_counter() - started
        assert result.rows == len(rows) and result.summary.errors == 0, result.summary.errors
        return elapsed, grader

    # The texts the batch embeds, deduplicated: what one ideal encode call would cost.
    needed: set[str] = set()
    rubrics = {}
    for r in rows:
        key = (r["question"], r["reference_answer"])
        if key not in rubrics:
            rubrics[key] = adhoc_rubric(*key)
        answer = normalise(r["answer"])
        if not is_blank(answer):
            units = split_units(answer)[:256]
            needed.update(units + windows(units))
            needed.add(answer[:TOPIC_CHARS])
    for rubric in rubrics.values():
        needed.update(k.text for k in rubric.key_points)
        needed.update([rubric.question, rubric.reference_answer[:TOPIC_CHARS]])
    raw = {r["answer"] for r in rows} | {r["reference_answer"] for r in rows}
    raw |= {r["question"] for r in rows}

    # Other jobs share these cores: batch and floor are timed in turns, and the best of each
    # (the run least disturbed) is compared.
    batch_times, floor_times, raw_times = [], [], []
    model = None
    for _ in range(args.repeat):
        elapsed, grader = one_batch()
        batch_times.append(elapsed)
        model = grader.embedder
        for texts, times in ((sorted(needed), floor_times), (sorted(raw), raw_times)):
            started = time.perf_counter()
            model.encode(texts)
            times.append(time.perf_counter() - started)
    assert model is not None
    t_batch, t_floor, t_raw = min(batch_times), min(floor_times), min(raw_times)

    naive_rows = rows[: args.naive_rows] if args.naive_rows else rows
    started = time.perf_counter()
    sims = []
    for r in naive_rows:
        ref = model.encode([r["reference_answer"]])[0]
        ans = model.encode([r["answer"]])[0]
        sims.append(float(np.dot(ref, ans)))
    t_naive = (time.perf_counter() - started) * len(rows) / len(naive_rows)
    extrapolated = f" (extrapolated from {len(naive_rows):,} rows)" if args.naive_rows else ""

    speedup, overhead = t_naive / t_batch, t_batch / t_floor
    print(f"runs (s): batch {fmt(batch_times)}; floor {fmt(floor_times)}; raw {fmt(raw_times)}")
    print(f"batch (embedding only): {t_batch:7.1f} s  {len(rows) / t_batch:7.1f} rows/s")
    print(
        f"naive per-row encode:   {t_naive:7.1f} s  {len(rows) / t_naive:7.1f} rows/s{extrapolated}"
    )
    print(f"floor, one call over {len(needed):,} unique texts the batch embeds: {t_floor:.1f} s")
    print(f"one call over {len(raw):,} unique raw cells (no segmentation): {t_raw:.1f} s")
    print(f"speed-up over naive: {speedup:.1f}x (target >= 10x)")
    print(f"batch / floor:       {overhead:.2f}x (target <= 1.3x)")
    return speedup >= 10 and overhead <= 1.3


def judge_part(args: argparse.Namespace) -> bool:
    sys.path.insert(0, str(PROJECT / "tests"))
    from fake_openai import FakeOpenAI, Step, judge_json

    from evaluator.batch import BatchOptions, run_batch
    from evaluator.rubrics.io import load_rubrics
    from evaluator.scoring.grader import Grader
    from evaluator.settings import Settings

    rubric = next(r for r in load_rubrics(PROJECT / "rubrics") if r.number == 7)
    reply = judge_json({k.id: "covered" for k in rubric.key_points})
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI() as fake:
        src = Path(tmp) / "in.csv"
        with src.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "question", "answer"])
            for i in range(args.judge_rows):
                writer.writerow([i, "7", f"批量归一化对每一层的输入做标准化，加速训练。（{i}）"])
        fake.push(*(Step(content=reply, delay=args.delay) for _ in range(args.judge_rows)))
        settings = Settings(
            embedder=args.embedder,
            rubrics=PROJECT / "rubrics",
            cache_dir=Path(tmp) / "cache",
            judge_model="fake-judge",
            judge_base_url=fake.base_url,
            use_cache=False,
            judge_retries=0,
        )
        grader = Grader.from_settings(settings)
        grader.embedder.encode(["warm up"])
        started = time.perf_counter()
        result = run_batch(
            BatchOptions(input=src, output=Path(tmp) / "out.csv", jobs=args.jobs),
            settings,
            grader=grader,
        )
        wall = time.perf_counter() - started
        judged = result.summary.methods.get("embedding+judge", 0)
        requests = len(fake.chat_requests)
    floor = args.judge_rows / args.jobs * args.delay
    print(
        f"judge path: {args.judge_rows} rows, {args.delay * 1000:.0f} ms per request, "
        f"--jobs {args.jobs}, embedder {args.embedder}"
    )
    print(f"wall {wall:.2f} s (ideal {floor:.2f} s; target < 5 s); {requests} requests, "
          f"{judged} rows graded with the judge")  # fmt: skip
    return wall < 5.0 and judged == args.judge_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["embedding", "judge", "all"], default="all")
    parser.add_argument("--csv", type=Path, default=MOHLER)
    parser.add_argument("--embedder", default="use-multilingual")
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2, help="batch and floor runs, best kept")
    parser.add_argument("--naive-rows", type=int, default=0, help="time only this many (0: all)")
    parser.add_argument("--judge-rows", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--jobs", type=int, default=16)
    args = parser.parse_args()
    ok = True
    if args.part in ("embedding", "all"):
        ok &= embedding_part(args)
    if args.part in ("judge", "all"):
        ok &= judge_part(args)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
